#include "scenarios/policy.h"

#include <cstring>

#include "engine/error.h"
#include "engine/parallel.h"

namespace nextbatch {
namespace {

bool BadState(const mjData* d) {
  return d->warning[mjWARN_BADQPOS].number > 0 || d->warning[mjWARN_BADQVEL].number > 0 ||
         d->warning[mjWARN_BADQACC].number > 0 || d->warning[mjWARN_BADCTRL].number > 0;
}

}  // namespace

int ObservationSpec::Size(const mjModel* m) const {
  return (time ? 1 : 0) + (qpos ? m->nq : 0) + (qvel ? m->nv : 0) + (sensors ? m->nsensordata : 0);
}

void ObservationSpec::Write(const mjModel* m, const mjData* d, const Effects& e,
                            double* out) const {
  if (time) *out++ = d->time;
  if (qpos) {
    std::memcpy(out, d->qpos, sizeof(double) * m->nq);
    out += m->nq;
  }
  if (qvel) {
    std::memcpy(out, d->qvel, sizeof(double) * m->nv);
    out += m->nv;
  }
  if (sensors) {
    const bool bias = e.sensor_bias.size() == m->nsensordata;
    for (int i = 0; i < m->nsensordata; ++i) {
      out[i] = d->sensordata[i] + (bias ? e.sensor_bias[i] : 0.0);
    }
  }
}

PolicyController::PolicyController(Policy* policy, ObservationSpec spec, const Effects* effects)
    : policy_(policy), spec_(spec), effects_(effects) {
  NB_CHECK(policy_ != nullptr);
}

void PolicyController::Reset(const mjModel* m, const mjData*) {
  obs_.assign(spec_.Size(m), 0.0);
  policy_->Reset();
}

void PolicyController::Control(const mjModel* m, const mjData* d, double* ctrl) {
  static const Effects kNone;
  spec_.Write(m, d, effects_ ? *effects_ : kNone, obs_.data());
  policy_->Act(obs_.data(), static_cast<int>(obs_.size()), ctrl, m->nu);
}

std::string BatchRolloutOptions::Validate() const {
  if (num_steps < 0) return Expected("batch.num_steps", ">= 0", std::to_string(num_steps));
  if (num_threads < 1) return Expected("batch.num_threads", ">= 1", std::to_string(num_threads));
  return "";
}

std::vector<RolloutResult> BatchRollout(std::vector<Workspace*> workspaces, BatchPolicy& policy,
                                        const BatchRolloutOptions& options,
                                        const BatchStepObserver& observer) {
  const std::string error = options.Validate();
  if (!error.empty()) throw InputError(error);
  const int batch = static_cast<int>(workspaces.size());
  std::vector<RolloutResult> results(batch);
  if (batch == 0) return results;
  const mjModel* m0 = workspaces[0]->model();
  const int nobs = options.observation.Size(m0);
  const int nu = m0->nu;
  for (Workspace* ws : workspaces) {
    NB_CHECK(ws->model()->nu == nu && options.observation.Size(ws->model()) == nobs);
  }
  std::vector<double> obs(static_cast<std::size_t>(batch) * nobs, 0.0);
  std::vector<double> ctrl(static_cast<std::size_t>(batch) * nu, 0.0);
  std::vector<CommandPipeline> pipes;
  std::vector<char> plain(batch), active(batch, 1);
  pipes.reserve(batch);
  for (int i = 0; i < batch; ++i) {
    pipes.emplace_back(workspaces[i]->model(), workspaces[i]->effects());
    plain[i] = workspaces[i]->effects().IsIdentity();
  }
  policy.Reset(batch);
  for (int step = 1; step <= options.num_steps; ++step) {
    ParallelFor(batch, options.num_threads, [&](int i, int) {
      if (!active[i]) return;
      Workspace& ws = *workspaces[i];
      options.observation.Write(ws.model(), ws.data(), ws.effects(),
                                obs.data() + static_cast<std::size_t>(i) * nobs);
    });
    policy.Act(batch, obs.data(), nobs, ctrl.data(), nu);
    ParallelFor(batch, options.num_threads, [&](int i, int) {
      if (!active[i]) return;
      Workspace& ws = *workspaces[i];
      const mjModel* m = ws.model();
      mjData* d = ws.data();
      const double* raw = ctrl.data() + static_cast<std::size_t>(i) * nu;
      RolloutResult& r = results[i];
      try {
        if (plain[i]) {
          std::memcpy(d->ctrl, raw, sizeof(double) * nu);
        } else {
          pipes[i].Push(raw, d->ctrl);
        }
        ws.Step();
        if (BadState(d)) {
          ws.HardReset();
          r.status = RolloutStatus::kDiverged;
          r.message = "simulation diverged at step " + std::to_string(step);
          active[i] = 0;
          return;
        }
      } catch (const MujocoError& e) {
        ws.HardReset();
        r.status = RolloutStatus::kMujocoError;
        r.message = e.what();
        active[i] = 0;
        return;
      }
      r.steps = step;
      if (observer && !observer(i, step, m, d)) active[i] = 0;
    });
  }
  for (int i = 0; i < batch; ++i) {
    const mjModel* m = workspaces[i]->model();
    const mjData* d = workspaces[i]->data();
    RolloutResult& r = results[i];
    if (!r.ok()) continue;
    r.time.push_back(d->time);
    r.qpos = Eigen::Map<const Eigen::RowVectorXd>(d->qpos, m->nq);
    r.qvel = Eigen::Map<const Eigen::RowVectorXd>(d->qvel, m->nv);
  }
  return results;
}

}  // namespace nextbatch
