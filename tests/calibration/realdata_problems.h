// Shared by tests/calibration/realdata_test.cc and bench/realdata_calibration.cc: loads a
// calibration example study with its dataset, the reference parameter sets stored beside it, and
// derives the pendulum's physical quantities (J about the joint, m*cx) from any parameter vector.
#ifndef NEXTBATCH_TESTS_CALIBRATION_REALDATA_PROBLEMS_H_
#define NEXTBATCH_TESTS_CALIBRATION_REALDATA_PROBLEMS_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "calibration/calibration.h"
#include "calibration/calibration_json.h"
#include "calibration/replay.h"
#include "engine/dataset.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/model.h"
#include "engine/study.h"
#include "engine/workspace.h"

namespace nextbatch::realdata {

struct Problem {
  Study study;
  ModelPtr model;
  Dataset dataset;
  ParameterBinding binding;
  CalibrationOptions options;
};

inline Problem LoadProblem(const std::string& study_path, int threads) {
  Problem p;
  p.study = Study::Load(study_path);
  p.model = LoadModelFile(p.study.model);
  p.dataset = LoadDataset(p.study, p.model.get());
  // as the calibrate stage does: derived velocities are not measurements
  DropEstimatedVelocities(&p.dataset);
  p.binding = ParameterBinding(p.model.get(), p.study.parameters);
  p.options = ReadCalibrationOptions(p.study);
  p.options.threads = threads;
  return p;
}

// The predictive bar's replay error of `values` on `episodes`: 0.3 s windows, with the study's
// command hold, per-episode scales and start-state span.
inline ReplayError Replay(const Problem& p, const Eigen::VectorXd& values,
                          const std::vector<Episode>& episodes, int threads) {
  return ComputeReplayError(p.model.get(), p.binding, values, episodes, 0.3, threads,
                            p.options.control_hold, p.options.episode_scale,
                            p.options.state_window);
}

// The same windows and start states for a model that does not move (ComputeHoldStillError).
inline ReplayError HoldStill(const Problem& p, const std::vector<Episode>& episodes) {
  return ComputeHoldStillError(p.model.get(), episodes, 0.3, p.options.state_window);
}

// The reference sets stored beside a study (calibration/replay.h reads the file), as (name,
// values) pairs in the binding's parameter order.
inline std::vector<std::pair<std::string, Eigen::VectorXd>> LoadReferences(
    const std::string& path, const ParameterBinding& binding) {
  std::vector<std::pair<std::string, Eigen::VectorXd>> out;
  for (ReferenceSet& s : ReadReferenceSets(path, binding.specs())) {
    out.emplace_back(std::move(s.name), std::move(s.values));
  }
  return out;
}

struct PendulumQuantities {
  double J = 0, J_std = 0;      // inertia about the joint, armature included (kg m^2)
  double mcx = 0, mcx_std = 0;  // mass times centre-of-mass distance (kg m)
};

// J and m*cx of a one-joint pendulum model with `values` applied, read from MuJoCo itself (the
// joint-space inertia at rest and the gravity torque at 90 degrees), so they hold for any
// parametrisation; standard deviations through their (linear) gradient and `covariance` when it
// is given and finite.
inline PendulumQuantities PendulumOf(const mjModel* base, const ParameterBinding& binding,
                                     const Eigen::VectorXd& values,
                                     const Eigen::MatrixXd& covariance) {
  Workspace ws(base, true);
  auto eval = [&](const Eigen::VectorXd& v) {
    ws.Apply(binding, v);
    const mjModel* m = ws.model();
    mjData* d = ws.data();
    State s = State::Reference(m);
    s.qpos[0] = M_PI / 2;
    ws.SetState(s);
    mj_forward(m, d);
    double M = 0;
    mj_fullM(m, &M, d->qM);
    const double g =
        std::sqrt(m->opt.gravity[0] * m->opt.gravity[0] + m->opt.gravity[1] * m->opt.gravity[1] +
                  m->opt.gravity[2] * m->opt.gravity[2]);
    return Eigen::Vector2d(M, std::abs(d->qfrc_bias[0]) / g);
  };
  PendulumQuantities q;
  const Eigen::Vector2d x = eval(values);
  q.J = x[0];
  q.mcx = x[1];
  const int n = binding.size();
  if (covariance.rows() != n || !covariance.allFinite()) {
    q.J_std = q.mcx_std = std::numeric_limits<double>::quiet_NaN();
    return q;
  }
  Eigen::MatrixXd G(2, n);
  for (int j = 0; j < n; ++j) {
    const double h = 1e-6 * std::max(std::abs(values[j]), 1e-3);
    Eigen::VectorXd v = values;
    v[j] += h;
    G.col(j) = (eval(v) - x) / h;
  }
  const Eigen::Matrix2d C = G * covariance * G.transpose();
  q.J_std = std::sqrt(std::max(C(0, 0), 0.0));
  q.mcx_std = std::sqrt(std::max(C(1, 1), 0.0));
  return q;
}

}  // namespace nextbatch::realdata

#endif  // NEXTBATCH_TESTS_CALIBRATION_REALDATA_PROBLEMS_H_
