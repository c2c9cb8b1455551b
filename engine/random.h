// Random streams keyed by (seed, stage, index): never a shared generator, so results do not
// depend on thread count, rank count or the order in which items are processed.
#ifndef NEXTBATCH_ENGINE_RANDOM_H_
#define NEXTBATCH_ENGINE_RANDOM_H_

#include <cstdint>

namespace nextbatch {

// Stages that draw random numbers; each has its own key space.
enum class Stage : std::uint64_t {
  kTest = 0,
  kScenarioSampling = 1,
  kPosteriorSampling = 2,
  kNuisance = 3,
  kSynthetic = 4,
  kMeasurementNoise = 5,
  kSplit = 6,
  kPlanning = 7,
  kCampaign = 8,  // a campaign's hidden world: start spread, sample times, sensor noise
};

// xoshiro256++ seeded through splitmix64 from the key; its own uniform and normal transforms so
// that the numbers are the same with every standard library.
class RandomStream {
 public:
  RandomStream(std::uint64_t seed, Stage stage, std::uint64_t index);

  std::uint64_t NextU64();
  double Uniform();                           // [0, 1), 53 random bits
  double Uniform(double lo, double hi);       // [lo, hi)
  double Normal();                            // standard normal (Marsaglia polar method)
  std::uint64_t UniformInt(std::uint64_t n);  // [0, n), unbiased

 private:
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_RANDOM_H_
