// The calibration posterior as a Gaussian over the study's parameters: built from a calibration
// (calibration/calibration_json.h reads calibration.json into one) or from the parameters'
// priors, and sampled deterministically per (seed, index) for candidate simulation.
#ifndef NEXTBATCH_ENGINE_POSTERIOR_H_
#define NEXTBATCH_ENGINE_POSTERIOR_H_

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/parameter.h"

namespace nextbatch {

class Posterior {
 public:
  Posterior() = default;

  // A Gaussian with the given moments, samples clipped to [lower, upper]. Throws InputError
  // (prefixed with `where`) when sizes disagree, the covariance is not symmetric positive
  // semi-definite or a mean lies outside its bounds.
  Posterior(std::vector<std::string> names, Eigen::VectorXd mean, Eigen::MatrixXd covariance,
            Eigen::VectorXd lower, Eigen::VectorXd upper, const std::string& where = "posterior");

  // Without a calibration: each parameter independent around its prior mean with the prior's
  // std, or fixed at its initial value when it has no prior.
  static Posterior FromSpecs(const std::vector<ParameterSpec>& specs);

  int size() const { return static_cast<int>(mean_.size()); }
  const std::vector<std::string>& names() const { return names_; }
  const Eigen::VectorXd& mean() const { return mean_; }
  const Eigen::MatrixXd& covariance() const { return covariance_; }
  const Eigen::VectorXd& lower() const { return lower_; }
  const Eigen::VectorXd& upper() const { return upper_; }

  // Draw `index` of the stream (seed, Stage::kPosteriorSampling, index): mean + F z with
  // F F^T = covariance and z standard normal, clipped to the bounds. `out` is resized to size().
  void Sample(std::uint64_t seed, std::uint64_t index, Eigen::VectorXd* out) const;

 private:
  std::vector<std::string> names_;
  Eigen::VectorXd mean_, lower_, upper_;
  Eigen::MatrixXd covariance_;
  Eigen::MatrixXd factor_;  // F with F F^T = covariance (Cholesky, or eigen factor when singular)
};

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_POSTERIOR_H_
