// Per-thread simulation workspace: an mjData, and a private mjModel copy when parameters differ
// between the rollouts that the thread runs.
#ifndef NEXTBATCH_ENGINE_WORKSPACE_H_
#define NEXTBATCH_ENGINE_WORKSPACE_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <vector>

#include "engine/model.h"
#include "engine/parameter.h"

namespace nextbatch {

// A physical state of the simulation (what mj_step advances).
struct State {
  double time = 0.0;
  Eigen::VectorXd qpos;  // nq
  Eigen::VectorXd qvel;  // nv
  Eigen::VectorXd act;   // na

  // The model's reference state: qpos0, zero velocity and activation.
  static State Reference(const mjModel* m);
  // Reads the state out of `d`.
  static State From(const mjModel* m, const mjData* d);
};

class Workspace {
 public:
  // Shares `base` read-only. With `private_model`, owns a copy that Apply() may change.
  Workspace(const mjModel* base, bool private_model);

  const mjModel* model() const { return model_; }
  mjModel* mutable_model();  // only with a private model
  mjData* data() { return data_.get(); }
  const Effects& effects() const { return effects_; }

  // Writes parameter values into the private model copy (mj_setConst when needed).
  void Apply(const ParameterBinding& binding, const Eigen::VectorXd& values);

  // `values` of `binding`, then `conditions` of an episode over them (EpisodeConditions: their
  // slots from the base model, the parameters, the conditions' set or scale on top); null
  // `conditions` (an episode that records none): the slots from the base model, then the
  // parameters. Leaves every slot of both fully determined, whatever ran before.
  void ApplyUnder(const ParameterBinding& binding, const Eigen::VectorXd& values,
                  const ParameterBinding& condition_binding, const Eigen::VectorXd* conditions);

  // Restores the private model to the base model's values and identity effects.
  void RestoreBase();

  // Sets the state and clears what a previous rollout left behind (controls, applied forces,
  // warm start, warnings) without clearing the whole arena as mj_resetData does.
  void SetState(const State& s);

  // One mj_step with the state-dependent effects that act inside it (Stribeck, load-dependent and
  // smooth friction: the model's frictionloss levels follow the joint speeds and actuator torques
  // for this step and are restored after).
  // Throws what mj_step throws; the model is restored either way.
  void Step();

  // Inverse dynamics at the state, accelerations and controls the caller wrote into data()
  // (qpos, qvel, qacc, ctrl): mj_inverse (qfrc_inverse, the generalised force the motion takes)
  // and mj_fwdActuation (qfrc_actuator, what the controls give), with the same state-dependent
  // friction as Step. Throws what MuJoCo throws; the model is restored either way.
  void Inverse();

  // After a MuJoCo error the data's stack may be left marked: start over completely.
  void HardReset();

 private:
  const mjModel* base_;
  ModelPtr own_;
  const mjModel* model_;
  DataPtr data_;
  Effects effects_;
  std::vector<double> sliding_;  // frictionloss levels of Effects::friction_dofs around a step
  std::vector<double> applied_;  // their qfrc_applied around a step (smooth friction adds to it)
  std::vector<double> smooth_;   // the smooth friction force of this step (0: the constraint's)
  // Runs `pass` with the frictionloss levels of the state-dependent friction effects set for the
  // state in data(), restored after. A smooth dry friction (Effects::has_smooth) is a force added
  // to qfrc_applied for the pass, its frictionloss 0; with `inverse`, qfrc_inverse then has it
  // taken out (mj_inverse leaves applied forces in), so that it is what the actuators give.
  void WithFriction(void (*pass)(const mjModel*, mjData*), bool inverse);
};

// The torque on `dof` from the actuators with a joint transmission, no activation dynamics and
// fixed or affine gain and bias, for the state and controls in `d` (what mj_fwdActuation computes
// for them, without running the forward pass). Load-dependent friction uses it.
double JointActuatorTorque(const mjModel* m, const mjData* d, int dof);

// One workspace per thread, all on the same base model.
class WorkspacePool {
 public:
  WorkspacePool(const mjModel* base, int num_threads, bool private_models);
  Workspace& operator[](int thread) { return *workspaces_[thread]; }
  int size() const { return static_cast<int>(workspaces_.size()); }

 private:
  std::vector<std::unique_ptr<Workspace>> workspaces_;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_WORKSPACE_H_
