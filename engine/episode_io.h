// The native episode format ("nextbatch.episode/1"), documented in docs/formats/episode.md and
// docs/formats/episode.schema.json. Two shapes, the same metadata:
//  - one JSON file with the time series inline (small logs);
//  - a JSON sidecar whose "data" names a CSV file beside it (large logs), CSV header
//    "time,qpos:<joint>,...,qvel:<joint>,...,ctrl:<actuator>,...,sensors:<name>,...,
//    logged:<name>,...".
// Values are SI (seconds, rad, m, rad/s, m/s, the actuator's own control unit).
#ifndef NEXTBATCH_ENGINE_EPISODE_IO_H_
#define NEXTBATCH_ENGINE_EPISODE_IO_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/episode.h"

namespace nextbatch {

// The channel groups of an episode, in file order: qpos, qvel, ctrl, sensors, logged.
constexpr int kChannelGroups = 5;
const char* ChannelGroupName(int g);
Channels& ChannelGroup(Episode& e, int g);
const Channels& ChannelGroup(const Episode& e, int g);

// Metadata and, when `with_data`, the time series inline. NaN values are written as null.
nlohmann::json EpisodeToJson(const Episode& e, bool with_data = true);

// Reads an episode document; `file` labels messages, `dir` resolves a sidecar's "data" file.
// Throws InputError "file: field: expected X, got Y".
Episode EpisodeFromJson(const nlohmann::json& doc, const std::string& file, const std::string& dir);

// Reads a native episode file (inline JSON or sidecar plus CSV).
Episode ReadEpisodeFile(const std::string& path);

// A file stem for an episode id (ids come from studies and logs; any text is allowed): letters,
// digits, '-', '_' and '.' are kept, every other byte becomes '_', a leading '.' too (no hidden
// files, never "." or ".."). Longer than kMaxStemChars: the first kMaxStemChars characters, then
// '-' and 16 hex digits of a 64-bit FNV-1a digest of the whole id, so that long ids sharing a
// prefix stay apart. Never empty ("_" for ""). Distinct ids may still share a stem ("a b" and
// "a_b"): the caller that writes several files makes the stems unique.
constexpr std::size_t kMaxStemChars = 80;
std::string EpisodeFileStem(const std::string& id);

// Writes the episode as one JSON file, atomically.
void WriteEpisodeJson(const Episode& e, const std::string& path);

// Writes `<stem>.csv` and the sidecar `<stem>.json` (the sidecar last), atomically each.
// `sidecar_path` must end in ".json".
void WriteEpisodeCsv(const Episode& e, const std::string& sidecar_path);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_EPISODE_IO_H_
