// Synthetic logs for hidden-truth tests: the engine simulates a model with hidden parameter
// values under smooth random commands; the log samples it at irregular times (linear
// interpolation between simulation steps) and adds Gaussian measurement noise.
#ifndef NEXTBATCH_TESTS_CALIBRATION_SYNTHETIC_H_
#define NEXTBATCH_TESTS_CALIBRATION_SYNTHETIC_H_

#include <cmath>
#include <string>
#include <vector>

#include "engine/episode.h"
#include "engine/model.h"
#include "engine/parameter.h"
#include "engine/random.h"
#include "engine/rollout.h"
#include "engine/workspace.h"

namespace nextbatch::testing {

struct SyntheticLog {
  double duration = 2.0;
  double mean_interval = 0.01;  // seconds between samples
  double jitter = 0.4;          // intervals uniform in mean * (1 +- jitter)
  double qpos_noise = 1e-3;
  double qvel_noise = 0.0;             // 0: velocities are not logged
  std::vector<double> ctrl_offset;     // per actuator
  std::vector<double> ctrl_amplitude;  // per actuator
  std::uint64_t seed = 1;
};

// One episode of `m` under parameter values `truth`, started from `start` (time 0). Logs every
// hinge and slide joint.
inline Episode MakeEpisode(const mjModel* m, const ParameterBinding& binding,
                           const Eigen::VectorXd& truth, const State& start,
                           const SyntheticLog& spec, int index) {
  RandomStream rng(spec.seed, Stage::kSynthetic, static_cast<std::uint64_t>(index));
  RandomStream noise(spec.seed, Stage::kMeasurementNoise, static_cast<std::uint64_t>(index));
  Episode ep;
  ep.id = "ep" + std::to_string(index);
  for (double t = 0; t <= spec.duration;
       t += spec.mean_interval * (1 + spec.jitter * rng.Uniform(-1, 1))) {
    ep.time.push_back(t);
  }
  const int n = ep.samples(), nu = m->nu;
  // Commands: per actuator, three sines of random frequency (0.3-2.5 Hz) and phase.
  Eigen::MatrixXd u(n, nu);
  for (int a = 0; a < nu; ++a) {
    double f[3], ph[3];
    for (int k = 0; k < 3; ++k) f[k] = rng.Uniform(0.3, 2.5), ph[k] = rng.Uniform(0, 6.283);
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += std::sin(6.2831853 * f[k] * ep.time[i] + ph[k]) / 3;
      u(i, a) = spec.ctrl_offset[a] + spec.ctrl_amplitude[a] * s;
    }
    ep.ctrl.names.push_back(ElementName(m, mjOBJ_ACTUATOR, a));
  }
  ep.ctrl.values = u;
  Workspace ws(m, true);
  ws.Apply(binding, truth);
  ws.SetState(start);
  OpenLoopController controller(ep.time, u, OpenLoopController::Hold::kLinear);
  RolloutOptions o;
  o.num_steps = static_cast<int>(std::ceil(ep.time.back() / m->opt.timestep)) + 1;
  RolloutResult r = Rollout(ws, &controller, o);
  if (!r.ok()) throw std::runtime_error("synthetic rollout failed: " + r.message);
  std::vector<int> joints;
  for (int j = 0; j < m->njnt; ++j) {
    if (m->jnt_type[j] == mjJNT_HINGE || m->jnt_type[j] == mjJNT_SLIDE) joints.push_back(j);
  }
  const int nj = static_cast<int>(joints.size());
  ep.qpos.values.resize(n, nj);
  if (spec.qvel_noise > 0) ep.qvel.values.resize(n, nj);
  for (int c = 0; c < nj; ++c) {
    const std::string name = ElementName(m, mjOBJ_JOINT, joints[c]);
    ep.qpos.names.push_back(name);
    if (spec.qvel_noise > 0) ep.qvel.names.push_back(name);
  }
  for (int i = 0; i < n; ++i) {
    const double steps = ep.time[i] / m->opt.timestep;
    const int k =
        std::min(static_cast<int>(std::floor(steps)), static_cast<int>(r.time.size()) - 2);
    const double w = steps - k;
    for (int c = 0; c < nj; ++c) {
      const int qa = m->jnt_qposadr[joints[c]], da = m->jnt_dofadr[joints[c]];
      ep.qpos.values(i, c) =
          (1 - w) * r.qpos(k, qa) + w * r.qpos(k + 1, qa) + spec.qpos_noise * noise.Normal();
      if (spec.qvel_noise > 0) {
        ep.qvel.values(i, c) =
            (1 - w) * r.qvel(k, da) + w * r.qvel(k + 1, da) + spec.qvel_noise * noise.Normal();
      }
    }
  }
  return ep;
}

// `count` episodes of the two-link arm (tests/fixtures/models.h TwoLinkXml) under `truth`, both
// motors driven (amplitudes 4 and 1.5 N m), from spread start poses.
inline std::vector<Episode> TwoLinkEpisodes(const mjModel* m, const ParameterBinding& binding,
                                            const Eigen::VectorXd& truth, SyntheticLog log,
                                            int count = 3) {
  log.ctrl_offset = {0.0, 0.0};
  log.ctrl_amplitude = {4.0, 1.5};
  std::vector<Episode> episodes;
  for (int i = 0; i < count; ++i) {
    State s = State::Reference(m);
    s.qpos[0] = -1.2 + 0.4 * i;
    s.qpos[1] = 0.3 * i;
    episodes.push_back(MakeEpisode(m, binding, truth, s, log, i));
  }
  return episodes;
}

}  // namespace nextbatch::testing

#endif  // NEXTBATCH_TESTS_CALIBRATION_SYNTHETIC_H_
