#include "pipeline/pipeline.h"

#include <cmath>
#include <filesystem>

#include "calibration/calibration_json.h"
#include "engine/dataset.h"
#include "engine/digest.h"
#include "engine/error.h"
#include "engine/interrupt.h"
#include "engine/manifest.h"
#include "engine/output_set.h"
#include "pipeline/internal.h"
#include "planners/plan_options.h"
#include "scenarios/task_json.h"

#ifndef NEXTBATCH_VERSION
#define NEXTBATCH_VERSION "unknown"
#endif

namespace nextbatch {
namespace fs = std::filesystem;
using pipeline_internal::Inputs;

const char* StageName(StageId stage) {
  switch (stage) {
    case StageId::kIngest:
      return "ingest";
    case StageId::kCalibrate:
      return "calibrate";
    case StageId::kReplay:
      return "replay";
    case StageId::kSimulate:
      return "simulate";
    case StageId::kPlan:
      return "plan";
  }
  return "?";
}

StageId ParseStage(const std::string& name, const std::string& where) {
  for (StageId s : {StageId::kIngest, StageId::kCalibrate, StageId::kSimulate, StageId::kPlan}) {
    if (name == StageName(s)) return s;
  }
  ThrowExpected(where, "a stage (ingest, calibrate, simulate, plan)", "\"" + name + "\"");
}

std::string PipelineOptions::Validate() const {
  if (out.empty()) return "-o: expected an output folder, got an empty path";
  if (threads < -1) return "-j: expected a thread count >= 0, got " + std::to_string(threads);
  for (const auto& e : episodes) {
    if (e.empty()) return "--episodes: expected episode ids, got an empty id";
  }
  if (replay_window && (!(*replay_window > 0) || !std::isfinite(*replay_window))) {
    return "--window: expected a duration > 0 (seconds), got " + FormatNumber(*replay_window);
  }
  return "";
}

namespace pipeline_internal {
namespace {

std::string SectionDigest(const Study& study, const std::string& key) {
  return DigestOf(study.doc.contains(key) ? study.doc.at(key).dump() : "null");
}

void AddSections(const Study& study, std::initializer_list<const char*> keys, Inputs* in) {
  for (const char* k : keys) (*in)[std::string("study:") + k] = SectionDigest(study, k);
}

// The scenario factors: what every replay of a logged episode applies to the model
// (StudyConditions); the sampler does not matter there. Absent without factors, so studies
// without a scenario space keep their digests.
void AddFactors(const Study& study, Inputs* in) {
  if (!study.HasSection("scenarios")) return;
  const nlohmann::json& s = study.doc.at("scenarios");
  if (s.is_object() && s.contains("factors")) {
    (*in)["study:scenarios.factors"] = DigestOf(s.at("factors").dump());
  }
}

std::string ManifestPath(const std::string& dir) {
  return (fs::path(dir) / kManifestFile).string();
}

// The set digest of an upstream set as it is on disk, "" when it has no readable manifest.
std::string UpstreamDigest(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(ManifestPath(dir), ec)) return "";
  try {
    return ReadManifest(ManifestPath(dir)).SetDigest();
  } catch (const InputError&) {
    return "";
  }
}

}  // namespace

std::string SetDir(StageId stage, const PipelineOptions& options) {
  if (stage == StageId::kIngest && !options.dataset.empty()) return options.dataset;
  if (stage == StageId::kCalibrate && !options.calibration.empty()) return options.calibration;
  return StageDir(options.out, StageName(stage));
}

std::optional<SafetyOptions> SimulateSafetyOptions(const Study& study) {
  if (!study.HasSection("task")) return std::nullopt;
  const TaskSpec task = ReadTaskSpec(study.Section("task"));
  if (!task.outcome.is_object() || !task.outcome.contains("safety")) return std::nullopt;
  return ReadPlanSafetyOptions(study);
}

CalibrationSource SimulateCalibration(const Study& study, const PipelineOptions& options) {
  CalibrationSource source;
  if (!options.calibration.empty()) {
    source.file = (fs::path(options.calibration) / "calibration.json").string();
    source.from_set = true;
    return source;
  }
  if (study.HasSection("simulate") && study.doc.at("simulate").contains("calibration")) {
    // the study names a calibration.json of its own choosing (e.g. another study's fit)
    const nlohmann::json& v = study.doc.at("simulate").at("calibration");
    if (v.is_string()) {
      source.file = study.Resolve(v.get<std::string>());
      std::error_code ec;
      if (fs::is_directory(source.file, ec)) {
        source.file = (fs::path(source.file) / "calibration.json").string();
      }
      return source;
    }
  }
  const std::string dir = StageDir(options.out, StageName(StageId::kCalibrate));
  std::error_code ec;
  if (fs::exists(ManifestPath(dir), ec)) {
    source.file = (fs::path(dir) / "calibration.json").string();
    source.from_set = true;
  }
  return source;
}

std::string WarmStartFile(const Study& study, const PipelineOptions& options) {
  if (!options.warm_start.empty()) return options.warm_start;
  return ReadCalibrationOptions(study).warm_start;
}

Inputs CurrentInputs(StageId stage, const Study& study, const PipelineOptions& options) {
  Inputs in;
  AddSections(study, {"model"}, &in);
  in["file:model"] = DigestOfFile(study.model);
  switch (stage) {
    case StageId::kIngest: {
      AddSections(study, {"dataset"}, &in);
      if (study.HasSection("dataset")) {
        const DatasetSpec spec = ReadDatasetSpec(study);
        for (const auto& entry : spec.episodes) {
          for (const auto& path : entry.paths) {
            const std::string rel = fs::path(path).lexically_relative(study.dir).generic_string();
            in["file:log " + (rel.empty() ? path : rel)] = DigestOfFile(path);
          }
        }
      }
      break;
    }
    case StageId::kCalibrate: {
      AddSections(study, {"parameters", "calibration"}, &in);
      AddFactors(study, &in);
      in["upstream:ingest"] = UpstreamDigest(SetDir(StageId::kIngest, options));
      // a subset fitted on request; compared only when the current run names one too
      if (!options.episodes.empty()) {
        std::string ids;
        for (const auto& e : options.episodes) ids += e + "\n";
        in["option:episodes"] = DigestOf(ids);
      }
      const std::string warm = WarmStartFile(study, options);
      if (!warm.empty()) in["file:warm_start"] = DigestOfFile(warm);
      break;
    }
    case StageId::kReplay: {
      AddSections(study, {"parameters", "calibration", "replay"}, &in);
      AddFactors(study, &in);
      in["study:seed"] = DigestOf(std::to_string(study.seed));
      in["upstream:ingest"] = UpstreamDigest(SetDir(StageId::kIngest, options));
      in["upstream:calibrate"] = UpstreamDigest(SetDir(StageId::kCalibrate, options));
      std::string ids;
      for (const auto& e : options.episodes) ids += e + "\n";
      in["option:episodes"] = DigestOf(ids);
      in["option:window"] =
          DigestOf(options.replay_window ? FormatNumber(*options.replay_window) : "study");
      in["option:posterior"] = DigestOf(options.formal_posterior ? "formal" : "honest");
      const std::string refs = ReplayReferencesFile(study);
      if (!refs.empty()) in["file:references"] = DigestOfFile(refs);
      break;
    }
    case StageId::kSimulate: {
      AddSections(study, {"parameters", "scenarios", "task", "simulate"}, &in);
      in["study:seed"] = DigestOf(std::to_string(study.seed));
      // the sequential safety samples follow the planner's safety options, not its other fields
      if (const auto safety = SimulateSafetyOptions(study)) {
        in["planner:safety"] =
            DigestOf(FormatNumber(safety->threshold) + " " + FormatNumber(safety->confidence) +
                     " " + std::to_string(safety->max_samples));
      }
      in["option:posterior"] = DigestOf(options.formal_posterior ? "formal" : "honest");
      const CalibrationSource source = SimulateCalibration(study, options);
      if (source.from_set) {
        in["upstream:calibrate"] = UpstreamDigest(fs::path(source.file).parent_path().string());
      } else if (!source.file.empty()) {
        in["file:calibration"] = DigestOfFile(source.file);
      }
      break;
    }
    case StageId::kPlan: {
      AddSections(study, {"parameters", "scenarios", "task", "planner"}, &in);
      in["study:seed"] = DigestOf(std::to_string(study.seed));
      if (study.HasSection("task")) {
        const std::string team = ReadPlanOptions(study).team_uncertainty;
        if (!team.empty()) in["file:team_uncertainty"] = DigestOfFile(team);
      }
      if (!options.previous.empty())
        in["previous"] = DigestOfFile(pipeline_internal::PreviousPlanFile(study, options));
      in["upstream:simulate"] = UpstreamDigest(SetDir(StageId::kSimulate, options));
      if (study.HasSection("dataset")) {
        in["upstream:ingest"] = UpstreamDigest(SetDir(StageId::kIngest, options));
      }
      // the calibration the candidates were simulated under, for the stds the plan reports
      const CalibrationSource source = SimulateCalibration(study, options);
      if (source.from_set) {
        in["upstream:calibrate"] = UpstreamDigest(fs::path(source.file).parent_path().string());
      } else if (!source.file.empty()) {
        in["file:calibration"] = DigestOfFile(source.file);
      }
      break;
    }
  }
  return in;
}

Manifest NewManifest(StageId stage, const Study& study, const Inputs& inputs) {
  Manifest m;
  m.stage = StageName(stage);
  m.study = study.path;
  m.study_name = study.name;
  m.seed = study.seed;
  m.inputs = inputs;
  m.created = UtcNow();
  m.version = NEXTBATCH_VERSION;
  return m;
}

Manifest RequireCurrentSet(StageId stage, const Study& study, const PipelineOptions& options,
                           std::vector<std::string>* warnings) {
  const SetStatus status = CheckSet(stage, study, options);
  const std::string verb =
      std::string("nextbatch ") + StageName(stage) + " " + study.path + " -o " + options.out;
  if (!status.exists) {
    throw InputError(status.dir + ": expected the " + StageName(stage) +
                     " set this stage reads, got none (no " + kManifestFile + "); run `" + verb +
                     "` first");
  }
  if (!status.current) {
    std::string why;
    for (const auto& c : status.changes) why += (why.empty() ? "" : "; ") + c;
    if (!options.use_stale) {
      throw InputError(status.dir + ": the " + StageName(stage) +
                       " set is stale (made from other inputs than the study's now: " + why +
                       "); run `" + verb + "` again, or pass --use-stale to read it anyway");
    }
    warnings->push_back("read the stale " + std::string(StageName(stage)) + " set " + status.dir +
                        " (--use-stale): " + why);
  }
  return ReadManifest(ManifestPath(status.dir));
}

}  // namespace pipeline_internal

SetStatus CheckSet(StageId stage, const Study& study, const PipelineOptions& options) {
  using namespace pipeline_internal;
  SetStatus status;
  status.dir = SetDir(stage, options);
  std::error_code ec;
  if (!fs::exists(ManifestPath(status.dir), ec)) return status;
  const Manifest m = ReadManifest(ManifestPath(status.dir));
  status.exists = true;
  if (m.stage != StageName(stage)) {
    ThrowExpected(ManifestPath(status.dir) + ": stage", std::string("\"") + StageName(stage) + "\"",
                  "\"" + m.stage + "\"");
  }
  for (const auto& [file, digest] : m.files) {
    if (!fs::exists(fs::path(status.dir) / file, ec)) {
      throw InputError(status.dir + ": expected " + file + " (listed in its manifest), got none");
    }
  }
  status.changes = ChangedInputs(m.inputs, CurrentInputs(stage, study, options));
  // an upstream set that is itself stale makes this one stale too
  std::vector<StageId> upstream;
  if (stage == StageId::kCalibrate) upstream.push_back(StageId::kIngest);
  if (stage == StageId::kReplay) upstream = {StageId::kIngest, StageId::kCalibrate};
  if ((stage == StageId::kSimulate || stage == StageId::kPlan) &&
      SimulateCalibration(study, options).from_set) {
    upstream.push_back(StageId::kCalibrate);
  }
  if (stage == StageId::kPlan) {
    upstream.push_back(StageId::kSimulate);
    if (study.HasSection("dataset")) upstream.push_back(StageId::kIngest);
  }
  // replay's episodes select what it replays, not what calibrate fitted
  PipelineOptions upstream_options = options;
  if (stage == StageId::kReplay) upstream_options.episodes.clear();
  for (StageId u : upstream) {
    const SetStatus up = CheckSet(u, study, upstream_options);
    if (up.exists && !up.current) {
      for (const auto& c : up.changes) {
        status.changes.push_back(std::string("upstream ") + StageName(u) + ": " + c);
      }
    }
  }
  status.current = status.changes.empty();
  return status;
}

std::vector<StageId> StagesOf(const Study& study, StageId last) {
  std::vector<StageId> out;
  const bool dataset = study.HasSection("dataset");
  if (dataset) out.push_back(StageId::kIngest);
  if (last >= StageId::kCalibrate && dataset && !study.parameters.empty()) {
    out.push_back(StageId::kCalibrate);
  }
  if (last >= StageId::kSimulate && study.HasSection("scenarios") && study.HasSection("task")) {
    out.push_back(StageId::kSimulate);
    if (last >= StageId::kPlan) out.push_back(StageId::kPlan);
  }
  while (!out.empty() && out.back() > last) out.pop_back();
  return out;
}

namespace {

StageReport RunOne(StageId stage, const Study& study, const PipelineOptions& options) {
  switch (stage) {
    case StageId::kIngest:
      return pipeline_internal::RunIngest(study, options);
    case StageId::kCalibrate:
      return pipeline_internal::RunCalibrate(study, options);
    case StageId::kReplay:
      return pipeline_internal::RunReplay(study, options);
    case StageId::kSimulate:
      return pipeline_internal::RunSimulate(study, options);
    case StageId::kPlan:
      return pipeline_internal::RunPlan(study, options);
  }
  throw LogicError("unknown stage");
}

}  // namespace

StageReport RunStage(StageId stage, const Study& study, const PipelineOptions& options) {
  if (std::string e = options.Validate(); !e.empty()) throw InputError(e);
  try {
    ThrowIfInterrupted("stopped before it began");
    return RunOne(stage, study, options);
  } catch (const Interrupted& e) {
    // the output set has been dropped and its lock released on the way out
    throw Interrupted(e.signal(), std::string(StageName(stage)) + ": " + e.what());
  }
}

std::vector<StageReport> RunPipeline(const Study& study, const PipelineOptions& options,
                                     StageId last, std::optional<StageId> from) {
  std::vector<StageReport> reports;
  const std::vector<StageId> stages = StagesOf(study, last);
  // a bad planner section is refused before any stage writes a set
  if (!stages.empty() && stages.back() == StageId::kPlan) {
    pipeline_internal::CheckPlanSection(study);
    if (!options.previous.empty()) pipeline_internal::PreviousPlanFile(study, options);
  }
  for (StageId stage : stages) {
    const bool forced = from && stage >= *from;
    if (!forced) {
      const SetStatus status = CheckSet(stage, study, options);
      if (status.current) {
        StageReport r;
        r.stage = StageName(stage);
        r.dir = status.dir;
        r.reused = true;
        r.warnings = ReadManifest((fs::path(status.dir) / kManifestFile).string()).warnings;
        if (stage == StageId::kPlan) r.text = pipeline_internal::PlanSetSummary(study, status.dir);
        reports.push_back(r);
        continue;
      }
    }
    reports.push_back(RunStage(stage, study, options));
    if (reports.back().exit_code != 0) break;
  }
  return reports;
}

}  // namespace nextbatch
