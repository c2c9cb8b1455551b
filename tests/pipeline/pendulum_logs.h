// The pipeline tests' shared data: the DFKI pendulum model and two synthetic logs of it, made with
// hidden damping 0.08 and friction 0.15 from two start angles, written into a test folder, and the
// study every pipeline fixture starts from.
#ifndef NEXTBATCH_TESTS_PIPELINE_PENDULUM_LOGS_H_
#define NEXTBATCH_TESTS_PIPELINE_PENDULUM_LOGS_H_

#include <nlohmann/json.hpp>
#include <string>

#include "engine/episode_io.h"
#include "engine/model.h"
#include "engine/parameter.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch::testing {

// Writes pendulum.xml, ep0.json and ep1.json into `dir`.
inline void WritePendulumLogs(const TempDir& dir) {
  dir.Write("pendulum.xml", ReadFile(NEXTBATCH_SOURCE_DIR "/examples/dfki_pendulum/pendulum.xml"));
  ModelPtr m = LoadModelFile(dir.File("pendulum.xml"));
  ParameterSpec damping{"damping", {"joint:shoulder.damping"}};
  ParameterSpec friction{"friction", {"joint:shoulder.frictionloss"}};
  damping.upper = friction.upper = 1;
  damping.lower = friction.lower = 0;
  ParameterBinding b(m.get(), {damping, friction});
  SyntheticLog log;
  log.duration = 1.5;
  log.qvel_noise = 0.02;
  log.ctrl_offset = {0.0};
  log.ctrl_amplitude = {2.0};
  for (int i = 0; i < 2; ++i) {
    State s = State::Reference(m.get());
    s.qpos[0] = 0.5 * i - 0.2;
    const Episode e = MakeEpisode(m.get(), b, Eigen::Vector2d(0.08, 0.15), s, log, i);
    WriteEpisodeJson(e, dir.File("ep" + std::to_string(i) + ".json"));
  }
}

// The shoulder's damping and dry friction with their priors: what the pipeline fixtures fit.
inline nlohmann::json PendulumParameters() {
  return nlohmann::json::parse(R"([
      {"name": "damping", "targets": ["joint:shoulder.damping"], "initial": 0.05,
       "bounds": [0, 0.5], "prior": {"mean": 0.05, "std": 0.02}},
      {"name": "friction", "targets": ["joint:shoulder.frictionloss"], "initial": 0.2,
       "bounds": [0, 1], "prior": {"mean": 0.2, "std": 0.05}}])");
}

// A study of that pendulum with every stage: the two logs (native episodes, not resampled),
// damping and friction with priors, two factors (start angle, torque limit), 8 swing-up
// candidates of 1 s. Fixtures add what they test (a planner, setup costs, episode scenarios).
inline nlohmann::json PendulumStudyDoc(const std::string& name, int seed) {
  nlohmann::json doc = nlohmann::json::parse(R"({"schema": "nextbatch.study/1",
    "model": "pendulum.xml", "threads": 1,
    "dataset": {"importer": {"format": "native"},
                "episodes": [{"path": "ep0.json"}, {"path": "ep1.json"}],
                "cleaning": {"resample": false}},
    "calibration": {"segment_seconds": 0.5, "max_iterations": 30},
    "scenarios": {"factors": [
      {"name": "initial_angle", "range": [-0.5, 0.5],
       "binding": {"kind": "qpos", "target": "shoulder"}},
      {"name": "torque_limit", "range": [0.5, 3.0],
       "binding": {"kind": "parameter", "target": "actuator:motor.ctrlrange[1]"}}]},
    "task": {"horizon": 1.0,
      "controller": {"type": "energy_swing_up", "joint": "shoulder", "actuator": "motor"},
      "outcome": {"success": {"quantity": {"joint": "shoulder", "abs": true}, "op": ">",
                              "value": 1.5, "when": "ever"}}},
    "simulate": {"candidates": 8, "posterior_samples": 3, "chunk": 4}})");
  doc["parameters"] = PendulumParameters();
  doc["name"] = name;
  doc["seed"] = seed;
  return doc;
}

// The torque limit as a setup factor whose change costs 60 s (the plan fixtures' schedules).
inline void MakeTorqueLimitASetup(nlohmann::json& doc) {
  nlohmann::json& factor = doc["scenarios"]["factors"][1];
  factor["tag"] = "setup";
  factor["cost_seconds"] = 60;
}

}  // namespace nextbatch::testing

#endif  // NEXTBATCH_TESTS_PIPELINE_PENDULUM_LOGS_H_
