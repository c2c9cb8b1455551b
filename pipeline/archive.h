// An archive: the reality a dry-run campaign collects from when a team already has recorded
// episodes. Each archived episode is a log with its scenario, read through the study's own
// importer (engine/importer.h) exactly as the study's dataset is; a strategy's chosen scenario is
// answered by the nearest unused archived episode in the planner's normalised factor space
// (planners/coverage.h), if it lies within the archive's tolerance. No episode is returned twice.
//
// Archive file (schema "nextbatch.archive/1", docs/campaigns.md):
//   {"schema": "nextbatch.archive/1", "name": "xl330_bench", "notes": "...",
//    "tolerance": 0.2,                 normalised distance (a factor's full range is 1)
//    "dataset": {"episodes": [{"path": "logs/run1.json", "id": "run1"}, ...],
//                "importer": {...}}}   optional: else the study's dataset.importer
// The dataset block is a study's dataset block (engine/dataset.h reads it): entries with path or
// glob, id, importer (a name in the study's dataset.importers), scenario, outcome. Paths are
// relative to the archive file.
#ifndef NEXTBATCH_PIPELINE_ARCHIVE_H_
#define NEXTBATCH_PIPELINE_ARCHIVE_H_

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/study.h"
#include "planners/coverage.h"
#include "scenarios/space.h"

namespace nextbatch {

struct ArchiveEpisode {
  std::string id;
  std::string path;  // absolute, lexically normal
  // its dataset entry for a study: the archive's entry with this file's path (absolute) and id
  nlohmann::json entry;
  Scenario scenario;
};

struct Archive {
  std::string file;
  std::string name;
  double tolerance = 0.0;
  // the archive's own default importer; null: the study's dataset.importer
  nlohmann::json importer;
  std::vector<ArchiveEpisode> episodes;  // file order (a glob's files sorted)
};

// Whether `path` is a JSON object whose schema names an archive ("nextbatch.archive/<n>"); false
// for anything else, unreadable files included: the world reader then says what is wrong.
bool IsArchiveFile(const std::string& path);

// Reads an archive file for `study`: every episode's log is imported (the archive's importer, else
// the study's dataset.importer / named importers) and its scenario (the importer's metadata
// mapping, then the entry's own scenario keys) must give every factor of `space` a valid value.
// Throws InputError naming the archive file and field: unknown keys, a bad schema, a negative or
// missing tolerance, no episodes, a missing log, no importer, an incomplete scenario, a
// duplicate id, an id one of the study's own episodes has for another file.
Archive ReadArchiveFile(const std::string& path, const Study& study, const ScenarioSpace& space);

// The study's own dataset files (absolute, lexically normal): round 0's episodes, which a
// campaign removes from the archive's pool. Empty without a dataset section.
std::vector<std::string> StudyEpisodePaths(const Study& study);

// `dataset` (a study's dataset block) extended by archive episode `e`, its path made relative to
// `from_dir`; the archive's own importer is added as dataset.importers["archive"] when it has
// one. The block's default importer is kept.
void AddArchiveEpisode(const Archive& archive, const ArchiveEpisode& e, const std::string& from_dir,
                       nlohmann::json* dataset);

// The reference an archive campaign's parameter error is measured against: the study calibrated
// on every archived episode (its calibration section as written, not the campaign's iteration
// cap), run by the pipeline under `dir` (ingest and calibrate), so a rerun into the same folder
// reuses both sets while they are current.
struct ArchiveReference {
  std::vector<double> values;  // every study parameter, in the study's order (fixed: initial)
  std::string status;          // the calibration's
  std::string calibration;     // its calibration.json
};
// Throws RunError when a stage fails.
ArchiveReference FitArchiveReference(const Study& study, const Archive& archive,
                                     const std::string& dir, int threads);

// The pool of unused archived episodes and the nearest-within-tolerance rule.
class ArchivePool {
 public:
  ArchivePool(const std::vector<Scenario>& scenarios, const ScenarioSpace& space,
              double categorical_distance, double tolerance);

  struct Match {
    int index = -1;    // the episode returned; -1: none (the pool is empty or the nearest unused
                       // one lies beyond the tolerance)
    int nearest = -1;  // the nearest unused episode (ties: the lowest index), -1 when none
    double distance = std::numeric_limits<double>::infinity();  // to `nearest`
  };

  // The nearest unused episode to `s`; does not change the pool.
  Match Nearest(const Scenario& s) const;
  // Nearest(s); when within the tolerance, that episode is marked used and returned.
  Match Take(const Scenario& s);
  void Remove(int index);  // marks an episode used (round 0's)
  bool used(int index) const { return used_[index] != 0; }
  int remaining() const { return remaining_; }
  double tolerance() const { return tolerance_; }
  const FactorEmbedding& embedding() const { return embedding_; }

 private:
  FactorEmbedding embedding_;
  std::vector<double> points_;  // row-major embedded scenarios
  std::vector<char> used_;
  int remaining_ = 0;
  double tolerance_ = 0.0;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_PIPELINE_ARCHIVE_H_
