// Rollouts: stepping a model from a state under a controller, with divergence reported per
// rollout instead of thrown.
#ifndef NEXTBATCH_ENGINE_ROLLOUT_H_
#define NEXTBATCH_ENGINE_ROLLOUT_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/parameter.h"
#include "engine/workspace.h"

namespace nextbatch {

// Computes the commands for the current state. One instance per rollout: it may keep state.
class Controller {
 public:
  virtual ~Controller() = default;
  // Called once before the first step, with the initial state in d.
  virtual void Reset(const mjModel* m, const mjData* d) {
    (void)m;
    (void)d;
  }
  // Writes m->nu commands for the state in d (time d->time) into ctrl.
  virtual void Control(const mjModel* m, const mjData* d, double* ctrl) = 0;
};

// A logged or planned control sequence: ctrl(t) from samples (times ascending, one row each).
class OpenLoopController : public Controller {
 public:
  enum class Hold { kZeroOrder, kLinear };
  OpenLoopController(std::vector<double> times, Eigen::MatrixXd values, Hold hold = Hold::kLinear);
  void Reset(const mjModel* m, const mjData* d) override;
  void Control(const mjModel* m, const mjData* d, double* ctrl) override;

 private:
  std::vector<double> times_;
  Eigen::MatrixXd values_;  // samples x nu
  Hold hold_;
  std::size_t cursor_ = 0;  // last interval used; time only moves forward within a rollout
};

struct RolloutOptions {
  int num_steps = 0;     // mj_step calls
  int record_every = 1;  // record the state every k steps (row 0 is the initial state); 0: none
  bool record_qvel = true;
  bool record_ctrl = false;     // the commands applied (after effects), row per record
  bool record_sensors = false;  // sensordata (plus sensor bias) of the recorded state;
                                // costs one mj_forward per record

  std::string Validate() const;
};

enum class RolloutStatus {
  kOk,
  kDiverged,     // MuJoCo reported a bad qpos/qvel/qacc (it would have reset the state)
  kMujocoError,  // mju_error inside a call (e.g. out of stack memory)
};

const char* ToString(RolloutStatus s);

struct RolloutResult {
  RolloutStatus status = RolloutStatus::kOk;
  std::string message;  // empty when ok
  int steps = 0;        // steps completed before any failure
  std::vector<double> time;
  Eigen::MatrixXd qpos;     // records x nq
  Eigen::MatrixXd qvel;     // records x nv (when recorded)
  Eigen::MatrixXd ctrl;     // records x nu (when recorded)
  Eigen::MatrixXd sensors;  // records x nsensordata (when recorded)

  bool ok() const { return status == RolloutStatus::kOk; }
};

// Called after every step with the step index (1-based) and the data; returning false stops the
// rollout early with status kOk. Used by outcomes that watch the whole episode.
using StepObserver = std::function<bool(int step, const mjModel* m, const mjData* d)>;

// Steps the workspace from its current state (set it with Workspace::SetState) under
// `controller` (null: zero commands) and the workspace's effects. Never throws for numerical
// outcomes: see RolloutResult::status.
RolloutResult Rollout(Workspace& ws, Controller* controller, const RolloutOptions& options,
                      const StepObserver& observer = nullptr);

// Applies effects (delay, gain, bias) to raw commands: keeps the history that the delay needs.
class CommandPipeline {
 public:
  CommandPipeline(const mjModel* m, const Effects& e);
  // Pushes the controller's command for this step and writes what the actuators receive.
  void Push(const double* raw, double* applied);

 private:
  int nu_;
  const Effects* effects_;
  int delay_steps_;
  double delay_frac_;
  std::vector<double> history_;  // ring of (delay_steps_ + 2) commands
  int head_ = -1;
  long pushed_ = 0;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_ROLLOUT_H_
