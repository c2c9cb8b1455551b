#include "planners/make_plan.h"

#include <doctest/doctest.h>

#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "calibration/calibration_json.h"
#include "engine/error.h"
#include "engine/random.h"
#include "planners/coverage.h"
#include "planners/safety.h"
#include "tests/fixtures/errors.h"

namespace nextbatch {
namespace {

Factor Continuous(const std::string& name, double lower, double upper,
                  FactorTag tag = FactorTag::kReset, double cost = 0.0) {
  Factor f;
  f.name = name;
  f.lower = lower;
  f.upper = upper;
  f.tag = tag;
  f.cost_seconds = cost;
  return f;
}

Factor Categorical(const std::string& name, std::vector<std::string> levels, double cost) {
  Factor f;
  f.name = name;
  f.kind = FactorKind::kCategorical;
  for (auto& l : levels) {
    Level level;
    level.name = l;
    f.levels.push_back(level);
  }
  f.tag = FactorTag::kSetup;
  f.cost_seconds = cost;
  return f;
}

// A simulate set by hand: one record per scenario with its success and safety rates over
// `rollouts` samples.
struct Candidates {
  ScenarioSpace space;
  CandidateSet set;

  explicit Candidates(ScenarioSpace s) : space(std::move(s)) {
    for (const Factor& f : space.factors()) set.factors.push_back(f.name);
    set.document = {{"posterior_samples", 8}};
  }
  void Add(const nlohmann::json& scenario, double success, double safety = 1.0, int rollouts = 8) {
    CandidateRecord r;
    r.index = static_cast<std::int64_t>(set.candidates.size());
    r.scenario = scenario;
    r.rollouts = rollouts;
    r.success = success;
    r.safety = safety;
    r.safety_rollouts = rollouts;  // no sequential safety samples, as ReadCandidateSet reads them
    r.safety_violations = rollouts - static_cast<int>(std::lround(safety * rollouts));
    set.candidates.push_back(r);
  }
};

PlanInputs Inputs(const Candidates& c, std::vector<EpisodeScenario> episodes) {
  PlanInputs in;
  in.study = "test";
  in.seed = 11;
  in.space = c.space;
  in.candidates = &c.set;
  in.episodes = std::move(episodes);
  in.threads = 1;
  return in;
}

PlanOptions Options(double budget, double episode_seconds = 10.0) {
  PlanOptions o;
  o.budget_seconds = budget;
  o.episode_seconds = episode_seconds;
  o.coverage.k = 1;
  o.coverage.sample_size = 2048;
  return o;
}

bool HasWarning(const Plan& plan, const std::string& part) {
  for (const auto& w : plan.warnings)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

bool HasNote(const Plan& plan, const std::string& part) {
  for (const auto& w : plan.notes)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

TEST_CASE(
    "make plan: the candidate far from every episode goes first, its reason names the distance") {
  Candidates c(ScenarioSpace({Continuous("x", 0, 1), Continuous("y", 0, 1)}));
  c.Add({{"x", 0.1}, {"y", 0.1}}, 1.0);  // on top of the recorded episode
  c.Add({{"x", 0.9}, {"y", 0.9}}, 1.0);  // far from it
  const std::vector<EpisodeScenario> episodes = {{"ep0", {{"x", 0.1}, {"y", 0.1}}}};
  PlanOptions o = Options(100.0);
  o.weights = {1.0, 0.0, 0.0, 1.0};
  const Plan plan = MakePlan(Inputs(c, episodes), o);
  // the near candidate covers nothing that the episode does not: its gain is 0, it stays out
  REQUIRE(plan.items.size() == 1);
  const PlanItem& first = plan.items[0];
  CHECK(first.rank == 1);
  CHECK(first.candidate == 1);
  CHECK(first.scenario.values == std::vector<double>{0.9, 0.9});
  CHECK(first.components.coverage == 1.0);  // the best candidate scores 1
  CHECK(first.components.uncertainty == 0.0);
  CHECK(first.components.information == 0.0);
  CHECK(first.components.cost == 10.0);
  // distance in the unit square: 0.8 sqrt(2) = 1.131
  CHECK(first.reason.find("nearest recorded episode 1.13 away") != std::string::npos);
  CHECK(first.reason.find("diameter 1.41") != std::string::npos);
  CHECK(first.item_id == ItemId(c.space, first.scenario, 11));
  CHECK(plan.episodes.total == 1);
  CHECK(plan.episodes.counted == 1);
  CHECK(plan.budget.used_seconds == 10.0);
  CHECK(HasWarning(plan, "90 s of the 100 s budget left unused"));
  // a study without parameters has nothing to learn: a stated fact, not a reason for doubt
  CHECK(HasNote(plan, "not estimated yet: information gain (the study has no parameters"));
  CHECK_FALSE(HasWarning(plan, "not estimated yet"));
  CHECK_FALSE(HasWarning(plan, "cold start"));

  // coverage before and after, against a brute-force count on the same Sobol sample
  CoverageOptions copt = o.coverage;
  copt.seed = 11;
  const std::vector<Scenario> sample = CoverageSample(c.space, copt);
  const double radius = o.coverage.radius * std::sqrt(2.0);
  int before = 0, after = 0;
  for (const Scenario& s : sample) {
    const double d0 = std::hypot(s.values[0] - 0.1, s.values[1] - 0.1);
    const double d1 = std::hypot(s.values[0] - 0.9, s.values[1] - 0.9);
    before += d0 < radius;
    after += d0 < radius || d1 < radius;
  }
  CHECK(plan.expected.coverage_before == doctest::Approx(double(before) / sample.size()));
  CHECK(plan.expected.coverage_after == doctest::Approx(double(after) / sample.size()));
  CHECK(plan.expected.coverage_after > plan.expected.coverage_before);
  // its share of newly covered space is in the reason, in percent
  char share[32];
  std::snprintf(share, sizeof(share), "covers %.1f%%", 100.0 * (after - before) / sample.size());
  CHECK(first.reason.find(share) != std::string::npos);
  // one session on the default robot
  REQUIRE(plan.sessions.size() == 1);
  CHECK(plan.sessions[0].robot == "robot");
  CHECK(plan.sessions[0].items == std::vector<std::string>{first.item_id});
  CHECK(first.session == 0);
}

TEST_CASE("make plan: uncertainty is the Bernoulli variance of the simulated success") {
  Candidates c(ScenarioSpace({Continuous("x", 0, 1)}));
  c.Add({{"x", 0.2}}, 1.0);    // p (1 - p) = 0
  c.Add({{"x", 0.5}}, 0.5);    // 0.25, the largest
  c.Add({{"x", 0.8}}, 0.125);  // 0.109375
  PlanOptions o = Options(25.0);
  o.weights = {0.0, 1.0, 0.0, 1.0};
  const Plan plan = MakePlan(Inputs(c, {}), o);
  REQUIRE(plan.items.size() == 2);
  CHECK(plan.items[0].candidate == 1);
  CHECK(plan.items[0].components.uncertainty == 1.0);
  CHECK(plan.items[0].score == 1.0);
  CHECK(plan.items[1].candidate == 2);
  CHECK(plan.items[1].components.uncertainty == doctest::Approx(0.109375 / 0.25));
  CHECK(plan.items[0].reason.find("simulated success 0.50 +- 0.50 over 8 samples") !=
        std::string::npos);
  CHECK(plan.items[0].reason.find("no recorded episode to compare with (cold start)") !=
        std::string::npos);
  CHECK(HasWarning(plan, "cold start"));
  CHECK(plan.expected.coverage_before == 0.0);
  // the item the simulator expects to fail is a failure mode the batch probes
  REQUIRE(plan.expected.failure_modes.size() == 1);
  CHECK(plan.expected.failure_modes[0].find(plan.items[1].item_id) != std::string::npos);
}

TEST_CASE("make plan: setup changes charged once per setup, sessions one setup each") {
  Candidates c(
      ScenarioSpace({Categorical("object", {"box", "can"}, 100.0), Continuous("x", 0, 1)}));
  c.Add({{"object", "box"}, {"x", 0.1}}, 0.5);
  c.Add({{"object", "box"}, {"x", 0.9}}, 0.5);
  c.Add({{"object", "can"}, {"x", 0.5}}, 0.5);
  PlanOptions o = Options(1000.0, 20.0);
  o.weights = {0.0, 1.0, 0.0, 1.0};
  const Plan plan = MakePlan(Inputs(c, {}), o);
  REQUIRE(plan.items.size() == 3);
  // equal scores: the cheaper one (its setup already in) goes before a new setup
  CHECK(plan.items[0].candidate == 0);
  CHECK(plan.items[0].components.cost == 120.0);  // 20 s + the box setup
  CHECK(plan.items[1].candidate == 1);
  CHECK(plan.items[1].components.cost == 20.0);
  CHECK(plan.items[1].reason.find("its setup is already in the batch") != std::string::npos);
  CHECK(plan.items[2].candidate == 2);
  CHECK(plan.items[2].components.cost == 120.0);
  CHECK(plan.items[2].reason.find("setup change 100 s") != std::string::npos);
  CHECK(plan.budget.used_seconds == 3 * 20.0 + 2 * 100.0);
  CHECK(plan.budget.setup_seconds == 200.0);
  for (const PlanItem& it : plan.items) CHECK(it.est_seconds == 20.0);
  // one robot: two sessions, one per setup, back to back
  REQUIRE(plan.sessions.size() == 2);
  double total = 0.0;
  for (const PlanSession& s : plan.sessions) {
    CHECK(s.setup_seconds == 100.0);
    total += s.end_s - s.start_s;
  }
  CHECK(total == 260.0);
  CHECK(std::max(plan.sessions[0].end_s, plan.sessions[1].end_s) == 260.0);
}

TEST_CASE("make plan: episodes count for coverage only with a valid value for every factor") {
  const ScenarioSpace space({Categorical("object", {"box", "can"}, 0.0), Continuous("x", 0, 2)});
  std::string why;
  auto s = EpisodeToScenario(space, {{"object", "can"}, {"x", 1.5}, {"operator", "ann"}}, &why);
  REQUIRE(s.has_value());
  CHECK(s->values == std::vector<double>{1, 1.5});
  CHECK_FALSE(EpisodeToScenario(space, {{"x", 1.5}}, &why).has_value());
  CHECK(why == "its scenario has no value for factor 'object'");
  CHECK_FALSE(EpisodeToScenario(space, {{"object", "cup"}, {"x", 1.5}}, &why).has_value());
  CHECK(why.find("factor 'object' is the string \"cup\", not one of its levels") == 0);
  CHECK_FALSE(EpisodeToScenario(space, {{"object", "box"}, {"x", 3.0}}, &why).has_value());
  CHECK(why.find("outside the space") != std::string::npos);
  CHECK_FALSE(EpisodeToScenario(space, {{"object", "box"}, {"x", "far"}}, &why).has_value());
  CHECK(why.find("not a number") != std::string::npos);

  Candidates c(space);
  c.Add({{"object", "box"}, {"x", 1.0}}, 0.5);
  const Plan plan = MakePlan(Inputs(c, {{"a", {{"object", "box"}, {"x", 0.2}}},
                                        {"b", {{"x", 0.2}}},
                                        {"c", {{"object", "can"}, {"x", 0.4}}}}),
                             Options(100.0));
  CHECK(plan.episodes.total == 3);
  CHECK(plan.episodes.counted == 2);
  REQUIRE(plan.episodes.not_counted.size() == 1);
  CHECK(plan.episodes.not_counted[0].id == "b");
  CHECK(HasWarning(plan,
                   "1 of 3 episodes do not count for coverage, e.g. b: its scenario has no "
                   "value for factor 'object'"));
}

TEST_CASE("make plan: real outcomes, and the simulator's word near each counted episode") {
  const ScenarioSpace space({Continuous("x", 0, 1), Continuous("y", 0, 1)});
  Candidates c(space);
  c.Add({{"x", 0.1}, {"y", 0.1}}, 0.0);    // 0 of 8 succeed
  c.Add({{"x", 0.9}, {"y", 0.9}}, 0.125);  // 1 of 8
  c.Add({{"x", 0.1}, {"y", 0.9}}, 0.25);   // 2 of 8
  c.Add({{"x", 0.9}, {"y", 0.1}}, 1.0);    // 8 of 8
  auto episode = [](const std::string& id, double x, double y, int success) {
    EpisodeScenario e{id, {{"x", x}, {"y", y}}};
    e.outcome.success = success;
    e.outcome.source = success < 0 ? "" : "log";
    return e;
  };
  // the one-sided 95 % Clopper-Pearson bound on a rate with k of 8 agreeing samples:
  // k = 0: 0.312, k = 1: 0.471 (both below 1/2: a confident contradiction), k = 2: 0.600
  const Plan plan =
      MakePlan(Inputs(c, {episode("a", 0.12, 0.1, 1),   // succeeded where 0 of 8 do
                          episode("b", 0.9, 0.88, 1),   // 1 of 8
                          episode("c", 0.1, 0.92, 1),   // 2 of 8: not confident
                          episode("d", 0.9, 0.12, 1),   // agrees
                          episode("e", 0.5, 0.5, 0),    // no candidate within the radius
                          episode("f", 0.88, 0.1, -1),  // unknown
                          {"g", {{"x", 0.5}}}}),        // not counted
               Options(100.0));
  REQUIRE(plan.episodes.outcomes.size() == 7);
  const auto& o = plan.episodes.outcomes;
  CHECK(o[0].contradicted);
  CHECK(o[0].candidate == 0);
  CHECK(o[0].distance == doctest::Approx(0.02));
  CHECK(o[0].simulated_success == 0.0);
  CHECK(o[0].rollouts == 8);
  CHECK(o[1].contradicted);
  CHECK_FALSE(o[2].contradicted);
  CHECK(o[2].candidate == 2);
  CHECK_FALSE(o[3].contradicted);
  CHECK(o[4].candidate == -1);  // 0.57 away, beyond 0.15 x the diameter 1.41
  CHECK_FALSE(o[4].contradicted);
  CHECK(o[5].candidate == 3);
  CHECK_FALSE(o[5].contradicted);
  CHECK_FALSE(o[6].counted);
  CHECK(o[6].candidate == -1);
  CHECK(HasWarning(plan,
                   "verify episode a: recorded success (log), but the simulator at the nearest "
                   "candidate (0, 0.02 away) predicts success 0.00 over 8 samples"));
  CHECK(HasWarning(plan, "verify episode b:"));
  CHECK_FALSE(HasWarning(plan, "verify episode c:"));
  const std::string summary = PlanSummaryText(plan, space);
  CHECK(summary.find("real outcomes, counted episodes: 5 of 6 known, 4 succeeded: a success "
                     "(log, sim 0.00, VERIFY), b success (log, sim 0.12, VERIFY)") !=
        std::string::npos);
  CHECK(summary.find("real outcomes, not counted: 0 of 1 known, 0 succeeded: g unknown") !=
        std::string::npos);
}

// Real outcomes contradict a confident simulator in one corner and agree with it elsewhere; one
// corner has no episode at all. The discrepancy's sd is smallest on the episodes and largest
// where none is, and weighing it moves the pick from a tie (broken by candidate order, onto the
// data) to the unexplored corner.
TEST_CASE("make plan: the discrepancy and real-outcome components move the pick off the data") {
  const ScenarioSpace space({Continuous("x", 0, 1), Continuous("y", 0, 1)});
  Candidates c(space);
  for (int a = 0; a < 5; ++a)
    for (int b = 0; b < 5; ++b) c.Add({{"x", 0.1 + 0.2 * a}, {"y", 0.1 + 0.2 * b}}, 0.875);
  std::vector<EpisodeScenario> episodes;
  int corner = 0;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 4; ++b) {
      EpisodeScenario e{"e" + std::to_string(a * 5 + b),
                        {{"x", 0.1 + 0.2 * a}, {"y", 0.1 + 0.2 * b}}};
      const bool in_corner = a < 2 && b < 2;
      corner += in_corner;
      e.outcome = {in_corner ? 0 : 1, "log", ""};
      episodes.push_back(e);
    }
  PlanOptions o = Options(10.0);               // one episode
  o.weights = {0.0, 1.0, 0.0, 1.0, 0.0, 0.0};  // uncertainty alone: every candidate ties
  const Plan tie = MakePlan(Inputs(c, episodes), o);
  REQUIRE(tie.items.size() == 1);
  CHECK(tie.items[0].candidate == 0);  // on an episode
  CHECK(tie.real_model.discrepancy.estimated);
  CHECK(tie.real_model.discrepancy.fitted);  // 12 points
  CHECK(tie.real_model.discrepancy.points == 12);
  CHECK(tie.real_model.discrepancy.observed_mean ==
        doctest::Approx((corner * -0.875 + (12 - corner) * 0.125) / 12));
  CHECK(tie.real_model.outcome.observed_mean == doctest::Approx((12.0 - corner) / 12));
  CHECK(tie.items[0].real.discrepancy);
  CHECK(tie.items[0].real.discrepancy_mean < -0.3);  // the contradicting corner
  const double on_data = tie.items[0].real.discrepancy_sd;
  // reported, though weighed 0: the sd on the data over the largest
  CHECK(tie.items[0].components.discrepancy ==
        doctest::Approx(on_data / tie.real_model.discrepancy.sd_max));
  CHECK(tie.items[0].components.discrepancy < 0.9);
  CHECK(tie.items[0].reason.find("discrepancy") == std::string::npos);  // weighed 0: not quoted

  o.weights.discrepancy = 1.0;
  const Plan moved = MakePlan(Inputs(c, episodes), o);
  REQUIRE(moved.items.size() == 1);
  const PlanItem& it = moved.items[0];
  CHECK(it.candidate == 24);                // (0.9, 0.9), the farthest from every episode
  CHECK(it.components.discrepancy == 1.0);  // the best candidate scores 1
  CHECK(it.real.discrepancy_sd == doctest::Approx(moved.real_model.discrepancy.sd_max));
  CHECK(it.real.discrepancy_sd > on_data);
  CHECK(it.score == doctest::Approx(1.0 + 1.0));
  CHECK(it.reason.find("sim-to-real discrepancy ") != std::string::npos);
  CHECK(it.reason.find("real success") == std::string::npos);  // weighed 0: not quoted
  // the fitted models are the same for any thread count, and read back as written
  PlanInputs two = Inputs(c, episodes);
  two.threads = 2;
  const std::string written = PlanToJson(moved, space).dump();
  CHECK(PlanToJson(MakePlan(two, o), space).dump() == written);
  CHECK(
      PlanToJson(PlanFromJson(nlohmann::json::parse(written), space, "plan.json"), space).dump() ==
      written);

  o.weights.discrepancy = 0.0;
  o.weights.real_outcome = 1.0;
  const Plan outcome = MakePlan(Inputs(c, episodes), o);
  REQUIRE(outcome.items.size() == 1);
  CHECK(outcome.items[0].candidate == 24);
  CHECK(outcome.items[0].components.real_outcome == 1.0);
  CHECK(outcome.items[0].reason.find("real success") != std::string::npos);
  CHECK(std::find(outcome.not_estimated.begin(), outcome.not_estimated.end(),
                  "uncertainty.discrepancy") == outcome.not_estimated.end());

  // without real outcomes both are 0 and not estimated, and the plan says so
  for (EpisodeScenario& e : episodes) e.outcome = {};
  const Plan none = MakePlan(Inputs(c, episodes), o);
  CHECK(none.items[0].components.real_outcome == 0.0);
  CHECK_FALSE(none.real_model.outcome.estimated);
  CHECK(std::count(none.not_estimated.begin(), none.not_estimated.end(),
                   "uncertainty.outcome_model") == 1);
  // what cannot be estimated yet is a stated fact: a note, not a warning
  CHECK_FALSE(HasWarning(none, "not estimated yet"));
  CHECK(std::any_of(none.notes.begin(), none.notes.end(), [](const std::string& n) {
    return n.find("the sim-to-real discrepancy, an outcome model from real episodes") !=
           std::string::npos;
  }));
}

// Three successful real episodes at x = 0.1; candidate B (0) beside them at 0.12 with a coin-flip
// simulated outcome, candidate A (1) far away at 0.95 with a sure one. Both real-outcome models
// rest on the same three points and are least sure at A (components 1 and 1 there), unsure at B
// only a fraction f of that. Uncertainty (spread) scores B 1 and A 0. By hand, weights 1:
//   the old sum: A 0 + 1 + 1 = 2, B 1 + 2 f (below 2 while f < 1/2): A;
//   the max:     A 0 + 1 = 1,     B 1 + f:                          B.
TEST_CASE("make plan: the real-evidence term is the larger component, not the sum of both") {
  const ScenarioSpace space({Continuous("x", 0, 1)});
  Candidates c(space);
  c.Add({{"x", 0.12}}, 0.5);  // B
  c.Add({{"x", 0.95}}, 1.0);  // A
  std::vector<EpisodeScenario> episodes;
  for (int e = 0; e < 3; ++e)
    episodes.push_back({"e" + std::to_string(e), {{"x", 0.1}}, {1, "log", ""}});
  PlanOptions o = Options(10.0);  // one episode
  // the real-evidence term alone (information is not estimated here: it weighs nothing): A
  o.weights = {0.0, 0.0, 1.0, 1.0, 1.0, 1.0};
  const Plan far = MakePlan(Inputs(c, episodes), o);
  REQUIRE(far.items.size() == 1);
  const PlanItem& a = far.items[0];
  CHECK(a.candidate == 1);
  CHECK(far.real_model.discrepancy.points == 3);
  CHECK(far.real_model.outcome.points == 3);
  CHECK(a.components.discrepancy == 1.0);
  CHECK(a.components.real_outcome == 1.0);
  CHECK(a.components.uncertainty == 0.0);
  CHECK(a.score == 1.0);  // max(1, 1), not 2

  o.weights.uncertainty = 1.0;
  const Plan plan = MakePlan(Inputs(c, episodes), o);
  REQUIRE(plan.items.size() == 1);
  const PlanItem& b = plan.items[0];
  CHECK(b.candidate == 0);
  CHECK(b.components.uncertainty == 1.0);
  const double f_d = b.components.discrepancy, f_o = b.components.real_outcome;
  CHECK(f_d > 0.0);
  CHECK(f_o > 0.0);
  // the sum would have picked A: B's sum falls short of A's
  CHECK(1.0 + f_d + f_o < 0.0 + a.components.discrepancy + a.components.real_outcome);
  CHECK(b.score == std::max(f_d, f_o) + 1.0);
  CHECK(b.score > 0.0 + std::max(a.components.discrepancy, a.components.real_outcome));
  CHECK(b.real_evidence == (f_d >= f_o ? "discrepancy" : "real_outcome"));
  char term[32];
  std::snprintf(term, sizeof(term), "%.2f", std::max(f_d, f_o));
  CHECK(b.reason.find("real-evidence term " + std::string(term) + " from the " + b.real_evidence) !=
        std::string::npos);
  // the same for any thread count, and read back as written, real_evidence included
  PlanInputs two = Inputs(c, episodes);
  two.threads = 2;
  const std::string written = PlanToJson(plan, space).dump();
  CHECK(PlanToJson(MakePlan(two, o), space).dump() == written);
  const Plan back = PlanFromJson(nlohmann::json::parse(written), space, "plan.json");
  CHECK(back.items[0].real_evidence == b.real_evidence);
  CHECK(PlanToJson(back, space).dump() == written);
  CHECK(PlanToCsv(plan, space).find("," + b.real_evidence + "\n") != std::string::npos);

  // a weight decides which component counts: the real outcome's doubled
  o.weights.real_outcome = 2.0;
  const Plan doubled = MakePlan(Inputs(c, episodes), o);
  REQUIRE(doubled.items.size() == 1);
  CHECK(doubled.items[0].real_evidence == "real_outcome");
  CHECK(doubled.items[0].score == std::max(doubled.items[0].components.discrepancy,
                                           2.0 * doubled.items[0].components.real_outcome) +
                                      doubled.items[0].components.uncertainty);
}

// Real outcomes, but no candidate within the coverage radius of any episode: the discrepancy
// cannot be estimated, the outcome model alone carries the real-evidence term, and the plan is
// what the sum of the two gave (the discrepancy 0 everywhere): score = uncertainty + real_outcome.
TEST_CASE("make plan: with the discrepancy absent the real-outcome component counts as before") {
  const ScenarioSpace space({Continuous("x", 0, 1)});
  Candidates c(space);
  c.Add({{"x", 0.5}}, 0.5);
  c.Add({{"x", 0.95}}, 0.5);
  c.Add({{"x", 0.7}}, 0.25);
  std::vector<EpisodeScenario> episodes;
  for (int e = 0; e < 3; ++e)
    episodes.push_back({"e" + std::to_string(e), {{"x", 0.1}}, {e == 0 ? 0 : 1, "log", ""}});
  PlanOptions o = Options(30.0);  // every candidate
  o.weights = {0.0, 1.0, 0.0, 1.0, 1.0, 1.0};
  const Plan plan = MakePlan(Inputs(c, episodes), o);
  CHECK_FALSE(plan.real_model.discrepancy.estimated);
  CHECK(plan.real_model.outcome.estimated);
  CHECK(std::count(plan.not_estimated.begin(), plan.not_estimated.end(),
                   "uncertainty.discrepancy") == 1);
  REQUIRE(plan.items.size() == 3);
  // by hand: spreads 0.25, 0.25, 0.1875 over 0.25; the outcome model least sure farthest out
  CHECK(plan.items[0].candidate == 1);
  CHECK(plan.items[0].components.real_outcome == 1.0);
  CHECK(plan.items[0].score == 2.0);
  for (const PlanItem& it : plan.items) {
    CHECK(it.components.discrepancy == 0.0);
    CHECK(it.real_evidence == "real_outcome");
    CHECK(it.score == it.components.real_outcome + it.components.uncertainty);
  }
  // the discrepancy's weight changes nothing but the weight written
  PlanOptions without = o;
  without.weights.discrepancy = 0.0;
  const Plan reference = MakePlan(Inputs(c, episodes), without);
  CHECK(PlanToJson(reference, space)["items"].dump() == PlanToJson(plan, space)["items"].dump());
}

TEST_CASE("make plan: unsafe candidates are left out and listed, undecided ones flagged") {
  Candidates c(ScenarioSpace({Continuous("x", 0, 1)}));
  c.Add({{"x", 0.1}}, 0.5, 4.0 / 8.0);  // 4 violations in 8: unsafe
  c.Add({{"x", 0.9}}, 0.5, 1.0);        // none in 8: bound 1 - 0.05^(1/8) = 0.31, undecided
  PlanInputs in = Inputs(c, {});
  in.safety_rule = true;
  PlanOptions o = Options(100.0);
  const Plan plan = MakePlan(in, o);
  REQUIRE(plan.unsafe.size() == 1);
  CHECK(plan.unsafe[0].candidate == 0);
  CHECK(plan.unsafe[0].violations == 4);
  CHECK(plan.unsafe[0].samples == 8);
  CHECK(plan.unsafe[0].upper > 0.5);
  REQUIRE(plan.items.size() == 1);
  CHECK(plan.items[0].candidate == 1);
  CHECK(plan.items[0].reason.find("not shown safe: 0 violations in 8 samples, bound 0.31 > 0.05") !=
        std::string::npos);
  CHECK(HasNote(plan, "1 of 2 candidates left out as unsafe"));
  CHECK_FALSE(HasWarning(plan, "left out as unsafe"));
  CHECK(HasWarning(plan, "1 of 2 candidates could not be shown safe"));
  // without a safety rule in the task nothing is judged
  in.safety_rule = false;
  const Plan free = MakePlan(in, o);
  CHECK(free.unsafe.empty());
  CHECK(free.items.size() == 2);
}

TEST_CASE("make plan: safety is judged on every sample the simulate stage drew for it") {
  // the same two candidates after sequential safety samples: the clean one none in 64 (bound
  // 1 - 0.05^(1/64) = 0.0457, shown safe), the other 9 in 24 (its 8 plus two rounds)
  Candidates c(ScenarioSpace({Continuous("x", 0, 1)}));
  c.Add({{"x", 0.1}}, 0.5, 4.0 / 8.0);
  c.Add({{"x", 0.9}}, 0.5, 1.0);
  c.set.candidates[0].safety_rollouts = 24;
  c.set.candidates[0].safety_violations = 9;
  c.set.candidates[1].safety_rollouts = 64;
  c.set.candidates[1].safety_violations = 0;
  c.set.document["safety_sampling"] = {{"max_samples", 64}};
  PlanInputs in = Inputs(c, {});
  in.safety_rule = true;
  const Plan plan = MakePlan(in, Options(100.0));
  REQUIRE(plan.unsafe.size() == 1);
  CHECK(plan.unsafe[0].violations == 9);
  CHECK(plan.unsafe[0].samples == 24);
  CHECK(plan.unsafe[0].upper == doctest::Approx(ViolationUpperBound(9, 24, 0.95)));
  REQUIRE(plan.items.size() == 1);
  CHECK(plan.items[0].reason.find("not shown safe") == std::string::npos);
  CHECK_FALSE(HasWarning(plan, "could not be shown safe"));
  CHECK(HasNote(plan, "2 of 2 candidates drew 72 extra samples"));
}

TEST_CASE("make plan: pinned first, excluded never, bad indices and budgets refused") {
  Candidates c(ScenarioSpace({Continuous("x", 0, 1)}));
  c.Add({{"x", 0.1}}, 1.0);
  c.Add({{"x", 0.5}}, 0.5);
  c.Add({{"x", 0.9}}, 0.5);
  PlanOptions o = Options(1000.0);
  o.pinned = {0};
  o.excluded = {2};
  const Plan plan = MakePlan(Inputs(c, {}), o);
  REQUIRE(plan.items.size() == 2);
  CHECK(plan.items[0].candidate == 0);
  CHECK(plan.items[0].reason.rfind("pinned by the study; ", 0) == 0);
  CHECK(plan.items[1].candidate == 1);
  o.pinned = {5};
  testing::CheckError([&] { MakePlan(Inputs(c, {}), o); },
                      {"planner.pinned: expected indices of simulated candidates (3 candidates), "
                       "got 5"});
  // a setup change that no budget of one episode pays for
  Candidates s(ScenarioSpace({Continuous("mass", 1, 2, FactorTag::kSetup, 300.0)}));
  s.Add({{"mass", 1.5}}, 0.5);
  testing::CheckError([&] { MakePlan(Inputs(s, {}), Options(100.0)); },
                      {"planner.budget_seconds: expected at least the cheapest episode with its "
                       "setup change (310 s), got 100"});
  PlanOptions bad = Options(100.0);
  bad.weights.uncertainty = -1.0;
  testing::CheckError([&] { MakePlan(Inputs(c, {}), bad); }, {"planner.weights.uncertainty"});
}

// Two parameters with priors (stds 1 and 2), and candidates that inform them by hand.
struct Informed {
  Candidates c{ScenarioSpace({Continuous("x", 0, 1)})};
  std::vector<ParameterSpec> parameters;
  Informed() {
    for (const auto& [name, std] : {std::pair<const char*, double>{"a", 1.0}, {"b", 2.0}}) {
      ParameterSpec p;
      p.name = name;
      p.targets = {"joint:x.damping"};
      p.initial = p.prior_mean = 0.0;
      p.prior_std = std;
      p.lower = -100;
      p.upper = 100;
      parameters.push_back(p);
    }
    c.set.parameters = {"a", "b"};
    c.set.has_information = true;
    c.set.information_floor = Eigen::MatrixXd::Zero(2, 2);
  }
  void Add(double x, const Eigen::Matrix2d& information) {
    c.Add({{"x", x}}, 1.0);
    c.set.candidates.back().information = information;
  }
  // A calibration with an error model and the priors' covariance: the set's information is then
  // already under the calibration's error model, as the simulate stage writes it.
  CalibrationFile Calibration(bool error_model) const {
    CalibrationFile file;
    file.path = "calibration.json";
    file.status = "converged";
    const int n = static_cast<int>(parameters.size());
    file.value = Eigen::VectorXd::Zero(n);
    file.std = Eigen::VectorXd::Zero(n);
    file.honest_covariance = Eigen::MatrixXd::Zero(n, n);
    for (int i = 0; i < n; ++i) {
      file.names.push_back(parameters[i].name);
      file.std[i] = parameters[i].prior_std;
      file.honest_covariance(i, i) = parameters[i].prior_std * parameters[i].prior_std;
    }
    file.has_error_model = error_model;
    if (error_model) file.residual_scale = 1.0;
    return file;
  }
  PlanInputs In() {
    calibration = Calibration(true);
    PlanInputs in = InCold();
    in.calibration = &calibration;
    return in;
  }
  // No calibration: a cold start, under the planner's default error model.
  PlanInputs InCold() {
    PlanInputs in = Inputs(c, {});
    in.parameters = parameters;
    return in;
  }
  CalibrationFile calibration;
};

TEST_CASE("make plan: information gain, the parameter informed and std_after in closed form") {
  Informed f;
  f.Add(0.1, Eigen::Vector2d(4.0, 0.0).asDiagonal());   // about a: gain log(1 + 4 / 1)
  f.Add(0.5, Eigen::Vector2d(0.0, 2.0).asDiagonal());   // about b: gain log(1 + 2 x 4)
  f.Add(0.9, Eigen::Vector2d(0.01, 0.0).asDiagonal());  // hardly anything
  PlanOptions o = Options(20.0);
  o.weights = {0.0, 0.0, 1.0, 0.0};  // information alone, largest gains first
  const Plan plan = MakePlan(f.In(), o);
  REQUIRE(plan.items.size() == 2);
  CHECK(plan.items[0].candidate == 1);
  CHECK(plan.items[0].informs == "b");
  CHECK(plan.items[0].components.information == doctest::Approx(1.0));
  CHECK(plan.items[1].candidate == 0);
  CHECK(plan.items[1].informs == "a");
  CHECK(plan.items[1].components.information == doctest::Approx(std::log(5.0) / std::log(9.0)));
  CHECK(plan.items[1].reason.find("informs a most (one episode shrinks its variance 80.0%") !=
        std::string::npos);
  // linear-Gaussian: precision 1 / prior variance plus the batch's information
  CHECK(plan.expected.std_before.at("a") == doctest::Approx(1.0));
  CHECK(plan.expected.std_before.at("b") == doctest::Approx(2.0));
  CHECK(plan.expected.std_after.at("a") == doctest::Approx(1.0 / std::sqrt(1.0 + 4.0)));
  CHECK(plan.expected.std_after.at("b") == doctest::Approx(1.0 / std::sqrt(0.25 + 2.0)));
  CHECK(std::find(plan.not_estimated.begin(), plan.not_estimated.end(), "information") ==
        plan.not_estimated.end());
  CHECK(std::find(plan.not_estimated.begin(), plan.not_estimated.end(), "expected.std_after") ==
        plan.not_estimated.end());
  CHECK_FALSE(HasWarning(plan, "information gain"));
  CHECK(PlanSummaryText(plan, f.c.space).find("a 1 -> 0.447;") != std::string::npos);
}

TEST_CASE("make plan: a cold start weighs the information by the default error model") {
  Informed f;
  f.Add(0.1, Eigen::Vector2d(4.0, 0.0).asDiagonal());
  f.Add(0.5, Eigen::Vector2d(0.0, 2.0).asDiagonal());
  PlanOptions o = Options(20.0);
  o.rule = PlanRule::kInformation;
  o.default_error_model.residual_scale = 2.5;
  o.default_error_model.serial_correlation = 3.0;  // the information over 7.5
  const double d = 7.5;
  const Plan plan = MakePlan(f.InCold(), o);
  REQUIRE(plan.items.size() == 2);
  // linear-Gaussian closed form: gain log(1 + I / (d p)) for prior precision p
  CHECK(plan.items[0].candidate == 1);
  CHECK(plan.items[0].score == doctest::Approx(std::log(1.0 + 2.0 * 4.0 / d)));
  CHECK(plan.items[1].candidate == 0);
  CHECK(plan.items[1].score == doctest::Approx(std::log(1.0 + 4.0 / d)));
  // one episode shrinks a's variance 1 - 1 / (1 + 4 / 7.5) = 34.8 %
  CHECK(plan.items[1].reason.find("informs a most (one episode shrinks its variance 34.8%") !=
        std::string::npos);
  // no forecast of the stds a fit reaches: not estimated, said in words
  CHECK(plan.expected.std_after.empty());
  CHECK(std::find(plan.not_estimated.begin(), plan.not_estimated.end(), "expected.std_after") !=
        plan.not_estimated.end());
  CHECK(HasNote(plan, "under the planner's default error model, since the calibration has none"));
  CHECK(HasNote(plan, "residual scale 2.5 x serial correlation 3 = 7.5"));
  CHECK(HasNote(plan, "std_after is not estimated at a cold start"));
  // a calibration without an error model (written before it existed) is weighed alike
  const CalibrationFile old = f.Calibration(false);
  PlanInputs in = f.InCold();
  in.calibration = &old;
  const Plan older = MakePlan(in, o);
  REQUIRE(older.items.size() == 2);
  CHECK(older.items[1].score == doctest::Approx(std::log(1.0 + 4.0 / d)));
  CHECK(older.expected.std_after.empty());
  // with the calibration's error model the set's information stands as it is, and is forecast
  const Plan calibrated = MakePlan(f.In(), o);
  REQUIRE(calibrated.items.size() == 2);
  CHECK(calibrated.items[1].score == doctest::Approx(std::log(1.0 + 4.0)));
  CHECK(calibrated.expected.std_after.at("a") == doctest::Approx(1.0 / std::sqrt(1.0 + 4.0)));
  CHECK_FALSE(HasNote(calibrated, "default error model"));
  // the defaults: s^2 4 and serial 4 from the calibration bench
  PlanOptions defaults = Options(20.0);
  defaults.rule = PlanRule::kInformation;
  CHECK(MakePlan(f.InCold(), defaults).items[1].score ==
        doctest::Approx(std::log(1.0 + 4.0 / 16.0)));
  // a serial factor below 1 counts as 1, as the simulate stage takes it
  o.default_error_model.serial_correlation = 0.5;
  CHECK(MakePlan(f.InCold(), o).items[1].score == doctest::Approx(std::log(1.0 + 4.0 / 2.5)));
  o.default_error_model.residual_scale = 0.0;
  testing::CheckError([&] { MakePlan(f.InCold(), o); },
                      {"planner.default_error_model.residual_scale: expected a positive number"});
}

TEST_CASE("make plan: repeats of one scenario where information makes them worth it, floor bound") {
  Informed f;
  f.Add(0.3, Eigen::Vector2d(4.0, 0.0).asDiagonal());
  f.c.set.information_floor = Eigen::Vector2d(0.1, 0.0).asDiagonal();
  PlanOptions o = Options(30.0);
  o.weights = {0.0, 0.0, 1.0, 0.0};
  o.repeats_max = 3;
  const Plan plan = MakePlan(f.In(), o);
  REQUIRE(plan.items.size() == 1);
  CHECK(plan.items[0].repeats == 3);
  // n episodes bring (B + (n I)^-1)^-1 = n I / (1 + n B I): 12 / 2.2 for a
  CHECK(plan.expected.std_after.at("a") == doctest::Approx(1.0 / std::sqrt(1.0 + 12.0 / 2.2)));
  CHECK(plan.expected.std_after.at("b") == doctest::Approx(2.0));
  // without information the same study gets one episode; a set that lacks it while the study
  // asked for it is a reason for doubt, one the study turned off a stated fact
  f.c.set.has_information = false;
  const Plan none = MakePlan(f.In(), o);
  CHECK(HasWarning(none,
                   "not estimated yet: information gain (the simulate set holds no "
                   "sensitivities"));
  CHECK(none.expected.std_after.empty());
  PlanInputs off = f.In();
  off.information_off = true;
  const Plan chosen = MakePlan(off, o);
  CHECK_FALSE(HasWarning(chosen, "not estimated"));
  CHECK(HasNote(chosen,
                "not estimated yet: information gain (the study's simulate.information is false"));
}

TEST_CASE("make plan: the failure rule picks the highest failure bounds, one per neighbourhood") {
  // four candidates: A and B side by side (within the coverage radius of each other), C and D
  // far from both and from each other
  Candidates c(ScenarioSpace({Continuous("x", 0, 1), Continuous("y", 0, 1)}));
  c.Add({{"x", 0.10}, {"y", 0.1}}, 0.0);    // A: 8 of 8 failed, bound 1
  c.Add({{"x", 0.12}, {"y", 0.1}}, 0.125);  // B: 7 of 8
  c.Add({{"x", 0.90}, {"y", 0.9}}, 0.5);    // C: 4 of 8
  c.Add({{"x", 0.10}, {"y", 0.9}}, 1.0);    // D: none failed
  PlanOptions o = Options(30.0);            // three episodes
  o.rule = PlanRule::kFailure;
  const Plan plan = MakePlan(Inputs(c, {}), o);
  CHECK(plan.rule == "failure");
  // brute force: the bounds, then at each step u x 0.5^(earlier picks within the radius)
  const double radius = o.coverage.radius * std::sqrt(2.0);
  std::vector<double> u;
  for (const CandidateRecord& r : c.set.candidates) {
    const int failed = r.rollouts - static_cast<int>(std::lround(r.success * r.rollouts));
    u.push_back(failed == r.rollouts ? 1.0 : ViolationUpperBound(failed, r.rollouts, 0.95));
  }
  CHECK(u[3] == doctest::Approx(1.0 - std::pow(0.05, 1.0 / 8.0)));
  std::vector<int> picks;
  std::vector<double> gains;
  for (int step = 0; step < 3; ++step) {
    int best = -1;
    double best_gain = -1.0;
    for (int i = 0; i < 4; ++i) {
      if (std::find(picks.begin(), picks.end(), i) != picks.end()) continue;
      int m = 0;
      for (int p : picks) {
        const auto& a = c.set.candidates[i].scenario;
        const auto& b = c.set.candidates[p].scenario;
        const double d = std::hypot(a.at("x").get<double>() - b.at("x").get<double>(),
                                    a.at("y").get<double>() - b.at("y").get<double>());
        m += d < radius ? 1 : 0;
      }
      if (u[i] * std::pow(0.5, m) > best_gain) {
        best_gain = u[i] * std::pow(0.5, m);
        best = i;
      }
    }
    picks.push_back(best);
    gains.push_back(best_gain);
  }
  // diversity: C (bound 0.81) before B, whose bound 0.99 is halved by its neighbour A; then B
  // (0.50) before D (0.31)
  CHECK(picks == std::vector<int>{0, 2, 1});
  CHECK(u[2] == doctest::Approx(ViolationUpperBound(4, 8, 0.95)));
  REQUIRE(plan.items.size() == 3);
  for (int r = 0; r < 3; ++r) {
    CAPTURE(r);
    CHECK(plan.items[r].candidate == picks[r]);
    CHECK(plan.items[r].score == doctest::Approx(gains[r]));
    CHECK(plan.items[r].reason.rfind("rule failure: failure bound ", 0) == 0);
  }
  CHECK(plan.items[0].reason.find("failure bound 1.000 (8 of 8 samples failed; one-sided "
                                  "Clopper-Pearson at 0.95)") != std::string::npos);
  // with only the two neighbours left, both are picked: B at half its bound
  o.excluded = {2, 3};
  const Plan pair = MakePlan(Inputs(c, {}), o);
  REQUIRE(pair.items.size() == 2);
  CHECK(pair.items[1].candidate == 1);
  CHECK(pair.items[1].score == doctest::Approx(0.5 * u[1]));
  char reason[160];
  std::snprintf(reason, sizeof(reason),
                "x0.5 for each of 1 earlier episode(s) within the coverage radius: gain %.3f",
                0.5 * u[1]);
  CHECK(pair.items[1].reason.find(reason) != std::string::npos);
  // the weighted rule on the same set says so too
  o.rule = PlanRule::kWeighted;
  CHECK(MakePlan(Inputs(c, {}), o).items[0].reason.rfind("rule weighted: score ", 0) == 0);
}

TEST_CASE("make plan: the failure rule's discount is the study's, as a hand computation says") {
  // the same four candidates: A (bound 1) and B (0.9936) neighbours, C (0.8071) and D (0.3123)
  // alone. Each pick multiplies its neighbours' gains by d:
  //   d = 0.9: A 1; then B 0.9 x 0.9936 = 0.894 beats C 0.8071; then C       -> A, B, C
  //   d = 0.5: A 1; then C 0.8071 beats B 0.4968; then B 0.4968 beats D      -> A, C, B
  //   d = 0:   A 1; then C 0.8071; then D 0.3123 beats B 0                    -> A, C, D
  Candidates c(ScenarioSpace({Continuous("x", 0, 1), Continuous("y", 0, 1)}));
  c.Add({{"x", 0.10}, {"y", 0.1}}, 0.0);
  c.Add({{"x", 0.12}, {"y", 0.1}}, 0.125);
  c.Add({{"x", 0.90}, {"y", 0.9}}, 0.5);
  c.Add({{"x", 0.10}, {"y", 0.9}}, 1.0);
  const double uB = ViolationUpperBound(7, 8, 0.95), uC = ViolationUpperBound(4, 8, 0.95),
               uD = 1.0 - std::pow(0.05, 1.0 / 8.0);
  CHECK(uB == doctest::Approx(0.9936).epsilon(1e-3));
  CHECK(uC == doctest::Approx(0.8071).epsilon(1e-3));
  PlanOptions o = Options(30.0);  // three episodes
  o.rule = PlanRule::kFailure;
  struct Case {
    double d;
    std::vector<std::int64_t> picks;
    std::vector<double> scores;
  };
  for (const Case& k :
       {Case{0.9, {0, 1, 2}, {1.0, 0.9 * uB, uC}}, Case{0.5, {0, 2, 1}, {1.0, uC, 0.5 * uB}},
        Case{0.0, {0, 2, 3}, {1.0, uC, uD}}}) {
    CAPTURE(k.d);
    o.failure_discount = k.d;
    const Plan plan = MakePlan(Inputs(c, {}), o);
    REQUIRE(plan.items.size() == 3);
    for (int r = 0; r < 3; ++r) {
      CHECK(plan.items[r].candidate == k.picks[r]);
      CHECK(plan.items[r].score == doctest::Approx(k.scores[r]));
    }
    CHECK(HasNote(plan, "gains u x " + FormatNumber(k.d) + "^m"));
  }
  o.failure_discount = 0.9;
  CHECK(MakePlan(Inputs(c, {}), o).items[1].reason.find("x0.9 for each of 1 earlier episode(s)") !=
        std::string::npos);
  o.failure_discount = 1.5;
  CHECK_THROWS_AS(MakePlan(Inputs(c, {}), o), InputError);
}

TEST_CASE("make plan: the information rule is greedy log-det gain, as a brute force computes it") {
  Informed f;
  f.parameters.push_back(f.parameters[0]);
  f.parameters[2].name = "c";
  f.parameters[2].prior_std = 0.5;
  f.c.set.parameters = {"a", "b", "c"};
  f.c.set.information_floor = Eigen::MatrixXd::Zero(3, 3);
  RandomStream random(17, Stage::kTest, 0);
  std::vector<Eigen::MatrixXd> single;
  for (int i = 0; i < 7; ++i) {
    Eigen::MatrixXd j(2, 3);
    for (int r = 0; r < 2; ++r)
      for (int k = 0; k < 3; ++k) j(r, k) = random.Uniform(-1.5, 1.5);
    single.push_back(j.transpose() * j);  // rank 2: no candidate informs everything
    f.c.Add({{"x", (i + 0.5) / 7.0}}, 1.0);
    f.c.set.candidates.back().information = single.back();
  }
  PlanOptions o = Options(40.0);  // four episodes
  o.rule = PlanRule::kInformation;
  o.weights = {1.0, 1.0, 0.0, 1.0};  // the weights do not matter to this rule
  const Plan plan = MakePlan(f.In(), o);
  CHECK(plan.rule == "information");
  // brute force: log det by the determinant, the precision diag(1, 1/4, 4) plus the picks so far
  Eigen::MatrixXd p = Eigen::Vector3d(1.0, 0.25, 4.0).asDiagonal();
  std::vector<int> taken;
  REQUIRE(plan.items.size() == 4);
  for (int step = 0; step < 4; ++step) {
    int best = -1;
    double best_gain = -1.0;
    for (int i = 0; i < 7; ++i) {
      if (std::find(taken.begin(), taken.end(), i) != taken.end()) continue;
      const double g = std::log((p + single[i]).determinant() / p.determinant());
      if (g > best_gain) {
        best_gain = g;
        best = i;
      }
    }
    CAPTURE(step);
    CHECK(plan.items[step].candidate == best);
    CHECK(plan.items[step].score == doctest::Approx(best_gain).epsilon(1e-9));
    CHECK(plan.items[step].reason.rfind("rule information: log-det gain ", 0) == 0);
    taken.push_back(best);
    p += single[best];
  }
  // std_after is the brute-force precision's
  const Eigen::MatrixXd cov = p.inverse();
  CHECK(plan.expected.std_after.at("c") == doctest::Approx(std::sqrt(cov(2, 2))));
  // the same bytes on 2 threads
  PlanInputs two = f.In();
  two.threads = 2;
  CHECK(PlanToJson(MakePlan(two, o), f.c.space).dump() == PlanToJson(plan, f.c.space).dump());
  // without a calibration the gains rest on the priors: said as a warning
  CHECK_FALSE(HasWarning(plan, "rule information without a calibration"));
  CHECK(HasWarning(MakePlan(f.InCold(), o), "rule information without a calibration"));
  // no information in the set: refused, naming the field and why
  f.c.set.has_information = false;
  testing::CheckError([&] { MakePlan(f.In(), o); },
                      {"planner.rule: expected \"information\" with the candidates' information",
                       "the simulate set holds no sensitivities"});
}

TEST_CASE("make plan: the team's uncertainty, the nearest row's variance, as a fourth component") {
  Candidates c(ScenarioSpace({Continuous("x", 0, 1)}));
  c.Add({{"x", 0.1}}, 1.0);
  c.Add({{"x", 0.45}}, 1.0);
  c.Add({{"x", 0.9}}, 1.0);
  TeamUncertainty team;
  team.points = {Scenario{{0.0}}, Scenario{{0.5}}, Scenario{{1.0}}};
  team.variance = {0.2, 4.0, 1.0};
  PlanInputs in = Inputs(c, {});
  in.team = &team;
  PlanOptions o = Options(20.0);
  o.weights = {0.0, 0.0, 0.0, 1.0};
  o.weights.team = 1.0;
  o.team_uncertainty = "team.csv";
  const Plan plan = MakePlan(in, o);
  // nearest rows: 0.1 -> 0.0 (0.2), 0.45 -> 0.5 (4), 0.9 -> 1.0 (1); normalised by 4
  REQUIRE(plan.items.size() == 2);
  CHECK(plan.items[0].candidate == 1);
  CHECK(plan.items[0].components.team == 1.0);
  CHECK(plan.items[1].candidate == 2);
  CHECK(plan.items[1].components.team == 0.25);
  CHECK(plan.items[1].score == 0.25);
  CHECK(plan.items[1].reason.find("the team's variance 1 at the nearest row") != std::string::npos);
  CHECK(plan.weights.team == 1.0);
  CHECK(std::find(plan.not_estimated.begin(), plan.not_estimated.end(), "uncertainty.team") ==
        plan.not_estimated.end());
  CHECK(HasNote(plan, "uncertainty.team: the team's own variance from 3 rows"));
  // written and read back
  const std::string json = PlanToJson(plan, c.space).dump();
  CHECK(json.find("\"team\":0.25") != std::string::npos);
  CHECK(
      PlanToJson(PlanFromJson(nlohmann::json::parse(json), c.space, "plan.json"), c.space).dump() ==
      json);
  // without a table the component is not written and stays not estimated
  in.team = nullptr;
  o.weights.coverage = 1.0;
  const Plan none = MakePlan(in, o);
  CHECK(PlanToJson(none, c.space).dump().find("\"team\"") == std::string::npos);
  CHECK(std::find(none.not_estimated.begin(), none.not_estimated.end(), "uncertainty.team") !=
        none.not_estimated.end());
}

TEST_CASE("make plan: the team's uncertainty from a callback equals the same table") {
  Candidates c(ScenarioSpace({Continuous("x", 0, 1)}));
  for (double x : {0.1, 0.3, 0.45, 0.7, 0.9}) c.Add({{"x", x}}, 1.0);
  // a table with a row at every candidate, and a callback returning the same variances
  auto variance = [](double x) { return 1.0 + 10.0 * x * (1.0 - x); };
  TeamUncertainty team;
  for (double x : {0.1, 0.3, 0.45, 0.7, 0.9}) {
    team.points.push_back(Scenario{{x}});
    team.variance.push_back(variance(x));
  }
  PlanOptions o = Options(30.0);
  o.weights = {1.0, 0.0, 0.0, 1.0};
  o.weights.team = 2.0;
  PlanInputs table = Inputs(c, {});
  table.team = &team;
  PlanInputs code = Inputs(c, {});
  int calls = 0;
  code.team_variance = [&](const Scenario& s) {
    ++calls;
    return variance(s.values[0]);
  };
  const Plan a = MakePlan(table, o);
  const Plan b = MakePlan(code, o);
  CHECK(calls == 5);
  REQUIRE(a.items.size() == 3);
  REQUIRE(b.items.size() == a.items.size());
  for (std::size_t k = 0; k < a.items.size(); ++k) {
    CAPTURE(k);
    CHECK(b.items[k].candidate == a.items[k].candidate);
    CHECK(b.items[k].score == a.items[k].score);
    CHECK(b.items[k].components.team == a.items[k].components.team);
    CHECK(b.items[k].components.coverage == a.items[k].components.coverage);
  }
  CHECK(b.weights.team == 2.0);
  CHECK(HasNote(b, "uncertainty.team: the team's own variance from a callback"));
  CHECK(b.items[0].reason.find("from its callback") != std::string::npos);
  // the most uncertain (0.45: variance 3.475) first
  CHECK(a.items[0].candidate == 2);
  // a bad variance names the candidate; both sources at once are refused
  code.team_variance = [](const Scenario& s) { return s.values[0] > 0.5 ? -1.0 : 1.0; };
  testing::CheckError([&] { MakePlan(code, o); },
                      {"team_variance(candidate 3)", "a finite variance >= 0", "got -1"});
  code.team = &team;
  testing::CheckError([&] { MakePlan(code, o); }, {"plan inputs: team", "both"});
}

TEST_CASE("make plan: the same plan for any thread count, and a JSON round trip") {
  Candidates c(ScenarioSpace(
      {Continuous("x", 0, 1), Continuous("y", 1, 100), Categorical("obj", {"a", "b", "c"}, 30)}));
  const char* levels[] = {"a", "b", "c"};
  for (int i = 0; i < 60; ++i) {
    const double u = (i * 37 % 60) / 60.0;
    c.Add({{"x", u}, {"y", 1 + 99 * ((i * 13 % 60) / 60.0)}, {"obj", levels[i % 3]}}, (i % 9) / 8.0,
          1.0);
  }
  std::vector<EpisodeScenario> episodes;
  for (int e = 0; e < 12; ++e) {
    episodes.push_back(
        {"e" + std::to_string(e), {{"x", e / 12.0}, {"y", 50.0}, {"obj", levels[(e / 4) % 3]}}});
    // known, unknown and labelled outcomes all round-trip
    episodes.back().outcome = {e % 3 - 1, e % 3 == 0 ? "" : (e % 2 ? "log" : "label"),
                               e % 3 == 0 ? "the log covers 1 s of the task's 2 s horizon" : ""};
  }
  PlanOptions o = Options(400.0, 15.0);
  o.coverage.k = 3;
  o.robots = {{"left", {{0, 120}, {200, 400}}}, {"right", {{0, 300}}}};
  PlanInputs in = Inputs(c, episodes);
  // the failure rule's neighbourhoods are searched on the threads too
  for (PlanRule rule : {PlanRule::kFailure}) {
    PlanOptions r = o;
    r.rule = rule;
    in.threads = 1;
    const std::string first = PlanToJson(MakePlan(in, r), c.space).dump();
    in.threads = 2;
    CHECK(PlanToJson(MakePlan(in, r), c.space).dump() == first);
    CHECK(first.find("\"rule\":\"failure\"") != std::string::npos);
    in.threads = 1;
  }
  const std::string one = PlanToJson(MakePlan(in, o), c.space).dump();
  in.threads = 2;
  const Plan two = MakePlan(in, o);
  CHECK(PlanToJson(two, c.space).dump() == one);
  in.threads = 0;
  CHECK(PlanToJson(MakePlan(in, o), c.space).dump() == one);
  CHECK(two.items.size() > 3);
  CHECK(two.budget.used_seconds <= 400.0);
  // the written plan reads back as it was
  const Plan back = PlanFromJson(nlohmann::json::parse(one), c.space, "plan.json");
  CHECK(PlanToJson(back, c.space).dump() == one);
  CHECK(back.episodes.counted == 12);
  // 8 known outcomes: the outcome model is estimated (default hyperparameters)
  CHECK(back.real_model.outcome.estimated);
  CHECK_FALSE(back.real_model.outcome.fitted);
  CHECK(back.real_model.outcome.points == 8);
  CHECK(std::count(back.not_estimated.begin(), back.not_estimated.end(),
                   "uncertainty.outcome_model") == 0);
  CHECK(back.episodes.outcomes.size() == 12);
  CHECK(PlanSummaryText(back, c.space).find("coverage: ") != std::string::npos);
}

}  // namespace
}  // namespace nextbatch
