// The study file: one JSON document naming everything for a planning round. The engine reads
// the common top-level fields; each module reads its own section with a JsonReader.
#ifndef NEXTBATCH_ENGINE_STUDY_H_
#define NEXTBATCH_ENGINE_STUDY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/json_reader.h"
#include "engine/parameter.h"

namespace nextbatch {

struct Study {
  std::string path;  // the study file
  std::string dir;   // its folder: relative paths in the study are relative to it
  nlohmann::json doc;

  std::string name;
  std::uint64_t seed = 0;
  std::string model;  // resolved path of the MJCF model
  int threads = 0;    // 0: all available
  std::vector<ParameterSpec> parameters;

  // Reads and checks the file: schema "nextbatch.study/1", known top-level sections only.
  // Module sections are kept in `doc` for their modules to read.
  static Study Load(const std::string& path);

  // A path written in the study, made usable from the working directory.
  std::string Resolve(const std::string& relative) const;
  bool HasSection(const std::string& key) const { return doc.contains(key); }
  JsonReader Section(const std::string& key) const;  // throws when absent
};

// The top-level keys a study may have.
const std::vector<std::string>& StudySections();

// Reads one parameter object ({name, targets, mode, initial, bounds, prior, log_scale}).
ParameterSpec ReadParameterSpec(const JsonReader& r);
// Reads one study parameters entry: one spec, or the ten coordinate specs of a grouped inertial
// (target `body:<name>.inertial`, initial {mass, com, inertia}; docs/formats/study.md).
std::vector<ParameterSpec> ReadParameterSpecs(const JsonReader& r);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_STUDY_H_
