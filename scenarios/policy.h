// Caller-supplied policies: observation in, control out. A Policy drives one rollout through
// PolicyController; a BatchPolicy is called once per step with the observations of many
// scenarios stepped in lockstep (how evaluation harnesses run neural policies on a GPU).
#ifndef NEXTBATCH_SCENARIOS_POLICY_H_
#define NEXTBATCH_SCENARIOS_POLICY_H_

#include <mujoco/mujoco.h>

#include <functional>
#include <vector>

#include "engine/rollout.h"
#include "engine/workspace.h"

namespace nextbatch {

// What a policy sees, concatenated in this order.
struct ObservationSpec {
  bool time = false;  // d->time
  bool qpos = true;
  bool qvel = true;
  bool sensors = false;  // sensordata as of the last forward pass, plus the sensor bias effect

  int Size(const mjModel* m) const;
  // Writes Size(m) values.
  void Write(const mjModel* m, const mjData* d, const Effects& e, double* out) const;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual void Reset() {}
  // Writes nu commands for one observation.
  virtual void Act(const double* observation, int observation_size, double* ctrl, int nu) = 0;
};

// Runs a Policy as a Controller (the engine's rollout calls it every step).
class PolicyController : public Controller {
 public:
  PolicyController(Policy* policy, ObservationSpec spec, const Effects* effects = nullptr);
  void Reset(const mjModel* m, const mjData* d) override;
  void Control(const mjModel* m, const mjData* d, double* ctrl) override;

 private:
  Policy* policy_;
  ObservationSpec spec_;
  const Effects* effects_;
  std::vector<double> obs_;
};

class BatchPolicy {
 public:
  virtual ~BatchPolicy() = default;
  virtual void Reset(int batch) { (void)batch; }
  // observations: batch rows of observation_size (row-major); ctrl: batch rows of nu.
  // Rows of rollouts that have stopped (diverged) hold their last observation; what the policy
  // writes there is ignored.
  virtual void Act(int batch, const double* observations, int observation_size, double* ctrl,
                   int nu) = 0;
};

struct BatchRolloutOptions {
  int num_steps = 0;
  ObservationSpec observation;
  int num_threads = 1;  // threads stepping the scenarios between policy calls

  std::string Validate() const;
};

// Called after each step of each scenario (index in the batch); return false to stop that one.
using BatchStepObserver =
    std::function<bool(int scenario, int step, const mjModel* m, const mjData* d)>;

// Steps every workspace (each already in its initial state, derived quantities current) for
// num_steps under `policy`, which is called once per step for all of them. Each workspace's
// effects (delay, gain, bias) apply to its commands as in engine Rollout. Results hold status,
// steps and the final state (one record); per-scenario divergence never stops the others.
std::vector<RolloutResult> BatchRollout(std::vector<Workspace*> workspaces, BatchPolicy& policy,
                                        const BatchRolloutOptions& options,
                                        const BatchStepObserver& observer = nullptr);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_POLICY_H_
