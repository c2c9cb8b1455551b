// What the stages share inside the pipeline module (not installed).
#ifndef NEXTBATCH_PIPELINE_INTERNAL_H_
#define NEXTBATCH_PIPELINE_INTERNAL_H_

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "engine/dataset.h"
#include "engine/manifest.h"
#include "engine/output_set.h"
#include "engine/parameter.h"
#include "pipeline/pipeline.h"
#include "planners/safety.h"
#include "scenarios/space.h"

namespace nextbatch::pipeline_internal {

using Inputs = std::map<std::string, std::string>;

// The digests of what `stage` reads, computed from the study and the upstream sets on disk now.
Inputs CurrentInputs(StageId stage, const Study& study, const PipelineOptions& options);

// The calibration.json a calibrate stage starts from: --warm-start, else the study's
// calibration.warm_start; "" for none.
std::string WarmStartFile(const Study& study, const PipelineOptions& options);

// Where a stage's set is read from: the override in `options`, else <out>/<stage>.
std::string SetDir(StageId stage, const PipelineOptions& options);

// Reads the upstream set `stage` for a consumer: refuses (InputError) a missing set, and a stale
// one unless options.use_stale (then a warning is added to `warnings`). Returns its manifest.
Manifest RequireCurrentSet(StageId stage, const Study& study, const PipelineOptions& options,
                           std::vector<std::string>* warnings);

// A manifest for `stage` with the study's fields and the current inputs.
Manifest NewManifest(StageId stage, const Study& study, const Inputs& inputs);

double Since(std::chrono::steady_clock::time_point t0);  // seconds

// The study with options.threads in place of its own, when given.
Study WithThreads(const Study& study, const PipelineOptions& options);

// Publishes the set with its manifest (warnings and status from `r`), or, under --strict with
// warnings, fails publishing nothing (r->exit_code 1).
void Finish(OutputSet& set, Manifest manifest, const PipelineOptions& options, double seconds,
            StageReport* r);

// The stages themselves (stages.cc).
StageReport RunIngest(const Study& study, const PipelineOptions& options);
StageReport RunCalibrate(const Study& study, const PipelineOptions& options);
StageReport RunSimulate(const Study& study, const PipelineOptions& options);
StageReport RunPlan(const Study& study, const PipelineOptions& options);    // plan_stage.cc
StageReport RunReplay(const Study& study, const PipelineOptions& options);  // replay_stage.cc
// The reference sets file the study's replay section names (resolved), "" for none.
std::string ReplayReferencesFile(const Study& study);
// Every episode's recorded scenario against the space (ScenarioSpace::CheckRecorded): an
// InputError naming the episode, its log and the factor (plan_stage.cc).
void CheckRecordedScenarios(const ScenarioSpace& space, const Dataset& dataset);
// The model properties each episode was recorded under (ScenarioBinding::RecordedConditions of
// the study's scenario space; empty without one): what calibrate, replay and the plan's real
// outcomes apply to every logged episode, so that fit and replay agree. Throws InputError for a
// recorded value the space refuses (ScenarioSpace::CheckRecorded).
EpisodeConditions StudyConditions(const Study& study, const mjModel* m,
                                  const std::vector<Episode>& episodes);
// Reads the study's planner section (InputError when it is bad), as RunPlan will.
void CheckPlanSection(const Study& study);
// The earlier plan's file that --previous names: its plan.json. Throws InputError naming the path
// when it is neither a plan set's folder nor a .json file, when the plan does not read, or when it
// is another study's plan.
std::string PreviousPlanFile(const Study& study, const PipelineOptions& options);
// The summary of the plan set in `dir` (a reused set), as RunPlan printed it.
std::string PlanSetSummary(const Study& study, const std::string& dir);

// The simulate stage's calibration input: "" for the priors, else the calibration.json to read.
struct CalibrationSource {
  std::string file;       // calibration.json, "" for the priors
  bool from_set = false;  // an upstream calibrate set (checked for staleness)
};
CalibrationSource SimulateCalibration(const Study& study, const PipelineOptions& options);

// The planner's safety options when the study's task has a safety rule (the simulate stage then
// draws sequential safety samples by them, planners/safety.h SafetySamplingRule); none without
// one. Throws InputError for a bad planner section.
std::optional<SafetyOptions> SimulateSafetyOptions(const Study& study);

}  // namespace nextbatch::pipeline_internal

#endif  // NEXTBATCH_PIPELINE_INTERNAL_H_
