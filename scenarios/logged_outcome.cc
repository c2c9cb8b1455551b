#include "scenarios/logged_outcome.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/workspace.h"

namespace nextbatch {
namespace {

// Where each logged channel goes in mjData; -1 entries never occur (unknown names throw).
struct ChannelMap {
  std::vector<int> qpos;                             // per qpos channel: qpos address
  std::vector<int> qvel;                             // per qvel channel: dof address
  std::vector<int> ctrl;                             // per ctrl channel: actuator id
  std::vector<char> joint_pos, joint_vel, actuator;  // per joint / actuator: logged
};

int FindJoint(const mjModel* m, const std::string& name, const std::string& where) {
  const int j = mj_name2id(m, mjOBJ_JOINT, name.c_str());
  if (j < 0 || (m->jnt_type[j] != mjJNT_HINGE && m->jnt_type[j] != mjJNT_SLIDE))
    ThrowExpected(where, "a hinge or slide joint of the model", "'" + name + "'");
  return j;
}

ChannelMap MapChannels(const mjModel* m, const Episode& e) {
  ChannelMap c;
  c.joint_pos.assign(m->njnt, 0);
  c.joint_vel.assign(m->njnt, 0);
  c.actuator.assign(m->nu, 0);
  const std::string where = "episode " + e.id;
  for (const auto& name : e.qpos.names) {
    const int j = FindJoint(m, name, where + ": qpos");
    c.qpos.push_back(m->jnt_qposadr[j]);
    c.joint_pos[j] = 1;
  }
  for (const auto& name : e.qvel.names) {
    const int j = FindJoint(m, name, where + ": qvel");
    c.qvel.push_back(m->jnt_dofadr[j]);
    c.joint_vel[j] = 1;
  }
  for (const auto& name : e.ctrl.names) {
    const int a = mj_name2id(m, mjOBJ_ACTUATOR, name.c_str());
    if (a < 0) ThrowExpected(where + ": ctrl", "an actuator of the model", "'" + name + "'");
    c.ctrl.push_back(a);
    c.actuator[a] = 1;
  }
  return c;
}

bool All(const std::vector<char>& v) {
  return std::all_of(v.begin(), v.end(), [](char x) { return x != 0; });
}

// The joint whose qpos (or dof) address is `adr`; -1 for a coordinate of a ball or free joint.
int JointAt(const mjModel* m, int adr, bool dof) {
  for (int j = 0; j < m->njnt; ++j) {
    if (m->jnt_type[j] != mjJNT_HINGE && m->jnt_type[j] != mjJNT_SLIDE) continue;
    if ((dof ? m->jnt_dofadr[j] : m->jnt_qposadr[j]) == adr) return j;
  }
  return -1;
}

// "" when the log determines quantity q (and the quantity it subtracts), else what it lacks.
std::string Missing(const mjModel* m, const Outcome& o, const Quantity& q, const ChannelMap& c) {
  if (q.minus >= 0) {
    Quantity plain = q;
    plain.minus = -1;
    std::string miss = Missing(m, o, plain, c);
    return miss.empty() ? Missing(m, o, o.quantity(q.minus), c) : miss;
  }
  const bool all_pos = All(c.joint_pos), all_vel = All(c.joint_vel);
  using K = Quantity::Kind;
  switch (q.kind) {
    case K::kTime:
      return "";
    case K::kJointPos:
    case K::kJointVel: {
      const bool vel = q.kind == K::kJointVel;
      const int j = JointAt(m, q.id, vel);
      if (j >= 0 && (vel ? c.joint_vel[j] : c.joint_pos[j])) return "";
      const std::string joint = j >= 0 ? "'" + ElementName(m, mjOBJ_JOINT, j) + "'" : "(ball/free)";
      return std::string(vel ? "the speed (qvel)" : "the position (qpos)") + " of joint " + joint;
    }
    case K::kActuatorCtrl:
      return c.actuator[q.id]
                 ? ""
                 : "the command (ctrl) of actuator '" + ElementName(m, mjOBJ_ACTUATOR, q.id) + "'";
    case K::kActuatorForce:
      if (!c.actuator[q.id])
        return "the command (ctrl) of actuator '" + ElementName(m, mjOBJ_ACTUATOR, q.id) + "'";
      return all_pos && all_vel ? "" : "every joint's qpos and qvel (an actuator force)";
    case K::kBodyVel:
      return all_pos && all_vel ? "" : "every joint's qpos and qvel (a body velocity)";
    default:
      return all_pos ? "" : "every joint's qpos (a body, site, distance or contact)";
  }
}

// "" when the log determines every quantity in `quantities`.
std::string MissingAny(const mjModel* m, const Outcome& o, const std::vector<int>& quantities,
                       const ChannelMap& c) {
  for (int q : quantities) {
    std::string miss = Missing(m, o, o.quantity(q), c);
    if (!miss.empty()) return miss;
  }
  return "";
}

}  // namespace

LoggedOutcome JudgeLoggedEpisode(const mjModel* base, const Outcome& outcome, const Episode& e,
                                 const EpisodeConditions* conditions) {
  const Eigen::VectorXd* recorded = conditions ? conditions->Find(e.id) : nullptr;
  std::unique_ptr<Workspace> ws;
  if (recorded != nullptr) {
    ws = std::make_unique<Workspace>(base, true);
    ws->ApplyUnder(ParameterBinding(), Eigen::VectorXd(), conditions->binding, recorded);
  }
  const mjModel* m = ws ? ws->model() : base;
  LoggedOutcome r;
  const ChannelMap c = MapChannels(m, e);
  const int n = e.samples();
  if (n < 2) {
    r.reason = "the log has fewer than 2 samples";
    return r;
  }
  const double step = e.duration() / (n - 1);
  if (e.duration() + step < outcome.horizon()) {
    r.reason = "the log covers " + FormatNumber(e.duration()) + " s of the task's " +
               FormatNumber(outcome.horizon()) + " s horizon";
    return r;
  }
  std::vector<std::string> why;
  std::string miss;
  if (outcome.has_success()) {
    miss = MissingAny(m, outcome, outcome.QuantitiesOf(outcome.success_node()), c);
    r.success_judged = miss.empty();
    if (!miss.empty()) why.push_back("success reads " + miss + ", which the log lacks");
  }
  if (outcome.has_safety()) {
    miss = MissingAny(m, outcome, outcome.QuantitiesOf(outcome.safety_node()), c);
    r.safety_judged = miss.empty();
    if (!miss.empty()) why.push_back("safety reads " + miss + ", which the log lacks");
  }
  std::vector<char> metric_judged(outcome.num_metrics(), 0);
  for (int k = 0; k < outcome.num_metrics(); ++k) {
    miss = MissingAny(m, outcome, outcome.MetricQuantities(k), c);
    metric_judged[k] = miss.empty();
    if (!miss.empty())
      why.push_back("metric " + outcome.metrics()[k].name + " reads " + miss +
                    ", which the log lacks");
  }
  for (const auto& w : why) r.reason += (r.reason.empty() ? "" : "; ") + w;

  DataPtr data = MakeData(m);
  mjData* d = data.get();
  Outcome::Evaluator evaluator(&outcome);
  const double t0 = e.time[0];
  // a sample counts when it lies within the horizon, up to rounding of the log's clock
  const double end = t0 + outcome.horizon() + 1e-9 * std::max(1.0, outcome.horizon());
  for (int i = 0; i < n && e.time[i] <= end; ++i) {
    d->time = e.time[i];
    for (std::size_t k = 0; k < c.qpos.size(); ++k)
      d->qpos[c.qpos[k]] = e.qpos.values(i, static_cast<int>(k));
    for (std::size_t k = 0; k < c.qvel.size(); ++k)
      d->qvel[c.qvel[k]] = e.qvel.values(i, static_cast<int>(k));
    for (std::size_t k = 0; k < c.ctrl.size(); ++k)
      d->ctrl[c.ctrl[k]] = e.ctrl.values(i, static_cast<int>(k));
    mj_forward(m, d);
    if (i == 0) {
      evaluator.Begin(m, d);
    } else {
      evaluator.Observe(m, d);
    }
    r.seconds = e.time[i] - t0;
  }
  evaluator.Finish(m, d);
  if (r.success_judged) r.success = evaluator.success();
  if (r.safety_judged) r.safe = evaluator.safe();
  for (int k = 0; k < outcome.num_metrics(); ++k)
    if (metric_judged[k]) r.metrics[outcome.metrics()[k].name] = evaluator.metrics()[k];
  return r;
}

RealOutcome RealEpisodeOutcome(const mjModel* m, const Outcome& outcome, const Episode& e,
                               const EpisodeConditions* conditions) {
  RealOutcome r;
  int label = -1;
  if (e.outcome.is_object() && e.outcome.contains("success") && e.outcome["success"].is_boolean())
    label = e.outcome["success"].get<bool>() ? 1 : 0;
  const LoggedOutcome logged = JudgeLoggedEpisode(m, outcome, e, conditions);
  if (logged.success_judged) {
    r.success = logged.success ? 1 : 0;
    r.source = "log";
    if (label >= 0 && label != r.success)
      r.note = std::string("its recorded label says ") + (label ? "success" : "failure");
  } else if (label >= 0) {
    r.success = label;
    r.source = "label";
  } else {
    r.note = outcome.has_success() ? logged.reason : "the task has no success rule";
    if (r.note.empty()) r.note = "not judged";
  }
  return r;
}

}  // namespace nextbatch
