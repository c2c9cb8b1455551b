#include "planners/rules.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/random.h"
#include "planners/safety.h"
#include "planners/selection.h"
#include "tests/fixtures/errors.h"

namespace nextbatch {
namespace {

Factor Unit(const std::string& name) {
  Factor f;
  f.name = name;
  f.lower = 0.0;
  f.upper = 1.0;
  return f;
}

TEST_CASE("failure bound: the one-sided Clopper-Pearson bound on the failure rate") {
  // no failure in n: 1 - alpha^(1/n); all failed: 1; no rollouts: no evidence, 0
  CHECK(FailureBound(0, 8, 0.95) == doctest::Approx(1.0 - std::pow(0.05, 1.0 / 8.0)));
  CHECK(FailureBound(8, 8, 0.95) == 1.0);
  CHECK(FailureBound(0, 0, 0.95) == 0.0);
  CHECK(FailureBound(3, 8, 0.95) == ViolationUpperBound(3, 8, 0.95));
  CHECK(FailureBound(3, 8, 0.95) < FailureBound(4, 8, 0.95));
  testing::CheckError([] { FailureBound(9, 8, 0.95); }, {"expected"});
}

TEST_CASE("failure rule: neighbourhoods within the radius, as a brute-force scan finds them") {
  const ScenarioSpace space({Unit("x"), Unit("y"), Unit("z")});
  const FactorEmbedding embedding(space, 1.0);
  RandomStream random(5, Stage::kTest, 0);
  std::vector<Scenario> cand(300);
  for (Scenario& s : cand) s.values = {random.Uniform(), random.Uniform(), random.Uniform()};
  const double radius = 0.2;
  const auto one = CandidateNeighbourhoods(embedding, cand, radius, 1);
  CHECK(CandidateNeighbourhoods(embedding, cand, radius, 2) == one);
  long total = 0;
  for (std::size_t i = 0; i < cand.size(); ++i) {
    std::vector<int> brute;
    for (std::size_t j = 0; j < cand.size(); ++j)
      if (embedding.Distance(cand[i], cand[j]) < radius) brute.push_back(static_cast<int>(j));
    CHECK(one[i] == brute);
    total += static_cast<long>(brute.size());
  }
  CHECK(total > 600);  // the balls hold more than each point itself
}

TEST_CASE("failure rule: gains u x d^m, lazy greedy equal to a brute-force greedy") {
  // 40 candidates on a line, bounds from random failure counts of 8 samples
  const ScenarioSpace space({Unit("x")});
  const FactorEmbedding embedding(space, 1.0);
  RandomStream random(9, Stage::kTest, 0);
  const int n = 40;
  std::vector<Scenario> cand(n);
  std::vector<double> bounds(n);
  for (int i = 0; i < n; ++i) {
    cand[i].values = {random.Uniform()};
    bounds[i] = FailureBound(static_cast<int>(random.Uniform() * 9.0), 8, 0.9);
  }
  const double radius = 0.1;
  FailureGain gain(bounds, CandidateNeighbourhoods(embedding, cand, radius, 1));
  std::vector<SelectionItem> items(n);
  for (SelectionItem& it : items) {
    it.episode_seconds = 1.0;
    it.max_repeats = 2;
  }
  SelectionOptions so;
  so.budget_seconds = 12.0;
  so.best_single = false;
  const Selection lazy = SelectBatch(gain, items, {}, so);
  so.lazy = false;
  gain.Reset();
  const Selection plain = SelectBatch(gain, items, {}, so);
  CHECK(lazy.picks == plain.picks);
  REQUIRE(lazy.picks.size() == 12);

  // brute force: every step, every candidate's bound halved once per earlier episode closer than
  // the radius (itself included), the largest first, ties to the lower index
  std::vector<int> taken(n, 0);
  std::vector<int> picks;
  for (int step = 0; step < 12; ++step) {
    int best = -1;
    double best_gain = -1.0;
    for (int i = 0; i < n; ++i) {
      if (taken[i] >= 2) continue;
      int m = 0;
      for (int p : picks) m += std::abs(cand[i].values[0] - cand[p].values[0]) < radius ? 1 : 0;
      const double g = bounds[i] * std::pow(0.5, m);
      if (g > best_gain) {
        best_gain = g;
        best = i;
      }
    }
    picks.push_back(best);
    ++taken[best];
    CHECK(lazy.gains[step] == doctest::Approx(best_gain));
  }
  CHECK(lazy.picks == picks);
  // the gains never grow as the batch grows
  for (std::size_t s = 1; s < lazy.gains.size(); ++s) CHECK(lazy.gains[s] <= lazy.gains[s - 1]);
}

TEST_CASE("failure rule: bad bounds and neighbourhoods refused") {
  testing::CheckError([] { FailureGain({1.5}, {{0}}); }, {"failure rule: bound[0]"});
  testing::CheckError([] { FailureGain({0.5, 0.5}, {{0}}); }, {"failure rule: neighbourhoods"});
}

}  // namespace
}  // namespace nextbatch
