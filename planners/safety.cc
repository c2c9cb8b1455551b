#include "planners/safety.h"

#include <boost/math/distributions/beta.hpp>
#include <cmath>

#include "engine/error.h"

namespace nextbatch {

std::string SafetyOptions::Validate() const {
  if (!(confidence > 0.0 && confidence < 1.0))
    return Expected("safety.confidence", "a number in (0, 1)", FormatNumber(confidence));
  if (!(threshold > 0.0 && threshold < 1.0))
    return Expected("safety.threshold", "a rate in (0, 1)", FormatNumber(threshold));
  if (max_samples < 0 || max_samples > kSafetyMaxSamples)
    return Expected("safety.max_samples", "an integer in 0 .. " + std::to_string(kSafetyMaxSamples),
                    std::to_string(max_samples));
  return "";
}

namespace {

void CheckCounts(int violations, int samples, double confidence) {
  if (samples < 1) ThrowExpected("safety.samples", "an integer >= 1", std::to_string(samples));
  if (violations < 0 || violations > samples)
    ThrowExpected("safety.violations", "0 .. " + std::to_string(samples),
                  std::to_string(violations));
  if (!(confidence > 0.0 && confidence < 1.0))
    ThrowExpected("safety.confidence", "a number in (0, 1)", FormatNumber(confidence));
}

}  // namespace

double ViolationLowerBound(int violations, int samples, double confidence) {
  CheckCounts(violations, samples, confidence);
  if (violations == 0) return 0.0;
  const boost::math::beta_distribution<double> beta(
      static_cast<double>(violations), static_cast<double>(samples - violations) + 1.0);
  return boost::math::quantile(beta, 1.0 - confidence);
}

double ViolationUpperBound(int violations, int samples, double confidence) {
  CheckCounts(violations, samples, confidence);
  if (violations == samples) return 1.0;
  const boost::math::beta_distribution<double> beta(violations + 1.0,
                                                    static_cast<double>(samples - violations));
  return boost::math::quantile(beta, confidence);
}

SafetyVerdict JudgeSafety(int violations, int samples, const SafetyOptions& options) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError(problem);
  SafetyVerdict v;
  v.violations = violations;
  v.samples = samples;
  v.upper = ViolationUpperBound(violations, samples, options.confidence);
  v.rate = static_cast<double>(violations) / samples;
  v.unsafe = v.upper > options.threshold;
  v.undecided = v.unsafe && v.rate <= options.threshold;
  v.lower = ViolationLowerBound(violations, samples, options.confidence);
  v.straddles = v.lower <= options.threshold && v.upper > options.threshold;
  return v;
}

SafetySampling SafetySamplingRule(const SafetyOptions& options) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError(problem);
  SafetySampling s;
  s.max_samples = options.max_samples;
  s.more = [options](int violations, int samples) {
    return samples < options.max_samples && JudgeSafety(violations, samples, options).straddles;
  };
  return s;
}

}  // namespace nextbatch
