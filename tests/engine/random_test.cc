#include "engine/random.h"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

namespace nextbatch {
namespace {

TEST_CASE("streams are reproducible and keyed") {
  RandomStream a(7, Stage::kTest, 3), b(7, Stage::kTest, 3), c(7, Stage::kTest, 4),
      d(7, Stage::kSynthetic, 3);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.NextU64();
    CHECK(x == b.NextU64());
    CHECK(x != c.NextU64());
    CHECK(x != d.NextU64());
  }
}

TEST_CASE("uniform and normal draws have the moments of their distributions") {
  RandomStream r(1, Stage::kTest, 0);
  const int n = 200000;
  double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = r.Uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    su += u;
    su2 += u * u;
    const double z = r.Normal();
    sn += z;
    sn2 += z * z;
    sn4 += z * z * z * z;
  }
  // Means within 5 standard errors of 1/2, 1/3, 0, 1, 3.
  CHECK(std::abs(su / n - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  CHECK(std::abs(su2 / n - 1.0 / 3) < 5 * std::sqrt(4.0 / 45 / n));
  CHECK(std::abs(sn / n) < 5 / std::sqrt(n));
  CHECK(std::abs(sn2 / n - 1) < 5 * std::sqrt(2.0 / n));
  CHECK(std::abs(sn4 / n - 3) < 5 * std::sqrt(96.0 / n));
}

TEST_CASE("UniformInt is unbiased over a small range") {
  RandomStream r(2, Stage::kTest, 0);
  std::vector<int> counts(3, 0);
  const int n = 90000;
  for (int i = 0; i < n; ++i) ++counts[r.UniformInt(3)];
  // Chi-square with 2 degrees of freedom: 13.8 is its 0.999 quantile.
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / 3.0) * (c - n / 3.0) / (n / 3.0);
  CHECK(chi2 < 13.8);
}

}  // namespace
}  // namespace nextbatch
