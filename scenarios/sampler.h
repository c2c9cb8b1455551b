// Samplers of a scenario space: scrambled Sobol, Halton, Latin hypercube, uniform random and a
// full grid. Every sampler defines a base sequence of unit-cube points (endless for sobol, halton
// and uniform; n points for lhs; every combination for grid); Draw maps them to scenarios and,
// when the space has constraints, keeps only the feasible ones, in order.
//
// Determinism: output point i depends only on (space, options, i): not on the thread count, nor
// on how the points were requested, so Draw(0, 100) equals Draw(0, 40) followed by Draw(40, 60)
// and candidates can be streamed in chunks. Randomness comes only from engine/random.h streams
// keyed by (options.seed, Stage::kScenarioSampling, index).
//
// Usage:
//   SamplerOptions o;  o.kind = SamplerKind::kSobol;  o.seed = study.seed;
//   std::unique_ptr<Sampler> s = MakeSampler(space, o);   // throws InputError on bad options
//   std::vector<Scenario> batch = s->Draw(0, 256);
#ifndef NEXTBATCH_SCENARIOS_SAMPLER_H_
#define NEXTBATCH_SCENARIOS_SAMPLER_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "scenarios/space.h"

namespace nextbatch {

enum class SamplerKind { kSobol, kHalton, kLatinHypercube, kUniform, kGrid };

// Randomisation of the sobol and halton sequences.
enum class Scramble {
  kNone,   // the plain sequence (point 0 is the origin); seed is ignored
  kShift,  // a random digital shift: XOR per dimension (sobol), a shift per digit (halton)
  kOwen,   // nested scrambling (Owen 1995): each digit is permuted depending on the digits
           // above it, with hash-keyed random flips (sobol) or cyclic digit shifts (halton)
};

struct SamplerOptions {
  SamplerKind kind = SamplerKind::kSobol;
  std::uint64_t seed = 0;
  int n = 256;                          // how many scenarios are wanted; the design size of lhs
  Scramble scramble = Scramble::kOwen;  // sobol and halton only
  int grid_levels = 3;                  // grid: points per continuous factor, bounds included
  std::map<std::string, int> grid_levels_per_factor;  // overrides by factor name
  // Draw gives up with InputError after this many consecutive base points that violate the
  // constraints: a space whose feasible fraction is tiny is an input error, never a hang.
  int max_rejections = 100000;

  // Empty when valid, else "sampler.field: expected X, got Y".
  std::string Validate() const;
};

const char* SamplerKindName(SamplerKind k);
const char* ScrambleName(Scramble s);

class Sampler {
 public:
  virtual ~Sampler() = default;
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  const ScenarioSpace& space() const { return space_; }
  const SamplerOptions& options() const { return options_; }

  // Base points available: n for lhs, the number of combinations for grid, else unbounded.
  virtual std::uint64_t capacity() const { return std::numeric_limits<std::uint64_t>::max(); }

  // Unit-cube coordinates of base points first .. first+count-1, row-major (count x dimension).
  virtual void UnitPoints(std::uint64_t first, int count, double* out) const = 0;

  // Feasible scenarios first .. first+count-1 of the sampler's output. Fewer than count only at
  // the end of a finite design (lhs, grid). Throws InputError when max_rejections consecutive base
  // points are infeasible, or when a finite design has no feasible point at all. Thread-safe.
  std::vector<Scenario> Draw(std::uint64_t first, int count) const;

  // Fraction of base points examined so far (by Draw) that met the constraints; 1 without them.
  double ObservedFeasibleFraction() const;

 protected:
  Sampler(const ScenarioSpace& space, const SamplerOptions& options);

 private:
  std::vector<Scenario> DrawConstrained(std::uint64_t first, int count) const;

  ScenarioSpace space_;
  SamplerOptions options_;
  // Base index of feasible output k * kStride, learned while scanning, so that streaming in
  // chunks stays linear in the number of points.
  mutable std::mutex mutex_;
  mutable std::vector<std::uint64_t> checkpoints_;
  mutable std::uint64_t examined_ = 0;
  mutable std::uint64_t accepted_ = 0;
};

// Builds the sampler that options.kind names. Throws InputError when the options or the space
// are invalid, or when the design does not fit (sobol above 3667 dimensions, a grid of more than
// 1e8 points).
std::unique_ptr<Sampler> MakeSampler(const ScenarioSpace& space, const SamplerOptions& options);

// Unit-cube points alone (no space, no constraints), for tests and discrepancy figures:
// `dimension` continuous axes on [0, 1].
std::vector<std::vector<double>> UnitSample(const SamplerOptions& options, int dimension,
                                            std::uint64_t first, int count);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_SAMPLER_H_
