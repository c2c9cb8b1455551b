// Coverage of calibration's formal and honest 95 % intervals against a hidden truth
// (tests/calibration/coverage.h): per case and fitted parameter, the fraction of seeds whose
// interval holds the truth, with a two-sided exact binomial test against 0.95 at level 0.05
// Bonferroni-corrected for the number of parameters. The misspecified cases (the data made by a
// model the fit does not have) report the parameters both models share.
// Usage: calibration_coverage [case|all] [seeds (200)] [threads (1)]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/calibration/coverage.h"

namespace nb = nextbatch;

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "all";
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 200;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  std::vector<std::string> names = nb::testing::CoverageCaseNames();
  if (which != "all") names = {which};
  for (const auto& name : names) {
    const nb::testing::CoverageCase c = nb::testing::MakeCoverageCase(name);
    const auto start = std::chrono::steady_clock::now();
    const nb::testing::CoverageResult r = nb::testing::RunCoverage(c, 1, seeds, threads);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    int shared = 0;
    for (int s : c.shared) shared += s >= 0;
    const double level = 0.05 / std::max(shared, 1);
    std::printf("%s: %s\n", c.name.c_str(), c.description.c_str());
    std::printf(
        "  %d of %d seeds usable; median residual scale %.3g, serial correlation %.3g; "
        "%.2f s per fit, %.0f s wall with %d thread(s)\n",
        r.usable, seeds, r.residual_scale, r.serial_correlation, r.seconds, wall, threads);
    std::printf("  %-18s %10s %8s %8s %8s %8s %10s %8s %8s %8s\n", "parameter", "truth", "honest/f",
                "sd(z_h)", "bias/sd", "formal", "p", "", "honest", "p");
    for (std::size_t j = 0; j < c.fit_specs.size(); ++j) {
      if (c.shared[j] < 0) continue;
      const double f = double(r.formal_hits[j]) / r.usable;
      const double h = double(r.honest_hits[j]) / r.usable;
      const double pf = nb::testing::BinomialTwoSided(r.formal_hits[j], r.usable, 0.95);
      const double ph = nb::testing::BinomialTwoSided(r.honest_hits[j], r.usable, 0.95);
      std::printf("  %-18s %10.4g %8.2f %8.2f %8.2f %8.3f %10.2g %8s %8.3f %8.2g %s\n",
                  c.fit_specs[j].name.c_str(), c.truth[c.shared[j]], r.honest_over_formal[j],
                  r.honest_z_sd[j], r.bias[j], f, pf, pf < level ? "reject" : "ok", h, ph,
                  ph < level ? "reject" : "ok");
    }
    std::printf("  (binomial test against 0.95, two-sided, level 0.05/%d)\n\n", shared);
    std::fflush(stdout);
  }
  return 0;
}
