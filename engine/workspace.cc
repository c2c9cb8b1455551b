#include "engine/workspace.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.h"

namespace nextbatch {

State State::Reference(const mjModel* m) {
  State s;
  s.qpos = Eigen::Map<const Eigen::VectorXd>(m->qpos0, m->nq);
  s.qvel = Eigen::VectorXd::Zero(m->nv);
  s.act = Eigen::VectorXd::Zero(m->na);
  return s;
}

State State::From(const mjModel* m, const mjData* d) {
  State s;
  s.time = d->time;
  s.qpos = Eigen::Map<const Eigen::VectorXd>(d->qpos, m->nq);
  s.qvel = Eigen::Map<const Eigen::VectorXd>(d->qvel, m->nv);
  s.act = Eigen::Map<const Eigen::VectorXd>(d->act, m->na);
  return s;
}

Workspace::Workspace(const mjModel* base, bool private_model) : base_(base), model_(base) {
  InstallMujocoHandlers();
  if (private_model) {
    own_ = CopyModel(base);
    model_ = own_.get();
  }
  data_ = MakeData(model_);
  effects_ = Effects::Identity(model_);
}

mjModel* Workspace::mutable_model() {
  NB_CHECK(own_ != nullptr);
  return own_.get();
}

void Workspace::Apply(const ParameterBinding& binding, const Eigen::VectorXd& values) {
  binding.Apply(values, mutable_model(), data_.get(), &effects_);
}

void Workspace::ApplyUnder(const ParameterBinding& binding, const Eigen::VectorXd& values,
                           const ParameterBinding& condition_binding,
                           const Eigen::VectorXd* conditions) {
  if (condition_binding.size() == 0) {
    Apply(binding, values);
    return;
  }
  mjModel* m = mutable_model();
  // Every condition slot returns to the base model's value first, also for an episode that
  // records none of them: a workspace that last simulated another episode must not keep its
  // conditions (which would make a result depend on which thread ran which episode before).
  condition_binding.RestoreNominal(m, &effects_);
  // One mj_setConst after the conditions, not one per binding.
  binding.Apply(values, m, nullptr, &effects_, /*set_const=*/false);
  if (conditions != nullptr) condition_binding.ApplyOver(*conditions, m, &effects_);
  if (binding.needs_set_const() || condition_binding.needs_set_const()) {
    mj_setConst(m, data_.get());
  }
}

double JointActuatorTorque(const mjModel* m, const mjData* d, int dof) {
  double torque = 0;
  for (int a = 0; a < m->nu; ++a) {
    if (m->actuator_trntype[a] != mjTRN_JOINT || m->actuator_dyntype[a] != mjDYN_NONE) continue;
    const int j = m->actuator_trnid[2 * a];
    if (m->jnt_dofadr[j] != dof || m->jnt_type[j] == mjJNT_FREE || m->jnt_type[j] == mjJNT_BALL) {
      continue;
    }
    const double gear = m->actuator_gear[6 * a];
    const double length = gear * d->qpos[m->jnt_qposadr[j]], velocity = gear * d->qvel[dof];
    double ctrl = d->ctrl[a];
    if (m->actuator_ctrllimited[a]) {
      ctrl = std::clamp(ctrl, m->actuator_ctrlrange[2 * a], m->actuator_ctrlrange[2 * a + 1]);
    }
    const mjtNum* g = m->actuator_gainprm + mjNGAIN * a;
    const mjtNum* b = m->actuator_biasprm + mjNBIAS * a;
    double gain = g[0];
    if (m->actuator_gaintype[a] == mjGAIN_AFFINE) gain += g[1] * length + g[2] * velocity;
    double force = gain * ctrl;
    if (m->actuator_biastype[a] == mjBIAS_AFFINE) force += b[0] + b[1] * length + b[2] * velocity;
    if (m->actuator_forcelimited[a]) {
      force = std::clamp(force, m->actuator_forcerange[2 * a], m->actuator_forcerange[2 * a + 1]);
    }
    torque += gear * force;
  }
  return torque;
}

void Workspace::Step() {
  if (effects_.friction_dofs.empty()) {
    mj_step(model_, data_.get());
    return;
  }
  WithFriction([](const mjModel* m, mjData* d) { mj_step(m, d); }, /*inverse=*/false);
}

void Workspace::Inverse() {
  auto pass = [](const mjModel* m, mjData* d) {
    mj_inverse(m, d);
    mj_fwdActuation(m, d);
  };
  if (effects_.friction_dofs.empty()) {
    pass(model_, data_.get());
    return;
  }
  WithFriction(pass, /*inverse=*/true);
}

void Workspace::WithFriction(void (*pass)(const mjModel*, mjData*), bool inverse) {
  const std::vector<int>& dofs = effects_.friction_dofs;
  mjModel* m = mutable_model();
  mjData* d = data_.get();
  sliding_.resize(dofs.size());  // allocates once: the list only grows
  applied_.resize(dofs.size());
  smooth_.resize(dofs.size());
  for (std::size_t k = 0; k < dofs.size(); ++k) {
    const int i = dofs[k];
    sliding_[k] = m->dof_frictionloss[i];
    applied_[k] = d->qfrc_applied[i];
    double level =
        effects_.has_static[i] ? effects_.FrictionLevel(i, sliding_[k], d->qvel[i]) : sliding_[k];
    if (effects_.load_friction[i] != 0) {
      level += effects_.load_friction[i] * std::abs(JointActuatorTorque(m, d, i));
    }
    level = std::max(0.0, level);
    smooth_[k] = 0.0;
    if (effects_.has_smooth[i]) {
      const double vs = std::max(effects_.smooth_velocity[i], 1e-12);
      smooth_[k] = -level * (2.0 / mjPI) * std::atan(d->qvel[i] / vs);
      d->qfrc_applied[i] += smooth_[k];
      level = 0.0;
    }
    m->dof_frictionloss[i] = level;
  }
  auto restore = [&] {
    for (std::size_t k = 0; k < dofs.size(); ++k) {
      m->dof_frictionloss[dofs[k]] = sliding_[k];
      d->qfrc_applied[dofs[k]] = applied_[k];
    }
  };
  try {
    pass(m, d);
  } catch (...) {
    restore();
    throw;
  }
  restore();
  if (inverse) {
    for (std::size_t k = 0; k < dofs.size(); ++k) d->qfrc_inverse[dofs[k]] -= smooth_[k];
  }
}

void Workspace::RestoreBase() {
  if (own_) mj_copyModel(own_.get(), base_);
  effects_ = Effects::Identity(model_);
}

void Workspace::SetState(const State& s) {
  const mjModel* m = model_;
  mjData* d = data_.get();
  NB_CHECK(s.qpos.size() == m->nq && s.qvel.size() == m->nv);
  NB_CHECK(s.act.size() == 0 || s.act.size() == m->na);
  d->time = s.time;
  mju_copy(d->qpos, s.qpos.data(), m->nq);
  mju_copy(d->qvel, s.qvel.data(), m->nv);
  if (m->na) {
    if (s.act.size())
      mju_copy(d->act, s.act.data(), m->na);
    else
      mju_zero(d->act, m->na);
  }
  mju_zero(d->qacc_warmstart, m->nv);
  mju_zero(d->ctrl, m->nu);
  mju_zero(d->qfrc_applied, m->nv);
  mju_zero(d->xfrc_applied, 6 * m->nbody);
  if (m->nmocap) {
    for (int b = 0; b < m->nbody; ++b) {
      int id = m->body_mocapid[b];
      if (id < 0) continue;
      mju_copy3(d->mocap_pos + 3 * id, m->body_pos + 3 * b);
      mju_copy4(d->mocap_quat + 4 * id, m->body_quat + 4 * b);
    }
  }
  std::memset(d->warning, 0, sizeof(d->warning));
}

void Workspace::HardReset() { mj_resetData(model_, data_.get()); }

WorkspacePool::WorkspacePool(const mjModel* base, int num_threads, bool private_models) {
  NB_CHECK(num_threads >= 1);
  for (int i = 0; i < num_threads; ++i) {
    workspaces_.push_back(std::make_unique<Workspace>(base, private_models));
  }
}

}  // namespace nextbatch
