#include "planners/gain.h"

#include <cmath>

#include "engine/error.h"

namespace nextbatch {

void WeightedGain::CheckWeight(double weight, const std::string& name, int n) const {
  if (!(weight >= 0.0) || !std::isfinite(weight))
    ThrowExpected("weights." + name, "a number >= 0", FormatNumber(weight));
  const int have = size();
  if (have >= 0 && n != have)
    ThrowExpected("weights." + name, std::to_string(have) + " items like the other components",
                  std::to_string(n));
}

void WeightedGain::Add(GainFunction* component, double weight, const std::string& name) {
  CheckWeight(weight, name, component->size());
  parts_.push_back(component);
  weights_.push_back(weight);
  in_batch_.assign(component->size(), 0);
}

void WeightedGain::SetScores(std::vector<double> scores, double weight, const std::string& name) {
  CheckWeight(weight, name, static_cast<int>(scores.size()));
  for (size_t i = 0; i < scores.size(); ++i)
    if (!(scores[i] >= 0.0) || !std::isfinite(scores[i]))
      ThrowExpected(name + "[" + std::to_string(i) + "]", "a score >= 0", FormatNumber(scores[i]));
  in_batch_.assign(scores.size(), 0);
  scores_ = std::move(scores);
  score_weight_ = weight;
}

std::string WeightedGain::Validate() const {
  bool positive = score_weight_ > 0.0 && !scores_.empty();
  for (double w : weights_) positive = positive || w > 0.0;
  if (!positive) return Expected("weights", "at least one positive weight", "none");
  return "";
}

int WeightedGain::size() const {
  if (!parts_.empty()) return parts_[0]->size();
  if (!scores_.empty()) return static_cast<int>(scores_.size());
  return -1;
}

double WeightedGain::ComponentGain(int k, int item) const {
  if (k < components()) return parts_[k]->Gain(item);
  return scores_.empty() || in_batch_[item] ? 0.0 : scores_[item];
}

double WeightedGain::Gain(int item) const {
  double sum = 0.0;
  for (size_t k = 0; k < parts_.size(); ++k)
    if (weights_[k] > 0.0) sum += weights_[k] * parts_[k]->Gain(item);
  if (!scores_.empty() && !in_batch_[item]) sum += score_weight_ * scores_[item];
  return sum;
}

void WeightedGain::Commit(int item) {
  for (GainFunction* p : parts_) p->Commit(item);
  in_batch_[item] = 1;
}

void WeightedGain::Reset() {
  for (GainFunction* p : parts_) p->Reset();
  in_batch_.assign(in_batch_.size(), 0);
}

}  // namespace nextbatch
