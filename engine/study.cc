#include "engine/study.h"

#include <filesystem>

#include "engine/error.h"
#include "engine/parallel.h"

namespace nextbatch {

const std::vector<std::string>& StudySections() {
  static const std::vector<std::string> keys = {
      "schema", "name",      "seed", "model",    "threads", "parameters", "dataset", "calibration",
      "replay", "scenarios", "task", "simulate", "planner", "notes",      "campaign"};
  return keys;
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
    for (const auto& p : r.Objects("parameters")) s.parameters.push_back(ReadParameterSpec(p));
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
