#include "scenarios/sampler.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/parallel.h"
#include "scenarios/discrepancy.h"

namespace nextbatch {
namespace {

SamplerOptions Options(SamplerKind kind, Scramble scramble = Scramble::kOwen,
                       std::uint64_t seed = 11, int n = 256) {
  SamplerOptions o;
  o.kind = kind;
  o.scramble = scramble;
  o.seed = seed;
  o.n = n;
  return o;
}

Factor Continuous(const std::string& name, double lo = 0.0, double hi = 1.0, bool log = false) {
  Factor f;
  f.name = name;
  f.lower = lo;
  f.upper = hi;
  f.log_scale = log;
  return f;
}

Factor Integer(const std::string& name, int lo, int hi) {
  Factor f = Continuous(name, lo, hi);
  f.kind = FactorKind::kInteger;
  return f;
}

Factor Categorical(const std::string& name, std::vector<std::string> levels) {
  Factor f;
  f.name = name;
  f.kind = FactorKind::kCategorical;
  for (auto& l : levels) {
    Level level;
    level.name = l;
    f.levels.push_back(level);
  }
  return f;
}

// An independent Sobol construction (Joe & Kuo's reference algorithm: natural order, 32 bits)
// with the first rows of their new-joe-kuo-6.21201 table (d, s, a, m_1..m_s).
struct JoeKuoRow {
  int s, a;
  std::vector<std::uint32_t> m;
};
const std::vector<JoeKuoRow>& JoeKuoTable() {
  static const std::vector<JoeKuoRow> rows = {
      {1, 0, {1}},          {2, 1, {1, 3}},        {3, 1, {1, 3, 1}},       {3, 2, {1, 1, 1}},
      {4, 1, {1, 1, 3, 3}}, {4, 4, {1, 3, 5, 13}}, {5, 2, {1, 1, 5, 5, 17}}};
  return rows;
}

std::vector<std::uint32_t> Directions(int dim) {
  std::vector<std::uint32_t> v(33);
  if (dim == 0) {
    for (int k = 1; k <= 32; ++k) v[k] = 1u << (32 - k);
    return v;
  }
  const JoeKuoRow& row = JoeKuoTable()[dim - 1];
  std::vector<std::uint32_t> m(33);
  for (int k = 1; k <= row.s; ++k) m[k] = row.m[k - 1];
  for (int k = row.s + 1; k <= 32; ++k) {
    m[k] = m[k - row.s] ^ (m[k - row.s] << row.s);
    for (int l = 1; l < row.s; ++l) {
      if ((row.a >> (row.s - 1 - l)) & 1) m[k] ^= m[k - l] << l;
    }
  }
  for (int k = 1; k <= 32; ++k) v[k] = m[k] << (32 - k);
  return v;
}

std::uint32_t NaturalSobol(std::uint64_t i, const std::vector<std::uint32_t>& v) {
  std::uint32_t x = 0;
  for (int k = 1; i != 0; ++k, i >>= 1) {
    if (i & 1) x ^= v[k];
  }
  return x;
}

// Whether every box [a 2^-k1, (a+1) 2^-k1) x [b 2^-k2, ...) with k1 + k2 = m holds one point.
bool IsNet2D(const std::vector<std::vector<double>>& p, int m, int j0 = 0, int j1 = 1) {
  for (int k1 = 0; k1 <= m; ++k1) {
    const int k2 = m - k1;
    std::vector<int> count(std::size_t{1} << m, 0);
    for (const auto& x : p) {
      const int a = static_cast<int>(std::floor(std::ldexp(x[j0], k1)));
      const int b = static_cast<int>(std::floor(std::ldexp(x[j1], k2)));
      ++count[(static_cast<std::size_t>(a) << k2) | b];
    }
    for (int c : count) {
      if (c != 1) return false;
    }
  }
  return true;
}

TEST_CASE("plain sobol starts with the known points of the Joe-Kuo sequence") {
  const auto p = UnitSample(Options(SamplerKind::kSobol, Scramble::kNone), 2, 0, 8);
  const double expected[8][2] = {{0, 0},         {0.5, 0.5},     {0.75, 0.25},   {0.25, 0.75},
                                 {0.375, 0.375}, {0.875, 0.875}, {0.625, 0.125}, {0.125, 0.625}};
  for (int i = 0; i < 8; ++i) {
    CHECK(p[i][0] == expected[i][0]);
    CHECK(p[i][1] == expected[i][1]);
  }
}

TEST_CASE("Boost's sobol equals an independent Joe-Kuo construction in Gray-code order") {
  const int d = 8;
  const auto p = UnitSample(Options(SamplerKind::kSobol, Scramble::kNone), d, 0, 1024);
  const auto q = UnitSample(Options(SamplerKind::kSobol, Scramble::kNone), d, 700, 5);
  for (int j = 0; j < d; ++j) {
    const auto v = Directions(j);
    for (std::uint64_t i = 0; i < p.size(); ++i) {
      const std::uint32_t expected = NaturalSobol(i ^ (i >> 1), v);
      REQUIRE(static_cast<std::uint32_t>(std::ldexp(p[i][j], 32)) == expected);
    }
    for (std::uint64_t i = 0; i < q.size(); ++i) CHECK(q[i][j] == p[700 + i][j]);
  }
}

TEST_CASE("sobol's first 2^m points form a (0,m,2)-net, plain and scrambled") {
  for (Scramble s : {Scramble::kNone, Scramble::kShift, Scramble::kOwen}) {
    for (std::uint64_t seed : {1, 2, 3}) {
      CAPTURE(std::string(ScrambleName(s)));
      const auto p = UnitSample(Options(SamplerKind::kSobol, s, seed), 2, 0, 256);
      CHECK(IsNet2D(p, 8));
      // Every later block of 256 is a net too.
      CHECK(IsNet2D(UnitSample(Options(SamplerKind::kSobol, s, seed), 2, 768, 256), 8));
      // In 6 dimensions every one-dimensional projection is stratified into 256 cells.
      const auto h = UnitSample(Options(SamplerKind::kSobol, s, seed), 6, 0, 256);
      for (int j = 0; j < 6; ++j) {
        std::set<int> cells;
        for (const auto& x : h) cells.insert(static_cast<int>(x[j] * 256));
        CHECK(cells.size() == 256);
      }
    }
  }
}

TEST_CASE("scrambled points are uniform over seeds and plain sobol is not random") {
  // Under Owen scrambling (and a digital shift) each point is uniform on the cube: the mean and
  // variance of point 0 and point 5 over 400 seeds match 1/2 and 1/12.
  for (Scramble s : {Scramble::kShift, Scramble::kOwen}) {
    for (SamplerKind k : {SamplerKind::kSobol, SamplerKind::kHalton}) {
      double sum = 0, sum2 = 0;
      const int n = 400;
      for (int seed = 0; seed < n; ++seed) {
        for (std::uint64_t i : {0, 5}) {
          const double x = UnitSample(Options(k, s, seed), 3, i, 1)[0][2];
          sum += x;
          sum2 += x * x;
        }
      }
      const double mean = sum / (2 * n), var = sum2 / (2 * n) - mean * mean;
      CHECK(std::abs(mean - 0.5) < 5 * std::sqrt(1.0 / 12 / (2 * n)));
      CHECK(std::abs(var - 1.0 / 12) < 0.02);
    }
  }
  CHECK(UnitSample(Options(SamplerKind::kSobol, Scramble::kNone, 1), 2, 3, 1) ==
        UnitSample(Options(SamplerKind::kSobol, Scramble::kNone, 2), 2, 3, 1));
  CHECK(UnitSample(Options(SamplerKind::kSobol, Scramble::kOwen, 1), 2, 3, 1) !=
        UnitSample(Options(SamplerKind::kSobol, Scramble::kOwen, 2), 2, 3, 1));
}

// Root mean square error over seeds of the mean of exp(x + y) (integral (e - 1)^2).
double IntegrationRmse(SamplerKind kind, Scramble scramble, int n, int seeds) {
  double sum2 = 0;
  for (int seed = 0; seed < seeds; ++seed) {
    double mean = 0;
    for (const auto& x : UnitSample(Options(kind, scramble, seed, n), 2, 0, n)) {
      mean += std::exp(x[0] + x[1]) / n;
    }
    const double e = mean - (std::exp(1.0) - 1) * (std::exp(1.0) - 1);
    sum2 += e * e / seeds;
  }
  return std::sqrt(sum2);
}

TEST_CASE("owen-scrambled sobol integrates smooth functions at its known rate") {
  // Owen (1997): for smooth integrands the error of nested-scrambled nets falls as N^-3/2
  // (times logs), so 16 times the points cut it about 64-fold; uniform sampling gains 4-fold.
  const double owen = IntegrationRmse(SamplerKind::kSobol, Scramble::kOwen, 64, 40) /
                      IntegrationRmse(SamplerKind::kSobol, Scramble::kOwen, 1024, 40);
  const double uniform = IntegrationRmse(SamplerKind::kUniform, Scramble::kNone, 64, 40) /
                         IntegrationRmse(SamplerKind::kUniform, Scramble::kNone, 1024, 40);
  CHECK(owen > 25);
  CHECK(uniform > 2.5);
  CHECK(uniform < 6.5);
  // A digital shift keeps the net but not the extra cancellation.
  CHECK(IntegrationRmse(SamplerKind::kSobol, Scramble::kOwen, 256, 40) * 3 <
        IntegrationRmse(SamplerKind::kSobol, Scramble::kShift, 256, 40));
}

TEST_CASE("plain halton starts with the radical inverses in bases 2 and 3") {
  const auto p = UnitSample(Options(SamplerKind::kHalton, Scramble::kNone), 2, 0, 8);
  const double expected[8][2] = {{0, 0},           {1. / 2, 1. / 3}, {1. / 4, 2. / 3},
                                 {3. / 4, 1. / 9}, {1. / 8, 4. / 9}, {5. / 8, 7. / 9},
                                 {3. / 8, 2. / 9}, {7. / 8, 5. / 9}};
  for (int i = 0; i < 8; ++i) {
    CHECK(p[i][0] == doctest::Approx(expected[i][0]).epsilon(1e-15));
    CHECK(p[i][1] == doctest::Approx(expected[i][1]).epsilon(1e-15));
  }
}

TEST_CASE("halton's first 2^a 3^b points fill every box of sides 2^-a by 3^-b once") {
  for (Scramble s : {Scramble::kNone, Scramble::kShift, Scramble::kOwen}) {
    CAPTURE(std::string(ScrambleName(s)));
    const auto p = UnitSample(Options(SamplerKind::kHalton, s, 5), 3, 0, 8 * 27);
    std::vector<int> count(8 * 27, 0);
    // The plain points lie on the cell edges up to round-off: a nudge puts them inside.
    for (const auto& x : p) {
      ++count[static_cast<int>(x[0] * 8 + 1e-9) * 27 + static_cast<int>(x[1] * 27 + 1e-9)];
    }
    CHECK(std::count(count.begin(), count.end(), 1) == 8 * 27);
    // Base 5 in the third dimension: 125 points, one per cell of width 1/125.
    std::set<int> cells;
    for (int i = 0; i < 125; ++i) cells.insert(static_cast<int>(p[i][2] * 125 + 1e-9));
    CHECK(cells.size() == 125);
  }
}

TEST_CASE("latin hypercube: every stratum of every dimension is hit once") {
  for (int n : {1, 7, 100}) {
    const auto p = UnitSample(Options(SamplerKind::kLatinHypercube, Scramble::kNone, 3, n), 5, 0,
                              n + 10);  // asks past the end: gets n
    REQUIRE(static_cast<int>(p.size()) == n);
    for (int j = 0; j < 5; ++j) {
      std::set<int> strata;
      for (const auto& x : p) strata.insert(static_cast<int>(x[j] * n));
      CHECK(static_cast<int>(strata.size()) == n);
      CHECK(*strata.rbegin() == n - 1);
    }
  }
  // Different seeds give different designs.
  CHECK(UnitSample(Options(SamplerKind::kLatinHypercube, Scramble::kNone, 1, 50), 2, 0, 50) !=
        UnitSample(Options(SamplerKind::kLatinHypercube, Scramble::kNone, 2, 50), 2, 0, 50));
}

TEST_CASE("discrepancy: closed forms, a second method, and sobol beats uniform") {
  // One point at the centre: D* = 1 - 1/4 (the closed box [0, 0.5]^2 holds it). In 1-D,
  // T^2 = 1/3 + x^2 - x, which is 1/12 at x = 1/2.
  CHECK(StarDiscrepancy2D({{0.5, 0.5}}) == doctest::Approx(0.75));
  CHECK(L2StarDiscrepancy({{0.5}}) == doctest::Approx(std::sqrt(1.0 / 12)));
  // Exact D* against brute force over every corner of the 1/64 grid (the plain sobol points lie
  // on it, so the grid holds the extremal corners).
  const auto p = UnitSample(Options(SamplerKind::kSobol, Scramble::kNone), 2, 0, 40);
  double brute = 0;
  for (int a = 0; a <= 64; ++a) {
    for (int b = 0; b <= 64; ++b) {
      const double ta = a / 64.0, tb = b / 64.0;
      int open = 0, closed = 0;
      for (const auto& x : p) {
        open += x[0] < ta && x[1] < tb;
        closed += x[0] <= ta && x[1] <= tb;
      }
      brute = std::max({brute, ta * tb - open / 40.0, closed / 40.0 - ta * tb});
    }
  }
  CHECK(StarDiscrepancy2D(p) == doctest::Approx(brute).epsilon(1e-12));
  // Uniform points: the mean of T^2 over seeds is (2^-d - 3^-d) / N.
  const int n = 64, seeds = 200;
  double mean_t2 = 0;
  for (int seed = 0; seed < seeds; ++seed) {
    const double t = L2StarDiscrepancy(
        UnitSample(Options(SamplerKind::kUniform, Scramble::kNone, seed), 2, 0, n));
    mean_t2 += t * t / seeds;
  }
  CHECK(mean_t2 == doctest::Approx((0.25 - 1.0 / 9) / n).epsilon(0.15));
  // At N = 256 in 2-D, scrambled sobol's D* is several times smaller than uniform's.
  const double d_sobol = StarDiscrepancy2D(UnitSample(Options(SamplerKind::kSobol), 2, 0, 256));
  const double d_uniform = StarDiscrepancy2D(UnitSample(Options(SamplerKind::kUniform), 2, 0, 256));
  CHECK(d_sobol < 0.02);
  CHECK(d_sobol * 3 < d_uniform);
}

TEST_CASE("every sampler is deterministic and streams: chunked draws equal one draw") {
  ScenarioSpace space({Continuous("a", -1, 2), Integer("b", 0, 6), Categorical("c", {"p", "q"}),
                       Continuous("d", 0.1, 10, true)});
  for (SamplerKind kind : {SamplerKind::kSobol, SamplerKind::kHalton, SamplerKind::kLatinHypercube,
                           SamplerKind::kUniform, SamplerKind::kGrid}) {
    CAPTURE(std::string(SamplerKindName(kind)));
    SamplerOptions o = Options(kind, Scramble::kOwen, 9, 120);
    const auto all = MakeSampler(space, o)->Draw(0, 120);
    REQUIRE(all.size() == 120u);
    auto sampler = MakeSampler(space, o);
    std::vector<Scenario> chunks;
    for (int first : {0, 37, 38, 100}) {
      const int count = first == 0 ? 37 : first == 37 ? 1 : first == 38 ? 62 : 20;
      for (auto& s : sampler->Draw(first, count)) chunks.push_back(s);
    }
    CHECK(chunks == all);
    CHECK(MakeSampler(space, o)->Draw(50, 3) ==
          std::vector<Scenario>(all.begin() + 50, all.begin() + 53));
    for (const auto& s : all) CHECK(space.Check(s).empty());
    if (kind != SamplerKind::kGrid) {
      o.seed = 10;
      CHECK(MakeSampler(space, o)->Draw(0, 120) != all);
    }
  }
}

TEST_CASE("constraints are never violated, the output is the feasible subsequence") {
  ScenarioSpace space({Continuous("x"), Continuous("y"), Integer("k", 0, 3)});
  LinearConstraint c;
  c.name = "budget";
  c.factors = {0, 1, 2};
  c.coefficients = {1.0, 1.0, 0.1};
  c.upper = 0.9;
  ScenarioSpace constrained = space;
  constrained.AddConstraint(c);
  for (SamplerKind kind : {SamplerKind::kSobol, SamplerKind::kHalton, SamplerKind::kLatinHypercube,
                           SamplerKind::kUniform}) {
    CAPTURE(std::string(SamplerKindName(kind)));
    const SamplerOptions o = Options(kind, Scramble::kOwen, 4, 8000);
    auto sampler = MakeSampler(constrained, o);
    const auto all = sampler->Draw(0, 1500);
    REQUIRE(all.size() == 1500u);
    for (const auto& s : all) REQUIRE(c.Evaluate(s.values) <= c.upper);
    // The same points as filtering the unconstrained sampler's output.
    std::vector<Scenario> filtered;
    for (const auto& s : MakeSampler(space, o)->Draw(0, 8000)) {
      if (filtered.size() < 1500 && constrained.Feasible(s)) filtered.push_back(s);
    }
    CHECK(filtered == all);
    // Chunks across the internal checkpoints, asked out of order, from a fresh sampler.
    auto fresh = MakeSampler(constrained, o);
    CHECK(fresh->Draw(1300, 200) == std::vector<Scenario>(all.begin() + 1300, all.end()));
    CHECK(fresh->Draw(0, 700) == std::vector<Scenario>(all.begin(), all.begin() + 700));
    CHECK(fresh->Draw(700, 600) == std::vector<Scenario>(all.begin() + 700, all.begin() + 1300));
    // The feasible fraction of x + y + 0.1 k <= 0.9 over the box: mean over k of (0.9-0.1k)^2/2.
    const double exact = (0.81 + 0.64 + 0.49 + 0.36) / 2 / 4;
    CHECK(sampler->ObservedFeasibleFraction() == doctest::Approx(exact).epsilon(0.08));
  }
}

TEST_CASE("parallel chunked draws equal the serial draw") {
  ScenarioSpace space({Continuous("x"), Continuous("y")});
  LinearConstraint c;
  c.name = "half";
  c.factors = {0, 1};
  c.coefficients = {1.0, -1.0};
  c.upper = 0.0;
  space.AddConstraint(c);
  const SamplerOptions o = Options(SamplerKind::kSobol);
  const auto serial = MakeSampler(space, o)->Draw(0, 4000);
  auto shared = MakeSampler(space, o);
  std::vector<std::vector<Scenario>> parts(8);
  ParallelFor(8, 4, [&](int i, int) { parts[i] = shared->Draw(500 * i, 500); });
  std::vector<Scenario> joined;
  for (auto& p : parts) joined.insert(joined.end(), p.begin(), p.end());
  CHECK(joined == serial);
}

TEST_CASE("a tiny feasible fraction is a clear error, never a hang") {
  ScenarioSpace space({Continuous("x"), Continuous("y")});
  LinearConstraint c;
  c.name = "corner";
  c.factors = {0, 1};
  c.coefficients = {1.0, 1.0};
  c.upper = 1e-9;  // feasible fraction 5e-19: possible in principle, never hit
  space.AddConstraint(c);
  for (SamplerKind kind : {SamplerKind::kSobol, SamplerKind::kUniform, SamplerKind::kHalton}) {
    SamplerOptions o = Options(kind);
    o.max_rejections = 2000;
    auto sampler = MakeSampler(space, o);
    // Sobol's plain point 0 is the origin, which is feasible: scrambled ones are not.
    CHECK_THROWS_WITH_AS(sampler->Draw(0, 10),
                         doctest::Contains("scenarios.constraints: expected constraints that "
                                           "leave a feasible scenario within 2000 draws"),
                         InputError);
    CHECK_THROWS_WITH_AS(sampler->Draw(0, 10), doctest::Contains("constraint 'corner'"),
                         InputError);
  }
  // A finite design with no feasible point at all.
  // Grid sums x + y are multiples of 1/3: none lies in [0.1, 0.2].
  SamplerOptions o = Options(SamplerKind::kGrid);
  o.grid_levels = 4;
  c.upper = 0.2;
  LinearConstraint at_least = c;
  at_least.coefficients = {-1.0, -1.0};
  at_least.upper = -0.1;
  ScenarioSpace grid_space({Continuous("x"), Continuous("y")}, {c, at_least});
  CHECK_THROWS_WITH_AS(MakeSampler(grid_space, o)->Draw(0, 5),
                       doctest::Contains("none of its 16 points"), InputError);
  // A constraint no point of the box meets is caught before sampling.
  c.upper = -1;
  ScenarioSpace impossible({Continuous("x"), Continuous("y")}, {c});
  CHECK_THROWS_WITH_AS(MakeSampler(impossible, o),
                       doctest::Contains("constraint 'corner': expected a constraint that some "
                                         "point of the ranges meets, got a smallest left-hand "
                                         "side of 0 > -1"),
                       InputError);
}

TEST_CASE("categorical and integer factors are hit in proportion") {
  ScenarioSpace space({Categorical("shape", {"box", "cylinder", "sphere"}), Integer("n", 2, 5),
                       Integer("m", -1, 1)});
  const int n = 1200;
  for (SamplerKind kind : {SamplerKind::kSobol, SamplerKind::kHalton, SamplerKind::kLatinHypercube,
                           SamplerKind::kUniform}) {
    CAPTURE(std::string(SamplerKindName(kind)));
    const auto draws = MakeSampler(space, Options(kind, Scramble::kOwen, 2, n))->Draw(0, n);
    std::vector<int> shape(3, 0), count_n(4, 0), count_m(3, 0);
    for (const auto& s : draws) {
      ++shape[static_cast<int>(s.values[0])];
      ++count_n[static_cast<int>(s.values[1]) - 2];
      ++count_m[static_cast<int>(s.values[2]) + 1];
    }
    // Stratified samplers: within a few points of the exact share; uniform: within 5 sigma.
    const bool random = kind == SamplerKind::kUniform;
    for (int c : shape) CHECK(std::abs(c - n / 3.0) <= (random ? 5 * std::sqrt(n * 2.0 / 9) : 4));
    for (int c : count_n) {
      CHECK(std::abs(c - n / 4.0) <= (random ? 5 * std::sqrt(n * 3.0 / 16) : 4));
    }
    for (int c : count_m) CHECK(std::abs(c - n / 3.0) <= (random ? 5 * std::sqrt(n * 2.0 / 9) : 4));
  }
}

TEST_CASE("log-scale factors are uniform in the logarithm") {
  ScenarioSpace space({Continuous("mass", 0.01, 100, true)});
  const int n = 1024;
  for (SamplerKind kind : {SamplerKind::kSobol, SamplerKind::kLatinHypercube}) {
    const auto draws = MakeSampler(space, Options(kind, Scramble::kOwen, 1, n))->Draw(0, n);
    std::vector<int> decade(4, 0);
    for (const auto& s : draws) {
      REQUIRE(s.values[0] >= 0.01);
      REQUIRE(s.values[0] <= 100);
      ++decade[std::min(3, static_cast<int>(std::floor(std::log10(s.values[0]) + 2)))];
    }
    for (int c : decade) CHECK(c == n / 4);  // every decade holds a quarter of the points
  }
}

TEST_CASE("grid enumerates every combination once, bounds included") {
  ScenarioSpace space({Continuous("x", 0, 1), Continuous("y", -1, 1),
                       Categorical("c", {"a", "b", "c"}), Integer("k", 1, 2)});
  SamplerOptions o = Options(SamplerKind::kGrid);
  o.grid_levels = 3;
  o.grid_levels_per_factor["y"] = 2;
  auto sampler = MakeSampler(space, o);
  CHECK(sampler->capacity() == 3u * 2 * 3 * 2);
  const auto all = sampler->Draw(0, 100);
  REQUIRE(all.size() == 36u);
  std::set<std::vector<double>> unique;
  for (const auto& s : all) unique.insert(s.values);
  CHECK(unique.size() == 36u);
  for (double x : {0.0, 0.5, 1.0}) {
    for (double y : {-1.0, 1.0}) {
      for (double c : {0.0, 1.0, 2.0}) {
        for (double k : {1.0, 2.0}) CHECK(unique.count({x, y, c, k}) == 1);
      }
    }
  }
  CHECK(sampler->Draw(36, 5).empty());
  o.grid_levels = 10000;
  o.grid_levels_per_factor.clear();
  CHECK_THROWS_WITH_AS(MakeSampler(space, o),
                       doctest::Contains("sampler.grid_levels: expected a grid of at most 1e8 "
                                         "points, got 600000000 points"),
                       InputError);
}

TEST_CASE("sampler options are validated") {
  SamplerOptions o;
  o.kind = SamplerKind::kLatinHypercube;
  o.n = 0;
  CHECK(o.Validate() == "sampler.n: expected a design size in [1, 2^26] for lhs, got 0");
  o = SamplerOptions();
  o.grid_levels = 0;
  CHECK(o.Validate() == "sampler.grid_levels: expected 1 or more, got 0");
  o = SamplerOptions();
  o.max_rejections = 0;
  CHECK(o.Validate() == "sampler.max_rejections: expected 1 or more, got 0");
  o = SamplerOptions();
  o.grid_levels_per_factor["c"] = 3;
  ScenarioSpace space({Categorical("c", {"a", "b"})});
  ScenarioSpace wide;
  for (int j = 0; j < 3668; ++j) wide.AddFactor(Continuous("x" + std::to_string(j)));
  CHECK_THROWS_WITH_AS(MakeSampler(wide, SamplerOptions()),
                       "sampler.kind: expected at most 3667 factors for sobol, got 3668",
                       InputError);
  CHECK(MakeSampler(wide, Options(SamplerKind::kHalton))->Draw(0, 2).size() == 2);
  CHECK_THROWS_WITH_AS(MakeSampler(space, o),
                       "sampler.grid_levels.c: expected a continuous factor of the space, got a "
                       "categorical factor",
                       InputError);
}

}  // namespace
}  // namespace nextbatch
