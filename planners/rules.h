// The acquisition rules besides the weighted sum (planners/gain.h WeightedGain), as batch gains
// for the same selector:
//
//   failure      hunting failure modes. Candidate i failed k_i of its n_i simulated rollouts;
//                its bound u_i is the one-sided Clopper-Pearson upper bound on its failure rate
//                at the safety confidence (ViolationUpperBound(k_i, n_i, confidence); 0 without
//                rollouts). One more episode of i gains
//                    u_i x d^(m_i),
//                m_i the batch's episodes whose scenario lies strictly within the coverage radius
//                of i (a repeat of i counts: distance 0), d the study's
//                planner.failure_discount (default kFailureDiscount = 0.5). So the first pick is
//                the highest bound, and each pick multiplies what its coverage neighbourhood is
//                worth by d: with 0.5 a second failure region beats the same one again unless its
//                bound is below half. This is local penalisation of a batch acquisition (the
//                penaliser a hard ball of the coverage radius), not a set function: the gains never
//                grow as the batch grows, so lazy and plain greedy still pick the same batch, but
//                the budgeted (1 - 1/e)/2 guarantee of the selector does not apply.
//   information  finishing a calibration: the log-det gain of InformationGain alone
//                (planners/information.h), log det(P + sum I) - log det(P), the precision
//                updated after each pick. No separate class: MakePlan selects on that gain.
#ifndef NEXTBATCH_PLANNERS_RULES_H_
#define NEXTBATCH_PLANNERS_RULES_H_

#include <vector>

#include "planners/coverage.h"
#include "planners/gain.h"

namespace nextbatch {

// What a pick leaves of its neighbours' failure gain (each neighbouring episode multiplies it):
// the default of PlanOptions::failure_discount. 0.5: one episode in a failure region is worth
// as much as a fresh region whose bound is half as high.
inline constexpr double kFailureDiscount = 0.5;

// u = the one-sided Clopper-Pearson upper bound on the failure rate: `failures` of `rollouts`
// at `confidence`; 0 without rollouts (no evidence of anything). Throws InputError as
// ViolationUpperBound does.
double FailureBound(int failures, int rollouts, double confidence);

// For each candidate, the candidates strictly closer than `radius` in the embedding, itself
// included, ascending (a k-d tree per query; the same for any thread count).
std::vector<std::vector<int>> CandidateNeighbourhoods(const FactorEmbedding& embedding,
                                                      const std::vector<Scenario>& candidates,
                                                      double radius, int num_threads);

// The failure rule as a gain (see above). `neighbours` from CandidateNeighbourhoods (symmetric).
class FailureGain : public GainFunction {
 public:
  // Throws InputError for a bound outside [0, 1] or neighbourhoods of another size.
  FailureGain(std::vector<double> bounds, std::vector<std::vector<int>> neighbours,
              double discount = kFailureDiscount);
  int size() const override { return static_cast<int>(bounds_.size()); }
  double Gain(int item) const override;
  void Commit(int item) override;
  void Reset() override;

  double bound(int item) const { return bounds_[item]; }
  int near(int item) const { return near_[item]; }  // m_i: batch episodes within the radius

 private:
  std::vector<double> bounds_;
  std::vector<std::vector<int>> neighbours_;
  double discount_;
  std::vector<int> near_;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_RULES_H_
