#include "calibration/error_model.h"

#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

#include "engine/random.h"

namespace nextbatch::calib {
namespace {

double MinEigen(const Eigen::MatrixXd& m) {
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(m).eigenvalues().minCoeff();
}

// A linear-Gaussian toy, r(z) = (A z - b) / s: the Gauss-Newton step from any z is the exact
// least-squares solution minus z, and with the covariance s^2 (A^T A)^-1 its size
// sqrt(d^T Sigma^-1 d) is sqrt(|r(z)|^2 - |r(z_hat)|^2): the drop of the sum of squares to the
// optimum, computed here by a second route (the residual norms).
TEST_CASE("the remaining step of a linear-Gaussian toy is its closed form") {
  RandomStream rng(11, Stage::kTest, 0);
  const int n = 40, p = 3;
  const double s = 0.5;
  Eigen::MatrixXd a(n, p);
  Eigen::VectorXd b(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < p; ++j) a(i, j) = rng.Normal();
    b[i] = a.row(i).sum() + s * rng.Normal();
  }
  const Eigen::VectorXd z_hat = (a.transpose() * a).ldlt().solve(a.transpose() * b);
  const Eigen::VectorXd z = z_hat + Eigen::Vector3d(0.3, -0.2, 0.1);
  const Eigen::MatrixXd j = a / s;
  const Eigen::VectorXd r = (a * z - b) / s;
  RemainingStepInput in;
  in.information = j.transpose() * j;
  in.gradient = j.transpose() * r;
  in.covariance = (j.transpose() * j).inverse();
  in.fixed.assign(p, false);
  in.point = z;
  in.lower = Eigen::VectorXd::Constant(p, -INFINITY);
  in.upper = Eigen::VectorXd::Constant(p, INFINITY);
  const RemainingStep out = ComputeRemainingStep(in);
  for (int k = 0; k < p; ++k) CHECK(out.step[k] == doctest::Approx(z_hat[k] - z[k]).epsilon(1e-9));
  const double drop = r.squaredNorm() - ((a * z_hat - b) / s).squaredNorm();
  CHECK(out.size == doctest::Approx(std::sqrt(drop)).epsilon(1e-9));
  // The honest covariance is wider: the size scales with 1 / its std.
  in.covariance *= 16.0;
  CHECK(ComputeRemainingStep(in).size == doctest::Approx(std::sqrt(drop) / 4).epsilon(1e-9));
  // Never below the largest per-parameter ratio |d_j| / std_j (Cauchy-Schwarz).
  for (int k = 0; k < p; ++k) {
    CHECK(ComputeRemainingStep(in).size >=
          std::abs(z_hat[k] - z[k]) / std::sqrt(in.covariance(k, k)) - 1e-12);
  }
  // A fixed parameter takes no step.
  in.fixed[1] = true;
  CHECK(ComputeRemainingStep(in).step[1] == 0.0);
}

TEST_CASE("the remaining step holds a parameter on its bound when its step points outward") {
  // Diagonal information: the unconstrained step is -g_j / H_jj per parameter.
  RemainingStepInput in;
  in.information = Eigen::Vector3d(4, 1, 9).asDiagonal();
  in.gradient = Eigen::Vector3d(2, -3, 0.9);  // steps -0.5, 3, -0.1
  in.covariance = Eigen::Vector3d(0.25, 1, 0.01).asDiagonal();
  in.fixed.assign(3, false);
  in.point = Eigen::Vector3d(0, 1, 2);
  in.lower = Eigen::Vector3d(0, -INFINITY, -INFINITY);  // parameter 0 on its lower bound
  in.upper = Eigen::Vector3d(INFINITY, INFINITY, INFINITY);
  RemainingStep out = ComputeRemainingStep(in);
  CHECK(out.held_at_bound[0]);
  CHECK(out.step[0] == 0.0);
  CHECK(out.step[1] == doctest::Approx(3.0));
  CHECK(out.step[2] == doctest::Approx(-0.1));
  for (int j = 0; j < 3; ++j) CHECK(out.direction[j] == doctest::Approx(out.step[j]));
  // sqrt(3^2 / 1 + 0.1^2 / 0.01)
  CHECK(out.size == doctest::Approx(std::sqrt(10.0)));
  // Pointing inward, the bound does not hold it.
  in.gradient[0] = -2;
  out = ComputeRemainingStep(in);
  CHECK_FALSE(out.held_at_bound[0]);
  CHECK(out.step[0] == doctest::Approx(0.5));
  CHECK(out.size == doctest::Approx(std::sqrt(1.0 + 9.0 + 1.0)));
  // A covariance without variance where the step moves: not measurable.
  in.covariance(2, 2) = 0;
  CHECK(std::isinf(ComputeRemainingStep(in).size));
}

TEST_CASE("the remaining step stops at a bound it would cross") {
  // Diagonal information: the bounded minimiser is the unbounded step clipped, per parameter.
  RemainingStepInput in;
  in.information = Eigen::Vector3d(4, 1, 9).asDiagonal();
  in.gradient = Eigen::Vector3d(-2, -3, 0.9);  // steps 0.5, 3, -0.1
  in.covariance = Eigen::Vector3d(0.25, 1, 0.01).asDiagonal();
  in.fixed.assign(3, false);
  in.point = Eigen::Vector3d(0, 1, 2);
  in.lower = Eigen::Vector3d(-1, -INFINITY, 1.95);  // parameter 2 may fall 0.05 only
  in.upper = Eigen::Vector3d(0.2, 3, INFINITY);     // parameter 0 may rise 0.2, 1 by 2
  const RemainingStep out = ComputeRemainingStep(in);
  CHECK(out.step[0] == doctest::Approx(0.2));
  CHECK(out.step[1] == doctest::Approx(2.0));
  CHECK(out.step[2] == doctest::Approx(-0.05));
  CHECK(out.held_at_bound[0]);
  CHECK(out.held_at_bound[1]);
  CHECK(out.held_at_bound[2]);
  CHECK(out.size == doctest::Approx(std::sqrt(0.04 / 0.25 + 4.0 + 0.0025 / 0.01)));
  // The projected steps' direction is not clipped: its trials are, fraction by fraction.
  CHECK(out.direction[0] == doctest::Approx(0.5));
  CHECK(out.direction[1] == doctest::Approx(3.0));
  CHECK(out.direction[2] == doctest::Approx(-0.1));
}

// The bounded minimiser of a convex quadratic by a second method: every assignment of each
// parameter to free, its lower bound or its upper bound (3^n), the free block solved exactly;
// the feasible candidate of least model value is the minimiser.
double BruteForceModelMinimum(const Eigen::MatrixXd& h, const Eigen::VectorXd& g,
                              const Eigen::VectorXd& lo, const Eigen::VectorXd& hi) {
  const int n = static_cast<int>(g.size());
  int combos = 1;
  for (int i = 0; i < n; ++i) combos *= 3;
  double best = INFINITY;
  for (int c = 0; c < combos; ++c) {
    Eigen::VectorXd d = Eigen::VectorXd::Zero(n);
    std::vector<int> free;
    int code = c;
    for (int i = 0; i < n; ++i, code /= 3) {
      if (code % 3 == 0) free.push_back(i);
      if (code % 3 == 1) d[i] = lo[i];
      if (code % 3 == 2) d[i] = hi[i];
    }
    const int m = static_cast<int>(free.size());
    Eigen::MatrixXd hf(m, m);
    Eigen::VectorXd rf(m);
    for (int a = 0; a < m; ++a) {
      rf[a] = g[free[a]];
      for (int k = 0; k < n; ++k) {
        if (std::find(free.begin(), free.end(), k) == free.end()) rf[a] += h(free[a], k) * d[k];
      }
      for (int b = 0; b < m; ++b) hf(a, b) = h(free[a], free[b]);
    }
    if (m > 0) {
      const Eigen::VectorXd x = -hf.ldlt().solve(rf);
      for (int a = 0; a < m; ++a) d[free[a]] = x[a];
    }
    bool inside = true;
    for (int i = 0; i < n; ++i) inside = inside && d[i] >= lo[i] - 1e-12 && d[i] <= hi[i] + 1e-12;
    if (inside) best = std::min(best, g.dot(d) + 0.5 * d.dot(h * d));
  }
  return best;
}

TEST_CASE("the bounded remaining step is the bounded minimiser of the local model") {
  RandomStream rng(23, Stage::kTest, 0);
  int bound_active = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 2 + trial % 4;
    // Correlated information with condition numbers up to about 1e6.
    Eigen::MatrixXd a(n + 3, n);
    for (int i = 0; i < a.rows(); ++i) {
      for (int j = 0; j < n; ++j) a(i, j) = rng.Normal();
    }
    Eigen::VectorXd w(n);
    for (int j = 0; j < n; ++j) w[j] = std::pow(10.0, 3.0 * rng.Uniform() - 1.5);
    const Eigen::MatrixXd h = w.asDiagonal() * a.transpose() * a * w.asDiagonal();
    Eigen::VectorXd g(n);
    for (int j = 0; j < n; ++j) g[j] = rng.Normal() * w[j];
    RemainingStepInput in;
    in.information = h;
    in.gradient = g;
    in.covariance = h.inverse();
    in.fixed.assign(n, false);
    in.point = Eigen::VectorXd::Constant(n, 1.0);
    in.lower.resize(n);
    in.upper.resize(n);
    for (int j = 0; j < n; ++j) {
      // Some parameters on a bound, the rest a random distance from each.
      in.lower[j] = rng.Uniform() < 0.25 ? 1.0 : 1.0 - rng.Uniform() / w[j];
      in.upper[j] = rng.Uniform() < 0.25 ? 1.0 : 1.0 + rng.Uniform() / w[j];
    }
    const RemainingStep out = ComputeRemainingStep(in);
    const Eigen::VectorXd lo = in.lower - in.point, hi = in.upper - in.point;
    for (int j = 0; j < n; ++j) {
      CHECK(out.step[j] >= lo[j] - 1e-12);
      CHECK(out.step[j] <= hi[j] + 1e-12);
      if (out.held_at_bound[j]) {
        ++bound_active;
        CHECK((out.step[j] == lo[j] || out.step[j] == hi[j]));
      }
    }
    const double q = g.dot(out.step) + 0.5 * out.step.dot(h * out.step);
    const double best = BruteForceModelMinimum(h, g, lo, hi);
    CHECK(q == doctest::Approx(best).epsilon(1e-8).scale(std::abs(g.dot(h.ldlt().solve(g)))));
  }
  CHECK(bound_active > 100);  // the bounds did interfere, often
}

TEST_CASE("Student's t quantiles match the tables") {
  CHECK(StudentTQuantile(0.975, 1) == doctest::Approx(12.7062).epsilon(1e-4));
  CHECK(StudentTQuantile(0.975, 2) == doctest::Approx(4.3027).epsilon(1e-4));
  CHECK(StudentTQuantile(0.975, 9) == doctest::Approx(2.2622).epsilon(1e-4));
  CHECK(StudentTQuantile(0.975, 30) == doctest::Approx(2.0423).epsilon(1e-4));
  CHECK(StudentTQuantile(0.95, 5) == doctest::Approx(2.0150).epsilon(1e-4));
  CHECK(StudentTQuantile(0.975, 100000) == doctest::Approx(1.95996).epsilon(1e-4));
}

TEST_CASE("the Loewner upper bound lies above both matrices and is the larger where they commute") {
  // Diagonal (commuting): the element-wise maximum.
  Eigen::MatrixXd a = Eigen::Vector3d(1, 4, 2).asDiagonal();
  Eigen::MatrixXd b = Eigen::Vector3d(3, 1, 2).asDiagonal();
  Eigen::MatrixXd u = LoewnerUpper(a, b);
  CHECK((u - Eigen::MatrixXd(Eigen::Vector3d(3, 4, 2).asDiagonal())).norm() < 1e-12);
  // A general pair: above both, and equal to the floor when the other is below it.
  Eigen::MatrixXd f(2, 2), o(2, 2);
  f << 2, 0.5, 0.5, 1;
  o << 1, -0.9, -0.9, 3;
  u = LoewnerUpper(f, o);
  CHECK(MinEigen(u - f) > -1e-12);
  CHECK(MinEigen(u - o) > -1e-12);
  CHECK((LoewnerUpper(f, 0.5 * f) - f).norm() < 1e-12);
  CHECK((LoewnerUpper(f, 2 * f) - 2 * f).norm() < 1e-12);
}

// A scalar linear model y = x theta + e in G clusters: the error model's honest variance is the
// larger of s^2 / A and the CR2 sandwich with the t correction, in closed form.
TEST_CASE("scalar regression: the honest variance is max(s^2 / A, CR2 sandwich x (t/z)^2)") {
  RandomStream rng(5, Stage::kTest, 0);
  const int clusters = 12, per = 30;
  ErrorModelInput in;
  in.fixed = {false};
  in.prior_precision = Eigen::VectorXd::Zero(1);
  double a = 0, ss = 0;
  std::vector<double> sums, infos;
  for (int g = 0; g < clusters; ++g) {
    const double shared = 2.0 * rng.Normal();  // a cluster effect: residuals correlated within
    double score = 0, info = 0;
    for (int i = 0; i < per; ++i) {
      const double x = rng.Uniform(0.5, 1.5 + g);  // unequal clusters: unequal leverage
      const double e = shared + rng.Normal();
      info += x * x;
      ss += e * e;
      score += x * e;
    }
    a += info;
    // two "segments" per cluster, not adjacent in time, so that segment and episode clustering
    // differ
    for (double share : {0.4, 0.6}) {
      in.scores.push_back(Eigen::VectorXd::Constant(1, share * score));
      in.segment_information.push_back(Eigen::MatrixXd::Constant(1, 1, 0.5 * info));
      in.episode.push_back(g);
      in.segment.push_back(4 * g + (share < 0.5 ? 0 : 2));
    }
    sums.push_back(score);
    infos.push_back(info);
  }
  in.information = Eigen::MatrixXd::Constant(1, 1, a);
  in.sum_psi_squared = ss;
  in.residuals = clusters * per;
  in.unknowns = 1;
  in.min_episode_clusters = 10;
  const ErrorModelOutput out = ComputeErrorModel(in);
  REQUIRE(out.regular);
  // Whitened (w = sqrt(A) theta): scores S_g / sqrt(A), each divided by sqrt(1 - A_g / A).
  std::vector<double> adjusted;
  double mean = 0;
  for (int g = 0; g < clusters; ++g) {
    adjusted.push_back(sums[g] / std::sqrt(a) / std::sqrt(1 - infos[g] / a));
    mean += adjusted.back() / clusters;
  }
  double meat = 0;
  for (double v : adjusted) meat += (v - mean) * (v - mean);
  const double n = in.residuals;
  // The effective number of clusters (unequal clusters count less): (sum u)^2 / sum u^2.
  double su = 0, su2 = 0;
  for (double info : infos) su += info / a, su2 += (info / a) * (info / a);
  const double effective = su * su / su2;
  CHECK(effective < clusters - 2);
  const double t =
      StudentTQuantile(0.975, static_cast<int>(std::floor(effective)) - 1) / 1.959963984540054;
  const double cr2 = clusters / (clusters - 1.0) * meat * t * t / a;
  const double s2 = ss / (n - 1);
  CHECK(out.model.clustering == "episode");
  CHECK(out.model.clusters == clusters);
  CHECK(out.model.small_sample == doctest::Approx(t * t));
  CHECK(out.model.residual_scale == doctest::Approx(s2));
  CHECK(out.covariance(0, 0) == doctest::Approx(std::max(s2 / a, cr2)).epsilon(1e-9));
  CHECK(cr2 > 3 * s2 / a);  // the cluster effect dominates here
  CHECK(out.model.between_episode > 1.5);
  CHECK(out.model.inflation == doctest::Approx(out.covariance(0, 0) * a).epsilon(1e-9));

  // A prior adds its precision to the honest data information.
  in.prior_precision[0] = 2.0 / out.covariance(0, 0);
  const ErrorModelOutput with = ComputeErrorModel(in);
  CHECK(with.covariance(0, 0) == doctest::Approx(out.covariance(0, 0) / 3).epsilon(1e-9));

  // Fewer episodes than min_episode_clusters: segment clusters, which miss the cluster effect
  // shared by the two halves.
  in.min_episode_clusters = 100;
  const ErrorModelOutput seg = ComputeErrorModel(in);
  CHECK(seg.model.clustering == "segment");
  CHECK(seg.model.clusters == 2 * clusters);
  CHECK(std::isnan(seg.model.between_episode));
}

TEST_CASE("independent residuals: the honest covariance is about s^2 times the formal one") {
  // Two parameters, independent unit noise: the sandwich scatters around s^2 A^-1, and the
  // honest covariance (their upper bound) stays within the scatter of a 60-cluster estimate.
  RandomStream rng(9, Stage::kTest, 0);
  ErrorModelInput in;
  in.fixed = {false, false};
  in.prior_precision = Eigen::VectorXd::Zero(2);
  Eigen::Matrix2d a = Eigen::Matrix2d::Zero();
  double ss = 0;
  for (int s = 0; s < 60; ++s) {
    Eigen::Vector2d score = Eigen::Vector2d::Zero();
    Eigen::Matrix2d info = Eigen::Matrix2d::Zero();
    for (int i = 0; i < 40; ++i) {
      const Eigen::Vector2d x(1.0, 0.05 * i);
      const double e = rng.Normal();
      info += x * x.transpose();
      score += x * e;
      ss += e * e;
    }
    in.scores.push_back(score);
    in.segment_information.push_back(info);
    a += info;
    in.episode.push_back(s / 20);
    in.segment.push_back(s);
  }
  in.information = a;
  in.sum_psi_squared = ss;
  in.residuals = 60 * 40;
  in.unknowns = 2;
  const ErrorModelOutput out = ComputeErrorModel(in);
  REQUIRE(out.regular);
  CHECK(out.model.clustering == "segment");  // 3 episodes: too few
  const Eigen::Matrix2d formal = out.model.residual_scale * a.inverse();
  for (int j = 0; j < 2; ++j) {
    CHECK(out.covariance(j, j) >= formal(j, j) * (1 - 1e-9));
    CHECK(out.covariance(j, j) < 1.6 * formal(j, j));
  }
  CHECK(out.model.serial_correlation == doctest::Approx(1.0).epsilon(0.35));
  CHECK(out.model.discrepancy.empty());
}

TEST_CASE("a fixed parameter and one only a prior holds") {
  ErrorModelInput in;
  in.fixed = {true, false, false};
  in.prior_precision = Eigen::Vector3d(0, 0, 4.0);
  in.information = Eigen::Matrix3d::Zero();
  in.information(1, 1) = 100;  // the data see parameter 1 only
  in.scores = {Eigen::Vector3d(0, 1, 0), Eigen::Vector3d(0, -1, 0), Eigen::Vector3d(0, 2, 0)};
  in.segment_information.assign(3, in.information / 3);
  in.episode = {0, 1, 2};
  in.segment = {0, 1, 2};
  in.sum_psi_squared = 300;
  in.residuals = 301;
  in.unknowns = 1;
  const ErrorModelOutput out = ComputeErrorModel(in);
  REQUIRE(out.regular);
  CHECK(out.covariance(0, 0) == 0.0);
  CHECK(out.covariance(2, 2) == doctest::Approx(0.25));  // the prior's variance
  CHECK(out.covariance(1, 2) == 0.0);
  CHECK(out.covariance(1, 1) >= 1.0 / 100 * (1 - 1e-12));
  // Without the prior nothing holds parameter 2.
  in.prior_precision[2] = 0;
  CHECK_FALSE(ComputeErrorModel(in).regular);
}

}  // namespace
}  // namespace nextbatch::calib
