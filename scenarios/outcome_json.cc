// Compiling the outcome language (JSON) into Outcome's flat arrays; see docs/scenarios.md.
#include <cmath>
#include <set>

#include "engine/error.h"
#include "engine/model.h"
#include "scenarios/outcome.h"

namespace nextbatch {
namespace {
// "a, b, c" of the named elements of a type, shortened for long lists.
std::string NameList(const mjModel* m, mjtObj type, int count) {
  std::string list;
  int shown = 0;
  for (int i = 0; i < count; ++i) {
    std::string n = ElementName(m, type, i);
    if (n.empty()) continue;
    if (shown == 25) return list + ", ...";
    list += (list.empty() ? "" : ", ") + n;
    ++shown;
  }
  return list.empty() ? "none" : list;
}

int FindId(const mjModel* m, mjtObj type, int count, const std::string& kind,
           const nlohmann::json& name, const std::string& where) {
  if (!name.is_string()) ThrowExpected(where, "the name of a " + kind, Describe(name));
  const std::string n = name.get<std::string>();
  int id = mj_name2id(m, type, n.c_str());
  if (id < 0) {
    ThrowExpected(where, "a " + kind + " of the model (" + NameList(m, type, count) + ")",
                  "\"" + n + "\"");
  }
  return id;
}

// Keys of an object other than the allowed ones are an error.
void CheckKeys(const nlohmann::json& j, const std::string& where, const std::set<std::string>& ok) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!ok.count(it.key())) {
      std::string list;
      for (const auto& k : ok) list += (list.empty() ? "" : ", ") + k;
      ThrowExpected(where + "." + it.key(), "a known key (" + list + ")", "an unknown key");
    }
  }
}

int ReadAxis(const nlohmann::json& j, const std::string& where) {
  if (!j.contains("axis")) return 3;
  const auto& a = j.at("axis");
  if (a == "x") return 0;
  if (a == "y") return 1;
  if (a == "z") return 2;
  if (a == "norm") return 3;
  ThrowExpected(where + ".axis", "one of x, y, z, norm", Describe(a));
}

bool ReadFlag(const nlohmann::json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key)) return false;
  if (!j.at(key).is_boolean()) ThrowExpected(where + "." + key, "true or false", Describe(j[key]));
  return j.at(key).get<bool>();
}

std::string ReadField(const nlohmann::json& j, const std::string& where,
                      const std::vector<std::string>& fields) {
  std::string list;
  for (const auto& f : fields) list += (list.empty() ? "" : ", ") + f;
  if (!j.contains("field")) return fields[0];
  const auto& f = j.at("field");
  for (const auto& c : fields) {
    if (f == c) return c;
  }
  ThrowExpected(where + ".field", "one of " + list, Describe(f));
}

When ReadWhen(const nlohmann::json& j, const std::string& where) {
  When w;
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "end") return w;
    if (s == "always") {
      w.kind = When::Kind::kAlways;
      return w;
    }
    if (s == "ever") {
      w.kind = When::Kind::kEver;
      return w;
    }
  } else if (j.is_object() && j.size() == 1) {
    const std::string key = j.begin().key();
    const auto& v = j.begin().value();
    if ((key == "last" || key == "after" || key == "within") && v.is_number() &&
        std::isfinite(v.get<double>()) && v.get<double>() >= 0) {
      w.kind = key == "last" ? When::Kind::kLast
                             : (key == "after" ? When::Kind::kAfter : When::Kind::kWithin);
      w.seconds = v.get<double>();
      return w;
    }
  }
  ThrowExpected(where,
                "\"end\", \"always\", \"ever\", {\"last\": s}, {\"after\": s} or {\"within\": s}"
                " with s >= 0",
                Describe(j));
}

}  // namespace

void Outcome::CompileBody(const nlohmann::json& j, const std::string& where, const mjModel* m,
                          int* id, int* choice) {
  if (!j.is_array()) {
    *id = FindId(m, mjOBJ_BODY, m->nbody, "body", j, where);
    return;
  }
  if (j.empty()) ThrowExpected(where, "a body name or a non-empty list of them", "[]");
  std::vector<int> ids;
  for (std::size_t i = 0; i < j.size(); ++i) {
    ids.push_back(
        FindId(m, mjOBJ_BODY, m->nbody, "body", j[i], where + "[" + std::to_string(i) + "]"));
  }
  *id = ids[0];
  choices_.push_back(ids);
  *choice = static_cast<int>(choices_.size()) - 1;
}

int Outcome::CompileQuantity(const nlohmann::json& j, const std::string& where, const mjModel* m) {
  Quantity q;
  if (j == "time") {
    q.kind = Quantity::Kind::kTime;
    quantities_.push_back(q);
    return static_cast<int>(quantities_.size()) - 1;
  }
  if (!j.is_object()) {
    ThrowExpected(where, "\"time\" or an object naming a body, site, joint, actuator or distance",
                  Describe(j));
  }
  if (j.contains("minus")) {
    // The subtracted quantity is a plain one: its own flags would be ambiguous.
    const nlohmann::json& b = j["minus"];
    if (!b.is_object() || b.contains("minus") || b.contains("abs") || b.contains("wrap") ||
        b.contains("relative")) {
      ThrowExpected(where + ".minus", "a quantity without minus, abs, wrap or relative",
                    Describe(b));
    }
    const int minus = CompileQuantity(b, where + ".minus", m);
    nlohmann::json rest = j;
    rest.erase("minus");
    const int qi = CompileQuantity(rest, where, m);
    quantities_[qi].minus = minus;
    return qi;
  }
  q.abs = ReadFlag(j, "abs", where);
  q.relative = ReadFlag(j, "relative", where);
  auto point = [&](const nlohmann::json& p, const std::string& pw, int* type, int* choice) {
    if (!p.is_object() || p.size() != 1 || !(p.contains("body") || p.contains("site"))) {
      ThrowExpected(pw, "{\"body\": name} or {\"site\": name}", Describe(p));
    }
    if (p.contains("body")) {
      *type = 0;
      int id = -1;
      CompileBody(p["body"], pw + ".body", m, &id, choice);
      return id;
    }
    *type = 1;
    return FindId(m, mjOBJ_SITE, m->nsite, "site", p["site"], pw + ".site");
  };
  if (j.contains("body")) {
    CheckKeys(j, where, {"body", "field", "axis", "abs", "relative"});
    CompileBody(j["body"], where + ".body", m, &q.id, &q.choice);
    const std::string f = ReadField(j, where, {"pos", "com", "vel"});
    q.kind = f == "pos" ? Quantity::Kind::kBodyPos
                        : (f == "com" ? Quantity::Kind::kBodyCom : Quantity::Kind::kBodyVel);
    q.axis = ReadAxis(j, where);
  } else if (j.contains("site")) {
    CheckKeys(j, where, {"site", "field", "axis", "abs", "relative"});
    q.id = FindId(m, mjOBJ_SITE, m->nsite, "site", j["site"], where + ".site");
    ReadField(j, where, {"pos"});
    q.kind = Quantity::Kind::kSitePos;
    q.axis = ReadAxis(j, where);
  } else if (j.contains("joint")) {
    CheckKeys(j, where, {"joint", "field", "index", "wrap", "abs", "relative"});
    const int jnt = FindId(m, mjOBJ_JOINT, m->njnt, "joint", j["joint"], where + ".joint");
    const std::string f = ReadField(j, where, {"pos", "vel"});
    const int type = m->jnt_type[jnt];
    const int width_pos = type == mjJNT_FREE ? 7 : (type == mjJNT_BALL ? 4 : 1);
    const int width_vel = type == mjJNT_FREE ? 6 : (type == mjJNT_BALL ? 3 : 1);
    int index = 0;
    if (j.contains("index")) {
      const auto& v = j["index"];
      const int width = f == "pos" ? width_pos : width_vel;
      if (!v.is_number_integer() || v.get<int>() < 0 || v.get<int>() >= width) {
        ThrowExpected(where + ".index", "an integer in [0, " + std::to_string(width) + ")",
                      Describe(v));
      }
      index = v.get<int>();
    }
    q.kind = f == "pos" ? Quantity::Kind::kJointPos : Quantity::Kind::kJointVel;
    q.id = (f == "pos" ? m->jnt_qposadr[jnt] : m->jnt_dofadr[jnt]) + index;
    q.wrap = ReadFlag(j, "wrap", where);
  } else if (j.contains("actuator")) {
    CheckKeys(j, where, {"actuator", "field", "abs", "relative"});
    q.id = FindId(m, mjOBJ_ACTUATOR, m->nu, "actuator", j["actuator"], where + ".actuator");
    q.kind = ReadField(j, where, {"force", "ctrl"}) == "force" ? Quantity::Kind::kActuatorForce
                                                               : Quantity::Kind::kActuatorCtrl;
  } else if (j.contains("distance")) {
    CheckKeys(j, where, {"distance", "axis", "abs", "relative"});
    const auto& p = j["distance"];
    if (!p.is_array() || p.size() != 2) {
      ThrowExpected(where + ".distance", "two points [a, b]", Describe(p));
    }
    q.kind = Quantity::Kind::kDistance;
    q.id = point(p[0], where + ".distance[0]", &q.point_type, &q.choice);
    q.id2 = point(p[1], where + ".distance[1]", &q.point_type2, &q.choice2);
    q.axis = ReadAxis(j, where);
  } else {
    ThrowExpected(where, "\"time\" or an object with body, site, joint, actuator or distance",
                  Describe(j));
  }
  quantities_.push_back(q);
  return static_cast<int>(quantities_.size()) - 1;
}

int Outcome::CompileNode(const nlohmann::json& j, const std::string& where, const mjModel* m,
                         bool inside_timed) {
  if (!j.is_object()) ThrowExpected(where, "a predicate object", Describe(j));
  Node n;
  if (j.contains("when")) {
    if (inside_timed) {
      ThrowExpected(where + ".when", "no `when` inside a predicate that has one", "a second one");
    }
    n.when = ReadWhen(j["when"], where + ".when");
    n.timed = true;
  }
  const bool timed_below = inside_timed || n.timed;
  std::vector<int> kids;
  if (j.contains("all") || j.contains("any")) {
    const std::string key = j.contains("all") ? "all" : "any";
    CheckKeys(j, where, {key, "when"});
    n.type = key == "all" ? Node::Type::kAll : Node::Type::kAny;
    const auto& list = j[key];
    if (!list.is_array() || list.empty()) {
      ThrowExpected(where + "." + key, "a non-empty array of predicates", Describe(list));
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      kids.push_back(
          CompileNode(list[i], where + "." + key + "[" + std::to_string(i) + "]", m, timed_below));
    }
  } else if (j.contains("not")) {
    CheckKeys(j, where, {"not", "when"});
    n.type = Node::Type::kNot;
    kids.push_back(CompileNode(j["not"], where + ".not", m, timed_below));
  } else if (j.contains("contact")) {
    CheckKeys(j, where, {"contact", "when"});
    const auto& c = j["contact"];
    if (!c.is_array() || c.size() != 2) {
      ThrowExpected(where + ".contact", "two geom sets [a, b]", Describe(c));
    }
    Quantity q;
    q.kind = Quantity::Kind::kContact;
    for (int s = 0; s < 2; ++s) {
      const std::string w = where + ".contact[" + std::to_string(s) + "]";
      std::vector<char> set(m->ngeom, 0);
      if (c[s].is_string()) {
        set[FindId(m, mjOBJ_GEOM, m->ngeom, "geom", c[s], w)] = 1;
      } else if (c[s].is_object() && c[s].size() == 1 && c[s].contains("body")) {
        // a body names every geom of its subtree (a gripper with its fingers)
        const int b = FindId(m, mjOBJ_BODY, m->nbody, "body", c[s]["body"], w + ".body");
        for (int g = 0; g < m->ngeom; ++g) {
          for (int a = m->geom_bodyid[g]; a > 0; a = m->body_parentid[a]) {
            if (a == b) set[g] = 1;
          }
          if (b == 0) set[g] = 1;
        }
      } else {
        ThrowExpected(w, "a geom name or {\"body\": name}", Describe(c[s]));
      }
      geom_sets_.push_back(std::move(set));
      (s == 0 ? q.id : q.id2) = static_cast<int>(geom_sets_.size()) - 1;
    }
    quantities_.push_back(q);
    n.quantity = static_cast<int>(quantities_.size()) - 1;
    n.op = Op::kGreater;
    n.value = 0.5;
  } else if (j.contains("quantity")) {
    CheckKeys(j, where, {"quantity", "op", "value", "when"});
    n.quantity = CompileQuantity(j["quantity"], where + ".quantity", m);
    if (!j.contains("op") || !j["op"].is_string()) {
      ThrowExpected(where + ".op",
                    "one of <, <=, >, >=, ==, !=", j.contains("op") ? Describe(j["op"]) : "none");
    }
    const std::string op = j["op"].get<std::string>();
    const char* ops[] = {"<", "<=", ">", ">=", "==", "!="};
    bool found = false;
    for (int k = 0; k < 6; ++k) {
      if (op == ops[k]) {
        n.op = static_cast<Op>(k);
        found = true;
      }
    }
    if (!found) ThrowExpected(where + ".op", "one of <, <=, >, >=, ==, !=", Describe(j["op"]));
    if (!j.contains("value") || !j["value"].is_number() ||
        !std::isfinite(j["value"].get<double>())) {
      ThrowExpected(where + ".value", "a finite number",
                    j.contains("value") ? Describe(j["value"]) : "none");
    }
    n.value = j["value"].get<double>();
  } else {
    ThrowExpected(where, "a predicate: {quantity, op, value}, {contact}, {all}, {any} or {not}",
                  Describe(j));
  }
  if (n.type == Node::Type::kLeaf && !timed_below) {
    n.timed = true;  // a bare condition is judged at the end of the episode
    n.when = When{};
  }
  n.first_child = static_cast<int>(children_.size());
  n.num_children = static_cast<int>(kids.size());
  children_.insert(children_.end(), kids.begin(), kids.end());
  nodes_.push_back(n);
  return static_cast<int>(nodes_.size()) - 1;
}

Outcome Outcome::Compile(const JsonReader& r, const mjModel* m, double horizon) {
  Outcome o;
  o.file_ = r.file();
  o.horizon_ = horizon;
  const std::string base = r.Where();
  if (r.Has("success")) o.success_ = o.CompileNode(r.Raw("success"), base + ".success", m, false);
  if (r.Has("safety")) o.safety_ = o.CompileNode(r.Raw("safety"), base + ".safety", m, false);
  if (r.Has("metrics")) {
    const auto& ms = r.Raw("metrics");
    if (!ms.is_object()) ThrowExpected(base + ".metrics", "an object {name: metric}", Describe(ms));
    for (auto it = ms.begin(); it != ms.end(); ++it) {
      const std::string w = base + ".metrics." + it.key();
      const auto& j = it.value();
      Metric mt;
      mt.name = it.key();
      if (!j.is_object())
        ThrowExpected(w, "an object {quantity, reduce} or {time_to}", Describe(j));
      if (j.contains("time_to")) {
        CheckKeys(j, w, {"time_to"});
        mt.reduce = Metric::Reduce::kTimeTo;
        // judged instantaneously at every sample
        mt.node = o.CompileNode(j["time_to"], w + ".time_to", m, true);
      } else {
        CheckKeys(j, w, {"quantity", "reduce"});
        if (!j.contains("quantity")) ThrowExpected(w + ".quantity", "a quantity", "none");
        mt.quantity = o.CompileQuantity(j["quantity"], w + ".quantity", m);
        const std::string red = j.value("reduce", std::string("end"));
        const char* names[] = {"end", "min", "max", "mean"};
        bool found = false;
        for (int k = 0; k < 4; ++k) {
          if (red == names[k]) {
            mt.reduce = static_cast<Metric::Reduce>(k);
            found = true;
          }
        }
        if (!found || (j.contains("reduce") && !j["reduce"].is_string())) {
          ThrowExpected(w + ".reduce", "one of end, min, max, mean", Describe(j["reduce"]));
        }
      }
      o.metrics_.push_back(mt);
    }
  }
  r.CheckAllRead();
  return o;
}

}  // namespace nextbatch
