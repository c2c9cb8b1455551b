// Built-in controllers of tasks (engine/rollout.h's Controller: one instance per rollout).
// Each has an options struct (defaults in the declaration, Validate()) resolved against a model
// by name; the open-loop control sequence is engine/rollout.h's OpenLoopController.
// Controllers read derived quantities of mjData (site positions, Jacobians): the caller runs
// mj_forward on the initial state before the first Control call, as Task::Run does.
#ifndef NEXTBATCH_SCENARIOS_CONTROLLERS_H_
#define NEXTBATCH_SCENARIOS_CONTROLLERS_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <string>
#include <vector>

#include "engine/rollout.h"

namespace nextbatch {

// Joint-space PD through waypoints: targets interpolated linearly in time between waypoints,
// the last one held. Torque output: u = kp (q_ref - q) - kd qdot (+ gravity and Coriolis
// compensation qfrc_bias when asked), through one motor per joint. Position output: the
// actuators are position servos and receive q_ref itself.
struct PdWaypointOptions {
  std::vector<std::string> joints;             // hinge or slide joints
  std::vector<std::string> actuators;          // one per joint
  std::vector<double> times;                   // waypoint times, ascending, seconds from the start
  std::vector<std::vector<double>> positions;  // per waypoint, one value per joint
  std::vector<double> kp;                      // per joint (torque output)
  std::vector<double> kd;
  bool gravity_compensation = false;
  bool position_output = false;

  std::string Validate() const;
};

class PdWaypointController : public Controller {
 public:
  // Throws InputError when a name is unknown or sizes disagree.
  PdWaypointController(const mjModel* m, PdWaypointOptions options);
  void Reset(const mjModel* m, const mjData* d) override;
  void Control(const mjModel* m, const mjData* d, double* ctrl) override;

 private:
  PdWaypointOptions o_;
  std::vector<int> qpos_, dof_, act_;
  std::vector<double> ref_;
  double start_ = 0.0;
};

// Energy-shaping swing-up of a single-hinge pendulum (Astrom and Furuta, Automatica 2000): pump
// the energy E = 1/2 I w^2 + m g l (1 - cos th) toward the upright energy 2 m g l with
// u = sat(k ((1 + margin) E_top - E) w), then catch with PD about the top when within
// `catch_angle`. th is 0 hanging down (found from the centre of mass at Reset). The torque limit is
// `torque_limit` when > 0, else the larger magnitude of the actuator's ctrlrange when it has one
// (so that a scenario factor on ctrlrange[1] limits it even on a motor MuJoCo does not clamp).
struct EnergySwingUpOptions {
  std::string joint;
  std::string actuator;
  double torque_limit = 0.0;    // N m; 0: from the actuator's ctrlrange
  double energy_gain = 0.0;     // 0: 20 / (m g l), close to bang-bang
  double energy_margin = 0.02;  // pump to (1 + margin) E_top: friction drains the last bit
  double catch_angle = 0.3;     // rad from upright
  double kp = 0.0;              // catch gains; 0: kp = 4 m g l, kd critical for the linearisation
  double kd = 0.0;

  std::string Validate() const;
};

class EnergySwingUpController : public Controller {
 public:
  EnergySwingUpController(const mjModel* m, EnergySwingUpOptions options);
  void Reset(const mjModel* m, const mjData* d) override;
  void Control(const mjModel* m, const mjData* d, double* ctrl) override;

  // Physical constants computed at Reset from the (possibly perturbed) model.
  double mgl() const { return mgl_; }
  double inertia() const { return inertia_; }
  double Energy(double q, double w) const;

 private:
  EnergySwingUpOptions o_;
  int jnt_ = -1, qpos_ = -1, dof_ = -1, act_ = -1;
  double mgl_ = 0.0, inertia_ = 0.0, limit_ = 0.0, gain_ = 0.0, kp_ = 0.0, kd_ = 0.0;
  double gear_ = 1.0, down_ = 0.0;
};

// Scripted reach, push and pick for an arm of position servos with a gripper: a Cartesian
// path of the end-effector site (smoothed segments between keyframes placed relative to the
// object's pose at the start) tracked by damped least-squares IK on position and, when asked,
// on the site's x axis pointing down (a top-down gripper).
struct ScriptedArmOptions {
  enum class Skill { kReach, kPush, kPick };
  Skill skill = Skill::kReach;
  std::vector<std::string> joints;     // arm joints (hinges), one position actuator each
  std::vector<std::string> actuators;  // position servos of those joints
  std::string site;                    // end effector
  // Body to reach, push or pick; with several, the one present at the start (a variant factor
  // parks the absent ones far below the world: the first one above z = -10 m is used).
  std::vector<std::string> objects;
  std::string gripper_actuator;  // pick: a position servo of the fingers ("" none)
  double gripper_open = 0.0;
  double gripper_closed = 0.0;
  bool top_down = true;                         // keep the site's x axis pointing along -z
  double approach_height = 0.1;                 // m above the object before descending
  double grasp_height = 0.0;                    // m above the object's origin at the grasp
  double lift_height = 0.15;                    // pick: m lifted
  double push_distance = 0.1;                   // push: m travelled along push_direction
  std::vector<double> push_direction{1, 0, 0};  // in the table plane
  double standoff = 0.05;                       // push: m behind the object's origin
  double segment_time = 1.0;                    // s per keyframe segment
  double ik_gain = 20.0;                        // 1/s: integral IK rate
  double damping = 0.05;                        // DLS damping
  double max_joint_speed = 2.0;                 // rad/s of the commanded targets
  double max_lead = 0.2;                        // rad a target may lead its joint

  std::string Validate() const;
};

class ScriptedArmController : public Controller {
 public:
  ScriptedArmController(const mjModel* m, ScriptedArmOptions options);
  void Reset(const mjModel* m, const mjData* d) override;
  void Control(const mjModel* m, const mjData* d, double* ctrl) override;

  // Site target at time t since the start (after Reset): for tests.
  Eigen::Vector3d Target(double t) const;

 private:
  struct Key {
    Eigen::Vector3d pos;
    double gripper;
  };
  ScriptedArmOptions o_;
  std::vector<int> qpos_, dof_, act_;
  int site_ = -1, grip_ = -1;
  std::vector<int> bodies_;
  std::vector<Key> keys_;
  using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RowMatrix jacp_, jacr_;                         // 3 x nv each, as mj_jacSite writes them
  Eigen::Matrix<double, 6, Eigen::Dynamic> jac_;  // 6 x joints
  Eigen::VectorXd cmd_;                           // commanded joint targets
  double start_ = 0.0;
  double last_ = 0.0;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_CONTROLLERS_H_
