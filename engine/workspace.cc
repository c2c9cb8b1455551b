#include "engine/workspace.h"

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

void Workspace::Step() {
  if (effects_.stribeck_dofs.empty()) {
    mj_step(model_, data_.get());
    return;
  }
  mjModel* m = mutable_model();
  const mjData* d = data_.get();
  const std::vector<int>& dofs = effects_.stribeck_dofs;
  sliding_.resize(dofs.size());  // allocates once: the set of dofs only grows
  for (std::size_t k = 0; k < dofs.size(); ++k) {
    const int i = dofs[k];
    sliding_[k] = m->dof_frictionloss[i];
    m->dof_frictionloss[i] = effects_.FrictionLevel(i, sliding_[k], d->qvel[i]);
  }
  auto restore = [&] {
    for (std::size_t k = 0; k < dofs.size(); ++k) m->dof_frictionloss[dofs[k]] = sliding_[k];
  };
  try {
    mj_step(m, data_.get());
  } catch (...) {
    restore();
    throw;
  }
  restore();
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
