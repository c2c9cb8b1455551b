#include "engine/inertial.h"

#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>
#include <Eigen/Geometry>
#include <cmath>
#include <random>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/parameter.h"
#include "engine/study.h"
#include "engine/workspace.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

// A random physical body: log-uniform mass and second moments about the com (any positive
// second moments give a body), a random orientation of the principal axes, com in a 1 m box.
PhysicalInertial RandomBody(std::mt19937_64* rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  PhysicalInertial p;
  p.mass = std::pow(10.0, 2 * u(*rng));
  p.com = Eigen::Vector3d(u(*rng), u(*rng), u(*rng));
  const Eigen::Vector3d sigma(std::pow(10.0, -3 + 2 * u(*rng)), std::pow(10.0, -3 + 2 * u(*rng)),
                              std::pow(10.0, -3 + 2 * u(*rng)));
  const Eigen::Matrix3d r =
      Eigen::Quaterniond(u(*rng), u(*rng), u(*rng), u(*rng)).normalized().toRotationMatrix();
  const Eigen::Matrix3d moment = p.mass * r * sigma.asDiagonal() * r.transpose();
  const Eigen::Matrix3d inertia = moment.trace() * Eigen::Matrix3d::Identity() - moment;
  p.inertia << inertia(0, 0), inertia(1, 1), inertia(2, 2), inertia(0, 1), inertia(0, 2),
      inertia(1, 2);
  return p;
}

// max |a - b| relative to the scale of each quantity (mass, com, inertia).
double PhysicalError(const PhysicalInertial& a, const PhysicalInertial& b) {
  const double inertia_scale = a.inertia.head<3>().cwiseAbs().maxCoeff();
  return std::max({std::abs(a.mass - b.mass) / a.mass, (a.com - b.com).cwiseAbs().maxCoeff(),
                   (a.inertia - b.inertia).cwiseAbs().maxCoeff() / inertia_scale});
}

TEST_CASE("physical -> coordinates -> physical is the identity on random bodies") {
  std::mt19937_64 rng(7);
  double worst = 0;
  for (int i = 0; i < 2000; ++i) {
    const PhysicalInertial p = RandomBody(&rng);
    REQUIRE(InertialProblem(p).empty());
    const InertialVector theta = InertialToCoordinates(p, "test");
    worst = std::max(worst, PhysicalError(p, InertialFromCoordinates(theta)));
    // and the coordinates are the unique ones: coordinates -> physical -> coordinates
    const InertialVector again = InertialToCoordinates(InertialFromCoordinates(theta), "test");
    CHECK((again - theta).cwiseAbs().maxCoeff() < 1e-8);
  }
  MESSAGE("worst relative round-trip error " << worst);
  CHECK(worst < 1e-12);
}

TEST_CASE("a known body: unit cube of 2 kg at (0.1, 0, -0.2)") {
  PhysicalInertial p;
  p.mass = 2.0;
  p.com = Eigen::Vector3d(0.1, 0, -0.2);
  const double i = 2.0 / 6.0;  // m a^2 / 6 for a cube of side a = 1
  p.inertia << i, i, i, 0, 0, 0;
  const InertialVector theta = InertialToCoordinates(p, "cube");
  // Sigma = m a^2/12 per axis, so A = diag(1/sqrt(12)) and alpha = log(2)/2.
  CHECK(theta[0] == doctest::Approx(0.5 * std::log(2.0)).epsilon(1e-14));
  for (int k = 1; k <= 3; ++k) {
    CHECK(theta[k] == doctest::Approx(-0.5 * std::log(12.0)).epsilon(1e-14));
  }
  for (int k = 4; k <= 6; ++k) CHECK(std::abs(theta[k]) < 1e-15);
  CHECK(theta[7] == 0.1);
  CHECK(theta[9] == -0.2);
}

TEST_CASE("bodies that are not physical are refused with the reason") {
  PhysicalInertial p;
  p.mass = 1.0;
  p.inertia << 1.0, 1.0, 2.5, 0, 0, 0;  // 1 + 1 < 2.5
  CHECK(InertialProblem(p).find("triangle inequality") != std::string::npos);
  CHECK_THROWS_AS(InertialToCoordinates(p, "link"), InputError);
  p.inertia << 1.0, 1.0, 1.0, 0, 0, 0;
  CHECK(InertialProblem(p).empty());
  p.mass = 0;
  CHECK(!InertialProblem(p).empty());
  p.mass = 1;
  p.inertia << 1.0, 1.0, 1.0, 1.0, 0, 0;  // principal moments 0, 1, 2: degenerate
  CHECK(!InertialProblem(p).empty());
}

TEST_CASE("every coordinate vector, even far out, is a physical body") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(-1, 1);
  int bad = 0;
  for (int i = 0; i < 10000; ++i) {
    InertialVector theta;
    for (int k = 0; k < kInertialSize; ++k) theta[k] = 4 * u(rng);
    const PhysicalInertial p = InertialFromCoordinates(theta);
    Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(p.InertiaMatrix());
    const Eigen::Vector3d m = eig.eigenvalues();
    const bool ok = p.mass > 0 && m[0] > 0 && m[0] + m[1] >= m[2] && InertialProblem(p).empty();
    bad += ok ? 0 : 1;
  }
  CHECK(bad == 0);
}

TEST_CASE("the Jacobian of physical from coordinates matches central differences") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int i = 0; i < 50; ++i) {
    InertialVector theta;
    for (int k = 0; k < kInertialSize; ++k) theta[k] = 2 * u(rng);
    const InertialMatrix j = InertialJacobian(theta);
    InertialMatrix fd;
    const double h = 1e-6;
    for (int k = 0; k < kInertialSize; ++k) {
      InertialVector plus = theta, minus = theta;
      plus[k] += h;
      minus[k] -= h;
      fd.col(k) =
          (InertialFromCoordinates(plus).Stacked() - InertialFromCoordinates(minus).Stacked()) /
          (2 * h);
    }
    const double scale = std::max(1.0, j.cwiseAbs().maxCoeff());
    CHECK((j - fd).cwiseAbs().maxCoeff() / scale < 1e-7);
    // a diffeomorphism: the Jacobian is regular everywhere
    CHECK(std::abs(j.determinant()) > 0);
  }
}

TEST_CASE("MuJoCo's principal form holds the same inertia") {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200; ++i) {
    const PhysicalInertial p = RandomBody(&rng);
    double mass, ipos[3], inertia[3], iquat[4];
    InertialToMujoco(p, &mass, ipos, inertia, iquat);
    CHECK(std::abs(Eigen::Vector4d(iquat[0], iquat[1], iquat[2], iquat[3]).norm() - 1) < 1e-12);
    CHECK(PhysicalError(p, InertialFromMujoco(mass, ipos, inertia, iquat)) < 1e-12);
  }
}

TEST_CASE("a grouped inertial parameter binds the body and reads back its coordinates") {
  ModelPtr base = LoadModelString(testing::TwoLinkXml());
  std::mt19937_64 rng(9);
  auto group = std::make_shared<InertialGroup>();
  group->name = "lower_inertial";
  group->body = "lower";
  group->initial = RandomBody(&rng);
  Eigen::Matrix<double, 2, 3> com_bounds;
  com_bounds.row(0).setConstant(-2);
  com_bounds.row(1).setConstant(2);
  std::vector<ParameterSpec> specs =
      InertialParameterSpecs(group, Eigen::Vector2d(1e-3, 1e3), com_bounds, false, "test");
  REQUIRE(specs.size() == 10);
  CHECK(specs[0].name == "lower_inertial.alpha");
  CHECK(specs[9].name == "lower_inertial.t3");
  CHECK(specs[0].lower == doctest::Approx(0.5 * std::log(1e-3)));
  ParameterBinding binding(base.get(), specs);
  CHECK(binding.needs_set_const());
  Workspace ws(base.get(), true);
  const PhysicalInertial target = RandomBody(&rng);
  const InertialVector theta = InertialToCoordinates(target, "test");
  ws.Apply(binding, theta);
  const mjModel* m = ws.model();
  const int b = mj_name2id(m, mjOBJ_BODY, "lower");
  const PhysicalInertial applied = InertialFromMujoco(
      m->body_mass[b], m->body_ipos + 3 * b, m->body_inertia + 3 * b, m->body_iquat + 4 * b);
  CHECK(PhysicalError(target, applied) < 1e-12);
  CHECK((binding.Read(m, Effects::Identity(m)) - theta).cwiseAbs().maxCoeff() < 1e-9);
  // mj_setConst ran: the subtree mass includes the new mass
  CHECK(m->body_subtreemass[b] == doctest::Approx(target.mass).epsilon(1e-12));
  // restoring the nominal model gives the base model's inertial back
  ModelPtr copy = CopyModel(base.get());
  binding.Apply(theta, copy.get(), nullptr, nullptr, false);
  binding.RestoreNominal(copy.get(), nullptr);
  CHECK(copy->body_mass[b] == base->body_mass[b]);
  CHECK(copy->body_inertia[3 * b + 2] == base->body_inertia[3 * b + 2]);
}

TEST_CASE("study syntax of a grouped inertial: physical initial, bounds and priors") {
  testing::TempDir dir("inertial");
  const std::string model = dir.Write("m.xml", testing::TwoLinkXml());
  const std::string study = dir.Write("study.json", R"({
    "schema": "nextbatch.study/1", "model": "m.xml",
    "parameters": [
      {"name": "lower", "targets": ["body:lower.inertial"],
       "initial": {"mass": 0.5, "com": [0.12, 0, 0], "inertia": [2e-4, 3e-3, 3e-3, 0, 1e-5, 0]},
       "bounds": {"mass": [0.1, 2], "com": [[0, 0.3], [-0.01, 0.01], [-0.01, 0.01]]},
       "prior": {"std": {"com": [0, 0.002, 0.002], "inertia": [1e-4, 0, 1e-4, 1e-4, 1e-4, 1e-4]}}},
      {"name": "damping", "targets": ["joint:elbow.damping"], "initial": 0.05, "bounds": [0, 1]}
    ]})");
  const Study s = Study::Load(study);
  REQUIRE(s.parameters.size() == 11);
  const ParameterSpec& alpha = s.parameters[0];
  REQUIRE(alpha.group);
  CHECK(alpha.group->body == "lower");
  CHECK(std::exp(2 * alpha.initial) == doctest::Approx(0.5));
  CHECK(std::exp(2 * alpha.lower) == doctest::Approx(0.1));
  CHECK(std::exp(2 * alpha.upper) == doctest::Approx(2));
  CHECK(s.parameters[7].initial == 0.12);
  CHECK(s.parameters[7].upper == 0.3);
  CHECK(alpha.group->prior_std[0] == 0);  // no prior on the mass
  CHECK(alpha.group->prior_std[2] == 0.002);
  CHECK(alpha.group->prior_mean[2] == 0.0);  // the mean defaults to the initial value
  CHECK(alpha.group->prior_std[5] == 0);
  CHECK(s.parameters[10].name == "damping");
  ModelPtr m = LoadModelFile(model);
  ParameterBinding binding(m.get(), s.parameters);
  CHECK(binding.size() == 11);

  auto load = [&](const std::string& parameter) {
    const std::string text = R"({"schema": "nextbatch.study/1", "model": "m.xml",
      "parameters": [)" + parameter +
                             "]}";
    return Study::Load(dir.Write("bad.json", text));
  };
  // an inertia that breaks the triangle inequality is not a start
  CHECK_THROWS_WITH_AS(load(R"({"name": "l", "targets": ["body:lower.inertial"],
      "initial": {"mass": 1, "com": [0, 0, 0], "inertia": [1, 1, 3, 0, 0, 0]}})"),
                       doctest::Contains("triangle inequality"), InputError);
  CHECK_THROWS_WITH_AS(load(R"({"name": "l", "targets": ["body:lower.inertial"],
      "initial": {"mass": 1, "com": [0, 0], "inertia": [1, 1, 1, 0, 0, 0]}})"),
                       doctest::Contains("3 numbers"), InputError);
  CHECK_THROWS_WITH_AS(load(R"({"name": "l", "targets": ["body:lower.inertial"],
      "initial": {"mass": 1, "com": [0, 0, 0], "inertia": [1, 1, 1, 0, 0, 0]},
      "bounds": {"mass": [2, 3]}})"),
                       doctest::Contains("bounds that hold the initial mass"), InputError);
  CHECK_THROWS_WITH_AS(load(R"({"name": "l", "targets": ["body:lower.inertial"],
      "initial": {"mass": 1, "com": [0, 0, 0], "inertia": [1, 1, 1, 0, 0, 0]},
      "bounds": {"inertia": [0, 1]}})"),
                       doctest::Contains("inertia"), InputError);
  CHECK_THROWS_WITH_AS(load(R"({"name": "l", "targets": ["body:lower.inertial", "body:upper.mass"],
      "initial": {"mass": 1, "com": [0, 0, 0], "inertia": [1, 1, 1, 0, 0, 0]}})"),
                       doctest::Contains("only target"), InputError);
  // a scalar parameter cannot bind the group target
  std::vector<ParameterSpec> scalar(1);
  scalar[0].name = "x";
  scalar[0].targets = {"body:lower.inertial"};
  scalar[0].initial = 1;
  CHECK_THROWS_WITH_AS(ParameterBinding(m.get(), scalar), doctest::Contains("grouped parameter"),
                       InputError);
}

}  // namespace
}  // namespace nextbatch
