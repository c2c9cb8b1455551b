// A hidden world: the reality a dry-run campaign collects its episodes from. The same robot as a
// study, with true parameter values the study does not know, optionally another MJCF (other
// effects: masses, friction models, geometry) and a sensor model. Collecting a scenario runs the
// study's task (its controller, horizon and scenario bindings, as the simulate stage does) under
// the truth, judges the outcome by the task's own rules on the true trajectory, and records the
// joints and actuators as a real log would hold them: at the sensor rate, with time jitter and
// noise.
//
// World file (schema "nextbatch.world/1", docs/campaigns.md):
//   {"schema": "nextbatch.world/1", "name": "heavy_pendulum", "notes": "...",
//    "truth": {"damping": 0.08, "friction": 0.3},     every study parameter, by name
//    "model": "world.xml",                            optional: another MJCF of the same robot
//    "sensor": {"rate_hz": 200, "jitter_seconds": 0.0005, "qpos_std": 0.002, "qvel_std": 0.02,
//               "ctrl_std": 0.01},
//    "start": {"qpos_std": 0.01, "qvel_std": 0.02},   the real start's spread beyond the scenario
//    "seed": 11}
// Paths are relative to the world file.
#ifndef NEXTBATCH_SCENARIOS_WORLD_H_
#define NEXTBATCH_SCENARIOS_WORLD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/episode.h"
#include "engine/model.h"
#include "engine/parameter.h"
#include "engine/study.h"
#include "scenarios/scenario_binding.h"
#include "scenarios/space.h"
#include "scenarios/task.h"

namespace nextbatch {

// What a log records of the true motion. Noise is Gaussian, independent per sample and channel;
// ctrl noise is on the logged command only (the robot acts on the commanded value).
struct SensorModel {
  double rate_hz = 100.0;  // samples per second, > 0
  double jitter_seconds =
      0.0;                // std of each interior sample's time offset (clipped to 0.45 / rate)
  double qpos_std = 0.0;  // rad or m
  double qvel_std = 0.0;  // rad/s or m/s
  double ctrl_std = 0.0;  // the actuator's unit
  std::string Validate() const;  // "" when valid, else "sensor.field: expected X, got Y"
};

struct WorldSpec {
  std::string file;  // the world file (for messages)
  std::string name;
  std::vector<double> truth;  // per study parameter, in the study's order
  std::string model;          // resolved path; "" for the study's model
  SensorModel sensor;
  double start_qpos_std = 0.0;  // the true start's spread beyond the scenario (hinge and slide)
  double start_qvel_std = 0.0;
  std::uint64_t seed = 0;
};

// Reads and checks a world file against the study: every study parameter is given (and no other
// name), values finite; unknown keys, negative noise or a rate <= 0 throw InputError naming the
// file and field.
WorldSpec ReadWorldFile(const std::string& path, const Study& study);

// One collected episode and its true outcome.
struct Collected {
  Episode episode;  // the log (scenario and true outcome in its metadata)
  bool ok = true;   // the true rollout finished (false: diverged; the episode is empty)
  bool success = false;
  bool safe = true;
};

class World {
 public:
  // Loads the world's model (or the study's), resolves the study's parameters, task and
  // scenario space against it. Throws InputError for a study or world that do not fit.
  World(const Study& study, WorldSpec spec);

  const WorldSpec& spec() const { return spec_; }
  const ScenarioSpace& space() const { return binding_.space(); }
  const TaskSpec& task() const { return task_->spec(); }

  // Collects scenario `s`: its randomness (start spread, jitter, noise) comes from streams keyed
  // by (spec.seed, key), so the same key gives the same episode. Thread-safe (each call has its
  // own workspace). `id` becomes the episode's id.
  Collected Collect(const Scenario& s, std::uint64_t key, const std::string& id) const;

  // Whether the true system succeeds on `s` from the start drawn with `key` (no log made): the
  // campaign's failure map samples this.
  bool Succeeds(const Scenario& s, std::uint64_t key) const;

 private:
  struct Trajectory;
  bool Run(const Scenario& s, std::uint64_t key, Trajectory* out) const;

  WorldSpec spec_;
  ModelPtr model_;
  ParameterBinding parameters_;
  ScenarioBinding binding_;
  std::unique_ptr<Task> task_;
  std::vector<int> joints_, actuators_;  // logged: named hinge and slide joints, named actuators
};

// A 64-bit key from the parts that identify one draw (strategy, seed, round, item, ...).
std::uint64_t WorldKey(std::initializer_list<std::uint64_t> parts);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_WORLD_H_
