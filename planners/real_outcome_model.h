// The plan's uncertainty components learnt from real outcomes (docs/planning.md):
//   (2) discrepancy   the sim-to-real discrepancy d = real success (0 or 1) - the simulated
//                     success rate at the episode's nearest candidate (within the coverage
//                     radius), smoothed over the space by a Gaussian process (planners/gp.h)
//                     with prior mean 0 (the simulator is right until shown otherwise); a
//                     candidate's component is the GP's predictive sd of d there, and its mean
//                     says which way the simulator errs;
//   (3) real_outcome  an outcome model from the real episodes alone: a GP regression on their
//                     0/1 outcomes (not a classifier: the predictive variance of a Gaussian
//                     regression on labels is what it is, an honest spread that grows away from
//                     the data, but its mean is not a calibrated probability), prior mean 1/2.
// Both GPs live on the factors: numeric factors normalised as in planners/coverage.h (each
// spans 1, by range or log range), categorical factors by exact match at the coverage's
// categorical_distance. With at least `min_points` points the hyperparameters are fitted
// (FitGpHyper, priors GpPriors' defaults: log-normal around length 0.5, signal variance 0.25,
// noise variance 0.1, each with log sd 1); below it the priors' centres are used as they are.
// The predictive sd is of the latent function (noise excluded): it is smallest at the data and
// returns to the prior sd (0.5 by default) far from it.
#ifndef NEXTBATCH_PLANNERS_REAL_OUTCOME_MODEL_H_
#define NEXTBATCH_PLANNERS_REAL_OUTCOME_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/json_reader.h"
#include "planners/coverage.h"
#include "planners/gain.h"
#include "planners/gp.h"
#include "planners/plan_json.h"
#include "scenarios/space.h"

namespace nextbatch {

struct RealModelOptions {
  int min_points = 10;  // fewer points: the default hyperparameters (the priors' centres)
  GpPriors priors;
  std::uint64_t seed = 0;  // the fit's start grid
};

// One fitted component: its GP's summary and its prediction at every candidate.
struct RealComponent {
  bool estimated = false;
  std::string why_not;  // when not estimated
  int points = 0;
  bool fitted = false;  // false: the default hyperparameters
  GpHyper hyper;
  double prior_mean = 0.0;
  double observed_mean = 0.0;  // mean of the data (discrepancies or outcomes)
  std::vector<double> mean;    // per candidate
  std::vector<double> sd;      // per candidate, the latent predictive sd
  double sd_max = 0.0;         // over the candidates
  // sd / sd_max per candidate (all 0 when not estimated): the acquisition's component.
  std::vector<double> Scores() const;
};

struct RealModel {
  RealComponent discrepancy;
  RealComponent outcome;
};

// The GP coordinates of scenarios (one row each) and the coordinates' kinds.
GpSpace RealModelSpace(const FactorEmbedding& embedding);
Eigen::MatrixXd RealModelPoints(const FactorEmbedding& embedding,
                                const std::vector<Scenario>& scenarios);

// Fits one component on (points, values) and predicts at the candidates. Fewer than one point:
// not estimated with `why_not`.
RealComponent FitRealComponent(const FactorEmbedding& embedding,
                               const std::vector<Scenario>& points,
                               const std::vector<double>& values, double prior_mean,
                               const std::vector<Scenario>& candidates,
                               const RealModelOptions& options, const std::string& why_not);

// Both components from the plan's real outcomes: `outcomes` and `counted_of` per episode (the
// episode's index in `counted`, -1 when it does not count).
RealModel FitRealModel(const FactorEmbedding& embedding, const std::vector<Scenario>& counted,
                       const std::vector<int>& counted_of,
                       const std::vector<PlanEpisodes::RealOutcome>& outcomes,
                       const std::vector<Scenario>& candidates, const RealModelOptions& options);

// The plan-level summary written into plan.json.
PlanRealModel RealModelSummary(const RealModel& model, const ScenarioSpace& space);

class RealEvidenceGain;

// The item's clause, e.g. "; sim-to-real discrepancy +0.40 +- 0.31 (discrepancy 0.62), real
// success 0.81 +- 0.28 from real episodes alone (real_outcome 0.57); real-evidence term 0.62 from
// the discrepancy (the larger of weight x component: discrepancy 0.62, real_outcome 0.57; not
// their sum)"; empty when neither is estimated or weighed.
std::string RealModelReason(const RealModel& model, int candidate, double discrepancy_weight,
                            double outcome_weight, const RealEvidenceGain& evidence);

// How the components were made, for the plan's notes (one line each).
std::vector<std::string> RealModelNotes(const RealModel& model, const ScenarioSpace& space,
                                        double discrepancy_weight, double outcome_weight);

// plan.json's "real" of an item (null when neither part is estimated) and "real_model" of the
// plan, with their strict readers (`r` is the enclosing object, the key optional).
nlohmann::json RealValuesToJson(const PlanRealValues& v);
PlanRealValues RealValuesFromJson(const JsonReader& r, const std::string& key);
nlohmann::json RealModelToJson(const PlanRealModel& m);
PlanRealModel RealModelFromJson(const JsonReader& r, const std::string& key);

// A per-item score as a gain: the score counts for an item's first episode, nothing after
// (monotone and submodular, like WeightedGain's scores).
class FirstEpisodeScore : public GainFunction {
 public:
  explicit FirstEpisodeScore(std::vector<double> scores);
  int size() const override { return static_cast<int>(scores_.size()); }
  double Gain(int item) const override { return in_batch_[item] ? 0.0 : scores_[item]; }
  void Commit(int item) override { in_batch_[item] = 1; }
  void Reset() override { in_batch_.assign(scores_.size(), 0); }
  double score(int item) const { return scores_[item]; }  // its first episode's gain

 private:
  std::vector<double> scores_;
  std::vector<char> in_batch_;
};

// Which of the two components carries an item's real-evidence term (RealEvidenceGain).
enum class RealEvidence { kNone, kDiscrepancy, kRealOutcome };
const char* RealEvidenceName(RealEvidence e);  // "none", "discrepancy", "real_outcome"
// The inverse; false for any other name.
bool ParseRealEvidence(const std::string& name, RealEvidence* e);

// The acquisition's one real-evidence term: an item's first episode gains
//     max(w_d x discrepancy_i, w_o x real_outcome_i),
// each component normalised (its best candidate 1) before it is weighted; later episodes gain 0.
// Both components measure how little real evidence lies near a candidate and both grow together
// away from the data (with few points and the same kernel they are equal), so their sum would
// pay a candidate far from the data twice for one fact; the larger of the two pays it once, and
// says which model is the less sure there. A FirstEpisodeScore of those terms.
class RealEvidenceGain : public FirstEpisodeScore {
 public:
  // Throws InputError for score vectors of different sizes, a negative or non-finite score or
  // weight.
  RealEvidenceGain(std::vector<double> discrepancy, std::vector<double> real_outcome,
                   double discrepancy_weight, double real_outcome_weight);

  // The normalised components as given (unweighted), and the weighted term of the first episode.
  double discrepancy(int item) const { return discrepancy_[item]; }
  double real_outcome(int item) const { return real_outcome_[item]; }
  double term(int item) const { return score(item); }
  // The component whose weighted value is the term: the discrepancy on a tie, none when the
  // term is 0.
  RealEvidence counted(int item) const { return counted_[item]; }

 private:
  std::vector<double> discrepancy_, real_outcome_;
  std::vector<RealEvidence> counted_;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_REAL_OUTCOME_MODEL_H_
