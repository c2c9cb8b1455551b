// The dataset of a study: every episode listed in the study's "dataset" section, imported,
// checked against the model, cleaned and resampled onto the simulation time step, each with its
// quality report. The section's format is docs/formats/study.schema.json (dataset); the
// summary written by `nextbatch ingest` is docs/formats/dataset.schema.json.
#ifndef NEXTBATCH_ENGINE_DATASET_H_
#define NEXTBATCH_ENGINE_DATASET_H_

#include <mujoco/mujoco.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/cleaning.h"
#include "engine/episode.h"
#include "engine/importer.h"
#include "engine/study.h"

namespace nextbatch {

struct Dataset {
  std::vector<Episode> episodes;        // channel names are model joint / actuator names
  std::vector<EpisodeQuality> quality;  // quality[i] describes episodes[i]
  std::vector<EpisodeQuality> dropped;  // files or pieces that gave no episode, with the reason
  CleaningOptions cleaning;
  double timestep = 0;       // the model's (s)
  double sample_period = 0;  // of the episodes when resampled: timestep * every (s); else 0
  std::string study;         // the study file
  std::string model;         // the model file

  int Find(const std::string& id) const;  // -1 when absent
};

// One entry of dataset.episodes: a file (or a glob of files) with its metadata.
struct EpisodeEntry {
  std::vector<std::string> paths;  // resolved
  std::string id;                  // for one path; for a glob, ids are id_prefix + file stem
  std::string id_prefix;
  std::string importer;  // a name in dataset.importers; empty: dataset.importer
  nlohmann::json scenario = nlohmann::json::object();
  nlohmann::json outcome = nlohmann::json::object();
  std::string robot, site, date;
  std::string where;
};

struct DatasetSpec {
  ImporterSpec importer;  // the default
  bool has_importer = false;
  std::map<std::string, ImporterSpec> importers;  // named, for entries that need another layout
  std::vector<EpisodeEntry> episodes;
  CleaningOptions cleaning;
  // A malformed log file: fail (the whole load throws InputError) or drop (the file is listed in
  // Dataset::dropped with the error as its reason, and the other files load).
  std::string on_error = "fail";
};

// Reads the study's "dataset" section (strict keys); resolves paths and globs relative to the
// study. Throws InputError naming the file and field.
DatasetSpec ReadDatasetSpec(const Study& study);

// Reads, validates against the model, cleans and resamples every episode of the study, files in
// parallel on study.threads threads (the result does not depend on the count).
// Throws InputError for bad input (a malformed section, a malformed log unless on_error is drop,
// a name the model lacks, a duplicate id). Episodes dropped by cleaning are reported in
// `dropped`, not thrown.
Dataset LoadDataset(const Study& study, const mjModel* model);

// Checks an episode's channel names against the model (qpos/qvel: joints, ctrl: actuators,
// sensors: scalar sensors; logged channels are free).
void ValidateEpisodeChannels(const Episode& e, const mjModel* model, const std::string& where);

// The "nextbatch.dataset/1" summary: episodes, lengths, rates, quality, dropped.
nlohmann::json DatasetToJson(const Dataset& d);

// A short table, one line per episode and per dropped piece, for people.
std::string DatasetSummary(const Dataset& d);

// One warning per single-sample spike cleaning found ("episode run1: a single-sample spike in
// qpos:shoulder at 1.234 s, size -3.14 (kept)"), at most `per_episode` per episode and a count of
// the rest (every one is in the quality report).
std::vector<std::string> SpikeWarnings(const Dataset& d, int per_episode = 5);

// Writes the dataset as an ingest set's contents into `dir`: episodes/<stem>.json (+ .csv) per
// episode (file names from the ids, made unique) and dataset.json, which lists each
// episode's file. Returns the summary document written.
nlohmann::json WriteDatasetFiles(const Dataset& d, const std::string& dir);

// Reads what WriteDatasetFiles wrote: dataset.json in `dir` and every episode file it lists,
// with the quality fields a later stage uses (source, rate, qvel_estimated). Throws InputError
// naming the file and field.
Dataset ReadDatasetFiles(const std::string& dir);

// Removes the velocity channels that cleaning derived from the positions (quality's
// qvel_estimated): they are not measurements, and fitting them counts the position noise twice.
void DropEstimatedVelocities(Dataset* d);

// Keeps the named episodes, in the dataset's order. Every id must be an episode of the dataset;
// `where` labels the message (e.g. "--episodes"). An empty list keeps every episode.
void KeepEpisodes(Dataset* d, const std::vector<std::string>& ids, const std::string& where);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_DATASET_H_
