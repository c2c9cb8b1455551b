#include "planners/plan_options.h"

#include <doctest/doctest.h>

#include "engine/error.h"
#include "tests/fixtures/errors.h"

namespace nextbatch {
namespace {

PlanOptions Read(const std::string& text, double horizon = 8.0) {
  const nlohmann::json j = nlohmann::json::parse(text);
  return ReadPlanOptions(JsonReader(j, "study.json", "planner"), horizon);
}

void CheckBad(const std::string& text, const std::vector<std::string>& parts) {
  CAPTURE(text);
  testing::CheckError([&] { Read(text); }, parts);
}

TEST_CASE("planner section: defaults stated in the struct, the episode from the task's horizon") {
  const PlanOptions o = Read("{}", 8.0);
  CHECK(o.budget_seconds == 3600.0);
  CHECK(o.reset_seconds == 30.0);
  CHECK(o.episode_seconds == 38.0);  // horizon + reset
  CHECK(o.weights.coverage == 1.0);
  CHECK(o.weights.uncertainty == 1.0);
  CHECK(o.weights.information == 1.0);
  CHECK(o.weights.cost == 1.0);
  CHECK(o.weights.discrepancy == 1.0);
  CHECK(o.weights.real_outcome == 1.0);
  CHECK(o.coverage.k == 5);
  CHECK(o.coverage.radius == 0.15);
  CHECK(o.repeats_max == 1);
  CHECK(o.robots.empty());
  CHECK(PlanRobots(o).size() == 1);
  CHECK(PlanRobots(o)[0].windows == std::vector<std::pair<double, double>>{{0.0, 3600.0}});
  CHECK(o.safety.threshold == 0.05);
  CHECK(o.safety.confidence == 0.95);
  CHECK(o.safety.max_samples == 64);
  CHECK(o.failure_discount == 0.5);
  CHECK(Read(R"({"failure_discount": 0.25})").failure_discount == 0.25);
  // the calibration bench's s^2 and serial factor (docs/calibration.md), rounded
  CHECK(o.default_error_model.residual_scale == 4.0);
  CHECK(o.default_error_model.serial_correlation == 4.0);
  CHECK(Read(R"({"reset_seconds": 12})", 8.0).episode_seconds == 20.0);
  CHECK(o.rule == PlanRule::kWeighted);
  CHECK(Read(R"({"rule": "failure"})").rule == PlanRule::kFailure);
  CHECK(Read(R"({"rule": "information"})").rule == PlanRule::kInformation);
  CHECK(std::string(RuleName(PlanRule::kInformation)) == "information");
  CHECK(o.team_uncertainty.empty());
  CHECK(o.weights.team == 1.0);
  const PlanOptions team = Read(R"({"team_uncertainty": "team.csv", "weights": {"team": 2,
                                    "coverage": 0, "uncertainty": 0, "information": 0}})");
  CHECK(team.team_uncertainty == "team.csv");
  CHECK(team.weights.team == 2.0);
}

TEST_CASE("planner section: every field read one to one") {
  const PlanOptions o = Read(R"({"budget_seconds": 900, "episode_seconds": 45,
    "reset_seconds": 5, "weights": {"coverage": 2, "uncertainty": 0.5, "information": 0,
    "cost": 0.25, "discrepancy": 0.75, "real_outcome": 0}, "coverage": {"k": 3, "radius": 0.2, "sample_size": 512,
    "categorical_distance": 0.5}, "repeats_max": 4,
    "robots": {"b": [[100, 200], [0, 50]], "a": [[0, 900]]},
    "pinned": [2, 7], "excluded": [1], "safety": {"threshold": 0.1, "confidence": 0.9},
    "default_error_model": {"residual_scale": 9, "serial_correlation": 2.5}})");
  CHECK(o.budget_seconds == 900.0);
  CHECK(o.episode_seconds == 45.0);
  CHECK(o.reset_seconds == 5.0);
  CHECK(o.weights.coverage == 2.0);
  CHECK(o.weights.uncertainty == 0.5);
  CHECK(o.weights.information == 0.0);
  CHECK(o.weights.cost == 0.25);
  CHECK(o.weights.discrepancy == 0.75);
  CHECK(o.weights.real_outcome == 0.0);
  CHECK(o.coverage.k == 3);
  CHECK(o.coverage.radius == 0.2);
  CHECK(o.coverage.sample_size == 512);
  CHECK(o.coverage.categorical_distance == 0.5);
  CHECK(o.repeats_max == 4);
  REQUIRE(o.robots.size() == 2);
  CHECK(o.robots[0].name == "a");
  CHECK(o.robots[1].windows == std::vector<std::pair<double, double>>{{0, 50}, {100, 200}});
  CHECK(o.pinned == std::vector<std::int64_t>{2, 7});
  CHECK(o.excluded == std::vector<std::int64_t>{1});
  CHECK(o.safety.threshold == 0.1);
  CHECK(o.safety.confidence == 0.9);
  CHECK(o.default_error_model.residual_scale == 9.0);
  CHECK(o.default_error_model.serial_correlation == 2.5);
  CHECK(o.default_error_model.Deflation() == 22.5);
}

TEST_CASE("planner section: bad input names the file and the field") {
  CheckBad(R"({"budjet_seconds": 10})", {"study.json: planner", "budjet_seconds"});
  CheckBad(R"({"rule": "ucb"})",
           {"study.json: planner.rule: expected one of weighted, failure, information, got "
            "\"ucb\""});
  CheckBad(R"({"rule": 3})", {"study.json: planner.rule"});
  CheckBad(R"({"failure_discount": 1.5})",
           {"study.json: planner.failure_discount: expected a factor in [0, 1], got 1.5"});
  CheckBad(R"({"failure_discount": -0.1})", {"planner.failure_discount"});
  CheckBad(
      R"({"safety": {"max_samples": -1}})",
      {"study.json: planner.safety.max_samples: expected an integer in 0 .. 16777216, got -1"});
  CheckBad(R"({"team_uncertainty": ""})",
           {"study.json: planner.team_uncertainty: expected a CSV file"});
  CheckBad(R"({"weights": {"team": -1}})", {"planner.weights.team: expected a weight >= 0"});
  // the team's weight alone counts only with a table
  CheckBad(R"({"weights": {"coverage": 0, "uncertainty": 0, "information": 0, "team": 1}})",
           {"planner.weights: expected a positive weight", "got all zero"});
  CheckBad(R"({"weights": {"coverage": 1, "novelty": 1}})", {"study.json", "novelty"});
  CheckBad(R"({"weights": {"coverage": -1}})",
           {"study.json: planner.weights.coverage: expected a weight >= 0, got -1"});
  CheckBad(R"({"weights": {"coverage": 0, "uncertainty": 0, "information": 0}})",
           {"study.json: planner.weights: expected a positive weight", "got all zero"});
  CheckBad(R"({"weights": {"cost": -0.5}})", {"planner.weights.cost", "got -0.5"});
  CheckBad(R"({"weights": {"discrepancy": -0.5}})",
           {"planner.weights.discrepancy: expected a weight >= 0, got -0.5"});
  CheckBad(R"({"weights": {"real_outcome": -2}})",
           {"planner.weights.real_outcome: expected a weight >= 0, got -2"});
  // the real-outcome weights alone cannot carry a plan
  CheckBad(R"({"weights": {"coverage": 0, "uncertainty": 0, "information": 0, "discrepancy": 1}})",
           {"planner.weights: expected a positive weight", "got all zero"});
  CheckBad(R"({"budget_seconds": 20})",
           {"study.json: planner.budget_seconds: expected at least one episode (38 s), got 20"});
  CheckBad(R"({"budget_seconds": 0})", {"planner.budget_seconds", "positive"});
  CheckBad(R"({"episode_seconds": 0})", {"planner.episode_seconds", "got 0"});
  CheckBad(R"({"robots": {"arm": [[0, 100], [50, 200]]}})",
           {"study.json: planner.robots.arm", "do not overlap", "[0, 100] and [50, 200]"});
  CheckBad(R"({"robots": {"arm": [[100, 50]]}})",
           {"study.json: planner.robots.arm", "start_s < end_s", "[100, 50]"});
  CheckBad(R"({"robots": {"arm": []}})", {"planner.robots.arm", "at least one window"});
  CheckBad(R"({"repeats_max": 0})", {"planner.repeats_max", "got 0"});
  CheckBad(R"({"pinned": [1, 1]})", {"planner.pinned", "each candidate once"});
  CheckBad(R"({"pinned": [-2]})", {"planner.pinned", "-2"});
  CheckBad(R"({"pinned": [3], "excluded": [3]})", {"planner.excluded", "also pinned"});
  CheckBad(R"({"pinned": ["a"]})", {"planner.pinned[0]", "a candidate index"});
  CheckBad(R"({"coverage": {"k": 0}})", {"planner.coverage.k"});
  CheckBad(R"({"coverage": {"radius": 0.1, "bins": 3}})", {"planner.coverage", "bins"});
  CheckBad(R"({"safety": {"confidence": 1.5}})", {"planner.safety.confidence"});
  CheckBad(R"({"default_error_model": {"residual_scale": -1}})",
           {"study.json: planner.default_error_model.residual_scale: expected a positive number, "
            "got -1"});
  CheckBad(R"({"default_error_model": {"serial_correlation": 0}})",
           {"planner.default_error_model.serial_correlation", "got 0"});
  CheckBad(R"({"default_error_model": {"scale": 2}})", {"planner.default_error_model", "scale"});
}

TEST_CASE("PlanOptions::Validate checks options built in code too") {
  PlanOptions o;
  o.episode_seconds = 10.0;
  CHECK(o.Validate().empty());
  o.robots = {{"arm", {{0, 10}, {5, 20}}}};
  CHECK(o.Validate().find("planner.robots.arm: expected windows that do not overlap") == 0);
  o.robots.clear();
  o.episode_seconds = 0.0;  // never resolved from a horizon
  CHECK(o.Validate().find("planner.episode_seconds") == 0);
}

}  // namespace
}  // namespace nextbatch
