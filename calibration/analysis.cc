// The parts of calibration that need no Ceres: options, held-out replay error, identifiability.
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>

#include "calibration/calibration.h"
#include "calibration/segments.h"
#include "engine/error.h"

namespace nextbatch {
namespace calib {

namespace {

void SetMedian(ReplayError* r) {
  std::vector<double> errors;
  for (const ReplayWindow& w : r->windows) errors.push_back(w.max_error);
  if (errors.empty()) return;
  std::sort(errors.begin(), errors.end());
  const std::size_t k = errors.size();
  r->median = k % 2 ? errors[k / 2] : 0.5 * (errors[k / 2 - 1] + errors[k / 2]);
}

// The window of segment s with its largest error(sample row) over the qpos rows.
template <typename RowError>
ReplayWindow WindowOf(const Layout& layout, int s, const std::vector<Episode>& eps, bool ok,
                      RowError error) {
  const calib::Segment& seg = layout.segments()[s];
  ReplayWindow w;
  w.episode = seg.episode;
  w.start_time = eps[seg.episode].time[seg.first];
  w.ok = ok;
  w.max_error = ok ? 0.0 : std::numeric_limits<double>::infinity();
  for (int row = 0; ok && row < static_cast<int>(seg.rows.size()); ++row) {
    if (layout.Kind(s, row) == ChannelKind::kQpos) w.max_error = std::max(w.max_error, error(row));
  }
  return w;
}

}  // namespace

// Max position error per window (residual times sigma on qpos rows) of an evaluated set.
ReplayError ReplayOf(const Evaluator& ev, const Layout& layout, const std::vector<Episode>& eps) {
  ReplayError out;
  for (int a = 0; a < ev.size(); ++a) {
    const int s = ev.segment(a);
    out.windows.push_back(WindowOf(layout, s, eps, ev.ok(a), [&](int row) {
      return std::abs(ev.residuals(a)[row]) * layout.Sigma(s, row);
    }));
  }
  SetMedian(&out);
  return out;
}

ReplayError ReplayFromStarts(const mjModel* base, const ParameterBinding& binding,
                             const std::vector<Episode>& episodes, const Layout& layout,
                             const std::vector<int>& segments, const Eigen::VectorXd& z,
                             int threads, ControlHold hold, const EpisodeConditions* conditions) {
  Evaluator ev(base, binding, episodes, layout, segments, threads, hold, conditions);
  std::vector<Eigen::VectorXd> x;
  for (int s : segments) x.push_back(layout.segments()[s].x_start);
  ev.Evaluate(z, x, false);
  return ReplayOf(ev, layout, episodes);
}

ReplayError HoldStillOf(const Layout& layout, const std::vector<int>& segments,
                        const std::vector<Episode>& eps) {
  ReplayError out;
  for (int s : segments) {
    const calib::Segment& seg = layout.segments()[s];
    const EpisodeMap& map = layout.maps()[seg.episode];
    out.windows.push_back(WindowOf(layout, s, eps, true, [&](int row) {
      const auto& [sample, column] = seg.rows[row];
      const EpisodeMap::Column& c = map.columns[column];
      const double held = seg.x_start[layout.channels()[c.channel].model_index];
      return std::abs((*c.values)(sample, c.column) - held);
    }));
  }
  SetMedian(&out);
  return out;
}

Identifiability AnalyseInformation(const Eigen::MatrixXd& info,
                                   const std::vector<std::string>& names, double weak) {
  Identifiability id;
  const int np = static_cast<int>(info.rows());
  Eigen::VectorXd d = info.diagonal();
  Eigen::VectorXd scale(np);
  for (int j = 0; j < np; ++j) scale[j] = d[j] > 0 ? 1.0 / std::sqrt(d[j]) : 0.0;
  // Scale-free form: unit diagonal, so eigenvalues compare directions, not units.
  Eigen::MatrixXd f = scale.asDiagonal() * info * scale.asDiagonal();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(f);
  Eigen::VectorXd ev = es.eigenvalues().reverse();
  Eigen::MatrixXd vec = es.eigenvectors().rowwise().reverse();
  const double top = ev.size() && ev[0] > 0 ? ev[0] : 1.0;
  id.eigenvalues = (ev / top).cwiseMax(0.0);
  const double smallest = id.eigenvalues.size() ? id.eigenvalues[np - 1] : 1.0;
  id.condition_number = smallest > 0 ? 1.0 / smallest : std::numeric_limits<double>::infinity();
  std::vector<bool> flagged(np, false);
  for (int k = 0; k < np; ++k) {
    if (id.eigenvalues[k] >= weak) continue;
    WeakDirection w;
    w.eigenvalue = id.eigenvalues[k];
    for (int j = 0; j < np; ++j) {
      if (std::abs(vec(j, k)) < 0.1) continue;
      w.combination.emplace_back(names[j], vec(j, k));
      flagged[j] = flagged[j] || std::abs(vec(j, k)) >= 0.3;
    }
    id.weak.push_back(w);
  }
  for (int j = 0; j < np; ++j) {
    if (flagged[j] || d[j] <= 0) id.unidentifiable.push_back(names[j]);
  }
  return id;
}

}  // namespace calib

using calib::Evaluator;
using calib::Layout;
using calib::LayoutOptions;

const char* ToString(LossType t) {
  switch (t) {
    case LossType::kNone:
      return "none";
    case LossType::kHuber:
      return "huber";
    case LossType::kCauchy:
      return "cauchy";
  }
  return "?";
}

const char* ToString(CalibrationStatus s) {
  switch (s) {
    case CalibrationStatus::kConverged:
      return "converged";
    case CalibrationStatus::kNoConvergence:
      return "no_convergence";
    case CalibrationStatus::kPreflightFailed:
      return "preflight_failed";
    case CalibrationStatus::kFailed:
      return "failed";
  }
  return "?";
}

std::string CalibrationOptions::Validate() const {
  auto bad = [](const std::string& field, const std::string& expected, double got) {
    return Expected("calibration." + field, expected, std::to_string(got));
  };
  if (!(segment_seconds > 0) || !std::isfinite(segment_seconds)) {
    return bad("segment_seconds", "a duration > 0", segment_seconds);
  }
  if (!(state_window >= 0) || !std::isfinite(state_window)) {
    return bad("state_window", "a duration >= 0 (0: the 9 nearest samples)", state_window);
  }
  if (!(loss_scale > 0) || !std::isfinite(loss_scale)) {
    return bad("loss_scale", "a number > 0 (noise standard deviations)", loss_scale);
  }
  if (max_iterations < 1) return bad("max_iterations", "an integer >= 1", max_iterations);
  if (!(step_tolerance >= 0) || !std::isfinite(step_tolerance)) {
    return bad("step_tolerance", "a number >= 0 (honest standard deviations; 0: off)",
               step_tolerance);
  }
  if (projection_after < -1) {
    return bad("projection_after", "an integer >= 0 (Ceres iterations; 0: no projected steps)",
               projection_after);
  }
  for (const auto& [key, sigma] : noise) {
    if (!(sigma > 0) || !std::isfinite(sigma)) return bad("noise." + key, "a number > 0", sigma);
  }
  if (!(held_out_fraction >= 0 && held_out_fraction < 1)) {
    return bad("held_out_fraction", "a fraction in [0, 1)", held_out_fraction);
  }
  if (!(outlier_threshold > 0) || !std::isfinite(outlier_threshold)) {
    return bad("outlier_threshold", "a number > 0 (rms in noise standard deviations)",
               outlier_threshold);
  }
  if (min_episode_clusters < 2) {
    return bad("min_episode_clusters", "an integer >= 2", min_episode_clusters);
  }
  if (!fit_qpos && !fit_qvel && !fit_sensors && !fit_torque) {
    return Expected("calibration.channels", "at least one of qpos, qvel, sensors, or torque",
                    "none");
  }
  if (fit_torque && (fit_qpos || fit_qvel || fit_sensors)) {
    return Expected("calibration.channels", "torque alone, or any of qpos, qvel, sensors",
                    "torque with others");
  }
  if (!(torque_window >= 0) || !std::isfinite(torque_window)) {
    return bad("torque_window", "a duration > 0, or 0 (auto)", torque_window);
  }
  if (fit_torque && torque_window == 0) {
    if (torque_windows.empty()) {
      return Expected("calibration.torque_windows", "at least one window to try", "none");
    }
    for (double w : torque_windows) {
      if (!(w > 0) || !std::isfinite(w)) return bad("torque_windows", "durations > 0", w);
    }
    if (!(held_out_fraction > 0)) {
      return Expected("calibration.torque_window",
                      "a window in s, or held-out segments to choose one by (\"auto\" with "
                      "held_out_fraction > 0)",
                      "\"auto\" with held_out_fraction 0");
    }
  }
  if (!(torque_min_speed >= 0) || !std::isfinite(torque_min_speed)) {
    return bad("torque_min_speed", "a speed >= 0", torque_min_speed);
  }
  if (!(preflight_min_effect >= 0) || !std::isfinite(preflight_min_effect)) {
    return bad("preflight_min_effect", "a number >= 0", preflight_min_effect);
  }
  if (threads < 0) return bad("threads", "0 (all) or more", threads);
  for (std::size_t k = 0; k < starts.size(); ++k) {
    for (const auto& [name, value] : starts[k]) {
      if (!std::isfinite(value)) {
        return bad("starts[" + std::to_string(k) + "]." + name, "a finite number", value);
      }
    }
  }
  if (progress) return progress_options.Validate();
  return "";
}

calib::LayoutOptions calib::ReplayLayout(double window_seconds, double state_window) {
  if (!(window_seconds > 0)) {
    ThrowExpected("replay window", "a duration > 0", std::to_string(window_seconds));
  }
  calib::LayoutOptions lo;
  lo.segment_seconds = window_seconds;
  lo.state_window = state_window;
  lo.fit_qvel = false;
  lo.fit_sensors = false;
  lo.noise["qpos"] = 1.0;
  return lo;
}

std::vector<int> calib::AllSegments(const calib::Layout& layout) {
  std::vector<int> all(layout.segments().size());
  for (std::size_t s = 0; s < all.size(); ++s) all[s] = static_cast<int>(s);
  return all;
}

ReplayError ComputeReplayError(const mjModel* base, const ParameterBinding& binding,
                               const Eigen::VectorXd& values, const std::vector<Episode>& episodes,
                               double window_seconds, int threads, ControlHold hold,
                               const std::map<std::string, std::string>& episode_scale,
                               double state_window, const EpisodeConditions* conditions) {
  LayoutOptions lo = calib::ReplayLayout(window_seconds, state_window);
  lo.scale_keys = calib::ScaleKeys(binding, episode_scale);
  Layout layout(base, episodes, lo);
  Eigen::VectorXd z = values;
  for (int j = 0; j < binding.size(); ++j) {
    if (binding.spec(j).log_scale) z[j] = std::log(values[j]);
  }
  return calib::ReplayFromStarts(base, binding, episodes, layout, calib::AllSegments(layout), z,
                                 threads, hold, conditions);
}

ReplayError ComputeHoldStillError(const mjModel* base, const std::vector<Episode>& episodes,
                                  double window_seconds, double state_window) {
  const Layout layout(base, episodes, calib::ReplayLayout(window_seconds, state_window));
  return HoldStillOf(layout, calib::AllSegments(layout), episodes);
}

std::string EpisodeInformationOptions::Validate() const {
  if (!(segment_seconds > 0) || !std::isfinite(segment_seconds)) {
    return Expected("information.segment_seconds", "a duration > 0", FormatNumber(segment_seconds));
  }
  for (const auto& [key, sigma] : noise) {
    if (!(sigma > 0) || !std::isfinite(sigma)) {
      return Expected("information.noise." + key, "a standard deviation > 0", FormatNumber(sigma));
    }
  }
  if (threads < 0)
    return Expected("information.threads", "0 (all) or more", std::to_string(threads));
  return "";
}

Eigen::MatrixXd EpisodeInformation(const mjModel* base, const ParameterBinding& binding,
                                   const Eigen::VectorXd& values,
                                   const std::vector<Episode>& episodes,
                                   const EpisodeInformationOptions& options,
                                   const std::vector<Eigen::MatrixXd>* start_states) {
  if (std::string e = options.Validate(); !e.empty()) throw InputError(e);
  const int np = binding.size();
  if (values.size() != np) {
    ThrowExpected("information: values", std::to_string(np) + " parameter values",
                  std::to_string(values.size()));
  }
  for (int j = 0; j < np; ++j) {
    const ParameterSpec& s = binding.spec(j);
    if (!std::isfinite(values[j]) || (s.log_scale && !(values[j] > 0))) {
      ThrowExpected("information: " + s.name, s.log_scale ? "a finite value > 0" : "a finite value",
                    FormatNumber(values[j]));
    }
  }
  LayoutOptions lo;
  lo.segment_seconds = options.segment_seconds;
  lo.noise = options.noise;
  lo.scale_keys = calib::ScaleKeys(binding, options.episode_scale);
  const Layout layout(base, episodes, lo);
  for (const calib::Channel& c : layout.channels()) {
    if (c.estimated) ThrowExpected("information.noise", "a noise level for " + c.name, "none");
  }
  const std::vector<int> all = AllSegments(layout);
  std::vector<Eigen::VectorXd> x;
  for (int s : all) {
    const calib::Segment& seg = layout.segments()[s];
    if (start_states == nullptr) {
      x.push_back(seg.x_init);
      continue;
    }
    if (start_states->size() != episodes.size()) {
      ThrowExpected("information: start_states", std::to_string(episodes.size()) + " episodes",
                    std::to_string(start_states->size()));
    }
    const Eigen::MatrixXd& states = (*start_states)[seg.episode];
    if (states.rows() != episodes[seg.episode].samples() || states.cols() != layout.nx()) {
      ThrowExpected(
          "information: start_states of episode '" + episodes[seg.episode].id + "'",
          std::to_string(episodes[seg.episode].samples()) + " x " + std::to_string(layout.nx()),
          std::to_string(states.rows()) + " x " + std::to_string(states.cols()));
    }
    x.push_back(states.row(seg.first).transpose());
  }
  Evaluator ev(base, binding, episodes, layout, all, options.threads, options.control_hold,
               options.conditions);
  const Eigen::VectorXd z = ev.Internal(values);
  if (!ev.Evaluate(z, x, true))
    throw RunError("information: a segment does not simulate: " + ev.message());
  Eigen::MatrixXd info = Eigen::MatrixXd::Zero(np, np);
  for (int a = 0; a < ev.size(); ++a)
    info += calib::EliminateStartState(ev.jp(a), ev.jx(a)).information;
  // internal coordinates (log value for log-scale parameters) to the parameters' units
  const Eigen::VectorXd inv_dv = ev.ValueDerivative(z).cwiseInverse();
  info = inv_dv.asDiagonal() * info * inv_dv.asDiagonal();
  return 0.5 * (info + info.transpose());
}

std::vector<InertialEstimate> InertialEstimates(const ParameterBinding& binding,
                                                const CalibrationResult& result) {
  // sqrt(diag(J C J^T)) of a coordinate block; infinity when C is not finite there.
  auto delta = [](const InertialVector& theta, const Eigen::MatrixXd& cov, int first) {
    if (cov.rows() < first + kInertialSize) {
      return InertialVector::Constant(std::numeric_limits<double>::infinity()).eval();
    }
    const InertialMatrix c = cov.block<kInertialSize, kInertialSize>(first, first);
    if (!c.allFinite()) {
      return InertialVector::Constant(std::numeric_limits<double>::infinity()).eval();
    }
    const InertialMatrix j = InertialJacobian(theta);
    return (j * c * j.transpose()).diagonal().cwiseMax(0.0).cwiseSqrt().eval();
  };
  std::vector<InertialEstimate> out;
  for (int first : InertialGroupStarts(binding.specs())) {
    const InertialGroup& g = *binding.spec(first).group;
    InertialEstimate e;
    e.name = g.name;
    e.body = g.body;
    e.first = first;
    const InertialVector theta = result.value.segment<kInertialSize>(first);
    e.initial = InertialFromCoordinates(result.initial.segment<kInertialSize>(first)).Stacked();
    e.value = InertialFromCoordinates(theta).Stacked();
    e.std = delta(theta, result.covariance, first);
    e.honest_std = delta(theta, result.honest_covariance, first);
    out.push_back(e);
  }
  return out;
}

}  // namespace nextbatch
