// Safety of a candidate: an upper confidence bound on its rate of violating the task's safety
// rule, from k violations seen in n posterior-sample rollouts.
#ifndef NEXTBATCH_PLANNERS_SAFETY_H_
#define NEXTBATCH_PLANNERS_SAFETY_H_

#include <string>

namespace nextbatch {

struct SafetyOptions {
  double confidence = 0.95;  // one-sided confidence of the upper bound
  double threshold = 0.05;   // a candidate is unsafe when the bound exceeds this rate

  // Empty when valid, else "safety.field: expected X, got Y".
  std::string Validate() const;
};

// The one-sided Clopper-Pearson upper bound on a binomial rate at `confidence` = 1 - alpha: the
// rate p at which seeing k or fewer violations in n has probability alpha, which is the
// 1 - alpha quantile of Beta(k + 1, n - k); 1 when k = n. For k = 0 it is 1 - alpha^(1/n).
// Exact (never below the nominal coverage). Throws InputError unless 0 <= k <= n, n >= 1 and
// confidence is in (0, 1).
double ViolationUpperBound(int violations, int samples, double confidence);

struct SafetyVerdict {
  int violations = 0;
  int samples = 0;
  double rate = 0.0;    // k / n
  double upper = 0.0;   // the Clopper-Pearson bound
  bool unsafe = false;  // upper > threshold
  // Whether more samples could change the verdict: the point estimate is safe but the bound is
  // not, so the planner adds samples near the threshold before it calls the candidate unsafe.
  bool undecided = false;
};

SafetyVerdict JudgeSafety(int violations, int samples, const SafetyOptions& options);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_SAFETY_H_
