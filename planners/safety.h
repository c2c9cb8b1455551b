// Safety of a candidate: an upper confidence bound on its rate of violating the task's safety
// rule, from k violations seen in n posterior-sample rollouts.
#ifndef NEXTBATCH_PLANNERS_SAFETY_H_
#define NEXTBATCH_PLANNERS_SAFETY_H_

#include <string>

#include "scenarios/candidates.h"

namespace nextbatch {

struct SafetyOptions {
  double confidence = 0.95;  // one-sided confidence of the upper bound
  double threshold = 0.05;   // a candidate is unsafe when the bound exceeds this rate
  // Sequential safety samples: a candidate whose bounds straddle the threshold gets more
  // rollouts in the simulate stage, in rounds of K, up to this many in all (K included; <= K:
  // none). 64 is the least multiple of the default K = 8 at which a candidate without a
  // violation can be shown safe at the default threshold and confidence (n >= ln(0.05) /
  // ln(0.95) = 58.4).
  int max_samples = 64;

  // Empty when valid, else "safety.field: expected X, got Y".
  std::string Validate() const;
};

// The one-sided Clopper-Pearson upper bound on a binomial rate at `confidence` = 1 - alpha: the
// rate p at which seeing k or fewer violations in n has probability alpha, which is the
// 1 - alpha quantile of Beta(k + 1, n - k); 1 when k = n. For k = 0 it is 1 - alpha^(1/n).
// Exact (never below the nominal coverage). Throws InputError unless 0 <= k <= n, n >= 1 and
// confidence is in (0, 1).
double ViolationUpperBound(int violations, int samples, double confidence);

// The one-sided Clopper-Pearson lower bound at `confidence`: the alpha quantile of
// Beta(k, n - k + 1); 0 when k = 0, alpha^(1/n) when k = n. Throws as ViolationUpperBound.
double ViolationLowerBound(int violations, int samples, double confidence);

struct SafetyVerdict {
  int violations = 0;
  int samples = 0;
  double rate = 0.0;    // k / n
  double upper = 0.0;   // the Clopper-Pearson bound
  double lower = 0.0;   // the one-sided lower bound at the same confidence
  bool unsafe = false;  // upper > threshold
  // Whether more samples could change the verdict: the point estimate is safe but the bound is
  // not, so the planner adds samples near the threshold before it calls the candidate unsafe.
  bool undecided = false;
  // The bounds lie either side of the threshold (lower <= threshold < upper): neither safe nor
  // confidently unsafe, so more samples can decide it (SafetySamplingRule).
  bool straddles = false;
};

SafetyVerdict JudgeSafety(int violations, int samples, const SafetyOptions& options);

// The simulate stage's sequential safety sampling (scenarios/candidates.h SafetySampling) under
// these options: more rollouts while the verdict straddles the threshold, up to
// options.max_samples. Its `more` is pure (safe to call from any thread). Throws InputError for
// invalid options.
SafetySampling SafetySamplingRule(const SafetyOptions& options);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_SAFETY_H_
