#include "scenarios/controllers.h"

#include <Eigen/Cholesky>
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/model.h"

namespace nextbatch {
namespace {

int NeedId(const mjModel* m, mjtObj type, const std::string& kind, const std::string& name,
           const std::string& where) {
  const int id = mj_name2id(m, type, name.c_str());
  if (id >= 0) return id;
  std::string list;
  const int count = type == mjOBJ_JOINT      ? m->njnt
                    : type == mjOBJ_ACTUATOR ? m->nu
                    : type == mjOBJ_SITE     ? m->nsite
                                             : m->nbody;
  for (int i = 0; i < count; ++i) {
    std::string n = ElementName(m, type, i);
    if (!n.empty()) list += (list.empty() ? "" : ", ") + n;
  }
  ThrowExpected(where, "a " + kind + " of the model (" + list + ")", "\"" + name + "\"");
}

int HingeOrSlide(const mjModel* m, const std::string& name, const std::string& where) {
  const int j = NeedId(m, mjOBJ_JOINT, "joint", name, where);
  if (m->jnt_type[j] != mjJNT_HINGE && m->jnt_type[j] != mjJNT_SLIDE) {
    ThrowExpected(where, "a hinge or slide joint", "\"" + name + "\" of another type");
  }
  return j;
}

double Wrap(double x) { return std::remainder(x, 2 * M_PI); }

// Minimum-jerk blend 0..1.
double Smooth(double s) {
  s = std::clamp(s, 0.0, 1.0);
  return s * s * s * (10 - 15 * s + 6 * s * s);
}

}  // namespace

std::string PdWaypointOptions::Validate() const {
  const std::string w = "controller";
  if (joints.empty()) return Expected(w + ".joints", "at least one joint", "none");
  if (actuators.size() != joints.size()) {
    return Expected(w + ".actuators", std::to_string(joints.size()) + " (one per joint)",
                    std::to_string(actuators.size()));
  }
  if (times.empty() || times.size() != positions.size()) {
    return Expected(w + ".waypoints", "at least one waypoint with a time and positions",
                    std::to_string(times.size()) + " times, " + std::to_string(positions.size()) +
                        " position rows");
  }
  for (std::size_t i = 0; i < times.size(); ++i) {
    if (i > 0 && !(times[i] > times[i - 1])) {
      return Expected(w + ".waypoints[" + std::to_string(i) + "].time", "ascending times",
                      std::to_string(times[i]));
    }
    if (positions[i].size() != joints.size()) {
      return Expected(w + ".waypoints[" + std::to_string(i) + "].positions",
                      std::to_string(joints.size()) + " values",
                      std::to_string(positions[i].size()));
    }
  }
  if (!position_output) {
    if (kp.size() != joints.size() || kd.size() != joints.size()) {
      return Expected(w + ".kp/kd", std::to_string(joints.size()) + " gains each",
                      std::to_string(kp.size()) + " and " + std::to_string(kd.size()));
    }
    for (std::size_t i = 0; i < kp.size(); ++i) {
      if (!(kp[i] >= 0) || !(kd[i] >= 0)) return Expected(w + ".kp/kd", "gains >= 0", "a negative");
    }
  }
  return "";
}

namespace {

// Addresses of the controlled joints (hinge or slide) and their actuators, in order.
void ResolveJoints(const mjModel* m, const std::vector<std::string>& joints,
                   const std::vector<std::string>& actuators, std::vector<int>* qpos,
                   std::vector<int>* dof, std::vector<int>* act) {
  for (std::size_t i = 0; i < joints.size(); ++i) {
    const int j = HingeOrSlide(m, joints[i], "controller.joints[" + std::to_string(i) + "]");
    qpos->push_back(m->jnt_qposadr[j]);
    dof->push_back(m->jnt_dofadr[j]);
    act->push_back(NeedId(m, mjOBJ_ACTUATOR, "actuator", actuators[i],
                          "controller.actuators[" + std::to_string(i) + "]"));
  }
}

}  // namespace

PdWaypointController::PdWaypointController(const mjModel* m, PdWaypointOptions options)
    : o_(std::move(options)) {
  const std::string err = o_.Validate();
  if (!err.empty()) throw InputError(err);
  ResolveJoints(m, o_.joints, o_.actuators, &qpos_, &dof_, &act_);
  ref_.resize(o_.joints.size());
}

void PdWaypointController::Reset(const mjModel*, const mjData* d) { start_ = d->time; }

void PdWaypointController::Control(const mjModel* m, const mjData* d, double* ctrl) {
  const double t = d->time - start_;
  const std::size_t n = o_.times.size();
  std::size_t i = 0;
  while (i + 1 < n && o_.times[i + 1] <= t) ++i;
  const std::size_t nj = o_.joints.size();
  if (t <= o_.times[0] || i + 1 >= n) {
    const auto& row = o_.positions[t <= o_.times[0] ? 0 : n - 1];
    for (std::size_t k = 0; k < nj; ++k) ref_[k] = row[k];
  } else {
    const double w = (t - o_.times[i]) / (o_.times[i + 1] - o_.times[i]);
    for (std::size_t k = 0; k < nj; ++k) {
      ref_[k] = (1 - w) * o_.positions[i][k] + w * o_.positions[i + 1][k];
    }
  }
  for (int a = 0; a < m->nu; ++a) ctrl[a] = 0.0;
  for (std::size_t k = 0; k < nj; ++k) {
    if (o_.position_output) {
      ctrl[act_[k]] = ref_[k];
      continue;
    }
    double u = o_.kp[k] * (ref_[k] - d->qpos[qpos_[k]]) - o_.kd[k] * d->qvel[dof_[k]];
    if (o_.gravity_compensation) u += d->qfrc_bias[dof_[k]];
    const double gear = m->actuator_gear[6 * act_[k]];
    ctrl[act_[k]] = gear != 0 ? u / gear : 0.0;
  }
}

std::string EnergySwingUpOptions::Validate() const {
  if (joint.empty()) return Expected("controller.joint", "a hinge joint", "none");
  if (actuator.empty()) return Expected("controller.actuator", "a motor", "none");
  if (!(torque_limit >= 0)) return Expected("controller.torque_limit", ">= 0", "a negative");
  if (!(energy_gain >= 0)) return Expected("controller.energy_gain", ">= 0", "a negative");
  if (!(energy_margin >= 0 && energy_margin < 1)) {
    return Expected("controller.energy_margin", "a fraction in [0, 1)",
                    std::to_string(energy_margin));
  }
  if (!(catch_angle > 0 && catch_angle < M_PI)) {
    return Expected("controller.catch_angle", "an angle in (0, pi)", std::to_string(catch_angle));
  }
  if (!(kp >= 0) || !(kd >= 0)) return Expected("controller.kp/kd", "gains >= 0", "a negative");
  return "";
}

EnergySwingUpController::EnergySwingUpController(const mjModel* m, EnergySwingUpOptions options)
    : o_(std::move(options)) {
  const std::string err = o_.Validate();
  if (!err.empty()) throw InputError(err);
  jnt_ = HingeOrSlide(m, o_.joint, "controller.joint");
  if (m->jnt_type[jnt_] != mjJNT_HINGE) {
    ThrowExpected("controller.joint", "a hinge joint", "\"" + o_.joint + "\", a slide");
  }
  qpos_ = m->jnt_qposadr[jnt_];
  dof_ = m->jnt_dofadr[jnt_];
  act_ = NeedId(m, mjOBJ_ACTUATOR, "actuator", o_.actuator, "controller.actuator");
}

void EnergySwingUpController::Reset(const mjModel* m, const mjData* d) {
  // The pendulum's constants from the current model and state (derived quantities current):
  // the subtree's centre of mass about the hinge axis, and the joint-space inertia.
  const int b = m->jnt_bodyid[jnt_];
  const double* a = d->xaxis + 3 * jnt_;
  const double* anchor = d->xanchor + 3 * jnt_;
  double r[3];
  for (int k = 0; k < 3; ++k) r[k] = d->subtree_com[3 * b + k] - anchor[k];
  const double ra = r[0] * a[0] + r[1] * a[1] + r[2] * a[2];
  for (int k = 0; k < 3; ++k) r[k] -= ra * a[k];
  const double l = std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
  const double* g = m->opt.gravity;
  const double gnorm = std::sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]);
  mgl_ = m->body_subtreemass[b] * gnorm * l;
  inertia_ = d->qM[m->dof_Madr[dof_]];
  // Angle of the centre of mass from straight down, about the axis.
  double dn[3] = {0, 0, -1};
  if (gnorm > 0) {
    for (int k = 0; k < 3; ++k) dn[k] = g[k] / gnorm;
  }
  const double da = dn[0] * a[0] + dn[1] * a[1] + dn[2] * a[2];
  for (int k = 0; k < 3; ++k) dn[k] -= da * a[k];
  double cross[3];
  mju_cross(cross, dn, r);
  const double phi = std::atan2(cross[0] * a[0] + cross[1] * a[1] + cross[2] * a[2],
                                dn[0] * r[0] + dn[1] * r[1] + dn[2] * r[2]);
  down_ = d->qpos[qpos_] - phi;

  gear_ = m->actuator_gear[6 * act_];
  if (gear_ == 0) gear_ = 1;
  limit_ = o_.torque_limit;
  const double* cr = m->actuator_ctrlrange + 2 * act_;
  if (limit_ <= 0 && cr[1] > cr[0]) {
    limit_ = std::max(std::abs(cr[0]), std::abs(cr[1])) * std::abs(gear_);
  }
  if (limit_ <= 0) limit_ = 1e300;
  gain_ = o_.energy_gain > 0 ? o_.energy_gain : (mgl_ > 0 ? 20.0 / mgl_ : 1.0);
  kp_ = o_.kp > 0 ? o_.kp : 4 * mgl_;
  kd_ = o_.kd > 0 ? o_.kd : 2 * std::sqrt(inertia_ * std::max(kp_ - mgl_, 0.0));
}

double EnergySwingUpController::Energy(double q, double w) const {
  return 0.5 * inertia_ * w * w + mgl_ * (1 - std::cos(q - down_));
}

void EnergySwingUpController::Control(const mjModel* m, const mjData* d, double* ctrl) {
  for (int k = 0; k < m->nu; ++k) ctrl[k] = 0.0;
  const double q = d->qpos[qpos_], w = d->qvel[dof_];
  const double from_top = Wrap(q - down_ - M_PI);
  double u;
  if (std::abs(from_top) < o_.catch_angle) {
    u = -kp_ * from_top - kd_ * w;
  } else {
    const double de = 2 * mgl_ * (1 + o_.energy_margin) - Energy(q, w);
    // at rest at the bottom the energy law gives no torque: start the swing
    u = std::abs(w) < 1e-3 && de > 0 ? limit_ : gain_ * de * w * limit_;
  }
  u = std::clamp(u, -limit_, limit_);
  ctrl[act_] = u / gear_;
}

std::string ScriptedArmOptions::Validate() const {
  if (joints.empty()) return Expected("controller.joints", "at least one arm joint", "none");
  if (actuators.size() != joints.size()) {
    return Expected("controller.actuators", std::to_string(joints.size()) + " (one per joint)",
                    std::to_string(actuators.size()));
  }
  if (site.empty()) return Expected("controller.site", "an end-effector site", "none");
  if (objects.empty()) return Expected("controller.object", "a body or a list of bodies", "none");
  if (skill == Skill::kPick && gripper_actuator.empty()) {
    return Expected("controller.gripper_actuator", "an actuator (pick needs a gripper)", "none");
  }
  if (!(segment_time > 0)) return Expected("controller.segment_time", "> 0", "<= 0");
  if (!(ik_gain > 0) || !(damping > 0) || !(max_joint_speed > 0) || !(max_lead > 0)) {
    return Expected("controller.ik_gain/damping/max_joint_speed/max_lead", "> 0", "<= 0");
  }
  if (push_direction.size() != 3 || std::hypot(push_direction[0], push_direction[1]) < 1e-9) {
    return Expected("controller.push_direction", "3 numbers with a horizontal part", "otherwise");
  }
  return "";
}

ScriptedArmController::ScriptedArmController(const mjModel* m, ScriptedArmOptions options)
    : o_(std::move(options)) {
  const std::string err = o_.Validate();
  if (!err.empty()) throw InputError(err);
  ResolveJoints(m, o_.joints, o_.actuators, &qpos_, &dof_, &act_);
  site_ = NeedId(m, mjOBJ_SITE, "site", o_.site, "controller.site");
  for (const std::string& name : o_.objects) {
    bodies_.push_back(NeedId(m, mjOBJ_BODY, "body", name, "controller.object"));
  }
  if (!o_.gripper_actuator.empty()) {
    grip_ =
        NeedId(m, mjOBJ_ACTUATOR, "actuator", o_.gripper_actuator, "controller.gripper_actuator");
  }
  const int nj = static_cast<int>(o_.joints.size());
  jacp_.resize(3, m->nv);
  jacr_.resize(3, m->nv);
  jac_.resize(6, nj);
  cmd_.resize(nj);
}

void ScriptedArmController::Reset(const mjModel*, const mjData* d) {
  start_ = d->time;
  last_ = d->time;
  for (std::size_t k = 0; k < qpos_.size(); ++k) cmd_[k] = d->qpos[qpos_[k]];
  const Eigen::Vector3d p0(d->site_xpos + 3 * site_);
  int body = bodies_[0];
  for (int b : bodies_) {
    if (d->xpos[3 * b + 2] > -10) {
      body = b;
      break;
    }
  }
  const Eigen::Vector3d obj(d->xpos + 3 * body);
  const Eigen::Vector3d up(0, 0, 1);
  const double open = o_.gripper_open, closed = o_.gripper_closed;
  keys_.clear();
  keys_.push_back({p0, open});
  const Eigen::Vector3d grasp = obj + o_.grasp_height * up;
  switch (o_.skill) {
    case ScriptedArmOptions::Skill::kReach:
      keys_.push_back({grasp + o_.approach_height * up, open});
      keys_.push_back({grasp, open});
      break;
    case ScriptedArmOptions::Skill::kPush: {
      Eigen::Vector3d dir(o_.push_direction[0], o_.push_direction[1], 0);
      dir.normalize();
      const Eigen::Vector3d behind = grasp - o_.standoff * dir;
      keys_.push_back({behind + o_.approach_height * up, closed});
      keys_.push_back({behind, closed});
      keys_.push_back({behind + o_.push_distance * dir, closed});
      break;
    }
    case ScriptedArmOptions::Skill::kPick:
      keys_.push_back({grasp + o_.approach_height * up, open});
      keys_.push_back({grasp, open});
      keys_.push_back({grasp, closed});
      keys_.push_back({grasp + o_.lift_height * up, closed});
      break;
  }
}

Eigen::Vector3d ScriptedArmController::Target(double t) const {
  const double s = t / o_.segment_time;
  const int seg = static_cast<int>(std::floor(s));
  if (seg >= static_cast<int>(keys_.size()) - 1) return keys_.back().pos;
  if (seg < 0) return keys_.front().pos;
  const double w = Smooth(s - seg);
  return (1 - w) * keys_[seg].pos + w * keys_[seg + 1].pos;
}

void ScriptedArmController::Control(const mjModel* m, const mjData* d, double* ctrl) {
  const double t = d->time - start_;
  const double dt = std::max(d->time - last_, m->opt.timestep);
  last_ = d->time;
  const int nj = static_cast<int>(qpos_.size());
  // Position error, and the rotation that turns the site's x axis toward -z.
  Eigen::Matrix<double, 6, 1> e;
  const Eigen::Vector3d target = Target(t);
  for (int k = 0; k < 3; ++k) e[k] = target[k] - d->site_xpos[3 * site_ + k];
  const int rows = o_.top_down ? 6 : 3;
  mj_jacSite(m, d, jacp_.data(), o_.top_down ? jacr_.data() : nullptr, site_);
  if (o_.top_down) {
    const double* xm = d->site_xmat + 9 * site_;
    const Eigen::Vector3d x(xm[0], xm[3], xm[6]);
    e.segment<3>(3) = x.cross(Eigen::Vector3d(0, 0, -1));
  }
  for (int k = 0; k < nj; ++k) {
    for (int r = 0; r < 3; ++r) {
      jac_(r, k) = jacp_(r, dof_[k]);
      jac_(r + 3, k) = o_.top_down ? jacr_(r, dof_[k]) : 0.0;
    }
  }
  Eigen::Matrix<double, 6, 6> a = jac_ * jac_.transpose();
  a += o_.damping * o_.damping * Eigen::Matrix<double, 6, 6>::Identity();
  if (rows == 3) a.bottomRightCorner<3, 3>().setIdentity();
  Eigen::Matrix<double, 6, 1> y = a.ldlt().solve(e);
  if (rows == 3) y.tail<3>().setZero();
  const double max_step = o_.max_joint_speed * dt;
  for (int k = 0; k < nj; ++k) {
    double dq = o_.ik_gain * dt * jac_.col(k).dot(y);
    dq = std::clamp(dq, -max_step, max_step);
    const double* cr = m->actuator_ctrlrange + 2 * act_[k];
    double c = cmd_[k] + dq;
    // anti-windup: while the arm is blocked (contact) the targets must not run away from it
    const double q = d->qpos[qpos_[k]];
    c = std::clamp(c, q - o_.max_lead, q + o_.max_lead);
    if (cr[1] > cr[0]) c = std::clamp(c, cr[0], cr[1]);
    cmd_[k] = c;
  }
  for (int u = 0; u < m->nu; ++u) ctrl[u] = d->ctrl[u];
  for (int k = 0; k < nj; ++k) ctrl[act_[k]] = cmd_[k];
  if (grip_ >= 0) {
    const double s = t / o_.segment_time;
    const int seg = static_cast<int>(std::floor(s));
    double g;
    if (seg >= static_cast<int>(keys_.size()) - 1) {
      g = keys_.back().gripper;
    } else {
      const double w = std::clamp(s - seg, 0.0, 1.0);
      g = (1 - w) * keys_[std::max(seg, 0)].gripper + w * keys_[std::max(seg, 0) + 1].gripper;
    }
    ctrl[grip_] = g;
  }
}

}  // namespace nextbatch
