// The replay stage: scores the calibrate set's fit on logged episodes (the ingest set's, or those
// named) by open-loop replay over windows, beside the study's initial values, a model that holds
// still and the study's reference parameter sets, with the posterior predictive band of the fit.
// Publishes out/replay/: replay.json, windows.csv, traces.csv and one plot per episode.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "calibration/calibration.h"
#include "calibration/calibration_json.h"
#include "calibration/replay.h"
#include "engine/atomic_file.h"
#include "engine/dataset.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/model.h"
#include "engine/output_set.h"
#include "engine/posterior.h"
#include "engine/svg_plot.h"
#include "pipeline/internal.h"

namespace nextbatch::pipeline_internal {
namespace {
namespace fs = std::filesystem;

// The study's "replay" section.
struct ReplaySection {
  double window_seconds = 0.3;
  std::string references;  // resolved path, "" for none
  int band_samples = 100;
  double band_level = 0.95;
  bool band_start_state = true;  // draws perturb each window's start state by its uncertainty
  // the band carries the model error the fit's own episodes' windows show (FitBandDiscrepancy)
  bool band_discrepancy = true;
};

ReplaySection ReadReplaySection(const Study& study) {
  ReplaySection s;
  if (!study.HasSection("replay")) return s;
  const JsonReader r = study.Section("replay");
  s.window_seconds = r.Number("window_seconds", s.window_seconds);
  if (!(s.window_seconds > 0) || !std::isfinite(s.window_seconds)) {
    ThrowExpected(r.Where("window_seconds"), "a duration > 0 (seconds)",
                  FormatNumber(s.window_seconds));
  }
  if (r.Has("references")) s.references = study.Resolve(r.String("references"));
  s.band_samples = r.Integer("band_samples", s.band_samples);
  if (s.band_samples < 2 || s.band_samples > 100000) {
    ThrowExpected(r.Where("band_samples"), "an integer in [2, 100000]",
                  std::to_string(s.band_samples));
  }
  s.band_level = r.Number("band_level", s.band_level);
  if (!(s.band_level > 0 && s.band_level < 1)) {
    ThrowExpected(r.Where("band_level"), "a probability in (0, 1)", FormatNumber(s.band_level));
  }
  s.band_start_state = r.Bool("band_start_state", s.band_start_state);
  s.band_discrepancy = r.Bool("band_discrepancy", s.band_discrepancy);
  r.CheckAllRead();
  return s;
}

double Median(std::vector<double> v) { return Quantile(&v, 0.5); }

std::string G(double v, const char* format = "%.6g") {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char b[64];
  std::snprintf(b, sizeof(b), format, v);
  return b;
}

nlohmann::json Num(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

// One scored parameter set: its name and the max error of every window.
struct Scored {
  std::string name;
  std::vector<double> errors;  // per window (infinity where the replay diverged)
};

// The plot of one episode: per joint, the logged positions, the calibrated replay (a piece per
// window) and the predictive band.
std::string EpisodePlot(const std::string& id, const Episode& e, const PredictiveBand& band,
                        int episode, double level) {
  const ReplayTraces& t = band.calibrated;
  std::vector<SvgPanel> panels(t.channels.size());
  for (std::size_t c = 0; c < panels.size(); ++c) {
    panels[c].title = t.channels[c];
    panels[c].y_label = "position";
    panels[c].bands.push_back({G(100 * level, "%.0f") + " % band", "#1f77b4", {}, {}, {}});
    panels[c].lines.push_back({"logged", "black", {}, {}});
    panels[c].lines.push_back({"calibrated", "#d62728", {}, {}});
  }
  for (std::size_t w = 0; w < t.windows.size(); ++w) {
    const TraceWindow& win = t.windows[w];
    if (win.episode != episode) continue;
    for (auto& p : panels) {
      p.bands[0].x.emplace_back();
      p.bands[0].low.emplace_back();
      p.bands[0].high.emplace_back();
      for (auto& l : p.lines) {
        l.x.emplace_back();
        l.y.emplace_back();
      }
    }
    for (std::size_t r = 0; r < win.sample.size(); ++r) {
      SvgPanel& p = panels[win.channel[r]];
      const double time = e.time[win.sample[r]];
      p.bands[0].x.back().push_back(time);
      p.bands[0].low.back().push_back(band.windows[w].low[r]);
      p.bands[0].high.back().push_back(band.windows[w].high[r]);
      p.lines[0].x.back().push_back(time);
      p.lines[0].y.back().push_back(win.logged[r]);
      p.lines[1].x.back().push_back(time);
      p.lines[1].y.back().push_back(win.ok ? win.simulated[r] : NAN);
    }
  }
  return SvgPlot(panels, "replay of " + id + ": open loop from the logged state of each window",
                 "time (s)");
}

}  // namespace

std::string ReplayReferencesFile(const Study& study) {
  if (!study.HasSection("replay")) return "";
  const nlohmann::json& r = study.doc.at("replay");
  if (!r.is_object() || !r.contains("references") || !r.at("references").is_string()) return "";
  return study.Resolve(r.at("references").get<std::string>());
}

StageReport RunReplay(const Study& study_in, const PipelineOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const Study study = WithThreads(study_in, options);
  const ReplaySection section = ReadReplaySection(study);
  const CalibrationOptions copt = ReadCalibrationOptions(study);
  if (study.parameters.empty()) {
    ThrowExpected(study.path + ": parameters", "the parameters the calibration fitted", "none");
  }
  ModelPtr model = LoadModelFile(study.model);
  const ParameterBinding binding(model.get(), study.parameters);
  std::vector<ReferenceSet> references;
  if (!section.references.empty()) {
    references = ReadReferenceSets(section.references, study.parameters);
  }

  StageReport r;
  r.stage = StageName(StageId::kReplay);
  // the episodes named here select what is replayed, not what calibrate fitted
  PipelineOptions upstream = options;
  upstream.episodes.clear();
  RequireCurrentSet(StageId::kCalibrate, study, upstream, &r.warnings);
  RequireCurrentSet(StageId::kIngest, study, upstream, &r.warnings);
  const std::string dataset_dir = SetDir(StageId::kIngest, options);
  Dataset dataset = ReadDatasetFiles(dataset_dir);
  for (const Episode& e : dataset.episodes) {
    ValidateEpisodeChannels(e, model.get(), dataset_dir + ": episode " + e.id);
  }
  DropEstimatedVelocities(&dataset);
  const Dataset all_episodes = dataset;
  KeepEpisodes(&dataset, options.episodes, "--episodes");
  if (dataset.episodes.empty()) ThrowExpected(dataset_dir, "at least one episode", "none");
  const std::string calibration_path =
      (fs::path(SetDir(StageId::kCalibrate, options)) / "calibration.json").string();
  const CalibrationFile file = ReadCalibrationFile(calibration_path);
  const Posterior posterior = PosteriorFromCalibration(
      file, study.parameters,
      options.formal_posterior ? PosteriorCovariance::kFormal : PosteriorCovariance::kHonest);

  ReplaySetup setup;
  setup.window_seconds = options.replay_window.value_or(section.window_seconds);
  setup.state_window = copt.state_window;
  setup.hold = copt.control_hold;
  setup.episode_scale = file.episode_scale;
  setup.threads = study.threads;
  const EpisodeConditions conditions = StudyConditions(study, model.get(), dataset.episodes);
  setup.conditions = &conditions;
  BandOptions band_options;
  band_options.samples = section.band_samples;
  band_options.level = section.band_level;
  band_options.seed = study.seed;
  band_options.start_state = section.band_start_state;
  band_options.noise_std = file.noise;
  const double scale = std::isfinite(file.residual_scale) ? std::sqrt(file.residual_scale) : 0.0;
  if (!std::isfinite(file.residual_scale)) {
    r.warnings.push_back(calibration_path +
                         " has no error_model.residual_scale: the band holds the parameters' "
                         "and start states' uncertainty only, not the fit's residual error");
  }
  for (const auto& [channel, sigma] : file.noise) {
    if (channel.rfind("qpos:", 0) == 0) band_options.residual_std[channel] = scale * sigma;
  }
  if (band_options.residual_std.empty() && !file.noise.empty()) {
    // a torque fit's levels are forces: nothing to put on the replayed positions
    r.warnings.push_back(calibration_path +
                         " has no noise level for joint positions (a torque fit's are forces): "
                         "the band holds no per-sample residual term, only the parameters', start "
                         "states' and the discrepancy term's uncertainty");
  }

  // The draws carry the parameters', start states' and per-sample residual uncertainty, not the
  // model error that builds up over a window; the fit's own episodes show how much of it there
  // is: a discrepancy term that covers `level` of their windows (never a narrower band).
  BandDiscrepancy discrepancy;
  std::vector<std::string> fitted_ids;
  if (section.band_discrepancy) {
    std::vector<Episode> fitted;
    for (const std::string& id : file.fitted_episodes) {
      auto it = std::find_if(all_episodes.episodes.begin(), all_episodes.episodes.end(),
                             [&id](const Episode& e) { return e.id == id; });
      if (it == all_episodes.episodes.end()) {
        r.warnings.push_back("episode " + id + " of " + calibration_path +
                             " is not in the ingest set: left out of the band's discrepancy term");
        continue;
      }
      fitted.push_back(*it);
      fitted_ids.push_back(id);
    }
    if (fitted.empty()) {
      r.warnings.push_back(calibration_path +
                           " names no fitted episode of the ingest set: the band is the "
                           "draws' own, without the model error the fit's episodes show");
    } else {
      ReplaySetup fitted_setup = setup;
      const EpisodeConditions fitted_conditions = StudyConditions(study, model.get(), fitted);
      fitted_setup.conditions = &fitted_conditions;
      discrepancy = FitBandDiscrepancy(ComputePredictiveBand(model.get(), binding, posterior,
                                                             fitted, fitted_setup, band_options),
                                       band_options.level);
      band_options.discrepancy = discrepancy.radius;
    }
  }

  const std::vector<Episode>& episodes = dataset.episodes;
  const PredictiveBand band =
      ComputePredictiveBand(model.get(), binding, posterior, episodes, setup, band_options);
  const std::vector<TraceWindow>& windows = band.calibrated.windows;
  std::vector<Scored> sets;
  auto add = [&](const std::string& name, const ReplayError& e) {
    Scored s{name, {}};
    for (const ReplayWindow& w : e.windows) s.errors.push_back(w.max_error);
    NB_CHECK(s.errors.size() == windows.size());
    sets.push_back(std::move(s));
  };
  add("calibrated", band.calibrated.error);
  auto replay = [&](const Eigen::VectorXd& values) {
    return ComputeReplayError(model.get(), binding, values, episodes, setup.window_seconds,
                              setup.threads, setup.hold, setup.episode_scale, setup.state_window,
                              setup.conditions);
  };
  add("initial", replay(binding.Initial()));
  add("hold_still",
      ComputeHoldStillError(model.get(), episodes, setup.window_seconds, setup.state_window));
  for (const ReferenceSet& ref : references) {
    for (const Scored& s : sets) {
      if (s.name == ref.name) {
        ThrowExpected(section.references + ": sets",
                      "names other than calibrated, initial, "
                      "hold_still",
                      "\"" + ref.name + "\"");
      }
    }
    add(ref.name, replay(ref.values));
  }

  const Inputs inputs = CurrentInputs(StageId::kReplay, study, options);
  OutputSet set(options.out, r.stage);
  r.dir = set.final_dir();

  // replay.json and windows.csv
  std::string csv = "episode,start_time";
  for (const Scored& s : sets) csv += "," + s.name;
  csv += ",band_radius,covered,inside_share\n";
  nlohmann::json eps = nlohmann::json::array();
  char line[256];
  std::snprintf(line, sizeof(line),
                "replay: %zu episode(s), %zu windows of %g s; median over windows of the largest "
                "|position error|\n",
                episodes.size(), windows.size(), setup.window_seconds);
  std::string text = line;
  std::snprintf(line, sizeof(line), "  %-18s %7s", "episode", "windows");
  text += line;
  for (const Scored& s : sets) {
    std::snprintf(line, sizeof(line), " %14.14s", s.name.c_str());
    text += line;
  }
  text += "   band covers\n";
  auto row = [&](const std::string& id, const std::vector<int>& idx, nlohmann::json* medians) {
    std::snprintf(line, sizeof(line), "  %-18.18s %7zu", id.c_str(), idx.size());
    text += line;
    for (const Scored& s : sets) {
      std::vector<double> v;
      for (int w : idx) v.push_back(s.errors[w]);
      const double m = Median(v);
      (*medians)[s.name] = Num(m);
      std::snprintf(line, sizeof(line), " %14.5g", m);
      text += line;
    }
    int covered = 0, judged = 0;
    for (int w : idx) {
      if (!std::isfinite(band.windows[w].radius)) continue;
      ++judged;
      covered += band.windows[w].covered;
    }
    std::snprintf(line, sizeof(line), "   %5.1f %% (%d/%d)\n",
                  judged ? 100.0 * covered / judged : NAN, covered, judged);
    text += line;
    return judged ? static_cast<double>(covered) / judged : NAN;
  };
  for (std::size_t e = 0; e < episodes.size(); ++e) {
    std::vector<int> idx;
    nlohmann::json ws = nlohmann::json::array();
    for (std::size_t w = 0; w < windows.size(); ++w) {
      if (windows[w].episode != static_cast<int>(e)) continue;
      idx.push_back(static_cast<int>(w));
      nlohmann::json errors = nlohmann::json::object();
      csv += episodes[e].id + "," + G(windows[w].start_time, "%.9g");
      for (const Scored& s : sets) {
        errors[s.name] = Num(s.errors[w]);
        csv += "," + G(s.errors[w]);
      }
      const BandWindow& b = band.windows[w];
      csv += "," + G(b.radius) + "," + (std::isfinite(b.radius) ? (b.covered ? "1" : "0") : "") +
             "," + G(b.inside, "%.4f") + "\n";
      ws.push_back({{"start_time", windows[w].start_time},
                    {"errors", errors},
                    {"band_radius", Num(b.radius)},
                    {"covered", std::isfinite(b.radius) ? nlohmann::json(b.covered) : nullptr},
                    {"inside_share", Num(b.inside)},
                    {"band_draws", b.draws}});
    }
    nlohmann::json medians = nlohmann::json::object();
    const double coverage = row(episodes[e].id, idx, &medians);
    eps.push_back({{"id", episodes[e].id},
                   {"windows", ws},
                   {"median", medians},
                   {"coverage", Num(coverage)},
                   {"plot", "replay_" + episodes[e].id + ".svg"}});
  }
  std::vector<int> all(windows.size());
  for (std::size_t w = 0; w < all.size(); ++w) all[w] = static_cast<int>(w);
  nlohmann::json medians = nlohmann::json::object();
  if (episodes.size() > 1) {
    row("all", all, &medians);
  } else {
    std::string keep = text;
    row("all", all, &medians);
    text = keep;
  }
  if (section.band_discrepancy && discrepancy.windows > 0) {
    text += "band discrepancy " + G(discrepancy.radius, "%.4g") + ": the draws' band covers " +
            G(100 * discrepancy.coverage, "%.1f") + " % of the " +
            std::to_string(discrepancy.windows) + " windows of the fitted episodes" +
            (discrepancy.radius > 0 ? "; this model error added in quadrature covers " +
                                          G(100 * band_options.level, "%g") + " %\n"
                                    : ": no model error to add\n");
  }
  text += "band: " + std::to_string(band_options.samples) + " draws of the " +
          (options.formal_posterior ? "formal" : "honest") +
          " posterior, with start-state uncertainty and the fit's residual error (residual "
          "scale " +
          G(file.residual_scale, "%.4g") + ")" +
          (band_options.discrepancy > 0 ? " and the discrepancy term" : "") +
          "; covered: the window's largest |logged - calibrated| is within its radius, the " +
          G(100 * band_options.level, "%g") + " % quantile of the draws'" +
          (band_options.discrepancy > 0 ? " with the discrepancy in quadrature" : "") + " (" +
          G(100 * band.coverage, "%.1f") + " % of windows; " +
          G(100 * band.pointwise_coverage, "%.1f") + " % of samples inside the pointwise band)\n";
  if (band.diverged > 0) {
    r.warnings.push_back(std::to_string(band.diverged) + " window replays of the band's draws " +
                         "diverged (left out of the band's quantiles)");
  }
  for (const Scored& s : sets) {
    for (std::size_t w = 0; w < windows.size(); ++w) {
      if (!std::isfinite(s.errors[w])) {
        r.warnings.push_back("the " + s.name + " replay diverged in episode " +
                             episodes[windows[w].episode].id + " at " + G(windows[w].start_time) +
                             " s");
        break;
      }
    }
  }

  nlohmann::json residual_std = nlohmann::json::object();
  for (const auto& [c, v] : band_options.residual_std) residual_std[c] = v;
  nlohmann::json set_names = nlohmann::json::array();
  for (const Scored& s : sets) set_names.push_back(s.name);
  nlohmann::json refs = nlohmann::json::array();
  for (const ReferenceSet& ref : references) refs.push_back({{"name", ref.name}, {"how", ref.how}});
  const nlohmann::json doc = {
      {"schema", "nextbatch.replay/1"},
      {"study", study.name},
      {"calibration", calibration_path},
      {"window_seconds", setup.window_seconds},
      {"error", "largest |simulated - logged| joint position over the window's samples"},
      {"sets", set_names},
      {"references", refs},
      {"band",
       {{"level", band_options.level},
        {"samples", band_options.samples},
        {"seed", band_options.seed},
        {"posterior", options.formal_posterior ? "formal" : "honest"},
        {"start_state", band_options.start_state},
        {"residual_scale", Num(file.residual_scale)},
        {"residual_std", residual_std},
        {"discrepancy", band_options.discrepancy},
        {"discrepancy_from_fit",
         {{"used", section.band_discrepancy},
          {"episodes", fitted_ids},
          {"windows", discrepancy.windows},
          {"coverage_without", Num(discrepancy.coverage)},
          {"needed", Num(discrepancy.needed)}}},
        {"covered",
         "the window's largest |logged - calibrated replay| is at most its band_radius, "
         "sqrt(q^2 + discrepancy^2), q the level quantile over the draws of their largest "
         "|draw - calibrated replay| (a simultaneous band)"}}},
      {"summary",
       {{"windows", windows.size()},
        {"median", medians},
        {"coverage", Num(band.coverage)},
        {"pointwise_coverage", Num(band.pointwise_coverage)},
        {"diverged_draws", band.diverged}}},
      {"episodes", eps}};
  WriteFileAtomic(set.File("replay.json"), doc.dump(1) + "\n");
  WriteFileAtomic(set.File("windows.csv"), csv);

  // traces.csv: one row per logged joint position sample of every window
  std::string traces = "episode,window_start,time,channel,logged,calibrated,band_low,band_high\n";
  for (std::size_t w = 0; w < windows.size(); ++w) {
    const TraceWindow& win = windows[w];
    const Episode& e = episodes[win.episode];
    const std::string head = e.id + "," + G(win.start_time, "%.9g") + ",";
    for (std::size_t k = 0; k < win.sample.size(); ++k) {
      traces += head + G(e.time[win.sample[k]], "%.9g") + "," +
                band.calibrated.channels[win.channel[k]] + "," + G(win.logged[k], "%.9g") + "," +
                (win.ok ? G(win.simulated[k], "%.9g") : "nan") + "," +
                G(band.windows[w].low[k], "%.9g") + "," + G(band.windows[w].high[k], "%.9g") + "\n";
    }
  }
  WriteFileAtomic(set.File("traces.csv"), traces);
  for (std::size_t e = 0; e < episodes.size(); ++e) {
    WriteFileAtomic(
        set.File("replay_" + episodes[e].id + ".svg"),
        EpisodePlot(episodes[e].id, episodes[e], band, static_cast<int>(e), band_options.level));
  }
  r.text = text;
  Finish(set, NewManifest(StageId::kReplay, study, inputs), options, Since(t0), &r);
  return r;
}

}  // namespace nextbatch::pipeline_internal
