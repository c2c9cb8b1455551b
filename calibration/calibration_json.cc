#include "calibration/calibration_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "engine/error.h"

namespace nextbatch {
namespace {

nlohmann::json Num(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

std::string FormatShort(double x) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", x);
  return text;
}

nlohmann::json Replay(const ReplayError& r) {
  nlohmann::json windows = nlohmann::json::array();
  for (const auto& w : r.windows) {
    windows.push_back({{"episode", w.episode},
                       {"start_time", w.start_time},
                       {"max_error", Num(w.max_error)},
                       {"ok", w.ok}});
  }
  return {{"median_max_error", Num(r.median)}, {"windows", windows}};
}

// A physical 10-vector as the study states it: {mass, com [3], inertia [6]}.
nlohmann::json Physical(const InertialVector& v) {
  nlohmann::json com = nlohmann::json::array(), inertia = nlohmann::json::array();
  for (int k = 1; k < 4; ++k) com.push_back(Num(v[k]));
  for (int k = 4; k < kInertialSize; ++k) inertia.push_back(Num(v[k]));
  return {{"mass", Num(v[0])}, {"com", com}, {"inertia", inertia}};
}

// The inverse of Physical; null entries are NaN.
InertialVector ReadPhysical(const JsonReader& r, const std::string& key) {
  const JsonReader o = r.Object(key);
  InertialVector v;
  auto number = [](const nlohmann::json& x, const std::string& where) {
    if (x.is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (!x.is_number()) ThrowExpected(where, "a number or null", Describe(x));
    return x.get<double>();
  };
  v[0] = number(o.Raw("mass"), o.Where("mass"));
  const nlohmann::json& com = o.Raw("com");
  const nlohmann::json& inertia = o.Raw("inertia");
  if (!com.is_array() || com.size() != 3) ThrowExpected(o.Where("com"), "3 numbers", Describe(com));
  if (!inertia.is_array() || inertia.size() != 6) {
    ThrowExpected(o.Where("inertia"), "6 numbers", Describe(inertia));
  }
  for (int k = 0; k < 3; ++k) v[1 + k] = number(com[k], o.Where("com"));
  for (int k = 0; k < 6; ++k) v[4 + k] = number(inertia[k], o.Where("inertia"));
  return v;
}

}  // namespace

CalibrationOptions ReadCalibrationOptions(const JsonReader& r) {
  CalibrationOptions o;
  o.segment_seconds = r.Number("segment_seconds", o.segment_seconds);
  o.state_window = r.Number("state_window", o.state_window);
  const std::string loss = r.Choice("loss", {"huber", "cauchy", "none"}, ToString(o.loss));
  o.loss = loss == "huber"    ? LossType::kHuber
           : loss == "cauchy" ? LossType::kCauchy
                              : LossType::kNone;
  o.loss_scale = r.Number("loss_scale", o.loss_scale);
  o.max_iterations = r.Integer("max_iterations", o.max_iterations);
  o.step_tolerance = r.Number("step_tolerance", o.step_tolerance);
  if (r.Has("projection_after")) {
    o.projection_after = r.Integer("projection_after");
    if (o.projection_after < 0) {
      ThrowExpected(r.Where("projection_after"),
                    "an integer >= 0 (Ceres iterations; 0: no projected steps)",
                    std::to_string(o.projection_after));
    }
  }
  if (r.Has("noise")) {
    const nlohmann::json& v = r.Raw("noise");
    if (v.is_string()) {
      if (v.get<std::string>() != "estimate") {
        ThrowExpected(r.Where("noise"), "\"estimate\" or an object {channel: std}", Describe(v));
      }
    } else if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!it->is_number() || !(it->get<double>() > 0)) {
          ThrowExpected(r.Where("noise") + "." + it.key(), "a standard deviation > 0",
                        Describe(*it));
        }
        o.noise[it.key()] = it->get<double>();
      }
    } else {
      ThrowExpected(r.Where("noise"), "\"estimate\" or an object {channel: std}", Describe(v));
    }
  }
  o.held_out_fraction = r.Number("held_out_fraction", o.held_out_fraction);
  if (r.Has("torque_window")) {
    const nlohmann::json& v = r.Raw("torque_window");
    if (v.is_string() && v.get<std::string>() == "auto") {
      o.torque_window = 0.0;
    } else if (v.is_number() && v.get<double>() > 0) {
      o.torque_window = v.get<double>();
    } else {
      ThrowExpected(r.Where("torque_window"), "a duration > 0 (s) or \"auto\"", Describe(v));
    }
  }
  o.torque_min_speed = r.Number("torque_min_speed", o.torque_min_speed);
  o.outlier_threshold = r.Number("outlier_threshold", o.outlier_threshold);
  o.refit_without_outliers = r.Bool("refit_without_outliers", o.refit_without_outliers);
  if (r.Has("channels")) {
    std::vector<std::string> channels = r.Strings("channels");
    std::set<std::string> seen;
    o.fit_qpos = o.fit_qvel = o.fit_sensors = false;
    for (const auto& c : channels) {
      if (c != "qpos" && c != "qvel" && c != "sensors" && c != "torque") {
        ThrowExpected(r.Where("channels"), "qpos, qvel, sensors or torque", "\"" + c + "\"");
      }
      if (!seen.insert(c).second)
        ThrowExpected(r.Where("channels"), "each channel once", "\"" + c + "\" twice");
      o.fit_qpos = o.fit_qpos || c == "qpos";
      o.fit_qvel = o.fit_qvel || c == "qvel";
      o.fit_sensors = o.fit_sensors || c == "sensors";
      o.fit_torque = o.fit_torque || c == "torque";
    }
    if (o.fit_torque && channels.size() > 1) {
      ThrowExpected(r.Where("channels"),
                    "\"torque\" alone (an equation-error fit), or any of "
                    "qpos, qvel, sensors",
                    r.Raw("channels").dump());
    }
    if (channels.empty())
      ThrowExpected(r.Where("channels"), "at least one of qpos, qvel, sensors", "[]");
  }
  o.control_hold = r.Choice("control_hold", {"linear", "zero_order"}, "linear") == "zero_order"
                       ? ControlHold::kZeroOrder
                       : ControlHold::kLinear;
  o.preflight_min_effect = r.Number("preflight_min_effect", o.preflight_min_effect);
  o.threads = r.Integer("threads", o.threads);
  if (r.Has("episode_scale")) {
    JsonReader s = r.Object("episode_scale");
    for (const auto& [name, key] : r.Raw("episode_scale").items()) {
      o.episode_scale[name] = s.String(name);
    }
    s.CheckAllRead();
  }
  if (r.Has("starts")) {
    const nlohmann::json& v = r.Raw("starts");
    if (!v.is_array()) {
      ThrowExpected(r.Where("starts"), "an array of objects {parameter: value}", Describe(v));
    }
    for (std::size_t k = 0; k < v.size(); ++k) {
      const std::string where = r.Where("starts") + "[" + std::to_string(k) + "]";
      if (!v[k].is_object()) ThrowExpected(where, "an object {parameter: value}", Describe(v[k]));
      std::map<std::string, double> start;
      for (auto it = v[k].begin(); it != v[k].end(); ++it) {
        if (!it->is_number() || !std::isfinite(it->get<double>())) {
          ThrowExpected(where + "." + it.key(), "a number", Describe(*it));
        }
        start[it.key()] = it->get<double>();
      }
      o.starts.push_back(start);
    }
  }
  if (r.Has("episodes")) o.episodes = ReadEpisodeSelection(r, "episodes");
  if (r.Has("warm_start")) {
    const std::string path = r.String("warm_start");
    if (path.empty()) ThrowExpected(r.Where("warm_start"), "a calibration.json path", "\"\"");
    // Relative to the study, as every path in it.
    o.warm_start =
        (std::filesystem::path(r.file()).parent_path() / path).lexically_normal().string();
  }
  r.CheckAllRead();
  if (std::string e = o.Validate(); !e.empty()) throw InputError(r.file() + ": " + e);
  return o;
}

CalibrationOptions ReadCalibrationOptions(const Study& study) {
  if (!study.HasSection("calibration")) {
    CalibrationOptions o;
    o.threads = study.threads;
    return o;
  }
  JsonReader r = study.Section("calibration");
  const bool threads_given = r.Has("threads");
  CalibrationOptions o = ReadCalibrationOptions(r);
  if (!threads_given) o.threads = study.threads;
  return o;
}

nlohmann::json CalibrationToJson(const CalibrationResult& res, const ParameterBinding& binding,
                                 const std::string& study_name) {
  const CalibrationSummary& s = res.summary;
  nlohmann::json params = nlohmann::json::array();
  std::set<std::string> weak(res.identifiability.unidentifiable.begin(),
                             res.identifiability.unidentifiable.end());
  for (std::size_t j = 0; j < res.names.size(); ++j) {
    const ParameterSpec& spec = binding.spec(static_cast<int>(j));
    params.push_back({{"name", res.names[j]},
                      {"value", Num(res.value[j])},
                      {"std", Num(res.std[j])},
                      {"initial", Num(res.initial[j])},
                      {"bounds",
                       {Num(Bounded(spec.lower) ? spec.lower : NAN),
                        Num(Bounded(spec.upper) ? spec.upper : NAN)}},
                      {"at_bound", static_cast<bool>(res.at_bound[j])},
                      {"identifiable", weak.count(res.names[j]) == 0},
                      {"targets", spec.targets}});
    nlohmann::json& p = params.back();
    if (j < static_cast<std::size_t>(res.honest_std.size()))
      p["honest_std"] = Num(res.honest_std[j]);
    if (j < res.fixed.size()) p["fixed"] = static_cast<bool>(res.fixed[j]);
    if (j < res.determined_by.size()) p["determined_by"] = res.determined_by[j];
    if (j < static_cast<std::size_t>(res.prior_share.size()) && spec.prior_std > 0) {
      p["prior_share"] = Num(res.prior_share[j]);
    }
  }
  // A correlation is written with an exact unit diagonal and entries within [-1, 1]: rounding
  // in the covariance's scaling must not produce a file the reader refuses.
  Eigen::MatrixXd correlation = res.correlation;
  for (int i = 0; i < correlation.rows(); ++i) {
    for (int j = 0; j < correlation.cols(); ++j) {
      double& c = correlation(i, j);
      if (std::isfinite(c)) c = i == j ? 1.0 : std::clamp(c, -1.0, 1.0);
    }
  }
  auto matrix = [](const Eigen::MatrixXd& m) {
    nlohmann::json rows = nlohmann::json::array();
    for (int i = 0; i < m.rows(); ++i) {
      nlohmann::json row = nlohmann::json::array();
      for (int j = 0; j < m.cols(); ++j) row.push_back(Num(m(i, j)));
      rows.push_back(row);
    }
    return rows;
  };
  nlohmann::json costs = nlohmann::json::array();
  for (double c : s.start_costs) costs.push_back(Num(c));
  nlohmann::json episodes = nlohmann::json::array();
  for (const auto& e : res.episodes) {
    episodes.push_back({{"id", e.id},
                        {"rms", Num(e.rms)},
                        {"typical", Num(e.typical)},
                        {"residuals", e.residuals},
                        {"relative", Num(e.relative)},
                        {"outlier", e.outlier},
                        {"excluded", e.excluded},
                        {"reason", e.reason}});
  }
  nlohmann::json pre = nlohmann::json::array();
  for (const auto& p : res.preflight) {
    pre.push_back({{"name", p.name}, {"effect", Num(p.effect)}, {"step", p.step}, {"ok", p.ok}});
  }
  nlohmann::json weak_dirs = nlohmann::json::array();
  for (const auto& w : res.identifiability.weak) {
    nlohmann::json comb = nlohmann::json::object();
    for (const auto& [name, weight] : w.combination) comb[name] = weight;
    weak_dirs.push_back({{"eigenvalue", w.eigenvalue}, {"combination", comb}});
  }
  nlohmann::json eig = nlohmann::json::array();
  for (int k = 0; k < res.identifiability.eigenvalues.size(); ++k) {
    eig.push_back(res.identifiability.eigenvalues[k]);
  }
  nlohmann::json noise = nlohmann::json::object();
  for (const auto& [name, sigma] : res.noise) noise[name] = sigma;
  const ErrorModel& em = res.error_model;
  nlohmann::json honest_std = nlohmann::json::array();
  for (int j = 0; j < res.honest_std.size(); ++j) honest_std.push_back(Num(res.honest_std[j]));
  nlohmann::json excluded = nlohmann::json::array();
  for (const auto& e : res.episodes) {
    if (e.excluded) excluded.push_back(e.id);
  }
  nlohmann::json scan = nlohmann::json::array();
  for (const auto& [window, error] : s.torque_window_scan) {
    scan.push_back({{"window", window}, {"replay_error_after", Num(error)}});
  }
  nlohmann::json doc = {
      {"schema", "nextbatch.calibration/1"},
      {"study", study_name},
      {"status", ToString(s.status)},
      {"parameters", params},
      {"correlation", matrix(correlation)},
      {"covariance", matrix(res.covariance)},
      {"information", matrix(res.information)},
      {"error_model",
       {{"residual_scale", Num(em.residual_scale)},
        {"robust_scale", Num(em.robust_scale)},
        {"serial_correlation", Num(em.serial_correlation)},
        {"effective_residuals", Num(em.effective_residuals)},
        {"between_episode", Num(em.between_episode)},
        {"clustering", em.clustering},
        {"clusters", em.clusters},
        {"segments", em.segments},
        {"episodes", em.episodes},
        {"small_sample", Num(em.small_sample)},
        {"inflation", Num(em.inflation)},
        {"data_weight", Num(em.data_weight)},
        {"discrepancy", em.discrepancy}}},
      {"noise", noise},
      {"sample_seconds", Num(res.sample_seconds)},
      {"episodes", episodes},
      {"fit",
       {{"initial_cost", Num(s.initial_cost)},
        {"final_cost", Num(s.final_cost)},
        {"iterations", s.iterations},
        {"projected_steps", s.projected_steps},
        {"termination", s.termination},
        {"stopped_by", s.stopped_by},
        {"initial_step", Num(s.initial_step)},
        {"remaining_step", Num(s.remaining_step)},
        {"message", s.message},
        {"reduced_chi2", Num(s.reduced_chi2)},
        {"residuals", s.residuals},
        {"unknowns", s.unknowns},
        {"segments", s.segments},
        {"refit", s.refit},
        {"excluded_episodes", excluded},
        {"first_pass_cost", Num(s.first_pass_cost)},
        {"refit_initial_cost", Num(s.refit_initial_cost)},
        {"prior_weight", Num(s.prior_weight)},
        {"torque_window", Num(s.torque_window)},
        {"torque_window_scan", scan},
        {"warnings", s.warnings},
        {"start", s.start},
        // no timings: the set's files are the same on every run (the manifest has them)
        {"start_costs", costs}}},
      {"validation",
       {{"held_out_segments", s.held_out_segments},
        {"replay_error_before", Num(res.replay_before.median)},
        {"replay_error_after", Num(res.replay_after.median)},
        {"replay_error_hold_still", Num(res.replay_hold_still.median)},
        {"before", Replay(res.replay_before)},
        {"after", Replay(res.replay_after)},
        {"hold_still", Replay(res.replay_hold_still)}}},
      {"identifiability",
       {{"eigenvalues", eig},
        {"condition_number", Num(res.identifiability.condition_number)},
        {"weak_directions", weak_dirs},
        {"unidentifiable", res.identifiability.unidentifiable},
        {"held_by_prior", res.identifiability.held_by_prior},
        {"held_by_bounds", res.identifiability.held_by_bounds}}},
      {"preflight", pre},
  };
  // Grouped inertials in physical units (the coordinates above are what a posterior samples).
  if (!res.inertials.empty()) {
    nlohmann::json inertials = nlohmann::json::array();
    for (const InertialEstimate& e : res.inertials) {
      nlohmann::json coordinates = nlohmann::json::array();
      for (int k = 0; k < kInertialSize; ++k) coordinates.push_back(res.names[e.first + k]);
      inertials.push_back({{"name", e.name},
                           {"body", e.body},
                           {"coordinates", coordinates},
                           {"value", Physical(e.value)},
                           {"std", Physical(e.std)},
                           {"honest_std", Physical(e.honest_std)},
                           {"initial", Physical(e.initial)}});
    }
    doc["inertials"] = inertials;
  }
  // a result without an error model (none computed) has no honest posterior to write
  if (res.honest_covariance.rows() == static_cast<Eigen::Index>(res.names.size()) &&
      res.honest_covariance.cols() == res.honest_covariance.rows()) {
    doc["honest"] = {{"std", honest_std}, {"covariance", matrix(res.honest_covariance)}};
  }
  return doc;
}

std::string CalibrationSummaryText(const CalibrationResult& res) {
  const CalibrationSummary& s = res.summary;
  std::string out;
  char line[512];
  // Costs are compared on the same data only: the first fit's, then the refit's.
  char projected[48] = "";
  if (s.projected_steps > 0)
    std::snprintf(projected, sizeof(projected), " (%d of them projected steps)", s.projected_steps);
  std::snprintf(line, sizeof(line), "calibration: %s (%s), %d iterations%s, cost %.6g -> %.6g\n",
                ToString(s.status), s.termination.c_str(), s.iterations, projected, s.initial_cost,
                s.refit ? s.first_pass_cost : s.final_cost);
  out += line;
  // Which rule stopped the fit, and how far its local model says the optimum still is.
  char step[96] = "";
  if (std::isfinite(s.remaining_step)) {
    std::snprintf(step, sizeof(step), "the remaining Gauss-Newton step is %.3g honest std",
                  s.remaining_step);
  } else if (s.remaining_step > 0) {
    std::snprintf(step, sizeof(step),
                  "the remaining step is not measurable (singular honest "
                  "covariance)");
  }
  if (s.stopped_by == "step") {
    out += std::string("  converged: ") + step + "\n";
  } else if (s.stopped_by == "ceres") {
    out += "  stopped by Ceres: " + s.message + (*step ? std::string("; ") + step : "") + "\n";
  } else if (s.stopped_by == "iterations") {
    out += std::string("  not converged: the iteration cap was reached") +
           (*step ? std::string("; ") + step : "") + "\n";
  }
  if (s.refit) {
    std::string ids;
    for (const auto& e : res.episodes) {
      if (e.excluded) ids += (ids.empty() ? "'" : ", '") + e.id + "'";
    }
    std::snprintf(
        line, sizeof(line), "  refit without %d of %zu episodes (%s): cost %.6g -> %.6g\n",
        s.excluded_episodes, res.episodes.size(), ids.c_str(), s.refit_initial_cost, s.final_cost);
    out += line;
  }
  for (const auto& w : s.warnings) out += "  warning: " + w + "\n";
  if (!s.usable()) return out + "  " + s.message + "\n";
  std::snprintf(line, sizeof(line),
                "  reduced chi2 %.3f over %d residuals, %d segments (+%d held out), %.2f s\n",
                s.reduced_chi2, s.residuals, s.segments, s.held_out_segments, s.total_seconds);
  out += line;
  const ErrorModel& em = res.error_model;
  std::snprintf(line, sizeof(line),
                "  error model: residual scale %.3g, serial correlation %.3g, %s clusters (%d)%s, "
                "honest/formal variance %.3g\n",
                em.residual_scale, em.serial_correlation, em.clustering.c_str(), em.clusters,
                std::isfinite(em.between_episode)
                    ? (", between episodes " + FormatShort(em.between_episode)).c_str()
                    : "",
                em.inflation);
  out += line;
  if (!em.discrepancy.empty()) out += "  model discrepancy: " + em.discrepancy + "\n";
  if (s.prior_weight != 1.0) {
    std::snprintf(line, sizeof(line), "  priors weighed %.3g times (the error model's inflation)\n",
                  s.prior_weight);
    out += line;
  }
  out += "  parameter                        value   +- honest  (formal)\n";
  for (std::size_t j = 0; j < res.names.size(); ++j) {
    const bool fixed = j < res.fixed.size() && res.fixed[j];
    const double honest =
        j < static_cast<std::size_t>(res.honest_std.size()) ? res.honest_std[j] : NAN;
    std::snprintf(line, sizeof(line), "  %-24s %12.6g +- %-10.3g (%.3g; initial %.6g)%s%s\n",
                  res.names[j].c_str(), res.value[j], honest, res.std[j], res.initial[j],
                  res.at_bound[j] ? " at bound" : "", fixed ? " fixed" : "");
    out += line;
  }
  for (const InertialEstimate& e : res.inertials) {
    out += "  inertial '" + e.name + "' (body " + e.body + "), value +- honest (formal):\n";
    for (int k = 0; k < kInertialSize; ++k) {
      std::snprintf(line, sizeof(line), "    %-8s %12.6g +- %-10.3g (%.3g; initial %.6g)\n",
                    InertialQuantityNames()[k], e.value[k], e.honest_std[k], e.std[k],
                    e.initial[k]);
      out += line;
    }
  }
  for (const auto& e : res.episodes) {
    if (e.outlier) out += "  outlier episode '" + e.id + "': " + e.reason + "\n";
  }
  for (const auto& name : res.identifiability.unidentifiable) {
    const auto& held = res.identifiability.held_by_prior;
    out += "  not identifiable from these data: " + name +
           (std::find(held.begin(), held.end(), name) != held.end() ? " (held by priors)" : "") +
           "\n";
  }
  const Identifiability& id = res.identifiability;
  for (std::size_t k = 0; k < id.held_by_bounds.size(); ++k) {
    const auto it = std::find(res.names.begin(), res.names.end(), id.held_by_bounds[k]);
    if (it == res.names.end()) continue;
    std::snprintf(line, sizeof(line),
                  "  held by its bounds, not the data: %s (honest std %.3g; a flat distribution "
                  "over its bounds has %.3g)\n",
                  it->c_str(), res.honest_std[it - res.names.begin()], id.flat_std[k]);
    out += line;
  }
  if (s.held_out_segments > 0) {
    std::snprintf(
        line, sizeof(line),
        "  held-out replay error (median of max): %.4g -> %.4g (not moving at all: %.4g)\n",
        res.replay_before.median, res.replay_after.median, res.replay_hold_still.median);
    out += line;
  }
  if (std::isfinite(s.torque_window)) {
    std::snprintf(line, sizeof(line), "  torque window %.3g s", s.torque_window);
    out += line;
    if (!s.torque_window_scan.empty()) {
      out += "; held-out replay error per window tried (";
      for (std::size_t k = 0; k < s.torque_window_scan.size(); ++k) {
        std::snprintf(line, sizeof(line), "%s%.3g s: %.4g", k ? ", " : "",
                      s.torque_window_scan[k].first, s.torque_window_scan[k].second);
        out += line;
      }
      out += ")";
    }
    out += "\n";
  }
  return out;
}

nlohmann::json CalibrationDocument(const CalibrationResult& result, const ParameterBinding& binding,
                                   const std::string& study_name, const CalibrationOptions& options,
                                   const SavedModelReport& model, const std::string& model_file) {
  nlohmann::json doc = CalibrationToJson(result, binding, study_name);
  doc["model"] = model.saved ? nlohmann::json(model_file) : nlohmann::json(nullptr);
  if (!model.saved) doc["model_error"] = model.error;
  nlohmann::json not_saved = nlohmann::json::array();
  for (const auto& p : model.not_kept) {
    not_saved.push_back(
        {{"name", p.name}, {"fitted", Num(p.fitted)}, {"in_model", Num(p.in_model)}});
  }
  doc["model_not_saved"] = not_saved;              // fitted values the MJCF writer could not keep
  doc["model_effects_only"] = model.effects_only;  // delay, command gain/bias, sensor bias, ...
  // Parameters whose value is per unit of an episode's scenario number: the value applies to an
  // episode only multiplied by that number.
  doc["episode_scale"] = options.episode_scale;
  return doc;
}

namespace {

// A square matrix of numbers or nulls (NaN), `n` x `n`.
Eigen::MatrixXd ReadMatrix(const JsonReader& r, const std::string& key, int n) {
  const nlohmann::json& c = r.Raw(key);
  const std::string where = r.Where(key);
  const std::string shape = std::to_string(n) + " x " + std::to_string(n);
  if (!c.is_array() || static_cast<int>(c.size()) != n) {
    ThrowExpected(where, "a " + shape + " matrix", Describe(c));
  }
  Eigen::MatrixXd m(n, n);
  for (int i = 0; i < n; ++i) {
    const std::string row_where = where + "[" + std::to_string(i) + "]";
    if (!c[i].is_array() || static_cast<int>(c[i].size()) != n) {
      ThrowExpected(row_where, "an array of " + std::to_string(n) + " numbers", Describe(c[i]));
    }
    for (int j = 0; j < n; ++j) {
      const auto& v = c[i][j];
      if (v.is_null()) {
        m(i, j) = NAN;
      } else if (v.is_number() && std::isfinite(v.get<double>())) {
        m(i, j) = v.get<double>();
      } else {
        ThrowExpected(row_where + "[" + std::to_string(j) + "]", "a number or null", Describe(v));
      }
    }
  }
  return m;
}

}  // namespace

WarmStartReport ApplyWarmStart(const CalibrationFile& file, std::vector<ParameterSpec>* specs) {
  WarmStartReport w;
  w.file = file.path;
  std::set<std::string> seen;
  for (ParameterSpec& s : *specs) {
    seen.insert(s.name);
    const auto it = std::find(file.names.begin(), file.names.end(), s.name);
    if (it == file.names.end()) {
      w.missing.push_back(s.name);
      continue;
    }
    if (s.fixed) {
      w.fixed.push_back(s.name);
      continue;
    }
    const double v = file.value[it - file.names.begin()];
    const double start = std::clamp(v, s.lower, s.upper);
    if (start != v) {
      w.clamped.push_back(s.name + ": " + FormatNumber(v) + " outside [" + FormatNumber(s.lower) +
                          ", " + FormatNumber(s.upper) + "], starts at " + FormatNumber(start));
    }
    s.initial = start;
    w.taken.push_back(s.name);
  }
  for (const auto& name : file.names) {
    if (!seen.count(name)) w.unused.push_back(name);
  }
  return w;
}

CalibrationFile ReadCalibrationFile(const std::string& path) {
  const nlohmann::json doc = ReadJsonFile(path);
  if (!doc.is_object()) ThrowExpected(path, "a JSON object", Describe(doc));
  JsonReader r(doc, path, "");
  CalibrationFile f;
  f.path = path;
  const std::string schema = r.String("schema");
  if (schema != "nextbatch.calibration/1") {
    ThrowExpected(r.Where("schema"), "\"nextbatch.calibration/1\"", "\"" + schema + "\"");
  }
  f.status = r.String("status");
  // a fit that produced no estimate must not pass for a posterior
  if (f.status != "converged" && f.status != "no_convergence") {
    ThrowExpected(r.Where("status"), "a usable fit (converged or no_convergence)",
                  "\"" + f.status + "\"");
  }
  f.study = r.String("study", "");
  const std::vector<JsonReader> params = r.Objects("parameters");
  const int n = static_cast<int>(params.size());
  f.value.resize(n);
  f.std.resize(n);
  f.initial.resize(n);
  f.lower.resize(n);
  f.upper.resize(n);
  std::set<std::string> seen;
  for (int i = 0; i < n; ++i) {
    const JsonReader& p = params[i];
    const std::string name = p.String("name");
    if (!seen.insert(name).second)
      ThrowExpected(p.Where("name"), "a unique name", "\"" + name + "\"");
    f.names.push_back(name);
    f.value[i] = p.Number("value");
    if (!std::isfinite(f.value[i])) ThrowExpected(p.Where("value"), "a finite number", "NaN");
    if (p.Has("std") && p.Raw("std").is_null()) {
      f.std[i] = NAN;
    } else {
      f.std[i] = p.Number("std");
      if (!(f.std[i] >= 0) || !std::isfinite(f.std[i])) {
        ThrowExpected(p.Where("std"), "a finite number >= 0 or null", FormatNumber(f.std[i]));
      }
    }
    f.initial[i] = p.Has("initial") && !p.Raw("initial").is_null() ? p.Number("initial") : NAN;
    f.lower[i] = -INFINITY;
    f.upper[i] = INFINITY;
    if (p.Has("bounds")) {
      const nlohmann::json& b = p.Raw("bounds");
      if (!b.is_array() || b.size() != 2) {
        ThrowExpected(p.Where("bounds"), "[lower, upper] (null for none)", Describe(b));
      }
      if (b[0].is_number()) f.lower[i] = b[0].get<double>();
      if (b[1].is_number()) f.upper[i] = b[1].get<double>();
    }
  }
  f.correlation = ReadMatrix(r, "correlation", n);
  for (int i = 0; i < n; ++i) {
    const std::string row_where = r.Where("correlation") + "[" + std::to_string(i) + "]";
    for (int j = 0; j < n; ++j) {
      const double c = f.correlation(i, j);
      if (std::isnan(c)) continue;
      // within rounding of [-1, 1] and of a unit diagonal: what any writer's scaling gives
      if (std::abs(c) > 1 + 1e-9) {
        ThrowExpected(row_where + "[" + std::to_string(j) + "]", "a number in [-1, 1]",
                      FormatNumber(c));
      }
      if (i == j && std::abs(c - 1) > 1e-9) {
        ThrowExpected(row_where + "[" + std::to_string(i) + "]", "1 on the diagonal",
                      FormatNumber(c));
      }
      if (std::abs(c - f.correlation(j, i)) > 1e-9 && !std::isnan(f.correlation(j, i))) {
        ThrowExpected(row_where + "[" + std::to_string(j) + "]", "a symmetric matrix",
                      FormatNumber(c) + " against " + FormatNumber(f.correlation(j, i)));
      }
    }
  }
  if (r.Has("information")) f.information = ReadMatrix(r, "information", n);
  if (r.Has("honest")) {
    JsonReader h = r.Object("honest");
    f.honest_covariance = ReadMatrix(h, "covariance", n);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        const double a = f.honest_covariance(i, j), b = f.honest_covariance(j, i);
        if (std::isnan(a) != std::isnan(b) ||
            (!std::isnan(a) && std::abs(a - b) > 1e-9 * (std::abs(a) + std::abs(b)) + 1e-300)) {
          ThrowExpected(
              h.Where("covariance") + "[" + std::to_string(i) + "][" + std::to_string(j) + "]",
              "a symmetric matrix", FormatNumber(a) + " against " + FormatNumber(b));
        }
      }
      if (!std::isnan(f.honest_covariance(i, i)) && f.honest_covariance(i, i) < 0) {
        ThrowExpected(
            h.Where("covariance") + "[" + std::to_string(i) + "][" + std::to_string(i) + "]",
            "a variance >= 0", FormatNumber(f.honest_covariance(i, i)));
      }
    }
  }
  if (r.Has("inertials")) {
    for (const JsonReader& g : r.Objects("inertials")) {
      CalibrationFile::Inertial e;
      e.name = g.String("name");
      e.body = g.String("body");
      const std::vector<std::string> coordinates = g.Strings("coordinates");
      if (coordinates.size() != kInertialSize) {
        ThrowExpected(g.Where("coordinates"), "the 10 coordinate parameters",
                      std::to_string(coordinates.size()) + " names");
      }
      InertialVector theta;
      for (int k = 0; k < kInertialSize; ++k) {
        const auto it = std::find(f.names.begin(), f.names.end(), coordinates[k]);
        if (it == f.names.end()) {
          ThrowExpected(g.Where("coordinates"), "names of parameters of the file",
                        "\"" + coordinates[k] + "\"");
        }
        e.coordinates.push_back(static_cast<int>(it - f.names.begin()));
        theta[k] = f.value[e.coordinates.back()];
      }
      e.value = ReadPhysical(g, "value");
      e.std = ReadPhysical(g, "std");
      e.honest_std =
          g.Has("honest_std") ? ReadPhysical(g, "honest_std") : InertialVector::Constant(NAN);
      e.initial = g.Has("initial") ? ReadPhysical(g, "initial") : InertialVector::Constant(NAN);
      // the physical values are the coordinates' (written from them): a file edited by hand in
      // one place only would apply values it does not show
      const InertialVector mapped = InertialFromCoordinates(theta).Stacked();
      const double scale = std::max(1e-300, mapped.segment<3>(4).cwiseAbs().maxCoeff());
      for (int k = 0; k < kInertialSize; ++k) {
        const double tol = 1e-9 * (k == 0 ? mapped[0] : k < 4 ? 1.0 : scale);
        if (!(std::abs(e.value[k] - mapped[k]) <= tol)) {
          ThrowExpected(g.Where("value") + "." + InertialQuantityNames()[k],
                        "the value of the coordinates " + coordinates[0] + ".. (" +
                            FormatNumber(mapped[k]) + ")",
                        FormatNumber(e.value[k]));
        }
      }
      f.inertials.push_back(e);
    }
  }
  if (r.Has("episode_scale") && r.Raw("episode_scale").is_object()) {
    JsonReader s = r.Object("episode_scale");
    for (const auto& [name, key] : r.Raw("episode_scale").items()) {
      f.episode_scale[name] = s.String(name);
    }
  }
  if (r.Has("episodes") && r.Raw("episodes").is_array()) {
    for (const JsonReader& e : r.Objects("episodes")) {
      if (!e.Bool("excluded", false)) f.fitted_episodes.push_back(e.String("id"));
    }
  }
  if (r.Has("model") && r.Raw("model").is_string()) f.model = r.String("model");
  // What a later stage needs to weigh simulated episodes as this fit weighed its data (optional:
  // files written before these fields have none).
  if (r.Has("noise") && r.Raw("noise").is_object()) {
    JsonReader noise = r.Object("noise");
    for (const auto& [channel, sigma] : r.Raw("noise").items()) {
      f.noise[channel] = noise.Number(channel);
      if (!(f.noise[channel] > 0) || !std::isfinite(f.noise[channel]))
        ThrowExpected(noise.Where(channel), "a standard deviation > 0",
                      FormatNumber(f.noise[channel]));
    }
  }
  if (r.Has("sample_seconds") && r.Raw("sample_seconds").is_number())
    f.sample_seconds = r.Number("sample_seconds");
  if (r.Has("error_model") && r.Raw("error_model").is_object()) {
    const nlohmann::json& em = r.Raw("error_model");
    auto number = [&em](const char* key, double fallback) {
      return em.contains(key) && em.at(key).is_number() ? em.at(key).get<double>() : fallback;
    };
    f.residual_scale = number("residual_scale", std::numeric_limits<double>::quiet_NaN());
    if (std::isfinite(f.residual_scale) && !(f.residual_scale >= 0)) {
      ThrowExpected(r.Where("error_model") + ".residual_scale", "a finite number >= 0",
                    FormatNumber(f.residual_scale));
    }
    f.serial_correlation = number("serial_correlation", 1.0);
    f.between_episode = number("between_episode", NAN);
    f.error_episodes = static_cast<int>(number("episodes", 0.0));
    f.has_error_model = true;
  }
  return f;
}

Posterior PosteriorFromCalibration(const CalibrationFile& file,
                                   const std::vector<ParameterSpec>& specs,
                                   PosteriorCovariance which) {
  const bool honest = which == PosteriorCovariance::kHonest;
  if (honest && file.honest_covariance.rows() != static_cast<Eigen::Index>(file.names.size())) {
    ThrowExpected(file.path + ": honest",
                  "the honest covariance that simulate and plan sample (written by calibrate since "
                  "the error model; recalibrate), or --formal-posterior to sample the formal one",
                  "none");
  }
  std::map<std::string, int> study_index;
  std::string study_names;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    study_index[specs[i].name] = static_cast<int>(i);
    study_names += (study_names.empty() ? "" : ", ") + specs[i].name;
  }
  const int nf = static_cast<int>(file.names.size());
  std::vector<int> to_study(nf);
  std::vector<double> sd(nf);
  for (int i = 0; i < nf; ++i) {
    auto it = study_index.find(file.names[i]);
    if (it == study_index.end()) {
      ThrowExpected(
          file.path + ": parameters[" + std::to_string(i) + "].name",
          "a parameter of the study (" + (study_names.empty() ? "none" : study_names) + ")",
          "\"" + file.names[i] + "\"");
    }
    to_study[i] = it->second;
    sd[i] = honest ? std::sqrt(file.honest_covariance(i, i)) : file.std[i];
    if (std::isnan(sd[i])) {
      // not determined by the fit (an unidentifiable parameter): the prior's std, or held
      sd[i] = specs[it->second].PriorStd();
    }
  }
  const Eigen::Index n = static_cast<Eigen::Index>(specs.size());
  std::vector<std::string> names;
  Eigen::VectorXd mean(n), lower(n), upper(n);
  Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    names.push_back(specs[i].name);
    lower[i] = specs[i].lower;
    upper[i] = specs[i].upper;
    const double s = specs[i].PriorStd();
    mean[i] = specs[i].PriorMean();
    mean[i] = std::clamp(mean[i], lower[i], upper[i]);
    cov(i, i) = s * s;
  }
  for (int i = 0; i < nf; ++i) {
    mean[to_study[i]] = file.value[i];
    for (int j = 0; j < nf; ++j) {
      double c = NAN;
      if (!honest) {
        c = file.correlation(i, j);
      } else if (sd[i] > 0 && sd[j] > 0) {
        c = file.honest_covariance(i, j) /
            std::sqrt(file.honest_covariance(i, i) * file.honest_covariance(j, j));
      }
      if (std::isnan(c)) c = i == j ? 1.0 : 0.0;  // null: uncorrelated
      c = i == j ? 1.0 : std::clamp(c, -1.0, 1.0);
      cov(to_study[i], to_study[j]) = c * sd[i] * sd[j];
    }
  }
  return Posterior(names, mean, cov, lower, upper, file.path);
}

}  // namespace nextbatch
