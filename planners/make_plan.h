// The plan: which candidates to record next on the real robots, how often, on which robot and
// why, from the simulated candidates, the real episodes' scenarios and the planner's options.
// One call, no life cycle.
//
// What each candidate is scored on today (docs/planning.md):
//   coverage     how much of the scenario space that no real episode covers it would cover
//                (planners/coverage.h CoverageGain on a Sobol sample of the space), normalised
//                so that the best candidate scores 1; its reason quotes the distance to the
//                nearest counted episode in the normalised factor space;
//   uncertainty  the spread of the simulated outcome under the posterior: the Bernoulli
//                variance p (1 - p) of the success rate p over the candidate's rollouts,
//                normalised so that the largest scores 1 (it mixes parameter uncertainty with the
//                task's own randomness: nuisance draws are in the same rollouts);
//   information  log det(P + I) - log det(P) (InformationGain), P the posterior precision and
//                I the candidate's information from the simulate set (the calibration's own
//                routine on one mean-parameter episode, under its error model; repeats through
//                the set's between-episode floor), normalised so that the best candidate
//                scores 1; each item names the parameter it mostly informs, and the plan the
//                stds after the batch. Not estimated (0, and the plan says so) without it;
//   cost         robot seconds: repeats x episode_seconds, plus the setup change the item brings
//                into the batch (the sum of the setup factors' cost_seconds: a full change);
//   discrepancy  the predictive sd of the sim-to-real discrepancy (real success - simulated
//                rate) smoothed by a Gaussian process, over the largest among the candidates;
//   real_outcome the predictive sd of a Gaussian process on the real outcomes alone, likewise
//                (both planners/real_outcome_model.h; 0 and not estimated without real outcomes).
// Real outcomes: each episode's success (judged by the task's rules on its log, or a label) is
// reported; for a counted one, the nearest candidate within the coverage radius says what the
// simulator predicts there, and the episode is listed for verification when that prediction
// confidently contradicts it (the one-sided Clopper-Pearson bound, at the safety confidence, on
// the simulated rate of the real outcome is below 1/2).
// Acquisition: WeightedGain of coverage, information, discrepancy, real_outcome (the last two first
// episode only) and the uncertainty score (first episode only), chosen
// under the budget by SelectBatch with gain / cost^weights.cost, scheduled by MakeSchedule.
#ifndef NEXTBATCH_PLANNERS_MAKE_PLAN_H_
#define NEXTBATCH_PLANNERS_MAKE_PLAN_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "calibration/calibration_json.h"
#include "engine/parameter.h"
#include "planners/plan_json.h"
#include "planners/plan_options.h"
#include "planners/team_uncertainty.h"
#include "scenarios/logged_outcome.h"
#include "scenarios/simulate_study.h"
#include "scenarios/space.h"

namespace nextbatch {

// A real episode's id and the scenario it was recorded under ({factor: value}, as ingested).
struct EpisodeScenario {
  EpisodeScenario() = default;
  EpisodeScenario(std::string id_in, nlohmann::json scenario_in, RealOutcome outcome_in = {})
      : id(std::move(id_in)), scenario(std::move(scenario_in)), outcome(std::move(outcome_in)) {}

  std::string id;
  nlohmann::json scenario = nlohmann::json::object();
  RealOutcome outcome;  // its real success (scenarios/logged_outcome.h); unknown by default
  std::string item_id;  // the plan item it was recorded for (its metadata item_id), "" none
};

struct PlanInputs {
  std::string study;       // the study's name, written into the plan
  std::uint64_t seed = 0;  // item ids and the coverage sample
  ScenarioSpace space;
  const CandidateSet* candidates = nullptr;  // the simulate set; required
  std::vector<EpisodeScenario> episodes;     // empty: a cold start
  bool safety_rule = false;  // whether the task has a safety predicate (else safety is not judged)
  // The stds reported as expected.std_before: the calibration's posterior when given, else the
  // parameters' priors (what the candidates were simulated under).
  std::vector<ParameterSpec> parameters;
  const CalibrationFile* calibration = nullptr;
  // which of its covariances: the honest one (as simulate samples by default) or the formal one
  bool formal_posterior = false;
  // The study turned the candidates' information off (simulate.information false): a set without
  // it is then the study's choice, stated in a note, not a reason to doubt the plan.
  bool information_off = false;
  // `plan --previous`: the earlier plan whose batch the episodes may hold (planners/previous.h);
  // the plan then carries the check in `previous`.
  const Plan* previous = nullptr;
  // The team's per-scenario uncertainty (planners/team_uncertainty.h): uncertainty component 4,
  // weighted by weights.team; null for none.
  const TeamUncertainty* team = nullptr;
  // Or the same component from code: the team's variance at a scenario (a point of `space`),
  // called once per candidate in candidate order on the calling thread; it must return a finite
  // number >= 0 (else InputError naming the candidate). Not with `team` as well.
  std::function<double(const Scenario&)> team_variance;
  int threads = 0;  // coverage's neighbour searches; the plan does not depend on it
};

// The scenario an episode was recorded under, as a point of the space: every factor must have a
// value (a number in range for numeric factors, integral for integer ones; a level name for
// categorical ones); keys that are not factors are ignored. Returns nullopt and says why in
// `reason` otherwise.
std::optional<Scenario> EpisodeToScenario(const ScenarioSpace& space,
                                          const nlohmann::json& scenario, std::string* reason);

// Throws InputError for invalid options, a missing or empty candidate set, candidates whose
// factors are not the space's, pinned or excluded indices that name no candidate, or a budget
// smaller than the cheapest episode with its setup.
Plan MakePlan(const PlanInputs& inputs, const PlanOptions& options);

// A one-screen summary for people: items, sessions, budget, coverage, what is not estimated.
std::string PlanSummaryText(const Plan& plan, const ScenarioSpace& space);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_MAKE_PLAN_H_
