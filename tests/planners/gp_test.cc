#include "planners/gp.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "engine/random.h"

namespace nextbatch {
namespace {

double MaternByHand(double s2, double r) {
  return s2 * (1.0 + std::sqrt(5.0) * r + 5.0 * r * r / 3.0) * std::exp(-std::sqrt(5.0) * r);
}

TEST_CASE("gp: mean, variance and marginal likelihood on two points against the closed form") {
  const GpSpace space{{0.0}};
  const double s2 = 0.5, n2 = 0.1, l = 0.4, m = 0.2;
  Eigen::MatrixXd x(2, 1);
  x << 0.0, 0.3;
  Eigen::VectorXd y(2);
  y << 1.0, -0.5;
  const GaussianProcess gp(space, x, y, m, {{l}, s2, n2});
  // K = [[a, c], [c, a]], K^-1 = [[a, -c], [-c, a]] / (a^2 - c^2)
  const double a = s2 + n2, c = MaternByHand(s2, 0.3 / l), det = a * a - c * c;
  const double r1 = y[0] - m, r2 = y[1] - m;
  const double lml = -0.5 * (a * r1 * r1 - 2 * c * r1 * r2 + a * r2 * r2) / det -
                     0.5 * std::log(det) - std::log(2.0 * M_PI);
  CHECK(gp.LogMarginalLikelihood() == doctest::Approx(lml).epsilon(1e-9));
  for (double xs : {0.1, -0.2, 0.7}) {
    const double k1 = MaternByHand(s2, std::abs(xs - 0.0) / l);
    const double k2 = MaternByHand(s2, std::abs(xs - 0.3) / l);
    const double mean = m + (k1 * (a * r1 - c * r2) + k2 * (-c * r1 + a * r2)) / det;
    const double var = s2 - (a * k1 * k1 - 2 * c * k1 * k2 + a * k2 * k2) / det;
    const GaussianProcess::Prediction p = gp.Predict(&xs);
    CHECK(p.mean == doctest::Approx(mean).epsilon(1e-9));
    CHECK(p.variance == doctest::Approx(var).epsilon(1e-9));
  }
}

TEST_CASE("gp: a categorical coordinate by exact match at its stated distance") {
  const GpSpace space{{0.0, 0.7}};  // continuous, then categorical with distance 0.7
  const GpHyper h{{0.5, 0.35}, 0.3, 0.0};
  const double a[] = {0.2, 1.0}, same[] = {0.2, 1.0}, other[] = {0.2, 2.0}, far[] = {0.2, 5.0};
  const double shifted[] = {0.6, 2.0};
  CHECK(MaternKernel(space, h, a, same) == doctest::Approx(0.3));
  // any other level lies 0.7 away, whatever the level indices
  CHECK(MaternKernel(space, h, a, other) == doctest::Approx(MaternByHand(0.3, 0.7 / 0.35)));
  CHECK(MaternKernel(space, h, a, far) == doctest::Approx(MaternByHand(0.3, 0.7 / 0.35)));
  const double r = std::sqrt((0.4 / 0.5) * (0.4 / 0.5) + 2.0 * 2.0);
  CHECK(MaternKernel(space, h, a, shifted) == doctest::Approx(MaternByHand(0.3, r)));
}

TEST_CASE("gp: the likelihood's gradient against central differences") {
  const GpSpace space{{0.0, 0.0, 1.0}};
  const int n = 9;
  RandomStream rng(5, Stage::kTest, 1);
  Eigen::MatrixXd x(n, 3);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    x(i, 0) = rng.Uniform();
    x(i, 1) = rng.Uniform();
    x(i, 2) = static_cast<double>(rng.UniformInt(3));
    y[i] = rng.Normal();
  }
  const GpHyper h{{0.3, 0.8, 0.6}, 0.7, 0.05};
  const Eigen::VectorXd g = GaussianProcess(space, x, y, 0.1, h).LogMarginalLikelihoodGradient();
  const double step = 1e-5;
  for (int j = 0; j < 5; ++j) {
    auto at = [&](double delta) {
      GpHyper k = h;
      if (j < 3) k.length[j] *= std::exp(delta);
      if (j == 3) k.signal_var *= std::exp(delta);
      if (j == 4) k.noise_var *= std::exp(delta);
      return GaussianProcess(space, x, y, 0.1, k).LogMarginalLikelihood();
    };
    const double fd = (at(step) - at(-step)) / (2 * step);
    CAPTURE(j);
    CHECK(g[j] == doctest::Approx(fd).epsilon(1e-6));
  }
}

TEST_CASE("gp: far from the data the prediction returns to the prior") {
  const GpSpace space{{0.0, 0.0}};
  Eigen::MatrixXd x(4, 2);
  x << 0.1, 0.2, 0.5, 0.5, 0.9, 0.1, 0.3, 0.8;
  Eigen::VectorXd y(4);
  y << 1.0, 0.0, 1.0, 1.0;
  const GaussianProcess gp(space, x, y, 0.5, {{0.3, 0.3}, 0.25, 0.1});
  double last = 0.0;
  for (double d : {0.0, 0.2, 0.5, 1.0, 2.0}) {
    const double p[] = {0.5 + d, 0.5 + d};
    const double v = gp.Predict(p).variance;
    CHECK(v >= last);  // grows away from the data
    last = v;
  }
  const double far[] = {40.0, -30.0};
  CHECK(gp.Predict(far).variance == doctest::Approx(0.25).epsilon(1e-12));
  CHECK(gp.Predict(far).mean == doctest::Approx(0.5).epsilon(1e-12));
  const double near[] = {0.5, 0.5};
  CHECK(gp.Predict(near).variance < 0.25 * 0.5);
}

TEST_CASE("gp: without noise the mean interpolates the data exactly") {
  const GpSpace space{{0.0}};
  Eigen::MatrixXd x(5, 1);
  x << 0.0, 0.15, 0.4, 0.7, 1.0;
  Eigen::VectorXd y(5);
  y << 0.3, -1.0, 2.0, 0.5, 0.0;
  const GaussianProcess gp(space, x, y, 0.0, {{0.2}, 1.0, 0.0});
  for (int i = 0; i < 5; ++i) {
    const GaussianProcess::Prediction p = gp.Predict(&x(i, 0));
    CHECK(p.mean == doctest::Approx(y[i]).epsilon(1e-6));
    CHECK(p.variance < 1e-6);
  }
}

// Draws from the prior with a hidden length scale: the fit recovers it, and never ends below the
// hidden hyperparameters' own log posterior.
TEST_CASE("gp: the fitted length scale recovers a hidden one on draws from the prior") {
  const GpSpace space{{0.0}};
  const GpHyper truth{{0.25}, 0.25, 0.01};
  const int n = 40, seeds = 20;
  std::vector<double> fitted;
  for (int seed = 0; seed < seeds; ++seed) {
    RandomStream rng(seed, Stage::kTest, 7);
    Eigen::MatrixXd x(n, 1);
    for (int i = 0; i < n; ++i) x(i, 0) = rng.Uniform();
    Eigen::MatrixXd k(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        k(i, j) = MaternKernel(space, truth, &x(i, 0), &x(j, 0)) + (i == j ? truth.noise_var : 0);
    const Eigen::MatrixXd l = k.llt().matrixL();
    Eigen::VectorXd z(n);
    for (int i = 0; i < n; ++i) z[i] = rng.Normal();
    const Eigen::VectorXd y = l * z;
    GpFitOptions o;
    o.seed = seed;
    const GpFit fit = FitGpHyper(space, x, y, 0.0, o);
    CHECK(fit.starts == 6);
    const double at_truth = GaussianProcess(space, x, y, 0.0, truth).LogMarginalLikelihood() +
                            GpLogPrior(truth, o.priors);
    CHECK(fit.log_posterior >= at_truth - 1e-9);
    fitted.push_back(fit.hyper.length[0]);
  }
  std::sort(fitted.begin(), fitted.end());
  const double median = 0.5 * (fitted[seeds / 2 - 1] + fitted[seeds / 2]);
  MESSAGE("gp: hidden length 0.25, median fitted over " << seeds << " draws " << median
                                                        << ", range " << fitted.front() << " .. "
                                                        << fitted.back());
  CHECK(median > 0.25 / 1.5);
  CHECK(median < 0.25 * 1.5);
}

}  // namespace
}  // namespace nextbatch
