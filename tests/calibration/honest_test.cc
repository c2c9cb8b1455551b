// The error model in the fit: honest intervals that cover a hidden truth under coloured noise,
// outliers judged against the other episodes, priors weighed by the error model, fixed
// parameters, and identifiability from the data alone.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "calibration/calibration.h"
#include "calibration/calibration_json.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/model.h"
#include "engine/study.h"
#include "tests/calibration/coverage.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch {
namespace {

using testing::Spec;

TEST_CASE("coloured noise, 20 seeds: honest intervals cover the truth, formal ones do not") {
  const testing::CoverageCase c = testing::MakeCoverageCase("pendulum");
  const testing::CoverageResult r = testing::RunCoverage(c, 1, 20, 2);
  REQUIRE(r.usable == 20);
  MESSAGE("median residual scale " << r.residual_scale << ", serial correlation "
                                   << r.serial_correlation << ", " << r.seconds << " s per fit");
  for (std::size_t j = 0; j < c.fit_specs.size(); ++j) {
    const double formal = r.formal_hits[j] / 20.0, honest = r.honest_hits[j] / 20.0;
    MESSAGE(c.fit_specs[j].name << ": formal " << formal << ", honest " << honest
                                << ", honest/formal std " << r.honest_over_formal[j]);
    // 20 seeds: a true 0.95 gives >= 0.75 with probability 0.9997.
    CHECK(honest >= 0.75);
    CHECK(formal <= 0.7);
    CHECK(r.honest_over_formal[j] > 1.5);
  }
  CHECK(r.serial_correlation > 1.5);  // the error model sees the correlation
}

// Pendulum episodes with white position noise `noise` (rad), 0.6 s each.
std::vector<Episode> Pendulum(const mjModel* m, const std::vector<double>& noise,
                              const std::vector<double>& duration,
                              const Eigen::Vector2d& truth = Eigen::Vector2d(0.08, 0.7)) {
  std::vector<ParameterSpec> specs = {Spec("damping", {"joint:hinge.damping"}, 0.08, 0, 1),
                                      Spec("mass", {"body:link.mass"}, 0.7, 0.1, 3)};
  ParameterBinding b(m, specs);
  std::vector<Episode> out;
  for (std::size_t i = 0; i < noise.size(); ++i) {
    testing::SyntheticLog log;
    log.duration = duration[i];
    log.qpos_noise = noise[i];
    log.ctrl_offset = {0.0};
    log.ctrl_amplitude = {2.0};
    State s = State::Reference(m);
    s.qpos[0] = 0.2 * (i % 4) - 0.3;
    out.push_back(testing::MakeEpisode(m, b, truth, s, log, static_cast<int>(i)));
  }
  return out;
}

std::vector<ParameterSpec> PendulumSpecs() {
  return {Spec("damping", {"joint:hinge.damping"}, 0.06, 0, 1),
          Spec("mass", {"body:link.mass"}, 0.6, 0.1, 3)};
}

TEST_CASE("noise levels far below the residuals flag no episode (was: 9 of 10, refit on one)") {
  // The noise is given as 0.1 mrad where the logs carry 1 mrad (as with a noise level set to one
  // encoder step): every episode's typical residual is about 10, except a quiet one's. Judged
  // in noise levels alone, 9 of 10 were outliers and the refit used the tenth.
  ModelPtr m = LoadModelString(testing::PendulumXml());
  std::vector<double> noise(10, 1e-3), duration(10, 0.6);
  noise[4] = 5e-5;
  const auto episodes = Pendulum(m.get(), noise, duration);
  ParameterBinding b(m.get(), PendulumSpecs());
  CalibrationOptions o;
  o.threads = 2;
  o.noise["qpos"] = 1e-4;
  o.held_out_fraction = 0;
  const CalibrationResult r = Calibrate(m.get(), b, episodes, o);
  REQUIRE(r.summary.usable());
  int typical_above_3 = 0;
  for (const auto& e : r.episodes) {
    CAPTURE(e.id);
    typical_above_3 += e.typical > 3;
    CHECK_FALSE(e.outlier);
    CHECK_FALSE(e.excluded);
  }
  CHECK(typical_above_3 == 9);  // the old criterion's count
  CHECK_FALSE(r.summary.refit);
  CHECK(r.summary.segments == 10);  // every episode fitted (one 0.6 s segment each)
  CHECK(r.error_model.residual_scale > 50);
  CHECK(r.error_model.discrepancy.find("times the noise levels") != std::string::npos);
  // The honest stds carry the residual scale the formal ones ignore.
  for (int j = 0; j < 2; ++j) CHECK(r.honest_std[j] > 5 * r.std[j]);
  const std::string text = CalibrationSummaryText(r);
  CHECK(text.find("outlier") == std::string::npos);
  CHECK(text.find("refit") == std::string::npos);
}

TEST_CASE("outliers holding most of the residuals are not dropped: no refit, a warning") {
  // Two short quiet episodes and two long ones with three times the noise; noise levels given
  // as the quiet ones'. The median episode's typical residual is 2, and with a threshold of 1.2
  // the long ones are outliers: a minority of episodes holding most of the residuals.
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const auto episodes = Pendulum(m.get(), {1e-3, 3e-3, 1e-3, 3e-3}, {0.6, 2.0, 0.6, 2.0});
  ParameterBinding b(m.get(), PendulumSpecs());
  CalibrationOptions o;
  o.threads = 2;
  o.held_out_fraction = 0;
  o.noise["qpos"] = 1e-3;
  o.outlier_threshold = 1.2;
  const CalibrationResult r = Calibrate(m.get(), b, episodes, o);
  REQUIRE(r.summary.usable());
  REQUIRE(r.episodes.size() == 4);
  for (int e = 0; e < 4; ++e) {
    CAPTURE(e);
    CHECK(r.episodes[e].outlier == (e % 2 == 1));
    CHECK_FALSE(r.episodes[e].excluded);
  }
  CHECK(r.episodes[1].relative == doctest::Approx(1.5).epsilon(0.15));
  CHECK_FALSE(r.summary.refit);
  CHECK(r.summary.excluded_episodes == 0);
  REQUIRE(r.summary.warnings.size() == 1);
  CHECK(r.summary.warnings[0].find("no refit") != std::string::npos);
  CHECK(CalibrationSummaryText(r).find("warning: 2 outlier episode(s) ('ep1', 'ep3')") !=
        std::string::npos);
}

TEST_CASE("an outlier is excluded from the refit, and the report says exactly that") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  auto episodes = Pendulum(m.get(), {1e-3, 1e-3, 1e-3}, {0.8, 0.8, 0.8});
  auto odd =
      Pendulum(m.get(), {1e-3, 1e-3, 1e-3, 1e-3}, {0.8, 0.8, 0.8, 0.8}, Eigen::Vector2d(0.25, 0.9));
  episodes.push_back(odd[3]);
  episodes.back().id = "odd";
  ParameterBinding b(m.get(), PendulumSpecs());
  CalibrationOptions o;
  o.threads = 2;
  o.held_out_fraction = 0;
  const CalibrationResult r = Calibrate(m.get(), b, episodes, o);
  REQUIRE(r.summary.usable());
  CHECK(r.summary.refit);
  CHECK(r.summary.excluded_episodes == 1);
  for (int e = 0; e < 3; ++e) {
    CHECK_FALSE(r.episodes[e].excluded);
    CHECK(r.episodes[e].reason.find("excluded") == std::string::npos);
  }
  CHECK(r.episodes[3].excluded);
  CHECK(r.summary.segments == 3 * 2);
  const std::string text = CalibrationSummaryText(r);
  MESSAGE(text);
  CHECK(text.find("refit without 1 of 4 episodes ('odd')") != std::string::npos);
  ParameterBinding binding(m.get(), PendulumSpecs());
  const nlohmann::json j = CalibrationToJson(r, binding, "t");
  CHECK(j["fit"]["excluded_episodes"] == nlohmann::json::array({"odd"}));
  CHECK(j["fit"]["refit_initial_cost"].get<double>() < j["fit"]["first_pass_cost"].get<double>());
}

TEST_CASE("priors are weighed by the error model: a prior holds a mass the data barely know") {
  // Coloured noise: the residuals overstate the data's information by the error model's
  // inflation w. Mass alone is fitted (damping fixed at the truth). For a locally linear model
  // the estimate is the precision-weighted mean of the data-only estimate (information I) and
  // the prior (precision L): (I theta + w L mu) / (I + w L) weighed, w = 1 at face value.
  const testing::CoverageCase c = testing::MakeCoverageCase("pendulum");
  ModelPtr m = LoadModelString(c.xml);
  const auto episodes = testing::CoverageEpisodes(c, m.get(), 7);
  std::vector<ParameterSpec> specs = c.fit_specs;
  specs[0].initial = c.truth[0];
  specs[0].fixed = true;
  CalibrationOptions o;
  o.threads = 2;
  o.segment_seconds = 0.25;
  o.held_out_fraction = 0;
  ParameterBinding data_only(m.get(), specs);
  const CalibrationResult a = Calibrate(m.get(), data_only, episodes, o);
  REQUIRE(a.summary.usable());
  const double theta = a.value[1], info = a.data_information(1, 1);
  const double w = a.error_model.inflation;
  MESSAGE("data only: mass " << theta << ", formal std " << a.std[1] << ", honest "
                             << a.honest_std[1] << ", inflation " << w);
  REQUIRE(w > 2);
  // A prior as informative as the honest data, three honest stds away.
  specs[1].prior_std = std::sqrt(w / info);
  specs[1].prior_mean = theta + 3 * specs[1].prior_std;
  const double lambda = 1 / (specs[1].prior_std * specs[1].prior_std);
  ParameterBinding with_prior(m.get(), specs);
  const CalibrationResult weighed = Calibrate(m.get(), with_prior, episodes, o);
  o.weigh_priors = false;
  const CalibrationResult face = Calibrate(m.get(), with_prior, episodes, o);
  REQUIRE(weighed.summary.usable());
  REQUIRE(face.summary.usable());
  const double ww = weighed.summary.prior_weight;
  const double expect_weighed =
      (info * theta + ww * lambda * specs[1].prior_mean) / (info + ww * lambda);
  const double expect_face = (info * theta + lambda * specs[1].prior_mean) / (info + lambda);
  const double shift = specs[1].prior_mean - theta;
  MESSAGE("weighed " << weighed.value[1] << " (expected " << expect_weighed << ", weight " << ww
                     << "), face value " << face.value[1] << " (expected " << expect_face << ")");
  CHECK(ww == doctest::Approx(w).epsilon(0.2));
  CHECK(face.summary.prior_weight == 1.0);
  CHECK(std::abs(weighed.value[1] - expect_weighed) < 0.1 * shift);
  CHECK(std::abs(face.value[1] - expect_face) < 0.1 * shift);
  // The weighed estimate sits about half-way; at face value the data weigh w times more.
  CHECK(weighed.value[1] - theta > 0.4 * shift);
  CHECK(face.value[1] - theta < weighed.value[1] - theta - 0.15 * shift);
  // Both are determined by the data; the prior holds a large share of the honest posterior.
  CHECK(weighed.determined_by[1] == "data");
  CHECK(weighed.prior_share[1] > 0.3);
  CHECK(weighed.prior_share[1] < 0.7);
}

TEST_CASE("a fixed parameter keeps its initial value, is applied and reported, and costs nothing") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const auto episodes = Pendulum(m.get(), {1e-3, 1e-3}, {1.0, 1.0});
  std::vector<ParameterSpec> specs = PendulumSpecs();
  specs[0].initial = 0.08;  // the truth: the mass must come back with it
  specs[0].fixed = true;
  // No contacts: the bob's friction does nothing, which a fixed parameter may.
  specs.push_back(Spec("bob_friction", {"geom:bob.friction[0]"}, 1.0, 0.1, 2));
  specs.back().fixed = true;
  ParameterBinding b(m.get(), specs);
  CalibrationOptions o;
  o.threads = 2;
  const CalibrationResult r = Calibrate(m.get(), b, episodes, o);
  REQUIRE(r.summary.usable());
  CHECK(r.value[0] == 0.08);
  CHECK(r.value[2] == 1.0);
  CHECK(r.std[0] == 0.0);
  CHECK(r.honest_std[0] == 0.0);
  CHECK(r.covariance(0, 1) == 0.0);
  CHECK(r.determined_by == std::vector<std::string>{"fixed", "data", "fixed"});
  CHECK(r.identifiability.unidentifiable.empty());
  CHECK(std::abs(r.value[1] - 0.7) < 3 * r.honest_std[1]);
  CHECK(r.summary.unknowns == 1 + 2 * r.summary.segments);
  const nlohmann::json j = CalibrationToJson(r, b, "t");
  CHECK(j["parameters"][0]["fixed"] == true);
  CHECK(j["parameters"][1]["fixed"] == false);
  CHECK(j["parameters"][0]["determined_by"] == "fixed");

  // The study's parameter spec reads it.
  const nlohmann::json doc = nlohmann::json::parse(
      R"({"name": "mass", "targets": ["body:link.mass"], "initial": 0.7, "fixed": true})");
  CHECK(ReadParameterSpec(JsonReader(doc, "study.json", "parameters[0]")).fixed);
  const nlohmann::json bad = nlohmann::json::parse(
      R"({"name": "mass", "targets": ["body:link.mass"], "initial": 0.7, "fixed": "yes"})");
  CHECK_THROWS_AS(ReadParameterSpec(JsonReader(bad, "study.json", "parameters[0]")), InputError);

  // Every parameter fixed: nothing to fit, refused as bad input (it used to crash in the error
  // model on an empty information matrix).
  for (ParameterSpec& s : specs) s.fixed = true;
  CHECK_THROWS_WITH_AS(Calibrate(m.get(), ParameterBinding(m.get(), specs), episodes, o),
                       doctest::Contains("at least one parameter that is not fixed, got all 3"),
                       InputError);
}

TEST_CASE("identifiability comes from the data alone, what only priors hold is said so") {
  // Two gains that act only as a product: the data fix the product, a prior on one of them
  // holds both. It used to make them "identifiable".
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const auto episodes = Pendulum(m.get(), {1e-3, 1e-3}, {1.0, 1.0}, Eigen::Vector2d(0.08, 0.6));
  std::vector<ParameterSpec> specs = {
      Spec("damping", {"joint:hinge.damping"}, 0.06, 0, 1),
      Spec("ctrl_gain", {"ctrl:motor.gain"}, 1.2, 0.2, 5),
      Spec("motor_gain", {"actuator:motor.gainprm[0]"}, 0.9, 0.2, 5)};
  specs[1].prior_mean = 1.0;
  specs[1].prior_std = 0.05;
  ParameterBinding b(m.get(), specs);
  CalibrationOptions o;
  o.threads = 2;
  const CalibrationResult r = Calibrate(m.get(), b, episodes, o);
  REQUIRE(r.summary.usable());
  MESSAGE(CalibrationSummaryText(r));
  CHECK(r.identifiability.unidentifiable == std::vector<std::string>{"ctrl_gain", "motor_gain"});
  CHECK(r.identifiability.held_by_prior == std::vector<std::string>{"ctrl_gain", "motor_gain"});
  CHECK(r.determined_by == std::vector<std::string>{"data", "prior", "prior"});
  // Data and prior together determine them: finite stds, the product from the data.
  CHECK(std::isfinite(r.honest_std[2]));
  CHECK(std::isfinite(r.std[2]));
  CHECK(r.value[1] * r.value[2] == doctest::Approx(1.0).epsilon(0.01));
  CHECK(r.prior_share[1] > 0.9);  // the data taught nothing about the gain itself
  const nlohmann::json j = CalibrationToJson(r, b, "t");
  CHECK(j["parameters"][1]["identifiable"] == false);
  CHECK(j["parameters"][1]["determined_by"] == "prior");
  CHECK(j["identifiability"]["held_by_prior"].size() == 2);
  CHECK(CalibrationSummaryText(r).find("motor_gain (held by priors)") != std::string::npos);
}

TEST_CASE(
    "a parameter whose honest std reaches a flat distribution's over its bounds is held by them") {
  // The std of a flat distribution over [l, u] is (u - l) / sqrt(12): [0, 0.05] gives 0.014434.
  CHECK_FALSE(HeldByBounds(0.0144, 0.0, 0.05));
  CHECK(HeldByBounds(0.01444, 0.0, 0.05));
  CHECK(HeldByBounds(std::numeric_limits<double>::infinity(), 0.0, 0.05));
  CHECK(HeldByBounds(std::numeric_limits<double>::quiet_NaN(), -1.0, 1.0));
  CHECK_FALSE(HeldByBounds(100.0, 0.0, std::numeric_limits<double>::infinity()));  // one-sided
  CHECK_FALSE(HeldByBounds(100.0, -1e300, 1.0));  // the study's "no bound"
  // The two gains that act only as a product, with no prior: nothing but their bounds holds
  // them apart (their honest covariance is singular), while the damping is the data's.
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const auto episodes = Pendulum(m.get(), {1e-3, 1e-3}, {1.0, 1.0}, Eigen::Vector2d(0.08, 0.6));
  ParameterBinding b(m.get(), {Spec("damping", {"joint:hinge.damping"}, 0.06, 0, 1),
                               Spec("ctrl_gain", {"ctrl:motor.gain"}, 1.2, 0.2, 5),
                               Spec("motor_gain", {"actuator:motor.gainprm[0]"}, 0.9, 0.2, 5)});
  CalibrationOptions o;
  o.threads = 2;
  const CalibrationResult r = Calibrate(m.get(), b, episodes, o);
  REQUIRE(r.summary.usable());
  MESSAGE(CalibrationSummaryText(r));
  CHECK(r.identifiability.held_by_bounds == std::vector<std::string>{"ctrl_gain", "motor_gain"});
  REQUIRE(r.identifiability.flat_std.size() == 2);
  CHECK(r.identifiability.flat_std[0] == doctest::Approx(4.8 / std::sqrt(12.0)));
  CHECK(r.determined_by == std::vector<std::string>{"data", "bounds", "bounds"});
  const nlohmann::json j = CalibrationToJson(r, b, "t");
  CHECK(j["parameters"][1]["determined_by"] == "bounds");
  CHECK(j["identifiability"]["held_by_bounds"].size() == 2);
  CHECK(CalibrationSummaryText(r).find("held by its bounds, not the data: motor_gain") !=
        std::string::npos);
}

}  // namespace
}  // namespace nextbatch
