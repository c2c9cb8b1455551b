#include "calibration/segments.h"

#include <Eigen/LU>
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/parallel.h"

namespace nextbatch::calib {
namespace {

const char* GroupOf(ChannelKind k) {
  switch (k) {
    case ChannelKind::kQpos:
      return "qpos";
    case ChannelKind::kQvel:
      return "qvel";
    case ChannelKind::kSensor:
      return "sensor";
    case ChannelKind::kTorque:
      return "torque";
  }
  return "?";
}

// The samples [lo, hi) of a local fit at `t`: those within `half_width` seconds of t, and at
// least the 9 nearest.
std::pair<int, int> LocalWindow(const std::vector<double>& time, double t, double half_width) {
  const int n = static_cast<int>(time.size());
  const int mid = static_cast<int>(std::lower_bound(time.begin(), time.end(), t) - time.begin());
  int lo = std::clamp(mid - 4, 0, std::max(0, n - 9));
  int hi = std::min(n, lo + 9);
  while (lo > 0 && time[lo - 1] >= t - half_width) --lo;
  while (hi < n && time[hi] <= t + half_width) ++hi;
  return {lo, hi};
}

// Value and slope at `t` of the least-squares quadratic through the samples within `half_width`
// seconds of t, and at least the 9 nearest; with `unit_cov`, their covariance for independent
// noise of unit variance on the samples ((A^T A)^-1, zero when the fit is degenerate).
void LocalFit(const std::vector<double>& time, const Eigen::MatrixXd& values, int column, double t,
              double half_width, double* value, double* slope,
              Eigen::Matrix2d* unit_cov = nullptr) {
  if (unit_cov) unit_cov->setZero();
  const auto [lo, hi] = LocalWindow(time, t, half_width);
  const int width = hi - lo;
  Eigen::MatrixXd a(width, 3);
  Eigen::VectorXd b(width);
  int rows = 0;
  for (int i = lo; i < hi; ++i) {
    const double y = values(i, column);
    if (!std::isfinite(y)) continue;
    const double dt = time[i] - t;
    a.row(rows) << 1.0, dt, dt * dt;
    b[rows++] = y;
  }
  if (rows < 3) {
    *value = rows > 0 ? b[0] : 0.0;
    *slope = 0.0;
    return;
  }
  Eigen::Vector3d c = a.topRows(rows).colPivHouseholderQr().solve(b.head(rows));
  *value = c[0];
  *slope = c[1];
  if (unit_cov) {
    const Eigen::Matrix3d ata = a.topRows(rows).transpose() * a.topRows(rows);
    Eigen::FullPivLU<Eigen::Matrix3d> lu(ata);
    if (lu.isInvertible()) *unit_cov = lu.inverse().topLeftCorner<2, 2>();
  }
}

// Logged commands at time t (clamped to the first and last sample).
void CommandAt(const std::vector<double>& time, const Eigen::MatrixXd& ctrl, double t,
               ControlHold hold, double* out) {
  const int n = static_cast<int>(time.size());
  const int nu = static_cast<int>(ctrl.cols());
  if (t <= time[0] || n == 1) {
    for (int k = 0; k < nu; ++k) out[k] = ctrl(0, k);
    return;
  }
  if (t >= time[n - 1]) {
    for (int k = 0; k < nu; ++k) out[k] = ctrl(n - 1, k);
    return;
  }
  const int i = static_cast<int>(std::upper_bound(time.begin(), time.end(), t) - time.begin()) - 1;
  if (hold == ControlHold::kZeroOrder) {
    for (int k = 0; k < nu; ++k) out[k] = ctrl(i, k);
    return;
  }
  const double w = (t - time[i]) / (time[i + 1] - time[i]);
  for (int k = 0; k < nu; ++k) out[k] = (1 - w) * ctrl(i, k) + w * ctrl(i + 1, k);
}

// The delay as CommandPipeline applies it: whole steps back, plus a fraction of a step.
struct StepLag {
  int steps = 0;
  double fraction = 0.0;
  StepLag(double delay, double dt) {
    const double s = std::max(0.0, delay / dt);
    steps = static_cast<int>(std::floor(s));
    fraction = s - steps;
  }
};

// The logged command (raw, before gain and bias) acting in simulation step `g` (grid time
// t0 + g dt) under `lag`: the command `lag.steps` steps back, blended with the one a step
// before that by the fraction. Piecewise linear in the delay under either hold. `scratch` holds
// 2 nu values; `out` receives nu.
void StepCommand(const std::vector<double>& time, const Eigen::MatrixXd& ctrl, double t0, double dt,
                 double g, const StepLag& lag, ControlHold hold, double* scratch, double* out) {
  const int nu = static_cast<int>(ctrl.cols());
  CommandAt(time, ctrl, t0 + (g - lag.steps) * dt, hold, scratch);
  if (lag.fraction > 0) CommandAt(time, ctrl, t0 + (g - lag.steps - 1) * dt, hold, scratch + nu);
  for (int u = 0; u < nu; ++u) {
    out[u] = lag.fraction > 0 ? (1 - lag.fraction) * scratch[u] + lag.fraction * scratch[nu + u]
                              : scratch[u];
  }
}

bool BadState(const mjData* d) {
  return d->warning[mjWARN_BADQPOS].number > 0 || d->warning[mjWARN_BADQVEL].number > 0 ||
         d->warning[mjWARN_BADQACC].number > 0 || d->warning[mjWARN_BADCTRL].number > 0;
}

std::string Names(const mjModel* m, mjtObj type, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    std::string n = ElementName(m, type, i);
    if (!n.empty()) out += (out.empty() ? "" : ", ") + n;
  }
  return out.empty() ? "(none)" : out;
}

// Value, first and second derivative at `t` of the least-squares cubic through the samples
// within `half_width` seconds of t, and at least the 9 nearest (a cubic, not a quadratic: over an
// asymmetric window, as irregular or clipped sampling gives, a quadratic's curvature takes up
// the signal's third derivative). NaN when fewer than 4 finite samples.
void LocalCubic(const std::vector<double>& time, const Eigen::MatrixXd& values, int column,
                double t, double half_width, double out[3]) {
  const auto [lo, hi] = LocalWindow(time, t, half_width);
  Eigen::MatrixXd a(hi - lo, 4);
  Eigen::VectorXd b(hi - lo);
  int rows = 0;
  for (int i = lo; i < hi; ++i) {
    const double y = values(i, column);
    if (!std::isfinite(y)) continue;
    const double dt = time[i] - t;
    a.row(rows) << 1.0, dt, dt * dt, dt * dt * dt;
    b[rows++] = y;
  }
  if (rows < 4) {
    out[0] = out[1] = out[2] = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  const Eigen::Vector4d c = a.topRows(rows).colPivHouseholderQr().solve(b.head(rows));
  out[0] = c[0];
  out[1] = c[1];
  out[2] = 2 * c[2];
}

// Torque fits: one column per joint of the model, all of which the episode must log (inverse
// dynamics needs the whole state), and every sample's position, velocity and acceleration from
// a local cubic through the logged positions over `torque_window`. Logged velocities are not
// used: on both DFKI robots they are far noisier than the positions' derivatives (a velocity
// column that jumps by 1 rad/s between samples), and accelerations from them gave fits that
// replay unseen runs 2.6 times worse (A.0, docs/calibration.md).
template <class ChannelFn>
void TorqueColumns(const mjModel* m, const Episode& ep, const std::string& where,
                   const LayoutOptions& options, ChannelFn&& channel, EpisodeMap* map) {
  const int nq = m->nq, nv = m->nv, n = ep.samples();
  map->kinematics.setZero(n, nq + 2 * nv);
  const double half = options.torque_window / 2;
  for (int j = 0; j < m->njnt; ++j) {
    const char* id = mj_id2name(m, mjOBJ_JOINT, j);
    const std::string name = id ? id : "#" + std::to_string(j);
    if (m->jnt_type[j] != mjJNT_HINGE && m->jnt_type[j] != mjJNT_SLIDE) {
      ThrowExpected(where + ": torque channels",
                    "a model of hinge and slide joints (a torque fit needs every joint's motion)",
                    "a free or ball joint '" + name + "'");
    }
    const std::vector<std::string>& qn = ep.qpos.names;
    const auto iq = std::find(qn.begin(), qn.end(), name);
    if (iq == qn.end()) {
      ThrowExpected(where + ": qpos",
                    "every joint of the model logged (a torque fit needs the whole state: " +
                        Names(m, mjOBJ_JOINT, m->njnt) + ")",
                    "no '" + name + "'");
    }
    const int cq = static_cast<int>(iq - qn.begin());
    const int qa = m->jnt_qposadr[j], da = m->jnt_dofadr[j];
    for (int i = 0; i < n; ++i) {
      double p[3];
      LocalCubic(ep.time, ep.qpos.values, cq, ep.time[i], half, p);
      map->kinematics(i, qa) = p[0];
      map->kinematics(i, nq + da) = p[1];
      map->kinematics(i, nq + nv + da) = p[2];
    }
    if (!map->kinematics.col(qa).allFinite() || !map->kinematics.col(nq + da).allFinite() ||
        !map->kinematics.col(nq + nv + da).allFinite()) {
      ThrowExpected(where + ": qpos of '" + name + "'",
                    "finite positions, at least 4 in every torque_window (torque fit)",
                    "NaN, infinity or a gap");
    }
    map->columns.push_back({channel("torque:" + name, ChannelKind::kTorque, da), nullptr, da});
  }
}

}  // namespace

bool IsDelayOnly(const ParameterSpec& s) {
  return s.targets.size() == 1 && s.targets[0] == "ctrl.delay";
}

std::vector<double> NoiseProbes(const std::vector<double>& time, const Eigen::MatrixXd& values,
                                int column) {
  std::vector<double> probes;
  const int n = static_cast<int>(time.size());
  for (int i = 2; i + 2 < n; ++i) {
    const int idx[4] = {i - 2, i - 1, i + 1, i + 2};
    double pred = 0.0, gain = 1.0;
    bool finite = std::isfinite(values(i, column));
    for (int a = 0; a < 4 && finite; ++a) {
      double l = 1.0;  // Lagrange basis of node a at time[i]
      for (int b = 0; b < 4; ++b) {
        if (b != a) l *= (time[i] - time[idx[b]]) / (time[idx[a]] - time[idx[b]]);
      }
      const double y = values(idx[a], column);
      finite = std::isfinite(y);
      pred += l * y;
      gain += l * l;
    }
    if (finite) probes.push_back((values(i, column) - pred) / std::sqrt(gain));
  }
  return probes;
}

Layout::Layout(const mjModel* m, const std::vector<Episode>& episodes,
               const LayoutOptions& options) {
  const int nq = m->nq, nv = m->nv;
  nx_ = nq + nv;
  torque_ = options.fit_torque;
  const double dt = m->opt.timestep;
  std::map<std::string, int> index;
  auto channel = [&](const std::string& name, ChannelKind kind, int model_index) {
    auto it = index.find(name);
    if (it != index.end()) return it->second;
    Channel c;
    c.name = name;
    c.kind = kind;
    c.model_index = model_index;
    channels_.push_back(c);
    return index[name] = static_cast<int>(channels_.size()) - 1;
  };
  std::map<int, std::vector<double>> probes;  // channel -> pooled noise probes

  for (std::size_t e = 0; e < episodes.size(); ++e) {
    const Episode& ep = episodes[e];
    const std::string where = "episode '" + ep.id + "'";
    const int n = ep.samples();
    if (n < 5) ThrowExpected(where + ": time", "at least 5 samples", std::to_string(n));
    for (int i = 0; i < n; ++i) {
      if (!std::isfinite(ep.time[i]) || (i > 0 && !(ep.time[i] > ep.time[i - 1]))) {
        ThrowExpected(where + ": time[" + std::to_string(i) + "]",
                      "finite, strictly increasing times", std::to_string(ep.time[i]));
      }
    }
    auto check = [&](const Channels& c, const char* what) {
      if (c.empty()) return;
      if (c.values.rows() != n || c.values.cols() != static_cast<Eigen::Index>(c.names.size())) {
        ThrowExpected(where + ": " + what,
                      std::to_string(n) + " x " + std::to_string(c.names.size()) + " values",
                      std::to_string(c.values.rows()) + " x " + std::to_string(c.values.cols()));
      }
    };
    check(ep.qpos, "qpos");
    check(ep.qvel, "qvel");
    check(ep.ctrl, "ctrl");
    check(ep.sensors, "sensors");
    if (ep.qpos.empty() && ep.qvel.empty() && ep.sensors.empty()) {
      ThrowExpected(where, "logged joint positions, velocities or sensors", "none");
    }
    EpisodeMap map;
    if (!options.scale_keys.empty()) {
      map.scale = Eigen::VectorXd::Ones(static_cast<int>(options.scale_keys.size()));
      for (std::size_t j = 0; j < options.scale_keys.size(); ++j) {
        const std::string& key = options.scale_keys[j];
        if (key.empty()) continue;
        const auto it = ep.scenario.find(key);
        if (it == ep.scenario.end() || !it->is_number() || !std::isfinite(it->get<double>()) ||
            it->get<double>() == 0.0) {
          ThrowExpected(where + ": scenario." + key, "a finite non-zero number (episode_scale)",
                        it == ep.scenario.end() ? std::string("nothing") : it->dump());
        }
        map.scale[j] = it->get<double>();
      }
    }
    auto joint = [&](const std::string& name, const char* what) {
      int j = mj_name2id(m, mjOBJ_JOINT, name.c_str());
      if (j < 0) {
        ThrowExpected(where + ": " + what + " channel",
                      "a joint of the model (" + Names(m, mjOBJ_JOINT, m->njnt) + ")",
                      "'" + name + "'");
      }
      if (m->jnt_type[j] != mjJNT_HINGE && m->jnt_type[j] != mjJNT_SLIDE) {
        ThrowExpected(where + ": " + what + " channel '" + name + "'", "a hinge or slide joint",
                      "a free or ball joint");
      }
      return j;
    };
    for (std::size_t c = 0; c < ep.qpos.names.size(); ++c) {
      const int j = joint(ep.qpos.names[c], "qpos");
      if (options.fit_qpos) {
        int ch = channel("qpos:" + ep.qpos.names[c], ChannelKind::kQpos, m->jnt_qposadr[j]);
        map.columns.push_back({ch, &ep.qpos.values, static_cast<int>(c)});
      }
    }
    for (std::size_t c = 0; c < ep.qvel.names.size(); ++c) {
      const int j = joint(ep.qvel.names[c], "qvel");
      if (options.fit_qvel) {
        int ch = channel("qvel:" + ep.qvel.names[c], ChannelKind::kQvel, m->jnt_dofadr[j]);
        map.columns.push_back({ch, &ep.qvel.values, static_cast<int>(c)});
      }
    }
    for (std::size_t c = 0; c < ep.sensors.names.size(); ++c) {
      const std::string& name = ep.sensors.names[c];
      const int s = mj_name2id(m, mjOBJ_SENSOR, name.c_str());
      if (s < 0) {
        ThrowExpected(where + ": sensor channel",
                      "a sensor of the model (" + Names(m, mjOBJ_SENSOR, m->nsensor) + ")",
                      "'" + name + "'");
      }
      if (m->sensor_dim[s] != 1) {
        ThrowExpected(where + ": sensor channel '" + name + "'", "a scalar sensor",
                      std::to_string(m->sensor_dim[s]) + " values");
      }
      if (options.fit_sensors) {
        int ch = channel("sensor:" + name, ChannelKind::kSensor, m->sensor_adr[s]);
        map.columns.push_back({ch, &ep.sensors.values, static_cast<int>(c)});
      }
    }
    if (options.fit_torque) TorqueColumns(m, ep, where, options, channel, &map);
    if (map.columns.empty()) ThrowExpected(where, "at least one channel to fit", "none");
    map.ctrl = Eigen::MatrixXd::Zero(n, m->nu);
    for (std::size_t c = 0; c < ep.ctrl.names.size(); ++c) {
      const int a = mj_name2id(m, mjOBJ_ACTUATOR, ep.ctrl.names[c].c_str());
      if (a < 0) {
        ThrowExpected(where + ": ctrl channel",
                      "an actuator of the model (" + Names(m, mjOBJ_ACTUATOR, m->nu) + ")",
                      "'" + ep.ctrl.names[c] + "'");
      }
      map.ctrl.col(a) = ep.ctrl.values.col(c);
      if (!map.ctrl.col(a).allFinite()) {
        ThrowExpected(where + ": ctrl channel '" + ep.ctrl.names[c] + "'", "finite commands",
                      "NaN or infinity");
      }
    }
    for (const auto& col : map.columns) {
      if (!col.values) continue;  // torque: no logged values
      auto p = NoiseProbes(ep.time, *col.values, col.column);
      probes[col.channel].insert(probes[col.channel].end(), p.begin(), p.end());
    }

    // Segments: consecutive samples spanning segment_seconds; a short tail joins the last one.
    const double t0 = ep.time[0];
    int i = 0;
    while (i < n) {
      int j = i;
      while (j < n && ep.time[j] - ep.time[i] < options.segment_seconds) ++j;
      if (j < n && ep.time[n - 1] - ep.time[j] < 0.5 * options.segment_seconds) j = n;
      if (j - i < 2) j = std::min(n, i + 2);
      Segment s;
      s.episode = static_cast<int>(e);
      s.first = i;
      s.end = j;
      s.start_step = static_cast<int>(std::floor((ep.time[i] - t0) / dt + 1e-9));
      const int last = static_cast<int>(std::ceil((ep.time[j - 1] - t0) / dt - 1e-9));
      s.num_steps = std::max(1, last - s.start_step);
      for (int k = i; k < j; ++k) {
        for (std::size_t c = 0; c < map.columns.size(); ++c) {
          const EpisodeMap::Column& col = map.columns[c];
          // torque rows: where the joint moves, and the local fit's window is whole (half the
          // window and 4 samples, the least a local fit takes on each side, from either end)
          const bool use =
              col.values
                  ? std::isfinite((*col.values)(k, col.column))
                  : std::abs(map.kinematics(k, nq + col.column)) >= options.torque_min_speed &&
                        k >= 4 && k < n - 4 &&
                        ep.time[k] - ep.time[0] >= options.torque_window / 2 &&
                        ep.time[n - 1] - ep.time[k] >= options.torque_window / 2;
          if (use) s.rows.emplace_back(k, static_cast<int>(c));
        }
      }
      // The start state from a local fit to the logs at the grid time: over the 9 nearest
      // samples as the fit's first guess (least biased, and the fit refines it), over
      // state_window for open-loop replays (which nothing refines, so noise matters more).
      const double tg = t0 + s.start_step * dt;
      auto estimate = [&](double half, Eigen::VectorXd* x, std::vector<StartFit>* fits) {
        x->resize(nx_);
        x->head(nq) = Eigen::Map<const Eigen::VectorXd>(m->qpos0, nq);
        x->tail(nv).setZero();
        if (fits) fits->clear();
        std::map<int, int> slope_of_dof;  // dof -> index in fits of the qpos fit giving it
        for (std::size_t c = 0; c < ep.qpos.names.size(); ++c) {
          const int jt = mj_name2id(m, mjOBJ_JOINT, ep.qpos.names[c].c_str());
          StartFit f{"qpos:" + ep.qpos.names[c], m->jnt_qposadr[jt], nq + m->jnt_dofadr[jt], {}};
          LocalFit(ep.time, ep.qpos.values, static_cast<int>(c), tg, half, &(*x)[f.value],
                   &(*x)[f.slope], &f.unit_cov);
          if (fits) {
            slope_of_dof[m->jnt_dofadr[jt]] = static_cast<int>(fits->size());
            fits->push_back(std::move(f));
          }
        }
        for (std::size_t c = 0; c < ep.qvel.names.size(); ++c) {
          const int jt = mj_name2id(m, mjOBJ_JOINT, ep.qvel.names[c].c_str());
          double slope;
          StartFit f{"qvel:" + ep.qvel.names[c], nq + m->jnt_dofadr[jt], -1, {}};
          LocalFit(ep.time, ep.qvel.values, static_cast<int>(c), tg, half, &(*x)[f.value], &slope,
                   &f.unit_cov);
          if (fits) {
            // the logged velocity replaces the position fit's slope
            auto it = slope_of_dof.find(m->jnt_dofadr[jt]);
            if (it != slope_of_dof.end()) (*fits)[it->second].slope = -1;
            fits->push_back(std::move(f));
          }
        }
      };
      estimate(0.0, &s.x_init, nullptr);
      if (options.state_window > 0) {
        estimate(options.state_window / 2, &s.x_start, &s.start_fits);
      } else {
        estimate(0.0, &s.x_start, &s.start_fits);
      }
      segments_.push_back(std::move(s));
      i = j;
    }
    maps_.push_back(std::move(map));
  }

  // Held-out segments, evenly spread and reproducible without random numbers.
  const int count = static_cast<int>(segments_.size());
  int hold = static_cast<int>(std::lround(options.held_out_fraction * count));
  if (options.held_out_fraction > 0 && hold == 0 && count >= 2) hold = 1;
  hold = std::min(hold, count - 1);
  for (int s = 0; s < count && hold > 0; ++s) {
    segments_[s].held_out =
        (static_cast<long>(s + 1) * hold) / count > (static_cast<long>(s) * hold) / count;
  }

  // Noise levels: given by name or group, else estimated from the pooled probes.
  for (const auto& [key, sigma] : options.noise) {
    bool known = key == "qpos" || key == "qvel" || key == "sensor" || key == "torque";
    for (const auto& c : channels_) known = known || c.name == key;
    if (!known) {
      std::string list;
      for (const auto& c : channels_) list += (list.empty() ? "" : ", ") + c.name;
      ThrowExpected("calibration.noise",
                    "a fitted channel or group (qpos, qvel, sensor, torque, " + list + ")",
                    "'" + key + "'");
    }
    if (!(sigma > 0) || !std::isfinite(sigma)) {
      ThrowExpected("calibration.noise." + key, "a standard deviation > 0", std::to_string(sigma));
    }
  }
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    Channel& ch = channels_[c];
    auto named = options.noise.find(ch.name);
    auto group = options.noise.find(GroupOf(ch.kind));
    if (named != options.noise.end()) {
      ch.sigma = named->second;
    } else if (group != options.noise.end()) {
      ch.sigma = group->second;
    } else if (ch.kind == ChannelKind::kTorque) {
      ch.sigma = 1.0;  // Calibrate estimates it from the residuals
      ch.estimated = true;
    } else {
      std::vector<double> a = probes[static_cast<int>(c)];
      for (double& v : a) v = std::abs(v);
      double sigma = 0.0;
      if (!a.empty()) {
        std::nth_element(a.begin(), a.begin() + a.size() / 2, a.end());
        sigma = 1.4826 * a[a.size() / 2];
        if (!(sigma > 0)) {  // quantised or noise-free logs: fall back on the mean
          double sum = 0;
          for (double v : a) sum += v;
          sigma = 1.2533 * sum / a.size();
        }
      }
      ch.sigma = sigma > 0 ? sigma : 1e-9;
      ch.estimated = true;
    }
  }
}

struct Evaluator::Pool {
  Pool(const mjModel* base, int threads)
      : ws(base, threads, true), applied(threads), applied_conditions(threads, nullptr) {}
  WorkspacePool ws;
  std::vector<Eigen::VectorXd> applied;  // values last written into each workspace
  std::vector<const Eigen::VectorXd*> applied_conditions;  // and the conditions under them
  std::vector<std::vector<double>> traj;      // per thread: states (and sensors) per step
  std::vector<std::vector<double>> commands;  // per thread: two command rows
};

Evaluator::Evaluator(const mjModel* base, const ParameterBinding& binding,
                     const std::vector<Episode>& episodes, const Layout& layout,
                     std::vector<int> segments, int threads, ControlHold hold,
                     const EpisodeConditions* conditions)
    : binding_(&binding),
      conditions_(conditions),
      episodes_(&episodes),
      layout_(&layout),
      segments_(std::move(segments)),
      threads_(ResolveThreads(threads)),
      hold_(hold) {
  pool_ = std::make_unique<Pool>(base, threads_);
  episode_conditions_.assign(episodes.size(), nullptr);
  if (conditions_ != nullptr) {
    for (std::size_t e = 0; e < episodes.size(); ++e) {
      episode_conditions_[e] = conditions_->Find(episodes[e].id);
    }
  }
  pool_->traj.resize(threads_);
  pool_->commands.resize(threads_);
  const Eigen::VectorXd z0 = Internal(binding.Initial());
  hz_.resize(P());
  fixed_.resize(P());
  for (int j = 0; j < P(); ++j) fixed_[j] = binding.spec(j).fixed ? 1 : 0;
  for (int j = 0; j < P(); ++j) {
    const ParameterSpec& s = binding.spec(j);
    if (IsDelayOnly(s)) {
      hz_[j] = 0.05 * base->opt.timestep;  // the response is piecewise linear in the delay
    } else if (s.log_scale) {
      hz_[j] = 1e-4;
    } else {
      hz_[j] = 1e-4 * std::max(std::abs(z0[j]), 1e-2);
    }
  }
  lower_ = Eigen::VectorXd::Constant(P(), -std::numeric_limits<double>::infinity());
  upper_ = Eigen::VectorXd::Constant(P(), std::numeric_limits<double>::infinity());
  for (int j = 0; j < P(); ++j) {
    const ParameterSpec& s = binding.spec(j);
    if (Bounded(s.lower)) lower_[j] = s.log_scale ? std::log(s.lower) : s.lower;
    if (Bounded(s.upper)) upper_[j] = s.log_scale ? std::log(s.upper) : s.upper;
  }
  const int n = size();
  r_.resize(n);
  jp_.resize(n);
  jx_.resize(n);
  ok_.assign(n, 0);
  for (int a = 0; a < n; ++a) {
    const int rows = static_cast<int>(layout.segments()[segments_[a]].rows.size());
    r_[a].setZero(rows);
  }
}

Evaluator::~Evaluator() = default;

Eigen::VectorXd Evaluator::Values(const Eigen::VectorXd& z) const {
  Eigen::VectorXd v = z;
  for (int j = 0; j < P(); ++j) {
    if (binding_->spec(j).log_scale) v[j] = std::exp(z[j]);
  }
  return v;
}

Eigen::VectorXd Evaluator::Internal(const Eigen::VectorXd& values) const {
  Eigen::VectorXd z = values;
  for (int j = 0; j < P(); ++j) {
    if (binding_->spec(j).log_scale) z[j] = std::log(values[j]);
  }
  return z;
}

Eigen::VectorXd Evaluator::ValueDerivative(const Eigen::VectorXd& z) const {
  Eigen::VectorXd d = Eigen::VectorXd::Ones(P());
  for (int j = 0; j < P(); ++j) {
    if (binding_->spec(j).log_scale) d[j] = std::exp(z[j]);
  }
  return d;
}

bool Evaluator::Simulate(int thread, const Eigen::VectorXd& z, int a, const double* x,
                         double* out) {
  Workspace& ws = pool_->ws[thread];
  const Segment& seg = layout_->segments()[segments_[a]];
  Eigen::VectorXd values = Values(z);
  const Eigen::VectorXd& scale = layout_->maps()[seg.episode].scale;
  if (scale.size() == values.size()) values = values.cwiseProduct(scale);
  Eigen::VectorXd& applied = pool_->applied[thread];
  const Eigen::VectorXd* conditions = episode_conditions_[seg.episode];
  if (applied.size() != values.size() || (applied.array() != values.array()).any() ||
      pool_->applied_conditions[thread] != conditions) {
    if (conditions_ != nullptr) {
      ws.ApplyUnder(*binding_, values, conditions_->binding, conditions);
    } else {
      ws.Apply(*binding_, values);
    }
    applied = values;
    pool_->applied_conditions[thread] = conditions;
  }
  if (layout_->torque()) return InverseResiduals(thread, a, out);
  const Episode& ep = (*episodes_)[seg.episode];
  const EpisodeMap& map = layout_->maps()[seg.episode];
  const mjModel* m = ws.model();
  mjData* d = ws.data();
  const Effects& e = ws.effects();
  const int nq = m->nq, nv = m->nv, ns = m->nsensordata, nu = m->nu;
  const int stride = nq + nv + ns;
  const double dt = m->opt.timestep;
  const double t0 = ep.time[0];
  const double tg = t0 + seg.start_step * dt;
  std::vector<double>& traj = pool_->traj[thread];
  traj.resize(static_cast<std::size_t>(seg.num_steps + 1) * stride);
  std::vector<double>& cmd = pool_->commands[thread];
  cmd.resize(2 * static_cast<std::size_t>(nu));
  bool sensors = false;
  for (const auto& col : map.columns) {
    sensors = sensors || layout_->channels()[col.channel].kind == ChannelKind::kSensor;
  }

  State s;
  s.time = tg;
  s.qpos = Eigen::Map<const Eigen::VectorXd>(x, nq);
  s.qvel = Eigen::Map<const Eigen::VectorXd>(x + nq, nv);
  ws.SetState(s);
  const StepLag lag(e.delay, dt);
  auto record_state = [&](int k) {
    double* row = &traj[static_cast<std::size_t>(k) * stride];
    std::copy(d->qpos, d->qpos + nq, row);
    std::copy(d->qvel, d->qvel + nv, row + nq);
  };
  try {
    record_state(0);
    for (int k = 0; k < seg.num_steps; ++k) {
      StepCommand(ep.time, map.ctrl, t0, dt, seg.start_step + k, lag, hold_, cmd.data(), d->ctrl);
      for (int u = 0; u < nu; ++u) d->ctrl[u] = e.ctrl_gain[u] * d->ctrl[u] + e.ctrl_bias[u];
      ws.Step();
      if (BadState(d)) {
        ws.HardReset();
        return false;
      }
      // mj_step computed the sensors of the state it started from (state k).
      if (sensors) std::copy(d->sensordata, d->sensordata + ns, &traj[k * stride + nq + nv]);
      record_state(k + 1);
    }
    if (sensors) {
      mj_forward(m, d);
      std::copy(d->sensordata, d->sensordata + ns, &traj[seg.num_steps * stride + nq + nv]);
    }
  } catch (const MujocoError&) {
    ws.HardReset();
    return false;
  }
  for (std::size_t r = 0; r < seg.rows.size(); ++r) {
    const auto [sample, c] = seg.rows[r];
    const EpisodeMap::Column& col = map.columns[c];
    const Channel& ch = layout_->channels()[col.channel];
    const double u = (ep.time[sample] - tg) / dt;
    const int k = std::clamp(static_cast<int>(std::floor(u)), 0, seg.num_steps - 1);
    const double w = u - k;
    int idx = ch.model_index;
    double bias = 0.0;
    if (ch.kind == ChannelKind::kQvel) idx += nq;
    if (ch.kind == ChannelKind::kSensor) {
      idx += nq + nv;
      bias = e.sensor_bias[ch.model_index];
    }
    const double sim = (1 - w) * traj[k * stride + idx] + w * traj[(k + 1) * stride + idx] + bias;
    out[r] = (sim - (*col.values)(sample, col.column)) / ch.sigma;
    if (!std::isfinite(out[r])) return false;
  }
  return true;
}

bool Evaluator::InverseResiduals(int thread, int a, double* out) {
  Workspace& ws = pool_->ws[thread];
  const Segment& seg = layout_->segments()[segments_[a]];
  const Episode& ep = (*episodes_)[seg.episode];
  const EpisodeMap& map = layout_->maps()[seg.episode];
  const mjModel* m = ws.model();
  mjData* d = ws.data();
  const Effects& e = ws.effects();
  const int nq = m->nq, nv = m->nv, nu = m->nu;
  std::vector<double>& cmd = pool_->commands[thread];
  cmd.resize(3 * static_cast<std::size_t>(nu));  // StepCommand's scratch, then one step's
  // The simulator's own half step. With MuJoCo's (semi-implicit) Euler and implicit
  // integrators, v[k+1] = v[k] + h a[k](q[k], v[k], u[k]) and q[k+1] = q[k] + h v[k+1], so the
  // positions' second difference at step k is a[k]: the acceleration a local fit to the positions
  // sees at t is driven by the position and the command at t, but by the velocity half a step
  // earlier (the positions' backward difference, v - h a / 2), and the damping (implicit in both)
  // acts on the step's new velocity, v + h a / 2. Taken at t instead, the damping would come out
  // wrong by b h a / 2 and the delay would take up the difference. RK4 has no such offsets.
  const double half = m->opt.integrator == mjINT_RK4 ? 0.0 : 0.5 * m->opt.timestep;
  NB_CHECK(nq == nv);  // hinge and slide joints only (the layout checked)
  const double dt = m->opt.timestep, t0 = ep.time[0];
  const StepLag lag(e.delay, dt);
  double* step = cmd.data() + 2 * nu;
  int at = -1;  // the sample whose inverse dynamics d holds
  try {
    for (std::size_t r = 0; r < seg.rows.size(); ++r) {
      const auto [sample, c] = seg.rows[r];
      if (sample != at) {
        const double* kin = &map.kinematics(sample, 0);
        // (kinematics is column-major: one sample's values are a strided row)
        const Eigen::Index stride = map.kinematics.rows();
        for (int k = 0; k < nv; ++k) d->qacc[k] = kin[(nq + nv + k) * stride];
        for (int k = 0; k < nv; ++k) d->qvel[k] = kin[(nq + k) * stride] - half * d->qacc[k];
        for (int k = 0; k < nq; ++k) d->qpos[k] = kin[k * stride];
        // The command acting now, as the simulation applies it (StepCommand); a sample between
        // two steps takes theirs in proportion.
        const double at_step = (ep.time[sample] - t0) / dt;
        const double g = std::floor(at_step), w = at_step - g;
        for (int u = 0; u < nu; ++u) d->ctrl[u] = 0.0;
        for (int side = 0; side < 2; ++side) {
          const double share = side == 0 ? 1 - w : w;
          if (share == 0) continue;
          StepCommand(ep.time, map.ctrl, t0, dt, g + side, lag, hold_, cmd.data(), step);
          for (int u = 0; u < nu; ++u) d->ctrl[u] += share * step[u];
        }
        for (int u = 0; u < nu; ++u) d->ctrl[u] = e.ctrl_gain[u] * d->ctrl[u] + e.ctrl_bias[u];
        ws.Inverse();
        // damping, implicit in both, acts on the step's new velocity: v + h a
        for (int k = 0; half > 0 && k < nv; ++k) {
          d->qfrc_inverse[k] += m->dof_damping[k] * 2 * half * d->qacc[k];
        }
        at = sample;
      }
      const int dof = map.columns[c].column;
      const double sigma = layout_->channels()[map.columns[c].channel].sigma;
      out[r] = (d->qfrc_actuator[dof] - d->qfrc_inverse[dof]) / sigma;
      if (!std::isfinite(out[r])) return false;
    }
  } catch (const MujocoError&) {
    ws.HardReset();
    return false;
  }
  return true;
}

std::pair<double, double> Evaluator::ParameterStencil(const Eigen::VectorXd& z, int j) const {
  const double h = hz_[j];
  double lo = z[j] - h, hi = z[j] + h;
  if (lo < lower_[j]) {
    lo = std::min(lower_[j], z[j]);
    hi = std::min(lo + 2 * h, std::max(upper_[j], z[j] + h));
  } else if (hi > upper_[j]) {
    hi = std::max(upper_[j], z[j]);
    lo = std::max(hi - 2 * h, std::min(lower_[j], z[j] - h));
  }
  return {lo, hi};
}

bool Evaluator::Evaluate(const Eigen::VectorXd& z, const std::vector<Eigen::VectorXd>& x,
                         bool jacobians, bool parameter_jacobians) {
  NB_CHECK(static_cast<int>(x.size()) == size() && z.size() == P());
  const int n = size(), np = P(), nxx = nx();
  const int per = 1 + (jacobians ? 2 * (np + nxx) : 0);
  const int total = n * per;
  if (static_cast<int>(task_out_.size()) < total) task_out_.resize(total);
  std::vector<char> task_ok(total, 0);
  auto x_step = [](double v) { return 1e-6 * std::max(1.0, std::abs(v)); };
  ParallelFor(total, threads_, [&](int idx, int thread) {
    const int a = idx / per, k = idx % per;
    std::vector<double>& out = task_out_[idx];
    out.resize(r_[a].size());
    Eigen::VectorXd zz = z, xx = x[a];
    if (k > 0) {
      const int j = (k - 1) / 2;
      const double sign = (k - 1) % 2 == 0 ? 1.0 : -1.0;
      if ((j < np && (fixed_[j] || !parameter_jacobians)) || (j >= np && layout_->torque())) {
        std::fill(out.begin(), out.end(), 0.0);
        task_ok[idx] = 1;
        return;
      }
      if (j < np) {
        zz[j] = sign > 0 ? ParameterStencil(z, j).second : ParameterStencil(z, j).first;
      } else {
        xx[j - np] += sign * x_step(x[a][j - np]);
      }
    }
    task_ok[idx] = Simulate(thread, zz, a, xx.data(), out.data()) ? 1 : 0;
  });
  ++residual_evaluations_;
  if (jacobians) ++jacobian_evaluations_;
  bool all = true;
  message_.clear();
  for (int a = 0; a < n; ++a) {
    bool ok = true;
    for (int k = 0; k < per; ++k) ok = ok && task_ok[a * per + k];
    ok_[a] = ok ? 1 : 0;
    if (!ok && all) {
      const Segment& seg = layout_->segments()[segments_[a]];
      message_ = "simulation of episode '" + (*episodes_)[seg.episode].id + "' from sample " +
                 std::to_string(seg.first) + " diverged or produced a non-finite value";
    }
    all = all && ok;
    const int rows = static_cast<int>(r_[a].size());
    r_[a] = Eigen::Map<const Eigen::VectorXd>(task_out_[a * per].data(), rows);
    if (!jacobians || !ok) continue;
    jp_[a].resize(rows, np);
    jx_[a].resize(rows, nxx);
    for (int j = 0; j < np + nxx; ++j) {
      Eigen::Map<const Eigen::VectorXd> plus(task_out_[a * per + 1 + 2 * j].data(), rows);
      Eigen::Map<const Eigen::VectorXd> minus(task_out_[a * per + 2 + 2 * j].data(), rows);
      if (j < np) {
        const auto [zm, zp] = ParameterStencil(z, j);
        jp_[a].col(j) = (plus - minus) / (zp - zm);
      } else {
        jx_[a].col(j - np) = (plus - minus) / (2 * x_step(x[a][j - np]));
      }
    }
  }
  return all;
}

double Evaluator::SumSquares() const {
  double sum = 0;
  for (const auto& r : r_) sum += r.squaredNorm();
  return sum;
}

std::vector<std::string> ScaleKeys(const ParameterBinding& binding,
                                   const std::map<std::string, std::string>& episode_scale) {
  if (episode_scale.empty()) return {};
  std::vector<std::string> keys(binding.size());
  for (const auto& [name, key] : episode_scale) {
    const int j = binding.Find(name);
    if (j < 0) {
      std::string names;
      for (const auto& s : binding.specs()) names += (names.empty() ? "" : ", ") + s.name;
      ThrowExpected("calibration.episode_scale", "a parameter name (" + names + ")",
                    "'" + name + "'");
    }
    keys[j] = key;
  }
  return keys;
}

Eliminated EliminateStartState(const Eigen::MatrixXd& jp, const Eigen::MatrixXd& jx) {
  const Eigen::MatrixXd hxx = jx.transpose() * jx;
  const Eigen::MatrixXd hxp = jx.transpose() * jp;
  const Eigen::MatrixXd b = hxx.completeOrthogonalDecomposition().solve(hxp);
  Eliminated e;
  e.information = jp.transpose() * jp - hxp.transpose() * b;
  e.jacobian = jp - jx * b;
  return e;
}

}  // namespace nextbatch::calib
