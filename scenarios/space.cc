#include "scenarios/space.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "engine/error.h"
#include "engine/json_reader.h"

namespace nextbatch {
namespace {

std::string LevelList(const Factor& f) {
  std::string out;
  for (const auto& l : f.levels) out += (out.empty() ? "" : ", ") + l.name;
  return out;
}

// Position within [0, 1] of a value of a continuous factor.
double ContinuousToUnit(const Factor& f, double x) {
  if (f.log_scale)
    return (std::log(x) - std::log(f.lower)) / (std::log(f.upper) - std::log(f.lower));
  return (x - f.lower) / (f.upper - f.lower);
}

bool IsPoseComponent(const std::string& c) {
  return c == "x" || c == "y" || c == "z" || c == "yaw";
}

std::string ValidateBinding(const Factor& f, const std::string& where) {
  const FactorBinding& b = f.binding;
  using K = FactorBinding::Kind;
  const std::string w = where + ".binding";
  if (b.kind == K::kNone) {
    if (!b.targets.empty())
      return Expected(w + ".targets", "none for a binding of kind none", "some");
    return "";
  }
  if (b.targets.empty()) return Expected(w + ".target", "a target", "none");
  for (const auto& t : b.targets) {
    if (t.empty()) return Expected(w + ".target", "a non-empty target", "''");
  }
  if (b.kind != K::kParameter && b.targets.size() != 1) {
    return Expected(w + ".target", "exactly one target", std::to_string(b.targets.size()));
  }
  if (b.kind == K::kVariant && f.kind != FactorKind::kCategorical) {
    return Expected(w + ".kind", "a categorical factor for a variant binding",
                    std::string("a ") + FactorKindName(f.kind) + " factor");
  }
  if (b.kind != K::kVariant && f.kind == FactorKind::kCategorical) {
    for (const auto& l : f.levels) {
      if (!l.has_value) {
        return Expected(where + ".levels",
                        "a number ('value') for every level of a categorical "
                        "factor bound to a " +
                            std::string(BindingKindName(b.kind)),
                        "none for level '" + l.name + "'");
      }
    }
  }
  if (b.kind == K::kPose) {
    const std::string& t = b.targets[0];
    auto dot = t.rfind('.');
    if (dot == std::string::npos || dot == 0 || !IsPoseComponent(t.substr(dot + 1))) {
      return Expected(w + ".target", "body.x, body.y, body.z or body.yaw", "'" + t + "'");
    }
  }
  return "";
}

}  // namespace

const char* FactorKindName(FactorKind k) {
  switch (k) {
    case FactorKind::kContinuous:
      return "continuous";
    case FactorKind::kInteger:
      return "integer";
    case FactorKind::kCategorical:
      return "categorical";
  }
  return "?";
}

const char* BindingKindName(FactorBinding::Kind k) {
  switch (k) {
    case FactorBinding::Kind::kNone:
      return "none";
    case FactorBinding::Kind::kParameter:
      return "parameter";
    case FactorBinding::Kind::kQpos:
      return "qpos";
    case FactorBinding::Kind::kPose:
      return "pose";
    case FactorBinding::Kind::kVariant:
      return "variant";
  }
  return "?";
}

int Factor::Cardinality() const {
  switch (kind) {
    case FactorKind::kContinuous:
      return 0;
    case FactorKind::kInteger:
      return static_cast<int>(upper - lower) + 1;
    case FactorKind::kCategorical:
      return static_cast<int>(levels.size());
  }
  return 0;
}

int Factor::FindLevel(const std::string& n) const {
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (levels[i].name == n) return static_cast<int>(i);
  }
  return -1;
}

double LinearConstraint::Evaluate(const std::vector<double>& values) const {
  double sum = 0.0;
  for (std::size_t k = 0; k < factors.size(); ++k) sum += coefficients[k] * values[factors[k]];
  return sum;
}

int ScenarioSpace::Find(const std::string& name) const {
  for (int i = 0; i < dimension(); ++i) {
    if (factors_[i].name == name) return i;
  }
  return -1;
}

std::string ScenarioSpace::Validate() const {
  if (factors_.empty()) return Expected("scenarios.factors", "at least one factor", "none");
  std::set<std::string> names;
  for (const Factor& f : factors_) {
    const std::string where = "factor '" + f.name + "'";
    if (f.name.empty()) return Expected("factor", "a non-empty name", "''");
    if (!names.insert(f.name).second) return Expected(where, "a unique name", "a second factor");
    if (!std::isfinite(f.cost_seconds) || f.cost_seconds < 0) {
      return Expected(where + ".cost_seconds", "a number >= 0", FormatNumber(f.cost_seconds));
    }
    switch (f.kind) {
      case FactorKind::kContinuous:
        if (!std::isfinite(f.upper - f.lower) || !(f.lower < f.upper)) {
          return Expected(where + ".range", "[lower, upper] with lower < upper, a finite width",
                          "[" + FormatNumber(f.lower) + ", " + FormatNumber(f.upper) + "]");
        }
        if (f.log_scale && !(f.lower > 0)) {
          return Expected(where + ".log_scale", "a range with lower > 0",
                          "lower " + FormatNumber(f.lower));
        }
        break;
      case FactorKind::kInteger:
        if (f.lower != std::floor(f.lower) || f.upper != std::floor(f.upper) ||
            std::abs(f.lower) > 1e9 || std::abs(f.upper) > 1e9 || f.lower > f.upper) {
          return Expected(where + ".range", "[lower, upper], integers with lower <= upper",
                          "[" + FormatNumber(f.lower) + ", " + FormatNumber(f.upper) + "]");
        }
        if (f.log_scale)
          return Expected(where + ".log_scale", "false for an integer factor", "true");
        break;
      case FactorKind::kCategorical: {
        if (f.levels.empty()) return Expected(where + ".levels", "at least one level", "none");
        std::set<std::string> level_names;
        for (const Level& l : f.levels) {
          if (l.name.empty()) return Expected(where + ".levels", "non-empty level names", "''");
          if (!level_names.insert(l.name).second) {
            return Expected(where + ".levels", "unique level names", "'" + l.name + "' twice");
          }
          if (l.has_value && !std::isfinite(l.value)) {
            return Expected(where + ".levels." + l.name + ".value", "a finite number",
                            "non-finite");
          }
        }
        if (f.log_scale) {
          return Expected(where + ".log_scale", "false for a categorical factor", "true");
        }
        break;
      }
    }
    std::string error = ValidateBinding(f, where);
    if (!error.empty()) return error;
  }
  for (std::size_t c = 0; c < constraints_.size(); ++c) {
    const LinearConstraint& lc = constraints_[c];
    const std::string where =
        "constraint '" + (lc.name.empty() ? std::to_string(c) : lc.name) + "'";
    if (lc.factors.empty() || lc.factors.size() != lc.coefficients.size()) {
      return Expected(where + ".terms", "at least one factor with a coefficient", "none");
    }
    if (!std::isfinite(lc.upper)) return Expected(where, "a finite bound", FormatNumber(lc.upper));
    // The smallest left-hand side over the box: if even that exceeds the bound, nothing passes.
    double lowest = 0.0;
    for (std::size_t k = 0; k < lc.factors.size(); ++k) {
      int i = lc.factors[k];
      if (i < 0 || i >= dimension()) {
        return Expected(where + ".terms", "factors of the space",
                        "factor index " + std::to_string(i));
      }
      const Factor& f = factors_[i];
      if (!f.numeric()) {
        return Expected(where + ".terms." + f.name, "a continuous or integer factor",
                        "a categorical factor");
      }
      double a = lc.coefficients[k];
      if (!std::isfinite(a))
        return Expected(where + ".terms." + f.name, "a finite coefficient", FormatNumber(a));
      lowest += std::min(a * f.lower, a * f.upper);
    }
    if (lowest > lc.upper + 1e-12 * (std::abs(lc.upper) + std::abs(lowest))) {
      return Expected(
          where, "a constraint that some point of the ranges meets",
          "a smallest left-hand side of " + FormatNumber(lowest) + " > " + FormatNumber(lc.upper));
    }
  }
  return "";
}

Scenario ScenarioSpace::FromUnit(const double* u) const {
  Scenario s;
  s.values.resize(factors_.size());
  for (int i = 0; i < dimension(); ++i) {
    const Factor& f = factors_[i];
    const double x = std::min(std::max(u[i], 0.0), 1.0);
    double v = 0.0;
    switch (f.kind) {
      case FactorKind::kContinuous:
        if (f.log_scale) {
          const double ll = std::log(f.lower), lu = std::log(f.upper);
          // The ends exactly: exp(log(a)) need not be a.
          v = x == 0.0 ? f.lower : x == 1.0 ? f.upper : std::exp(ll + x * (lu - ll));
        } else {
          v = f.lower + x * (f.upper - f.lower);
        }
        v = std::min(std::max(v, f.lower), f.upper);
        break;
      case FactorKind::kInteger: {
        const int n = f.Cardinality();
        v = f.lower + std::min(std::floor(x * n), static_cast<double>(n - 1));
        break;
      }
      case FactorKind::kCategorical: {
        const int n = f.Cardinality();
        v = std::min(std::floor(x * n), static_cast<double>(n - 1));
        break;
      }
    }
    s.values[i] = v;
  }
  return s;
}

std::vector<double> ScenarioSpace::ToUnit(const Scenario& s) const {
  NB_CHECK(static_cast<int>(s.values.size()) == dimension());
  std::vector<double> u(factors_.size());
  for (int i = 0; i < dimension(); ++i) {
    const Factor& f = factors_[i];
    switch (f.kind) {
      case FactorKind::kContinuous:
        u[i] = ContinuousToUnit(f, s.values[i]);
        break;
      case FactorKind::kInteger:
        u[i] = (s.values[i] - f.lower + 0.5) / f.Cardinality();
        break;
      case FactorKind::kCategorical:
        u[i] = (s.values[i] + 0.5) / f.Cardinality();
        break;
    }
    u[i] = std::min(std::max(u[i], 0.0), 1.0);
  }
  return u;
}

int ScenarioSpace::FirstViolated(const Scenario& s) const {
  for (std::size_t c = 0; c < constraints_.size(); ++c) {
    const LinearConstraint& lc = constraints_[c];
    double scale = std::abs(lc.upper);
    for (std::size_t k = 0; k < lc.factors.size(); ++k) {
      scale += std::abs(lc.coefficients[k] * s.values[lc.factors[k]]);
    }
    if (lc.Evaluate(s.values) > lc.upper + 1e-12 * scale) return static_cast<int>(c);
  }
  return -1;
}

bool ScenarioSpace::Feasible(const Scenario& s) const { return FirstViolated(s) < 0; }

std::string ScenarioSpace::Check(const Scenario& s) const {
  if (static_cast<int>(s.values.size()) != dimension()) {
    return Expected("scenario", std::to_string(dimension()) + " values",
                    std::to_string(s.values.size()));
  }
  for (int i = 0; i < dimension(); ++i) {
    const Factor& f = factors_[i];
    const double v = s.values[i];
    const std::string where = "scenario." + f.name;
    if (!std::isfinite(v)) return Expected(where, "a finite value", FormatNumber(v));
    if (f.kind == FactorKind::kCategorical) {
      if (v != std::floor(v) || v < 0 || v >= f.Cardinality()) {
        return Expected(where, "a level index in [0, " + std::to_string(f.Cardinality() - 1) + "]",
                        FormatNumber(v));
      }
      continue;
    }
    if (f.kind == FactorKind::kInteger && v != std::floor(v)) {
      return Expected(where, "an integer", FormatNumber(v));
    }
    if (v < f.lower || v > f.upper) {
      return Expected(where,
                      "a value in [" + FormatNumber(f.lower) + ", " + FormatNumber(f.upper) + "]",
                      FormatNumber(v));
    }
  }
  return "";
}

nlohmann::json ScenarioSpace::ToJson(const Scenario& s) const {
  NB_CHECK(static_cast<int>(s.values.size()) == dimension());
  nlohmann::json j = nlohmann::json::object();
  for (int i = 0; i < dimension(); ++i) {
    const Factor& f = factors_[i];
    switch (f.kind) {
      case FactorKind::kContinuous:
        j[f.name] = s.values[i];
        break;
      case FactorKind::kInteger:
        j[f.name] = static_cast<long long>(s.values[i]);
        break;
      case FactorKind::kCategorical:
        j[f.name] = f.levels[static_cast<int>(s.values[i])].name;
        break;
    }
  }
  return j;
}

namespace {

// A factor's value from JSON (categorical: the level's index); throws naming `w`.
double FactorValueFromJson(const Factor& f, const nlohmann::json& v, const std::string& w) {
  if (f.kind == FactorKind::kCategorical) {
    if (!v.is_string()) ThrowExpected(w, "a level name (" + LevelList(f) + ")", Describe(v));
    const int level = f.FindLevel(v.get<std::string>());
    if (level < 0) ThrowExpected(w, "one of " + LevelList(f), Describe(v));
    return level;
  }
  if (!v.is_number() || !std::isfinite(v.get<double>())) {
    ThrowExpected(w, f.kind == FactorKind::kInteger ? "an integer" : "a number", Describe(v));
  }
  const double x = v.get<double>();
  if (f.kind == FactorKind::kInteger && x != std::floor(x))
    ThrowExpected(w, "an integer", FormatNumber(x));
  if (x < f.lower || x > f.upper) {
    ThrowExpected(w, "a value in [" + FormatNumber(f.lower) + ", " + FormatNumber(f.upper) + "]",
                  FormatNumber(x));
  }
  return x;
}

}  // namespace

Scenario ScenarioSpace::FromJson(const nlohmann::json& j, const std::string& where) const {
  if (!j.is_object()) ThrowExpected(where, "an object {factor: value}", Describe(j));
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (Find(it.key()) < 0) {
      std::string list;
      for (const auto& f : factors_) list += (list.empty() ? "" : ", ") + f.name;
      ThrowExpected(where + "." + it.key(), "a factor of the space (" + list + ")",
                    "an unknown key");
    }
  }
  Scenario s;
  s.values.resize(factors_.size());
  for (int i = 0; i < dimension(); ++i) {
    const Factor& f = factors_[i];
    const std::string w = where + "." + f.name;
    auto it = j.find(f.name);
    if (it == j.end()) ThrowExpected(w, "a value (every factor is required)", "none");
    s.values[i] = FactorValueFromJson(f, *it, w);
  }
  return s;
}

void ScenarioSpace::CheckRecorded(const nlohmann::json& j, const std::string& where) const {
  if (!j.is_object()) ThrowExpected(where, "an object {factor: value}", Describe(j));
  for (const Factor& f : factors_) {
    auto it = j.find(f.name);
    if (it != j.end()) FactorValueFromJson(f, *it, where + "." + f.name);
  }
}

double ScenarioSpace::SetupCost(const Scenario& a, const Scenario& b) const {
  double cost = 0.0;
  for (int i = 0; i < dimension(); ++i) {
    if (factors_[i].tag == FactorTag::kSetup && a.values[i] != b.values[i]) {
      cost += factors_[i].cost_seconds;
    }
  }
  return cost;
}

}  // namespace nextbatch
