#include "planners/coverage.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/random.h"

namespace nextbatch {
namespace {

Factor Numeric(const std::string& name, FactorKind kind, double lower, double upper) {
  Factor f;
  f.name = name;
  f.kind = kind;
  f.lower = lower;
  f.upper = upper;
  return f;
}

Factor Categorical(const std::string& name, std::vector<std::string> levels) {
  Factor f;
  f.name = name;
  f.kind = FactorKind::kCategorical;
  for (const std::string& n : levels) {
    Level l;
    l.name = n;
    f.levels.push_back(l);
  }
  return f;
}

// friction (continuous), mass (log-scaled), reps (integer 0..9), shape (3 levels).
ScenarioSpace MixedSpace() {
  Factor mass = Numeric("mass", FactorKind::kContinuous, 0.01, 10);
  mass.log_scale = true;
  return ScenarioSpace({Numeric("friction", FactorKind::kContinuous, 0.2, 1.0), mass,
                        Numeric("reps", FactorKind::kInteger, 0, 9),
                        Categorical("shape", {"box", "cylinder", "sphere"})});
}

std::vector<Scenario> RandomPoints(const ScenarioSpace& space, int n, std::uint64_t index) {
  RandomStream random(7, Stage::kTest, index);
  std::vector<Scenario> out;
  std::vector<double> u(space.dimension());
  for (int i = 0; i < n; ++i) {
    for (double& x : u) x = random.Uniform();
    out.push_back(space.FromUnit(u));
  }
  return out;
}

TEST_CASE("embedding: numeric factors span 1, a categorical mismatch is d apart, log by ratio") {
  const ScenarioSpace space = MixedSpace();
  const FactorEmbedding e(space, 0.5);
  CHECK(e.width() == 6);
  CHECK(e.Diameter() == doctest::Approx(std::sqrt(3.0 + 0.25)));
  const Scenario a{{0.2, 0.01, 0, 0}}, b{{1.0, 0.01, 0, 0}}, c{{0.2, 0.01, 0, 2}};
  CHECK(e.Distance(a, b) == doctest::Approx(1.0));
  CHECK(e.Distance(a, c) == doctest::Approx(0.5));
  // 0.1 is one third of the way from 0.01 to 10 in log units.
  CHECK(e.Normalise(1, 0.1) == doctest::Approx(1.0 / 3.0));
  CHECK(e.Normalise(2, 3) == doctest::Approx(1.0 / 3.0));
}

TEST_CASE("k nearest episodes through the k-d tree equal brute force on random data") {
  const ScenarioSpace space = MixedSpace();
  const FactorEmbedding e(space, 1.0);
  const std::vector<Scenario> episodes = RandomPoints(space, 300, 1);
  const std::vector<Scenario> candidates = RandomPoints(space, 500, 2);
  const int k = 7;
  const Neighbours tree = NearestEpisodes(e, episodes, candidates, k, 2);
  REQUIRE(tree.count == k);
  int checked = 0;
  for (size_t c = 0; c < candidates.size(); ++c) {
    std::vector<double> all;
    for (const Scenario& ep : episodes) all.push_back(e.Distance(candidates[c], ep));
    std::sort(all.begin(), all.end());
    for (int j = 0; j < k; ++j) {
      CHECK(tree.distance[c * k + j] == doctest::Approx(all[j]).epsilon(1e-12));
      CHECK(e.Distance(candidates[c], episodes[tree.index[c * k + j]]) ==
            doctest::Approx(all[j]).epsilon(1e-12));
      ++checked;
    }
  }
  CHECK(checked == 500 * k);
  // Fewer episodes than k: every one of them, no padding.
  const Neighbours few = NearestEpisodes(e, {episodes[0], episodes[1]}, candidates, k, 1);
  CHECK(few.count == 2);
  CHECK(few.index.size() == 2 * candidates.size());
}

TEST_CASE("coverage share equals brute force on the stated Sobol sample") {
  const ScenarioSpace space = MixedSpace();
  CoverageOptions o;
  o.sample_size = 1024;
  o.radius = 0.2;
  o.seed = 11;
  const FactorEmbedding e(space, o.categorical_distance);
  for (int n : {0, 5, 40, 200}) {
    const std::vector<Scenario> episodes = RandomPoints(space, n, 3);
    const CoverageReport report = DatasetCoverage(space, episodes, o);
    const std::vector<Scenario> sample = CoverageSample(space, o);
    REQUIRE(static_cast<int>(sample.size()) == report.sample_size);
    int covered = 0;
    for (const Scenario& q : sample) {
      bool near = false;
      for (const Scenario& ep : episodes) near = near || e.Distance(q, ep) < report.radius;
      covered += near ? 1 : 0;
    }
    CHECK(report.share == static_cast<double>(covered) / sample.size());
    if (n == 0) CHECK(report.share == 0.0);
    if (n == 200) CHECK(report.share > 0.0);
  }
}

TEST_CASE("marginal gaps and empty pair cells on a hand-made dataset") {
  const ScenarioSpace space({Numeric("x", FactorKind::kContinuous, 0, 1),
                             Categorical("mode", {"a", "b", "c"}),
                             Numeric("n", FactorKind::kInteger, 1, 3)});
  CoverageOptions o;
  o.bins = 2;
  o.sample_size = 64;
  // (x, mode, n): x bins [0, 0.5) [0.5, 1]; n has 3 values, more than 2 bins, so 2 bins of range.
  const std::vector<Scenario> episodes = {Scenario{{0.1, 0, 1}}, Scenario{{0.2, 1, 1}},
                                          Scenario{{0.9, 0, 3}}};
  const CoverageReport r = DatasetCoverage(space, episodes, o);
  REQUIRE(r.marginals.size() == 3);
  CHECK(r.marginals[0].counts == std::vector<int>{2, 1});
  CHECK(r.marginals[0].labels == std::vector<std::string>{"[0, 0.5)", "[0.5, 1]"});
  CHECK(r.marginals[0].empty.empty());
  CHECK(r.marginals[1].counts == std::vector<int>{2, 1, 0});
  CHECK(r.marginals[1].empty == std::vector<int>{2});
  CHECK(r.marginals[1].labels[2] == "c");
  CHECK(r.marginals[2].counts == std::vector<int>{2, 1});
  // Pairs: (x, mode) misses (0, c), (1, b), (1, c); (x, n) misses (0, 1), (1, 0);
  // (mode, n) misses (b, 1), (c, 0), (c, 1).
  REQUIRE(r.pair_gaps.size() == 3);
  CHECK(r.pair_gaps[0].factor_a == "x");
  CHECK(r.pair_gaps[0].factor_b == "mode");
  CHECK(r.pair_gaps[0].cells == 6);
  CHECK(r.pair_gaps[0].empty == std::vector<std::pair<int, int>>{{0, 2}, {1, 1}, {1, 2}});
  CHECK(r.pair_gaps[1].empty == std::vector<std::pair<int, int>>{{0, 1}, {1, 0}});
  CHECK(r.pair_gaps[2].empty == std::vector<std::pair<int, int>>{{1, 1}, {2, 0}, {2, 1}});

  // With 4 bins the integer factor gets one bin per value, labelled by the value.
  o.bins = 4;
  const CoverageReport fine = DatasetCoverage(space, episodes, o);
  CHECK(fine.marginals[2].counts == std::vector<int>{2, 0, 1});
  CHECK(fine.marginals[2].labels == std::vector<std::string>{"1", "2", "3"});
  CHECK(fine.marginals[2].empty == std::vector<int>{1});
}

TEST_CASE("coverage gain: marginal gains equal brute-force set cover differences") {
  const ScenarioSpace space = MixedSpace();
  const FactorEmbedding e(space, 1.0);
  const std::vector<Scenario> episodes = RandomPoints(space, 20, 4);
  const std::vector<Scenario> candidates = RandomPoints(space, 60, 5);
  const std::vector<Scenario> sample = RandomPoints(space, 400, 6);
  const double radius = 0.3 * e.Diameter();
  CoverageGain gain(e, episodes, candidates, sample, radius, 2);
  auto covered_by = [&](const std::vector<Scenario>& set, const Scenario& q) {
    for (const Scenario& s : set)
      if (e.Distance(q, s) < radius) return true;
    return false;
  };
  auto f = [&](const std::vector<int>& batch) {
    std::vector<Scenario> chosen;
    for (int b : batch) chosen.push_back(candidates[b]);
    int n = 0;
    for (const Scenario& q : sample) n += !covered_by(episodes, q) && covered_by(chosen, q);
    return n;
  };
  std::vector<int> batch;
  for (int item : {3, 17, 3, 42, 8}) {
    const int before = f(batch);
    std::vector<int> grown = batch;
    grown.push_back(item);
    CHECK(gain.Gain(item) == f(grown) - before);
    gain.Commit(item);
    batch = grown;
  }
  int uncovered = 0;
  for (const Scenario& q : sample) uncovered += !covered_by(episodes, q) && !covered_by({}, q);
  CHECK(gain.uncovered() == uncovered - f(batch));
  gain.Reset();
  CHECK(gain.uncovered() == uncovered);
}

TEST_CASE("coverage options and episodes are validated") {
  const ScenarioSpace space = MixedSpace();
  CoverageOptions o;
  o.radius = 0;
  CHECK_THROWS_WITH_AS(DatasetCoverage(space, {}, o),
                       "coverage.radius: expected a fraction of the diameter in (0, 1], got 0",
                       InputError);
  o = CoverageOptions();
  CHECK_THROWS_AS(DatasetCoverage(space, {Scenario{{0.5, 1, 2}}}, o), InputError);
}

}  // namespace
}  // namespace nextbatch
