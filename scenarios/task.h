// A task: what an episode does (horizon, controller) and how it is judged (outcome).
#ifndef NEXTBATCH_SCENARIOS_TASK_H_
#define NEXTBATCH_SCENARIOS_TASK_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/episode.h"
#include "engine/rollout.h"
#include "engine/workspace.h"
#include "scenarios/controllers.h"
#include "scenarios/outcome.h"
#include "scenarios/space.h"

namespace nextbatch {

// One recorded command sequence of one actuator: times from its first sample (seconds) and the
// command at each.
struct CommandProfile {
  std::vector<double> times;
  std::vector<double> values;
};

struct ControllerSpec {
  enum class Type { kNone, kOpenLoop, kPd, kEnergySwingUp, kScripted, kProfile };
  Type type = Type::kNone;
  // kOpenLoop (and kProfile's interpolation)
  std::vector<double> times;
  Eigen::MatrixXd values;  // samples x nu
  OpenLoopController::Hold hold = OpenLoopController::Hold::kLinear;
  // kProfile: recorded commands played back open loop, one profile per level of a categorical
  // scenario factor. The level's payload {"episode": id} names a logged episode of the study's
  // dataset whose `actuator` command column is the profile (the simulate stage fills `profiles`,
  // level name -> profile); the other actuators receive 0. Before the first and after the last
  // sample the end values hold, between samples `hold` applies, as calibration's replay of that
  // episode applies its logged commands.
  std::string profile_factor;
  std::string profile_actuator;
  std::map<std::string, CommandProfile> profiles;
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

// Fills a profile controller's profiles (ControllerSpec::kProfile) from logged episodes: each
// level of the categorical factor `spec->controller.profile_factor` of `space` names an episode
// in its payload {"episode": id}; that episode's command column of the controller's actuator,
// with times from its first sample, is the level's profile. Throws InputError naming the factor,
// level and episode when one is missing (`where`: the study file). Nothing for other controllers.
void FillCommandProfiles(const ScenarioSpace& space, const std::vector<Episode>& episodes,
                         const std::string& where, TaskSpec* spec);

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

  // A fresh controller for one rollout on a copy of the compiled model (null for "none"). A
  // profile controller needs the scenario ({factor: value}, ScenarioSpace::ToJson): without one,
  // or with a level that has no profile, it throws InputError.
  std::unique_ptr<Controller> MakeController(const mjModel* m) const;
  std::unique_ptr<Controller> MakeController(const mjModel* m,
                                             const nlohmann::json& scenario) const;
  // Whether the controller depends on the scenario (a profile controller).
  bool needs_scenario() const { return spec_.controller.type == ControllerSpec::Type::kProfile; }

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
  int profile_actuator_ = -1;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_TASK_H_
