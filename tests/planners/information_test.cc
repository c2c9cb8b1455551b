#include "planners/information.h"

#include <doctest/doctest.h>

#include <Eigen/LU>
#include <cmath>

#include "engine/error.h"
#include "engine/random.h"

namespace nextbatch {
namespace {

Eigen::MatrixXd RandomSpd(int n, std::uint64_t index, double shift) {
  RandomStream random(3, Stage::kTest, index);
  Eigen::MatrixXd a(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) a(i, j) = random.Normal();
  return a * a.transpose() + shift * Eigen::MatrixXd::Identity(n, n);
}

Eigen::VectorXd RandomVector(int n, std::uint64_t index) {
  RandomStream random(4, Stage::kTest, index);
  Eigen::VectorXd v(n);
  for (int i = 0; i < n; ++i) v(i) = random.Normal();
  return v;
}

TEST_CASE("log-det gain: scalar linear-Gaussian closed form") {
  for (double p : {1e-6, 0.5, 4.0, 1e8}) {
    for (double i : {0.0, 1e-3, 2.0, 1e6}) {
      const Eigen::MatrixXd P = Eigen::MatrixXd::Constant(1, 1, p);
      const Eigen::MatrixXd I = Eigen::MatrixXd::Constant(1, 1, i);
      CHECK(LogDetGain(P, I) == doctest::Approx(std::log1p(i / p)).epsilon(1e-12));
    }
  }
}

TEST_CASE("log-det gain: matrix linear-Gaussian closed form through Sylvester's identity") {
  // y = G theta + e, e ~ N(0, R): I = G^T R^-1 G and the gain is also
  // log det(R + G P^-1 G^T) - log det(R), a determinant of the other size.
  for (int trial = 0; trial < 10; ++trial) {
    const int n = 4, m = 2 + trial % 3;
    const Eigen::MatrixXd P = RandomSpd(n, trial, 0.1);
    const Eigen::MatrixXd R = RandomSpd(m, 100 + trial, 0.5);
    Eigen::MatrixXd G(m, n);
    for (int r = 0; r < m; ++r) G.row(r) = RandomVector(n, 200 + 10 * trial + r).transpose();
    const Eigen::MatrixXd I = G.transpose() * R.inverse() * G;
    const double other =
        std::log((R + G * P.inverse() * G.transpose()).determinant()) - std::log(R.determinant());
    CHECK(LogDetGain(P, I) == doctest::Approx(other).epsilon(1e-10));
    CHECK(LogDetGain(P, I) ==
          doctest::Approx(std::log((P + I).determinant() / P.determinant())).epsilon(1e-10));
  }
}

TEST_CASE("log-det gain: a rank-one update agrees with the matrix determinant lemma") {
  for (int trial = 0; trial < 10; ++trial) {
    const Eigen::MatrixXd P = RandomSpd(5, 20 + trial, 0.01);
    const Eigen::VectorXd g = RandomVector(5, 300 + trial);
    const double sigma = 0.1 * (trial + 1);
    const Eigen::MatrixXd I = g * g.transpose() / (sigma * sigma);
    const double lemma = std::log1p(g.dot(P.llt().solve(g)) / (sigma * sigma));
    CHECK(LogDetGain(P, I) == doctest::Approx(lemma).epsilon(1e-11));
  }
}

TEST_CASE("log-det gain: a precision with an undetermined parameter is ridged, as stated") {
  Eigen::MatrixXd P = Eigen::MatrixXd::Zero(2, 2);
  P(0, 0) = 1.0;
  bool ridged = false;
  const Eigen::MatrixXd r = Regularised(P, 1e-9, &ridged);
  CHECK(ridged);
  CHECK(r(1, 1) == doctest::Approx(0.5e-9));
  Eigen::MatrixXd I = Eigen::MatrixXd::Zero(2, 2);
  I(0, 0) = 1.0;
  // Nothing learnt about the undetermined parameter: log 2 from the first one alone.
  CHECK(LogDetGain(P, I) == doctest::Approx(std::log(2.0)).epsilon(1e-8));
  Regularised(Eigen::MatrixXd::Identity(2, 2), 1e-9, &ridged);
  CHECK_FALSE(ridged);
  CHECK_THROWS_AS(LogDetGain(P, Eigen::MatrixXd::Zero(3, 3)), InputError);
}

TEST_CASE("repeats: the between-episode floor caps what repeats of one setup can teach") {
  // Scalar: n i / (1 + n b i) -> 1 / b.
  const Eigen::MatrixXd i1 = Eigen::MatrixXd::Constant(1, 1, 2.0);
  const Eigen::MatrixXd b = Eigen::MatrixXd::Constant(1, 1, 0.25);
  for (int n : {0, 1, 3, 10, 1000000}) {
    CHECK(RepeatedInformation(i1, b, n)(0, 0) == doctest::Approx(n * 2.0 / (1 + n * 0.5)));
  }
  CHECK(RepeatedInformation(i1, b, 100000000)(0, 0) == doctest::Approx(4.0).epsilon(1e-7));
  CHECK(RepeatedInformation(i1, Eigen::MatrixXd::Zero(1, 1), 7)(0, 0) == doctest::Approx(14.0));

  // Matrix, invertible I1: equals (B + (n I1)^-1)^-1 and tends to B^-1.
  const Eigen::MatrixXd I1 = RandomSpd(3, 40, 0.2), B = RandomSpd(3, 41, 0.1);
  for (int n : {1, 4, 50}) {
    const Eigen::MatrixXd direct = (B + (n * I1).inverse()).inverse();
    CHECK((RepeatedInformation(I1, B, n) - direct).norm() < 1e-10 * direct.norm());
  }
  const Eigen::MatrixXd limit = B.inverse();
  CHECK((RepeatedInformation(I1, B, 100000000) - limit).norm() < 1e-6 * limit.norm());

  // Singular I1 = g g^T: n g g^T / (1 + n g^T B g) (Sherman-Morrison), -> g g^T / g^T B g.
  const Eigen::VectorXd g = RandomVector(3, 42);
  const Eigen::MatrixXd rank_one = g * g.transpose();
  for (int n : {1, 5, 1000}) {
    const Eigen::MatrixXd closed = n * rank_one / (1.0 + n * g.dot(B * g));
    CHECK((RepeatedInformation(rank_one, B, n) - closed).norm() < 1e-10 * closed.norm());
  }
  const Eigen::MatrixXd cap = rank_one / g.dot(B * g);
  CHECK((RepeatedInformation(rank_one, B, 100000000) - cap).norm() < 1e-6 * cap.norm());
}

TEST_CASE("most informed parameter: the largest relative variance reduction") {
  const Eigen::MatrixXd P = Eigen::MatrixXd::Identity(2, 2);
  Eigen::MatrixXd I = Eigen::MatrixXd::Zero(2, 2);
  I(0, 0) = 0.5;
  I(1, 1) = 3.0;
  const Informs informs = MostInformed(P, I);
  CHECK(informs.parameter == 1);
  CHECK(informs.reduction[0] == doctest::Approx(1.0 - 1.0 / 1.5));
  CHECK(informs.reduction[1] == doctest::Approx(0.75));
  CHECK(MostInformed(P, Eigen::MatrixXd::Zero(2, 2)).parameter == -1);
  Eigen::MatrixXd D = Eigen::MatrixXd::Zero(2, 2);
  D(0, 0) = 4.0;
  D(1, 1) = 0.25;
  CHECK(PosteriorStd(D)(0) == doctest::Approx(0.5));
  CHECK(PosteriorStd(D)(1) == doctest::Approx(2.0));
}

TEST_CASE("information gain as a batch gain: precision grows by the repeats' information") {
  const Eigen::MatrixXd P = RandomSpd(3, 50, 0.5), B = 0.1 * RandomSpd(3, 51, 0.1);
  std::vector<Eigen::MatrixXd> single = {RandomSpd(3, 52, 0.0), RandomSpd(3, 53, 0.0)};
  InformationGain gain(P, single, B);
  double total = 0.0, last = 1e300;
  for (int step = 0; step < 4; ++step) {
    const double g = gain.Gain(0);
    CHECK(g <= last * (1 + 1e-12));  // repeats diminish
    last = g;
    total += g;
    gain.Commit(0);
  }
  const Eigen::MatrixXd expected = P + RepeatedInformation(single[0], B, 4);
  CHECK((gain.precision() - expected).norm() < 1e-10 * expected.norm());
  CHECK(total == doctest::Approx(LogDetGain(P, RepeatedInformation(single[0], B, 4))));
  // Item 1 is worth less after item 0's episodes (log det is concave).
  const double after = gain.Gain(1);
  gain.Reset();
  CHECK(gain.Gain(1) >= after);
  CHECK(gain.Gain(1) == doctest::Approx(LogDetGain(P, RepeatedInformation(single[1], B, 1))));
}

}  // namespace
}  // namespace nextbatch
