// CalibrationOptions::conditions: episodes recorded with a payload (the bob's mass scaled by the
// episode's scenario) are fitted and replayed with it; without it the fit absorbs the payload.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "calibration/calibration.h"
#include "engine/error.h"
#include "engine/model.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch {
namespace {

using testing::Spec;

constexpr double kPayload = 1.5;  // the recorded mass_factor of the payload episodes

ParameterSpec MassFactor() {
  ParameterSpec s = Spec("mass_factor", {"body:link.mass"}, 1.0, 1.0, 2.0);
  s.mode = BindMode::kScale;
  return s;
}

struct PayloadCase {
  ModelPtr model = LoadModelString(testing::PendulumXml());
  std::vector<ParameterSpec> specs = {Spec("damping", {"joint:hinge.damping"}, 0.05, 0, 1),
                                      Spec("friction", {"joint:hinge.frictionloss"}, 0.05, 0, 1)};
  Eigen::Vector2d truth{0.08, 0.12};
  ParameterBinding binding{model.get(), specs};

  // Four episodes recorded with the payload (mass x1.5), generated with the mass scale as one
  // more hidden parameter (not through the conditions under test).
  std::vector<Episode> Episodes() const {
    std::vector<ParameterSpec> all = specs;
    all.push_back(MassFactor());
    const ParameterBinding generator(model.get(), all);
    testing::SyntheticLog log;
    log.duration = 2.0;
    log.qvel_noise = 0.02;
    log.ctrl_offset = {0.0};
    log.ctrl_amplitude = {2.0};
    std::vector<Episode> out;
    for (int i = 0; i < 4; ++i) {
      const double factor = kPayload;
      State s = State::Reference(model.get());
      s.qpos[0] = 0.3 * i - 0.4;
      Episode e = testing::MakeEpisode(model.get(), generator,
                                       Eigen::Vector3d(truth[0], truth[1], factor), s, log, i);
      e.scenario["mass_factor"] = factor;
      out.push_back(std::move(e));
    }
    return out;
  }

  // Each episode's recorded factor as its condition.
  EpisodeConditions Conditions(const std::vector<Episode>& episodes) const {
    EpisodeConditions c;
    c.binding = ParameterBinding(model.get(), {MassFactor()});
    for (const Episode& e : episodes) {
      c.values[e.id] = Eigen::VectorXd::Constant(1, e.scenario.at("mass_factor").get<double>());
    }
    return c;
  }
};

TEST_CASE("conditions: a payload recorded in the scenario is fitted with, and only then unbiased") {
  PayloadCase c;
  const std::vector<Episode> episodes = c.Episodes();
  CalibrationOptions o;
  o.threads = 2;
  o.held_out_fraction = 0;
  o.conditions = c.Conditions(episodes);
  const CalibrationResult with = Calibrate(c.model.get(), c.binding, episodes, o);
  REQUIRE(with.summary.usable());
  for (int j = 0; j < 2; ++j) {
    const double z = (with.value[j] - c.truth[j]) / with.honest_std[j];
    MESSAGE("with the scenario: " << with.names[j] << " " << with.value[j] << " +- "
                                  << with.honest_std[j] << " (truth " << c.truth[j] << ", " << z
                                  << " sigma)");
    CHECK(std::abs(z) < 3.0);
  }
  CHECK(with.summary.reduced_chi2 < 1.3);

  // The old behaviour: the bare model for every episode. The fit absorbs the payload.
  o.conditions = EpisodeConditions();
  const CalibrationResult without = Calibrate(c.model.get(), c.binding, episodes, o);
  REQUIRE(without.summary.usable());
  double worst = 0.0, worst_formal = 0.0;
  for (int j = 0; j < 2; ++j) {
    const double z = (without.value[j] - c.truth[j]) / without.honest_std[j];
    const double zf = (without.value[j] - c.truth[j]) / without.std[j];
    MESSAGE("without: " << without.names[j] << " " << without.value[j] << " +- "
                        << without.honest_std[j] << " (" << z << " honest sigma, " << zf
                        << " formal sigma)");
    worst = std::max(worst, std::abs(z));
    worst_formal = std::max(worst_formal, std::abs(zf));
  }
  MESSAGE("reduced chi2 with " << with.summary.reduced_chi2 << ", without "
                               << without.summary.reduced_chi2);
  // The honest stds widen with the misfit (chi2 ~100), yet the bias stays beyond 3 of them; the
  // formal ones are off by tens.
  CHECK(worst > 3.0);
  CHECK(worst_formal > 20.0);
  CHECK(without.summary.reduced_chi2 > 10 * with.summary.reduced_chi2);
}

TEST_CASE("conditions: the truth replays a payload episode to the noise level only with them") {
  PayloadCase c;
  const std::vector<Episode> episodes = c.Episodes();
  const std::vector<Episode> payload = {episodes[0]};
  const EpisodeConditions conditions = c.Conditions(episodes);
  const ReplayError with =
      ComputeReplayError(c.model.get(), c.binding, c.truth, payload, 0.3, 2, ControlHold::kLinear,
                         {}, kDefaultStateWindow, &conditions);
  const ReplayError without =
      ComputeReplayError(c.model.get(), c.binding, c.truth, payload, 0.3, 2, ControlHold::kLinear);
  MESSAGE("replay of the truth: with the scenario " << with.median << ", without "
                                                    << without.median);
  CHECK(with.median < 0.01);  // a few noise levels (1e-3): the start states are noisy
  CHECK(without.median > 5 * with.median);
}

TEST_CASE("conditions: a fitted mass and the scenario's factor on it compose (mass x factor)") {
  PayloadCase c;
  // Hidden: the bob's link mass 0.75 (base 0.6) and damping; the payload episodes scale it.
  std::vector<ParameterSpec> specs = {Spec("damping", {"joint:hinge.damping"}, 0.05, 0, 1),
                                      Spec("mass", {"body:link.mass"}, 0.6, 0.1, 3)};
  const ParameterBinding binding(c.model.get(), specs);
  const Eigen::Vector2d truth(0.08, 0.75);
  testing::SyntheticLog log;
  log.duration = 2.0;
  log.qvel_noise = 0.02;
  log.ctrl_offset = {0.0};
  log.ctrl_amplitude = {2.0};
  std::vector<Episode> episodes;
  EpisodeConditions conditions;
  conditions.binding = ParameterBinding(c.model.get(), {MassFactor()});
  for (int i = 0; i < 3; ++i) {
    const double factor = i == 1 ? 1.0 : kPayload;
    State s = State::Reference(c.model.get());
    s.qpos[0] = 0.3 * i - 0.3;
    // The documented order, written out: the episode's mass is the parameter's times the factor.
    Episode e = testing::MakeEpisode(c.model.get(), binding,
                                     Eigen::Vector2d(truth[0], truth[1] * factor), s, log, i);
    e.scenario["mass_factor"] = factor;
    conditions.values[e.id] = Eigen::VectorXd::Constant(1, factor);
    episodes.push_back(std::move(e));
  }
  CalibrationOptions o;
  o.threads = 2;
  o.held_out_fraction = 0;
  o.conditions = conditions;
  const CalibrationResult r = Calibrate(c.model.get(), binding, episodes, o);
  REQUIRE(r.summary.usable());
  for (int j = 0; j < 2; ++j) {
    const double z = (r.value[j] - truth[j]) / r.honest_std[j];
    MESSAGE(r.names[j] << " " << r.value[j] << " +- " << r.honest_std[j] << " (truth " << truth[j]
                       << ", " << z << " sigma)");
    CHECK(std::abs(z) < 3.0);
  }
  // The factor also composes with episode_scale (which scales the parameter's value first):
  // damping scaled by a per-episode 1 changes nothing.
  for (Episode& e : episodes) e.scenario["unit"] = 1.0;
  o.episode_scale = {{"damping", "unit"}};
  const CalibrationResult scaled = Calibrate(c.model.get(), binding, episodes, o);
  REQUIRE(scaled.summary.usable());
  CHECK(scaled.value[1] == doctest::Approx(r.value[1]).epsilon(1e-6));
  // episode_scale by the very factor the conditions apply to the mass would scale it twice.
  o.episode_scale = {{"mass", "mass_factor"}};
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), binding, episodes, o),
                       doctest::Contains("calibration.episode_scale.mass"), InputError);
}

}  // namespace
}  // namespace nextbatch
