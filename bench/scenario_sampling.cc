// How evenly each sampler covers the unit square, how well it integrates a smooth function, and
// how fast it draws, each beside uniform random sampling measured in the same run.
//
//   ./build/bench/bench_scenario_sampling [seeds]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "scenarios/discrepancy.h"
#include "scenarios/sampler.h"

using namespace nextbatch;

namespace {

struct Method {
  const char* label;
  SamplerKind kind;
  Scramble scramble;
};

const Method kMethods[] = {
    {"uniform", SamplerKind::kUniform, Scramble::kNone},
    {"lhs", SamplerKind::kLatinHypercube, Scramble::kNone},
    {"halton owen", SamplerKind::kHalton, Scramble::kOwen},
    {"sobol plain", SamplerKind::kSobol, Scramble::kNone},
    {"sobol shift", SamplerKind::kSobol, Scramble::kShift},
    {"sobol owen", SamplerKind::kSobol, Scramble::kOwen},
};

std::vector<std::vector<double>> Points(const Method& m, std::uint64_t seed, int d, int n) {
  SamplerOptions o;
  o.kind = m.kind;
  o.scramble = m.scramble;
  o.seed = seed;
  o.n = n;
  return UnitSample(o, d, 0, n);
}

// prod_j exp(x_j): integral (e - 1)^d over the unit cube.
double IntegrationError(const std::vector<std::vector<double>>& p) {
  double sum = 0;
  for (const auto& x : p) {
    double f = 1;
    for (double v : x) f *= std::exp(v);
    sum += f;
  }
  const double exact = std::pow(std::exp(1.0) - 1.0, static_cast<double>(p[0].size()));
  return sum / p.size() - exact;
}

}  // namespace

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 20;
  const int n = 256;
  std::printf("2-D, N = %d, mean over %d seeds (plain sobol: one fixed set)\n", n, seeds);
  std::printf("%-12s %10s %8s %10s %8s %12s %8s %12s %8s\n", "sampler", "D*", "/unif", "L2*",
              "/unif", "rmse 2-D", "/unif", "rmse 6-D", "/unif");
  double ref[4] = {0, 0, 0, 0};
  for (const Method& m : kMethods) {
    double dstar = 0, l2 = 0, e2 = 0, e6 = 0;
    for (int s = 0; s < seeds; ++s) {
      const auto p = Points(m, s, 2, n);
      dstar += StarDiscrepancy2D(p) / seeds;
      l2 += L2StarDiscrepancy(p) / seeds;
      const double a = IntegrationError(p), b = IntegrationError(Points(m, s, 6, n));
      e2 += a * a / seeds;
      e6 += b * b / seeds;
    }
    e2 = std::sqrt(e2);
    e6 = std::sqrt(e6);
    if (m.kind == SamplerKind::kUniform) {
      ref[0] = dstar;
      ref[1] = l2;
      ref[2] = e2;
      ref[3] = e6;
    }
    std::printf("%-12s %10.5f %8.3f %10.5f %8.3f %12.3e %8.4f %12.3e %8.4f\n", m.label, dstar,
                dstar / ref[0], l2, l2 / ref[1], e2, e2 / ref[2], e6, e6 / ref[3]);
  }

  // Throughput of Draw on a 10-factor space, points per second, against uniform.
  ScenarioSpace space;
  for (int j = 0; j < 10; ++j) {
    Factor f;
    f.name = "f" + std::to_string(j);
    space.AddFactor(f);
  }
  const int count = 200000;
  double uniform_rate = 0;
  std::printf("\nDraw throughput, 10 continuous factors, %d points\n", count);
  for (const Method& m : kMethods) {
    SamplerOptions o;
    o.kind = m.kind;
    o.scramble = m.scramble;
    o.n = count;
    auto sampler = MakeSampler(space, o);
    const auto t0 = std::chrono::steady_clock::now();
    const auto points = sampler->Draw(0, count);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = points.size() / seconds;
    if (m.kind == SamplerKind::kUniform) uniform_rate = rate;
    std::printf("%-12s %12.3e points/s %8.3f x uniform\n", m.label, rate, rate / uniform_rate);
  }
  return 0;
}
