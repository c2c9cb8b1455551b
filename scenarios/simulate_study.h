// The simulate stage's work on one study: its task, scenario space and "simulate" section, the
// candidates simulated under a posterior, written as candidates.jsonl (one line per candidate)
// and candidates.json (schema "nextbatch.candidates/1", docs/formats/candidates.schema.json);
// and the reader of those two files, beside their writer.
#ifndef NEXTBATCH_SCENARIOS_SIMULATE_STUDY_H_
#define NEXTBATCH_SCENARIOS_SIMULATE_STUDY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/posterior.h"
#include "engine/study.h"
#include "scenarios/candidates.h"
#include "scenarios/space.h"
#include "scenarios/task.h"

namespace nextbatch {

// Reads the study's "simulate" section (defaults without one; without a count of its own, as many
// candidates as the sampler is asked for) with the study's seed.
SimulateOptions ReadStudySimulateOptions(const Study& study);

// The study's task section as the simulate stage and a hidden world run it: a `profile`
// controller's levels get their logged command profiles from the study's dataset (read with `m`,
// the study's model; FillCommandProfiles). Throws InputError naming the field.
TaskSpec ReadStudyTaskSpec(const Study& study, const ScenarioSpace& space, const mjModel* m);

struct SimulateStudyResult {
  SimulateSummary summary;
  nlohmann::json document;  // what candidates.json holds
};

// A resumable simulation: where its finished candidates are kept between runs and how it saves
// its progress (the pipeline keeps both in the stage's checkpoint folder, engine/checkpoint.h).
struct SimulateResume {
  std::string part;        // candidates.jsonl of the finished candidates, outliving the run
  std::int64_t bytes = 0;  // its first bytes, which hold the candidates of `done`
  SimulateCheckpoint done;
  // After each chunk, once its lines are on the disk: the part's size and what is finished.
  std::function<void(std::int64_t bytes, const SimulateCheckpoint& done)> save;
};

// Simulates the study's candidates under `posterior` on `threads` threads and writes
// `dir`/candidates.jsonl and `dir`/candidates.json. `calibration` names the posterior's source
// for the document (null: the priors). Progress goes to stderr unless `quiet`. Throws InputError
// for a bad study; numerical outcomes (diverged rollouts, a failed run) are in the summary. With
// `resume`, the lines go to resume->part first and the run continues after resume->done; the
// files are the same as without. A signal (engine/interrupt.h) stops it after a chunk (throws
// Interrupted). With `information` (its values in the posterior's order), each candidate line
// also holds its information matrix, and candidates.json an "information" object:
// `information_document` (how it was computed and the between-episode floor, from the caller)
// with the parameters and counts added. `episode_scale`: the calibration's per-episode factors
// (parameter -> scenario factor, SimulateOptions::episode_scale); each factor must be a numeric
// factor of the study's scenario space, or the candidates could not be simulated as the fit was
// made (InputError). `safety`: sequential safety samples where the verdict is undecided
// (SafetySampling; the pipeline passes the planner's rule when the task has a safety rule);
// candidates.json then holds a "safety_sampling" object: the cap and how many candidates drew how
// many extra rollouts.
SimulateStudyResult SimulateStudy(const Study& study, const Posterior& posterior,
                                  const nlohmann::json& calibration, int threads, bool quiet,
                                  const std::string& dir, const SimulateResume* resume = nullptr,
                                  const CandidateInformation* information = nullptr,
                                  const nlohmann::json& information_document = nullptr,
                                  const std::map<std::string, std::string>& episode_scale = {},
                                  const SafetySampling& safety = {});

// One line of candidates.jsonl as read back.
struct CandidateRecord {
  std::int64_t index = 0;
  nlohmann::json scenario;  // {factor: value}
  int rollouts = 0;
  double success = 0, safety = 0;
  int diverged = 0;
  // Every rollout that judged safety and the violations among them: the sequential safety
  // samples included where the line has them, else `rollouts` and (1 - safety) x rollouts.
  int safety_rollouts = 0, safety_violations = 0;
  std::vector<double> metric_mean, metric_std;  // in the document's metric order; NaN for null
  // P x P in the document's parameter order; empty when the line has none (none computed, or
  // it failed: `information_error` then says why).
  Eigen::MatrixXd information;
  std::string information_error;
};

struct CandidateSet {
  nlohmann::json document;  // candidates.json
  std::vector<std::string> metrics, factors, parameters;
  std::vector<CandidateRecord> candidates;
  // The document's "information" object: the between-episode covariance floor (P x P, zero
  // when not estimated) and whether candidates carry information at all.
  bool has_information = false;
  Eigen::MatrixXd information_floor;
};

// Reads candidates.json and candidates.jsonl from `dir`. Throws InputError naming the file, the
// line and the field.
CandidateSet ReadCandidateSet(const std::string& dir);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_SIMULATE_STUDY_H_
