#include "engine/rollout.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.h"

namespace nextbatch {

OpenLoopController::OpenLoopController(std::vector<double> times, Eigen::MatrixXd values, Hold hold)
    : times_(std::move(times)), values_(std::move(values)), hold_(hold) {
  NB_CHECK(!times_.empty() && static_cast<Eigen::Index>(times_.size()) == values_.rows());
}

void OpenLoopController::Reset(const mjModel* m, const mjData*) {
  NB_CHECK(values_.cols() == m->nu);
  cursor_ = 0;
}

void OpenLoopController::Control(const mjModel* m, const mjData* d, double* ctrl) {
  const double t = d->time;
  const std::size_t n = times_.size();
  if (cursor_ >= n) cursor_ = 0;
  if (t < times_[cursor_]) cursor_ = 0;
  while (cursor_ + 1 < n && times_[cursor_ + 1] <= t) ++cursor_;
  const std::size_t i = cursor_;
  if (t <= times_[0]) {
    for (int k = 0; k < m->nu; ++k) ctrl[k] = values_(0, k);
  } else if (i + 1 >= n || hold_ == Hold::kZeroOrder) {
    for (int k = 0; k < m->nu; ++k) ctrl[k] = values_(i, k);
  } else {
    const double w = (t - times_[i]) / (times_[i + 1] - times_[i]);
    for (int k = 0; k < m->nu; ++k) ctrl[k] = (1 - w) * values_(i, k) + w * values_(i + 1, k);
  }
}

std::string RolloutOptions::Validate() const {
  if (num_steps < 0) return Expected("rollout.num_steps", ">= 0", std::to_string(num_steps));
  if (record_every < 0) {
    return Expected("rollout.record_every", ">= 0", std::to_string(record_every));
  }
  return "";
}

const char* ToString(RolloutStatus s) {
  switch (s) {
    case RolloutStatus::kOk:
      return "ok";
    case RolloutStatus::kDiverged:
      return "diverged";
    case RolloutStatus::kMujocoError:
      return "mujoco_error";
  }
  return "?";
}

CommandPipeline::CommandPipeline(const mjModel* m, const Effects& e) : nu_(m->nu), effects_(&e) {
  const double steps = std::max(0.0, e.delay / m->opt.timestep);
  delay_steps_ = static_cast<int>(std::floor(steps));
  delay_frac_ = steps - delay_steps_;
  history_.assign(static_cast<std::size_t>(delay_steps_ + 2) * nu_, 0.0);
}

void CommandPipeline::Push(const double* raw, double* applied) {
  const int len = delay_steps_ + 2;
  head_ = (head_ + 1) % len;
  std::memcpy(&history_[static_cast<std::size_t>(head_) * nu_], raw, sizeof(double) * nu_);
  ++pushed_;
  // The command from k steps ago; before the first command existed, the first one holds.
  auto back = [&](int k) -> const double* {
    long available = pushed_ - 1;
    int kk = static_cast<int>(std::min<long>(k, available));
    int slot = ((head_ - kk) % len + len) % len;
    return &history_[static_cast<std::size_t>(slot) * nu_];
  };
  const double* a = back(delay_steps_);
  const double* b = back(delay_steps_ + 1);
  const Effects& e = *effects_;
  for (int k = 0; k < nu_; ++k) {
    const double u = delay_frac_ > 0 ? (1 - delay_frac_) * a[k] + delay_frac_ * b[k] : a[k];
    applied[k] = e.ctrl_gain[k] * u + e.ctrl_bias[k];
  }
}

namespace {

bool BadState(const mjData* d) {
  return d->warning[mjWARN_BADQPOS].number > 0 || d->warning[mjWARN_BADQVEL].number > 0 ||
         d->warning[mjWARN_BADQACC].number > 0 || d->warning[mjWARN_BADCTRL].number > 0;
}

}  // namespace

RolloutResult Rollout(Workspace& ws, Controller* controller, const RolloutOptions& options,
                      const StepObserver& observer) {
  {
    std::string error = options.Validate();
    if (!error.empty()) throw InputError(error);
  }
  const mjModel* m = ws.model();
  mjData* d = ws.data();
  const Effects& e = ws.effects();
  RolloutResult r;
  const int every = options.record_every;
  const int records = every > 0 ? 1 + options.num_steps / every : 0;
  r.time.reserve(records);
  r.qpos.resize(records, m->nq);
  if (options.record_qvel) r.qvel.resize(records, m->nv);
  if (options.record_ctrl) r.ctrl.resize(records, m->nu);
  if (options.record_sensors) r.sensors.resize(records, m->nsensordata);

  std::vector<double> raw(m->nu, 0.0);
  CommandPipeline pipeline(m, e);
  const bool plain = e.IsIdentity();
  int row = 0;
  auto record = [&]() {
    r.time.push_back(d->time);
    for (int i = 0; i < m->nq; ++i) r.qpos(row, i) = d->qpos[i];
    if (options.record_qvel) {
      for (int i = 0; i < m->nv; ++i) r.qvel(row, i) = d->qvel[i];
    }
    if (options.record_ctrl) {
      for (int i = 0; i < m->nu; ++i) r.ctrl(row, i) = d->ctrl[i];
    }
    if (options.record_sensors) {
      for (int i = 0; i < m->nsensordata; ++i) {
        r.sensors(row, i) = d->sensordata[i] + e.sensor_bias[i];
      }
    }
    ++row;
  };
  auto fail = [&](RolloutStatus status, const std::string& message) {
    r.status = status;
    r.message = message;
    r.qpos.conservativeResize(row, Eigen::NoChange);
    if (options.record_qvel) r.qvel.conservativeResize(row, Eigen::NoChange);
    if (options.record_ctrl) r.ctrl.conservativeResize(row, Eigen::NoChange);
    if (options.record_sensors) r.sensors.conservativeResize(row, Eigen::NoChange);
  };

  try {
    if (controller) controller->Reset(m, d);
    if (records > 0) {
      if (options.record_sensors) mj_forward(m, d);
      if (options.record_ctrl && controller) {
        controller->Control(m, d, raw.data());
        CommandPipeline preview(m, e);
        preview.Push(raw.data(), d->ctrl);
      }
      record();
    }
    for (int step = 1; step <= options.num_steps; ++step) {
      if (controller) {
        controller->Control(m, d, raw.data());
        if (plain) {
          std::memcpy(d->ctrl, raw.data(), sizeof(double) * m->nu);
        } else {
          pipeline.Push(raw.data(), d->ctrl);
        }
      } else if (!plain) {
        pipeline.Push(raw.data(), d->ctrl);
      }
      ws.Step();
      if (BadState(d)) {
        ws.HardReset();
        fail(RolloutStatus::kDiverged, "simulation diverged at step " + std::to_string(step) +
                                           " (t=" + std::to_string(step * m->opt.timestep) +
                                           " s): bad qpos, qvel, qacc or ctrl");
        return r;
      }
      r.steps = step;
      if (every > 0 && step % every == 0) {
        // mj_step leaves sensordata of the state before the step: recompute for this one.
        if (options.record_sensors) mj_forward(m, d);
        record();
      }
      if (observer && !observer(step, m, d)) break;
    }
  } catch (const MujocoError& err) {
    ws.HardReset();
    fail(RolloutStatus::kMujocoError, err.what());
    return r;
  }
  if (row < records) fail(RolloutStatus::kOk, "");
  return r;
}

}  // namespace nextbatch
