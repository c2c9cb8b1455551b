// A task: what an episode does (horizon, controller) and how it is judged (outcome).
#ifndef NEXTBATCH_SCENARIOS_TASK_H_
#define NEXTBATCH_SCENARIOS_TASK_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/rollout.h"
#include "engine/workspace.h"
#include "scenarios/controllers.h"
#include "scenarios/outcome.h"

namespace nextbatch {

struct ControllerSpec {
  enum class Type { kNone, kOpenLoop, kPd, kEnergySwingUp, kScripted };
  Type type = Type::kNone;
  // kOpenLoop
  std::vector<double> times;
  Eigen::MatrixXd values;  // samples x nu
  OpenLoopController::Hold hold = OpenLoopController::Hold::kLinear;
  PdWaypointOptions pd;
  EnergySwingUpOptions swing_up;
  ScriptedArmOptions scripted;
};

// The most model steps one rollout may take (1e7: 5.6 h of simulated time at a 2 ms step, hours of
// CPU per rollout): beyond it a horizon is a unit slip, and the step count must fit an int.
constexpr double kMaxTaskSteps = 1e7;

struct TaskSpec {
  double horizon = 0.0;  // seconds
  ControllerSpec controller;
  std::string keyframe;  // initial state from this keyframe ("" the model's reference state)
  nlohmann::json outcome = nlohmann::json::object();  // compiled against the model by Task
  std::string file = "task";                          // for messages

  std::string Validate() const;
};

// What one episode came to.
struct EpisodeOutcome {
  RolloutStatus status = RolloutStatus::kOk;
  int steps = 0;
  bool success = false;
  bool safe = false;
  const std::vector<double>* metrics = nullptr;  // the evaluator's, valid until its next Begin

  bool ok() const { return status == RolloutStatus::kOk; }
};

class Task {
 public:
  // Resolves every name in the spec against `m` (controller and outcome); throws InputError
  // naming the field and the valid names.
  Task(const mjModel* m, TaskSpec spec);

  const TaskSpec& spec() const { return spec_; }
  const Outcome& outcome() const { return outcome_; }
  int NumSteps(const mjModel* m) const;

  // The initial state before scenario factors: the keyframe's or the reference state.
  State InitialState(const mjModel* m) const;

  // A fresh controller for one rollout on a copy of the compiled model (null for "none").
  std::unique_ptr<Controller> MakeController(const mjModel* m) const;

  // Runs one episode from the workspace's current state (set by the caller) under the task's
  // controller, or under `controller` when given, judging it with `evaluator` (made from
  // outcome(), one per thread). Runs mj_forward first so that controllers and the first sample
  // see current derived quantities. Never throws for numerical outcomes.
  EpisodeOutcome Run(Workspace& ws, Outcome::Evaluator& evaluator,
                     Controller* controller = nullptr) const;

 private:
  TaskSpec spec_;
  Outcome outcome_;
  int key_ = -1;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_TASK_H_
