// The pipeline: the stages of a planning round (ingest, calibrate, simulate, plan; campaign
// builds on them), each reading its upstream stages' output sets from disk and publishing its own
// set `<out>/<stage>/` with a manifest (engine/output_set.h). The `nextbatch` verbs, tests and
// harnesses call these functions; a verb only parses its arguments and prints.
#ifndef NEXTBATCH_PIPELINE_PIPELINE_H_
#define NEXTBATCH_PIPELINE_PIPELINE_H_

#include <optional>
#include <string>
#include <vector>

#include "engine/study.h"

namespace nextbatch {

// kReplay (scores the calibration on logged episodes) reads ingest and calibrate and feeds no
// later stage: RunPipeline does not run it.
enum class StageId { kIngest, kCalibrate, kReplay, kSimulate, kPlan };

const char* StageName(StageId stage);
// "ingest" -> kIngest; throws InputError naming `where` and the stages for any other name.
StageId ParseStage(const std::string& name, const std::string& where);

struct PipelineOptions {
  std::string out = "out";  // the output root: stage sets go to <out>/<stage>/
  int threads = -1;         // -1: the study's; 0: every CPU the process may use
  bool quiet = false;       // no progress lines
  bool strict = false;     // a stage that finishes with warnings fails (exit 1), publishing nothing
  bool use_stale = false;  // read upstream sets whose inputs changed since they were made
  std::string dataset;     // the ingest set calibrate reads ("": <out>/ingest)
  std::string calibration;  // the calibrate set simulate reads ("": <out>/calibrate)
  // calibrate: fit only these episodes: ids, or "key=value" conditions on their metadata
  // (ParseEpisodeSelection); in place of the study's calibration.episodes (empty: the study's).
  // replay: replay only these ids
  std::vector<std::string> episodes;
  // calibrate: start from this calibration.json's values, in place of the study's
  // calibration.warm_start ("": the study's)
  std::string warm_start;
  // replay: the window length in seconds (none: the study's replay.window_seconds, else 0.3)
  std::optional<double> replay_window;
  // simulate: sample the calibration's formal covariance instead of its honest one (the formal
  // one ignores model error and serial correlation: far too narrow on real logs)
  bool formal_posterior = false;
  // simulate (also within RunPipeline): continue from the checkpoint an interrupted or killed
  // run of the stage left (`<out>/.simulate.resume/`) when it was made from the same inputs;
  // without it a run starts afresh and discards such a checkpoint
  bool resume = false;
  // plan: check the batch collected since this earlier plan (a plan set's folder, or its
  // plan.json) against what it expected; the result goes into plan.json's `previous` ("": none)
  std::string previous;

  std::string Validate() const;  // "" when valid
};

struct StageReport {
  std::string stage;
  std::string dir;         // the stage's set
  int exit_code = 0;       // 0 done, 1 failed while running (bad input throws InputError)
  bool published = false;  // a new set was published
  bool reused = false;     // RunPipeline: the set was current and kept
  std::vector<std::string> warnings;  // reasons to doubt the result (also in the manifest)
  std::string text;                   // a summary for people
  std::string message;                // why it failed (exit_code 1)
  std::vector<std::string> notes;     // what the run did with a checkpoint (resumed, discarded)
  double seconds = 0;
};

// Runs one stage of `study` and publishes its set. Throws InputError for bad input (a malformed
// study, a missing or stale upstream set, another run writing the stage), RunError when a file
// cannot be written, Interrupted (engine/interrupt.h) when a signal stopped it: then nothing is
// published and the lock is released; the simulate stage keeps its checkpoint. A stage that fails,
// or finishes with warnings under `strict`, returns exit code 1 and leaves the previous set as it
// was.
StageReport RunStage(StageId stage, const Study& study, const PipelineOptions& options);

// Whether a stage's set exists and was made from the study's current inputs.
struct SetStatus {
  std::string dir;
  bool exists = false;
  bool current = false;
  std::vector<std::string> changes;  // what changed since the set was made, in words
};
SetStatus CheckSet(StageId stage, const Study& study, const PipelineOptions& options);

// The stages that apply to the study, in order, up to and including `last`: ingest when it has a
// dataset, calibrate when it also has parameters, simulate and plan when it has scenarios and a
// task.
std::vector<StageId> StagesOf(const Study& study, StageId last);

// Runs the stages of StagesOf(study, last), reusing each set that is current (CheckSet) and
// redoing the rest; every stage from `from` on is redone regardless. Stops at the first stage
// that fails.
std::vector<StageReport> RunPipeline(const Study& study, const PipelineOptions& options,
                                     StageId last, std::optional<StageId> from = std::nullopt);

}  // namespace nextbatch

#endif  // NEXTBATCH_PIPELINE_PIPELINE_H_
