// Named simulator parameters bound to mjModel fields by element name, and to the model-level
// effects that MuJoCo has no field for (actuation delay, control gain and bias, sensor bias).
//
// Target grammar: `kind:element.field` or `kind:element.field[i]`, plus `opt.field[i]` and
// `ctrl.delay`. Kinds and fields:
//   joint:    damping frictionloss armature (every dof of the joint), stiffness margin
//             range[2] springref ref
//   body:     mass ipos[3] inertia[3] pos[3]
//   geom:     friction[3] size[3] pos[3] margin solref[2] solimp[5]
//   site:     pos[3]
//   actuator: gainprm[10] biasprm[10] dynprm[10] gear[6] ctrlrange[2] forcerange[2]
//   tendon:   damping stiffness frictionloss
//   opt:      timestep gravity[3] wind[3] density viscosity impratio
//   ctrl:     `ctrl:<actuator>.gain`, `ctrl:<actuator>.bias` (applied ctrl = gain*u + bias),
//             `ctrl.delay` (seconds; fractional steps interpolate)
//   sensor:   `sensor:<sensor>.bias` (added to every value of that sensor)
//   friction: `friction:<joint>.static`, `.stribeck_velocity`, `.load` (hinge or slide joints):
//             dry friction that is higher at rest than sliding (Stribeck) and grows with the
//             torque the joint's actuators transmit. The joint's frictionloss is the sliding
//             level Fc; at joint speed v and actuator torque tau the level is
//             Fc + (Fs - Fc) exp(-(v / vs)^2) + mu |tau|, Fs = static (without it, Fs = Fc),
//             vs = stribeck_velocity (default 0.05 in the joint's units per second), mu = load
//             (tau: JointActuatorTorque in workspace.h). Workspace::Step applies it.
//             `friction:<joint>.smooth_velocity` (vs' > 0) makes that dry friction a smooth force,
//             -level * (2 / pi) * atan(v / vs'), instead of MuJoCo's dry-friction constraint: no
//             sticking, and a cost that is smooth in the parameters (upstream's cf atan(100 v) of
//             the DFKI double pendulum is vs' = 0.01 with level = cf pi / 2). An explicit force:
//             keep the time step below pi M vs' / level (M: the joint's effective inertia,
//             1 / (M^-1)_ii, at its smallest over the configurations) or it chatters within
//             |v| < vs'.
// Any target may end in `*k` (a finite non-zero number): in mode "set" that slot receives
// k * value, so one parameter can drive fields that MuJoCo stores with different signs, e.g. a
// servo stiffness kp as `actuator:a.gainprm[0]` and `actuator:a.biasprm[1]*-1`. In mode "scale"
// the slot's own base value already carries the sign and k is not used.
#ifndef NEXTBATCH_ENGINE_PARAMETER_H_
#define NEXTBATCH_ENGINE_PARAMETER_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/inertial.h"

namespace nextbatch {

// Model-level effects applied by the rollout around mj_step.
struct Effects {
  double delay = 0.0;           // seconds between a command and its action
  Eigen::VectorXd ctrl_gain;    // nu, default 1
  Eigen::VectorXd ctrl_bias;    // nu, default 0
  Eigen::VectorXd sensor_bias;  // nsensordata, default 0
  // Friction effects (see the target grammar above), per dof; active on `friction_dofs` only.
  Eigen::VectorXd static_friction;    // nv, Fs (used where has_static)
  Eigen::VectorXd stribeck_velocity;  // nv, vs > 0
  Eigen::VectorXd load_friction;      // nv, mu: dry friction per unit of actuator torque
  Eigen::VectorXd smooth_velocity;    // nv, vs' > 0 (used where has_smooth)
  std::vector<char> has_static;       // nv, whether a static level has been set
  std::vector<char> has_smooth;       // nv, whether the dry friction is a smooth force
  std::vector<int> friction_dofs;     // dofs with a static level, load coefficient or smooth law

  // The dry-friction level of dof `i` at speed `v` for sliding level `sliding` (>= 0).
  double FrictionLevel(int i, double sliding, double v) const;

  // Identity effects sized for `m`.
  static Effects Identity(const mjModel* m);
  bool IsIdentity() const;
};

// The step limit of a smooth dry friction (Effects::has_smooth), an explicit force: its slope at
// rest is (2/pi) level / vs', so below vs' the speed of a dof with effective inertia M (1 /
// (M^-1)_ii, with Euler's implicit damping h D added to M) is integrated without chatter only when
// the time step is under pi M vs' / level. One entry per smooth dof: the smallest M over
// `configurations` (each a full qpos, nq) and the limit there. The level is the dof's level at rest
// (frictionloss, or its static level where higher); a load-dependent part (`.load`) is not
// included.
struct SmoothFrictionLimit {
  int dof = -1;
  double level = 0;       // dry-friction level at rest
  double vs = 0;          // vs'
  double inertia = 0;     // the smallest effective inertia over the configurations
  double step_limit = 0;  // pi * inertia * vs / level (infinity at level 0)
};
std::vector<SmoothFrictionLimit> SmoothFrictionLimits(
    const mjModel* m, const Effects& e, const std::vector<Eigen::VectorXd>& configurations);

// In words, each smooth dry friction of `m` and `e` whose step limit over `configurations` is
// below the model's time step (none when every one is within it).
std::vector<std::string> SmoothFrictionWarnings(const mjModel* m, const Effects& e,
                                                const std::vector<Eigen::VectorXd>& configurations);

// How a parameter's value reaches its targets.
enum class BindMode {
  kSet,    // target = value
  kScale,  // target = value * the target's value in the base model
};

// The physical side of a grouped inertial parameter (a study parameter with the one target
// `body:<name>.inertial`): the ten coordinate parameters that carry it (engine/inertial.h) share
// it. Priors are stated on the physical quantities (Stacked() order; std 0: none on that one).
struct InertialGroup {
  std::string name;  // the study's parameter name; the coordinates are "<name>.<coordinate>"
  std::string body;
  PhysicalInertial initial;
  InertialVector prior_mean = InertialVector::Zero();
  InertialVector prior_std = InertialVector::Zero();

  bool HasPrior() const { return (prior_std.array() > 0).any(); }
};

// Whether a bound of a ParameterSpec is one: the specs say "none" with +-1e300.
inline bool Bounded(double bound) { return std::abs(bound) < 1e299; }

// A named, bounded scalar of the simulator.
struct ParameterSpec {
  std::string name;
  std::vector<std::string> targets;
  BindMode mode = BindMode::kSet;
  double initial = 0.0;
  double lower = -1e300;
  double upper = 1e300;
  double prior_mean = 0.0;
  double prior_std = 0.0;  // 0: no prior
  bool log_scale = false;  // fit log(value); needs lower > 0
  // Held at `initial` by calibration (still applied and reported), e.g. a value measured
  // elsewhere that the logs should not move.
  bool fixed = false;
  // Set on the coordinates of a grouped inertial parameter: the group, and which of its ten
  // coordinates this is (InertialCoordinateNames() order). The ten are consecutive in a binding.
  std::shared_ptr<const InertialGroup> group = nullptr;
  int coordinate = -1;

  // Empty when valid, else "parameter 'x': expected ..., got ...".
  std::string Validate() const;

  // The prior's mean and std; without a prior, the initial value and std 0.
  double PriorMean() const { return prior_std > 0 ? prior_mean : initial; }
  double PriorStd() const { return prior_std > 0 ? prior_std : 0.0; }
};

// The ten coordinate parameters of a grouped inertial: initial values from the group's physical
// initial, bounds from a mass range (kg; lower 0: none) and a com box (m, per axis; rows lower,
// upper), which the coordinates map exactly (mass = e^(2 alpha), com = t); the inertia needs no
// bounds (every coordinate is a physical body). Throws InputError naming `where` for an initial
// value that is not physical or outside the bounds.
std::vector<ParameterSpec> InertialParameterSpecs(std::shared_ptr<const InertialGroup> group,
                                                  const Eigen::Vector2d& mass_bounds,
                                                  const Eigen::Matrix<double, 2, 3>& com_bounds,
                                                  bool fixed, const std::string& where);

// The group's first coordinate's index in `specs` for each group, in order.
std::vector<int> InertialGroupStarts(const std::vector<ParameterSpec>& specs);

// One resolved target: a scalar slot of an mjModel or of Effects.
struct FieldRef {
  enum class Where {
    kModelArray,
    kOption,
    kDelay,
    kCtrlGain,
    kCtrlBias,
    kSensorBias,
    kStaticFriction,
    kStribeckVelocity,
    kLoadFriction,
    kSmoothVelocity
  };
  Where where = Where::kModelArray;
  mjtNum* mjModel::*array = nullptr;  // for kModelArray
  int index = 0;                      // into the array (or into Effects' vectors, or mjOption)
  int count = 1;                      // consecutive slots (sensor bias spans the sensor's dims)
  bool inertial = false;              // needs mj_setConst after a change
  double factor = 1.0;                // from a `*k` suffix: slot = factor * value (mode set)
};

// Parses and resolves one target string against a model. Throws InputError naming the target,
// with the valid element or field names when one is unknown.
std::vector<FieldRef> ResolveTarget(const mjModel* m, const std::string& target);

// Reads the value of a resolved slot (the first one when a target spans several).
double ReadField(const mjModel* m, const Effects& e, const FieldRef& f);
void WriteField(mjModel* m, Effects* e, const FieldRef& f, double value);

// Parameters resolved against one model. Cheap to copy; applies to any copy of that model.
class ParameterBinding {
 public:
  ParameterBinding() = default;
  // Resolves every target of every spec against `m`; records nominal values for kScale.
  ParameterBinding(const mjModel* m, std::vector<ParameterSpec> specs);

  int size() const { return static_cast<int>(specs_.size()); }
  const std::vector<ParameterSpec>& specs() const { return specs_; }
  const ParameterSpec& spec(int i) const { return specs_[i]; }
  int Find(const std::string& name) const;  // -1 when absent
  Eigen::VectorXd Initial() const;
  Eigen::VectorXd Lower() const;
  Eigen::VectorXd Upper() const;
  bool needs_set_const() const { return needs_set_const_; }

  // Writes `values` into `m` and `e`. Calls mj_setConst(m, d) when an inertial field is bound,
  // which resets d's state: set the state after this. `d` may be null only when
  // needs_set_const() is false or `set_const` is false (the caller calls it).
  void Apply(const Eigen::VectorXd& values, mjModel* m, mjData* d, Effects* e,
             bool set_const = true) const;

  // The value each parameter has in `m` and `e` (inverse of Apply for the first target).
  Eigen::VectorXd Read(const mjModel* m, const Effects& e) const;

  // For conditions laid over other parameters (EpisodeConditions): writes every slot's value in
  // the base model back.
  void RestoreNominal(mjModel* m, Effects* e) const;
  // Like Apply, except that a kScale value multiplies the value the slot holds now (what the base
  // model, or a parameter applied before, left there) and a NaN value leaves its slots as they
  // are. Does not call mj_setConst: returns whether an inertial slot was written.
  bool ApplyOver(const Eigen::VectorXd& values, mjModel* m, Effects* e) const;

 private:
  std::vector<ParameterSpec> specs_;
  std::vector<std::vector<FieldRef>> refs_;   // per parameter, every slot it drives
  std::vector<std::vector<double>> nominal_;  // per parameter, per slot (base model values)
  // Grouped inertials: the first coordinate, the body and its inertial in the base model.
  struct GroupRef {
    int first = 0;
    int body = 0;
    double mass = 0, ipos[3] = {0, 0, 0}, inertia[3] = {0, 0, 0}, iquat[4] = {1, 0, 0, 0};
  };
  std::vector<GroupRef> groups_;
  bool needs_set_const_ = false;
};

// The model properties logged episodes were recorded under: the parameter-kind bindings of the
// scenario factors each episode names (engine targets, set or scale), laid over the fitted
// parameters whenever a logged episode is simulated (calibration, replay, information). The
// scenarios module builds it from a study's scenario space (RecordedConditions); calibration
// only applies it. Per simulation of episode `id` (Workspace::ApplyUnder):
//  1. every condition slot returns to the base model's value;
//  2. the parameters are applied (ParameterBinding::Apply);
//  3. each condition the episode records: mode set writes its value; mode scale multiplies the
//     slot's value after step 2, so a parameter on the same target sets the base value and the
//     episode's factor scales it (a set-mode condition on a parameter's target overrides it).
//     A condition the episode does not record (NaN) leaves the value of steps 1-2.
struct EpisodeConditions {
  ParameterBinding binding;  // one parameter per condition, resolved against the base model
  std::map<std::string, Eigen::VectorXd> values;  // episode id -> binding.size() values or NaN

  bool empty() const { return binding.size() == 0 || values.empty(); }
  // The episode's values; nullptr when it records none of the conditions.
  const Eigen::VectorXd* Find(const std::string& episode_id) const;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_PARAMETER_H_
