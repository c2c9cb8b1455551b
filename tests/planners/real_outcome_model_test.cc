#include "planners/real_outcome_model.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"
#include "planners/selection.h"

namespace nextbatch {
namespace {

Factor Numeric(const std::string& name, double lower, double upper) {
  Factor f;
  f.name = name;
  f.lower = lower;
  f.upper = upper;
  return f;
}

Factor Levels(const std::string& name, std::vector<std::string> levels) {
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

Scenario At(std::vector<double> v) {
  Scenario s;
  s.values = std::move(v);
  return s;
}

double MaternByHand(double s2, double r) {
  return s2 * (1.0 + std::sqrt(5.0) * r + 5.0 * r * r / 3.0) * std::exp(-std::sqrt(5.0) * r);
}

TEST_CASE("real outcome model: one point, default hyperparameters, closed form") {
  // x in [0, 2] normalises to x / 2; a categorical factor 0.8 apart
  const ScenarioSpace space({Numeric("x", 0, 2), Levels("grip", {"soft", "hard"})});
  const FactorEmbedding embedding(space, 0.8);
  const std::vector<Scenario> cand = {At({0.4, 0}), At({1.6, 0}), At({0.4, 1})};
  RealModelOptions o;
  const RealComponent c = FitRealComponent(embedding, {At({0.4, 0})}, {-0.6}, 0.0, cand, o, "");
  REQUIRE(c.estimated);
  CHECK_FALSE(c.fitted);  // one point: below min_points
  CHECK(c.hyper.length == std::vector<double>{0.5, 0.5});
  CHECK(c.hyper.signal_var == 0.25);
  CHECK(c.hyper.noise_var == 0.1);
  CHECK(c.observed_mean == doctest::Approx(-0.6));
  const double s2 = 0.25, n2 = 0.1;
  // r: 0 at the point itself; 0.6 / 0.5 along x; 0.8 / 0.5 across the levels
  for (auto entry : {std::pair<int, double>{0, 0.0}, {1, 1.2}, {2, 1.6}}) {
    // named: a lambda (doctest's INFO) cannot capture a structured binding before C++20
    const auto i = entry.first;
    const auto r = entry.second;
    const double k = MaternByHand(s2, r);
    CAPTURE(i);
    CHECK(c.mean[i] == doctest::Approx(k * -0.6 / (s2 + n2)).epsilon(1e-8));
    CHECK(c.sd[i] == doctest::Approx(std::sqrt(s2 - k * k / (s2 + n2))).epsilon(1e-8));
  }
  CHECK(c.sd_max == c.sd[2]);  // the farthest: across the levels
  const std::vector<double> scores = c.Scores();
  CHECK(scores[2] == 1.0);
  CHECK(scores[0] == doctest::Approx(c.sd[0] / c.sd[2]));

  const RealComponent none = FitRealComponent(embedding, {}, {}, 0.5, cand, o, "no data");
  CHECK_FALSE(none.estimated);
  CHECK(none.why_not == "no data");
  CHECK(none.Scores() == std::vector<double>{0, 0, 0});
}

// Real outcomes contradict the simulator in one corner and agree elsewhere: with enough points
// the hyperparameters are fitted, the discrepancy's mean follows the data and its sd is
// smallest where the episodes are.
TEST_CASE("real outcome model: a contradicting corner, fitted hyperparameters") {
  const ScenarioSpace space({Numeric("x", 0, 1), Numeric("y", 0, 1)});
  const FactorEmbedding embedding(space, 1.0);
  std::vector<Scenario> cand;
  for (int a = 0; a < 5; ++a)
    for (int b = 0; b < 5; ++b) cand.push_back(At({0.1 + 0.2 * a, 0.1 + 0.2 * b}));
  // Episodes on the candidates of the lower-left 3 x 3 block and one more row: corner (x, y <=
  // 0.3) failed where the simulator says 0.9, the rest succeeded.
  std::vector<Scenario> counted;
  std::vector<int> counted_of;
  std::vector<PlanEpisodes::RealOutcome> outcomes;
  int corner = 0;
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 4; ++b) {
      const int i = a * 5 + b;
      PlanEpisodes::RealOutcome o;
      o.counted = true;
      const bool in_corner = a < 2 && b < 2;
      corner += in_corner;
      o.success = in_corner ? 0 : 1;
      o.candidate = i;
      o.simulated_success = 0.9;
      o.rollouts = 8;
      counted_of.push_back(static_cast<int>(counted.size()));
      counted.push_back(cand[i]);
      outcomes.push_back(o);
    }
  }
  // an episode that does not count and one with an unknown outcome are ignored
  outcomes.push_back({});
  counted_of.push_back(-1);
  PlanEpisodes::RealOutcome unknown;
  unknown.counted = true;
  outcomes.push_back(unknown);
  counted_of.push_back(static_cast<int>(counted.size()));
  counted.push_back(cand[24]);

  RealModelOptions ro;
  ro.seed = 3;
  const RealModel m = FitRealModel(embedding, counted, counted_of, outcomes, cand, ro);
  REQUIRE(m.discrepancy.estimated);
  CHECK(m.discrepancy.points == 12);
  CHECK(m.discrepancy.fitted);
  CHECK(m.discrepancy.observed_mean == doctest::Approx((corner * -0.9 + (12 - corner) * 0.1) / 12));
  CHECK(m.outcome.points == 12);
  CHECK(m.outcome.observed_mean == doctest::Approx((12.0 - corner) / 12));
  // the corner's mean discrepancy is clearly negative, the agreeing region's near 0.1
  CHECK(m.discrepancy.mean[0] < -0.4);
  CHECK(m.discrepancy.mean[2 * 5 + 3] > -0.1);
  // sd smallest on the episodes, largest at the far corner (0.9, 0.9), far from all of them
  double on = 0.0, off = 1e9;
  for (int a = 0; a < 5; ++a)
    for (int b = 0; b < 5; ++b) {
      const double sd = m.discrepancy.sd[a * 5 + b];
      if (a < 3 && b < 4)
        on = std::max(on, sd);
      else
        off = std::min(off, sd);
    }
  CHECK(on < off);
  CHECK(m.discrepancy.sd[24] == m.discrepancy.sd_max);
  CHECK(m.discrepancy.sd_max <= std::sqrt(m.discrepancy.hyper.signal_var) + 1e-12);
  // the default set below min_points
  ro.min_points = 13;
  CHECK_FALSE(FitRealModel(embedding, counted, counted_of, outcomes, cand, ro).discrepancy.fitted);
}

TEST_CASE("real outcome model: a first-episode score as a gain") {
  FirstEpisodeScore s({0.5, 1.0});
  CHECK(s.Gain(0) == 0.5);
  s.Commit(0);
  CHECK(s.Gain(0) == 0.0);
  CHECK(s.Gain(1) == 1.0);
  s.Reset();
  CHECK(s.Gain(0) == 0.5);
}

// A pool where the two real-evidence components' sum and their maximum disagree. Candidate A (0)
// is unsure in both models (0.6 and 0.6), B (1) in the discrepancy alone (1.0 and 0.1); the
// simulated outcome's spread scores them 0.5 and 0.3. By hand, all weights 1:
//   sum:  A 0.6 + 0.6 + 0.5 = 1.7,  B 1.0 + 0.1 + 0.3 = 1.4: A first;
//   max:  A 0.6 + 0.5 = 1.1,        B 1.0 + 0.3 = 1.3:        B first.
TEST_CASE("real evidence: the larger weighted component counts, not the sum, and ranks the pool") {
  const std::vector<double> d = {0.6, 1.0}, o = {0.6, 0.1}, spread = {0.5, 0.3};
  RealEvidenceGain evidence(d, o, 1.0, 1.0);
  WeightedGain max_acquisition;
  max_acquisition.Add(&evidence, 1.0, "real_evidence");
  max_acquisition.SetScores(spread, 1.0, "uncertainty");
  CHECK(max_acquisition.Gain(0) == 0.6 + 0.5);
  CHECK(max_acquisition.Gain(1) == 1.0 + 0.3);
  CHECK(evidence.counted(0) == RealEvidence::kDiscrepancy);  // a tie goes to the discrepancy
  CHECK(evidence.counted(1) == RealEvidence::kDiscrepancy);
  CHECK(evidence.discrepancy(1) == 1.0);  // both still reported apart
  CHECK(evidence.real_outcome(1) == 0.1);

  // the same components as two terms of the sum
  FirstEpisodeScore ds(d), os(o);
  WeightedGain sum_acquisition;
  sum_acquisition.Add(&ds, 1.0, "discrepancy");
  sum_acquisition.Add(&os, 1.0, "real_outcome");
  sum_acquisition.SetScores(spread, 1.0, "uncertainty");
  CHECK(sum_acquisition.Gain(0) == 0.6 + 0.6 + 0.5);
  CHECK(sum_acquisition.Gain(1) == 1.0 + 0.1 + 0.3);

  // a budget of one episode: the selector picks A under the sum and B under the max
  const std::vector<SelectionItem> items(2, SelectionItem{10.0, -1, 1, 0, false});
  SelectionOptions one;
  one.budget_seconds = 10.0;
  const Selection by_sum = SelectBatch(sum_acquisition, items, {}, one);
  const Selection by_max = SelectBatch(max_acquisition, items, {}, one);
  CHECK(by_sum.picks == std::vector<int>{0});
  CHECK(by_max.picks == std::vector<int>{1});
  CHECK(by_max.value == 1.0 + 0.3);
  // the term counts for the first episode only; the other candidate keeps its own
  CHECK(evidence.Gain(1) == 0.0);
  CHECK(evidence.Gain(0) == 0.6);
  evidence.Reset();
  CHECK(evidence.Gain(1) == 1.0);

  // the weights apply before the maximum and decide which component counts
  const RealEvidenceGain weighted(d, o, 0.5, 1.0);
  CHECK(weighted.term(0) == 0.6);  // max(0.3, 0.6)
  CHECK(weighted.counted(0) == RealEvidence::kRealOutcome);
  CHECK(weighted.term(1) == 0.5);  // max(0.5, 0.1)
  CHECK(weighted.counted(1) == RealEvidence::kDiscrepancy);
  // one component alone (the other not estimated: 0 everywhere) counts as it did in the sum
  const RealEvidenceGain alone({0.0, 0.0}, o, 1.0, 2.0);
  CHECK(alone.term(0) == 2.0 * 0.6);
  CHECK(alone.term(1) == 2.0 * 0.1);
  CHECK(alone.counted(1) == RealEvidence::kRealOutcome);
  const RealEvidenceGain none({0.0, 0.0}, {0.0, 0.0}, 1.0, 1.0);
  CHECK(none.counted(0) == RealEvidence::kNone);
  CHECK(none.Gain(0) == 0.0);
  RealEvidence parsed = RealEvidence::kNone;
  CHECK(ParseRealEvidence("real_outcome", &parsed));
  CHECK(parsed == RealEvidence::kRealOutcome);
  CHECK_FALSE(ParseRealEvidence("both", &parsed));

  CHECK_THROWS_AS(RealEvidenceGain({0.5}, {0.5, 0.5}, 1.0, 1.0), InputError);
  CHECK_THROWS_AS(RealEvidenceGain({0.5}, {0.5}, -1.0, 1.0), InputError);
  CHECK_THROWS_AS(RealEvidenceGain({-0.5}, {0.5}, 1.0, 1.0), InputError);
}

}  // namespace
}  // namespace nextbatch
