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
    case ControllerSpec::Type::kProfile:
      if (controller.profile_factor.empty() || controller.profile_actuator.empty()) {
        return Expected(file + ": task.controller", "a factor and an actuator for the profiles",
                        "none");
      }
      for (const auto& [level, p] : controller.profiles) {
        const std::string where = file + ": task.controller.profiles." + level;
        if (p.times.empty() || p.times.size() != p.values.size()) {
          return Expected(where, "as many commands as times (at least one)",
                          std::to_string(p.values.size()) + " commands for " +
                              std::to_string(p.times.size()) + " times");
        }
        for (std::size_t i = 0; i < p.times.size(); ++i) {
          if (!std::isfinite(p.times[i]) || !std::isfinite(p.values[i]) ||
              (i > 0 && !(p.times[i] > p.times[i - 1]))) {
            return Expected(where, "finite commands at ascending finite times",
                            "sample " + std::to_string(i));
          }
        }
      }
      break;
    case ControllerSpec::Type::kNone:
      break;
  }
  return "";
}

void FillCommandProfiles(const ScenarioSpace& space, const std::vector<Episode>& episodes,
                         const std::string& where, TaskSpec* spec) {
  ControllerSpec& c = spec->controller;
  if (c.type != ControllerSpec::Type::kProfile) return;
  const int f = space.Find(c.profile_factor);
  if (f < 0 || space.factor(f).kind != FactorKind::kCategorical) {
    ThrowExpected(where + ": task.controller.factor", "a categorical scenario factor",
                  "'" + c.profile_factor + "'" + (f < 0 ? " (no such factor)" : ""));
  }
  c.profiles.clear();
  for (const Level& l : space.factor(f).levels) {
    const std::string at = where + ": scenarios factor '" + c.profile_factor + "'.levels." + l.name;
    const auto id = l.payload.is_object() ? l.payload.find("episode") : l.payload.end();
    if (!l.payload.is_object() || id == l.payload.end() || !id->is_string()) {
      ThrowExpected(at + ".payload", "{\"episode\": the id of a logged episode}",
                    l.payload.is_null() ? std::string("none") : l.payload.dump());
    }
    const Episode* e = nullptr;
    for (const Episode& x : episodes) {
      if (x.id == id->get<std::string>()) e = &x;
    }
    if (e == nullptr) {
      ThrowExpected(at + ".payload.episode", "an episode of the study's dataset",
                    "'" + id->get<std::string>() + "'");
    }
    int col = -1;
    for (std::size_t k = 0; k < e->ctrl.names.size(); ++k) {
      if (e->ctrl.names[k] == c.profile_actuator) col = static_cast<int>(k);
    }
    if (col < 0 || e->samples() < 1) {
      ThrowExpected(at + ".payload.episode",
                    "an episode that logs actuator '" + c.profile_actuator + "' commands",
                    "episode '" + e->id + "' without them");
    }
    CommandProfile p;
    for (int i = 0; i < e->samples(); ++i) {
      p.times.push_back(e->time[i] - e->time[0]);
      p.values.push_back(e->ctrl.values(i, col));
    }
    c.profiles[l.name] = std::move(p);
  }
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
  if (spec_.controller.type == ControllerSpec::Type::kProfile) {
    const std::string& a = spec_.controller.profile_actuator;
    profile_actuator_ = mj_name2id(m, mjOBJ_ACTUATOR, a.c_str());
    if (profile_actuator_ < 0) {
      ThrowExpected(spec_.file + ": task.controller.actuator", "an actuator of the model",
                    "'" + a + "'");
    }
  }
  // Building one controller resolves its names now, not inside a parallel loop.
  try {
    if (!needs_scenario()) MakeController(m);
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
    case ControllerSpec::Type::kProfile:
      ThrowExpected("controller", "a scenario naming a level of factor '" + c.profile_factor + "'",
                    "none");
  }
  return nullptr;
}

std::unique_ptr<Controller> Task::MakeController(const mjModel* m,
                                                 const nlohmann::json& scenario) const {
  const ControllerSpec& c = spec_.controller;
  if (c.type != ControllerSpec::Type::kProfile) return MakeController(m);
  const auto it = scenario.is_object() ? scenario.find(c.profile_factor) : scenario.end();
  if (it == scenario.end() || !it->is_string()) {
    ThrowExpected("controller", "a scenario naming a level of factor '" + c.profile_factor + "'",
                  it == scenario.end() ? std::string("none") : it->dump());
  }
  const auto p = c.profiles.find(it->get<std::string>());
  if (p == c.profiles.end()) {
    ThrowExpected("controller.profiles", "a profile for level '" + it->get<std::string>() + "'",
                  "none");
  }
  const CommandProfile& profile = p->second;
  Eigen::MatrixXd values =
      Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(profile.times.size()), m->nu);
  for (std::size_t i = 0; i < profile.values.size(); ++i) {
    values(static_cast<Eigen::Index>(i), profile_actuator_) = profile.values[i];
  }
  return std::make_unique<OpenLoopController>(profile.times, std::move(values), c.hold);
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
