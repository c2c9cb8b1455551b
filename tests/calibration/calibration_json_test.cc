#include "calibration/calibration_json.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"

namespace nextbatch {
namespace {

CalibrationOptions Read(const std::string& text) {
  nlohmann::json doc = ParseJson(text, "study.json");
  return ReadCalibrationOptions(JsonReader(doc, "study.json", "calibration"));
}

TEST_CASE("torque channels: alone, with their window and speed, or refused with the field named") {
  const CalibrationOptions o =
      Read(R"({"channels": ["torque"], "torque_window": 0.1, "torque_min_speed": 0.2})");
  CHECK(o.fit_torque);
  CHECK_FALSE(o.fit_qpos);
  CHECK_FALSE(o.fit_qvel);
  CHECK_FALSE(o.fit_sensors);
  CHECK(o.torque_window == 0.1);
  CHECK(o.torque_min_speed == 0.2);
  CHECK(o.Validate().empty());
  // the defaults
  CHECK_FALSE(Read("{}").fit_torque);
  CHECK(Read("{}").torque_window == 0);  // auto
  CHECK(Read(R"({"torque_window": "auto"})").torque_window == 0);
  CHECK(Read("{}").torque_min_speed == 0.05);
  CHECK_THROWS_WITH_AS(Read(R"({"channels": ["torque", "qpos"]})"),
                       doctest::Contains("\"torque\" alone"), InputError);
  CHECK_THROWS_WITH_AS(Read(R"({"channels": ["torques"]})"),
                       doctest::Contains("qpos, qvel, sensors or torque"), InputError);
  CHECK_THROWS_WITH_AS(Read(R"({"torque_window": "wide"})"),
                       doctest::Contains("calibration.torque_window: expected a duration > 0 (s) "
                                         "or \"auto\""),
                       InputError);
  CHECK_THROWS_WITH_AS(Read(R"({"torque_window": 0})"),
                       doctest::Contains("calibration.torque_window"), InputError);
  // auto chooses by the held-out segments: without any it is refused
  CHECK_THROWS_WITH_AS(Read(R"({"channels": ["torque"], "held_out_fraction": 0})"),
                       doctest::Contains("calibration.torque_window: expected a window in s, or "
                                         "held-out segments to choose one by"),
                       InputError);
  CHECK(Read(R"({"channels": ["torque"], "held_out_fraction": 0, "torque_window": 0.1})")
            .Validate()
            .empty());
  CalibrationOptions bad = o;
  bad.torque_window = -1;
  CHECK(bad.Validate().find("calibration.torque_window") != std::string::npos);
  bad = o;
  bad.torque_min_speed = std::nan("");
  CHECK(bad.Validate().find("calibration.torque_min_speed") != std::string::npos);
}

TEST_CASE("a calibration section maps one to one onto the options") {
  CalibrationOptions o = Read(R"({"segment_seconds": 0.8, "loss": "cauchy", "loss_scale": 2,
      "max_iterations": 20, "noise": {"qpos": 0.002, "qvel:elbow": 0.05},
      "held_out_fraction": 0.25, "outlier_threshold": 4, "refit_without_outliers": false,
      "channels": ["qpos", "sensors"], "control_hold": "zero_order",
      "preflight_min_effect": 0.01, "threads": 3, "step_tolerance": 0.2,
      "projection_after": 7})");
  CHECK(o.step_tolerance == 0.2);
  CHECK(o.projection_after == 7);
  CHECK(o.ProjectionAfter() == 7);
  // the default: projected steps after 5 Ceres iterations, none with the Cauchy loss
  CHECK(Read("{}").ProjectionAfter() == 5);
  CHECK(Read(R"({"loss": "none"})").ProjectionAfter() == 5);
  CHECK(Read(R"({"loss": "cauchy"})").ProjectionAfter() == 0);
  CHECK(Read(R"({"loss": "cauchy", "projection_after": 3})").ProjectionAfter() == 3);
  CHECK(o.segment_seconds == 0.8);
  CHECK(o.loss == LossType::kCauchy);
  CHECK(o.loss_scale == 2);
  CHECK(o.max_iterations == 20);
  CHECK(o.noise.at("qpos") == 0.002);
  CHECK(o.noise.at("qvel:elbow") == 0.05);
  CHECK(o.held_out_fraction == 0.25);
  CHECK(o.outlier_threshold == 4);
  CHECK_FALSE(o.refit_without_outliers);
  CHECK(o.fit_qpos);
  CHECK_FALSE(o.fit_qvel);
  CHECK(o.fit_sensors);
  CHECK(o.control_hold == ControlHold::kZeroOrder);
  CHECK(o.preflight_min_effect == 0.01);
  CHECK(o.threads == 3);
  CalibrationOptions m = Read(R"({"starts": [{"mass": 0.7, "damping": 0.1}, {}]})");
  REQUIRE(m.starts.size() == 2);
  CHECK(m.starts[0].at("mass") == 0.7);
  CHECK(m.starts[0].at("damping") == 0.1);
  CHECK(m.starts[1].empty());
  CalibrationOptions d = Read(R"({"noise": "estimate"})");
  CHECK(d.starts.empty());
  CHECK(d.noise.empty());
  CHECK(d.segment_seconds == CalibrationOptions().segment_seconds);
  CHECK(d.loss == LossType::kHuber);
  CHECK(d.step_tolerance == 0.1);
}

TEST_CASE("malformed calibration sections are refused with file, field and what was expected") {
  auto fails = [](const std::string& text, const std::string& message) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(Read(text), doctest::Contains(message.c_str()), InputError);
  };
  fails(R"({"segment_secs": 0.5})", "study.json: calibration.segment_secs: unknown key");
  fails(R"({"segment_seconds": -1})",
        "study.json: calibration.segment_seconds: expected a duration > 0, got -1");
  fails(R"({"segment_seconds": "long"})", "calibration.segment_seconds");
  fails(R"({"state_window": -0.1})",
        "study.json: calibration.state_window: expected a duration >= 0 (0: the 9 nearest "
        "samples), got -0.1");
  fails(R"({"state_window": "wide"})", "calibration.state_window");
  fails(R"({"loss": "l1"})",
        "study.json: calibration.loss: expected one of huber, cauchy, none, got \"l1\"");
  fails(R"({"loss_scale": 0})", "calibration.loss_scale: expected a number > 0");
  fails(R"({"max_iterations": 0})", "calibration.max_iterations: expected an integer >= 1");
  fails(R"({"step_tolerance": -0.1})",
        "study.json: calibration.step_tolerance: expected a number >= 0 (honest standard "
        "deviations; 0: off)");
  fails(R"({"projection_after": -1})",
        "study.json: calibration.projection_after: expected an integer >= 0 (Ceres iterations; "
        "0: no projected steps)");
  fails(R"({"projection_after": 2.5})", "calibration.projection_after");
  fails(R"({"noise": "guess"})",
        "study.json: calibration.noise: expected \"estimate\" or an object {channel: std}");
  fails(R"({"noise": {"qpos": -0.1}})",
        "study.json: calibration.noise.qpos: expected a standard deviation > 0");
  fails(R"({"noise": 3})", "calibration.noise: expected \"estimate\" or an object");
  fails(R"({"held_out_fraction": 1.0})",
        "calibration.held_out_fraction: expected a fraction in [0, 1)");
  fails(R"({"outlier_threshold": 0})", "calibration.outlier_threshold: expected a number > 0");
  fails(R"({"channels": ["qpos", "effort"]})",
        "study.json: calibration.channels: expected qpos, qvel, sensors or torque, got \"effort\"");
  fails(R"({"channels": ["qpos", "torque"]})",
        "study.json: calibration.channels: expected \"torque\" alone (an equation-error fit), or "
        "any of qpos, qvel, sensors, got [\"qpos\",\"torque\"]");
  fails(R"({"channels": []})", "calibration.channels: expected at least one of");
  fails(R"({"channels": ["qpos", "qpos"]})", "calibration.channels: expected each channel once");
  fails(R"({"control_hold": "cubic"})", "calibration.control_hold: expected one of linear");
  fails(R"({"threads": -2})", "calibration.threads: expected 0 (all) or more");
  fails(R"({"refit_without_outliers": "yes"})", "calibration.refit_without_outliers");
  fails(R"({"starts": {"mass": 1}})",
        "study.json: calibration.starts: expected an array of objects {parameter: value}");
  fails(R"({"starts": [3]})",
        "study.json: calibration.starts[0]: expected an object {parameter: value}, got 3");
  fails(R"({"starts": [{"mass": 1}, {"mass": "heavy"}]})",
        "study.json: calibration.starts[1].mass: expected a number, got the string \"heavy\"");
  fails(R"([1, 2])", "study.json: calibration: expected an object");
}

}  // namespace
}  // namespace nextbatch
