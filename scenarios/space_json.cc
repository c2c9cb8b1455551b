#include "scenarios/space_json.h"

#include <cmath>
#include <set>
#include <sstream>

#include "engine/error.h"

namespace nextbatch {
namespace {

FactorBinding ReadBinding(const JsonReader& r) {
  FactorBinding b;
  const std::string kind =
      r.Choice("kind", {"none", "parameter", "qpos", "pose", "variant"}, "none");
  using K = FactorBinding::Kind;
  b.kind = kind == "parameter" ? K::kParameter
           : kind == "qpos"    ? K::kQpos
           : kind == "pose"    ? K::kPose
           : kind == "variant" ? K::kVariant
                               : K::kNone;
  if (r.Has("target") && r.Has("targets")) {
    ThrowExpected(r.Where("targets"), "either target or targets", "both");
  }
  if (r.Has("target")) b.targets = r.Strings("target");
  if (r.Has("targets")) b.targets = r.Strings("targets");
  if (b.kind != K::kNone && b.targets.empty()) {
    ThrowExpected(r.Where("target"), "a target for a binding of kind " + kind, "none");
  }
  if (b.kind == K::kNone && !b.targets.empty()) {
    ThrowExpected(r.Where("target"), "no target for a binding of kind none (or name a kind)",
                  "'" + b.targets[0] + "'");
  }
  if (b.kind != K::kParameter && b.targets.size() > 1) {
    ThrowExpected(r.Where("targets"), "one target for a binding of kind " + kind,
                  std::to_string(b.targets.size()));
  }
  if (r.Has("mode")) {
    if (b.kind != K::kParameter) {
      ThrowExpected(r.Where("mode"), "no mode for a binding of kind " + kind, "a mode");
    }
    b.mode =
        r.Choice("mode", {"set", "scale"}, "set") == "scale" ? BindMode::kScale : BindMode::kSet;
  }
  r.CheckAllRead();
  return b;
}

Level ReadLevel(const nlohmann::json& v, const std::string& file, const std::string& path) {
  Level l;
  if (v.is_string()) {
    l.name = v.get<std::string>();
  } else if (v.is_object()) {
    JsonReader r(v, file, path);
    l.name = r.String("name");
    l.body = r.String("body", "");
    if (r.Has("value")) {
      l.value = r.Number("value");
      l.has_value = true;
    }
    if (r.Has("payload")) {
      l.payload = r.Raw("payload");
      if (!l.payload.is_object())
        ThrowExpected(r.Where("payload"), "an object", Describe(l.payload));
    }
    r.CheckAllRead();
  } else {
    ThrowExpected(file + ": " + path, "a level name or {name, body, value, payload}", Describe(v));
  }
  if (l.name.empty()) ThrowExpected(file + ": " + path, "a non-empty level name", "\"\"");
  return l;
}

Factor ReadFactor(const JsonReader& r) {
  Factor f;
  f.name = r.String("name");
  if (f.name.empty()) ThrowExpected(r.Where("name"), "a non-empty name", "\"\"");
  const std::string type = r.Choice("type", {"continuous", "integer", "categorical"},
                                    r.Has("levels") ? "categorical" : "continuous");
  f.kind = type == "integer"       ? FactorKind::kInteger
           : type == "categorical" ? FactorKind::kCategorical
                                   : FactorKind::kContinuous;
  if (f.kind == FactorKind::kCategorical) {
    if (r.Has("range"))
      ThrowExpected(r.Where("range"), "levels, not a range, for a categorical factor", "a range");
    const nlohmann::json& levels = r.Raw("levels");
    if (!levels.is_array())
      ThrowExpected(r.Where("levels"), "an array of levels", Describe(levels));
    if (levels.empty()) ThrowExpected(r.Where("levels"), "at least one level", "an empty array");
    std::set<std::string> names;
    for (std::size_t i = 0; i < levels.size(); ++i) {
      const std::string path =
          r.Where("levels").substr(r.file().size() + 2) + "[" + std::to_string(i) + "]";
      Level l = ReadLevel(levels[i], r.file(), path);
      if (!names.insert(l.name).second) {
        ThrowExpected(r.file() + ": " + path, "a level name not used before", "\"" + l.name + "\"");
      }
      f.levels.push_back(std::move(l));
    }
  } else {
    if (r.Has("levels")) {
      ThrowExpected(r.Where("levels"), "a range, not levels, for a " + type + " factor", "levels");
    }
    std::vector<double> range = r.Numbers("range");
    if (range.size() != 2) {
      ThrowExpected(r.Where("range"), "[lower, upper]", std::to_string(range.size()) + " numbers");
    }
    f.lower = range[0];
    f.upper = range[1];
    if (f.kind == FactorKind::kContinuous && !(f.lower < f.upper)) {
      ThrowExpected(r.Where("range"), "[lower, upper] with lower < upper",
                    "[" + FormatNumber(f.lower) + ", " + FormatNumber(f.upper) + "]");
    }
    if (f.kind == FactorKind::kInteger) {
      if (f.lower != std::floor(f.lower) || f.upper != std::floor(f.upper)) {
        ThrowExpected(r.Where("range"), "integer bounds",
                      "[" + FormatNumber(f.lower) + ", " + FormatNumber(f.upper) + "]");
      }
      if (f.lower > f.upper) {
        ThrowExpected(r.Where("range"), "[lower, upper] with lower <= upper",
                      "[" + FormatNumber(f.lower) + ", " + FormatNumber(f.upper) + "]");
      }
    }
  }
  if (r.Has("log_scale")) {
    f.log_scale = r.Bool("log_scale", false);
    if (f.log_scale && f.kind != FactorKind::kContinuous) {
      ThrowExpected(r.Where("log_scale"), "log scale only on a continuous factor",
                    "true on a " + type + " factor");
    }
    if (f.log_scale && !(f.lower > 0)) {
      ThrowExpected(r.Where("log_scale"), "a range with lower > 0 for a log scale",
                    "lower " + FormatNumber(f.lower));
    }
  }
  if (r.Has("binding")) f.binding = ReadBinding(r.Object("binding"));
  f.tag = r.Choice("tag", {"setup", "reset"}, "reset") == "setup" ? FactorTag::kSetup
                                                                  : FactorTag::kReset;
  f.cost_seconds = r.Number("cost_seconds", 0.0);
  if (f.cost_seconds < 0)
    ThrowExpected(r.Where("cost_seconds"), "a number >= 0", FormatNumber(f.cost_seconds));
  r.CheckAllRead();
  return f;
}

LinearConstraint ReadConstraint(const JsonReader& r, const ScenarioSpace& space, int index,
                                std::vector<LinearConstraint>* extra) {
  LinearConstraint c;
  c.name = r.String("name", "constraint " + std::to_string(index));
  JsonReader terms = r.Object("terms");
  const nlohmann::json& raw = r.Raw("terms");
  if (raw.empty()) ThrowExpected(r.Where("terms"), "at least one {factor: coefficient}", "none");
  for (auto it = raw.begin(); it != raw.end(); ++it) {
    const int i = space.Find(it.key());
    if (i < 0) {
      std::string list;
      for (const auto& f : space.factors()) list += (list.empty() ? "" : ", ") + f.name;
      ThrowExpected(terms.Where(it.key()), "a factor of the space (" + list + ")",
                    "'" + it.key() + "'");
    }
    if (!space.factor(i).numeric()) {
      ThrowExpected(terms.Where(it.key()), "a continuous or integer factor",
                    "the categorical factor '" + it.key() + "'");
    }
    c.factors.push_back(i);
    c.coefficients.push_back(terms.Number(it.key()));
  }
  terms.CheckAllRead();
  if (!r.Has("max") && !r.Has("min"))
    ThrowExpected(r.Where("max"), "a bound: max, min or both", "none");
  if (r.Has("min")) {
    LinearConstraint lower = c;
    lower.upper = -r.Number("min");
    for (double& a : lower.coefficients) a = -a;
    if (r.Has("max")) {
      c.upper = r.Number("max");
      if (c.upper < -lower.upper) {
        ThrowExpected(r.Where("min"), "min <= max",
                      FormatNumber(-lower.upper) + " > " + FormatNumber(c.upper));
      }
      extra->push_back(lower);
    } else {
      c = lower;
    }
  } else {
    c.upper = r.Number("max");
  }
  r.CheckAllRead();
  return c;
}

}  // namespace

ScenarioSpace ReadScenarioSpace(const JsonReader& r) {
  ScenarioSpace space;
  std::vector<JsonReader> factors = r.Objects("factors");
  if (factors.empty()) ThrowExpected(r.Where("factors"), "at least one factor", "an empty array");
  for (const JsonReader& fr : factors) {
    Factor f = ReadFactor(fr);
    if (space.Find(f.name) >= 0) {
      ThrowExpected(fr.Where("name"), "a factor name not used before", "\"" + f.name + "\"");
    }
    space.AddFactor(std::move(f));
  }
  if (r.Has("constraints")) {
    std::vector<JsonReader> constraints = r.Objects("constraints");
    for (std::size_t i = 0; i < constraints.size(); ++i) {
      std::vector<LinearConstraint> extra;
      space.AddConstraint(ReadConstraint(constraints[i], space, static_cast<int>(i), &extra));
      for (auto& c : extra) space.AddConstraint(std::move(c));
    }
  }
  std::string error = space.Validate();
  if (!error.empty()) throw InputError(r.Where() + ": " + error);
  return space;
}

SamplerOptions ReadSamplerOptions(const JsonReader& r, std::uint64_t default_seed) {
  SamplerOptions o;
  const std::string kind = r.Choice("kind", {"sobol", "halton", "lhs", "uniform", "grid"}, "sobol");
  o.kind = kind == "halton"    ? SamplerKind::kHalton
           : kind == "lhs"     ? SamplerKind::kLatinHypercube
           : kind == "uniform" ? SamplerKind::kUniform
           : kind == "grid"    ? SamplerKind::kGrid
                               : SamplerKind::kSobol;
  o.seed = default_seed;
  if (r.Has("seed")) {
    const auto& v = r.Raw("seed");
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<long long>() >= 0)) {
      ThrowExpected(r.Where("seed"), "an integer >= 0", Describe(v));
    }
    o.seed = v.get<std::uint64_t>();
  }
  o.n = r.Integer("n", o.n);
  const std::string scramble = r.Choice("scramble", {"none", "shift", "owen"}, "owen");
  o.scramble = scramble == "none"    ? Scramble::kNone
               : scramble == "shift" ? Scramble::kShift
                                     : Scramble::kOwen;
  o.grid_levels = r.Integer("grid_levels", o.grid_levels);
  if (r.Has("grid_levels_per_factor")) {
    JsonReader g = r.Object("grid_levels_per_factor");
    const nlohmann::json& raw = r.Raw("grid_levels_per_factor");
    for (auto it = raw.begin(); it != raw.end(); ++it) {
      o.grid_levels_per_factor[it.key()] = g.Integer(it.key());
    }
    g.CheckAllRead();
  }
  o.max_rejections = r.Integer("max_rejections", o.max_rejections);
  r.CheckAllRead();
  std::string error = o.Validate();
  // Validate names fields "sampler.x"; say where the sampler sits in the file.
  if (!error.empty()) throw InputError(r.Where() + error.substr(error.find('.')));
  return o;
}

ScenariosSection ReadScenariosSection(const JsonReader& r, std::uint64_t default_seed) {
  ScenariosSection s;
  s.space = ReadScenarioSpace(r);
  s.sampler.seed = default_seed;
  if (r.Has("sampler")) {
    JsonReader sr = r.Object("sampler");
    s.sampler = ReadSamplerOptions(sr, default_seed);
    s.has_sampler = true;
    for (const auto& [name, levels] : s.sampler.grid_levels_per_factor) {
      const int i = s.space.Find(name);
      if (i < 0 || s.space.factor(i).kind != FactorKind::kContinuous) {
        ThrowExpected(sr.Where("grid_levels_per_factor." + name), "a continuous factor",
                      i < 0
                          ? "an unknown factor"
                          : "a " + std::string(FactorKindName(s.space.factor(i).kind)) + " factor");
      }
    }
  }
  r.CheckAllRead();
  return s;
}

ScenariosSection ReadScenarios(const Study& study) {
  return ReadScenariosSection(study.Section("scenarios"), study.seed);
}

nlohmann::json ScenarioSpaceToJson(const ScenarioSpace& space) {
  nlohmann::json factors = nlohmann::json::array();
  for (const Factor& f : space.factors()) {
    nlohmann::json j;
    j["name"] = f.name;
    j["type"] = FactorKindName(f.kind);
    if (f.kind == FactorKind::kCategorical) {
      nlohmann::json levels = nlohmann::json::array();
      for (const Level& l : f.levels) {
        nlohmann::json lj;
        lj["name"] = l.name;
        if (!l.body.empty()) lj["body"] = l.body;
        if (l.has_value) lj["value"] = l.value;
        if (!l.payload.is_null()) lj["payload"] = l.payload;
        levels.push_back(lj);
      }
      j["levels"] = levels;
    } else {
      j["range"] = {f.lower, f.upper};
      if (f.log_scale) j["log_scale"] = true;
    }
    if (f.binding.kind != FactorBinding::Kind::kNone) {
      nlohmann::json b;
      b["kind"] = BindingKindName(f.binding.kind);
      b["targets"] = f.binding.targets;
      if (f.binding.kind == FactorBinding::Kind::kParameter) {
        b["mode"] = f.binding.mode == BindMode::kScale ? "scale" : "set";
      }
      j["binding"] = b;
    }
    j["tag"] = f.tag == FactorTag::kSetup ? "setup" : "reset";
    j["cost_seconds"] = f.cost_seconds;
    factors.push_back(j);
  }
  nlohmann::json constraints = nlohmann::json::array();
  for (const LinearConstraint& c : space.constraints()) {
    nlohmann::json terms = nlohmann::json::object();
    for (std::size_t k = 0; k < c.factors.size(); ++k) {
      terms[space.factor(c.factors[k]).name] = c.coefficients[k];
    }
    constraints.push_back({{"name", c.name}, {"terms", terms}, {"max", c.upper}});
  }
  nlohmann::json out = {{"factors", factors}};
  if (!constraints.empty()) out["constraints"] = constraints;
  return out;
}

nlohmann::json SamplerOptionsToJson(const SamplerOptions& o) {
  nlohmann::json j = {{"kind", SamplerKindName(o.kind)},
                      {"seed", o.seed},
                      {"n", o.n},
                      {"scramble", ScrambleName(o.scramble)},
                      {"grid_levels", o.grid_levels},
                      {"max_rejections", o.max_rejections}};
  if (!o.grid_levels_per_factor.empty()) j["grid_levels_per_factor"] = o.grid_levels_per_factor;
  return j;
}

}  // namespace nextbatch
