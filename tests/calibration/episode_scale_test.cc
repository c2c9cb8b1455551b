// CalibrationOptions::episode_scale: one physical parameter acting through a per-episode factor
// known from the episode's metadata (a servo's firmware gain), recovered from noisy logs.
#include <doctest/doctest.h>

#include <cmath>

#include "calibration/calibration.h"
#include "calibration/calibration_json.h"
#include "engine/error.h"
#include "engine/model.h"
#include "tests/calibration/synthetic.h"

namespace nextbatch {
namespace {

// A pendulum on a position servo whose stiffness is gain x kp, kp differing per episode.
const char* kServoXml = R"(<mujoco model="servo">
  <option timestep="0.002" integrator="Euler"/>
  <worldbody>
    <body name="arm" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="0.02" armature="0.002"/>
      <geom name="bob" type="sphere" pos="0 0 -0.1" size="0.02" mass="0.5"/>
    </body>
  </worldbody>
  <actuator>
    <position name="servo" joint="hinge" kp="1"/>
  </actuator>
</mujoco>)";

ParameterSpec Gain(double initial) {
  ParameterSpec s;
  s.name = "gain";
  s.targets = {"actuator:servo.gainprm[0]", "actuator:servo.biasprm[1]*-1"};
  s.initial = initial;
  s.lower = 1e-4;
  s.upper = 0.1;
  return s;
}

ParameterSpec Damping(double initial) {
  ParameterSpec s;
  s.name = "damping";
  s.targets = {"joint:hinge.damping"};
  s.initial = initial;
  s.lower = 0;
  s.upper = 1;
  return s;
}

struct ServoCase {
  ModelPtr model = LoadModelString(kServoXml);
  ParameterBinding binding{model.get(), {Gain(0.003), Damping(0.03)}};
  Eigen::Vector2d truth{0.0015, 0.02};  // gain (N m/rad per kp unit), damping
  std::vector<double> kp = {100, 200, 400, 800};

  // Each episode simulated with stiffness truth_gain * kp, and its kp in the metadata.
  std::vector<Episode> Episodes() const {
    testing::SyntheticLog log;
    log.duration = 1.5;
    log.ctrl_offset = {0.0};
    log.ctrl_amplitude = {0.8};
    std::vector<Episode> out;
    for (std::size_t i = 0; i < kp.size(); ++i) {
      Eigen::Vector2d v = truth;
      v[0] *= kp[i];
      State s = State::Reference(model.get());
      Episode e = testing::MakeEpisode(model.get(), binding, v, s, log, static_cast<int>(i));
      e.scenario["kp"] = kp[i];
      out.push_back(e);
    }
    return out;
  }
};

TEST_CASE("episode_scale: a gain per firmware kp unit comes back from logs with four kp") {
  ServoCase c;
  CalibrationOptions o;
  o.threads = 2;
  o.held_out_fraction = 0;
  o.episode_scale = {{"gain", "kp"}};
  const std::vector<Episode> episodes = c.Episodes();
  CalibrationResult r = Calibrate(c.model.get(), c.binding, episodes, o);
  REQUIRE(r.summary.usable());
  for (int j = 0; j < 2; ++j) {
    const double z = (r.value[j] - c.truth[j]) / r.std[j];
    MESSAGE(r.names[j] << " " << r.value[j] << " +- " << r.std[j] << " truth " << c.truth[j] << " ("
                       << z << " sigma)");
    CHECK(std::abs(z) < 3.0);
  }
  CHECK(r.summary.reduced_chi2 > 0.8);
  CHECK(r.summary.reduced_chi2 < 1.2);

  // The replay uses the same per-episode factors: the truth replays to the noise level, while
  // the truth without the factors (one stiffness for every kp) is far off.
  const ReplayError with = ComputeReplayError(c.model.get(), c.binding, c.truth, episodes, 0.3, 2,
                                              ControlHold::kLinear, o.episode_scale);
  Eigen::Vector2d flat = c.truth;
  flat[0] *= 400;
  const ReplayError without =
      ComputeReplayError(c.model.get(), c.binding, flat, episodes, 0.3, 2, ControlHold::kLinear);
  MESSAGE("replay with factors " << with.median << ", one stiffness " << without.median);
  CHECK(with.median < 0.01);  // a few noise levels: the start state comes from noisy samples
  CHECK(without.median > 5 * with.median);
}

TEST_CASE("episode_scale: bad names and missing metadata are input errors") {
  ServoCase c;
  std::vector<Episode> episodes = c.Episodes();
  CalibrationOptions o;
  o.episode_scale = {{"stiffness", "kp"}};
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), c.binding, episodes, o),
                       doctest::Contains("calibration.episode_scale"), InputError);
  o.episode_scale = {{"gain", "kp"}};
  episodes[2].scenario.erase("kp");
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), c.binding, episodes, o),
                       doctest::Contains("episode 'ep2': scenario.kp"), InputError);
  episodes[2].scenario["kp"] = "high";
  CHECK_THROWS_WITH_AS(Calibrate(c.model.get(), c.binding, episodes, o),
                       doctest::Contains("a finite non-zero number"), InputError);
  episodes[2].scenario["kp"] = 0;
  CHECK_THROWS_AS(Calibrate(c.model.get(), c.binding, episodes, o), InputError);
}

TEST_CASE("episode_scale: read from the calibration section, strictly") {
  nlohmann::json ok = {{"episode_scale", {{"gain", "kp"}}}};
  CalibrationOptions o = ReadCalibrationOptions(JsonReader(ok, "study.json", "calibration"));
  REQUIRE(o.episode_scale.size() == 1);
  CHECK(o.episode_scale.at("gain") == "kp");
  nlohmann::json bad = {{"episode_scale", {{"gain", 3}}}};
  CHECK_THROWS_WITH_AS(ReadCalibrationOptions(JsonReader(bad, "study.json", "calibration")),
                       doctest::Contains("episode_scale.gain"), InputError);
  nlohmann::json notobj = {{"episode_scale", "kp"}};
  CHECK_THROWS_AS(ReadCalibrationOptions(JsonReader(notobj, "study.json", "calibration")),
                  InputError);
}

}  // namespace
}  // namespace nextbatch
