// manifest.json of an output set ("nextbatch.manifest/1", docs/formats/manifest.schema.json):
// what the set was made from (digests of the study sections, files and upstream sets it read),
// its files with their digests, its status, warnings and timings. A later stage compares the
// recorded inputs with the current ones to tell whether the set is still current.
#ifndef NEXTBATCH_ENGINE_MANIFEST_H_
#define NEXTBATCH_ENGINE_MANIFEST_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nextbatch {

inline constexpr const char* kManifestSchema = "nextbatch.manifest/1";
inline constexpr const char* kManifestFile = "manifest.json";

struct Manifest {
  std::string stage;
  std::string status = "done";  // done | done_with_warnings
  std::string study;            // the study file, as given
  std::string study_name;
  std::uint64_t seed = 0;
  // Input name -> digest. Names: "study:<section>" (the section's JSON), "file:<role>" (a file
  // the stage read), "upstream:<stage>" (the set digest of an upstream set), "option:<name>".
  std::map<std::string, std::string> inputs;
  std::map<std::string, std::string> files;  // path in the set -> digest (manifest excluded)
  std::vector<std::string> warnings;
  std::map<std::string, double> seconds;  // timings by phase
  std::string created;                    // UTC, ISO 8601
  std::string version;                    // of nextbatch

  // The digest of the set's contents (its files and their digests): what a downstream set
  // records as "upstream:<stage>".
  std::string SetDigest() const;
};

nlohmann::json ManifestToJson(const Manifest& m);
// Reads and checks a manifest. Throws InputError naming the file and field.
Manifest ReadManifest(const std::string& path);

// The inputs that differ between a set's recorded inputs and the current ones, in words, one per
// line ("study section 'calibration' changed"); empty when they agree. Inputs named "option:*"
// are compared only when present in both.
std::vector<std::string> ChangedInputs(const std::map<std::string, std::string>& recorded,
                                       const std::map<std::string, std::string>& current);

// Every regular file below `dir` (relative paths with '/'), with its digest.
std::map<std::string, std::string> DigestFiles(const std::string& dir);

// The current time, UTC, ISO 8601 to the second.
std::string UtcNow();

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_MANIFEST_H_
