#include "planners/rules.h"

#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/parallel.h"
#include "planners/safety.h"

namespace nextbatch {

double FailureBound(int failures, int rollouts, double confidence) {
  if (rollouts == 0) return 0.0;
  return ViolationUpperBound(failures, rollouts, confidence);
}

std::vector<std::vector<int>> CandidateNeighbourhoods(const FactorEmbedding& embedding,
                                                      const std::vector<Scenario>& candidates,
                                                      double radius, int num_threads) {
  const int n = static_cast<int>(candidates.size());
  std::vector<std::vector<int>> out(n);
  if (n == 0) return out;
  const PointIndex index(embedding.EmbedAll(candidates), embedding.width());
  ParallelFor(n, num_threads, [&](int i, int) {
    const std::vector<double> q = embedding.Embed(candidates[i]);
    out[i] = index.Within(q.data(), radius);
  });
  return out;
}

FailureGain::FailureGain(std::vector<double> bounds, std::vector<std::vector<int>> neighbours,
                         double discount)
    : bounds_(std::move(bounds)), neighbours_(std::move(neighbours)), discount_(discount) {
  if (neighbours_.size() != bounds_.size())
    ThrowExpected("failure rule: neighbourhoods", std::to_string(bounds_.size()) + " lists",
                  std::to_string(neighbours_.size()));
  for (std::size_t i = 0; i < bounds_.size(); ++i)
    if (!(bounds_[i] >= 0.0 && bounds_[i] <= 1.0))
      ThrowExpected("failure rule: bound[" + std::to_string(i) + "]", "a rate in [0, 1]",
                    FormatNumber(bounds_[i]));
  if (!(discount_ >= 0.0 && discount_ <= 1.0))
    ThrowExpected("failure rule: discount", "a factor in [0, 1]", FormatNumber(discount_));
  near_.assign(bounds_.size(), 0);
}

double FailureGain::Gain(int item) const {
  return bounds_[item] * std::pow(discount_, near_[item]);
}

void FailureGain::Commit(int item) {
  for (int j : neighbours_[item]) ++near_[j];
}

void FailureGain::Reset() { near_.assign(near_.size(), 0); }

}  // namespace nextbatch
