#include "engine/random.h"

#include <cmath>

namespace nextbatch {
namespace {

std::uint64_t SplitMix64(std::uint64_t* x) {
  std::uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

RandomStream::RandomStream(std::uint64_t seed, Stage stage, std::uint64_t index) {
  // Mix the three key parts through splitmix64 one after the other, so that neighbouring keys
  // give unrelated states.
  std::uint64_t x = seed;
  std::uint64_t h = SplitMix64(&x);
  x = h ^ static_cast<std::uint64_t>(stage);
  h = SplitMix64(&x);
  x = h ^ index;
  for (auto& s : s_) s = SplitMix64(&x);
}

std::uint64_t RandomStream::NextU64() {
  const std::uint64_t result = Rotl(s_[0] + s_[3], 23) + s_[0];
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double RandomStream::Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

double RandomStream::Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

double RandomStream::Normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u, v, s;
  do {
    u = 2.0 * Uniform() - 1.0;
    v = 2.0 * Uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double f = std::sqrt(-2.0 * std::log(s) / s);
  spare_ = v * f;
  has_spare_ = true;
  return u * f;
}

std::uint64_t RandomStream::UniformInt(std::uint64_t n) {
  if (n == 0) return 0;
  // Rejection of the top partial block keeps every value equally likely.
  const std::uint64_t limit = (~std::uint64_t{0}) - (~std::uint64_t{0}) % n;
  std::uint64_t x;
  do {
    x = NextU64();
  } while (x >= limit);
  return x % n;
}

}  // namespace nextbatch
