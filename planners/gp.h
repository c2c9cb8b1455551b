// A small Gaussian-process regression for the planner's uncertainty components fitted on real
// outcomes (planners/real_outcome_model.h): a constant prior mean, a Matern 5/2 kernel with one
// length scale per factor, a signal variance and a Gaussian noise variance.
//
// Inputs are points with one coordinate per factor. A continuous coordinate contributes its
// difference; a categorical one (a level index) contributes 0 when the levels match and a stated
// distance d when they do not (exact match, as in planners/coverage.h). With per-factor
// differences delta_f and length scales l_f,
//   r = sqrt(sum_f (delta_f / l_f)^2),
//   k(a, b) = s2 (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r),
// and y = m + f(x) + e, f ~ GP(0, k), e ~ N(0, n2).
//
// Why Matern 5/2 and not the squared exponential: robot outcomes change quickly across a
// threshold (a torque limit that no longer suffices), and the squared exponential's infinitely
// smooth draws make it choose long length scales and be overconfident between points; Matern
// 5/2 draws are twice differentiable, which is as smooth as the outcome rates are and no more.
//
// Fitting maximises log p(y | theta) + log p(theta) over theta = (log l_f, log s2, log n2) with
// independent normal priors on each log hyperparameter (GpPriors), by BFGS with the analytic
// gradient from every start of a small grid whose length scales are jittered by a seeded random
// stream; the best end point wins. Deterministic for a given seed.
#ifndef NEXTBATCH_PLANNERS_GP_H_
#define NEXTBATCH_PLANNERS_GP_H_

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace nextbatch {

struct GpHyper {
  std::vector<double> length;  // per coordinate, > 0
  double signal_var = 0.25;    // s2, > 0: the latent function's prior variance
  double noise_var = 0.1;      // n2, >= 0
};

// Normal priors on the natural logarithms of the hyperparameters: log x ~ N(log center, sd^2).
struct GpPriors {
  double length_center = 0.5;  // half a factor's normalised range
  double length_sd = 1.0;
  double signal_center = 0.25;
  double signal_sd = 1.0;
  double noise_center = 0.1;
  double noise_sd = 1.0;
};

// The coordinates' kinds: `categorical[f]` > 0 makes coordinate f categorical with that
// mismatch distance; 0 makes it continuous.
struct GpSpace {
  std::vector<double> categorical;
  int dimension() const { return static_cast<int>(categorical.size()); }
};

// Matern 5/2 covariance between two points of `space` (each dimension() values).
double MaternKernel(const GpSpace& space, const GpHyper& hyper, const double* a, const double* b);

class GaussianProcess {
 public:
  // x: n x dimension() points, y: n values, mean: the constant prior mean. Throws InputError for
  // sizes that do not match or invalid hyperparameters.
  GaussianProcess(GpSpace space, Eigen::MatrixXd x, Eigen::VectorXd y, double mean, GpHyper hyper);

  int size() const { return static_cast<int>(y_.size()); }
  const GpHyper& hyper() const { return hyper_; }
  // log p(y | hyper), the Gaussian marginal likelihood.
  double LogMarginalLikelihood() const { return lml_; }
  // Its gradient with respect to (log l_1 .. log l_D, log s2, log n2).
  Eigen::VectorXd LogMarginalLikelihoodGradient() const;

  struct Prediction {
    double mean = 0.0;
    double variance = 0.0;  // of the latent f (noise excluded), in [0, s2]
  };
  Prediction Predict(const double* point) const;

 private:
  GpSpace space_;
  Eigen::MatrixXd x_;
  Eigen::VectorXd y_;
  double mean_;
  GpHyper hyper_;
  Eigen::LLT<Eigen::MatrixXd> llt_;
  Eigen::VectorXd alpha_;  // K^-1 (y - mean)
  double lml_ = 0.0;
};

// The log prior density of `hyper` under `priors` (up to nothing: normalised normals on logs).
double GpLogPrior(const GpHyper& hyper, const GpPriors& priors);

struct GpFitOptions {
  GpPriors priors;
  std::uint64_t seed = 0;
  int iterations = 200;  // BFGS iterations per start
};

struct GpFit {
  GpHyper hyper;
  double log_posterior = 0.0;  // log marginal likelihood + log prior at hyper
  int starts = 0;
};

// The maximum a posteriori hyperparameters for (x, y) with a constant prior mean `mean`.
GpFit FitGpHyper(const GpSpace& space, const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                 double mean, const GpFitOptions& options);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_GP_H_
