#include "planners/real_outcome_model.h"

#include <doctest/doctest.h>

#include <cmath>

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

}  // namespace
}  // namespace nextbatch
