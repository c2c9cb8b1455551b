#include "engine/checkpoint.h"

#include <filesystem>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/manifest.h"

namespace nextbatch {
namespace fs = std::filesystem;

namespace {
const char* kCheckpointFile = "checkpoint.json";
}  // namespace

std::string CheckpointDir(const std::string& root, const std::string& stage) {
  return (fs::path(root) / ("." + stage + ".resume")).string();
}

std::optional<Checkpoint> ReadCheckpoint(const std::string& dir, std::string* why) {
  const std::string path = (fs::path(dir) / kCheckpointFile).string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    const nlohmann::json doc = ReadJsonFile(path);
    if (!doc.is_object()) ThrowExpected(path, "a JSON object", Describe(doc));
    JsonReader r(doc, path, "");
    const std::string schema = r.String("schema");
    if (schema != kCheckpointSchema) {
      ThrowExpected(r.Where("schema"), std::string("\"") + kCheckpointSchema + "\"",
                    "\"" + schema + "\"");
    }
    Checkpoint c;
    c.stage = r.String("stage");
    c.version = r.String("version");
    const nlohmann::json& inputs = r.Raw("inputs");
    if (!inputs.is_object()) ThrowExpected(r.Where("inputs"), "an object", Describe(inputs));
    for (auto it = inputs.begin(); it != inputs.end(); ++it) {
      if (!it->is_string()) ThrowExpected(r.Where("inputs") + "." + it.key(), "a digest", "");
      c.inputs[it.key()] = it->get<std::string>();
    }
    c.progress = r.Raw("progress");
    r.CheckAllRead();
    return c;
  } catch (const InputError& e) {
    if (why) *why = e.what();
    return std::nullopt;
  }
}

void WriteCheckpoint(const std::string& dir, const Checkpoint& c) {
  EnsureDirectory(dir);
  const nlohmann::json doc = {{"schema", kCheckpointSchema},
                              {"stage", c.stage},
                              {"version", c.version},
                              {"inputs", c.inputs},
                              {"progress", c.progress}};
  WriteFileAtomic((fs::path(dir) / kCheckpointFile).string(), doc.dump(1) + "\n");
}

void RemoveCheckpoint(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

std::string CheckpointMismatch(const Checkpoint& c,
                               const std::map<std::string, std::string>& inputs,
                               const std::string& version) {
  if (c.version != version) {
    return "it was made by nextbatch " + c.version + ", this is " + version;
  }
  if (c.inputs == inputs) return "";
  std::string why;
  for (const auto& change : ChangedInputs(c.inputs, inputs)) {
    why += (why.empty() ? "" : "; ") + change;
  }
  return why.empty() ? "its inputs differ" : why;
}

}  // namespace nextbatch
