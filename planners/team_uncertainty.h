// Uncertainty component 4: the team's own per-scenario uncertainty, from a CSV it keeps (what
// it distrusts, from experience the simulator does not have).
//
//   initial_angle,torque_limit,variance
//   -0.4,0.5,0.2
//   0.3,2.5,0.01
//
// One column per factor of the study (numbers for numeric factors, level names for categorical
// ones; every value inside the space) and a `variance` column (a number >= 0, in any unit the
// team likes: the plan normalises it). Extra columns are refused (a misspelt factor would
// otherwise be dropped silently). A candidate takes the variance of the row nearest to it in
// the normalised factor space (planners/coverage.h; the lowest row on a tie).
#ifndef NEXTBATCH_PLANNERS_TEAM_UNCERTAINTY_H_
#define NEXTBATCH_PLANNERS_TEAM_UNCERTAINTY_H_

#include <string>
#include <vector>

#include "planners/coverage.h"
#include "planners/gain.h"
#include "scenarios/space.h"

namespace nextbatch {

struct TeamUncertainty {
  std::string file;
  std::vector<Scenario> points;
  std::vector<double> variance;
};

// Throws InputError "file: line N: column: expected X, got Y" for a missing or extra column, a
// value that is not a number or not in the space, a negative or non-finite variance, or a file
// without rows.
TeamUncertainty ReadTeamUncertainty(const std::string& path, const ScenarioSpace& space);

// A per-item score as a batch gain, counting for an item's first episode (the team's
// uncertainty as a component of the weighted acquisition).
class ScoreGain : public GainFunction {
 public:
  explicit ScoreGain(std::vector<double> scores) : scores_(std::move(scores)) { Reset(); }
  int size() const override { return static_cast<int>(scores_.size()); }
  double Gain(int item) const override { return in_[item] ? 0.0 : scores_[item]; }
  void Commit(int item) override { in_[item] = 1; }
  void Reset() override { in_.assign(scores_.size(), 0); }

 private:
  std::vector<double> scores_;
  std::vector<char> in_;
};

// Each candidate's variance: the nearest row's. The same for any thread count.
std::vector<double> TeamVarianceAt(const TeamUncertainty& team, const FactorEmbedding& embedding,
                                   const std::vector<Scenario>& candidates, int num_threads);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_TEAM_UNCERTAINTY_H_
