// `plan --previous`: a collected batch checked against what an earlier plan expected.
//
// The episodes recorded since the earlier plan (those not among its episodes.outcomes) are
// matched to its items: by the item_id their log carries (metadata item_id), else by their
// scenario, to the nearest item strictly within the coverage radius (normalised space). Then, side
// by side:
//   per item      collected or not, by what, which episodes, the simulated success it was
//                 planned with and the real outcomes of its episodes;
//   coverage      the share expected after the batch against the share achieved now (the same
//                 Sobol sample when the seed and coverage options are unchanged);
//   stds          the std each parameter was expected to have after the batch against the
//                 current calibration's (the plan's std_before: honest unless --formal-posterior),
//                 with ratio = current / expected (above 1: the batch taught less than forecast);
//   outcomes      over the matched episodes with a known real outcome, the real successes
//                 against the sum of their items' simulated success rates.
#ifndef NEXTBATCH_PLANNERS_PREVIOUS_H_
#define NEXTBATCH_PLANNERS_PREVIOUS_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "planners/coverage.h"
#include "planners/plan_json.h"

namespace nextbatch {

struct CollectedEpisode {
  std::string id;
  std::string item_id;               // from its metadata; "" when it carries none
  std::optional<Scenario> scenario;  // nullopt when it does not count for coverage
  int success = -1;                  // 1, 0, -1 unknown
};

// The `previous` object of plan.json (docs/formats/plan.schema.json). `current` is the plan being
// made (its coverage_before and std_before are what the data and the calibration give now).
nlohmann::json CheckPrevious(const Plan& previous, const Plan& current,
                             const std::vector<CollectedEpisode>& episodes,
                             const FactorEmbedding& embedding, double radius);

// Throws InputError "file: study: expected ..., got ..." when the earlier plan is another study's.
void CheckPreviousStudy(const Plan& previous, const std::string& study, const std::string& file);

// Lines for the summary; "" without a previous object.
std::string PreviousSummaryText(const nlohmann::json& previous);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_PREVIOUS_H_
