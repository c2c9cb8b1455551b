#include "planners/safety.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"

namespace nextbatch {
namespace {

// P(X <= k) for X ~ Binomial(n, p), summed term by term in logs.
double BinomialCdf(int k, int n, double p) {
  double sum = 0.0;
  for (int j = 0; j <= k; ++j) {
    const double log_term = std::lgamma(n + 1.0) - std::lgamma(j + 1.0) - std::lgamma(n - j + 1.0) +
                            j * std::log(p) + (n - j) * std::log1p(-p);
    sum += std::exp(log_term);
  }
  return sum;
}

// The second method: the p in (0, 1) at which P(X <= k) = alpha, by bisection (the CDF falls in p).
double BisectedBound(int k, int n, double confidence) {
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (BinomialCdf(k, n, mid) > 1.0 - confidence ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

TEST_CASE("Clopper-Pearson upper bound: k = 0 has the closed form 1 - alpha^(1/n)") {
  for (int n : {1, 3, 10, 100, 5000}) {
    for (double c : {0.9, 0.95, 0.99}) {
      CHECK(ViolationUpperBound(0, n, c) ==
            doctest::Approx(1.0 - std::pow(1.0 - c, 1.0 / n)).epsilon(1e-12));
    }
  }
  // The "rule of three": about 3 / n at 95%.
  CHECK(ViolationUpperBound(0, 1000, 0.95) == doctest::Approx(3.0 / 1000).epsilon(0.01));
  CHECK(ViolationUpperBound(7, 7, 0.95) == 1.0);
}

TEST_CASE(
    "Clopper-Pearson upper bound: tabulated values, checked by bisection on the binomial CDF") {
  // The two-sided 95% interval of 1 in 10 is [0.0025, 0.4450] (its upper end is the one-sided
  // 97.5% bound); of 5 in 20 it is [0.0866, 0.4910].
  CHECK(ViolationUpperBound(1, 10, 0.975) == doctest::Approx(0.4450).epsilon(2e-4));
  CHECK(ViolationUpperBound(5, 20, 0.975) == doctest::Approx(0.4910).epsilon(2e-4));
  for (int n : {10, 20, 57, 400}) {
    for (int k : {1, 2, n / 4, n - 1}) {
      for (double c : {0.9, 0.95, 0.975, 0.999}) {
        CHECK(ViolationUpperBound(k, n, c) ==
              doctest::Approx(BisectedBound(k, n, c)).epsilon(1e-9));
      }
    }
  }
}

TEST_CASE("safety verdict: unsafe when the bound passes the threshold, undecided near it") {
  SafetyOptions o;  // 95%, 5%
  const SafetyVerdict clean = JudgeSafety(0, 100, o);
  CHECK_FALSE(clean.unsafe);  // 0.0295 < 0.05
  const SafetyVerdict few = JudgeSafety(0, 20, o);
  CHECK(few.unsafe);  // 0.139: too few samples to call it safe
  CHECK(few.undecided);
  const SafetyVerdict bad = JudgeSafety(30, 100, o);
  CHECK(bad.unsafe);
  CHECK_FALSE(bad.undecided);
  CHECK(bad.rate == 0.3);
}

TEST_CASE("safety input is validated") {
  CHECK_THROWS_WITH_AS(ViolationUpperBound(3, 2, 0.95), "safety.violations: expected 0 .. 2, got 3",
                       InputError);
  CHECK_THROWS_AS(ViolationUpperBound(0, 0, 0.95), InputError);
  CHECK_THROWS_AS(ViolationUpperBound(0, 5, 1.0), InputError);
  SafetyOptions o;
  o.threshold = 0;
  CHECK_THROWS_WITH_AS(JudgeSafety(0, 5, o), "safety.threshold: expected a rate in (0, 1), got 0",
                       InputError);
}

}  // namespace
}  // namespace nextbatch
