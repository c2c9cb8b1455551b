#include "planners/gp.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/random.h"

namespace nextbatch {
namespace {

constexpr double kSqrt5 = 2.23606797749978969640;
constexpr double kLog2Pi = 1.83787706640934548356;

// Squared scaled distance r^2 = sum_f (delta_f / l_f)^2.
double ScaledSquare(const GpSpace& space, const std::vector<double>& length, const double* a,
                    const double* b) {
  double r2 = 0.0;
  for (int f = 0; f < space.dimension(); ++f) {
    const double d =
        space.categorical[f] > 0.0 ? (a[f] == b[f] ? 0.0 : space.categorical[f]) : a[f] - b[f];
    r2 += (d / length[f]) * (d / length[f]);
  }
  return r2;
}

double Matern(double s2, double r) {
  return s2 * (1.0 + kSqrt5 * r + 5.0 / 3.0 * r * r) * std::exp(-kSqrt5 * r);
}

std::string CheckHyper(const GpHyper& h, int dimension) {
  if (static_cast<int>(h.length.size()) != dimension)
    return Expected("gp: length", std::to_string(dimension) + " length scales",
                    std::to_string(h.length.size()));
  for (double l : h.length)
    if (!std::isfinite(l) || !(l > 0.0))
      return Expected("gp: length", "positive length scales", FormatNumber(l));
  if (!std::isfinite(h.signal_var) || !(h.signal_var > 0.0))
    return Expected("gp: signal_var", "a positive variance", FormatNumber(h.signal_var));
  if (!std::isfinite(h.noise_var) || h.noise_var < 0.0)
    return Expected("gp: noise_var", "a variance >= 0", FormatNumber(h.noise_var));
  return "";
}

double LogNormalPrior(double value, double center, double sd) {
  const double z = (std::log(value) - std::log(center)) / sd;
  return -0.5 * z * z - std::log(sd) - 0.5 * kLog2Pi;
}

// Hyperparameters <-> theta = (log l_f, log s2, log n2).
Eigen::VectorXd ToTheta(const GpHyper& h) {
  const int d = static_cast<int>(h.length.size());
  Eigen::VectorXd t(d + 2);
  for (int f = 0; f < d; ++f) t[f] = std::log(h.length[f]);
  t[d] = std::log(h.signal_var);
  t[d + 1] = std::log(h.noise_var);
  return t;
}

GpHyper FromTheta(const Eigen::VectorXd& t) {
  const int d = static_cast<int>(t.size()) - 2;
  GpHyper h;
  h.length.resize(d);
  for (int f = 0; f < d; ++f) h.length[f] = std::exp(t[f]);
  h.signal_var = std::exp(t[d]);
  h.noise_var = std::exp(t[d + 1]);
  return h;
}

// The box the search stays in: far wider than the priors allow, it only keeps the matrices
// finite.
Eigen::VectorXd Clamp(Eigen::VectorXd t) {
  const int d = static_cast<int>(t.size()) - 2;
  for (int f = 0; f < d; ++f) t[f] = std::clamp(t[f], std::log(1e-3), std::log(1e3));
  t[d] = std::clamp(t[d], std::log(1e-6), std::log(1e2));
  t[d + 1] = std::clamp(t[d + 1], std::log(1e-8), std::log(1e2));
  return t;
}

struct Objective {
  double value = std::numeric_limits<double>::infinity();  // -(log likelihood + log prior)
  Eigen::VectorXd gradient;
};

Objective Evaluate(const GpSpace& space, const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                   double mean, const GpPriors& priors, const Eigen::VectorXd& theta) {
  Objective o;
  const GpHyper h = FromTheta(theta);
  try {
    const GaussianProcess gp(space, x, y, mean, h);
    o.value = -(gp.LogMarginalLikelihood() + GpLogPrior(h, priors));
    o.gradient = -gp.LogMarginalLikelihoodGradient();
  } catch (const InputError&) {
    return o;  // not positive definite even with jitter: infinitely bad
  }
  const int d = space.dimension();
  for (int f = 0; f < d; ++f)
    o.gradient[f] +=
        (theta[f] - std::log(priors.length_center)) / (priors.length_sd * priors.length_sd);
  o.gradient[d] +=
      (theta[d] - std::log(priors.signal_center)) / (priors.signal_sd * priors.signal_sd);
  o.gradient[d + 1] +=
      (theta[d + 1] - std::log(priors.noise_center)) / (priors.noise_sd * priors.noise_sd);
  if (!std::isfinite(o.value) || !o.gradient.allFinite())
    o.value = std::numeric_limits<double>::infinity();
  return o;
}

// BFGS on the inverse Hessian with a backtracking (Armijo) line search, projected onto the box.
Eigen::VectorXd Minimise(const GpSpace& space, const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                         double mean, const GpPriors& priors, Eigen::VectorXd theta, int iterations,
                         double* value) {
  theta = Clamp(theta);
  Objective cur = Evaluate(space, x, y, mean, priors, theta);
  if (!std::isfinite(cur.value)) {
    *value = cur.value;
    return theta;
  }
  const int p = static_cast<int>(theta.size());
  Eigen::MatrixXd hinv = Eigen::MatrixXd::Identity(p, p);
  for (int it = 0; it < iterations; ++it) {
    if (cur.gradient.lpNorm<Eigen::Infinity>() < 1e-6) break;
    Eigen::VectorXd dir = -hinv * cur.gradient;
    if (dir.dot(cur.gradient) >= 0.0) {
      hinv.setIdentity();
      dir = -cur.gradient;
    }
    // At most one unit in log space per step: a factor e on any hyperparameter.
    const double longest = dir.lpNorm<Eigen::Infinity>();
    if (longest > 1.0) dir /= longest;
    double step = 1.0;
    Objective next;
    Eigen::VectorXd trial;
    bool moved = false;
    for (int k = 0; k < 30; ++k, step *= 0.5) {
      trial = Clamp(theta + step * dir);
      next = Evaluate(space, x, y, mean, priors, trial);
      if (next.value <= cur.value + 1e-4 * cur.gradient.dot(trial - theta)) {
        moved = true;
        break;
      }
    }
    if (!moved) break;
    const Eigen::VectorXd s = trial - theta;
    const Eigen::VectorXd g = next.gradient - cur.gradient;
    const double sy = s.dot(g);
    if (sy > 1e-12) {
      const double rho = 1.0 / sy;
      const Eigen::MatrixXd i = Eigen::MatrixXd::Identity(p, p);
      hinv = (i - rho * s * g.transpose()) * hinv * (i - rho * g * s.transpose()) +
             rho * s * s.transpose();
    }
    const double change = cur.value - next.value;
    theta = trial;
    cur = next;
    if (change < 1e-10 * (1.0 + std::abs(cur.value))) break;
  }
  *value = cur.value;
  return theta;
}

}  // namespace

double MaternKernel(const GpSpace& space, const GpHyper& hyper, const double* a, const double* b) {
  return Matern(hyper.signal_var, std::sqrt(ScaledSquare(space, hyper.length, a, b)));
}

double GpLogPrior(const GpHyper& h, const GpPriors& p) {
  double sum = 0.0;
  for (double l : h.length) sum += LogNormalPrior(l, p.length_center, p.length_sd);
  sum += LogNormalPrior(h.signal_var, p.signal_center, p.signal_sd);
  sum += LogNormalPrior(h.noise_var, p.noise_center, p.noise_sd);
  return sum;
}

GaussianProcess::GaussianProcess(GpSpace space, Eigen::MatrixXd x, Eigen::VectorXd y, double mean,
                                 GpHyper hyper)
    : space_(std::move(space)), x_(std::move(x)), y_(std::move(y)), mean_(mean), hyper_(hyper) {
  const int n = static_cast<int>(y_.size());
  const int d = space_.dimension();
  if (x_.rows() != n || x_.cols() != d)
    ThrowExpected("gp: points", std::to_string(n) + " x " + std::to_string(d),
                  std::to_string(x_.rows()) + " x " + std::to_string(x_.cols()));
  if (std::string e = CheckHyper(hyper_, d); !e.empty()) throw InputError(e);
  Eigen::MatrixXd k(n, n);
  // Row-major copies so that a point's coordinates are contiguous.
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = x_;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j)
      k(i, j) = k(j, i) = MaternKernel(space_, hyper_, rows.row(i).data(), rows.row(j).data());
  // A tiny jitter keeps the factorisation alive for repeated points without noise; it grows
  // only when the matrix is numerically singular.
  for (double jitter = 1e-10; jitter <= 1e-4; jitter *= 100.0) {
    Eigen::MatrixXd a = k;
    a.diagonal().array() += hyper_.noise_var + jitter * hyper_.signal_var;
    llt_.compute(a);
    if (llt_.info() == Eigen::Success) break;
  }
  if (llt_.info() != Eigen::Success)
    throw InputError("gp: the covariance matrix is not positive definite");
  const Eigen::VectorXd r = y_.array() - mean_;
  alpha_ = llt_.solve(r);
  const Eigen::MatrixXd l = llt_.matrixL();
  lml_ = -0.5 * r.dot(alpha_) - l.diagonal().array().log().sum() - 0.5 * n * kLog2Pi;
}

Eigen::VectorXd GaussianProcess::LogMarginalLikelihoodGradient() const {
  const int n = size();
  const int d = space_.dimension();
  // d lml / d theta_j = 0.5 tr((alpha alpha^T - K^-1) dK/dtheta_j).
  const Eigen::MatrixXd w =
      alpha_ * alpha_.transpose() - llt_.solve(Eigen::MatrixXd::Identity(n, n));
  Eigen::VectorXd g = Eigen::VectorXd::Zero(d + 2);
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = x_;
  const double s2 = hyper_.signal_var;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const double* a = rows.row(i).data();
      const double* b = rows.row(j).data();
      const double r = std::sqrt(ScaledSquare(space_, hyper_.length, a, b));
      const double e = std::exp(-kSqrt5 * r);
      // dk/d log l_f = s2 (5/3) (1 + sqrt5 r) exp(-sqrt5 r) (delta_f / l_f)^2
      const double common = s2 * 5.0 / 3.0 * (1.0 + kSqrt5 * r) * e;
      for (int f = 0; f < d; ++f) {
        const double delta = space_.categorical[f] > 0.0
                                 ? (a[f] == b[f] ? 0.0 : space_.categorical[f])
                                 : a[f] - b[f];
        const double q = delta / hyper_.length[f];
        g[f] += 0.5 * w(i, j) * common * q * q;
      }
      g[d] += 0.5 * w(i, j) * Matern(s2, r);  // dk/d log s2 = k
    }
    g[d + 1] += 0.5 * w(i, i) * hyper_.noise_var;  // dK/d log n2 = n2 I
  }
  return g;
}

GaussianProcess::Prediction GaussianProcess::Predict(const double* point) const {
  const int n = size();
  Eigen::VectorXd k(n);
  for (int i = 0; i < n; ++i) {
    Eigen::VectorXd row = x_.row(i).transpose();
    k[i] = MaternKernel(space_, hyper_, row.data(), point);
  }
  Prediction p;
  p.mean = mean_ + k.dot(alpha_);
  const Eigen::VectorXd v = llt_.matrixL().solve(k);
  p.variance = std::clamp(hyper_.signal_var - v.squaredNorm(), 0.0, hyper_.signal_var);
  return p;
}

GpFit FitGpHyper(const GpSpace& space, const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                 double mean, const GpFitOptions& options) {
  const int d = space.dimension();
  GpFit best;
  best.log_posterior = -std::numeric_limits<double>::infinity();
  // The grid: short, medium and long length scales, little and much noise, the signal at its
  // prior center; each start's length scales jittered by a factor exp(0.3 z) so that the
  // coordinates do not all start equal.
  const double lengths[] = {0.2, 0.5, 1.5};
  const double noises[] = {0.02, 0.2};
  for (double l0 : lengths) {
    for (double n0 : noises) {
      RandomStream rng(options.seed, Stage::kPlanning, 0x67700000u + best.starts);
      GpHyper start;
      for (int f = 0; f < d; ++f) start.length.push_back(l0 * std::exp(0.3 * rng.Normal()));
      start.signal_var = options.priors.signal_center;
      start.noise_var = n0;
      ++best.starts;
      double value = 0.0;
      const Eigen::VectorXd theta =
          Minimise(space, x, y, mean, options.priors, ToTheta(start), options.iterations, &value);
      if (std::isfinite(value) && -value > best.log_posterior) {
        best.log_posterior = -value;
        best.hyper = FromTheta(theta);
      }
    }
  }
  if (!std::isfinite(best.log_posterior)) throw InputError("gp: no start gave a finite likelihood");
  return best;
}

}  // namespace nextbatch
