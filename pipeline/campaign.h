// Dry-run campaigns: the planning loop run against a hidden world (scenarios/world.h) or an
// archive of recorded episodes (pipeline/archive.h) before any robot time is spent, so that the
// planner can be judged against its baselines.
//
// For each strategy and seed, round r = 0..rounds: a study of its own under
// <out>/runs/<strategy>/seed<k>/round<r>/ (the study's sections, its dataset = the study's own
// episodes plus every episode collected so far) is run through the real stages (ingest,
// calibrate warm-started from round r-1's calibration.json with a capped iteration count, and for
// the planner strategies simulate and plan); round r is measured; unless it is the last, the
// strategy picks a batch under the planner's budget, the world collects it and round r+1 begins.
//
// Strategies: "planner" (the plan stage as the study sets it), "planner:<rule>" (the same with
// planner.rule = <rule>), "coverage" and "uncertainty" (the planner with that weight alone),
// "random" (uniform scenarios), "lhs" (a Latin hypercube per round), "grid" (a full grid over the
// factors, visited in a seeded random order across rounds). Every batch is costed the way the
// planner costs one: episodes x planner.episode_seconds, plus each distinct setup's change.
//
// Outputs in <out>/: rounds.csv (a row per strategy, seed and round), summary.csv and
// campaign.json (median and 5-95 % interval over seeds per strategy and round, the failure map,
// episodes-to-target), timings.csv (seconds per round, the one file that depends on the machine),
// and the plots of the measures the reality has: param_error.svg (not for a study that fits
// nothing), failures.svg and outcome_error.svg (hidden worlds), held_out_error.svg (a world's
// held-out episodes, an archive's episodes not collected yet). docs/campaigns.md describes them.
//
// Stopping and resuming: a rerun into the same folder reuses every round's sets that are current
// (their input digests), so a stopped or killed campaign continues where it was; with `resume` an
// interrupted simulation also continues from its chunk checkpoint, as `plan --resume` does. The
// summary files are written last, into a staging folder, and moved into place with campaign.json
// removed first and moved last: where campaign.json exists, the summary files beside it are of
// the same run. A finished campaign removes what killed runs left under <out>/runs and
// <out>/held_out (temporary files, staging folders, stale locks and checkpoints).
#ifndef NEXTBATCH_PIPELINE_CAMPAIGN_H_
#define NEXTBATCH_PIPELINE_CAMPAIGN_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/study.h"
#include "scenarios/world.h"

namespace nextbatch {

// The study's "campaign" section mapped one to one, with the command's overrides applied after.
//   "campaign": {
//     "rounds": 3,                 batches collected per strategy and seed
//     "seeds": 10,                 repetitions per strategy
//     "strategies": ["planner", "coverage", "uncertainty", "random", "lhs", "grid"],
//     "budget_seconds": 3600,      robot time per batch (default: planner.budget_seconds)
//     "max_iterations": 20,        calibration iterations per round (warm-started)
//     "simulate": {"candidates": 64, "posterior_samples": 4},   the planner strategies' simulate
//     "failure_grid": 3,           bins per factor of the failure map (categorical: its levels)
//     "failure_samples": 8,        world rollouts per failure-map cell
//     "grid_levels": 3,            points per numeric factor of the "grid" strategy
//     "test_scenarios": 32,        the outcome-model error's fixed test set (uniform, seeded)
//     "test_samples": 16,          rollouts per test scenario, for the world's rate and each
//                                  round's predicted rate alike
//     "held_out": 6                world episodes no strategy collects, replayed under each
//                                  round's estimate (the replay verb's measure)
//   }
struct CampaignOptions {
  std::string reality;  // the world or archive file (told apart by its schema)
  std::string out = "out/campaign";
  int rounds = 3;
  int seeds = 10;
  std::vector<std::string> strategies = {"planner", "coverage", "uncertainty",
                                         "random",  "lhs",      "grid"};
  double budget_seconds = 0.0;  // 0: the planner section's
  // Where budget_seconds came from, for messages ("--budget"); empty: the study's campaign
  // section.
  std::string budget_source;
  int max_iterations = 20;
  int simulate_candidates = 0;  // 0: the study's simulate section
  int simulate_posterior_samples = 0;
  int failure_grid = 3;
  int failure_samples = 8;
  int grid_levels = 3;
  int test_scenarios = 32;
  int test_samples = 16;
  int held_out = 6;
  int threads = -1;  // -1: the study's
  bool quiet = false;
  bool resume = false;  // continue an interrupted round's simulation from its checkpoint

  // "" when valid, else "campaign.field: expected X, got Y".
  std::string Validate() const;
};

// The study's campaign section (defaults without one). Throws InputError naming the file and
// field for unknown keys and bad values.
CampaignOptions ReadCampaignOptions(const Study& study);

// The strategies' names (the bases; "planner:<rule>" adds a rule to "planner").
const std::vector<std::string>& CampaignStrategies();

struct CampaignResult {
  nlohmann::json document;  // campaign.json
  std::string text;         // a summary for people (the episodes-to-target table)
  double seconds = 0.0;
};

// Runs the campaign and writes its files. Throws InputError for bad input (the study, the world
// file, the options), before anything is written, and when another campaign is writing into the
// same folder; RunError when a stage fails; Interrupted (engine/interrupt.h) when a signal stopped
// it (the rounds already run stay on disk, the summary files are not written; what() names the
// round and how many rounds had finished).
//
// Fault points (engine/output_set.h) for the kill tests: "campaign.collected.<strategy>.<seed>.<r>"
// (the first episode of round r's batch written, the rest not), "campaign.round.<strategy>.<seed>.
// <r>" (round r finished, the next not begun; the strategy's name with ':' as '_'),
// "campaign.summary.<k>" (k summary files staged), "campaign.published.<k>" (k of them moved into
// place, campaign.json last), besides the stages' own.
CampaignResult RunCampaign(const Study& study, const CampaignOptions& options);

// The outcome-model error's pieces, shared by every strategy (exposed for their tests).
//
// The calibrated model as a world: the study's MJCF under `values` (every study parameter, in
// the study's order), the start spread of the study's simulate.nuisance, no sensor. Its success
// rates are what the model predicts.
WorldSpec ModelWorldSpec(const Study& study, const std::vector<double>& values, std::uint64_t seed);

// The share of `samples` rollouts of each scenario that succeed in `world`, the k-th start of
// scenario i drawn with WorldKey({stream, i, k}). Deterministic for any thread count.
std::vector<double> SuccessRates(const World& world, const std::vector<Scenario>& scenarios,
                                 int samples, std::uint64_t stream, int threads);

struct OutcomeError {
  double mean_abs = 0.0;  // mean over scenarios of |predicted - true| success rate
  double mean_sq = 0.0;   // mean of its square (a Brier-like score on rates)
};
// Throws LogicError when the sizes differ or are zero.
OutcomeError CompareRates(const std::vector<double>& truth, const std::vector<double>& predicted);

}  // namespace nextbatch

#endif  // NEXTBATCH_PIPELINE_CAMPAIGN_H_
