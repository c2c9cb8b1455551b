// The gain a batch selection maximises, as an interface, so that coverage and information gains
// (and their weighted sums) plug into the same selector.
#ifndef NEXTBATCH_PLANNERS_GAIN_H_
#define NEXTBATCH_PLANNERS_GAIN_H_

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

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_GAIN_H_
