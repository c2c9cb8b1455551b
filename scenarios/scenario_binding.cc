#include "scenarios/scenario_binding.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "engine/error.h"
#include "engine/model.h"

namespace nextbatch {
namespace {

constexpr double kParkDepth = -100.0;  // metres under the world origin

std::string BodiesWithFreeJoints(const mjModel* m) {
  std::string out;
  for (int b = 1; b < m->nbody; ++b) {
    if (m->body_jntnum[b] == 1 && m->jnt_type[m->body_jntadr[b]] == mjJNT_FREE) {
      out += (out.empty() ? "" : ", ") + ElementName(m, mjOBJ_BODY, b);
    }
  }
  return out.empty() ? "(none)" : out;
}

int FreeQposAdr(const mjModel* m, int body) {
  if (m->body_jntnum[body] != 1 || m->jnt_type[m->body_jntadr[body]] != mjJNT_FREE) return -1;
  return m->jnt_qposadr[m->body_jntadr[body]];
}

bool IsDescendant(const mjModel* m, int body, int ancestor) {
  for (int b = body; b > 0; b = m->body_parentid[b]) {
    if (b == ancestor) return true;
  }
  return false;
}

}  // namespace

ScenarioBinding::ScenarioBinding(const mjModel* m, const ScenarioSpace& space) : space_(space) {
  std::string error = space.Validate();
  if (!error.empty()) throw InputError("scenarios: " + error);
  qpos0_.assign(m->qpos0, m->qpos0 + m->nq);
  using K = FactorBinding::Kind;
  std::vector<ParameterSpec> specs;
  // Variants first: pose factors may refer to their objects.
  for (int i = 0; i < space.dimension(); ++i) {
    const Factor& f = space.factor(i);
    if (f.binding.kind != K::kVariant) continue;
    const std::string where = "scenarios: factor '" + f.name + "'";
    Variant v;
    v.factor = i;
    v.object = f.binding.targets[0];
    for (const Level& l : f.levels) {
      const std::string body_name = l.body.empty() ? l.name : l.body;
      VariantBody vb;
      vb.body = mj_name2id(m, mjOBJ_BODY, body_name.c_str());
      if (vb.body <= 0) {
        ThrowExpected(where + ".levels." + l.name,
                      "a body of the model (with a free joint or none) for the level",
                      "'" + body_name + "'");
      }
      vb.qpos_adr = FreeQposAdr(m, vb.body);
      if (vb.qpos_adr < 0 && m->body_jntnum[vb.body] != 0) {
        ThrowExpected(where + ".levels." + l.name, "a body with one free joint or no joint",
                      "body '" + body_name + "' with other joints");
      }
      if (vb.qpos_adr < 0 && m->body_parentid[vb.body] != 0) {
        ThrowExpected(where + ".levels." + l.name,
                      "a body without joints to be a child of the world",
                      "body '" + body_name + "' inside another body");
      }
      for (int g = 0; g < m->ngeom; ++g) {
        if (!IsDescendant(m, m->geom_bodyid[g], vb.body)) continue;
        vb.geoms.push_back(g);
        vb.contype.push_back(m->geom_contype[g]);
        vb.conaffinity.push_back(m->geom_conaffinity[g]);
        vb.alpha.push_back(m->geom_rgba[4 * g + 3]);
      }
      for (int k = 0; k < 3; ++k) vb.base_pos[k] = m->body_pos[3 * vb.body + k];
      v.levels.push_back(vb);
    }
    variants_.push_back(std::move(v));
  }
  for (int i = 0; i < space.dimension(); ++i) {
    const Factor& f = space.factor(i);
    const std::string where = "scenarios: factor '" + f.name + "'.binding.target";
    switch (f.binding.kind) {
      case K::kNone:
      case K::kVariant:
        break;
      case K::kParameter: {
        ParameterSpec spec;
        spec.name = f.name;
        spec.targets = f.binding.targets;
        spec.mode = f.binding.mode;
        // The factor's range is the parameter's: the engine checks that it keeps masses,
        // dampings and frictions non-negative.
        if (f.numeric() && f.lower < f.upper) {
          spec.lower = spec.initial = f.lower;
          spec.upper = f.upper;
        }
        parameter_factors_.push_back(i);
        specs.push_back(spec);
        break;
      }
      case K::kQpos: {
        const std::string& name = f.binding.targets[0];
        const int j = mj_name2id(m, mjOBJ_JOINT, name.c_str());
        if (j < 0 || (m->jnt_type[j] != mjJNT_HINGE && m->jnt_type[j] != mjJNT_SLIDE)) {
          ThrowExpected(where, "a hinge or slide joint of the model",
                        j < 0 ? "'" + name + "'" : "the free or ball joint '" + name + "'");
        }
        if (m->jnt_limited[j] && f.numeric() &&
            (f.lower < m->jnt_range[2 * j] || f.upper > m->jnt_range[2 * j + 1])) {
          ThrowExpected("scenarios: factor '" + f.name + "'.range",
                        "a range within joint '" + name + "' limits [" +
                            FormatNumber(m->jnt_range[2 * j]) + ", " +
                            FormatNumber(m->jnt_range[2 * j + 1]) + "]",
                        "[" + FormatNumber(f.lower) + ", " + FormatNumber(f.upper) + "]");
        }
        joints_.push_back({i, m->jnt_qposadr[j]});
        break;
      }
      case K::kPose: {
        const std::string& t = f.binding.targets[0];
        const auto dot = t.rfind('.');
        const std::string object = t.substr(0, dot), component = t.substr(dot + 1);
        Pose p;
        p.factor = i;
        p.component = component == "x" ? 0 : component == "y" ? 1 : component == "z" ? 2 : 3;
        for (std::size_t v = 0; v < variants_.size(); ++v) {
          if (variants_[v].object == object) p.variant = static_cast<int>(v);
        }
        if (p.variant >= 0) {
          for (const VariantBody& vb : variants_[p.variant].levels) {
            if (vb.qpos_adr < 0) {
              ThrowExpected(where, "an object whose variant bodies have free joints",
                            "body '" + ElementName(m, mjOBJ_BODY, vb.body) + "' without one");
            }
          }
        } else {
          const int b = mj_name2id(m, mjOBJ_BODY, object.c_str());
          p.qpos_adr = b > 0 ? FreeQposAdr(m, b) : -1;
          if (p.qpos_adr < 0) {
            std::string objects;
            for (const Variant& v : variants_) objects += ", " + v.object;
            ThrowExpected(where,
                          "a body with a free joint (" + BodiesWithFreeJoints(m) + objects +
                              ") and a component",
                          "'" + t + "'");
          }
          // Posing one variant body by name would unpark it when another level is chosen.
          for (const Variant& v : variants_) {
            for (const VariantBody& vb : v.levels) {
              if (vb.body == b) {
                ThrowExpected(where, "the object '" + v.object + "' rather than its variant body",
                              "'" + t + "'");
              }
            }
          }
        }
        poses_.push_back(p);
        break;
      }
    }
  }
  // Two factors driving one quantity would silently overwrite each other.
  for (int i = 0; i < space.dimension(); ++i) {
    for (int k = 0; k < i; ++k) {
      const FactorBinding &a = space.factor(i).binding, &b = space.factor(k).binding;
      if (a.kind != b.kind || a.kind == K::kNone) continue;
      for (const std::string& t : a.targets) {
        for (const std::string& u : b.targets) {
          if (t == u) {
            ThrowExpected("scenarios: factor '" + space.factor(i).name + "'.binding.target",
                          "a target no other factor binds",
                          "'" + t + "', bound by factor '" + space.factor(k).name + "' too");
          }
        }
      }
    }
  }
  for (std::size_t v = 0; v < variants_.size(); ++v) {
    for (std::size_t w = 0; w < v; ++w) {
      for (const VariantBody& a : variants_[v].levels) {
        for (const VariantBody& b : variants_[w].levels) {
          if (a.body == b.body) {
            ThrowExpected(
                "scenarios: factor '" + space.factor(variants_[v].factor).name + "'.levels",
                "bodies of no other variant factor",
                "body '" + ElementName(m, mjOBJ_BODY, a.body) + "' of factor '" +
                    space.factor(variants_[w].factor).name + "' too");
          }
        }
      }
    }
  }
  if (!specs.empty()) {
    try {
      parameters_ = ParameterBinding(m, specs);
    } catch (const InputError& e) {
      // The engine says "parameter 'name': ..."; say which factor and field instead.
      std::string message = e.what();
      const auto colon = message.find("': ");
      const std::string name = message.rfind("parameter '", 0) == 0 && colon != std::string::npos
                                   ? message.substr(11, colon - 11)
                                   : "";
      if (!name.empty()) message = message.substr(colon + 3);
      throw InputError("scenarios: factor '" + name + "'.binding.target: " + message);
    }
  }
}

double ScenarioBinding::FactorNumber(const Scenario& s, int factor) const {
  const Factor& f = space_.factor(factor);
  if (f.kind == FactorKind::kCategorical) return f.levels[static_cast<int>(s.values[factor])].value;
  return s.values[factor];
}

int ScenarioBinding::ChosenQposAdr(const Pose& p, const Scenario& s) const {
  if (p.variant < 0) return p.qpos_adr;
  const Variant& v = variants_[p.variant];
  return v.levels[static_cast<int>(s.values[v.factor])].qpos_adr;
}

void ScenarioBinding::Apply(const Scenario& s, Workspace& ws, State* initial) const {
  NB_CHECK(static_cast<int>(s.values.size()) == space_.dimension());
  NB_CHECK(initial != nullptr);
  const mjModel* cm = ws.model();
  NB_CHECK(initial->qpos.size() == cm->nq && initial->qvel.size() == cm->nv);
  for (int i = 0; i < space_.dimension(); ++i) {
    if (space_.factor(i).kind == FactorKind::kCategorical) {
      NB_CHECK(s.values[i] >= 0 && s.values[i] < space_.factor(i).Cardinality());
    }
  }
  if (parameters_.size() > 0) {
    Eigen::VectorXd values(parameters_.size());
    for (int k = 0; k < parameters_.size(); ++k) values[k] = FactorNumber(s, parameter_factors_[k]);
    ws.Apply(parameters_, values);
  }
  for (const Variant& v : variants_) {
    mjModel* m = ws.mutable_model();
    const int chosen = static_cast<int>(s.values[v.factor]);
    for (std::size_t l = 0; l < v.levels.size(); ++l) {
      const VariantBody& vb = v.levels[l];
      const bool present = static_cast<int>(l) == chosen;
      for (std::size_t k = 0; k < vb.geoms.size(); ++k) {
        const int g = vb.geoms[k];
        m->geom_contype[g] = present ? vb.contype[k] : 0;
        m->geom_conaffinity[g] = present ? vb.conaffinity[k] : 0;
        m->geom_rgba[4 * g + 3] = present ? vb.alpha[k] : 0.0f;
      }
      // Parked bodies sit apart from each other, far under everything.
      const double park[3] = {0.0, 0.0, kParkDepth - 2.0 * l};
      if (vb.qpos_adr >= 0) {
        const int a = vb.qpos_adr;
        for (int k = 0; k < 7; ++k) initial->qpos[a + k] = qpos0_[a + k];
        if (!present) {
          for (int k = 0; k < 3; ++k) initial->qpos[a + k] = park[k];
        }
        const int dof = m->jnt_dofadr[m->body_jntadr[vb.body]];
        for (int k = 0; k < 6; ++k) initial->qvel[dof + k] = 0.0;
      } else {
        for (int k = 0; k < 3; ++k)
          m->body_pos[3 * vb.body + k] = present ? vb.base_pos[k] : park[k];
      }
    }
  }
  for (const JointPosition& j : joints_) initial->qpos[j.qpos_adr] = FactorNumber(s, j.factor);
  for (const Pose& p : poses_) {
    const int a = ChosenQposAdr(p, s);
    const double value = FactorNumber(s, p.factor);
    if (p.component < 3) {
      initial->qpos[a + p.component] = value;
      continue;
    }
    // Yaw about world z, composed with the reference orientation: q = q_z(yaw) * q0.
    const double yaw_quat[4] = {std::cos(0.5 * value), 0.0, 0.0, std::sin(0.5 * value)};
    double q[4];
    mju_mulQuat(q, yaw_quat, qpos0_.data() + a + 3);
    mju_normalize4(q);
    for (int k = 0; k < 4; ++k) initial->qpos[a + 3 + k] = q[k];
  }
}

EpisodeConditions ScenarioBinding::RecordedConditions(const std::vector<Episode>& episodes) const {
  EpisodeConditions out;
  if (parameters_.size() == 0) return out;
  out.binding = parameters_;
  for (const Episode& e : episodes) {
    space_.CheckRecorded(e.scenario, "episode " + e.id + " (" + e.source + "): scenario");
    Eigen::VectorXd values =
        Eigen::VectorXd::Constant(parameters_.size(), std::numeric_limits<double>::quiet_NaN());
    bool any = false;
    for (int k = 0; k < parameters_.size(); ++k) {
      const Factor& f = space_.factor(parameter_factors_[k]);
      if (!e.scenario.is_object() || !e.scenario.contains(f.name)) continue;
      const nlohmann::json& v = e.scenario.at(f.name);
      values[k] = f.numeric() ? v.get<double>() : f.levels[f.FindLevel(v.get<std::string>())].value;
      any = true;
    }
    if (any) out.values[e.id] = values;
  }
  return out;
}

int ScenarioBinding::ObjectBody(const std::string& object, const Scenario& s) const {
  for (const Variant& v : variants_) {
    if (v.object == object) return v.levels[static_cast<int>(s.values[v.factor])].body;
  }
  return -1;
}

void ApplyScenario(const mjModel* base, const ScenarioSpace& space, const Scenario& s,
                   Workspace& ws, State* initial) {
  ScenarioBinding(base, space).Apply(s, ws, initial);
}

}  // namespace nextbatch
