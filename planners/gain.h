// The gain a batch selection maximises, as an interface, so that coverage and information gains
// (and their weighted sums) plug into the same selector.
#ifndef NEXTBATCH_PLANNERS_GAIN_H_
#define NEXTBATCH_PLANNERS_GAIN_H_

#include <string>
#include <vector>

namespace nextbatch {

// A set function f over episodes of items, grown one episode at a time: Gain(i) is
// f(batch + one more episode of item i) - f(batch), Commit(i) adds that episode to the batch.
//
// The selector's lazy evaluation and its guarantee rely on f being monotone (gains >= 0) and
// submodular (a gain never grows as the batch grows, repeats of an item included). Gain must be
// deterministic for a given batch: lazy and plain greedy then pick identical batches.
class GainFunction {
 public:
  virtual ~GainFunction() = default;
  virtual int size() const = 0;             // items 0 .. size()-1
  virtual double Gain(int item) const = 0;  // marginal gain of one more episode of `item`
  virtual void Commit(int item) = 0;        // adds one episode of `item` to the batch
  virtual void Reset() = 0;                 // back to the empty batch
};

// The acquisition as one gain: sum_k w_k f_k + w_0 sum_i s_i [item i in the batch], the
// components' gains weighted, plus a per-item score (e.g. a normalised uncertainty) that counts
// for an item's first episode only. Non-negative weights keep it monotone and submodular.
// The components are not owned and must outlive this object.
class WeightedGain : public GainFunction {
 public:
  // Throws InputError for a negative or non-finite weight, or a component of another size.
  void Add(GainFunction* component, double weight, const std::string& name);
  void SetScores(std::vector<double> scores, double weight, const std::string& name);

  int size() const override;
  double Gain(int item) const override;
  void Commit(int item) override;
  void Reset() override;

  // Item `item`'s next-episode gain of component k (the score is component size()).
  double ComponentGain(int k, int item) const;
  int components() const { return static_cast<int>(parts_.size()); }
  // Empty when some weight is positive, else "weights: expected ..., got all zero".
  std::string Validate() const;

 private:
  void CheckWeight(double weight, const std::string& name, int size) const;

  std::vector<GainFunction*> parts_;
  std::vector<double> weights_;
  std::vector<double> scores_;
  double score_weight_ = 0.0;
  std::vector<char> in_batch_;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_GAIN_H_
