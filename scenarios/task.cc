#include "scenarios/task.h"

#include <cmath>

#include "engine/error.h"
#include "engine/json_reader.h"

namespace nextbatch {

std::string TaskSpec::Validate() const {
  if (!(horizon > 0) || !std::isfinite(horizon)) {
    return Expected(file + ": task.horizon", "seconds > 0", FormatNumber(horizon));
  }
  switch (controller.type) {
    case ControllerSpec::Type::kOpenLoop:
      if (controller.times.empty() ||
          static_cast<Eigen::Index>(controller.times.size()) != controller.values.rows()) {
        return Expected(file + ": task.controller", "as many value rows as times",
                        std::to_string(controller.values.rows()) + " rows for " +
                            std::to_string(controller.times.size()) + " times");
      }
      for (std::size_t i = 1; i < controller.times.size(); ++i) {
        if (!(controller.times[i] > controller.times[i - 1])) {
          return Expected(file + ": task.controller.times", "ascending times",
                          std::to_string(controller.times[i]) + " after " +
                              std::to_string(controller.times[i - 1]));
        }
      }
      break;
    case ControllerSpec::Type::kPd: {
      std::string e = controller.pd.Validate();
      if (!e.empty()) return file + ": task." + e;
      break;
    }
    case ControllerSpec::Type::kEnergySwingUp: {
      std::string e = controller.swing_up.Validate();
      if (!e.empty()) return file + ": task." + e;
      break;
    }
    case ControllerSpec::Type::kScripted: {
      std::string e = controller.scripted.Validate();
      if (!e.empty()) return file + ": task." + e;
      break;
    }
    case ControllerSpec::Type::kNone:
      break;
  }
  return "";
}

Task::Task(const mjModel* m, TaskSpec spec) : spec_(std::move(spec)) {
  const std::string error = spec_.Validate();
  if (!error.empty()) throw InputError(error);
  // Sized before anything runs: the step count is an int, and a rollout of more steps than
  // kMaxTaskSteps is a unit slip, not a plan.
  const double steps = spec_.horizon / m->opt.timestep;
  if (!(steps <= kMaxTaskSteps)) {
    ThrowExpected(spec_.file + ": task.horizon",
                  "at most " + FormatNumber(kMaxTaskSteps) + " model steps (" +
                      FormatNumber(kMaxTaskSteps * m->opt.timestep) + " s at the model's step " +
                      FormatNumber(m->opt.timestep) + " s)",
                  FormatNumber(spec_.horizon) + " s");
  }
  if (!spec_.keyframe.empty()) {
    key_ = mj_name2id(m, mjOBJ_KEY, spec_.keyframe.c_str());
    if (key_ < 0) {
      ThrowExpected(spec_.file + ": task.keyframe", "a keyframe of the model",
                    "\"" + spec_.keyframe + "\"");
    }
  }
  if (spec_.controller.type == ControllerSpec::Type::kOpenLoop &&
      spec_.controller.values.cols() != m->nu) {
    ThrowExpected(spec_.file + ": task.controller.values",
                  "rows of " + std::to_string(m->nu) + " commands (one per actuator)",
                  std::to_string(spec_.controller.values.cols()) + " per row");
  }
  // Building one controller resolves its names now, not inside a parallel loop.
  try {
    MakeController(m);
  } catch (const InputError& e) {
    throw InputError(spec_.file + ": task." + e.what());
  }
  const nlohmann::json& j = spec_.outcome;
  outcome_ = Outcome::Compile(JsonReader(j, spec_.file, "task.outcome"), m, spec_.horizon);
}

int Task::NumSteps(const mjModel* m) const {
  return static_cast<int>(std::ceil(spec_.horizon / m->opt.timestep - 1e-9));
}

State Task::InitialState(const mjModel* m) const {
  State s = State::Reference(m);
  if (key_ >= 0) {
    s.time = m->key_time[key_];
    s.qpos = Eigen::Map<const Eigen::VectorXd>(m->key_qpos + key_ * m->nq, m->nq);
    s.qvel = Eigen::Map<const Eigen::VectorXd>(m->key_qvel + key_ * m->nv, m->nv);
    if (m->na) s.act = Eigen::Map<const Eigen::VectorXd>(m->key_act + key_ * m->na, m->na);
  }
  return s;
}

std::unique_ptr<Controller> Task::MakeController(const mjModel* m) const {
  const ControllerSpec& c = spec_.controller;
  switch (c.type) {
    case ControllerSpec::Type::kNone:
      return nullptr;
    case ControllerSpec::Type::kOpenLoop:
      return std::make_unique<OpenLoopController>(c.times, c.values, c.hold);
    case ControllerSpec::Type::kPd:
      return std::make_unique<PdWaypointController>(m, c.pd);
    case ControllerSpec::Type::kEnergySwingUp:
      return std::make_unique<EnergySwingUpController>(m, c.swing_up);
    case ControllerSpec::Type::kScripted:
      return std::make_unique<ScriptedArmController>(m, c.scripted);
  }
  return nullptr;
}

EpisodeOutcome Task::Run(Workspace& ws, Outcome::Evaluator& evaluator,
                         Controller* controller) const {
  EpisodeOutcome out;
  const mjModel* m = ws.model();
  mjData* d = ws.data();
  std::unique_ptr<Controller> own;
  if (!controller) {
    own = MakeController(m);
    controller = own.get();
  }
  RolloutOptions options;
  options.num_steps = NumSteps(m);
  options.record_every = 0;
  options.record_qvel = false;
  try {
    mj_forward(m, d);
  } catch (const MujocoError& e) {
    ws.HardReset();
    out.status = RolloutStatus::kMujocoError;
    return out;
  }
  evaluator.Begin(m, d);
  const StepObserver observer = [&evaluator](int, const mjModel* mm, const mjData* dd) {
    evaluator.Observe(mm, dd);
    return true;
  };
  RolloutResult r = Rollout(ws, controller, options, observer);
  out.status = r.status;
  out.steps = r.steps;
  if (!r.ok()) return out;
  try {
    evaluator.Finish(m, d);
  } catch (const MujocoError& e) {
    ws.HardReset();
    out.status = RolloutStatus::kMujocoError;
    return out;
  }
  out.success = evaluator.success();
  out.safe = evaluator.safe();
  out.metrics = &evaluator.metrics();
  return out;
}

}  // namespace nextbatch
