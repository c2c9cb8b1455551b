// Strict reading of JSON objects: every message names the file and the field path, says what
// was expected and what was found; keys that nobody read are an error (typos do not pass).
#ifndef NEXTBATCH_ENGINE_JSON_READER_H_
#define NEXTBATCH_ENGINE_JSON_READER_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "engine/resource_limits.h"

namespace nextbatch {

// Parses JSON text; throws InputError "file: invalid JSON at line L, column C: ...", and
// "file: path: expected each key once, got \"key\" twice" for a repeated key (JSON leaves that
// undefined; the parser would keep the last one silently).
nlohmann::json ParseJson(const std::string& text, const std::string& file);
// Reads and parses a file: a regular file of at most `max_bytes` (CheckInputFile), so that a
// study named /dev/zero or a FIFO is refused instead of read forever.
nlohmann::json ReadJsonFile(const std::string& path,
                            std::uint64_t max_bytes = kMaxJsonDocumentBytes);

// A short description of a JSON value for messages: "the string \"abc\"", "an array", ...
std::string Describe(const nlohmann::json& value);

// A view of one JSON object at a known location ("study.json: dataset.importer").
class JsonReader {
 public:
  JsonReader(const nlohmann::json& object, std::string file, std::string path);

  const std::string& file() const { return file_; }
  // "file: path.key"
  std::string Where(const std::string& key = "") const;

  bool Has(const std::string& key) const;
  const nlohmann::json& Raw(const std::string& key) const;  // marks the key read

  double Number(const std::string& key) const;
  double Number(const std::string& key, double fallback) const;
  int Integer(const std::string& key) const;
  int Integer(const std::string& key, int fallback) const;
  bool Bool(const std::string& key, bool fallback) const;
  std::string String(const std::string& key) const;
  std::string String(const std::string& key, const std::string& fallback) const;
  // One of `choices`.
  std::string Choice(const std::string& key, const std::vector<std::string>& choices,
                     const std::string& fallback) const;
  std::vector<double> Numbers(const std::string& key) const;
  std::vector<std::string> Strings(const std::string& key) const;
  JsonReader Object(const std::string& key) const;
  std::vector<JsonReader> Objects(const std::string& key) const;  // an array of objects

  // Throws InputError naming the first key that no getter asked for.
  void CheckAllRead() const;
  // Throws InputError naming the first key not in `known`, and the known keys. Called before
  // anything else is read, so that a misspelt key is reported as such rather than as the
  // required field it was meant to be ("q_pos" is not "expected a joint position column").
  void CheckKnownKeys(const std::vector<std::string>& known) const;

 private:
  const nlohmann::json* object_;
  std::string file_;
  std::string path_;
  mutable std::set<std::string> read_;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_JSON_READER_H_
