// The plan stage: the next batch from the simulate set's candidates, the ingest set's episodes
// (when the study has a dataset) and the planner's options, published as out/plan/.
#include <chrono>
#include <filesystem>
#include <optional>

#include "calibration/calibration_json.h"
#include "engine/dataset.h"
#include "engine/episode_selection.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/output_set.h"
#include "pipeline/internal.h"
#include "planners/make_plan.h"
#include "planners/plan_json.h"
#include "planners/plan_options.h"
#include "planners/previous.h"
#include "planners/team_uncertainty.h"
#include "scenarios/logged_outcome.h"
#include "scenarios/simulate_study.h"
#include "scenarios/space_json.h"
#include "scenarios/task.h"
#include "scenarios/task_json.h"

namespace nextbatch::pipeline_internal {

void CheckRecordedScenarios(const ScenarioSpace& space, const Dataset& dataset) {
  for (const Episode& e : dataset.episodes)
    space.CheckRecorded(e.scenario, "episode " + e.id + " (" + e.source + "): scenario");
}

void CheckPlanSection(const Study& study) {
  if (!study.HasSection("task")) return;
  const PlanOptions o = ReadPlanOptions(study);
  if (!o.team_uncertainty.empty())
    ReadTeamUncertainty(o.team_uncertainty, ReadScenarios(study).space);
  if (o.rule != PlanRule::kInformation) return;
  // the information rule ranks by nothing else: refused before any stage runs when the study
  // cannot give the candidates information
  if (study.parameters.empty())
    ThrowExpected(study.path + ": planner.rule",
                  "\"information\" only with parameters to learn about", "none in the study");
  if (!ReadStudySimulateOptions(study).information)
    ThrowExpected(study.path + ": planner.rule",
                  "\"information\" only with the candidates' information (simulate.information "
                  "true)",
                  "simulate.information false");
}

std::string PreviousPlanFile(const Study& study, const PipelineOptions& options) {
  const std::string& path = options.previous;
  std::error_code ec;
  std::string file;
  if (std::filesystem::is_directory(path, ec)) {
    file = (std::filesystem::path(path) / "plan.json").string();
    if (!std::filesystem::is_regular_file(file, ec))
      ThrowExpected("--previous", "a plan set (a folder holding plan.json) or a plan.json",
                    "\"" + path + "\" (no " + file + ")");
  } else if (std::filesystem::is_regular_file(path, ec) && path.size() > 5 &&
             path.compare(path.size() - 5, 5, ".json") == 0) {
    file = path;
  } else {
    ThrowExpected("--previous", "a plan set (a folder holding plan.json) or a plan.json",
                  "\"" + path + "\"" + (std::filesystem::exists(path, ec) ? "" : " (not found)"));
  }
  const Plan previous = ReadPlan(file, ReadScenarios(study).space);
  CheckPreviousStudy(previous, study.name, file);
  return file;
}

std::string PlanSetSummary(const Study& study, const std::string& dir) {
  const ScenariosSection scenarios = ReadScenarios(study);
  return PlanSummaryText(ReadPlan(dir, scenarios.space), scenarios.space);
}

StageReport RunPlan(const Study& study_in, const PipelineOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const Study study = WithThreads(study_in, options);
  if (!study.HasSection("scenarios") || !study.HasSection("task")) {
    ThrowExpected(
        study.path, "scenarios and task sections (what to plan over)",
        std::string("no ") + (study.HasSection("scenarios") ? "task" : "scenarios") + " section");
  }
  // the study's sections are checked before any output is taken
  const PlanOptions plan_options = ReadPlanOptions(study);
  const ScenariosSection scenarios = ReadScenarios(study);
  const TaskSpec task = ReadTaskSpec(study.Section("task"));

  StageReport r;
  r.stage = StageName(StageId::kPlan);
  RequireCurrentSet(StageId::kSimulate, study, options, &r.warnings);
  const CandidateSet candidates = ReadCandidateSet(SetDir(StageId::kSimulate, options));

  PlanInputs in;
  in.study = study.name;
  in.seed = study.seed;
  in.space = scenarios.space;
  in.candidates = &candidates;
  in.safety_rule = task.outcome.is_object() && task.outcome.contains("safety");
  in.parameters = study.parameters;
  in.threads = study.threads;
  in.information_off = !ReadStudySimulateOptions(study).information;
  if (study.HasSection("dataset")) {
    RequireCurrentSet(StageId::kIngest, study, options, &r.warnings);
    const Dataset dataset = ReadDatasetFiles(SetDir(StageId::kIngest, options));
    CheckRecordedScenarios(scenarios.space, dataset);
    // real outcomes: the task's own rules on each logged trajectory, else a recorded label
    ModelPtr model = LoadModelFile(study.model);
    const Task judge(model.get(), task);
    const EpisodeConditions conditions = StudyConditions(study, model.get(), dataset.episodes);
    for (const Episode& e : dataset.episodes) {
      EpisodeScenario es{e.id, e.scenario};
      es.outcome = RealEpisodeOutcome(model.get(), judge.outcome(), e, &conditions);
      const nlohmann::json item = EpisodeMetadata(e, "item_id");
      if (item.is_string()) es.item_id = item.get<std::string>();
      in.episodes.push_back(std::move(es));
    }
  }
  std::optional<CalibrationFile> calibration;
  const CalibrationSource source = SimulateCalibration(study, options);
  if (!source.file.empty()) {
    if (source.from_set) RequireCurrentSet(StageId::kCalibrate, study, options, &r.warnings);
    calibration = ReadCalibrationFile(source.file);
    in.calibration = &*calibration;
    in.formal_posterior = options.formal_posterior;
  }
  std::optional<TeamUncertainty> team;
  if (!plan_options.team_uncertainty.empty()) {
    team = ReadTeamUncertainty(plan_options.team_uncertainty, scenarios.space);
    in.team = &*team;
  }
  std::optional<Plan> previous;
  if (!options.previous.empty()) {
    previous = ReadPlan(PreviousPlanFile(study, options), scenarios.space);
    in.previous = &*previous;
  }
  const Plan plan = MakePlan(in, plan_options);

  const Inputs inputs = CurrentInputs(StageId::kPlan, study, options);
  OutputSet set(options.out, r.stage);
  r.dir = set.final_dir();
  WritePlan(plan, scenarios.space, set.staging());
  for (const auto& w : plan.warnings) r.warnings.push_back(w);
  r.text = PlanSummaryText(plan, scenarios.space);
  Finish(set, NewManifest(StageId::kPlan, study, inputs), options, Since(t0), &r);
  return r;
}

}  // namespace nextbatch::pipeline_internal
