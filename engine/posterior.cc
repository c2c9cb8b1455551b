#include "engine/posterior.h"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "engine/random.h"

namespace nextbatch {
namespace {

std::string Num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", x);
  return buf;
}

}  // namespace

Posterior::Posterior(std::vector<std::string> names, Eigen::VectorXd mean,
                     Eigen::MatrixXd covariance, Eigen::VectorXd lower, Eigen::VectorXd upper,
                     const std::string& where)
    : names_(std::move(names)),
      mean_(std::move(mean)),
      lower_(std::move(lower)),
      upper_(std::move(upper)),
      covariance_(std::move(covariance)) {
  const Eigen::Index n = mean_.size();
  if (static_cast<Eigen::Index>(names_.size()) != n || lower_.size() != n || upper_.size() != n) {
    ThrowExpected(where, std::to_string(n) + " names and bounds",
                  std::to_string(names_.size()) + " names");
  }
  if (covariance_.rows() != n || covariance_.cols() != n) {
    ThrowExpected(where + ": covariance", std::to_string(n) + " x " + std::to_string(n),
                  std::to_string(covariance_.rows()) + " x " + std::to_string(covariance_.cols()));
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    if (!std::isfinite(mean_[i])) ThrowExpected(where + ": " + names_[i], "a finite value", "NaN");
    if (!(lower_[i] <= mean_[i] && mean_[i] <= upper_[i])) {
      ThrowExpected(where + ": " + names_[i],
                    "a value within [" + Num(lower_[i]) + ", " + Num(upper_[i]) + "]",
                    Num(mean_[i]));
    }
    for (Eigen::Index j = 0; j < n; ++j) {
      const double a = covariance_(i, j), b = covariance_(j, i);
      if (!std::isfinite(a) || std::abs(a - b) > 1e-9 * (1 + std::abs(a) + std::abs(b))) {
        ThrowExpected(where + ": covariance", "a finite symmetric matrix",
                      "entry (" + std::to_string(i) + ", " + std::to_string(j) + ") = " + Num(a) +
                          " against " + Num(b));
      }
    }
  }
  factor_ = Eigen::MatrixXd::Zero(n, n);
  if (n == 0) return;
  // Work on the correlation so that the tolerance does not depend on the parameters' units.
  Eigen::VectorXd sd = covariance_.diagonal().cwiseMax(0.0).cwiseSqrt();
  std::vector<Eigen::Index> free;
  for (Eigen::Index i = 0; i < n; ++i) {
    if (covariance_(i, i) < 0) {
      ThrowExpected(where + ": covariance of " + names_[i], "a variance >= 0",
                    Num(covariance_(i, i)));
    }
    if (sd[i] > 0) free.push_back(i);
  }
  const Eigen::Index k = static_cast<Eigen::Index>(free.size());
  Eigen::MatrixXd corr(k, k);
  for (Eigen::Index a = 0; a < k; ++a) {
    for (Eigen::Index b = 0; b < k; ++b) {
      corr(a, b) = covariance_(free[a], free[b]) / (sd[free[a]] * sd[free[b]]);
    }
  }
  Eigen::MatrixXd f(k, k);
  Eigen::LLT<Eigen::MatrixXd> llt(corr);
  if (llt.info() == Eigen::Success) {
    f = llt.matrixL();
  } else {
    // Singular (e.g. a perfectly correlated pair or rounding in the file): an eigen factor.
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(corr);
    const double smallest = k ? eig.eigenvalues().minCoeff() : 0.0;
    if (smallest < -1e-6) {
      ThrowExpected(where + ": correlation", "a positive semi-definite matrix",
                    "smallest eigenvalue " + Num(smallest));
    }
    f = eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
  }
  for (Eigen::Index a = 0; a < k; ++a) {
    for (Eigen::Index b = 0; b < k; ++b) factor_(free[a], free[b]) = sd[free[a]] * f(a, b);
  }
}

Posterior Posterior::FromSpecs(const std::vector<ParameterSpec>& specs) {
  const Eigen::Index n = static_cast<Eigen::Index>(specs.size());
  std::vector<std::string> names;
  Eigen::VectorXd mean(n), lower(n), upper(n);
  Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double sd = specs[i].PriorStd();
    names.push_back(specs[i].name);
    mean[i] = specs[i].PriorMean();
    mean[i] = std::clamp(mean[i], specs[i].lower, specs[i].upper);
    cov(i, i) = sd * sd;
    lower[i] = specs[i].lower;
    upper[i] = specs[i].upper;
  }
  return Posterior(names, mean, cov, lower, upper, "parameters");
}

void Posterior::Sample(std::uint64_t seed, std::uint64_t index, Eigen::VectorXd* out) const {
  const Eigen::Index n = mean_.size();
  out->resize(n);
  RandomStream rng(seed, Stage::kPosteriorSampling, index);
  // z drawn in a fixed order and F applied row by row: no temporaries beyond `out`.
  double z_small[16];
  std::vector<double> z_large;
  double* z = z_small;
  if (n > 16) {
    z_large.resize(n);
    z = z_large.data();
  }
  for (Eigen::Index i = 0; i < n; ++i) z[i] = rng.Normal();
  for (Eigen::Index i = 0; i < n; ++i) {
    double x = mean_[i];
    for (Eigen::Index j = 0; j < n; ++j) x += factor_(i, j) * z[j];
    (*out)[i] = std::clamp(x, lower_[i], upper_[i]);
  }
}

}  // namespace nextbatch
