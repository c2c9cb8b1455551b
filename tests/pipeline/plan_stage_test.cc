// The plan verb as a user runs it: every stage that applies, reusing current sets, then the plan
// set; the same plan for any thread count; bad planner sections refused before anything is
// written; a cold start said loudly.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <filesystem>

#include "engine/atomic_file.h"
#include "engine/dataset.h"
#include "engine/episode_io.h"
#include "engine/json_reader.h"
#include "engine/manifest.h"
#include "engine/model.h"
#include "pipeline/pipeline.h"
#include "planners/plan_json.h"
#include "scenarios/simulate_study.h"
#include "scenarios/space_json.h"
#include "tests/fixtures/temp_files.h"
#include "tests/pipeline/pendulum_logs.h"

namespace nextbatch {
namespace {

namespace fs = std::filesystem;

// The DFKI pendulum with every stage: two synthetic logs (one of them recorded under a scenario
// that names both factors, the other only one), damping and friction, 8 swing-up candidates of
// 1 s, and a planner section for a 3-episode budget.
struct PlanStudy {
  testing::TempDir dir{"plan_stage"};
  nlohmann::json doc;

  PlanStudy() {
    doc = testing::PendulumStudyDoc("plan", 4);
    testing::MakeTorqueLimitASetup(doc);
    doc["dataset"]["episodes"][0]["scenario"] = {{"initial_angle", -0.2}, {"torque_limit", 2.0}};
    doc["dataset"]["episodes"][1]["scenario"] = {{"initial_angle", 0.3}};
    doc["planner"] = nlohmann::json::parse(
        R"({"budget_seconds": 300, "reset_seconds": 19, "robots": {"bench": [[0, 200], [400, 800]]}})");
    testing::WritePendulumLogs(dir);
    Save();
  }
  std::string Save() const { return dir.Write("study.json", doc.dump(1)); }
  std::string study() const { return dir.File("study.json"); }
  std::string out() const { return dir.File("out"); }
};

struct Run {
  int code = 0;
  std::string log;
};

Run Nextbatch(const PlanStudy& s, const std::string& args) {
  const std::string log = s.dir.File("log");
  const int status =
      std::system((std::string(NEXTBATCH_BINARY) + " " + args + " >" + log + " 2>&1").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(log)};
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("plan: ingest -> calibrate -> simulate -> plan, reused when current, redone --from") {
  PlanStudy s;
  const std::string args = "plan " + s.study() + " -o " + s.out();
  Run r = Nextbatch(s, args);
  REQUIRE_MESSAGE(r.code == 0, r.log);
  for (const char* stage : {"ingest", "calibrate", "simulate", "plan"}) {
    const std::string set = s.out() + "/" + stage;
    INFO(set);
    REQUIRE(fs::exists(set + "/manifest.json"));
    CHECK(DigestFiles(set) == ReadManifest(set + "/manifest.json").files);
  }
  const Manifest plan_manifest = ReadManifest(s.out() + "/plan/manifest.json");
  CHECK(plan_manifest.inputs.at("upstream:simulate") ==
        ReadManifest(s.out() + "/simulate/manifest.json").SetDigest());
  CHECK(plan_manifest.inputs.at("upstream:ingest") ==
        ReadManifest(s.out() + "/ingest/manifest.json").SetDigest());
  CHECK(plan_manifest.inputs.at("upstream:calibrate") ==
        ReadManifest(s.out() + "/calibrate/manifest.json").SetDigest());
  CHECK(plan_manifest.inputs.count("study:planner") == 1);
  CHECK(plan_manifest.files.count("plan.json") == 1);
  CHECK(plan_manifest.files.count("plan.csv") == 1);
  // every warning of the plan is in its manifest and on stderr
  for (const auto& w : plan_manifest.warnings) CHECK(Has(r.log, "nextbatch plan: warning: " + w));
  // what is not estimated yet is a stated fact: a note in plan.json, not a warning
  CHECK_FALSE(Has(r.log, "not estimated yet"));
  // ep0 counts and has a known outcome: the outcome model is estimated
  CHECK_FALSE(Has(r.log, "an outcome model from real episodes"));
  CHECK_FALSE(Has(r.log, "not estimated yet: information gain"));

  const ScenarioSpace space = ReadScenarios(Study::Load(s.study())).space;
  const Plan plan = ReadPlan(s.out() + "/plan", space);
  CHECK(plan.study == "plan");
  CHECK(plan.candidates == 8);
  CHECK(plan.rule == "weighted");
  // the outcome model is estimated (ep0's outcome), the team's uncertainty is not (no table)
  CHECK(std::count_if(plan.notes.begin(), plan.notes.end(), [](const std::string& n) {
          return Has(n, "not estimated yet: ") && Has(n, "the team's uncertainty") &&
                 !Has(n, "an outcome model");
        }) == 1);
  CHECK(plan.episodes.total == 2);
  CHECK(plan.episodes.counted == 1);  // ep1's scenario has no torque_limit
  REQUIRE(plan.episodes.not_counted.size() == 1);
  CHECK(plan.episodes.not_counted[0].id == "ep1");
  // each episode's real outcome is the task's success rule (|q| > 1.5 rad within the 1 s horizon)
  // judged on its log; the same rule computed here from the ingested positions
  REQUIRE(plan.episodes.outcomes.size() == 2);
  const Dataset ingested = ReadDatasetFiles(s.out() + "/ingest");
  for (const auto& o : plan.episodes.outcomes) {
    CAPTURE(o.id);
    REQUIRE(ingested.Find(o.id) >= 0);
    const Episode& e = ingested.episodes[ingested.Find(o.id)];
    bool reached = false;
    for (int i = 0; i < e.samples() && e.time[i] <= e.time[0] + 1.0; ++i)
      reached = reached || std::abs(e.qpos.values(i, 0)) > 1.5;
    CHECK(o.source == "log");
    CHECK(o.success == (reached ? 1 : 0));
    CHECK(o.counted == (o.id == "ep0"));
    // the simulator's word only where a candidate lies within the coverage radius
    if (o.candidate >= 0) CHECK(o.rollouts == 3);
  }
  CHECK(Has(r.log, "real outcomes, counted episodes: 1 of 1 known"));
  // one real outcome: both real-outcome models on one point, with the default hyperparameters;
  // the discrepancy only where the simulator has a candidate near ep0
  const auto& ep0 =
      plan.episodes.outcomes[0].counted ? plan.episodes.outcomes[0] : plan.episodes.outcomes[1];
  CHECK(plan.real_model.outcome.estimated);
  CHECK(plan.real_model.outcome.points == 1);
  CHECK_FALSE(plan.real_model.outcome.fitted);
  CHECK(plan.real_model.outcome.observed_mean == ep0.success);
  CHECK(plan.real_model.discrepancy.estimated == (ep0.candidate >= 0));
  CHECK(Has(r.log, "real-outcome models: "));
  // an episode is 1 s + 19 s reset = 20 s; every candidate has its own torque limit (a setup
  // factor of 60 s): 80 s a candidate, 3 of them within 300 s
  REQUIRE(plan.items.size() == 3);
  CHECK(plan.budget.used_seconds == 240.0);
  // the 60 s left buy no candidate: said in the notes, not a warning
  CHECK_FALSE(Has(r.log, "budget left unused"));
  CHECK(std::find(plan.notes.begin(), plan.notes.end(),
                  "budget: 60 s left, less than the cheapest remaining candidate's 80 s") !=
        plan.notes.end());
  CHECK(plan.budget.setup_seconds == 180.0);
  for (const PlanItem& it : plan.items) {
    CHECK(it.est_seconds == 20.0);
    CHECK(it.components.cost == 80.0);
    CHECK(Has(it.reason, "nearest recorded episode"));
    CHECK(it.session >= 0);
  }
  // stds reported from the calibration the candidates were simulated under, and after the batch
  CHECK(plan.expected.std_before.count("damping") == 1);
  for (const auto& entry : plan.expected.std_before) {
    // named: a lambda (doctest's INFO) cannot capture a structured binding before C++20
    const auto& name = entry.first;
    const auto& before = entry.second;
    INFO(name);
    REQUIRE(plan.expected.std_after.count(name) == 1);
    CHECK(plan.expected.std_after.at(name) <= before);
  }
  for (const PlanItem& it : plan.items)
    CHECK((it.informs == "damping" || it.informs == "friction"));
  // every candidate carries its information, the set says how it was computed
  const CandidateSet candidates = ReadCandidateSet(s.out() + "/simulate");
  CHECK(candidates.has_information);
  for (const CandidateRecord& c : candidates.candidates) CHECK(c.information.rows() == 2);
  const nlohmann::json& method = candidates.document.at("information");
  CHECK(method.at("noise_source") == "the calibration");
  CHECK(method.at("candidates") == 8);
  CHECK(plan.expected.coverage_after > plan.expected.coverage_before);
  // the bench's first window holds two 80 s sessions, the third goes to the second window
  REQUIRE(plan.sessions.size() == 3);
  for (const PlanSession& session : plan.sessions) CHECK(session.robot == "bench");
  // the summary reaches stdout
  CHECK(Has(r.log,
            "plan: 3 items (3 episodes) from 8 candidates, 3 sessions on 1 robot(s); 240 "
            "of 300 s used"));
  CHECK(Has(r.log, "coverage: "));
  // plan.csv: a header and one row per item
  const std::string csv = ReadFile(s.out() + "/plan/plan.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 4);

  // a rerun reuses every set; the plan's summary is printed again
  const std::string before = ReadFile(s.out() + "/plan/manifest.json");
  r = Nextbatch(s, args);
  REQUIRE_MESSAGE(r.code == 0, r.log);
  for (const char* stage : {"ingest", "calibrate", "simulate", "plan"})
    CHECK(Has(r.log, std::string(stage) + ": reused " + s.out() + "/" + stage));
  CHECK(Has(r.log, "plan: 3 items"));
  CHECK(ReadFile(s.out() + "/plan/manifest.json") == before);

  // --from simulate redoes simulate and plan only
  PipelineOptions options;
  options.out = s.out();
  options.quiet = true;
  std::string ran;
  for (const StageReport& report :
       RunPipeline(Study::Load(s.study()), options, StageId::kPlan, StageId::kSimulate)) {
    CHECK(report.exit_code == 0);
    ran += std::string(report.reused ? "=" : "+") + report.stage + " ";
  }
  CHECK(ran == "=ingest =calibrate +simulate +plan ");
  r = Nextbatch(s, args + " --from simulate");
  CHECK(r.code == 0);
  CHECK(Has(r.log, "calibrate: reused"));
  CHECK_FALSE(Has(r.log, "simulate: reused"));
  CHECK_FALSE(Has(r.log, "plan: reused"));
  CHECK(Has(r.log, "simulate: 8 candidates"));

  // a changed planner section makes only the plan stale
  s.doc["planner"]["budget_seconds"] = 400;
  s.Save();
  r = Nextbatch(s, args);
  CHECK(r.code == 0);
  CHECK(Has(r.log, "simulate: reused"));
  CHECK_FALSE(Has(r.log, "plan: reused"));
  CHECK(ReadPlan(s.out() + "/plan", space).budget.seconds == 400.0);
  r = Nextbatch(s, args + " --from cook");
  CHECK(r.code == 2);
  CHECK(Has(r.log, "--from: expected a stage (ingest, calibrate, simulate, plan), got \"cook\""));
}

TEST_CASE("plan: byte-identical plan files for -j 1 and -j 2 and on reruns") {
  PlanStudy s;
  s.doc["simulate"]["candidates"] = 24;
  s.doc["planner"]["budget_seconds"] = 600;
  s.doc["planner"].erase("robots");
  // a safety rule: candidates whose bounds straddle the threshold draw sequential safety samples
  s.doc["task"]["outcome"]["safety"] = {
      {"quantity", {{"joint", "shoulder"}, {"field", "vel"}, {"abs", true}}},
      {"op", "<"},
      {"value", 5},
      {"when", "always"}};
  s.doc["planner"]["safety"] = {{"max_samples", 12}};
  s.Save();
  const std::string args = "plan " + s.study() + " -o " + s.out() + " -q";
  Run r = Nextbatch(s, args + " -j 1");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  const std::string json = ReadFile(s.out() + "/plan/plan.json");
  const std::string csv = ReadFile(s.out() + "/plan/plan.csv");
  r = Nextbatch(s, args + " -j 2 --from plan");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK(ReadFile(s.out() + "/plan/plan.json") == json);
  CHECK(ReadFile(s.out() + "/plan/plan.csv") == csv);
  // the whole loop again in another folder, on 2 threads
  r = Nextbatch(s, "plan " + s.study() + " -o " + s.dir.File("out2") + " -q -j 2");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK(ReadFile(s.dir.File("out2") + "/plan/plan.json") == json);
  CHECK(Has(json, "\"items\""));
  // the candidates' information too, and it reaches the plan
  const std::string lines = ReadFile(s.out() + "/simulate/candidates.jsonl");
  CHECK(ReadFile(s.dir.File("out2") + "/simulate/candidates.jsonl") == lines);
  CHECK(Has(lines, "\"information\":[["));
  CHECK(Has(lines, "\"safety_rollouts\":"));
  CHECK(Has(ReadFile(s.out() + "/simulate/candidates.json"), "\"safety_sampling\""));
  CHECK_FALSE(nlohmann::json::parse(json).at("expected").at("std_after").empty());
}

TEST_CASE(
    "plan: an episode's scenario value outside its factor exits 2 naming episode and factor") {
  PlanStudy s;
  s.doc["scenarios"]["factors"].push_back(
      {{"name", "payload"}, {"levels", {"standard", "1kg"}}, {"tag", "setup"}});
  s.doc["dataset"]["episodes"][0]["scenario"]["payload"] = "2kg";
  s.Save();
  Run r = Nextbatch(s, "ingest " + s.study() + " -o " + s.out());
  CHECK(r.code == 2);
  CHECK(Has(r.log, "episode ep0 (" + s.dir.File("ep0.json") +
                       "): scenario.payload: expected one of standard, 1kg, got the string "
                       "\"2kg\""));
  CHECK_FALSE(fs::exists(s.out() + "/ingest"));
  s.doc["dataset"]["episodes"][0]["scenario"]["payload"] = "1kg";
  s.doc["dataset"]["episodes"][0]["scenario"]["torque_limit"] = 5.0;
  s.Save();
  r = Nextbatch(s, "ingest " + s.study() + " -o " + s.out());
  CHECK(r.code == 2);
  CHECK(Has(r.log, "): scenario.torque_limit: expected a value in [0.5, 3], got 5"));
  // a value valid at ingest and outside the space the plan stage reads (a narrowed range): the
  // plan stage refuses it too, before writing anything
  s.doc["dataset"]["episodes"][0]["scenario"]["torque_limit"] = 2.0;
  s.Save();
  r = Nextbatch(s, "ingest " + s.study() + " -o " + s.out() + " -q");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  s.doc["scenarios"]["factors"][1]["range"] = {0.5, 1.5};
  s.doc.erase("calibration");
  s.doc.erase("parameters");
  s.Save();
  r = Nextbatch(s, "plan " + s.study() + " -o " + s.out() + " -q");
  CHECK(r.code == 2);
  CHECK(Has(r.log, "): scenario.torque_limit: expected a value in [0.5, 1.5], got 2"));
  CHECK_FALSE(fs::exists(s.out() + "/plan"));
}

TEST_CASE("plan: a bad planner section exits 2 naming the field, and nothing is written") {
  PlanStudy s;
  const nlohmann::json good = s.doc["planner"];
  const std::vector<std::pair<nlohmann::json, std::string>> cases = {
      {{{"weights", {{"coverage", -1}}}}, "planner.weights.coverage: expected a weight >= 0"},
      {{{"weights", {{"coverage", 0}, {"uncertainty", 0}, {"information", 0}}}},
       "planner.weights: expected a positive weight on coverage, uncertainty or information, got "
       "all zero"},
      {{{"budget_seconds", 10}}, "planner.budget_seconds: expected at least one episode (20 s)"},
      {{{"robots", {{"bench", {{0, 100}, {50, 150}}}}}},
       "planner.robots.bench: expected windows that do not overlap"},
      {{{"robots", {{"bench", {{100, 0}}}}}}, "planner.robots.bench: expected windows"},
      {{{"budget", 10}}, "planner.budget"},
  };
  for (const auto& entry : cases) {
    // named: a lambda (doctest's INFO) cannot capture a structured binding before C++20
    const auto& section = entry.first;
    const auto& message = entry.second;
    CAPTURE(message);
    nlohmann::json planner = good;
    planner.update(section);
    s.doc["planner"] = planner;
    s.Save();
    const Run r = Nextbatch(s, "plan " + s.study() + " -o " + s.out());
    CHECK(r.code == 2);
    CHECK(Has(r.log, s.study() + ": " + message));
    CHECK_FALSE(fs::exists(s.out()));
  }
}

TEST_CASE("plan --strict: passes on a clean study, fails on a real warning publishing nothing") {
  PlanStudy s;
  // both episodes name every factor; information is off by the study's choice (a note)
  s.doc["dataset"]["episodes"][1]["scenario"]["torque_limit"] = 1.0;
  s.doc["simulate"]["information"] = false;
  s.Save();
  const std::string args = "plan " + s.study() + " -o " + s.out() + " --strict";
  Run r = Nextbatch(s, args);
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK_FALSE(Has(r.log, "warning"));
  const Plan plan = ReadPlan(s.out() + "/plan", ReadScenarios(Study::Load(s.study())).space);
  CHECK(plan.warnings.empty());
  CHECK(plan.episodes.counted == 2);
  CHECK(plan.not_estimated.front() == "information");
  // an episode that does not count is a reason to doubt: exit 1, the plan set as it was
  const std::string before = ReadFile(s.out() + "/plan/plan.json");
  s.doc["dataset"]["episodes"][1]["scenario"].erase("torque_limit");
  s.Save();
  r = Nextbatch(s, args);
  CHECK(r.code == 1);
  CHECK(Has(r.log, "nextbatch plan: warning: 1 of 2 episodes do not count for coverage"));
  CHECK(Has(r.log, "--strict: the stage finished with"));
  CHECK(ReadFile(s.out() + "/plan/plan.json") == before);
}

TEST_CASE("plan --previous: a collected batch against what the earlier plan expected") {
  PlanStudy s;
  Run r = Nextbatch(s, "plan " + s.study() + " -o " + s.out() + " -q");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  const ScenarioSpace space = ReadScenarios(Study::Load(s.study())).space;
  const Plan first = ReadPlan(s.out() + "/plan", space);
  REQUIRE(first.items.size() == 3);
  for (const PlanItem& it : first.items) CHECK(it.simulated_success >= 0.0);

  // the team records item 1 with its item_id in the log, and a scenario close to item 2
  // without one; item 3 is not collected
  Episode log = ReadEpisodeFile(s.dir.File("ep0.json"));
  log.id = "ep2";
  log.extra["item_id"] = first.items[0].item_id;
  WriteEpisodeJson(log, s.dir.File("ep2.json"));
  log.id = "ep3";
  log.extra = nlohmann::json::object();
  WriteEpisodeJson(log, s.dir.File("ep3.json"));
  nlohmann::json near = space.ToJson(first.items[1].scenario);
  near["initial_angle"] = near["initial_angle"].get<double>() > 0
                              ? near["initial_angle"].get<double>() - 0.01
                              : near["initial_angle"].get<double>() + 0.01;
  s.doc["dataset"]["episodes"].push_back(
      {{"path", "ep2.json"}, {"scenario", space.ToJson(first.items[0].scenario)}});
  s.doc["dataset"]["episodes"].push_back({{"path", "ep3.json"}, {"scenario", near}});
  s.Save();
  const std::string out2 = s.dir.File("out2");
  r = Nextbatch(s, "plan " + s.study() + " -o " + out2 + " --previous " + s.out() + "/plan");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  const Plan second = ReadPlan(out2 + "/plan", space);
  const nlohmann::json& p = second.previous;
  REQUIRE(p.is_object());
  CHECK(p.at("study") == "plan");
  CHECK(p.at("items") == 3);
  CHECK(p.at("collected") == 2);
  CHECK(p.at("new_episodes") == 2);  // ep0 and ep1 were in the earlier plan's data
  CHECK(p.at("matched_episodes") == 2);
  const auto& each = p.at("each");
  CHECK(each[0].at("item_id") == first.items[0].item_id);
  CHECK(each[0].at("matched_by") == "item_id");
  CHECK(each[0].at("episodes") == nlohmann::json::array({"ep2"}));
  CHECK(each[1].at("matched_by") == "scenario");
  CHECK(each[1].at("episodes") == nlohmann::json::array({"ep3"}));
  CHECK(each[1].at("distance").get<double>() == doctest::Approx(0.01));
  CHECK(each[2].at("collected") == 0);
  CHECK(each[2].at("matched_by") == "");
  // coverage: expected after the first batch against what the data covers now
  CHECK(p.at("coverage").at("expected_after") == first.expected.coverage_after);
  CHECK(p.at("coverage").at("before") == first.expected.coverage_before);
  CHECK(p.at("coverage").at("achieved") == second.expected.coverage_before);
  // stds: the forecast against the new calibration's honest std
  REQUIRE(!first.expected.std_after.empty());
  for (const auto& entry : first.expected.std_after) {
    // named: a lambda (doctest's INFO) cannot capture a structured binding before C++20
    const auto& name = entry.first;
    const auto& expected = entry.second;
    CAPTURE(name);
    const auto& x = p.at("stds").at(name);
    CHECK(x.at("expected_after") == expected);
    CHECK(x.at("current") == second.expected.std_before.at(name));
    CHECK(x.at("ratio").get<double>() ==
          doctest::Approx(second.expected.std_before.at(name) / expected));
  }
  // outcomes: the real outcomes of ep2 and ep3 against the simulated rates of their items
  int known = 0, successes = 0;
  double predicted = 0.0;
  for (const auto& o : second.episodes.outcomes) {
    if (o.id != "ep2" && o.id != "ep3") continue;
    if (o.success < 0) continue;
    ++known;
    successes += o.success;
    predicted += first.items[o.id == "ep2" ? 0 : 1].simulated_success;
  }
  CHECK(p.at("outcomes").at("known") == known);
  CHECK(p.at("outcomes").at("successes") == successes);
  CHECK(p.at("outcomes").at("predicted_successes").get<double>() == doctest::Approx(predicted));
  CHECK(Has(r.log, "previous plan: 2 of 3 items collected (2 of 2 new episodes matched)"));
  CHECK(Has(r.log, "previous plan: coverage expected "));
  CHECK(Has(r.log, "previous plan: stds expected -> now (ratio): damping "));

  // bad input exits 2 naming the file, and writes nothing
  const std::string out3 = s.dir.File("out3");
  r = Nextbatch(s, "plan " + s.study() + " -o " + out3 + " --previous " + s.out() + "/simulate");
  CHECK(r.code == 2);
  CHECK(Has(r.log,
            "--previous: expected a plan set (a folder holding plan.json) or a plan.json, "
            "got \"" +
                s.out() + "/simulate\" (no " + s.out() + "/simulate/plan.json)"));
  CHECK_FALSE(fs::exists(out3));
  nlohmann::json other = nlohmann::json::parse(ReadFile(s.out() + "/plan/plan.json"));
  other["study"] = "another";
  s.dir.Write("other_plan.json", other.dump());
  r = Nextbatch(
      s, "plan " + s.study() + " -o " + out3 + " --previous " + s.dir.File("other_plan.json"));
  CHECK(r.code == 2);
  CHECK(Has(r.log, s.dir.File("other_plan.json") +
                       ": study: expected a plan of study \"plan\", got \"another\""));
  CHECK_FALSE(fs::exists(out3));
}

TEST_CASE("plan: the team's uncertainty table is read, scored and an input of the plan stage") {
  PlanStudy s;
  s.dir.Write("team.csv",
              "initial_angle,torque_limit,variance\n-0.5,0.5,1\n0.5,3,0\n0,1.75,0.25\n");
  s.doc["planner"]["team_uncertainty"] = "team.csv";
  s.Save();
  const std::string args = "plan " + s.study() + " -o " + s.out() + " -q";
  Run r = Nextbatch(s, args);
  REQUIRE_MESSAGE(r.code == 0, r.log);
  const ScenarioSpace space = ReadScenarios(Study::Load(s.study())).space;
  const Plan plan = ReadPlan(s.out() + "/plan", space);
  CHECK(plan.weights.team == 1.0);
  for (const PlanItem& it : plan.items) {
    CHECK(it.components.team >= 0.0);
    CHECK(Has(it.reason, "the team's variance "));
  }
  CHECK(std::find(plan.not_estimated.begin(), plan.not_estimated.end(), "uncertainty.team") ==
        plan.not_estimated.end());
  // a changed table makes the plan stale, nothing else
  s.dir.Write("team.csv", "initial_angle,torque_limit,variance\n0,1,1\n");
  r = Nextbatch(s, "plan " + s.study() + " -o " + s.out());
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK(Has(r.log, "simulate: reused"));
  CHECK_FALSE(Has(r.log, "plan: reused"));
  // a malformed one is refused before any stage runs, naming file, line and column
  s.dir.Write("team.csv", "initial_angle,torque_limit,variance\n0,1,-2\n");
  const std::string out2 = s.dir.File("out2");
  r = Nextbatch(s, "plan " + s.study() + " -o " + out2);
  CHECK(r.code == 2);
  CHECK(Has(r.log, s.dir.File("team.csv") + ": line 2: variance: expected a number >= 0, got "
                                            "\"-2\""));
  CHECK_FALSE(fs::exists(out2));
}

TEST_CASE("plan: the information rule without information is refused before any stage runs") {
  PlanStudy s;
  s.doc["planner"]["rule"] = "information";
  s.doc["simulate"]["information"] = false;
  s.Save();
  const Run r = Nextbatch(s, "plan " + s.study() + " -o " + s.out());
  CHECK(r.code == 2);
  CHECK(Has(r.log, s.study() + ": planner.rule: expected \"information\" only with the "
                               "candidates' information (simulate.information true), got "
                               "simulate.information false"));
  CHECK_FALSE(fs::exists(s.out()));
}

TEST_CASE("plan: a cold start (no data, no calibration) plans and says so loudly") {
  PlanStudy s;
  s.doc.erase("dataset");
  s.doc.erase("calibration");
  s.Save();
  const Run r = Nextbatch(s, "plan " + s.study() + " -o " + s.out());
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK(Has(r.log, "nextbatch plan: warning: cold start"));
  CHECK(Has(r.log, "nextbatch simulate: warning: no calibration"));
  CHECK_FALSE(fs::exists(s.out() + "/ingest"));
  const Manifest m = ReadManifest(s.out() + "/plan/manifest.json");
  CHECK(m.inputs.count("upstream:ingest") == 0);
  CHECK(m.inputs.count("upstream:calibrate") == 0);
  const Plan plan = ReadPlan(s.out() + "/plan", ReadScenarios(Study::Load(s.study())).space);
  CHECK(plan.episodes.total == 0);
  CHECK(plan.expected.coverage_before == 0.0);
  CHECK_FALSE(plan.items.empty());
  CHECK(Has(plan.items[0].reason, "cold start"));
  // the priors' stds are reported; information assumes a stated position noise, and says so
  CHECK(plan.expected.std_before.at("damping") == doctest::Approx(0.02));
  CHECK(Has(r.log, "nextbatch simulate: warning: information: no noise levels"));
  // the information is weighed by the planner's default error model, and no std after the batch
  // is forecast before a calibration has measured one: said in words
  CHECK(plan.expected.std_after.empty());
  CHECK(std::find(plan.not_estimated.begin(), plan.not_estimated.end(), "expected.std_after") !=
        plan.not_estimated.end());
  CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [](const std::string& n) {
    return Has(n, "under the planner's default error model, since the calibration has none") &&
           Has(n, "= 16");
  }));
  CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [](const std::string& n) {
    return Has(n, "std_after is not estimated at a cold start");
  }));
  // --strict turns the warnings into exit 1, and the plan set stays as it was
  const std::string before = ReadFile(s.out() + "/plan/plan.json");
  const Run strict = Nextbatch(s, "plan " + s.study() + " -o " + s.out() + " --strict --from plan");
  CHECK(strict.code == 1);
  CHECK(ReadFile(s.out() + "/plan/plan.json") == before);

  // simulate.information false: no sensitivities, and the plan says information is not estimated
  s.doc["simulate"]["information"] = false;
  s.Save();
  const Run off = Nextbatch(s, "plan " + s.study() + " -o " + s.out());
  REQUIRE_MESSAGE(off.code == 0, off.log);
  CHECK_FALSE(ReadCandidateSet(s.out() + "/simulate").has_information);
  const Plan without = ReadPlan(s.out() + "/plan", ReadScenarios(Study::Load(s.study())).space);
  CHECK(without.not_estimated.front() == "information");
  CHECK(without.expected.std_after.empty());
  // the study's own choice: a note, not a warning
  CHECK_FALSE(Has(off.log, "not estimated yet"));
  CHECK(std::any_of(without.notes.begin(), without.notes.end(), [](const std::string& n) {
    return Has(n, "not estimated yet: information gain (the study's simulate.information is false");
  }));
}

}  // namespace
}  // namespace nextbatch
