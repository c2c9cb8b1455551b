// calibration.json read back into a posterior: what a later stage samples.
#include <doctest/doctest.h>

#include <Eigen/LU>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "calibration/calibration_json.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/random.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch {
namespace {

std::vector<ParameterSpec> Specs() { return testing::PosteriorSpecs(); }

Posterior ReadPosterior(const std::string& path, const std::vector<ParameterSpec>& specs) {
  return PosteriorFromCalibration(ReadCalibrationFile(path), specs, PosteriorCovariance::kFormal);
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

// Shaped as the calibrator writes it (extra fields, unbounded bounds as null) to check that the
// reader takes what the contract promises and ignores the rest.
const char* kGood = R"({"schema": "nextbatch.calibration/1", "study": "s", "status": "converged",
  "covariance": [[0.01, -0.0012], [-0.0012, 0.0004]], "noise": {"shoulder": 0.01},
  "parameters": [
    {"name": "mass", "value": 0.6, "std": 0.1, "initial": 0.5, "bounds": [0, 10], "at_bound": false},
    {"name": "damping", "value": 0.07, "std": 0.02, "initial": 0.05, "bounds": [null, null], "at_bound": false, "identifiable": true}],
  "correlation": [[1, -0.6], [-0.6, 1]],
  "episodes": [], "fit": {"termination": "converged"}})";

TEST_CASE("posterior samples reproduce the calibration's mean and covariance") {
  Posterior p = ReadPosterior(WriteTemp("nb_post_good.json", kGood), Specs());
  REQUIRE(p.size() == 3);
  CHECK(p.mean()[0] == 0.6);
  CHECK(p.mean()[1] == 0.07);
  CHECK(p.mean()[2] == 0.1);  // not calibrated, no prior: fixed at its initial value
  CHECK(p.covariance()(0, 1) == doctest::Approx(-0.6 * 0.1 * 0.02));
  const int n = 40000;
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(3);
  Eigen::MatrixXd outer = Eigen::MatrixXd::Zero(3, 3);
  Eigen::VectorXd x;
  for (int i = 0; i < n; ++i) {
    p.Sample(7, i, &x);
    sum += x;
    outer += (x - p.mean()) * (x - p.mean()).transpose();
  }
  const Eigen::VectorXd mean = sum / n;
  const Eigen::MatrixXd cov = outer / n;
  // Standard errors: sd / sqrt(n) for the mean, about sqrt(2/n) relative for variances.
  CHECK(std::abs(mean[0] - 0.6) < 4 * 0.1 / std::sqrt(n));
  CHECK(std::abs(mean[1] - 0.07) < 4 * 0.02 / std::sqrt(n));
  CHECK(mean[2] == doctest::Approx(0.1).epsilon(1e-12));
  CHECK(cov(0, 0) == doctest::Approx(0.01).epsilon(4 * std::sqrt(2.0 / n)));
  CHECK(cov(1, 1) == doctest::Approx(0.0004).epsilon(4 * std::sqrt(2.0 / n)));
  CHECK(cov(0, 1) / std::sqrt(cov(0, 0) * cov(1, 1)) == doctest::Approx(-0.6).epsilon(0.02));
  // Deterministic per (seed, index), different across indices.
  Eigen::VectorXd a, b, c;
  p.Sample(7, 12, &a);
  p.Sample(7, 12, &b);
  p.Sample(7, 13, &c);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("undetermined stds and correlations (null) fall back to the prior, uncorrelated") {
  std::vector<ParameterSpec> specs = Specs();
  specs[1].prior_mean = 0.0;
  specs[1].prior_std = 0.3;
  const std::string path =
      WriteTemp("nb_post_null.json", R"({"schema": "nextbatch.calibration/1", "status": "converged",
    "parameters": [{"name": "mass", "value": 0.6, "std": null},
                   {"name": "damping", "value": 0.07, "std": null}],
    "correlation": [[1, null], [null, 1]]})");
  Posterior p = ReadPosterior(path, specs);
  CHECK(p.mean()[0] == 0.6);
  CHECK(p.covariance()(0, 0) == 0.0);  // no prior: held at the value
  CHECK(p.mean()[1] == 0.07);
  CHECK(p.covariance()(1, 1) == doctest::Approx(0.09));  // the prior's std
  CHECK(p.covariance()(0, 1) == 0.0);
}

TEST_CASE("malformed calibration files are rejected with the field and what was expected") {
  auto expect = [](const std::string& text, const std::string& fragment) {
    const std::string path = WriteTemp("nb_post_bad.json", text);
    try {
      ReadPosterior(path, Specs());
      FAIL("accepted: " << text);
    } catch (const InputError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find(fragment) != std::string::npos);
      CHECK(what.find(path) != std::string::npos);
    }
  };
  expect(R"({"schema": "nextbatch.calibration/2", "parameters": [], "correlation": []})",
         "expected \"nextbatch.calibration/1\"");
  expect(
      R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [{"name": "mas", "value": 1,
     "std": 0.1}], "correlation": [[1]]})",
      "a parameter of the study (mass, damping, friction)");
  expect(
      R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [{"name": "mass", "value": 1,
     "std": -0.1}], "correlation": [[1]]})",
      "parameters[0].std: expected a finite number >= 0");
  expect(
      R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [{"name": "mass", "value": 1,
     "std": 0.1}], "correlation": [[1, 0]]})",
      "correlation[0]: expected an array of 1 numbers");
  expect(
      R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [{"name": "mass", "value": 1,
     "std": 0.1}], "correlation": [[0.9]]})",
      "expected 1 on the diagonal");
  expect(
      R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [{"name": "mass", "value": 1,
     "std": 0.1}, {"name": "damping", "value": 0, "std": 0.1}],
     "correlation": [[1, 0.5], [0.2, 1]]})",
      "symmetric");
  expect(R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [
     {"name": "mass", "value": 1, "std": 0.1}, {"name": "damping", "value": 0, "std": 0.1},
     {"name": "friction", "value": 0.1, "std": 0.1}],
     "correlation": [[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]]})",
         "positive semi-definite");
  expect(
      R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [{"name": "mass", "value": 20,
     "std": 0.1}], "correlation": [[1]]})",
      "within [0, 10]");
  expect(
      R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [{"name": "mass", "std": 0.1}],
     "correlation": [[1]]})",
      "parameters[0].value");
  expect(
      R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [{"name": "mass", "value": 1,
     "std": 0.1}], "correlation": [["x"]]})",
      "expected a number or null");
  expect(R"({"schema": "nextbatch.calibration/1", "status": "converged", "parameters": [
     {"name": "mass", "value": 1, "std": 0.1}, {"name": "damping", "value": 0, "std": 0.1}],
     "correlation": [[1, 1.5], [1.5, 1]]})",
         "expected a number in [-1, 1]");
  expect(R"({"schema": "nextbatch.calibration/1", "parameters": [], "correlation": []})", "status");
  expect("{\"schema\": ", "invalid JSON");
  expect(R"({"schema": "nextbatch.calibration/1", "status": "failed", "parameters": [],
     "correlation": []})",
         "status: expected a usable fit");
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

// A fit's moments as the calibrator forms them: a covariance, and its correlation by dividing
// by the stds (whose rounding gives diagonals such as 1.0000000000000002).
CalibrationResult RandomFit(int n, RandomStream& rng) {
  CalibrationResult res;
  Eigen::MatrixXd a(n, n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) a(i, j) = rng.Normal() * std::pow(10.0, rng.Uniform(-4, 1));
  }
  res.covariance = a * a.transpose() + 1e-12 * Eigen::MatrixXd::Identity(n, n);
  res.std = res.covariance.diagonal().cwiseSqrt();
  res.correlation = res.covariance.array() / (res.std * res.std.transpose()).array();
  res.information = res.covariance.inverse();
  // about half the fits carry an honest covariance (wider than the formal one), as real fits do
  if (rng.Uniform(0, 1) < 0.5) {
    res.honest_covariance = 4.0 * res.covariance;
    res.honest_std = 2.0 * res.std;
  }
  res.value = Eigen::VectorXd::Constant(n, 0.5);
  res.initial = Eigen::VectorXd::Constant(n, 0.4);
  res.at_bound.assign(n, false);
  res.summary.status = CalibrationStatus::kConverged;
  for (int j = 0; j < n; ++j) res.names.push_back("d" + std::to_string(j));
  return res;
}

TEST_CASE("the reader accepts what the writer writes: fits of 1 to 8 parameters") {
  // a chain of 8 hinges, one damping parameter each
  std::string bodies, close;
  for (int j = 0; j < 8; ++j) {
    bodies += "<body pos=\"0 0 -0.1\"><joint name=\"j" + std::to_string(j) +
              "\" type=\"hinge\" axis=\"0 1 0\"/><geom type=\"sphere\" size=\"0.02\"/>";
    close += "</body>";
  }
  ModelPtr model =
      LoadModelString("<mujoco><worldbody>" + bodies + close + "</worldbody></mujoco>");
  RandomStream rng(11, Stage::kSynthetic, 0);
  int rounded_diagonals = 0;
  for (int n = 1; n <= 8; ++n) {
    std::vector<ParameterSpec> specs;
    for (int j = 0; j < n; ++j) {
      specs.push_back(testing::Spec("d" + std::to_string(j),
                                    {"joint:j" + std::to_string(j) + ".damping"}, 0.4, 0, 1));
    }
    const ParameterBinding binding(model.get(), specs);
    for (int trial = 0; trial < 25; ++trial) {
      const CalibrationResult fit = RandomFit(n, rng);
      for (int i = 0; i < n; ++i) rounded_diagonals += fit.correlation(i, i) != 1.0;
      const std::string path =
          WriteTemp("nb_roundtrip.json", CalibrationToJson(fit, binding, "roundtrip").dump(1));
      const CalibrationFile file = ReadCalibrationFile(path);
      CHECK(file.names == fit.names);
      CHECK(file.information.rows() == n);
      CHECK((file.information - fit.information).norm() <= 1e-12 * fit.information.norm());
      const Posterior p = PosteriorFromCalibration(file, specs, PosteriorCovariance::kFormal);
      CHECK((p.covariance() - fit.covariance).norm() <= 1e-9 * fit.covariance.norm());
      if (fit.honest_covariance.rows() == n) {
        const Posterior h = PosteriorFromCalibration(file, specs);
        CHECK((h.covariance() - fit.honest_covariance).norm() <=
              1e-9 * fit.honest_covariance.norm());
      }
    }
  }
  // the writer met the rounding the reader once refused
  CHECK(rounded_diagonals > 0);
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("simulate's posterior is the honest covariance by default, the formal one on request") {
  const char* text = R"({"schema": "nextbatch.calibration/1", "status": "converged",
    "parameters": [{"name": "mass", "value": 0.6, "std": 0.01},
                   {"name": "damping", "value": 0.07, "std": 0.002}],
    "correlation": [[1, 0.5], [0.5, 1]],
    "honest": {"std": [0.1, 0.02], "covariance": [[0.01, -0.0006], [-0.0006, 0.0004]]}})";
  const CalibrationFile file = ReadCalibrationFile(WriteTemp("nb_honest.json", text));
  const Posterior honest = PosteriorFromCalibration(file, Specs());
  CHECK(honest.covariance()(0, 0) == doctest::Approx(0.01));
  CHECK(honest.covariance()(0, 1) == doctest::Approx(-0.0006));
  CHECK(honest.covariance()(1, 1) == doctest::Approx(0.0004));
  CHECK(honest.covariance()(2, 2) == 0.0);  // not calibrated, no prior: held
  const Posterior formal = PosteriorFromCalibration(file, Specs(), PosteriorCovariance::kFormal);
  CHECK(formal.covariance()(0, 0) == doctest::Approx(1e-4));
  CHECK(formal.covariance()(0, 1) == doctest::Approx(0.5 * 0.01 * 0.002));
  // a file without the honest covariance is refused unless the formal one is asked for
  const std::string old_path = WriteTemp("nb_no_honest.json", kGood);
  CHECK_THROWS_WITH_AS(PosteriorFromCalibration(ReadCalibrationFile(old_path), Specs()),
                       doctest::Contains("--formal-posterior"), InputError);
  // an asymmetric honest covariance is refused, naming the entry
  std::string bad = text;
  bad.replace(bad.find("[-0.0006, 0.0004]"), 17, "[-0.0007, 0.0004]");
  CHECK_THROWS_WITH_AS(ReadCalibrationFile(WriteTemp("nb_bad_honest.json", bad)),
                       doctest::Contains("honest.covariance[0][1]: expected a symmetric matrix"),
                       InputError);
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("a warm start takes the values both share, clamps them into bounds and lists the rest") {
  CalibrationFile file;
  file.path = "earlier/calibration.json";
  file.names = {"damping", "mass", "friction", "gain"};
  file.value = Eigen::Vector4d(0.07, 12.0, 0.3, 2.0);
  std::vector<ParameterSpec> specs = testing::PosteriorSpecs();  // mass, damping, friction
  specs[2].fixed = true;
  specs.push_back(testing::Spec("armature", {"joint:hinge.armature"}, 0.01, 0, 1));
  const WarmStartReport w = ApplyWarmStart(file, &specs);
  CHECK(w.file == "earlier/calibration.json");
  CHECK(w.taken == std::vector<std::string>{"mass", "damping"});
  CHECK(specs[0].initial == 10.0);  // 12 clamped to the upper bound
  CHECK(specs[1].initial == 0.07);
  REQUIRE(w.clamped.size() == 1);
  CHECK(w.clamped[0] == "mass: 12 outside [0, 10], starts at 10");
  CHECK(w.fixed == std::vector<std::string>{"friction"});
  CHECK(specs[2].initial == 0.1);  // a fixed parameter keeps the study's value
  CHECK(w.missing == std::vector<std::string>{"armature"});
  CHECK(specs[3].initial == 0.01);
  CHECK(w.unused == std::vector<std::string>{"gain"});
}

}  // namespace
}  // namespace nextbatch
