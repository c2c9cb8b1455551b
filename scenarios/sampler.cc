#include "scenarios/sampler.h"

#include <algorithm>
#include <boost/random/sobol.hpp>
#include <cmath>
#include <numeric>

#include "engine/error.h"
#include "engine/random.h"

namespace nextbatch {
namespace {

constexpr std::uint64_t kStride = 1024;  // feasible outputs between checkpoints
constexpr double kMaxGridPoints = 1e8;
constexpr int kMaxSobolDimension = 3667;  // Boost's Joe-Kuo table

// Stream indices within Stage::kScenarioSampling: the sampler kind and a purpose in the top
// bits, so that no two uses of one seed share a stream.
enum class Purpose : std::uint64_t { kPoint = 0, kDimensionKey = 1 };

std::uint64_t StreamIndex(SamplerKind kind, Purpose purpose, std::uint64_t i) {
  return ((static_cast<std::uint64_t>(kind) + 1) << 59) |
         (static_cast<std::uint64_t>(purpose) << 56) | (i & ((std::uint64_t{1} << 56) - 1));
}

std::uint64_t Mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The random choice at one node of a scrambling tree: keyed per dimension, by depth and by the
// digits above (the node's prefix).
std::uint64_t NodeHash(std::uint64_t key, std::uint64_t depth, std::uint64_t prefix) {
  return Mix(Mix(key + depth * 0x9e3779b97f4a7c15ULL) ^ prefix);
}

std::vector<std::uint64_t> DimensionKeys(const SamplerOptions& o, int dimension) {
  std::vector<std::uint64_t> keys(dimension);
  for (int j = 0; j < dimension; ++j) {
    RandomStream r(o.seed, Stage::kScenarioSampling,
                   StreamIndex(o.kind, Purpose::kDimensionKey, j));
    keys[j] = r.NextU64();
  }
  return keys;
}

class SobolSampler : public Sampler {
 public:
  SobolSampler(const ScenarioSpace& space, const SamplerOptions& options)
      : Sampler(space, options),
        engine_(static_cast<std::size_t>(space.dimension())),
        keys_(DimensionKeys(options, space.dimension())) {}

  void UnitPoints(std::uint64_t first, int count, double* out) const override {
    const int d = space().dimension();
    // Boost's engine starts at Gray-code point 1 (it skips the origin); seed(k) jumps to point
    // k + 1. Point 0 of this sampler is the origin, so that the first 2^m points form a net.
    boost::random::sobol engine = engine_;
    std::vector<std::uint64_t> x(d);
    for (int p = 0; p < count; ++p) {
      const std::uint64_t index = first + p;
      if (index == 0) {
        std::fill(x.begin(), x.end(), 0);
      } else {
        if (p == 0 || index == 1) engine.seed(index - 1);
        for (int j = 0; j < d; ++j) x[j] = engine();
      }
      for (int j = 0; j < d; ++j)
        out[static_cast<std::size_t>(p) * d + j] = ToUnit(Scrambled(x[j], j));
    }
  }

 private:
  std::uint64_t Scrambled(std::uint64_t x, int j) const {
    switch (options().scramble) {
      case Scramble::kNone:
        return x;
      case Scramble::kShift:
        return x ^ keys_[j];
      case Scramble::kOwen: {
        // Bit 63 is the first binary digit. Flip each of the 52 digits that reach the double
        // with a bit chosen by the original digits above it.
        std::uint64_t y = x;
        for (int depth = 0; depth < 52; ++depth) {
          const int bit = 63 - depth;
          const std::uint64_t prefix = depth == 0 ? 0 : x >> (bit + 1);
          y ^= (NodeHash(keys_[j], depth, prefix) & 1) << bit;
        }
        return y;
      }
    }
    return x;
  }

  double ToUnit(std::uint64_t y) const {
    // Plain points keep their exact dyadic values; scrambled ones take the centre of their
    // 2^-52 cell, never exactly 0 or 1.
    if (options().scramble == Scramble::kNone) return std::ldexp(static_cast<double>(y >> 11), -53);
    return std::ldexp(static_cast<double>(y >> 12) + 0.5, -52);
  }

  boost::random::sobol engine_;
  std::vector<std::uint64_t> keys_;
};

std::vector<int> FirstPrimes(int count) {
  std::vector<int> primes;
  for (int c = 2; static_cast<int>(primes.size()) < count; ++c) {
    bool prime = true;
    for (int p : primes) {
      if (p * p > c) break;
      if (c % p == 0) {
        prime = false;
        break;
      }
    }
    if (prime) primes.push_back(c);
  }
  return primes;
}

class HaltonSampler : public Sampler {
 public:
  HaltonSampler(const ScenarioSpace& space, const SamplerOptions& options)
      : Sampler(space, options),
        bases_(FirstPrimes(space.dimension())),
        keys_(DimensionKeys(options, space.dimension())) {}

  void UnitPoints(std::uint64_t first, int count, double* out) const override {
    const int d = space().dimension();
    for (int p = 0; p < count; ++p) {
      for (int j = 0; j < d; ++j)
        out[static_cast<std::size_t>(p) * d + j] = RadicalInverse(first + p, j);
    }
  }

 private:
  double RadicalInverse(std::uint64_t index, int j) const {
    const std::uint64_t b = bases_[j];
    const double inv = 1.0 / static_cast<double>(b);
    double r = 0.0, f = inv;
    if (options().scramble == Scramble::kNone) {
      for (std::uint64_t rest = index; rest > 0; rest /= b, f *= inv) r += (rest % b) * f;
      return r;
    }
    // Scrambled: every digit position down to 2^-53 gets a cyclic shift, also the zero digits
    // past the index's last one, else the points would cluster on the b-adic grid. With Owen
    // the shift depends on the digits above (i mod b^k names the node), with kShift only on
    // the position.
    const bool nested = options().scramble == Scramble::kOwen;
    const int digits = static_cast<int>(std::ceil(53.0 * std::log(2.0) / std::log(double(b))));
    std::uint64_t rest = index, prefix = 0, power = 1;
    for (int k = 0; k < digits; ++k, f *= inv) {
      const std::uint64_t digit = rest % b;
      rest /= b;
      const std::uint64_t shift = NodeHash(keys_[j], k, nested ? prefix : 0) % b;
      r += static_cast<double>((digit + shift) % b) * f;
      if (power <= index) {  // past the index's digits the prefix stays `index`
        prefix += digit * power;
        power = power > index / b ? index + 1 : power * b;
      }
    }
    return std::min(r, 1.0 - std::ldexp(1.0, -53));
  }

  std::vector<int> bases_;
  std::vector<std::uint64_t> keys_;
};

class UniformSampler : public Sampler {
 public:
  UniformSampler(const ScenarioSpace& space, const SamplerOptions& options)
      : Sampler(space, options) {}

  void UnitPoints(std::uint64_t first, int count, double* out) const override {
    const int d = space().dimension();
    for (int p = 0; p < count; ++p) {
      RandomStream r(options().seed, Stage::kScenarioSampling,
                     StreamIndex(SamplerKind::kUniform, Purpose::kPoint, first + p));
      for (int j = 0; j < d; ++j) out[static_cast<std::size_t>(p) * d + j] = r.Uniform();
    }
  }
};

class LatinHypercubeSampler : public Sampler {
 public:
  LatinHypercubeSampler(const ScenarioSpace& space, const SamplerOptions& options)
      : Sampler(space, options) {
    // One uniformly random permutation of the n strata per dimension (Fisher-Yates), each from
    // its own stream.
    const int d = space.dimension();
    strata_.resize(static_cast<std::size_t>(d) * options.n);
    for (int j = 0; j < d; ++j) {
      RandomStream r(options.seed, Stage::kScenarioSampling,
                     StreamIndex(SamplerKind::kLatinHypercube, Purpose::kDimensionKey, j));
      std::int32_t* perm = strata_.data() + static_cast<std::size_t>(j) * options.n;
      std::iota(perm, perm + options.n, 0);
      for (int i = options.n - 1; i > 0; --i) std::swap(perm[i], perm[r.UniformInt(i + 1)]);
    }
  }

  std::uint64_t capacity() const override { return options().n; }

  void UnitPoints(std::uint64_t first, int count, double* out) const override {
    const int d = space().dimension();
    const int n = options().n;
    NB_CHECK(first + count <= static_cast<std::uint64_t>(n));
    for (int p = 0; p < count; ++p) {
      const std::uint64_t i = first + p;
      RandomStream r(options().seed, Stage::kScenarioSampling,
                     StreamIndex(SamplerKind::kLatinHypercube, Purpose::kPoint, i));
      for (int j = 0; j < d; ++j) {
        const double u = (strata_[static_cast<std::size_t>(j) * n + i] + r.Uniform()) / n;
        out[static_cast<std::size_t>(p) * d + j] = std::min(u, 1.0 - std::ldexp(1.0, -53));
      }
    }
  }

 private:
  std::vector<std::int32_t> strata_;  // d x n
};

class GridSampler : public Sampler {
 public:
  GridSampler(const ScenarioSpace& space, const SamplerOptions& options) : Sampler(space, options) {
    double total = 1.0;
    for (const Factor& f : space.factors()) {
      int levels = f.Cardinality();
      if (f.kind == FactorKind::kContinuous) {
        auto it = options.grid_levels_per_factor.find(f.name);
        levels = it == options.grid_levels_per_factor.end() ? options.grid_levels : it->second;
      }
      levels_.push_back(levels);
      total *= levels;
    }
    if (total > kMaxGridPoints) {
      ThrowExpected("sampler.grid_levels", "a grid of at most 1e8 points",
                    std::to_string(static_cast<long long>(total)) + " points");
    }
    capacity_ = static_cast<std::uint64_t>(total);
  }

  std::uint64_t capacity() const override { return capacity_; }

  // Mixed radix, the last factor fastest. Continuous axes include both bounds; integer and
  // categorical axes take every value (the centre of its cell).
  void UnitPoints(std::uint64_t first, int count, double* out) const override {
    const int d = space().dimension();
    NB_CHECK(first + count <= capacity_);
    for (int p = 0; p < count; ++p) {
      std::uint64_t rest = first + p;
      for (int j = d - 1; j >= 0; --j) {
        const int l = levels_[j];
        const double k = static_cast<double>(rest % l);
        rest /= l;
        double u = (k + 0.5) / l;
        if (space().factor(j).kind == FactorKind::kContinuous) u = l == 1 ? 0.5 : k / (l - 1);
        out[static_cast<std::size_t>(p) * d + j] = u;
      }
    }
  }

 private:
  std::vector<int> levels_;
  std::uint64_t capacity_ = 0;
};

}  // namespace

const char* SamplerKindName(SamplerKind k) {
  switch (k) {
    case SamplerKind::kSobol:
      return "sobol";
    case SamplerKind::kHalton:
      return "halton";
    case SamplerKind::kLatinHypercube:
      return "lhs";
    case SamplerKind::kUniform:
      return "uniform";
    case SamplerKind::kGrid:
      return "grid";
  }
  return "?";
}

const char* ScrambleName(Scramble s) {
  switch (s) {
    case Scramble::kNone:
      return "none";
    case Scramble::kShift:
      return "shift";
    case Scramble::kOwen:
      return "owen";
  }
  return "?";
}

std::string SamplerOptions::Validate() const {
  if (kind == SamplerKind::kLatinHypercube && (n < 1 || n > (1 << 26))) {
    return Expected("sampler.n", "a design size in [1, 2^26] for lhs", std::to_string(n));
  }
  if (n < 0) return Expected("sampler.n", "a count >= 0", std::to_string(n));
  if (grid_levels < 1)
    return Expected("sampler.grid_levels", "1 or more", std::to_string(grid_levels));
  for (const auto& [name, levels] : grid_levels_per_factor) {
    if (levels < 1) {
      return Expected("sampler.grid_levels." + name, "1 or more", std::to_string(levels));
    }
  }
  if (max_rejections < 1) {
    return Expected("sampler.max_rejections", "1 or more", std::to_string(max_rejections));
  }
  return "";
}

Sampler::Sampler(const ScenarioSpace& space, const SamplerOptions& options)
    : space_(space), options_(options), checkpoints_{0} {}

double Sampler::ObservedFeasibleFraction() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return examined_ == 0 ? 1.0 : static_cast<double>(accepted_) / examined_;
}

std::vector<Scenario> Sampler::Draw(std::uint64_t first, int count) const {
  NB_CHECK(count >= 0);
  if (!space_.constraints().empty()) return DrawConstrained(first, count);
  std::vector<Scenario> out;
  if (first >= capacity()) return out;
  const int n = static_cast<int>(std::min<std::uint64_t>(count, capacity() - first));
  const int d = space_.dimension();
  std::vector<double> u(static_cast<std::size_t>(n) * d);
  UnitPoints(first, n, u.data());
  out.reserve(n);
  for (int p = 0; p < n; ++p)
    out.push_back(space_.FromUnit(u.data() + static_cast<std::size_t>(p) * d));
  return out;
}

std::vector<Scenario> Sampler::DrawConstrained(std::uint64_t first, int count) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Scenario> out;
  if (count == 0) return out;
  const int d = space_.dimension();
  // Resume from the last checkpoint at or before `first`.
  std::uint64_t k = std::min<std::uint64_t>(first / kStride, checkpoints_.size() - 1);
  std::uint64_t output = k * kStride;  // output index of the next feasible point found
  std::uint64_t base = checkpoints_[k];
  std::vector<int> violations(space_.constraints().size(), 0);
  int rejected_in_row = 0;
  constexpr int kBlock = 64;
  std::vector<double> u(static_cast<std::size_t>(kBlock) * d);
  while (static_cast<int>(out.size()) < count && base < capacity()) {
    const int n = static_cast<int>(std::min<std::uint64_t>(kBlock, capacity() - base));
    UnitPoints(base, n, u.data());
    for (int p = 0; p < n && static_cast<int>(out.size()) < count; ++p, ++base) {
      Scenario s = space_.FromUnit(u.data() + static_cast<std::size_t>(p) * d);
      const int violated = space_.FirstViolated(s);
      ++examined_;
      if (violated >= 0) {
        ++violations[violated];
        if (++rejected_in_row >= options_.max_rejections) {
          const auto worst = std::max_element(violations.begin(), violations.end());
          const std::string& name = space_.constraints()[worst - violations.begin()].name;
          ThrowExpected("scenarios.constraints",
                        "constraints that leave a feasible scenario within " +
                            std::to_string(options_.max_rejections) + " draws of the " +
                            SamplerKindName(options_.kind) + " sampler",
                        "none from draw " + std::to_string(base + 1 - rejected_in_row) +
                            " on (constraint '" + name + "' rejected " + std::to_string(*worst) +
                            ")");
        }
        continue;
      }
      rejected_in_row = 0;
      ++accepted_;
      if (output % kStride == 0 && output / kStride == checkpoints_.size()) {
        checkpoints_.push_back(base);
      }
      if (output >= first) out.push_back(std::move(s));
      ++output;
    }
  }
  if (out.empty() && output == 0 && base >= capacity()) {
    ThrowExpected("scenarios.constraints",
                  "constraints that leave a feasible point of the " +
                      std::string(SamplerKindName(options_.kind)) + " design",
                  "none of its " + std::to_string(capacity()) + " points");
  }
  return out;
}

std::unique_ptr<Sampler> MakeSampler(const ScenarioSpace& space, const SamplerOptions& options) {
  std::string error = options.Validate();
  if (error.empty()) error = space.Validate();
  if (!error.empty()) throw InputError(error);
  for (const auto& [name, levels] : options.grid_levels_per_factor) {
    const int i = space.Find(name);
    if (i < 0 || space.factor(i).kind != FactorKind::kContinuous) {
      ThrowExpected("sampler.grid_levels." + name, "a continuous factor of the space",
                    i < 0 ? "an unknown factor"
                          : "a " + std::string(FactorKindName(space.factor(i).kind)) + " factor");
    }
  }
  switch (options.kind) {
    case SamplerKind::kSobol:
      if (space.dimension() > kMaxSobolDimension) {
        ThrowExpected("sampler.kind", "at most 3667 factors for sobol",
                      std::to_string(space.dimension()));
      }
      return std::make_unique<SobolSampler>(space, options);
    case SamplerKind::kHalton:
      return std::make_unique<HaltonSampler>(space, options);
    case SamplerKind::kLatinHypercube:
      return std::make_unique<LatinHypercubeSampler>(space, options);
    case SamplerKind::kUniform:
      return std::make_unique<UniformSampler>(space, options);
    case SamplerKind::kGrid:
      return std::make_unique<GridSampler>(space, options);
  }
  throw LogicError("unknown sampler kind");
}

std::vector<std::vector<double>> UnitSample(const SamplerOptions& options, int dimension,
                                            std::uint64_t first, int count) {
  NB_CHECK(dimension >= 1 && count >= 0);
  ScenarioSpace space;
  for (int j = 0; j < dimension; ++j) {
    Factor f;
    f.name = "u" + std::to_string(j);
    space.AddFactor(f);
  }
  std::unique_ptr<Sampler> sampler = MakeSampler(space, options);
  const std::uint64_t n = std::min<std::uint64_t>(
      count, first >= sampler->capacity() ? 0 : sampler->capacity() - first);
  std::vector<double> flat(n * dimension);
  sampler->UnitPoints(first, static_cast<int>(n), flat.data());
  std::vector<std::vector<double>> points(n);
  for (std::uint64_t p = 0; p < n; ++p) {
    points[p].assign(flat.begin() + p * dimension, flat.begin() + (p + 1) * dimension);
  }
  return points;
}

}  // namespace nextbatch
