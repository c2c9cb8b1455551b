#include "engine/posterior.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch {
namespace {

std::vector<ParameterSpec> Specs() { return testing::PosteriorSpecs(); }

TEST_CASE("posterior samples are clipped to the bounds, priors stand in without a calibration") {
  std::vector<ParameterSpec> specs = Specs();
  specs[2].prior_mean = 0.05;
  specs[2].prior_std = 0.1;  // half its draws fall below the lower bound 0
  Posterior p = Posterior::FromSpecs(specs);
  CHECK(p.mean()[0] == 0.5);
  CHECK(p.covariance()(0, 0) == 0.0);
  int at_bound = 0;
  Eigen::VectorXd x;
  for (int i = 0; i < 2000; ++i) {
    p.Sample(1, i, &x);
    CHECK(x[2] >= 0.0);
    CHECK(x[0] == 0.5);
    at_bound += x[2] == 0.0;
  }
  // P(N(0.05, 0.1) < 0) = Phi(-0.5) = 0.3085
  CHECK(at_bound / 2000.0 == doctest::Approx(0.3085).epsilon(0.12));
}

TEST_CASE("a singular correlation (perfectly correlated pair) still samples on the line") {
  Eigen::Matrix2d cov;
  cov << 1, 2, 2, 4;
  Posterior p({"a", "b"}, Eigen::Vector2d(0, 0), cov, Eigen::Vector2d(-1e9, -1e9),
              Eigen::Vector2d(1e9, 1e9));
  Eigen::VectorXd x;
  for (int i = 0; i < 50; ++i) {
    p.Sample(3, i, &x);
    CHECK(x[1] == doctest::Approx(2 * x[0]).epsilon(1e-9));
  }
}

}  // namespace
}  // namespace nextbatch
