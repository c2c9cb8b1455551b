// Which episodes of a dataset a stage takes: listed by id, or chosen by the metadata ingest wrote
// for them (scenario values, extra fields, robot, site, date), e.g. the runs at firmware kp 8 or
// 32 on one trajectory, so that a subset is named by what it is rather than by file.
#ifndef NEXTBATCH_ENGINE_EPISODE_SELECTION_H_
#define NEXTBATCH_ENGINE_EPISODE_SELECTION_H_

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/dataset.h"
#include "engine/episode.h"
#include "engine/json_reader.h"

namespace nextbatch {

struct EpisodeSelection {
  std::vector<std::string> ids;  // empty: any id
  // Metadata key -> the values it may take: an episode is selected when, for every key, its
  // value is one of them (numbers compare by value: 8 matches 8.0).
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> where;
  std::string label;  // names the selection in messages ("study.json: calibration.episodes")

  bool empty() const { return ids.empty() && where.empty(); }
};

// The study form at `key` of `r`: an array of ids, or an object {"ids": [...], "where": {key:
// value or [values]}} (either or both). Throws InputError naming the file and field.
EpisodeSelection ReadEpisodeSelection(const JsonReader& r, const std::string& key);

// The command-line form: each item an id, or "key=value" (a value that reads as a JSON number,
// boolean or null is one; anything else is a string); the same key again adds a value it may
// take ("kp=8,kp=32"). Throws InputError naming `label` for an empty item, key or value.
EpisodeSelection ParseEpisodeSelection(const std::vector<std::string>& items,
                                       const std::string& label);

// An episode's metadata value for `key`: its scenario value, else its extra field, else robot,
// site or date by those names; null when it has none.
nlohmann::json EpisodeMetadata(const Episode& e, const std::string& key);

// Keeps the selected episodes (with their quality), in the dataset's order; an empty selection
// keeps all. Throws InputError naming the selection and the field when an id is not an episode
// of the dataset, a key is no episode's metadata (the keys they have are listed), or nothing is
// selected (each key's values in the dataset are listed).
void SelectEpisodes(Dataset* d, const EpisodeSelection& s);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_EPISODE_SELECTION_H_
