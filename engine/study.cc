#include "engine/study.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "engine/error.h"
#include "engine/parallel.h"

namespace nextbatch {

const std::vector<std::string>& StudySections() {
  static const std::vector<std::string> keys = {
      "schema", "name",      "seed", "model",    "threads", "parameters", "dataset", "calibration",
      "replay", "scenarios", "task", "simulate", "planner", "notes",      "campaign"};
  return keys;
}

namespace {

// `count` numbers: an array of them, or (when `broadcast`) one number for all.
std::vector<double> FixedNumbers(const JsonReader& r, const std::string& key, std::size_t count,
                                 bool broadcast) {
  if (broadcast && r.Has(key) && r.Raw(key).is_number()) {
    return std::vector<double>(count, r.Number(key));
  }
  std::vector<double> v = r.Numbers(key);
  if (v.size() != count) {
    ThrowExpected(r.Where(key), std::to_string(count) + " numbers",
                  std::to_string(v.size()) + " numbers");
  }
  return v;
}

// {mass, com, inertia}, each optional where `fallback` is given.
PhysicalInertial ReadPhysical(const JsonReader& r, const PhysicalInertial* fallback) {
  PhysicalInertial p = fallback ? *fallback : PhysicalInertial();
  if (!fallback || r.Has("mass")) p.mass = r.Number("mass");
  if (!fallback || r.Has("com")) {
    const std::vector<double> c = FixedNumbers(r, "com", 3, false);
    p.com = Eigen::Vector3d(c[0], c[1], c[2]);
  }
  if (!fallback || r.Has("inertia")) {
    const std::vector<double> c = FixedNumbers(r, "inertia", 6, false);
    for (int k = 0; k < 6; ++k) p.inertia[k] = c[k];
  }
  r.CheckAllRead();
  return p;
}

// A grouped inertial parameter (its one target `body:<name>.inertial`): ten coordinate specs.
std::vector<ParameterSpec> ReadInertialSpecs(const JsonReader& r, const std::string& name,
                                             const std::string& body) {
  auto group = std::make_shared<InertialGroup>();
  group->name = name;
  group->body = body;
  r.Choice("mode", {"set"}, "set");
  group->initial = ReadPhysical(r.Object("initial"), nullptr);
  Eigen::Vector2d mass_bounds(0.0, 1e300);
  Eigen::Matrix<double, 2, 3> com_bounds;
  com_bounds.row(0).setConstant(-1e300);
  com_bounds.row(1).setConstant(1e300);
  if (r.Has("bounds")) {
    JsonReader b = r.Object("bounds");
    if (b.Has("mass")) {
      const std::vector<double> v = FixedNumbers(b, "mass", 2, false);
      if (!(v[0] > 0) || !(v[0] < v[1])) {
        ThrowExpected(b.Where("mass"), "[lower, upper] with 0 < lower < upper",
                      "[" + FormatNumber(v[0]) + ", " + FormatNumber(v[1]) + "]");
      }
      mass_bounds = Eigen::Vector2d(v[0], v[1]);
    }
    if (b.Has("com")) {
      const auto& raw = b.Raw("com");
      if (!raw.is_array() || raw.size() != 3) {
        ThrowExpected(b.Where("com"), "three [lower, upper] pairs (x, y, z)", Describe(raw));
      }
      for (int k = 0; k < 3; ++k) {
        if (!raw[k].is_array() || raw[k].size() != 2 || !raw[k][0].is_number() ||
            !raw[k][1].is_number() || !(raw[k][0].get<double>() < raw[k][1].get<double>())) {
          ThrowExpected(b.Where("com") + "[" + std::to_string(k) + "]",
                        "[lower, upper] with lower < upper", Describe(raw[k]));
        }
        com_bounds(0, k) = raw[k][0].get<double>();
        com_bounds(1, k) = raw[k][1].get<double>();
      }
    }
    b.CheckAllRead();
  }
  if (r.Has("prior")) {
    JsonReader p = r.Object("prior");
    const PhysicalInertial mean =
        p.Has("mean") ? ReadPhysical(p.Object("mean"), &group->initial) : group->initial;
    group->prior_mean = mean.Stacked();
    JsonReader s = p.Object("std");
    std::vector<double> sd(kInertialSize, 0.0);
    if (s.Has("mass")) sd[0] = s.Number("mass");
    if (s.Has("com")) {
      const std::vector<double> c = FixedNumbers(s, "com", 3, true);
      std::copy(c.begin(), c.end(), sd.begin() + 1);
    }
    if (s.Has("inertia")) {
      const std::vector<double> c = FixedNumbers(s, "inertia", 6, true);
      std::copy(c.begin(), c.end(), sd.begin() + 4);
    }
    s.CheckAllRead();
    p.CheckAllRead();
    for (int k = 0; k < kInertialSize; ++k) {
      if (!(sd[k] >= 0) || !std::isfinite(sd[k])) {
        ThrowExpected(s.Where(InertialQuantityNames()[k]), "a std >= 0 (0: no prior)",
                      FormatNumber(sd[k]));
      }
      group->prior_std[k] = sd[k];
    }
    if (!group->HasPrior()) ThrowExpected(s.Where(), "at least one std > 0", "none");
  }
  const bool fixed = r.Bool("fixed", false);
  r.CheckAllRead();
  return InertialParameterSpecs(group, mass_bounds, com_bounds, fixed,
                                r.file() + ": parameter '" + name + "'");
}

// The body of a target `body:<name>.inertial`, or "" for any other target.
std::string InertialBody(const std::string& target) {
  const std::string prefix = "body:", suffix = ".inertial";
  if (target.size() <= prefix.size() + suffix.size() || target.rfind(prefix, 0) != 0 ||
      target.compare(target.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return "";
  }
  return target.substr(prefix.size(), target.size() - prefix.size() - suffix.size());
}

}  // namespace

std::vector<ParameterSpec> ReadParameterSpecs(const JsonReader& r) {
  if (r.Has("targets")) {
    const std::vector<std::string> targets = r.Strings("targets");
    for (const std::string& t : targets) {
      const std::string body = InertialBody(t);
      if (body.empty()) continue;
      if (targets.size() != 1) {
        ThrowExpected(r.Where("targets"), "'" + t + "' as the only target of its parameter",
                      std::to_string(targets.size()) + " targets");
      }
      return ReadInertialSpecs(r, r.String("name"), body);
    }
  }
  return {ReadParameterSpec(r)};
}

ParameterSpec ReadParameterSpec(const JsonReader& r) {
  ParameterSpec s;
  s.name = r.String("name");
  s.targets = r.Strings("targets");
  s.mode = r.Choice("mode", {"set", "scale"}, "set") == "scale" ? BindMode::kScale : BindMode::kSet;
  if (r.Has("bounds")) {
    std::vector<double> b = r.Numbers("bounds");
    if (b.size() != 2)
      ThrowExpected(r.Where("bounds"), "[lower, upper]", std::to_string(b.size()) + " numbers");
    s.lower = b[0];
    s.upper = b[1];
  }
  s.initial = r.Number("initial");
  if (r.Has("prior")) {
    JsonReader p = r.Object("prior");
    s.prior_mean = p.Number("mean");
    s.prior_std = p.Number("std");
    if (!(s.prior_std > 0))
      ThrowExpected(p.Where("std"), "a number > 0", std::to_string(s.prior_std));
    p.CheckAllRead();
  }
  s.log_scale = r.Bool("log_scale", false);
  s.fixed = r.Bool("fixed", false);
  r.CheckAllRead();
  std::string error = s.Validate();
  if (!error.empty()) throw InputError(r.file() + ": " + error);
  return s;
}

Study Study::Load(const std::string& path) {
  Study s;
  s.path = path;
  s.dir = std::filesystem::path(path).parent_path().string();
  s.doc = ReadJsonFile(path);
  JsonReader r(s.doc, path, "");
  const std::string schema = r.String("schema");
  if (schema != "nextbatch.study/1") {
    ThrowExpected(r.Where("schema"), "\"nextbatch.study/1\"", "\"" + schema + "\"");
  }
  s.name = r.String("name", std::filesystem::path(path).stem().string());
  if (r.Has("seed")) {
    const auto& v = r.Raw("seed");
    if (!v.is_number_unsigned()) ThrowExpected(r.Where("seed"), "an integer >= 0", Describe(v));
    s.seed = v.get<std::uint64_t>();
  }
  s.model = s.Resolve(r.String("model"));
  // Kept as written when 0 ("all", resolved where the threads start), capped otherwise.
  s.threads = r.Integer("threads", 0);
  if (s.threads != 0) s.threads = ResolveThreads(s.threads, r.Where("threads"));
  if (r.Has("parameters")) {
    for (const auto& p : r.Objects("parameters")) {
      for (ParameterSpec& spec : ReadParameterSpecs(p)) s.parameters.push_back(std::move(spec));
    }
  }
  for (auto it = s.doc.begin(); it != s.doc.end(); ++it) {
    bool known = false;
    for (const auto& k : StudySections()) known = known || k == it.key();
    if (!known) {
      std::string list;
      for (const auto& k : StudySections()) list += (list.empty() ? "" : ", ") + k;
      throw InputError(r.Where(it.key()) + ": unknown key; a study has " + list);
    }
  }
  return s;
}

std::string Study::Resolve(const std::string& relative) const {
  std::filesystem::path p(relative);
  if (p.is_absolute() || dir.empty()) return p.lexically_normal().string();
  return (std::filesystem::path(dir) / p).lexically_normal().string();
}

JsonReader Study::Section(const std::string& key) const {
  if (!doc.contains(key)) {
    throw InputError(path + ": " + key + ": expected a section '" + key + "', got none");
  }
  return JsonReader(doc.at(key), path, key);
}

}  // namespace nextbatch
