#include "calibration/calibration.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/model.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"
#include "tests/fixtures/shared_data.h"

namespace nextbatch {
namespace {

using testing::MakeEpisode;
using testing::SyntheticLog;

using testing::Spec;

// Reduced chi-square of a correct model with correctly estimated noise is 1 within
// sqrt(2 / dof) (about 0.03 here) plus the error of the noise estimate (a median absolute
// deviation over ~1000 probes per channel: about 5% in sigma, 10% in chi-square).
constexpr double kChi2Low = 0.8, kChi2High = 1.2;

void CheckRecovered(const CalibrationResult& r, const Eigen::VectorXd& truth) {
  REQUIRE(r.summary.usable());
  MESSAGE("reduced chi2 " << r.summary.reduced_chi2 << ", iterations " << r.summary.iterations
                          << ", " << r.summary.total_seconds << " s");
  for (int j = 0; j < truth.size(); ++j) {
    const double sigmas = (r.value[j] - truth[j]) / r.std[j];
    MESSAGE(r.names[j] << ": " << r.value[j] << " +- " << r.std[j] << " (truth " << truth[j]
                       << ", initial " << r.initial[j] << ", " << sigmas << " sigma)");
    CHECK(std::isfinite(r.std[j]));
    CHECK(std::abs(sigmas) < 3.0);
  }
  CHECK(r.identifiability.unidentifiable.empty());
  CHECK(r.summary.reduced_chi2 > kChi2Low);
  CHECK(r.summary.reduced_chi2 < kChi2High);
}

struct PendulumCase {
  ModelPtr model = LoadModelString(testing::PendulumXml());
  std::vector<ParameterSpec> specs = {Spec("damping", {"joint:hinge.damping"}, 0.05, 0, 1),
                                      Spec("mass", {"body:link.mass"}, 0.6, 0.1, 3),
                                      Spec("delay", {"ctrl.delay"}, 0.0, 0, 0.02)};
  Eigen::VectorXd truth = Eigen::Vector3d(0.08, 0.7, 0.002);  // delay: one 2 ms step

  std::vector<Episode> Episodes(int count, double duration = 1.5) const {
    ParameterBinding b(model.get(), specs);
    SyntheticLog log;
    log.duration = duration;
    log.qvel_noise = 0.02;
    log.ctrl_offset = {0.0};
    log.ctrl_amplitude = {2.0};
    std::vector<Episode> out;
    for (int i = 0; i < count; ++i) {
      State s = State::Reference(model.get());
      s.qpos[0] = 0.4 * (i % 3) - 0.3;
      out.push_back(MakeEpisode(model.get(), b, truth, s, log, i));
    }
    return out;
  }
};

TEST_CASE("pendulum: damping, mass and a one-step delay come back from noisy irregular logs") {
  PendulumCase c;
  ParameterBinding b(c.model.get(), c.specs);
  CalibrationOptions o;
  o.threads = 2;
  CalibrationResult r = Calibrate(c.model.get(), b, c.Episodes(3), o);
  CheckRecovered(r, c.truth);
  CHECK(std::abs(r.value[2] - 0.002) < 0.5 * c.model->opt.timestep);
  CHECK(r.summary.held_out_segments > 0);
  CHECK(r.replay_after.median < r.replay_before.median);
  // the estimated noise is the one put in
  CHECK(r.noise.at("qpos:hinge") == doctest::Approx(1e-3).epsilon(0.15));
  CHECK(r.noise.at("qvel:hinge") == doctest::Approx(0.02).epsilon(0.15));
  for (const auto& e : r.episodes) CHECK_FALSE(e.outlier);
}

TEST_CASE("results are identical with 1 and 2 threads") {
  PendulumCase c;
  ParameterBinding b(c.model.get(), c.specs);
  auto episodes = c.Episodes(2, 1.0);
  CalibrationOptions o;
  o.threads = 1;
  CalibrationResult one = Calibrate(c.model.get(), b, episodes, o);
  o.threads = 2;
  CalibrationResult two = Calibrate(c.model.get(), b, episodes, o);
  REQUIRE(one.summary.usable());
  CHECK(one.summary.iterations == two.summary.iterations);
  CHECK(one.summary.final_cost == two.summary.final_cost);
  CHECK((one.value.array() == two.value.array()).all());
  MESSAGE("std difference " << (one.std - two.std).transpose());
  CHECK((one.std.array() == two.std.array()).all());
}

// The options of the fits to a hidden truth on a bound (below) unless a case changes them.
CalibrationOptions TruthOnBoundOptions() {
  CalibrationOptions o;
  o.threads = 2;
  o.max_iterations = 50;
  return o;
}

// A hidden truth on a bound: the pendulum with its damping's truth 0 on the lower bound, the same
// three episodes each time.
CalibrationResult FitTruthOnBound(const CalibrationOptions& o = TruthOnBoundOptions()) {
  PendulumCase c;
  c.truth[0] = 0.0;
  ParameterBinding b(c.model.get(), c.specs);
  CalibrationResult r = Calibrate(c.model.get(), b, c.Episodes(3), o);
  MESSAGE(r.summary.termination << ": " << r.summary.message << ", " << r.summary.iterations
                                << " iterations, " << r.summary.jacobian_evaluations
                                << " Jacobians");
  return r;
}

TEST_CASE("a hidden truth on a bound is recovered") {
  const CalibrationResult r = FitTruthOnBound();
  REQUIRE(r.summary.usable());
  const Eigen::Vector3d truth(0.0, 0.7, 0.002);
  for (int j = 0; j < 3; ++j) {
    MESSAGE(r.names[j] << ": " << r.value[j] << " +- " << r.std[j] << " (truth " << truth[j]
                       << ")");
    CHECK(std::abs(r.value[j] - truth[j]) < 3 * r.std[j]);
  }
  // The remaining-step rule ends it before the cap (without it: NO_CONVERGENCE at 50).
  CHECK(r.summary.status == CalibrationStatus::kConverged);
  CHECK(r.summary.stopped_by == "step");
  CHECK(r.summary.iterations < 50);
}

// Without the stopping rule the fit above stops at its 50-iteration cap (Ceres' tolerances do not
// fire with a parameter on its bound); with the rule and Ceres alone it ends converged after 17
// iterations; with projected steps after Ceres' fifth (the default) within 15.
TEST_CASE("convergence: a hidden truth on a bound converges within 15 iterations") {
  const CalibrationResult r = FitTruthOnBound();
  REQUIRE(r.summary.usable());
  CHECK(r.summary.status == CalibrationStatus::kConverged);
  CHECK(r.summary.stopped_by == "step");
  CHECK(r.summary.iterations <= 15);
  CHECK(r.summary.projected_steps > 0);
  CHECK(r.summary.projected_steps < r.summary.iterations);
}

// The cap counts Ceres' iterations and projected steps together, and the summary says so (Ceres'
// own message would count its last phase only).
TEST_CASE("projected steps: max_iterations caps both, and the message counts both") {
  CalibrationOptions o = TruthOnBoundOptions();
  o.max_iterations = 6;  // 5 of Ceres, then one projected step: converging takes 7
  const CalibrationResult r = FitTruthOnBound(o);
  REQUIRE(r.summary.usable());
  CHECK(r.summary.status == CalibrationStatus::kNoConvergence);
  CHECK(r.summary.stopped_by == "iterations");
  CHECK(r.summary.iterations == 6);
  CHECK(r.summary.projected_steps == 1);
  CHECK(r.summary.message ==
        "Maximum number of iterations reached: 6 (1 of them projected steps).");
}

// Projected steps against Ceres alone on the same hidden truth (a second method): both end
// converged by the rule, each within step_tolerance (0.1) honest std of its optimum, so their
// estimates agree within a few tenths of an honest std; the projected fit takes fewer iterations.
TEST_CASE("projected steps: the same estimate as Ceres alone, in fewer iterations") {
  const CalibrationResult projected = FitTruthOnBound();
  CalibrationOptions o = TruthOnBoundOptions();
  o.projection_after = 0;
  const CalibrationResult alone = FitTruthOnBound(o);
  REQUIRE(projected.summary.usable());
  REQUIRE(alone.summary.usable());
  MESSAGE("projected: " << projected.summary.iterations << " iterations ("
                        << projected.summary.projected_steps << " projected), cost "
                        << projected.summary.final_cost
                        << "; Ceres alone: " << alone.summary.iterations << " iterations, cost "
                        << alone.summary.final_cost);
  CHECK(alone.summary.projected_steps == 0);
  CHECK(projected.summary.projected_steps > 0);
  CHECK(projected.summary.status == CalibrationStatus::kConverged);
  CHECK(alone.summary.status == CalibrationStatus::kConverged);
  CHECK(projected.summary.iterations < alone.summary.iterations);
  // the objective: the same minimum to within what 0.1 honest std moves it
  CHECK(projected.summary.final_cost <= alone.summary.final_cost * (1 + 1e-3));
  for (int j = 0; j < 3; ++j) {
    CAPTURE(projected.names[j]);
    CHECK(std::abs(projected.value[j] - alone.value[j]) < 0.3 * alone.std[j]);
  }
}

// The stopping rule ends a hidden-truth fit (the truth on a bound) converged, and where it stops
// the estimate is within a tenth of an honest std (the rule's tolerance, plus slack for what the
// local model misses) of the same fit run to its cap without the rule.
TEST_CASE("convergence: the remaining-step rule stops where the fit to the cap ends") {
  // the truth on its bound: without the rule the fit runs to its cap
  const CalibrationResult ruled = FitTruthOnBound();
  CalibrationOptions o = TruthOnBoundOptions();
  o.step_tolerance = 0;
  const CalibrationResult capped = FitTruthOnBound(o);
  REQUIRE(ruled.summary.usable());
  REQUIRE(capped.summary.usable());
  MESSAGE("rule: " << ruled.summary.stopped_by << " after " << ruled.summary.iterations
                   << " iterations, remaining " << ruled.summary.remaining_step
                   << " honest std (start " << ruled.summary.initial_step << "); off: "
                   << capped.summary.termination << " after " << capped.summary.iterations);
  CHECK(ruled.summary.status == CalibrationStatus::kConverged);
  CHECK(ruled.summary.initial_step > 1.0);  // the initial values are far: no stop at the start
  CHECK(std::isnan(capped.summary.remaining_step));  // the rule was off: nothing measured
  for (int j = 0; j < ruled.value.size(); ++j) {
    const double z = (ruled.value[j] - capped.value[j]) / ruled.honest_std[j];
    MESSAGE(ruled.names[j] << ": " << ruled.value[j] << " vs " << capped.value[j] << " (" << z
                           << " honest std)");
    CHECK(std::abs(z) < 0.1 + 0.05);
  }
}

TEST_CASE("progress: one line per iteration with cost and step, none when turned off") {
  PendulumCase c;
  ParameterBinding b(c.model.get(), c.specs);
  const auto episodes = c.Episodes(1, 1.0);
  CalibrationOptions o;
  o.threads = 1;
  o.held_out_fraction = 0;
  o.max_iterations = 6;
  std::ostringstream out;
  o.progress_options.out = &out;
  o.progress_options.terminal = 1;  // as on a terminal
  o.progress_options.min_interval = 0;
  const CalibrationResult quiet = Calibrate(c.model.get(), b, episodes, o);
  CHECK(out.str().empty());  // progress off (the library default; the command's -q)
  o.progress = true;
  const CalibrationResult r = Calibrate(c.model.get(), b, episodes, o);
  REQUIRE(r.summary.usable());
  REQUIRE_FALSE(r.summary.refit);
  const std::string text = out.str();
  MESSAGE(text);
  // Ceres reports iteration 0 (the start) and each iteration after it.
  CHECK(std::count(text.begin(), text.end(), '\r') == r.summary.iterations + 1);
  CHECK(text.find("calibrate fit: 0/6 (eta ?) cost ") != std::string::npos);
  CHECK(text.find(", step ") != std::string::npos);
  CHECK(text.find(" elapsed") != std::string::npos);
  // The cost shown is where the fit stands (never a rejected candidate's): it never rises, and
  // the last line's is the fit's final cost.
  std::vector<double> costs;
  for (std::size_t at = text.find(" cost "); at != std::string::npos;
       at = text.find(" cost ", at + 1)) {
    costs.push_back(std::strtod(text.c_str() + at + 6, nullptr));
  }
  REQUIRE(costs.size() == static_cast<std::size_t>(r.summary.iterations + 1));
  for (std::size_t k = 1; k < costs.size(); ++k) CHECK(costs[k] <= costs[k - 1]);
  CHECK(costs.back() == doctest::Approx(r.summary.final_cost).epsilon(1e-5));
  // Progress changes nothing in the fit.
  CHECK((r.value.array() == quiet.value.array()).all());
}

TEST_CASE("the pre-flight check names a parameter that does not change the logs") {
  PendulumCase c;
  auto episodes = c.Episodes(1, 1.0);
  auto specs = c.specs;
  // No contacts in this model: the bob's friction never acts.
  specs.push_back(Spec("bob_friction", {"geom:bob.friction[0]"}, 1.0, 0.1, 2));
  ParameterBinding b(c.model.get(), specs);
  CalibrationResult r = Calibrate(c.model.get(), b, episodes, CalibrationOptions());
  CHECK(r.summary.status == CalibrationStatus::kPreflightFailed);
  CHECK(r.summary.message.find("'bob_friction'") != std::string::npos);
  REQUIRE(r.preflight.size() == 4);
  CHECK(r.preflight[3].effect == 0.0);
  CHECK_FALSE(r.preflight[3].ok);
  for (int j = 0; j < 3; ++j) CHECK(r.preflight[j].effect > 1.0);
  CHECK(r.summary.iterations == 0);
}

TEST_CASE("an episode from a different robot is flagged as an outlier and left out of a refit") {
  PendulumCase c;
  auto episodes = c.Episodes(3);
  {
    // The odd one: three times the damping and a heavier bob.
    PendulumCase odd;
    odd.truth = Eigen::Vector3d(0.25, 0.9, 0.002);
    auto e = odd.Episodes(4);
    episodes.push_back(e[3]);
    episodes.back().id = "odd";
  }
  ParameterBinding b(c.model.get(), c.specs);
  CalibrationOptions o;
  o.threads = 2;
  CalibrationResult r = Calibrate(c.model.get(), b, episodes, o);
  REQUIRE(r.episodes.size() == 4);
  for (int e = 0; e < 3; ++e) CHECK_FALSE(r.episodes[e].outlier);
  CHECK(r.episodes[3].outlier);
  CHECK(r.episodes[3].reason.find("threshold") != std::string::npos);
  CHECK(r.summary.refit);
  CheckRecovered(r, c.truth);
}

TEST_CASE("2-link arm: damping, friction loss, armature, masses, gain and delay") {
  ModelPtr m = LoadModelString(testing::TwoLinkXml());
  std::vector<ParameterSpec> specs = testing::TwoLinkSpecs();
  const Eigen::VectorXd truth = testing::TwoLinkTruth();
  ParameterBinding b(m.get(), specs);
  SyntheticLog log;
  log.duration = 1.5;
  const std::vector<Episode> episodes = testing::TwoLinkEpisodes(m.get(), b, truth, log);
  CalibrationOptions o;
  o.threads = 2;
  o.segment_seconds = 0.4;
  CalibrationResult r = Calibrate(m.get(), b, episodes, o);
  CheckRecovered(r, truth);
  CHECK(std::abs(r.value[7] - 0.002) < 0.5 * m->opt.timestep);
  CHECK(r.replay_after.median < r.replay_before.median);
}

TEST_CASE("a position servo: stiffness, damping and force limit, each driving two fields") {
  // MuJoCo's position servo: force = kp (u - q) - kv qdot, clamped to the force range.
  ModelPtr m = LoadModelString(R"(<mujoco><option timestep="0.002"/>
    <worldbody><body name="cart"><joint name="x" type="slide" axis="1 0 0" damping="0.5"/>
    <geom type="box" size="0.05 0.05 0.05" mass="1"/></body></worldbody>
    <actuator><general name="servo" joint="x" gaintype="fixed" biastype="affine" gainprm="50"
      biasprm="0 -50 -5" forcelimited="true" forcerange="-8 8"/></actuator></mujoco>)");
  std::vector<ParameterSpec> specs = {
      Spec("kp", {"actuator:servo.gainprm[0]", "actuator:servo.biasprm[1]*-1"}, 50, 1, 500),
      Spec("kv", {"actuator:servo.biasprm[2]*-1"}, 5, 0, 50),
      Spec("force_limit", {"actuator:servo.forcerange[0]*-1", "actuator:servo.forcerange[1]"}, 8,
           0.5, 50)};
  Eigen::VectorXd truth = Eigen::Vector3d(60, 4, 6);
  ParameterBinding b(m.get(), specs);
  SyntheticLog log;
  log.duration = 1.5;
  log.ctrl_offset = {0.0};
  log.ctrl_amplitude = {0.3};  // kp * 0.3 m > the limit: the servo saturates part of the time
  std::vector<Episode> episodes;
  for (int i = 0; i < 2; ++i) {
    episodes.push_back(MakeEpisode(m.get(), b, truth, State::Reference(m.get()), log, i));
  }
  CalibrationOptions o;
  o.threads = 2;
  CalibrationResult r = Calibrate(m.get(), b, episodes, o);
  CheckRecovered(r, truth);
}

TEST_CASE("ViperX 300s: joint damping, armature, a servo stiffness and the delay") {
  const std::string path = std::string(NEXTBATCH_SHARED_DIR) + "/models/trossen_vx300s/vx300s.xml";
  if (!testing::SharedPresent(path)) return;
  ModelPtr m = LoadModelFile(path);
  // The arm moves in free space: contacts would only slow the test down (truth and fit alike).
  m->opt.disableflags |= mjDSBL_CONTACT;
  // Position servos: kp lives in gainprm[0] and -biasprm[1], one parameter drives both.
  std::vector<ParameterSpec> specs = {
      Spec("shoulder_damping", {"joint:shoulder.damping"}, 6.25, 0, 50),
      Spec("elbow_damping", {"joint:elbow.damping"}, 8.15, 0, 50),
      Spec("elbow_armature", {"joint:elbow.armature"}, 0.072, 0.001, 1),
      Spec("elbow_kp", {"actuator:elbow.gainprm[0]", "actuator:elbow.biasprm[1]*-1"}, 106, 10, 500),
      Spec("delay", {"ctrl.delay"}, 0.0, 0, 0.02)};
  Eigen::VectorXd truth(5);
  truth << 7.0, 9.5, 0.09, 95, 0.002;  // delay: one step
  ParameterBinding b(m.get(), specs);
  SyntheticLog log;
  log.duration = 1.5;
  const int key = mj_name2id(m.get(), mjOBJ_KEY, "home");
  REQUIRE(key >= 0);
  log.ctrl_offset.assign(m->key_ctrl + key * m->nu, m->key_ctrl + (key + 1) * m->nu);
  log.ctrl_amplitude = {0.3, 0.3, 0.4, 0.3, 0.3, 0.3, 0.0};
  State s = State::Reference(m.get());
  s.qpos = Eigen::Map<const Eigen::VectorXd>(m->key_qpos + key * m->nq, m->nq);
  std::vector<Episode> episodes = {MakeEpisode(m.get(), b, truth, s, log, 0)};
  CalibrationOptions o;
  o.threads = 2;
  o.segment_seconds = 0.4;
  o.held_out_fraction = 0;
  CalibrationResult r = Calibrate(m.get(), b, episodes, o);
  CheckRecovered(r, truth);
  CHECK(std::abs(r.value[4] - 0.002) < 0.5 * m->opt.timestep);
}

TEST_CASE(
    "the formal covariance equals Ceres' on the whole problem: loss, prior, fixed parameter") {
  // Glitches put some residuals in the Huber loss' linear part (loss weights below one), the
  // mass carries a log-scale prior, the delay is fixed, and one parameter is added that the
  // start states nearly absorb: the per-segment Schur complement against the SVD of the dense
  // Jacobian with every residual a row.
  PendulumCase c;
  auto episodes = c.Episodes(3, 1.0);
  for (auto& e : episodes) {
    for (int i = 5; i < e.samples(); i += 37) e.qpos.values(i, 0) += 0.05;
  }
  std::vector<ParameterSpec> specs = c.specs;
  specs[1].prior_mean = 0.65;
  specs[1].prior_std = 0.05;
  specs[1].log_scale = true;
  specs[2].fixed = true;
  specs[2].initial = 0.002;
  ParameterBinding b(c.model.get(), specs);
  CalibrationOptions o;
  o.threads = 2;
  o.held_out_fraction = 0;
  o.refit_without_outliers = false;
  o.weigh_priors = false;  // (a refit with weighed priors reports the information's inverse)
  CalibrationResult own = Calibrate(c.model.get(), b, episodes, o);
  o.ceres_covariance = true;
  CalibrationResult ceres = Calibrate(c.model.get(), b, episodes, o);
  REQUIRE(own.summary.usable());
  REQUIRE(ceres.summary.usable());
  CHECK(own.value == ceres.value);
  MESSAGE("covariance seconds: own " << own.summary.covariance_seconds << ", Ceres "
                                     << ceres.summary.covariance_seconds);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double scale = std::sqrt(ceres.covariance(i, i) * ceres.covariance(j, j));
      if (i == 2 || j == 2) {
        CHECK(own.covariance(i, j) == 0.0);  // fixed: zero rows and columns in both
        CHECK(ceres.covariance(i, j) == 0.0);
        continue;
      }
      CHECK(own.covariance(i, j) ==
            doctest::Approx(ceres.covariance(i, j)).epsilon(1e-6).scale(1e-6 * scale));
    }
  }
}

TEST_CASE(
    "the formal covariance equals the inverse of the information with start states eliminated") {
  PendulumCase c;
  ParameterBinding b(c.model.get(), c.specs);
  CalibrationOptions o;
  o.loss = LossType::kNone;
  o.threads = 2;
  CalibrationResult r = Calibrate(c.model.get(), b, c.Episodes(2, 1.0), o);
  REQUIRE(r.summary.usable());
  const Eigen::MatrixXd inverse = r.information.inverse();
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      CHECK(r.covariance(i, j) == doctest::Approx(inverse(i, j))
                                      .epsilon(1e-6)
                                      .scale(1e-6 * std::sqrt(inverse(i, i) * inverse(j, j))));
    }
  }
}

// What `f` writes to the process's stderr (file descriptor 2, where glog writes).
std::string CaptureStderr(const std::function<void()>& f) {
  std::fflush(stderr);
  char path[] = "/tmp/nextbatch_stderr_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const int saved = dup(2);
  dup2(fd, 2);
  f();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path);
  return text;
}

TEST_CASE("two gains that only act as a product are reported as not identifiable") {
  PendulumCase c;
  c.truth[1] = 0.6;  // the model's own mass, which this fit leaves alone
  auto episodes = c.Episodes(2, 1.0);
  // (the bob's mass is left out: with a point-like bob it nearly scales like a gain too)
  std::vector<ParameterSpec> specs = {c.specs[0], c.specs[2]};
  specs.push_back(Spec("ctrl_gain", {"ctrl:motor.gain"}, 1.2, 0.2, 5));
  specs.push_back(Spec("motor_gain", {"actuator:motor.gainprm[0]"}, 0.9, 0.2, 5));
  ParameterBinding b(c.model.get(), specs);
  CalibrationOptions o;
  o.threads = 2;
  CalibrationResult r;
  // Ceres' own log line about the singular covariance stays off stderr: the result says it.
  const std::string err = CaptureStderr([&] { r = Calibrate(c.model.get(), b, episodes, o); });
  CHECK(err == "");
  REQUIRE(r.summary.usable());
  MESSAGE("condition number " << r.identifiability.condition_number);
  CHECK(r.identifiability.unidentifiable == std::vector<std::string>{"ctrl_gain", "motor_gain"});
  REQUIRE(r.identifiability.weak.size() == 1);
  const auto& w = r.identifiability.weak[0];
  CHECK(w.eigenvalue < 1e-6);
  REQUIRE(w.combination.size() == 2);
  CHECK(std::abs(w.combination[0].second) == doctest::Approx(std::sqrt(0.5)).epsilon(1e-3));
  CHECK(w.combination[0].second * w.combination[1].second < 0);
  // The product is what the data fix: it comes back to the truth (1).
  CHECK(r.value[2] * r.value[3] == doctest::Approx(1.0).epsilon(0.01));
  CHECK(std::abs(r.value[0] - c.truth[0]) < 0.005);
  CHECK(r.summary.message.find("singular") != std::string::npos);
  CHECK(std::isinf(r.std[2]));
}

TEST_CASE("glitches in the logs: the Huber loss keeps the estimate, plain least squares does not") {
  PendulumCase c;
  auto episodes = c.Episodes(3);
  // One sample in 40 jumps by 0.1 rad (100 noise standard deviations), as a glitching encoder.
  for (auto& e : episodes) {
    for (int i = 7; i < e.samples(); i += 40) e.qpos.values(i, 0) += 0.1;
  }
  ParameterBinding b(c.model.get(), c.specs);
  CalibrationOptions o;
  o.threads = 2;
  CalibrationResult huber = Calibrate(c.model.get(), b, episodes, o);
  o.loss = LossType::kNone;
  CalibrationResult plain = Calibrate(c.model.get(), b, episodes, o);
  REQUIRE(huber.summary.usable());
  REQUIRE(plain.summary.usable());
  double worst_huber = 0, worst_plain = 0;
  for (int j = 0; j < 3; ++j) {
    worst_huber = std::max(worst_huber, std::abs(huber.value[j] - c.truth[j]) / huber.std[j]);
    worst_plain = std::max(worst_plain, std::abs(plain.value[j] - c.truth[j]) / plain.std[j]);
  }
  MESSAGE("worst error: huber " << worst_huber << " sigma, plain " << worst_plain << " sigma");
  CHECK(worst_huber < 3.0);
  CHECK(worst_plain > worst_huber);
  // the glitches make the rms large, but the episodes are not outliers
  for (const auto& e : huber.episodes) {
    CHECK(e.rms > 3.0);
    CHECK_FALSE(e.outlier);
  }
}

TEST_CASE("a sensor channel with a bias, a log-scale parameter and a prior") {
  PendulumCase c;
  auto episodes = c.Episodes(2);
  // The jointpos sensor "angle" reads the hinge angle plus a bias of 0.05 rad, noise 2 mrad.
  RandomStream noise(3, Stage::kMeasurementNoise, 0);
  for (auto& e : episodes) {
    e.sensors.names = {"angle"};
    e.sensors.values.resize(e.samples(), 1);
    for (int i = 0; i < e.samples(); ++i) {
      e.sensors.values(i, 0) = e.qpos.values(i, 0) + 0.05 + 0.002 * noise.Normal();
    }
  }
  auto specs = c.specs;
  specs[0].log_scale = true;  // damping fitted as log(damping)
  specs[0].lower = 1e-3;
  specs[1].prior_mean = 0.7;  // a prior as tight as the data on the mass
  specs[1].prior_std = 0.001;
  specs.push_back(Spec("angle_bias", {"sensor:angle.bias"}, 0.0, -0.2, 0.2));
  ParameterBinding b(c.model.get(), specs);
  CalibrationOptions o;
  o.threads = 2;
  CalibrationResult r = Calibrate(c.model.get(), b, episodes, o);
  Eigen::VectorXd truth(4);
  truth << c.truth, 0.05;
  CheckRecovered(r, truth);
  CHECK(r.noise.at("sensor:angle") == doctest::Approx(0.002).epsilon(0.15));
  CHECK(r.std[1] < 0.001);  // data and prior together know more than the prior alone
}

TEST_CASE("a model that diverges reports a failed fit with the reason, and throws nothing") {
  PendulumCase c;
  auto specs = c.specs;
  // A strongly negative spring (a negative damping is refused by the binding): explodes in a few
  // steps.
  specs[0] = Spec("stiffness", {"joint:hinge.stiffness"}, -1e6, -1e7, 1);
  ParameterBinding b(c.model.get(), specs);
  CalibrationResult r = Calibrate(c.model.get(), b, c.Episodes(1, 0.5), CalibrationOptions());
  CHECK(r.summary.status == CalibrationStatus::kFailed);
  CHECK_FALSE(r.summary.usable());
  CHECK(r.summary.message.find("diverged") != std::string::npos);
}

TEST_CASE("a part of the model that the logs never see does not spoil the covariance") {
  // The pendulum plus an unlogged, unactuated slider that nothing couples to the pendulum: its
  // start states are unknowns the data cannot determine.
  std::string xml = testing::PendulumXml();
  xml.replace(xml.find("</worldbody>"), 12,
              R"(<body name="slider" pos="2 0 0"><joint name="s" type="slide" axis="1 0 0"/>
              <geom type="box" size="0.05 0.05 0.05" mass="1" contype="0" conaffinity="0"/>
              </body></worldbody>)");
  PendulumCase c;
  c.model = LoadModelString(xml);
  auto episodes = c.Episodes(2);
  for (auto& e : episodes) {  // log the pendulum only
    e.qpos.names.resize(1);
    e.qpos.values.conservativeResize(Eigen::NoChange, 1);
    e.qvel.names.resize(1);
    e.qvel.values.conservativeResize(Eigen::NoChange, 1);
  }
  ParameterBinding b(c.model.get(), c.specs);
  CalibrationOptions o;
  o.threads = 2;
  CalibrationResult r = Calibrate(c.model.get(), b, episodes, o);
  CheckRecovered(r, c.truth);
}

TEST_CASE("bad episodes and options are refused with the place named") {
  PendulumCase c;
  ParameterBinding b(c.model.get(), c.specs);
  auto episodes = c.Episodes(1, 0.5);
  CalibrationOptions o;
  episodes[0].qpos.names[0] = "knee";
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), b, episodes, o),
                       doctest::Contains("episode 'ep0': qpos channel: expected a joint of the "
                                         "model (hinge), got 'knee'"),
                       InputError);
  episodes = c.Episodes(1, 0.5);
  episodes[0].time[3] = episodes[0].time[2];
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), b, episodes, o),
                       doctest::Contains("episode 'ep0': time[3]: expected finite, strictly "
                                         "increasing times"),
                       InputError);
  episodes = c.Episodes(1, 0.5);
  o.noise["qpos:elbow"] = 0.1;
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), b, episodes, o),
                       doctest::Contains("calibration.noise: expected a fitted channel"),
                       InputError);
  o = CalibrationOptions();
  o.segment_seconds = 0;
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), b, episodes, o),
                       doctest::Contains("calibration.segment_seconds: expected a duration > 0"),
                       InputError);
}

TEST_CASE("replay error at the truth is at the noise level and grows away from it") {
  PendulumCase c;
  ParameterBinding b(c.model.get(), c.specs);
  auto episodes = c.Episodes(2, 1.0);
  ReplayError at = ComputeReplayError(c.model.get(), b, c.truth, episodes, 0.5, 2);
  Eigen::VectorXd off = c.truth;
  off[0] *= 2;
  ReplayError away = ComputeReplayError(c.model.get(), b, off, episodes, 0.5, 2);
  CHECK(at.windows.size() == 4);
  // from a state estimated off noisy logs (1 mrad, 0.02 rad/s): a few mrad over 0.5 s
  CHECK(at.median < 0.01);
  CHECK(away.median > 2 * at.median);
}

// The hold-still baseline on a log in uniform acceleration, q = 0.2 + t^2 (a 4 N push on the 2 kg
// cart), sampled at 1024 Hz and simulated at 128 Hz so that every time is exact in binary: each
// 0.3 s window holds 308 samples, its start state (a local fit, exact on a quadratic) sits on the
// simulation grid at tg <= the first sample, and holding it still errs by q(t_last) - q(tg).
TEST_CASE("hold-still baseline: the closed form under uniform acceleration, beaten by the model") {
  std::string xml = testing::CartXml();
  xml.replace(xml.find("0.01"), 4, "0.0078125");
  ModelPtr m = LoadModelString(xml);
  const int n = 3080;
  Episode e;
  e.id = "push";
  auto q = [](double t) { return 0.2 + t * t; };
  for (int i = 0; i < n; ++i) e.time.push_back(i / 1024.0);
  e.qpos.names = {"x"};
  e.qpos.values.resize(n, 1);
  for (int i = 0; i < n; ++i) e.qpos.values(i, 0) = q(e.time[i]);
  e.ctrl.names = {"push"};
  e.ctrl.values = Eigen::MatrixXd::Constant(n, 1, 4.0);
  const ReplayError still = ComputeHoldStillError(m.get(), {e}, 0.3);
  REQUIRE(still.windows.size() == 10);
  std::vector<double> expected;
  for (std::size_t k = 0; k < still.windows.size(); ++k) {
    const ReplayWindow& w = still.windows[k];
    CHECK(w.start_time == 308 * k / 1024.0);
    const double tg = std::floor(w.start_time * 128) / 128;
    expected.push_back(q(w.start_time + 307 / 1024.0) - q(tg));
    CHECK(w.max_error == doctest::Approx(expected.back()).epsilon(1e-9));
  }
  CHECK(still.median == doctest::Approx(0.5 * (expected[4] + expected[5])).epsilon(1e-9));
  // The true model follows the motion, off only by the integrator (semi-implicit Euler lags by
  // a * h * t / 2, 2.3 mm over a window): 40 times below holding still.
  ParameterBinding b(m.get(), {Spec("gain", {"ctrl:push.gain"}, 1.0, 0.1, 10)});
  const ReplayError moving =
      ComputeReplayError(m.get(), b, Eigen::VectorXd::Constant(1, 1.0), {e}, 0.3, 2);
  MESSAGE("median max error: hold still " << still.median << ", model " << moving.median);
  REQUIRE(moving.windows.size() == still.windows.size());
  for (std::size_t k = 0; k < moving.windows.size(); ++k) {
    CHECK(moving.windows[k].start_time == still.windows[k].start_time);
    CHECK(moving.windows[k].max_error < 0.003);
  }
  CHECK(moving.median < still.median / 40);
}

}  // namespace
}  // namespace nextbatch
