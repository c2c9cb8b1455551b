// The planner's settings: the study's "planner" section mapped one to one onto PlanOptions.
//
//   "planner": {
//     "rule": "weighted",                the acquisition: "weighted", "failure" or "information"
//     "budget_seconds": 3600,            robot time of the whole batch, setup changes included
//     "episode_seconds": 38,             robot time of one episode (default: the task's horizon
//                                        plus reset_seconds)
//     "reset_seconds": 30,               putting the robot back between episodes
//     "weights": {"coverage": 1, "uncertainty": 1, "information": 1, "cost": 1,
//                 "discrepancy": 1, "real_outcome": 1},
//     "coverage": {"k": 5, "radius": 0.15, "sample_size": 4096, "categorical_distance": 1},
//     "repeats_max": 1,                  episodes of one scenario the batch may hold
//     "robots": {"arm": [[0, 3600]]},    availability windows in seconds (default: one robot
//                                        "robot" available for the whole budget)
//     "pinned": [3], "excluded": [5],    candidate indices always / never in the batch
//     "safety": {"threshold": 0.05, "confidence": 0.95, "max_samples": 64},
//     "failure_discount": 0.5,           the failure rule's factor per earlier episode nearby
//     "team_uncertainty": "team.csv",    the team's per-scenario variance (weight weights.team)
//     "default_error_model": {"residual_scale": 4, "serial_correlation": 4}
//                                        the information's error model while no calibration has
//                                        one (a cold start), below
//   }
//
// The rule (planners/rules.h, docs/planning.md): "weighted" ranks by the weighted sum of the
// components below; "failure" hunts failure modes by an upper confidence bound on each
// candidate's failure rate, discounted near earlier picks; "information" by the log-det
// information gain alone (finishing a calibration).
// The weights: coverage, uncertainty, information, team, discrepancy and real_outcome weigh the
// acquisition's gain components (each normalised so that its best candidate scores 1;
// discrepancy and real_outcome enter as one term, the larger of the two weighted); cost is the
// exponent of the robot time that the gain is divided by when the batch is chosen (1: gain per
// second, the default; 0: the largest gains first whatever they cost; the budget binds either way).
#ifndef NEXTBATCH_PLANNERS_PLAN_OPTIONS_H_
#define NEXTBATCH_PLANNERS_PLAN_OPTIONS_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/json_reader.h"
#include "engine/study.h"
#include "planners/coverage.h"
#include "planners/rules.h"
#include "planners/safety.h"
#include "planners/schedule.h"

namespace nextbatch {

// The study section PlanOptions is read from.
inline constexpr const char* kPlannerSection = "planner";

struct PlanWeights {
  double coverage = 1.0;
  double uncertainty = 1.0;
  double information = 1.0;
  double cost = 1.0;
  // The uncertainty components learnt from real outcomes (planners/real_outcome_model.h); they
  // weigh nothing while no real outcome is known.
  double discrepancy = 1.0;
  double real_outcome = 1.0;
  double team = 1.0;  // the team's uncertainty (used only with team_uncertainty)
};

// The error model the candidates' information is weighed by while the calibration the candidates
// were simulated under has none (no calibration yet: a cold start). The simulate stage then
// weighs the residuals by the stated (or default) noise levels as if they were independent, the
// information of a fit whose residuals are pure white sensor noise; a real fit's honest
// covariance is wider by its residual scale s^2 (the reduced chi-square: model error and noise
// levels that are not the true ones) times its serial-correlation factor (residuals correlated in
// time; docs/calibration.md). The information is divided by their product, as the simulate stage
// divides it by the calibration's own figures once a calibration has an error model. The
// defaults are the calibration bench's measurements with a correct model and realistic coloured
// sensor noise (bench/calibration_coverage, docs/calibration.md "Coverage of the honest
// intervals": s^2 3.8 to 3.9, serial 3.6 to 5.5 over three models), rounded: a model with no
// error beyond its sensors' colour, the least a real robot's fit shows. 1 and 1 give the
// white-noise information unchanged.
struct DefaultErrorModel {
  double residual_scale = 4.0;      // s^2, > 0 (below 1: residuals smaller than the noise)
  double serial_correlation = 4.0;  // >= 1 (below 1 is taken as 1, as the simulate stage does)

  double Deflation() const { return residual_scale * std::max(1.0, serial_correlation); }
};

// The acquisition rule: what the batch maximises.
enum class PlanRule { kWeighted, kFailure, kInformation };
const char* RuleName(PlanRule rule);  // "weighted", "failure", "information"

struct PlanOptions {
  PlanRule rule = PlanRule::kWeighted;
  double budget_seconds = 3600.0;
  double reset_seconds = 30.0;
  // Robot time of one episode; ReadPlanOptions sets the task's horizon + reset_seconds when the
  // section gives none. Must be > 0 when the options are used.
  double episode_seconds = 0.0;
  PlanWeights weights;
  CoverageOptions coverage;  // k, radius, sample_size, categorical_distance (bins, seed and
                             // num_threads are set by the caller, not read)
  int repeats_max = 1;
  std::vector<Robot> robots;         // empty: one robot "robot" with the window [0, budget_seconds]
  std::vector<std::int64_t> pinned;  // candidate indices
  std::vector<std::int64_t> excluded;  // candidate indices
  SafetyOptions safety;
  // The failure rule's discount d (planners/rules.h): one more episode of a candidate gains its
  // failure bound x d^m, m the batch's episodes within the coverage radius of it. In [0, 1]:
  // 1 ranks by the bound alone (a batch may pile onto one region), 0 takes one episode per
  // neighbourhood while any other candidate has a bound above 0.
  double failure_discount = kFailureDiscount;
  // The team's per-scenario uncertainty CSV (planners/team_uncertainty.h), resolved against the
  // study's folder by ReadPlanOptions(study); "" for none.
  std::string team_uncertainty;
  DefaultErrorModel default_error_model;

  // Empty when valid, else "planner.field: expected X, got Y": a budget or an episode that is
  // not positive, a budget smaller than one episode, negative or all-zero gain weights (cost
  // does not count: it weighs no gain), repeats_max < 1, a negative or doubly listed index,
  // a default error model figure that is not a positive finite number, a failure discount
  // outside [0, 1],
  // robot windows that run backwards or overlap.
  std::string Validate() const;
};

// Reads a "planner" object; `horizon` (seconds) gives the default episode_seconds. Unknown keys
// and invalid values throw InputError "file: planner.field: expected X, got Y".
PlanOptions ReadPlanOptions(const JsonReader& r, double horizon);

// The study's section, or the defaults when it has none; the horizon comes from its task section.
PlanOptions ReadPlanOptions(const Study& study);

// The section's safety options alone (the defaults without them), as the simulate stage needs
// them: the rest of the section (budget against the episode, robots, weights) is the plan
// stage's to check, after the task's own checks. InputError "file: planner.safety.field: ...".
SafetyOptions ReadPlanSafetyOptions(const Study& study);

// The robots the schedule uses: options.robots, or the default single robot.
std::vector<Robot> PlanRobots(const PlanOptions& options);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_PLAN_OPTIONS_H_
