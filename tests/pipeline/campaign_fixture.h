// The study the campaign and archive tests share: the DFKI pendulum swing-up over start angle and
// torque limit (a setup factor), 1.5 s episodes, damping and friction with priors, no episodes of
// its own; and its hidden world, whose damping and friction are 2 and 1.6 prior stds off. Each
// test adds its own simulate and campaign sections.
#ifndef NEXTBATCH_TESTS_PIPELINE_CAMPAIGN_FIXTURE_H_
#define NEXTBATCH_TESTS_PIPELINE_CAMPAIGN_FIXTURE_H_

#include <nlohmann/json.hpp>
#include <string>

#include "engine/atomic_file.h"
#include "tests/fixtures/temp_files.h"
#include "tests/pipeline/pendulum_logs.h"

namespace nextbatch::testing {

// Writes pendulum.xml and world.json into `dir`; returns the study (without "simulate" and
// "campaign") named `name`.
inline nlohmann::json SwingUpCampaignFiles(const TempDir& dir, const std::string& name) {
  dir.Write("pendulum.xml", ReadFile(NEXTBATCH_SOURCE_DIR "/examples/dfki_pendulum/pendulum.xml"));
  dir.Write("world.json", R"({"schema": "nextbatch.world/1", "name": "stiff",
    "truth": {"damping": 0.09, "friction": 0.12},
    "sensor": {"rate_hz": 200, "jitter_seconds": 0.0005, "qpos_std": 0.002, "qvel_std": 0.02},
    "seed": 3})");
  nlohmann::json doc = nlohmann::json::parse(R"({"schema": "nextbatch.study/1", "seed": 4,
    "model": "pendulum.xml", "threads": 1,
    "calibration": {"segment_seconds": 0.5},
    "scenarios": {"factors": [
      {"name": "initial_angle", "range": [-0.5, 0.5],
       "binding": {"kind": "qpos", "target": "shoulder"}, "cost_seconds": 5},
      {"name": "torque_limit", "range": [0.3, 3.0],
       "binding": {"kind": "parameter", "target": "actuator:motor.ctrlrange[1]"},
       "tag": "setup", "cost_seconds": 60}]},
    "task": {"horizon": 1.5,
      "controller": {"type": "energy_swing_up", "joint": "shoulder", "actuator": "motor"},
      "outcome": {"success": {"quantity": {"joint": "shoulder", "abs": true}, "op": ">",
                              "value": 2.0, "when": "ever"}}},
    "planner": {"budget_seconds": 150, "reset_seconds": 8.5}})");
  doc["parameters"] = PendulumParameters();
  doc["name"] = name;
  return doc;
}

}  // namespace nextbatch::testing

#endif  // NEXTBATCH_TESTS_PIPELINE_CAMPAIGN_FIXTURE_H_
