#include "engine/manifest.h"

#include <ctime>
#include <filesystem>

#include "engine/digest.h"
#include "engine/error.h"
#include "engine/json_reader.h"

namespace nextbatch {
namespace {

std::map<std::string, std::string> StringMap(const JsonReader& r, const std::string& key) {
  std::map<std::string, std::string> out;
  const nlohmann::json& v = r.Raw(key);
  if (!v.is_object()) ThrowExpected(r.Where(key), "an object {name: digest}", Describe(v));
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it->is_string()) {
      ThrowExpected(r.Where(key) + "." + it.key(), "a digest (string)", Describe(*it));
    }
    out[it.key()] = it->get<std::string>();
  }
  return out;
}

// "study:calibration" -> "study section 'calibration'".
std::string InputInWords(const std::string& name) {
  const auto colon = name.find(':');
  const std::string kind = name.substr(0, colon), what = name.substr(colon + 1);
  if (kind == "study") return "study section '" + what + "'";
  if (kind == "file") return "input file " + what;
  if (kind == "upstream") return "upstream set '" + what + "'";
  if (kind == "option") return "option " + what;
  return name;
}

}  // namespace

std::string Manifest::SetDigest() const {
  Sha256 h;
  for (const auto& [name, digest] : files) {
    h.Update(name);
    h.Update("\n", 1);
    h.Update(digest);
    h.Update("\n", 1);
  }
  return h.HexDigest();
}

nlohmann::json ManifestToJson(const Manifest& m) {
  nlohmann::json seconds = nlohmann::json::object();
  for (const auto& [k, v] : m.seconds) seconds[k] = v;
  return {{"schema", kManifestSchema}, {"stage", m.stage},           {"status", m.status},
          {"study", m.study},          {"study_name", m.study_name}, {"seed", m.seed},
          {"inputs", m.inputs},        {"files", m.files},           {"set_digest", m.SetDigest()},
          {"warnings", m.warnings},    {"seconds", seconds},         {"created", m.created},
          {"version", m.version}};
}

Manifest ReadManifest(const std::string& path) {
  const nlohmann::json doc = ReadJsonFile(path);
  if (!doc.is_object()) ThrowExpected(path, "a JSON object", Describe(doc));
  JsonReader r(doc, path, "");
  Manifest m;
  const std::string schema = r.String("schema");
  if (schema != kManifestSchema) {
    ThrowExpected(r.Where("schema"), std::string("\"") + kManifestSchema + "\"",
                  "\"" + schema + "\"");
  }
  m.stage = r.String("stage");
  m.status = r.Choice("status", {"done", "done_with_warnings"}, "done");
  m.study = r.String("study");
  m.study_name = r.String("study_name", "");
  const nlohmann::json& seed = r.Raw("seed");
  if (!seed.is_number_unsigned()) ThrowExpected(r.Where("seed"), "an integer >= 0", Describe(seed));
  m.seed = seed.get<std::uint64_t>();
  m.inputs = StringMap(r, "inputs");
  m.files = StringMap(r, "files");
  const std::string set_digest = r.String("set_digest");
  if (set_digest != m.SetDigest()) {
    ThrowExpected(r.Where("set_digest"), "the digest of the listed files (" + m.SetDigest() + ")",
                  "\"" + set_digest + "\"");
  }
  m.warnings = r.Strings("warnings");
  const nlohmann::json& sec = r.Raw("seconds");
  if (!sec.is_object()) ThrowExpected(r.Where("seconds"), "an object", Describe(sec));
  for (auto it = sec.begin(); it != sec.end(); ++it) {
    if (!it->is_number()) {
      ThrowExpected(r.Where("seconds") + "." + it.key(), "a number", Describe(*it));
    }
    m.seconds[it.key()] = it->get<double>();
  }
  m.created = r.String("created", "");
  m.version = r.String("version", "");
  r.CheckAllRead();
  return m;
}

std::vector<std::string> ChangedInputs(const std::map<std::string, std::string>& recorded,
                                       const std::map<std::string, std::string>& current) {
  std::vector<std::string> out;
  for (const auto& [name, digest] : current) {
    const bool option = name.rfind("option:", 0) == 0;
    auto it = recorded.find(name);
    if (it == recorded.end()) {
      if (!option) out.push_back(InputInWords(name) + " was not an input then");
    } else if (it->second != digest) {
      out.push_back(InputInWords(name) + " changed");
    }
  }
  for (const auto& [name, digest] : recorded) {
    const bool option = name.rfind("option:", 0) == 0;
    if (!option && current.count(name) == 0) out.push_back(InputInWords(name) + " is gone");
  }
  return out;
}

std::map<std::string, std::string> DigestFiles(const std::string& dir) {
  std::map<std::string, std::string> out;
  const std::filesystem::path root(dir);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = std::filesystem::relative(entry.path(), root).generic_string();
    if (rel == kManifestFile) continue;
    out[rel] = DigestOfFile(entry.path().string());
  }
  return out;
}

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace nextbatch
