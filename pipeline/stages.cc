// The stages: each validates its inputs, takes its output set, does its work in the set's
// staging folder and publishes it with a manifest.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "calibration/calibrated_model.h"
#include "calibration/calibration.h"
#include "calibration/calibration_json.h"
#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/dataset.h"
#include "engine/episode_selection.h"
#include "engine/error.h"
#include "engine/interrupt.h"
#include "engine/json_reader.h"
#include "engine/model.h"
#include "engine/output_set.h"
#include "engine/parameter.h"
#include "engine/posterior.h"
#include "pipeline/internal.h"
#include "scenarios/scenario_binding.h"
#include "scenarios/simulate_study.h"
#include "scenarios/space_json.h"

#ifndef NEXTBATCH_VERSION
#define NEXTBATCH_VERSION "unknown"
#endif

namespace nextbatch::pipeline_internal {
namespace {

// Position noise (rad or m) assumed for candidates' information when neither a calibration nor
// the study states noise levels: an encoder of about 12 bits per turn.
constexpr double kDefaultInformationQposNoise = 1e-3;
namespace fs = std::filesystem;

std::string Fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, x);
  return buf;
}

// The fitted model's smooth dry frictions (an explicit force: SmoothFrictionLimits) checked at
// the fitted episodes' logged configurations, every 10th sample.
std::vector<std::string> FittedSmoothFrictionWarnings(const mjModel* base,
                                                      const ParameterBinding& binding,
                                                      const Eigen::VectorXd& values,
                                                      const std::vector<Episode>& episodes) {
  ModelPtr m = CopyModel(base);
  DataPtr d = MakeData(m.get());
  Effects e = Effects::Identity(m.get());
  binding.Apply(values, m.get(), d.get(), &e);
  if (std::none_of(e.has_smooth.begin(), e.has_smooth.end(), [](char s) { return s != 0; })) {
    return {};
  }
  const Eigen::VectorXd reference = Eigen::Map<const Eigen::VectorXd>(m->qpos0, m->nq);
  std::vector<Eigen::VectorXd> configurations;
  for (const Episode& ep : episodes) {
    std::vector<std::pair<int, int>> columns;  // (qpos address, column)
    for (int c = 0; c < static_cast<int>(ep.qpos.names.size()); ++c) {
      const int j = mj_name2id(m.get(), mjOBJ_JOINT, ep.qpos.names[c].c_str());
      if (j >= 0) columns.emplace_back(m->jnt_qposadr[j], c);
    }
    for (int r = 0; r < ep.qpos.values.rows(); r += 10) {
      Eigen::VectorXd q = reference;
      for (const auto& [address, c] : columns) q[address] = ep.qpos.values(r, c);
      if (q.allFinite()) configurations.push_back(std::move(q));
    }
  }
  if (configurations.empty()) configurations.push_back(reference);
  return SmoothFrictionWarnings(m.get(), e, configurations);
}

// The reasons to doubt a finished fit, in words.
std::vector<std::string> CalibrationWarnings(const CalibrationResult& res,
                                             const SavedModelReport& saved) {
  std::vector<std::string> w;
  const CalibrationSummary& s = res.summary;
  if (s.status == CalibrationStatus::kNoConvergence) {
    std::string left;
    if (std::isfinite(s.remaining_step)) {
      left = "; by its own local model its optimum is still " + Fmt("%.3g", s.remaining_step) +
             " honest std away";
    }
    w.push_back("the fit stopped at its iteration limit (" + std::to_string(s.iterations) +
                " iterations) before converging: its values may still move" + left);
  }
  // Ceres' own tolerances can end a fit on a rough cost (its trust region shrank until its steps
  // were negligible) while the local model's step is still as large as the values' uncertainty.
  if (s.stopped_by == "ceres" && std::isfinite(s.remaining_step) && s.remaining_step > 1.0) {
    w.push_back("Ceres ended the fit on its own tolerance, but its local model's step is still " +
                Fmt("%.3g", s.remaining_step) +
                " honest std: no shorter step lowered the cost, so the values are a minimum as "
                "far as the solver can tell, not necessarily the one its local model points to");
  }
  const Identifiability& id = res.identifiability;
  if (!id.held_by_bounds.empty()) {
    std::string names;
    for (std::size_t k = 0; k < id.held_by_bounds.size(); ++k) {
      const auto it = std::find(res.names.begin(), res.names.end(), id.held_by_bounds[k]);
      if (it == res.names.end()) continue;
      names += std::string(names.empty() ? "" : ", ") + *it + " (honest std " +
               Fmt("%.3g", res.honest_std[it - res.names.begin()]) + " against " +
               Fmt("%.3g", id.flat_std[k]) + ")";
    }
    w.push_back("held by their bounds, not the data: " + names +
                ": the honest std is at least that of a flat distribution over the bounds, so "
                "the data, honestly counted, say nothing the bounds do not; posterior samples "
                "of them sit against their bounds");
  }
  for (std::size_t j = 0; j < res.names.size(); ++j) {
    if (res.at_bound[j]) {
      w.push_back("parameter " + res.names[j] + " ended at a bound (" + FormatNumber(res.value[j]) +
                  ")");
    }
  }
  int outliers = 0;
  for (const auto& e : res.episodes) {
    if (e.outlier) {
      ++outliers;
      w.push_back("episode " + e.id + " is an outlier" +
                  (s.refit ? ", excluded from the refit" : "") + ": " + e.reason);
    }
  }
  if (outliers > 0 && outliers * 2 >= static_cast<int>(res.episodes.size())) {
    w.push_back(std::to_string(outliers) + " of " + std::to_string(res.episodes.size()) +
                " episodes are outliers: the model or the noise settings do not fit these data");
  }
  for (const auto& name : res.identifiability.unidentifiable) {
    w.push_back("parameter " + name + " is not identifiable from these data");
  }
  // The cluster-robust part of the honest covariance is a sum of G centred segment scores: it
  // spans at most G - 1 directions. In the others the honest covariance rests on its floor, the
  // residual scale times the formal covariance, which does not count the residuals' correlation
  // in time (docs/calibration.md, The error model).
  const int free = static_cast<int>(std::count(res.fixed.begin(), res.fixed.end(), false));
  const int clusters = res.error_model.segments;
  const int measured = clusters - 1;  // directions the segment sandwich can span
  if (clusters > 0 && measured < free) {
    w.push_back(std::to_string(clusters) + " fitted segment(s) for " + std::to_string(free) +
                " free parameters: the honest covariance can measure the residuals' correlation "
                "in time along at most " +
                std::to_string(measured) + " direction(s); along the other " +
                std::to_string(free - measured) +
                " it counts every residual as independent, so those honest stds may be too "
                "narrow (shorter calibration.segment_seconds or longer logs give more segments)");
  }
  if (std::isfinite(s.reduced_chi2) && s.reduced_chi2 > 10) {
    w.push_back("reduced chi-square " + Fmt("%.4g", s.reduced_chi2) +
                ": the residuals are model error far above the noise model; the honest stds "
                "account for it, the formal ones are far too narrow");
  }
  if (s.held_out_segments > 0) {
    const double before = res.replay_before.median, after = res.replay_after.median,
                 still = res.replay_hold_still.median;
    if (std::isfinite(after) && std::isfinite(before) && after > before) {
      w.push_back("the fit replays the held-out segments worse than the initial values (" +
                  Fmt("%.4g", after) + " against " + Fmt("%.4g", before) + ")");
    }
    if (std::isfinite(after) && std::isfinite(still) && after >= still && still > 0) {
      w.push_back("the fit replays the held-out segments no better than holding still (" +
                  Fmt("%.4g", after) + " against " + Fmt("%.4g", still) + ")");
    }
  }
  if (!saved.saved) {
    w.push_back("the calibrated model could not be saved (" + saved.error +
                "); calibration.json holds the fit");
  }
  for (const auto& p : saved.not_kept) {
    w.push_back(p.name +
                " is not kept by calibrated_model.xml (MuJoCo writes what the XML "
                "states, e.g. a body mass only with an explicit <inertial>); use calibration.json");
  }
  return w;
}

// The simulate stage's checkpoint: candidates.jsonl.part (the lines of the finished candidates)
// and checkpoint.json's progress {candidates, rollouts, diverged, steps, success_sum, bytes}.
constexpr const char* kSimulatePart = "candidates.jsonl.part";

Checkpoint CheckpointOf(const std::string& stage, const Inputs& inputs, std::int64_t bytes,
                        const SimulateCheckpoint& done) {
  Checkpoint c;
  c.stage = stage;
  c.inputs = inputs;
  c.version = NEXTBATCH_VERSION;
  // success_sum round-trips exactly (JSON numbers are written with 17 digits)
  c.progress = {{"candidates", done.candidates},   {"rollouts", done.rollouts},
                {"diverged", done.diverged},       {"steps", done.steps},
                {"success_sum", done.success_sum}, {"bytes", bytes}};
  return c;
}

// Where this run of the simulate stage starts: after the checkpoint's candidates when
// options.resume and the checkpoint was made from `inputs`, else afresh (the checkpoint is
// discarded). What it did goes to `notes`.
SimulateResume ResumeFrom(const std::string& dir, const Inputs& inputs,
                          const PipelineOptions& options, std::vector<std::string>* notes) {
  SimulateResume resume;
  resume.part = (fs::path(dir) / kSimulatePart).string();
  std::string why;
  const std::optional<Checkpoint> c = ReadCheckpoint(dir, &why);
  std::error_code ec;
  const bool any = c || !why.empty() || fs::exists(dir, ec);
  if (!options.resume) {
    if (c)
      notes->push_back("discarded the checkpoint of an earlier run in " + dir +
                       " (pass --resume to continue it)");
    RemoveCheckpoint(dir);
    EnsureDirectory(dir);
    return resume;
  }
  if (!c) {
    notes->push_back(any ? "the checkpoint in " + dir + " cannot be used (" +
                               (why.empty() ? std::string("incomplete") : why) +
                               "): starting afresh"
                         : "--resume: no checkpoint in " + dir + ": starting afresh");
  } else if (std::string mismatch = CheckpointMismatch(*c, inputs, NEXTBATCH_VERSION);
             !mismatch.empty()) {
    notes->push_back("--resume: the checkpoint in " + dir + " was made from other inputs (" +
                     mismatch + "): starting afresh");
  } else {
    try {
      JsonReader r(c->progress, (fs::path(dir) / "checkpoint.json").string(), "progress");
      auto count = [&r](const char* key) {
        const nlohmann::json& v = r.Raw(key);
        if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
          ThrowExpected(r.Where(key), "a count >= 0", Describe(v));
        }
        return v.get<std::int64_t>();
      };
      SimulateCheckpoint done;
      done.candidates = count("candidates");
      done.rollouts = count("rollouts");
      done.diverged = count("diverged");
      done.steps = count("steps");
      done.success_sum = r.Number("success_sum");
      const std::int64_t bytes = count("bytes");
      r.CheckAllRead();
      if (static_cast<std::int64_t>(fs::file_size(resume.part, ec)) < bytes || ec) {
        throw InputError(resume.part + ": shorter than its checkpoint records");
      }
      resume.done = done;
      resume.bytes = bytes;
      notes->push_back("resumed after " + std::to_string(done.candidates) +
                       " candidates finished by an earlier run (" + dir + ")");
      return resume;
    } catch (const InputError& e) {
      notes->push_back("the checkpoint in " + dir + " cannot be used (" + e.what() +
                       "): starting afresh");
    }
  }
  RemoveCheckpoint(dir);
  EnsureDirectory(dir);
  return resume;
}

// What a warm start took, in a few lines for the stage's text.
std::string WarmStartText(const WarmStartReport& w) {
  auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
  };
  std::string t = "warm start from " + w.file + ": " + std::to_string(w.taken.size()) +
                  " parameter(s) start from its values\n";
  if (!w.missing.empty())
    t += "  not in it (the study's initial values): " + list(w.missing) + "\n";
  if (!w.fixed.empty()) t += "  fixed (held at the study's values): " + list(w.fixed) + "\n";
  if (!w.unused.empty()) t += "  in it but not in the study (unused): " + list(w.unused) + "\n";
  return t;
}

// The simulate stage's sensitivities: each candidate's information about the parameters,
// computed by the calibration's own routine (EpisodeInformation) on one episode of the
// candidate simulated at the posterior mean, weighed by the calibration's error model.
struct InformationSetup {
  CandidateInformation hook;
  nlohmann::json document;
  std::vector<std::string> warnings;
  bool usable = false;  // false: no channel to log, no information
};

std::string ChannelJoint(const std::string& channel, const char* kind) {
  const std::string prefix = std::string(kind) + ":";
  return channel.rfind(prefix, 0) == 0 ? channel.substr(prefix.size()) : "";
}

InformationSetup MakeInformationSetup(const Study& study, const mjModel* m,
                                      const ParameterBinding& binding, const Posterior& posterior,
                                      const CalibrationFile* file) {
  InformationSetup out;
  const CalibrationOptions copt = ReadCalibrationOptions(study);
  // Noise levels: the calibration's, else the study's, else a stated default for positions.
  std::map<std::string, double> noise = file ? file->noise : std::map<std::string, double>{};
  std::string noise_source = "the calibration";
  if (noise.empty()) {
    noise = copt.noise;
    noise_source = "the study's calibration.noise";
  }
  if (noise.empty()) {
    noise["qpos"] = kDefaultInformationQposNoise;
    noise_source = "a default";
    out.warnings.push_back(
        "information: no noise levels (no calibration, no calibration.noise in the study): "
        "candidates' information assumes a position noise of " +
        FormatNumber(kDefaultInformationQposNoise) + " (rad or m) per sample");
  }
  // The simulated episodes log joint positions and velocities only: levels of other channels
  // (sensors) are left out, or the routine would look for channels the episodes do not have.
  for (auto it = noise.begin(); it != noise.end();) {
    const bool joint = it->first == "qpos" || it->first == "qvel" ||
                       !ChannelJoint(it->first, "qpos").empty() ||
                       !ChannelJoint(it->first, "qvel").empty();
    it = joint ? std::next(it) : noise.erase(it);
  }
  std::vector<std::string> qpos, qvel;
  auto all_joints = [m](std::vector<std::string>* list) {
    for (int j = 0; j < m->njnt; ++j) {
      if (m->jnt_type[j] == mjJNT_HINGE || m->jnt_type[j] == mjJNT_SLIDE) {
        const char* name = mj_id2name(m, mjOBJ_JOINT, j);
        if (name && std::find(list->begin(), list->end(), name) == list->end())
          list->push_back(name);
      }
    }
  };
  for (const auto& [channel, sigma] : noise) {
    if (channel == "qpos") all_joints(&qpos);
    if (channel == "qvel") all_joints(&qvel);
    if (std::string j = ChannelJoint(channel, "qpos"); !j.empty()) qpos.push_back(j);
    if (std::string j = ChannelJoint(channel, "qvel"); !j.empty()) qvel.push_back(j);
  }
  std::sort(qpos.begin(), qpos.end());
  qpos.erase(std::unique(qpos.begin(), qpos.end()), qpos.end());
  std::sort(qvel.begin(), qvel.end());
  qvel.erase(std::unique(qvel.begin(), qvel.end()), qvel.end());
  if (qpos.empty() && qvel.empty()) {
    out.warnings.push_back(
        "information: not computed: " + noise_source +
        " gives no noise level for joint positions or velocities (sensor channels are not "
        "simulated for information yet)");
    return out;
  }
  out.usable = true;
  const double dt = m->opt.timestep;
  const double sample_seconds = file && file->sample_seconds > 0 ? file->sample_seconds : dt;
  // s^2 times the serial-correlation factor: how far the calibration's residuals overstate their
  // information (docs/calibration.md); the between-episode part is the floor below.
  double deflation = 1.0;
  if (file && file->has_error_model) {
    deflation =
        (std::isfinite(file->residual_scale) ? file->residual_scale : 1.0) *
        std::max(1.0, std::isfinite(file->serial_correlation) ? file->serial_correlation : 1.0);
  }
  // The between-episode floor B: E episodes averaged give the honest covariance C a share
  // (1 - 1/between) of between-episode variation, B / E = (1 - 1/between) C.
  const int np = posterior.size();
  Eigen::MatrixXd floor = Eigen::MatrixXd::Zero(np, np);
  std::string floor_method =
      "none: no calibration with episode clustering (10 episodes or more) to estimate it from";
  if (file && std::isfinite(file->between_episode) && file->error_episodes >= 2) {
    const double share = std::max(0.0, 1.0 - 1.0 / file->between_episode);
    floor = file->error_episodes * share * posterior.covariance();
    floor_method = "episodes x (1 - 1 / between_episode) x the honest covariance";
  }

  CandidateInformation& h = out.hook;
  h.values = posterior.mean();
  h.sample_every = std::max(1, static_cast<int>(std::lround(sample_seconds / dt)));
  h.qpos_joints = qpos;
  h.qvel_joints = qvel;
  EpisodeInformationOptions eopt;
  eopt.segment_seconds = copt.segment_seconds;
  eopt.control_hold = copt.control_hold;
  eopt.threads = 1;  // the candidates are the parallel loop
  eopt.noise = noise;
  if (file) eopt.episode_scale = file->episode_scale;
  h.compute = [&binding, values = h.values, eopt, deflation](const mjModel* model, const Episode& e,
                                                             const Eigen::MatrixXd& states) {
    const std::vector<Eigen::MatrixXd> starts = {states};
    const Eigen::MatrixXd info = EpisodeInformation(model, binding, values, {e}, eopt, &starts);
    return Eigen::MatrixXd(info / deflation);
  };
  nlohmann::json noise_json = nlohmann::json::object();
  for (const auto& [channel, sigma] : noise) noise_json[channel] = sigma;
  nlohmann::json floor_json = nlohmann::json::array();
  for (int a = 0; a < np; ++a) {
    nlohmann::json row = nlohmann::json::array();
    for (int b = 0; b < np; ++b) row.push_back(floor(a, b));
    floor_json.push_back(row);
  }
  out.document = {{"method",
                   "the calibration's information routine (EpisodeInformation) on one episode per "
                   "candidate simulated at the posterior mean, divided by the deflation"},
                  {"values", std::vector<double>(h.values.data(), h.values.data() + np)},
                  {"noise", noise_json},
                  {"noise_source", noise_source},
                  {"sample_seconds", h.sample_every * dt},
                  {"segment_seconds", eopt.segment_seconds},
                  {"deflation", deflation},
                  {"floor", floor_json},
                  {"floor_method", floor_method}};
  return out;
}

}  // namespace

EpisodeConditions StudyConditions(const Study& study, const mjModel* m,
                                  const std::vector<Episode>& episodes) {
  if (!study.HasSection("scenarios")) return {};
  return ScenarioBinding(m, ReadScenarios(study).space).RecordedConditions(episodes);
}

Study WithThreads(const Study& study, const PipelineOptions& options) {
  Study s = study;
  if (options.threads >= 0) s.threads = options.threads;
  return s;
}

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Publishes the set with its manifest, or (under --strict with warnings) fails publishing nothing.
void Finish(OutputSet& set, Manifest manifest, const PipelineOptions& options, double seconds,
            StageReport* r) {
  manifest.warnings = r->warnings;
  manifest.status = r->warnings.empty() ? "done" : "done_with_warnings";
  manifest.seconds["total"] = seconds;
  r->seconds = seconds;
  // a stop asked for while the stage worked: its set would be whole, but the run was told to stop
  ThrowIfInterrupted("stopped before publishing " + set.final_dir());
  if (options.strict && !r->warnings.empty()) {
    r->exit_code = 1;
    r->message = "--strict: the stage finished with " + std::to_string(r->warnings.size()) +
                 " warning(s); nothing was published";
    return;
  }
  set.Publish(std::move(manifest));
  r->published = true;
}

namespace {

// A file whose rows the cleaning removed in large part for defects of the log itself (not the
// study's filters or gap policy) is said in the manifest, not only in the table -q hides.
std::vector<std::string> DefectWarnings(const Dataset& dataset) {
  const char* defects[] = {"duplicate_time", "non_monotonic_time", "truncated_row", "non_finite",
                           "out_of_range"};
  std::vector<std::string> out;
  std::set<std::string> said;
  auto check = [&](const EpisodeQuality& q) {
    if (q.samples_read <= 0 || !said.insert(q.source).second) return;
    int n = 0;
    std::string what;
    for (const char* d : defects) {
      const auto it = q.removed.find(d);
      if (it == q.removed.end() || it->second == 0) continue;
      n += it->second;
      what += (what.empty() ? "" : ", ") + std::string(d) + " " + std::to_string(it->second);
    }
    if (n > 0.05 * q.samples_read) {
      out.push_back(
          q.source + ": " + std::to_string(n) + " of its " + std::to_string(q.samples_read) +
          " rows (" + FormatNumber(std::round(1000.0 * n / q.samples_read) / 10) +
          " %) were removed as defects of the log (" + what + "): check how it was recorded");
    }
  };
  for (const auto& q : dataset.quality) check(q);
  for (const auto& q : dataset.dropped) check(q);
  return out;
}

}  // namespace

StageReport RunIngest(const Study& study_in, const PipelineOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const Study study = WithThreads(study_in, options);
  if (!study.HasSection("dataset")) {
    ThrowExpected(study.path + ": dataset", "a dataset section (the logs to ingest)", "none");
  }
  ModelPtr model = LoadModelFile(study.model);
  const Inputs inputs = CurrentInputs(StageId::kIngest, study, options);
  StageReport r;
  r.stage = StageName(StageId::kIngest);
  OutputSet set(options.out, r.stage);
  r.dir = set.final_dir();
  const Dataset dataset = LoadDataset(study, model.get());
  if (study.HasSection("scenarios")) CheckRecordedScenarios(ReadScenarios(study).space, dataset);
  WriteDatasetFiles(dataset, set.staging());
  for (const auto& q : dataset.dropped) {
    r.warnings.push_back("dropped " + (q.id.empty() ? q.source : q.id) + ": " + q.reason);
  }
  for (auto& w : SpikeWarnings(dataset)) r.warnings.push_back(std::move(w));
  for (auto& w : DefectWarnings(dataset)) r.warnings.push_back(std::move(w));
  r.text = DatasetSummary(dataset);
  if (dataset.episodes.empty()) {
    r.exit_code = 1;
    r.message = "every episode was dropped; nothing was published";
    return r;
  }
  Finish(set, NewManifest(StageId::kIngest, study, inputs), options, Since(t0), &r);
  return r;
}

StageReport RunCalibrate(const Study& study_in, const PipelineOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const Study study = WithThreads(study_in, options);
  CalibrationOptions copt = ReadCalibrationOptions(study);
  if (options.threads >= 0) copt.threads = options.threads;
  copt.progress = !options.quiet;
  if (study.parameters.empty()) {
    ThrowExpected(study.path + ": parameters", "at least one parameter to calibrate", "none");
  }
  if (std::all_of(study.parameters.begin(), study.parameters.end(),
                  [](const ParameterSpec& p) { return p.fixed; })) {
    ThrowExpected(study.path + ": parameters",
                  "at least one parameter to calibrate that is not \"fixed\": true",
                  "all " + std::to_string(study.parameters.size()) + " fixed");
  }
  ModelPtr model = LoadModelFile(study.model);
  StageReport r;
  r.stage = StageName(StageId::kCalibrate);
  std::vector<ParameterSpec> specs = study.parameters;
  std::string warm_text;
  if (const std::string warm = WarmStartFile(study, options); !warm.empty()) {
    const WarmStartReport w = ApplyWarmStart(ReadCalibrationFile(warm), &specs);
    warm_text = WarmStartText(w);
    for (const auto& c : w.clamped) r.warnings.push_back("warm start: " + c + " (clamped)");
    if (w.taken.empty() && w.clamped.empty()) {
      r.warnings.push_back("warm start: " + warm +
                           " gives no free parameter of this study a value (it names " +
                           std::to_string(w.unused.size()) +
                           " the study lacks): the fit starts from the study's initial values");
    }
  }
  const ParameterBinding binding(model.get(), specs);
  RequireCurrentSet(StageId::kIngest, study, options, &r.warnings);
  const std::string dataset_dir = SetDir(StageId::kIngest, options);
  Dataset dataset = ReadDatasetFiles(dataset_dir);
  for (const Episode& e : dataset.episodes) {
    ValidateEpisodeChannels(e, model.get(), dataset_dir + ": episode " + e.id);
  }
  DropEstimatedVelocities(&dataset);
  SelectEpisodes(&dataset, options.episodes.empty()
                               ? copt.episodes
                               : ParseEpisodeSelection(options.episodes, "--episodes"));
  if (dataset.episodes.empty()) {
    ThrowExpected(dataset_dir, "at least one usable episode", "none");
  }
  copt.conditions = StudyConditions(study, model.get(), dataset.episodes);
  const Inputs inputs = CurrentInputs(StageId::kCalibrate, study, options);
  OutputSet set(options.out, r.stage);
  r.dir = set.final_dir();
  const CalibrationResult result = Calibrate(model.get(), binding, dataset.episodes, copt);
  // a signal aborts the solve (a Ceres callback): what it left is not a fit
  ThrowIfInterrupted("the fit was stopped; calibration restarts from the beginning when rerun");
  const CalibrationSummary& s = result.summary;
  if (s.status == CalibrationStatus::kPreflightFailed) {
    std::string lines = s.message;
    for (const auto& p : result.preflight) {
      char line[256];
      std::snprintf(line, sizeof(line), "\n  %-24s effect %.3g for a step of %.3g%s",
                    p.name.c_str(), p.effect, p.step, p.ok ? "" : "  <- no effect");
      lines += line;
    }
    throw InputError(study.path + ": parameters: " + lines);
  }
  r.text = warm_text + CalibrationSummaryText(result);
  if (!s.usable()) {
    r.exit_code = 1;
    r.message = "the fit failed (" + s.termination + "): " + s.message;
    return r;
  }
  const SavedModelReport saved =
      SaveCalibratedModel(study.model, binding, result.value, set.File("calibrated_model.xml"));
  const nlohmann::json doc =
      CalibrationDocument(result, binding, study.name, copt, saved, "calibrated_model.xml");
  WriteFileAtomic(set.File("calibration.json"), doc.dump(1) + "\n");
  for (auto& w : CalibrationWarnings(result, saved)) r.warnings.push_back(std::move(w));
  for (auto& w :
       FittedSmoothFrictionWarnings(model.get(), binding, result.value, dataset.episodes)) {
    r.warnings.push_back(std::move(w));
  }
  Manifest manifest = NewManifest(StageId::kCalibrate, study, inputs);
  manifest.seconds["preflight"] = s.preflight_seconds;
  manifest.seconds["solve"] = s.solve_seconds;
  manifest.seconds["covariance"] = s.covariance_seconds;
  Finish(set, std::move(manifest), options, Since(t0), &r);
  return r;
}

StageReport RunSimulate(const Study& study_in, const PipelineOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const Study study = WithThreads(study_in, options);
  if (!study.HasSection("scenarios") || !study.HasSection("task")) {
    ThrowExpected(
        study.path, "scenarios and task sections (what to simulate)",
        std::string("no ") + (study.HasSection("scenarios") ? "task" : "scenarios") + " section");
  }
  // the sections are checked before any output is taken
  const bool want_information = ReadStudySimulateOptions(study).information;
  const std::optional<SafetyOptions> safety = SimulateSafetyOptions(study);
  StageReport r;
  r.stage = StageName(StageId::kSimulate);
  const CalibrationSource source = SimulateCalibration(study, options);
  Posterior posterior;
  nlohmann::json label = nullptr;
  if (source.file.empty()) {
    posterior = Posterior::FromSpecs(study.parameters);
    if (!study.parameters.empty()) {
      r.warnings.push_back("no calibration (no " +
                           StageDir(options.out, StageName(StageId::kCalibrate)) +
                           " set, no simulate.calibration): the parameters are sampled from their "
                           "priors");
    }
  } else {
    if (source.from_set) RequireCurrentSet(StageId::kCalibrate, study, options, &r.warnings);
    posterior = PosteriorFromCalibration(
        ReadCalibrationFile(source.file), study.parameters,
        options.formal_posterior ? PosteriorCovariance::kFormal : PosteriorCovariance::kHonest);
    if (options.formal_posterior) {
      r.warnings.push_back(
          "--formal-posterior: the candidates sample the calibration's formal "
          "covariance, which ignores model error and serial correlation");
    }
    label = source.file;
  }
  const Inputs inputs = CurrentInputs(StageId::kSimulate, study, options);
  // Sensitivities for the plan's information component, when there are parameters.
  const ModelPtr model = LoadModelFile(study.model);
  const ParameterBinding binding(model.get(), study.parameters);
  std::optional<CalibrationFile> file;
  if (!source.file.empty()) file = ReadCalibrationFile(source.file);
  std::optional<InformationSetup> information;
  if (binding.size() > 0 && want_information) {
    information =
        MakeInformationSetup(study, model.get(), binding, posterior, file ? &*file : nullptr);
    r.warnings.insert(r.warnings.end(), information->warnings.begin(), information->warnings.end());
    if (!information->usable) information.reset();
  }
  OutputSet set(options.out, r.stage);
  r.dir = set.final_dir();
  const std::string checkpoint_dir = CheckpointDir(options.out, r.stage);
  SimulateResume resume = ResumeFrom(checkpoint_dir, inputs, options, &r.notes);
  int resume_chunks = 0;
  resume.save = [&](std::int64_t bytes, const SimulateCheckpoint& done) {
    ++resume_chunks;
    // kill points for the tests: chunk n's lines on the disk, its checkpoint not yet
    FaultPoint("simulate.lines." + std::to_string(resume_chunks));
    WriteCheckpoint(checkpoint_dir, CheckpointOf(r.stage, inputs, bytes, done));
    FaultPoint("simulate.chunk." + std::to_string(resume_chunks));
  };
  SimulateStudyResult res;
  try {
    res = SimulateStudy(study, posterior, label, study.threads, options.quiet, set.staging(),
                        &resume, information ? &information->hook : nullptr,
                        information ? information->document : nlohmann::json(nullptr),
                        file ? file->episode_scale : std::map<std::string, std::string>{},
                        safety ? SafetySamplingRule(*safety) : SafetySampling{});
  } catch (const Interrupted& e) {
    std::string why;
    if (!ReadCheckpoint(checkpoint_dir, &why)) {
      RemoveCheckpoint(checkpoint_dir);
      throw;
    }
    throw Interrupted(e.signal(), std::string(e.what()) + "; the finished candidates are kept in " +
                                      checkpoint_dir);
  } catch (...) {
    // a failed run keeps what it saved; one that saved nothing leaves nothing
    std::string why;
    if (!ReadCheckpoint(checkpoint_dir, &why)) RemoveCheckpoint(checkpoint_dir);
    throw;
  }
  const SimulateSummary& s = res.summary;
  const int samples = res.document.at("posterior_samples").get<int>();
  char line[256];
  std::snprintf(
      line, sizeof(line),
      "simulate: %lld candidates x %d samples, %lld diverged, mean success %.3f, %.1f s (%.1f s "
      "information)\n",
      static_cast<long long>(s.candidates), samples, static_cast<long long>(s.diverged),
      s.mean_success, s.seconds, s.information_seconds);
  r.text = line;
  if (s.termination != SimulateSummary::Termination::kDone) {
    RemoveCheckpoint(checkpoint_dir);
    r.exit_code = 1;
    r.message = s.message;
    return r;
  }
  if (s.diverged > 0) {
    r.warnings.push_back(std::to_string(s.diverged) + " of " + std::to_string(s.rollouts) +
                         " rollouts diverged (counted as failures and as unsafe)");
  }
  if (information) {
    const nlohmann::json& info = res.document.at("information");
    const std::int64_t with = info.at("candidates").get<std::int64_t>();
    if (with < s.candidates) {
      r.warnings.push_back(std::to_string(s.candidates - with) + " of " +
                           std::to_string(s.candidates) +
                           " candidates have no information about the parameters, e.g. " +
                           info.at("first_error").get<std::string>());
    }
  }
  Manifest manifest = NewManifest(StageId::kSimulate, study, inputs);
  manifest.seconds["simulate"] = s.seconds;
  if (information) manifest.seconds["information"] = s.information_seconds;
  // interrupted here, the checkpoint holds every candidate: --resume publishes at once
  Finish(set, std::move(manifest), options, Since(t0), &r);
  // published, or failed under --strict: a rerun does not need what was saved
  RemoveCheckpoint(checkpoint_dir);
  return r;
}

}  // namespace nextbatch::pipeline_internal
