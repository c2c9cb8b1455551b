#include "calibration/calibration_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
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
  o.outlier_threshold = r.Number("outlier_threshold", o.outlier_threshold);
  o.refit_without_outliers = r.Bool("refit_without_outliers", o.refit_without_outliers);
  if (r.Has("channels")) {
    std::vector<std::string> channels = r.Strings("channels");
    std::set<std::string> seen;
    o.fit_qpos = o.fit_qvel = o.fit_sensors = false;
    for (const auto& c : channels) {
      if (c != "qpos" && c != "qvel" && c != "sensors") {
        ThrowExpected(r.Where("channels"), "qpos, qvel or sensors", "\"" + c + "\"");
      }
      if (!seen.insert(c).second)
        ThrowExpected(r.Where("channels"), "each channel once", "\"" + c + "\" twice");
      o.fit_qpos = o.fit_qpos || c == "qpos";
      o.fit_qvel = o.fit_qvel || c == "qvel";
      o.fit_sensors = o.fit_sensors || c == "sensors";
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
                       {Num(std::abs(spec.lower) < 1e299 ? spec.lower : NAN),
                        Num(std::abs(spec.upper) < 1e299 ? spec.upper : NAN)}},
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
  return {
      {"schema", "nextbatch.calibration/1"},
      {"study", study_name},
      {"status", ToString(s.status)},
      {"parameters", params},
      {"correlation", matrix(res.correlation)},
      {"covariance", matrix(res.covariance)},
      {"honest", {{"std", honest_std}, {"covariance", matrix(res.honest_covariance)}}},
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
      {"episodes", episodes},
      {"fit",
       {{"initial_cost", Num(s.initial_cost)},
        {"final_cost", Num(s.final_cost)},
        {"iterations", s.iterations},
        {"termination", s.termination},
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
        {"warnings", s.warnings},
        {"start", s.start},
        {"start_costs", costs},
        {"seconds",
         {{"preflight", s.preflight_seconds},
          {"solve", s.solve_seconds},
          {"covariance", s.covariance_seconds},
          {"total", s.total_seconds}}}}},
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
        {"held_by_prior", res.identifiability.held_by_prior}}},
      {"preflight", pre},
  };
}

std::string CalibrationSummaryText(const CalibrationResult& res) {
  const CalibrationSummary& s = res.summary;
  std::string out;
  char line[512];
  // Costs are compared on the same data only: the first fit's, then the refit's.
  std::snprintf(line, sizeof(line), "calibration: %s (%s), %d iterations, cost %.6g -> %.6g\n",
                ToString(s.status), s.termination.c_str(), s.iterations, s.initial_cost,
                s.refit ? s.first_pass_cost : s.final_cost);
  out += line;
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
  for (const auto& e : res.episodes) {
    if (e.outlier) out += "  outlier episode '" + e.id + "': " + e.reason + "\n";
  }
  for (const auto& name : res.identifiability.unidentifiable) {
    const auto& held = res.identifiability.held_by_prior;
    out += "  not identifiable from these data: " + name +
           (std::find(held.begin(), held.end(), name) != held.end() ? " (held by priors)" : "") +
           "\n";
  }
  if (s.held_out_segments > 0) {
    std::snprintf(
        line, sizeof(line),
        "  held-out replay error (median of max): %.4g -> %.4g (not moving at all: %.4g)\n",
        res.replay_before.median, res.replay_after.median, res.replay_hold_still.median);
    out += line;
  }
  return out;
}

}  // namespace nextbatch
