#include "engine/parameter.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "engine/error.h"
#include "engine/model.h"

namespace nextbatch {
namespace {

// One bindable field of an element kind.
struct FieldInfo {
  const char* name;
  mjtNum* mjModel::*array;
  int width;      // values per element
  bool per_dof;   // joint fields stored per dof (every dof of the joint is driven)
  bool inertial;  // needs mj_setConst
};

struct KindInfo {
  const char* kind;
  mjtObj type;
  std::vector<FieldInfo> fields;
};

const std::vector<KindInfo>& Kinds() {
  static const std::vector<KindInfo> kinds = {
      {"joint",
       mjOBJ_JOINT,
       {{"damping", &mjModel::dof_damping, 1, true, false},
        {"frictionloss", &mjModel::dof_frictionloss, 1, true, false},
        {"armature", &mjModel::dof_armature, 1, true, true},
        {"stiffness", &mjModel::jnt_stiffness, 1, false, false},
        {"margin", &mjModel::jnt_margin, 1, false, false},
        {"range", &mjModel::jnt_range, 2, false, false},
        {"springref", &mjModel::qpos_spring, 1, false, false},
        {"ref", &mjModel::qpos0, 1, false, true}}},
      {"body",
       mjOBJ_BODY,
       {{"mass", &mjModel::body_mass, 1, false, true},
        {"ipos", &mjModel::body_ipos, 3, false, true},
        {"inertia", &mjModel::body_inertia, 3, false, true},
        {"pos", &mjModel::body_pos, 3, false, true}}},
      {"geom",
       mjOBJ_GEOM,
       {{"friction", &mjModel::geom_friction, 3, false, false},
        {"size", &mjModel::geom_size, 3, false, false},
        {"pos", &mjModel::geom_pos, 3, false, false},
        {"margin", &mjModel::geom_margin, 1, false, false},
        {"solref", &mjModel::geom_solref, mjNREF, false, false},
        {"solimp", &mjModel::geom_solimp, mjNIMP, false, false}}},
      {"site", mjOBJ_SITE, {{"pos", &mjModel::site_pos, 3, false, false}}},
      {"actuator",
       mjOBJ_ACTUATOR,
       {{"gainprm", &mjModel::actuator_gainprm, mjNGAIN, false, false},
        {"biasprm", &mjModel::actuator_biasprm, mjNBIAS, false, false},
        {"dynprm", &mjModel::actuator_dynprm, mjNDYN, false, false},
        {"gear", &mjModel::actuator_gear, 6, false, true},
        {"ctrlrange", &mjModel::actuator_ctrlrange, 2, false, false},
        {"forcerange", &mjModel::actuator_forcerange, 2, false, false}}},
      {"tendon",
       mjOBJ_TENDON,
       {{"damping", &mjModel::tendon_damping, 1, false, false},
        {"stiffness", &mjModel::tendon_stiffness, 1, false, false},
        {"frictionloss", &mjModel::tendon_frictionloss, 1, false, false}}},
  };
  return kinds;
}

struct OptionInfo {
  const char* name;
  std::size_t offset;
  int width;
};

const std::vector<OptionInfo>& Options() {
  static const std::vector<OptionInfo> options = {
      {"timestep", offsetof(mjOption, timestep), 1},
      {"gravity", offsetof(mjOption, gravity), 3},
      {"wind", offsetof(mjOption, wind), 3},
      {"density", offsetof(mjOption, density), 1},
      {"viscosity", offsetof(mjOption, viscosity), 1},
      {"impratio", offsetof(mjOption, impratio), 1},
  };
  return options;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(none)" : out;
}

// Splits "field" or "field[3]" into name and index (-1 when absent).
void SplitIndex(const std::string& where, const std::string& text, std::string* field, int* index) {
  *index = -1;
  auto open = text.find('[');
  if (open == std::string::npos) {
    *field = text;
    return;
  }
  if (text.back() != ']') ThrowExpected(where, "an index written as field[i]", "'" + text + "'");
  *field = text.substr(0, open);
  std::string digits = text.substr(open + 1, text.size() - open - 2);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
      digits.size() > 6) {
    ThrowExpected(where, "a non-negative integer index", "'" + digits + "'");
  }
  *index = std::stoi(digits);
}

int CheckIndex(const std::string& where, const std::string& field, int index, int width) {
  if (width == 1) {
    if (index > 0)
      ThrowExpected(where, "no index or [0] for scalar field '" + field + "'",
                    "[" + std::to_string(index) + "]");
    return 0;
  }
  if (index < 0 || index >= width) {
    ThrowExpected(where,
                  "an index [0.." + std::to_string(width - 1) + "] for field '" + field + "'",
                  index < 0 ? std::string("no index") : "[" + std::to_string(index) + "]");
  }
  return index;
}

std::vector<std::string> ElementNames(const mjModel* m, mjtObj type, int count) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    std::string n = ElementName(m, type, i);
    if (!n.empty()) names.push_back(n);
  }
  return names;
}

int CountOf(const mjModel* m, mjtObj type) {
  switch (type) {
    case mjOBJ_JOINT:
      return m->njnt;
    case mjOBJ_BODY:
      return m->nbody;
    case mjOBJ_GEOM:
      return m->ngeom;
    case mjOBJ_SITE:
      return m->nsite;
    case mjOBJ_ACTUATOR:
      return m->nu;
    case mjOBJ_TENDON:
      return m->ntendon;
    case mjOBJ_SENSOR:
      return m->nsensor;
    default:
      return 0;
  }
}

int FindElement(const mjModel* m, const std::string& where, const std::string& kind, mjtObj type,
                const std::string& name) {
  int id = name.empty() ? -1 : mj_name2id(m, type, name.c_str());
  if (id < 0) {
    ThrowExpected(
        where,
        "a " + kind + " of the model (" + Join(ElementNames(m, type, CountOf(m, type))) + ")",
        "'" + name + "'");
  }
  return id;
}

int JointDofCount(const mjModel* m, int j) {
  switch (m->jnt_type[j]) {
    case mjJNT_FREE:
      return 6;
    case mjJNT_BALL:
      return 3;
    default:
      return 1;
  }
}

}  // namespace

Effects Effects::Identity(const mjModel* m) {
  Effects e;
  e.ctrl_gain = Eigen::VectorXd::Ones(m->nu);
  e.ctrl_bias = Eigen::VectorXd::Zero(m->nu);
  e.sensor_bias = Eigen::VectorXd::Zero(m->nsensordata);
  e.static_friction = Eigen::VectorXd::Zero(m->nv);
  e.stribeck_velocity = Eigen::VectorXd::Constant(m->nv, 0.05);
  e.load_friction = Eigen::VectorXd::Zero(m->nv);
  e.smooth_velocity = Eigen::VectorXd::Zero(m->nv);
  e.has_static.assign(m->nv, 0);
  e.has_smooth.assign(m->nv, 0);
  return e;
}

double Effects::FrictionLevel(int i, double sliding, double v) const {
  const double s = v / std::max(stribeck_velocity[i], 1e-12);
  return std::max(0.0, sliding + (static_friction[i] - sliding) * std::exp(-s * s));
}

std::vector<SmoothFrictionLimit> SmoothFrictionLimits(
    const mjModel* m, const Effects& e, const std::vector<Eigen::VectorXd>& configurations) {
  std::vector<SmoothFrictionLimit> out;
  for (int i : e.friction_dofs) {
    if (!e.has_smooth[i]) continue;
    SmoothFrictionLimit l;
    l.dof = i;
    const double sliding = std::max(0.0, m->dof_frictionloss[i]);
    l.level = e.has_static[i] ? std::max(sliding, e.FrictionLevel(i, sliding, 0.0)) : sliding;
    l.vs = std::max(e.smooth_velocity[i], 1e-12);
    l.inertia = std::numeric_limits<double>::infinity();
    out.push_back(l);
  }
  if (out.empty() || configurations.empty()) return out;
  DataPtr d = MakeData(m);
  const bool implicit_damping = m->opt.integrator == mjINT_EULER;
  std::vector<mjtNum> dense(static_cast<std::size_t>(m->nv) * m->nv);
  for (const Eigen::VectorXd& q : configurations) {
    NB_CHECK(q.size() == m->nq);
    mju_copy(d->qpos, q.data(), m->nq);
    mj_kinematics(m, d.get());
    mj_comPos(m, d.get());
    mj_crb(m, d.get());  // the joint-space inertia qM, armature included
    mj_fullM(m, dense.data(), d->qM);
    Eigen::Map<Eigen::Matrix<mjtNum, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> full(
        dense.data(), m->nv, m->nv);
    Eigen::MatrixXd inertia = full;
    if (implicit_damping) {
      for (int k = 0; k < m->nv; ++k) inertia(k, k) += m->opt.timestep * m->dof_damping[k];
    }
    const Eigen::MatrixXd inverse = inertia.ldlt().solve(Eigen::MatrixXd::Identity(m->nv, m->nv));
    for (SmoothFrictionLimit& l : out) {
      const double mi = 1.0 / inverse(l.dof, l.dof);
      if (std::isfinite(mi) && mi > 0) l.inertia = std::min(l.inertia, mi);
    }
  }
  for (SmoothFrictionLimit& l : out) {
    l.step_limit =
        l.level > 0 ? mjPI * l.inertia * l.vs / l.level : std::numeric_limits<double>::infinity();
  }
  return out;
}

std::vector<std::string> SmoothFrictionWarnings(
    const mjModel* m, const Effects& e, const std::vector<Eigen::VectorXd>& configurations) {
  std::vector<std::string> w;
  for (const SmoothFrictionLimit& l : SmoothFrictionLimits(m, e, configurations)) {
    if (!(l.step_limit < m->opt.timestep)) continue;
    const char* joint = mj_id2name(m, mjOBJ_JOINT, m->dof_jntid[l.dof]);
    const std::string name = joint ? joint : "dof " + std::to_string(l.dof);
    char text[600];
    std::snprintf(text, sizeof(text),
                  "the smooth dry friction of joint %s is an explicit force: at its level %.3g "
                  "and vs' %.3g its speed chatters below vs' when the time step exceeds pi M vs' "
                  "/ level = %.3g s, M the joint's effective inertia (down to %.3g in the "
                  "configurations checked); the model's time step is %.3g s: bound the level "
                  "lower, raise vs' or shorten the time step",
                  name.c_str(), l.level, l.vs, l.step_limit, l.inertia, m->opt.timestep);
    w.push_back(text);
  }
  return w;
}

bool Effects::IsIdentity() const {
  return delay == 0.0 && (ctrl_gain.array() == 1.0).all() && (ctrl_bias.array() == 0.0).all() &&
         (sensor_bias.array() == 0.0).all() && friction_dofs.empty();
}

std::string ParameterSpec::Validate() const {
  std::string where = "parameter '" + name + "'";
  if (name.empty()) return Expected("parameter", "a non-empty name", "''");
  if (targets.empty()) return Expected(where, "at least one target", "none");
  auto finite = [](double x) { return std::isfinite(x); };
  if (!finite(initial)) return Expected(where + ".initial", "a finite number", "non-finite");
  if (std::isnan(lower) || std::isnan(upper) || !(lower < upper)) {
    return Expected(where + ".bounds", "lower < upper",
                    "[" + std::to_string(lower) + ", " + std::to_string(upper) + "]");
  }
  if (initial < lower || initial > upper) {
    return Expected(where + ".initial", "a value within the bounds", std::to_string(initial));
  }
  if (prior_std < 0 || !finite(prior_std) || !finite(prior_mean)) {
    return Expected(where + ".prior", "a finite mean and a std >= 0", "another value");
  }
  if (prior_std > 0 && (prior_mean < lower || prior_mean > upper)) {
    return Expected(
        where + ".prior.mean",
        "a mean within the bounds [" + FormatNumber(lower) + ", " + FormatNumber(upper) + "]",
        FormatNumber(prior_mean));
  }
  if (log_scale && !(lower > 0)) {
    return Expected(where + ".log_scale", "a lower bound > 0", std::to_string(lower));
  }
  return "";
}

namespace {
std::vector<FieldRef> ResolveUnscaled(const mjModel* m, const std::string& target);
}  // namespace

std::vector<FieldRef> ResolveTarget(const mjModel* m, const std::string& target) {
  auto star = target.find('*');
  if (star == std::string::npos) return ResolveUnscaled(m, target);
  const std::string where = "target '" + target + "'";
  const std::string text = target.substr(star + 1);
  char* end = nullptr;
  const double factor = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(factor) ||
      factor == 0.0) {
    ThrowExpected(where, "a finite non-zero factor after '*'", "'" + text + "'");
  }
  std::vector<FieldRef> refs = ResolveUnscaled(m, target.substr(0, star));
  for (auto& f : refs) f.factor = factor;
  return refs;
}

namespace {

std::vector<FieldRef> ResolveUnscaled(const mjModel* m, const std::string& target) {
  const std::string where = "target '" + target + "'";
  if (target == "ctrl.delay") {
    FieldRef f;
    f.where = FieldRef::Where::kDelay;
    return {f};
  }
  if (target.rfind("opt.", 0) == 0) {
    std::string field;
    int index;
    SplitIndex(where, target.substr(4), &field, &index);
    std::vector<std::string> valid;
    for (const auto& o : Options()) {
      valid.push_back(o.name);
      if (field == o.name) {
        FieldRef f;
        f.where = FieldRef::Where::kOption;
        f.index =
            static_cast<int>(o.offset / sizeof(mjtNum)) + CheckIndex(where, field, index, o.width);
        return {f};
      }
    }
    ThrowExpected(where, "an opt field (" + Join(valid) + ")", "'" + field + "'");
  }
  auto colon = target.find(':');
  auto dot = target.rfind('.');
  if (colon == std::string::npos || dot == std::string::npos || dot < colon) {
    ThrowExpected(where, "kind:element.field[index], opt.field or ctrl.delay", "'" + target + "'");
  }
  const std::string kind = target.substr(0, colon);
  const std::string element = target.substr(colon + 1, dot - colon - 1);
  std::string field;
  int index;
  SplitIndex(where, target.substr(dot + 1), &field, &index);

  if (kind == "ctrl") {
    int id = FindElement(m, where, "actuator", mjOBJ_ACTUATOR, element);
    if (field != "gain" && field != "bias")
      ThrowExpected(where, "ctrl field gain or bias", "'" + field + "'");
    CheckIndex(where, field, index, 1);
    FieldRef f;
    f.where = field == "gain" ? FieldRef::Where::kCtrlGain : FieldRef::Where::kCtrlBias;
    f.index = id;
    return {f};
  }
  if (kind == "sensor") {
    int id = FindElement(m, where, "sensor", mjOBJ_SENSOR, element);
    if (field != "bias") ThrowExpected(where, "sensor field bias", "'" + field + "'");
    CheckIndex(where, field, index, 1);
    FieldRef f;
    f.where = FieldRef::Where::kSensorBias;
    f.index = m->sensor_adr[id];
    f.count = m->sensor_dim[id];
    return {f};
  }
  if (kind == "friction") {
    int id = FindElement(m, where, "joint", mjOBJ_JOINT, element);
    if (field != "static" && field != "stribeck_velocity" && field != "load" &&
        field != "smooth_velocity") {
      ThrowExpected(where, "friction field static, stribeck_velocity, load or smooth_velocity",
                    "'" + field + "'");
    }
    CheckIndex(where, field, index, 1);
    if (JointDofCount(m, id) != 1) {
      ThrowExpected(where, "a hinge or slide joint", "a free or ball joint");
    }
    FieldRef f;
    f.where = field == "static"            ? FieldRef::Where::kStaticFriction
              : field == "load"            ? FieldRef::Where::kLoadFriction
              : field == "smooth_velocity" ? FieldRef::Where::kSmoothVelocity
                                           : FieldRef::Where::kStribeckVelocity;
    f.index = m->jnt_dofadr[id];
    return {f};
  }
  std::vector<std::string> kinds;
  for (const auto& k : Kinds()) {
    kinds.push_back(k.kind);
    if (kind != k.kind) continue;
    int id = FindElement(m, where, kind, k.type, element);
    if (kind == "body" && field == "inertial") {
      ThrowExpected(where,
                    "'body:<name>.inertial' only as the one target of a grouped parameter "
                    "(initial {mass, com, inertia}; docs/calibration.md)",
                    "it in a scalar parameter");
    }
    std::vector<std::string> valid;
    for (const auto& fi : k.fields) {
      valid.push_back(fi.name);
      if (field != fi.name) continue;
      int component = CheckIndex(where, field, index, fi.width);
      std::vector<FieldRef> refs;
      if (fi.per_dof) {
        for (int i = 0; i < JointDofCount(m, id); ++i) {
          FieldRef f;
          f.array = fi.array;
          f.index = m->jnt_dofadr[id] + i;
          f.inertial = fi.inertial;
          refs.push_back(f);
        }
      } else {
        FieldRef f;
        f.array = fi.array;
        // qpos0 and qpos_spring are indexed by qpos address, everything else by element.
        int base = (fi.array == &mjModel::qpos0 || fi.array == &mjModel::qpos_spring)
                       ? m->jnt_qposadr[id]
                       : id * fi.width;
        if ((fi.array == &mjModel::qpos0 || fi.array == &mjModel::qpos_spring) &&
            JointDofCount(m, id) != 1) {
          ThrowExpected(where, "a hinge or slide joint for field '" + field + "'",
                        "a free or ball joint");
        }
        f.index = base + component;
        f.inertial = fi.inertial;
        refs.push_back(f);
      }
      return refs;
    }
    ThrowExpected(where, "a " + kind + " field (" + Join(valid) + ")", "'" + field + "'");
  }
  kinds.push_back("ctrl");
  kinds.push_back("sensor");
  kinds.push_back("friction");
  ThrowExpected(where, "an element kind (" + Join(kinds) + ") or opt", "'" + kind + "'");
}

}  // namespace

namespace {

// Lists `dof` among the dofs whose friction Workspace::Step sets (once).
void AddFrictionDof(Effects* e, int dof) {
  if (std::find(e->friction_dofs.begin(), e->friction_dofs.end(), dof) == e->friction_dofs.end()) {
    e->friction_dofs.push_back(dof);
  }
}

}  // namespace

double ReadField(const mjModel* m, const Effects& e, const FieldRef& f) {
  switch (f.where) {
    case FieldRef::Where::kModelArray:
      return (m->*f.array)[f.index];
    case FieldRef::Where::kOption:
      return reinterpret_cast<const mjtNum*>(&m->opt)[f.index];
    case FieldRef::Where::kDelay:
      return e.delay;
    case FieldRef::Where::kCtrlGain:
      return e.ctrl_gain[f.index];
    case FieldRef::Where::kCtrlBias:
      return e.ctrl_bias[f.index];
    case FieldRef::Where::kSensorBias:
      return e.sensor_bias[f.index];
    case FieldRef::Where::kStaticFriction:
      return e.static_friction[f.index];
    case FieldRef::Where::kStribeckVelocity:
      return e.stribeck_velocity[f.index];
    case FieldRef::Where::kLoadFriction:
      return e.load_friction[f.index];
    case FieldRef::Where::kSmoothVelocity:
      return e.smooth_velocity[f.index];
  }
  return 0.0;
}

void WriteField(mjModel* m, Effects* e, const FieldRef& f, double value) {
  switch (f.where) {
    case FieldRef::Where::kModelArray:
      (m->*f.array)[f.index] = value;
      break;
    case FieldRef::Where::kOption:
      reinterpret_cast<mjtNum*>(&m->opt)[f.index] = value;
      break;
    case FieldRef::Where::kDelay:
      e->delay = value;
      break;
    case FieldRef::Where::kCtrlGain:
      e->ctrl_gain[f.index] = value;
      break;
    case FieldRef::Where::kCtrlBias:
      e->ctrl_bias[f.index] = value;
      break;
    case FieldRef::Where::kSensorBias:
      for (int i = 0; i < f.count; ++i) e->sensor_bias[f.index + i] = value;
      break;
    case FieldRef::Where::kStaticFriction:
      e->static_friction[f.index] = value;
      e->has_static[f.index] = 1;
      AddFrictionDof(e, f.index);
      break;
    case FieldRef::Where::kStribeckVelocity:
      e->stribeck_velocity[f.index] = value;
      break;
    case FieldRef::Where::kLoadFriction:
      e->load_friction[f.index] = value;
      AddFrictionDof(e, f.index);
      break;
    case FieldRef::Where::kSmoothVelocity:
      e->smooth_velocity[f.index] = value;
      e->has_smooth[f.index] = 1;
      AddFrictionDof(e, f.index);
      break;
  }
}

namespace {

// Fields that MuJoCo takes as given but that are meaningless below zero: a negative mass,
// inertia, damping, armature or friction makes the simulation gain energy (or diverge) instead
// of failing, so a fit would wander into them. nullptr: any sign is physical.
const char* NonNegativeQuantity(const FieldRef& f) {
  if (f.where != FieldRef::Where::kModelArray) return nullptr;
  if (f.array == &mjModel::body_mass) return "a mass";
  if (f.array == &mjModel::body_inertia) return "an inertia";
  if (f.array == &mjModel::dof_damping || f.array == &mjModel::tendon_damping) return "a damping";
  if (f.array == &mjModel::dof_armature) return "an armature";
  if (f.array == &mjModel::dof_frictionloss || f.array == &mjModel::tendon_frictionloss)
    return "a friction loss";
  return nullptr;
}

// Throws unless every value the bounds allow keeps the slot >= 0.
void CheckNonNegativeRange(const ParameterSpec& s, const FieldRef& f, double nominal,
                           const std::string& target) {
  const char* quantity = NonNegativeQuantity(f);
  if (quantity == nullptr) return;
  const double k = s.mode == BindMode::kScale ? nominal : f.factor;
  if (std::min(k * s.lower, k * s.upper) >= 0) return;
  const bool unbounded = s.lower <= -1e300 || s.upper >= 1e300;
  ThrowExpected("bounds",
                std::string("bounds that keep target '") + target + "' >= 0 (" + quantity +
                    " cannot be negative)",
                unbounded
                    ? std::string("no bounds")
                    : "[" + FormatNumber(s.lower) + ", " + FormatNumber(s.upper) + "]" +
                          (s.mode == BindMode::kScale ? " times " + FormatNumber(nominal) : ""));
}

// Writes the body's mass, com and inertia (principal moments and axes) from coordinates.
void WriteInertial(mjModel* m, int body, const InertialVector& theta) {
  InertialToMujoco(InertialFromCoordinates(theta), m->body_mass + body, m->body_ipos + 3 * body,
                   m->body_inertia + 3 * body, m->body_iquat + 4 * body);
}

}  // namespace

std::vector<ParameterSpec> InertialParameterSpecs(std::shared_ptr<const InertialGroup> group,
                                                  const Eigen::Vector2d& mass_bounds,
                                                  const Eigen::Matrix<double, 2, 3>& com_bounds,
                                                  bool fixed, const std::string& where) {
  const InertialVector theta = InertialToCoordinates(group->initial, where + ".initial");
  if (!(mass_bounds[0] >= 0) || !(mass_bounds[0] < mass_bounds[1])) {
    ThrowExpected(where + ".bounds.mass", "[lower, upper] with 0 <= lower < upper",
                  "[" + FormatNumber(mass_bounds[0]) + ", " + FormatNumber(mass_bounds[1]) + "]");
  }
  std::vector<ParameterSpec> specs;
  for (int k = 0; k < kInertialSize; ++k) {
    ParameterSpec s;
    s.name = group->name + "." + InertialCoordinateNames()[k];
    s.targets = {"body:" + group->body + ".inertial"};
    s.initial = theta[k];
    if (k == 0) {
      if (mass_bounds[0] > 0) s.lower = 0.5 * std::log(mass_bounds[0]);
      if (mass_bounds[1] < 1e300) s.upper = 0.5 * std::log(mass_bounds[1]);
    } else if (k >= 7) {
      s.lower = com_bounds(0, k - 7);
      s.upper = com_bounds(1, k - 7);
    }
    s.fixed = fixed;
    s.group = group;
    s.coordinate = k;
    if (std::string error = s.Validate(); !error.empty()) {
      const std::string quantity = k == 0 ? "mass" : "com[" + std::to_string(k - 7) + "]";
      ThrowExpected(where + ".bounds", "bounds that hold the initial " + quantity,
                    "initial " + FormatNumber(k == 0 ? group->initial.mass : theta[k]) +
                        " outside [" +
                        FormatNumber(k == 0 ? mass_bounds[0] : com_bounds(0, k - 7)) + ", " +
                        FormatNumber(k == 0 ? mass_bounds[1] : com_bounds(1, k - 7)) + "]");
    }
    specs.push_back(s);
  }
  return specs;
}

std::vector<int> InertialGroupStarts(const std::vector<ParameterSpec>& specs) {
  std::vector<int> starts;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].group && specs[i].coordinate == 0) starts.push_back(static_cast<int>(i));
  }
  return starts;
}

ParameterBinding::ParameterBinding(const mjModel* m, std::vector<ParameterSpec> specs)
    : specs_(std::move(specs)) {
  const Effects identity = Effects::Identity(m);
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    const auto& s = specs_[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (specs_[j].name == s.name) {
        ThrowExpected("parameter '" + s.name + "'", "a unique name", "a second parameter of it");
      }
    }
    std::string error = s.Validate();
    if (!error.empty()) throw InputError(error);
    if (s.group) {
      // The ten coordinates of one group, in order; the binding writes the body's inertial.
      const std::string where = "parameter '" + s.group->name + "'";
      bool in_order = s.coordinate >= 0 && s.coordinate < kInertialSize &&
                      (s.coordinate == 0 || (i > 0 && specs_[i - 1].group == s.group &&
                                             specs_[i - 1].coordinate == s.coordinate - 1));
      for (int k = 1; in_order && s.coordinate == 0 && k < kInertialSize; ++k) {
        in_order = i + k < specs_.size() && specs_[i + k].group == s.group &&
                   specs_[i + k].coordinate == k;
      }
      if (!in_order) {
        ThrowExpected(where, "its ten inertial coordinates in order", "another arrangement");
      }
      if (s.coordinate == 0) {
        GroupRef g;
        g.first = static_cast<int>(i);
        g.body = FindElement(m, where + ": target 'body:" + s.group->body + ".inertial'", "body",
                             mjOBJ_BODY, s.group->body);
        if (g.body == 0) ThrowExpected(where, "a body other than the world", "'world'");
        g.mass = m->body_mass[g.body];
        for (int k = 0; k < 3; ++k) g.ipos[k] = m->body_ipos[3 * g.body + k];
        for (int k = 0; k < 3; ++k) g.inertia[k] = m->body_inertia[3 * g.body + k];
        for (int k = 0; k < 4; ++k) g.iquat[k] = m->body_iquat[4 * g.body + k];
        groups_.push_back(g);
        needs_set_const_ = true;
      }
      refs_.emplace_back();
      nominal_.emplace_back();
      continue;
    }
    std::vector<FieldRef> refs;
    std::vector<double> nominal;
    for (const auto& t : s.targets) {
      try {
        for (const auto& f : ResolveTarget(m, t)) {
          refs.push_back(f);
          nominal.push_back(ReadField(m, identity, f));
          if (s.mode == BindMode::kScale && nominal.back() == 0.0) {
            ThrowExpected("target '" + t + "'", "a non-zero model value to scale", "0");
          }
          needs_set_const_ = needs_set_const_ || f.inertial;
          CheckNonNegativeRange(s, f, nominal.back(), t);
        }
      } catch (const InputError& e) {
        throw InputError("parameter '" + s.name + "': " + e.what());
      }
    }
    refs_.push_back(std::move(refs));
    nominal_.push_back(std::move(nominal));
  }
}

int ParameterBinding::Find(const std::string& name) const {
  for (int i = 0; i < size(); ++i) {
    if (specs_[i].name == name) return i;
  }
  return -1;
}

Eigen::VectorXd ParameterBinding::Initial() const {
  Eigen::VectorXd v(size());
  for (int i = 0; i < size(); ++i) v[i] = specs_[i].initial;
  return v;
}

Eigen::VectorXd ParameterBinding::Lower() const {
  Eigen::VectorXd v(size());
  for (int i = 0; i < size(); ++i) v[i] = specs_[i].lower;
  return v;
}

Eigen::VectorXd ParameterBinding::Upper() const {
  Eigen::VectorXd v(size());
  for (int i = 0; i < size(); ++i) v[i] = specs_[i].upper;
  return v;
}

void ParameterBinding::Apply(const Eigen::VectorXd& values, mjModel* m, mjData* d, Effects* e,
                             bool set_const) const {
  NB_CHECK(values.size() == size());
  bool inertial = false;
  for (int i = 0; i < size(); ++i) {
    for (std::size_t k = 0; k < refs_[i].size(); ++k) {
      const FieldRef& f = refs_[i][k];
      double v =
          specs_[i].mode == BindMode::kScale ? values[i] * nominal_[i][k] : values[i] * f.factor;
      WriteField(m, e, f, v);
      inertial = inertial || f.inertial;
    }
  }
  for (const GroupRef& g : groups_) {
    WriteInertial(m, g.body, values.segment<kInertialSize>(g.first));
    inertial = true;
  }
  if (inertial && set_const) {
    NB_CHECK(d != nullptr);
    mj_setConst(m, d);
  }
}

Eigen::VectorXd ParameterBinding::Read(const mjModel* m, const Effects& e) const {
  Eigen::VectorXd v(size());
  for (const GroupRef& g : groups_) {
    const PhysicalInertial p =
        InertialFromMujoco(m->body_mass[g.body], m->body_ipos + 3 * g.body,
                           m->body_inertia + 3 * g.body, m->body_iquat + 4 * g.body);
    v.segment<kInertialSize>(g.first) =
        InertialToCoordinates(p, "parameter '" + specs_[g.first].group->name + "'");
  }
  for (int i = 0; i < size(); ++i) {
    if (specs_[i].group) continue;
    double x = ReadField(m, e, refs_[i][0]);
    v[i] = specs_[i].mode == BindMode::kScale ? x / nominal_[i][0] : x / refs_[i][0].factor;
  }
  return v;
}

void ParameterBinding::RestoreNominal(mjModel* m, Effects* e) const {
  for (int i = 0; i < size(); ++i) {
    for (std::size_t k = 0; k < refs_[i].size(); ++k) WriteField(m, e, refs_[i][k], nominal_[i][k]);
  }
  for (const GroupRef& g : groups_) {
    m->body_mass[g.body] = g.mass;
    for (int k = 0; k < 3; ++k) m->body_ipos[3 * g.body + k] = g.ipos[k];
    for (int k = 0; k < 3; ++k) m->body_inertia[3 * g.body + k] = g.inertia[k];
    for (int k = 0; k < 4; ++k) m->body_iquat[4 * g.body + k] = g.iquat[k];
  }
}

bool ParameterBinding::ApplyOver(const Eigen::VectorXd& values, mjModel* m, Effects* e) const {
  NB_CHECK(values.size() == size());
  bool inertial = false;
  for (int i = 0; i < size(); ++i) {
    if (std::isnan(values[i])) continue;
    for (const FieldRef& f : refs_[i]) {
      const double v = specs_[i].mode == BindMode::kScale ? values[i] * ReadField(m, *e, f)
                                                          : values[i] * f.factor;
      WriteField(m, e, f, v);
      inertial = inertial || f.inertial;
    }
  }
  for (const GroupRef& g : groups_) {
    const InertialVector theta = values.segment<kInertialSize>(g.first);
    if (theta.hasNaN()) continue;
    WriteInertial(m, g.body, theta);
    inertial = true;
  }
  return inertial;
}

const Eigen::VectorXd* EpisodeConditions::Find(const std::string& episode_id) const {
  if (binding.size() == 0) return nullptr;
  const auto it = values.find(episode_id);
  return it == values.end() ? nullptr : &it->second;
}

}  // namespace nextbatch
