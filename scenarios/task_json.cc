#include "scenarios/task_json.h"

#include "engine/error.h"

namespace nextbatch {
namespace {

// A number or one per joint.
std::vector<double> Gains(const JsonReader& r, const std::string& key, std::size_t n) {
  if (!r.Has(key)) return std::vector<double>(n, 0.0);
  if (r.Raw(key).is_number()) return std::vector<double>(n, r.Number(key));
  return r.Numbers(key);
}

void ReadScripted(const JsonReader& r, const std::string& type, ScriptedArmOptions* o) {
  o->skill = type == "reach"  ? ScriptedArmOptions::Skill::kReach
             : type == "push" ? ScriptedArmOptions::Skill::kPush
                              : ScriptedArmOptions::Skill::kPick;
  o->joints = r.Strings("joints");
  o->actuators = r.Strings("actuators");
  o->site = r.String("site");
  o->objects = r.Strings("object");
  o->gripper_actuator = r.String("gripper_actuator", "");
  o->gripper_open = r.Number("gripper_open", o->gripper_open);
  o->gripper_closed = r.Number("gripper_closed", o->gripper_closed);
  o->top_down = r.Bool("top_down", o->top_down);
  o->approach_height = r.Number("approach_height", o->approach_height);
  o->grasp_height = r.Number("grasp_height", o->grasp_height);
  o->lift_height = r.Number("lift_height", o->lift_height);
  o->push_distance = r.Number("push_distance", o->push_distance);
  if (r.Has("push_direction")) o->push_direction = r.Numbers("push_direction");
  o->standoff = r.Number("standoff", o->standoff);
  o->segment_time = r.Number("segment_time", o->segment_time);
  o->ik_gain = r.Number("ik_gain", o->ik_gain);
  o->damping = r.Number("damping", o->damping);
  o->max_joint_speed = r.Number("max_joint_speed", o->max_joint_speed);
  o->max_lead = r.Number("max_lead", o->max_lead);
}

ControllerSpec ReadController(const JsonReader& r) {
  ControllerSpec c;
  const std::string type = r.Choice(
      "type", {"none", "open_loop", "pd", "energy_swing_up", "reach", "push", "pick", "profile"},
      "none");
  if (type == "open_loop") {
    c.type = ControllerSpec::Type::kOpenLoop;
    c.times = r.Numbers("times");
    const nlohmann::json& v = r.Raw("values");
    if (!v.is_array()) ThrowExpected(r.Where("values"), "an array of rows", Describe(v));
    c.values.resize(static_cast<Eigen::Index>(v.size()), v.empty() ? 0 : v[0].size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string w = r.Where("values") + "[" + std::to_string(i) + "]";
      if (!v[i].is_array() || static_cast<Eigen::Index>(v[i].size()) != c.values.cols()) {
        ThrowExpected(w, "a row of " + std::to_string(c.values.cols()) + " numbers",
                      Describe(v[i]));
      }
      for (std::size_t k = 0; k < v[i].size(); ++k) {
        if (!v[i][k].is_number()) ThrowExpected(w, "numbers", Describe(v[i][k]));
        c.values(i, k) = v[i][k].get<double>();
      }
    }
    c.hold = r.Choice("hold", {"linear", "zero_order"}, "linear") == "linear"
                 ? OpenLoopController::Hold::kLinear
                 : OpenLoopController::Hold::kZeroOrder;
  } else if (type == "pd") {
    c.type = ControllerSpec::Type::kPd;
    PdWaypointOptions& o = c.pd;
    o.joints = r.Strings("joints");
    o.actuators = r.Strings("actuators");
    for (const JsonReader& w : r.Objects("waypoints")) {
      o.times.push_back(w.Number("time"));
      o.positions.push_back(w.Numbers("positions"));
      w.CheckAllRead();
    }
    o.position_output = r.Choice("output", {"torque", "position"}, "torque") == "position";
    if (!o.position_output) {
      o.kp = Gains(r, "kp", o.joints.size());
      o.kd = Gains(r, "kd", o.joints.size());
    }
    o.gravity_compensation = r.Bool("gravity_compensation", false);
  } else if (type == "energy_swing_up") {
    c.type = ControllerSpec::Type::kEnergySwingUp;
    EnergySwingUpOptions& o = c.swing_up;
    o.joint = r.String("joint");
    o.actuator = r.String("actuator");
    o.torque_limit = r.Number("torque_limit", o.torque_limit);
    o.energy_gain = r.Number("energy_gain", o.energy_gain);
    o.energy_margin = r.Number("energy_margin", o.energy_margin);
    o.catch_angle = r.Number("catch_angle", o.catch_angle);
    o.kp = r.Number("kp", o.kp);
    o.kd = r.Number("kd", o.kd);
  } else if (type == "profile") {
    c.type = ControllerSpec::Type::kProfile;
    c.profile_factor = r.String("factor");
    c.profile_actuator = r.String("actuator");
    c.hold = r.Choice("hold", {"linear", "zero_order"}, "linear") == "linear"
                 ? OpenLoopController::Hold::kLinear
                 : OpenLoopController::Hold::kZeroOrder;
  } else if (type != "none") {
    c.type = ControllerSpec::Type::kScripted;
    ReadScripted(r, type, &c.scripted);
  }
  r.CheckAllRead();
  return c;
}

}  // namespace

TaskSpec ReadTaskSpec(const JsonReader& r) {
  TaskSpec s;
  s.file = r.file();
  s.horizon = r.Number("horizon");
  if (r.Has("controller")) s.controller = ReadController(r.Object("controller"));
  s.keyframe = r.String("keyframe", "");
  if (r.Has("outcome")) {
    s.outcome = r.Raw("outcome");
    if (!s.outcome.is_object()) {
      ThrowExpected(r.Where("outcome"), "an object {success, safety, metrics}",
                    Describe(s.outcome));
    }
  }
  r.CheckAllRead();
  const std::string error = s.Validate();
  if (!error.empty()) throw InputError(error);
  return s;
}

}  // namespace nextbatch
