// Applying a scenario to a simulation: the model fields its factors bind (in a workspace's
// private model) and the initial state (joint positions, free-body poses, which object variant
// is present).
//
// Per rollout, in this order:
//   ws.RestoreBase();  ws.Apply(calibration, theta);        // posterior sample, if any
//   State x0 = State::Reference(ws.model());
//   binding.Apply(scenario, ws, &x0);                        // may call mj_setConst
//   ws.SetState(x0);                                         // then roll out
// Apply leaves every field it owns fully determined by the scenario, so a workspace can go from
// one scenario to the next without RestoreBase (except for fields calibration also binds: a
// factor and a calibrated parameter should not bind the same target; the later write wins).
#ifndef NEXTBATCH_SCENARIOS_SCENARIO_BINDING_H_
#define NEXTBATCH_SCENARIOS_SCENARIO_BINDING_H_

#include <mujoco/mujoco.h>

#include <string>
#include <vector>

#include "engine/episode.h"
#include "engine/parameter.h"
#include "engine/workspace.h"
#include "scenarios/space.h"

namespace nextbatch {

class ScenarioBinding {
 public:
  ScenarioBinding() = default;
  // Resolves every factor's binding against `m`, the base model that the workspaces share.
  // Throws InputError "scenarios: factor 'x'.binding.target: expected X, got Y" for unknown
  // elements, joints of the wrong type, qpos ranges outside a limited joint's range.
  ScenarioBinding(const mjModel* m, const ScenarioSpace& space);

  const ScenarioSpace& space() const { return space_; }

  // Whether Apply changes the model (parameter or variant factors): then workspaces need a
  // private model.
  bool needs_private_model() const { return parameters_.size() > 0 || !variants_.empty(); }

  // Writes the scenario into ws's private model and into *initial (sized for the model).
  //  - parameter: every target, as ParameterBinding does (set, or scale of the base value);
  //  - qpos: initial->qpos of the hinge or slide joint;
  //  - variant: the chosen level's body is present at its reference pose (qpos0); the geoms of
  //    the other levels' bodies lose their contacts (contype = conaffinity = 0), become
  //    invisible (alpha 0) and are parked 100 m under the world, at rest;
  //  - pose: world x, y, z (m) of a free body, or yaw (rad, about world z, applied to the
  //    body's reference orientation); a pose target may name a variant's object (the chosen
  //    body) or a body.
  // Calls mj_setConst when an inertial field is bound, which resets ws's data: set the state
  // after this.
  void Apply(const Scenario& s, Workspace& ws, State* initial) const;

  // The model properties logged episodes were recorded under, for calibration and every replay of
  // a logged episode: the parameter-kind factors (as Apply binds them: same targets and modes,
  // resolved against the base model) and, per episode, the values its recorded scenario gives
  // (categorical: the level's number); a factor the scenario omits is NaN (the model keeps its
  // value). qpos, pose and variant factors are left out: a logged episode's states come from its
  // log. A recorded value that is not valid (out of range, an unknown level) throws InputError
  // through ScenarioSpace::CheckRecorded ("<where_prefix> <id> (<source>): scenario...").
  EpisodeConditions RecordedConditions(const std::vector<Episode>& episodes) const;

  // The body that `object` denotes in scenario `s`: the chosen body of the variant factor whose
  // target is `object`; -1 when no variant factor has that target (a plain body: mj_name2id).
  int ObjectBody(const std::string& object, const Scenario& s) const;

 private:
  struct VariantBody {
    int body = -1;
    int qpos_adr = -1;         // free joint's qpos address; -1 for a body without joints
    std::vector<int> geoms;    // geoms of the body and its descendants
    std::vector<int> contype;  // base values, restored when the body is chosen
    std::vector<int> conaffinity;
    std::vector<float> alpha;
    double base_pos[3] = {0, 0, 0};  // body_pos in the base model (bodies without joints)
  };
  struct Variant {
    int factor = -1;
    std::string object;
    std::vector<VariantBody> levels;
  };
  struct Pose {
    int factor = -1;
    int component = 0;  // 0..2 position, 3 yaw
    int variant = -1;   // index into variants_, or -1 for a fixed body
    int qpos_adr = -1;  // for a fixed body
  };
  struct JointPosition {
    int factor = -1;
    int qpos_adr = -1;
  };

  double FactorNumber(const Scenario& s, int factor) const;
  int ChosenQposAdr(const Pose& p, const Scenario& s) const;

  ScenarioSpace space_;
  std::vector<int> parameter_factors_;
  ParameterBinding parameters_;
  std::vector<Variant> variants_;
  std::vector<Pose> poses_;
  std::vector<JointPosition> joints_;
  std::vector<double> qpos0_;  // the base model's reference positions
};

// One-off convenience: resolves a ScenarioBinding against `base` (the model ws was made from, not
// ws's private copy, whose values earlier scenarios changed) and applies it. Code that applies
// many scenarios should keep one ScenarioBinding.
void ApplyScenario(const mjModel* base, const ScenarioSpace& space, const Scenario& s,
                   Workspace& ws, State* initial);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_SCENARIO_BINDING_H_
