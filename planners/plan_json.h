// The plan files, reader beside writer: plan.json ("nextbatch.plan/1", documented in
// docs/formats/plan.schema.json) and plan.csv (one row per item, for spreadsheets; written only).
#ifndef NEXTBATCH_PLANNERS_PLAN_JSON_H_
#define NEXTBATCH_PLANNERS_PLAN_JSON_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "scenarios/space.h"

namespace nextbatch {

inline constexpr const char* kPlanSchema = "nextbatch.plan/1";

// Each component normalised as the acquisition uses it; cost in robot seconds.
struct PlanComponents {
  double coverage = 0.0;
  double uncertainty = 0.0;
  double information = 0.0;
  double cost = 0.0;
  // the team's own uncertainty (planners/team_uncertainty.h), normalised; -1 when the study
  // gives none (then not written; added field: optional when read)
  double team = -1.0;
  // Added fields (optional when read, 0 then): the uncertainty components (2) and (3) from real
  // outcomes (planners/real_outcome_model.h), each the predictive sd over the largest.
  double discrepancy = 0.0;
  double real_outcome = 0.0;
};

// The real-outcome models at an item (added field: optional when read); present only for the
// components that are estimated.
struct PlanRealValues {
  bool discrepancy = false;
  double discrepancy_mean = 0.0;  // real minus simulated success, predicted
  double discrepancy_sd = 0.0;
  bool outcome = false;
  double outcome_mean = 0.0;  // real success from real episodes alone, predicted
  double outcome_sd = 0.0;
};

// How the real-outcome models were made (added field: optional when read).
struct PlanRealModel {
  struct Part {
    bool estimated = false;
    std::string why_not;
    int points = 0;
    bool fitted = false;                   // false: the default hyperparameters (too few points)
    std::map<std::string, double> length;  // factor -> length scale, normalised units
    double signal_var = 0.0;
    double noise_var = 0.0;
    double prior_mean = 0.0;
    double observed_mean = 0.0;  // mean discrepancy / real success rate over the points
    double sd_max = 0.0;         // largest predictive sd among the candidates
  };
  Part discrepancy;
  Part outcome;
};

struct PlanItem {
  int rank = 0;         // 1 = most valuable
  std::string item_id;  // ItemId(space, scenario, seed): written into the logs of its episodes
  std::int64_t candidate = -1;  // the candidate's index in the simulate set; -1 when unknown
  Scenario scenario;
  int repeats = 1;
  double score = 0.0;
  PlanComponents components;
  std::string informs;  // the parameter it mostly informs; empty when none
  PlanRealValues real;
  // Which of components.discrepancy and .real_outcome the acquisition's one real-evidence term
  // counted (the larger weighted one): "discrepancy", "real_outcome" or "none" (added field:
  // optional when read, "none" then).
  std::string real_evidence = "none";
  std::string reason;  // in words, with the numbers behind it
  int session = -1;    // index into sessions; -1: not scheduled
  double est_seconds = 0.0;
  // The simulated success rate it was planned with, for `plan --previous` to compare with the
  // real outcomes; -1 when unknown (added field: optional when read).
  double simulated_success = -1.0;
};

struct PlanSession {
  std::string robot;
  double start_s = 0.0;
  double end_s = 0.0;
  double setup_seconds = 0.0;      // the change at its start
  std::vector<std::string> items;  // item_ids in running order
};

struct PlanBudget {
  double seconds = 0.0;        // what the study allows
  double used_seconds = 0.0;   // episodes and setup changes of the batch
  double setup_seconds = 0.0;  // of which setup changes
};

// What the batch is expected to change, for `plan --previous` to check later.
struct PlanExpected {
  double coverage_before = 0.0;  // share of the space within the radius of an episode
  double coverage_after = 0.0;
  std::map<std::string, double> std_before;  // parameter -> posterior std
  std::map<std::string, double> std_after;
  std::vector<std::string> failure_modes;  // what the batch probes, in words
};

// The weights the acquisition used (see planners/plan_options.h).
struct PlanWeightsUsed {
  double coverage = 0.0;
  double uncertainty = 0.0;
  double information = 0.0;
  double cost = 0.0;
  double team = -1.0;        // -1 when the study gives no team uncertainty (not written)
  double discrepancy = 0.0;  // added fields: optional when read
  double real_outcome = 0.0;
};

// What the plan was made from: the real episodes, and which of them count for coverage.
struct PlanEpisodes {
  int total = 0;
  int counted = 0;  // episodes whose scenario names a valid value for every factor
  struct NotCounted {
    std::string id;
    std::string reason;
  };
  std::vector<NotCounted> not_counted;
  // Each episode's real outcome and, for counted ones, what the simulator says near its scenario
  // (added field: optional when read).
  struct RealOutcome {
    std::string id;
    bool counted = false;
    int success = -1;    // 1 succeeded, 0 failed, -1 unknown
    std::string source;  // "log" (the task's rules on the logged trajectory), "label", "" unknown
    std::string note;    // why unknown, or a label the log contradicts
    std::int64_t candidate = -1;  // the nearest candidate within the coverage radius; -1 none
    double distance = 0.0;        // to it, normalised space
    double simulated_success = 0.0;
    int rollouts = 0;
    bool contradicted = false;  // the simulator there confidently predicts the other outcome
  };
  std::vector<RealOutcome> outcomes;
};

// A candidate left out of the batch because its violation bound exceeds the safety threshold.
struct UnsafeCandidate {
  std::int64_t candidate = 0;
  Scenario scenario;
  int violations = 0;
  int samples = 0;
  double upper = 0.0;  // Clopper-Pearson upper bound on the violation rate
};

struct Plan {
  std::string study;
  std::uint64_t seed = 0;
  std::vector<PlanItem> items;
  std::vector<PlanSession> sessions;
  PlanBudget budget;
  PlanExpected expected;
  // Added fields (optional when read, so that earlier plan files still read):
  std::string rule = "weighted";  // the acquisition rule (planners/plan_options.h RuleName)
  std::int64_t candidates = 0;    // candidates considered
  int posterior_samples = 0;      // rollouts per candidate
  PlanWeightsUsed weights;
  PlanEpisodes episodes;
  std::vector<UnsafeCandidate> unsafe;
  PlanRealModel real_model;
  std::vector<std::string> not_estimated;  // components and expectations this plan lacks
  std::vector<std::string> notes;          // how the estimates were made, in words
  std::vector<std::string> warnings;       // reasons to doubt the plan (also in the manifest)
  // `plan --previous`: the earlier plan's expectations against what was collected
  // (planners/previous.h CheckPrevious); null when not asked for.
  nlohmann::json previous;
};

// A stable id for an item: 16 hex digits of a 64-bit FNV-1a digest of the scenario's JSON
// ({factor: value}, keys sorted) and the study seed. Same scenario and seed, same id, on every
// machine and in every run.
std::string ItemId(const ScenarioSpace& space, const Scenario& scenario, std::uint64_t seed);

nlohmann::json PlanToJson(const Plan& plan, const ScenarioSpace& space);
// Strict: every field required (those added after the first version are optional), unknown keys
// are errors, scenarios checked against the space,
// sessions referenced by items must exist. `file` prefixes messages.
Plan PlanFromJson(const nlohmann::json& j, const ScenarioSpace& space, const std::string& file);

// One row per item: rank, item_id, one column per factor, repeats, score, the components,
// informs, session, robot, est_seconds, candidate, reason (quoted), discrepancy, real_outcome,
// real_evidence.
std::string PlanToCsv(const Plan& plan, const ScenarioSpace& space);

// Writes `dir`/plan.json and `dir`/plan.csv, each atomically. Throws RunError on I/O failure.
void WritePlan(const Plan& plan, const ScenarioSpace& space, const std::string& dir);
// Reads `dir`/plan.json (or a file path ending in .json). Throws InputError.
Plan ReadPlan(const std::string& path, const ScenarioSpace& space);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_PLAN_JSON_H_
