// The hidden world of a campaign against known answers: a noiseless world sampled at the model
// step is a direct rollout of the task under the truth; the noise it adds has the stated std;
// jittered times stay near the grid; the same key gives the same episode; bad world files are
// refused naming the file and field.
#include "scenarios/world.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/atomic_file.h"
#include "engine/workspace.h"
#include "scenarios/space_json.h"
#include "scenarios/task_json.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

// The DFKI pendulum swinging up from a start angle with a torque limit, 1.5 s.
struct WorldStudy {
  testing::TempDir dir{"world"};
  Study study;
  WorldStudy() {
    dir.Write("pendulum.xml",
              ReadFile(NEXTBATCH_SOURCE_DIR "/examples/dfki_pendulum/pendulum.xml"));
    dir.Write("study.json", R"({"schema": "nextbatch.study/1", "name": "w", "seed": 2,
      "model": "pendulum.xml",
      "parameters": [
        {"name": "damping", "targets": ["joint:shoulder.damping"], "initial": 0.05,
         "bounds": [0, 0.5], "prior": {"mean": 0.05, "std": 0.02}},
        {"name": "friction", "targets": ["joint:shoulder.frictionloss"], "initial": 0.2,
         "bounds": [0, 1], "prior": {"mean": 0.2, "std": 0.05}}],
      "scenarios": {"factors": [
        {"name": "initial_angle", "range": [-0.5, 0.5],
         "binding": {"kind": "qpos", "target": "shoulder"}},
        {"name": "torque_limit", "range": [0.5, 3.0],
         "binding": {"kind": "parameter", "target": "actuator:motor.ctrlrange[1]"},
         "tag": "setup", "cost_seconds": 60}]},
      "task": {"horizon": 1.5,
        "controller": {"type": "energy_swing_up", "joint": "shoulder", "actuator": "motor"},
        "outcome": {"success": {"quantity": {"joint": "shoulder", "abs": true}, "op": ">",
                                "value": 1.5, "when": "ever"}}}})");
    study = Study::Load(dir.File("study.json"));
  }
  std::string World(const std::string& body) const {
    return dir.Write("world.json", R"({"schema": "nextbatch.world/1", )" + body + "}");
  }
};

const char* kTruth = R"("truth": {"damping": 0.09, "friction": 0.12})";

TEST_CASE("world: a noiseless world at the model step is the task's rollout under the truth") {
  WorldStudy w;
  const WorldSpec spec = ReadWorldFile(
      w.World(std::string(kTruth) + R"(, "sensor": {"rate_hz": 1000}, "seed": 5)"), w.study);
  CHECK(spec.truth == std::vector<double>{0.09, 0.12});
  const World world(w.study, spec);
  const Scenario s = world.space().FromJson({{"initial_angle", 0.3}, {"torque_limit", 1.2}}, "s");
  const Collected c = world.Collect(s, 17, "e0");
  REQUIRE(c.ok);
  CHECK(c.episode.id == "e0");
  CHECK(c.episode.scenario == nlohmann::json({{"initial_angle", 0.3}, {"torque_limit", 1.2}}));

  // the same episode by hand: the truth, the scenario, the task's controller and outcome
  ModelPtr m = LoadModelFile(w.study.model);
  ParameterBinding binding(m.get(), w.study.parameters);
  Workspace ws(m.get(), true);
  ws.Apply(binding, Eigen::Vector2d(0.09, 0.12));
  const Task task(m.get(), ReadTaskSpec(w.study.Section("task")));
  State x0 = task.InitialState(ws.model());
  ApplyScenario(m.get(), ReadScenarios(w.study).space, s, ws, &x0);
  ws.SetState(x0);
  std::unique_ptr<Controller> controller = task.MakeController(ws.model());
  RolloutOptions ro;
  ro.num_steps = task.NumSteps(ws.model());
  mj_forward(ws.model(), ws.data());  // as Task::Run: the controller reads derived quantities
  const RolloutResult r = Rollout(ws, controller.get(), ro);
  REQUIRE(r.ok());
  REQUIRE(c.episode.samples() == static_cast<int>(r.time.size()));  // 1.5 s at 1 kHz: 1501
  CHECK(c.episode.samples() == 1501);
  double worst = 0;
  bool reached = false;
  for (int i = 0; i < c.episode.samples(); ++i) {
    CHECK(c.episode.time[i] == doctest::Approx(r.time[i]).epsilon(1e-12));
    worst = std::max(worst, std::abs(c.episode.qpos.values(i, 0) - r.qpos(i, 0)));
    worst = std::max(worst, std::abs(c.episode.qvel.values(i, 0) - r.qvel(i, 0)));
    reached = reached || std::abs(r.qpos(i, 0)) > 1.5;
  }
  CHECK(worst < 1e-9);
  // the commands respect the scenario's torque limit, and the outcome is the task's rule
  CHECK(c.episode.ctrl.values.cwiseAbs().maxCoeff() <= 1.2 + 1e-12);
  CHECK(c.episode.ctrl.values.cwiseAbs().maxCoeff() > 0.5);
  Outcome::Evaluator evaluator(&task.outcome());
  ws.Apply(binding, Eigen::Vector2d(0.09, 0.12));
  x0 = task.InitialState(ws.model());
  ApplyScenario(m.get(), ReadScenarios(w.study).space, s, ws, &x0);
  ws.SetState(x0);
  CHECK(task.Run(ws, evaluator).success == c.success);
  CHECK(c.success == reached);
  CHECK(c.episode.outcome.at("success") == c.success);
  CHECK(world.Succeeds(s, 17) == c.success);
}

TEST_CASE("world: sensor noise has its stated std, jitter stays near the grid, keys repeat") {
  WorldStudy w;
  const World clean(w.study, ReadWorldFile(w.World(std::string(kTruth) +
                                                   R"(, "sensor": {"rate_hz": 400}, "seed": 5)"),
                                           w.study));
  const World noisy(w.study, ReadWorldFile(w.World(std::string(kTruth) +
                                                   R"(, "sensor": {"rate_hz": 400, "qpos_std": 0.05,
                                         "qvel_std": 0.2, "ctrl_std": 0.03}, "seed": 5)"),
                                           w.study));
  const Scenario s = clean.space().FromJson({{"initial_angle", -0.2}, {"torque_limit", 2}}, "s");
  double sq = 0, sv = 0, su = 0;
  int n = 0;
  for (std::uint64_t key = 0; key < 20; ++key) {
    const Collected a = clean.Collect(s, key, "a"), b = noisy.Collect(s, key, "b");
    REQUIRE(a.episode.samples() == b.episode.samples());
    for (int i = 0; i < a.episode.samples(); ++i) {
      sq += std::pow(b.episode.qpos.values(i, 0) - a.episode.qpos.values(i, 0), 2);
      sv += std::pow(b.episode.qvel.values(i, 0) - a.episode.qvel.values(i, 0), 2);
      su += std::pow(b.episode.ctrl.values(i, 0) - a.episode.ctrl.values(i, 0), 2);
      ++n;
    }
  }
  CHECK(n == 20 * 601);
  // 12020 draws: the sample std is within 3 % of the truth (about 4.6 standard errors)
  CHECK(std::sqrt(sq / n) == doctest::Approx(0.05).epsilon(0.03));
  CHECK(std::sqrt(sv / n) == doctest::Approx(0.2).epsilon(0.03));
  CHECK(std::sqrt(su / n) == doctest::Approx(0.03).epsilon(0.03));

  // the same key gives the same log; another key other noise
  const Collected x = noisy.Collect(s, 3, "x"), y = noisy.Collect(s, 3, "x"),
                  z = noisy.Collect(s, 4, "x");
  CHECK(x.episode.qpos.values == y.episode.qpos.values);
  CHECK(x.episode.qpos.values != z.episode.qpos.values);

  const World jitter(w.study,
                     ReadWorldFile(w.World(std::string(kTruth) + R"(, "sensor": {"rate_hz": 100,
                        "jitter_seconds": 0.004}, "start": {"qpos_std": 0.1}, "seed": 9)"),
                                   w.study));
  const Collected j = jitter.Collect(s, 1, "j");
  REQUIRE(j.episode.samples() == 151);
  CHECK(j.episode.time.front() == 0.0);
  CHECK(j.episode.time.back() == doctest::Approx(1.5));
  int moved = 0;
  for (int i = 0; i < j.episode.samples(); ++i) {
    CHECK(std::abs(j.episode.time[i] - 0.01 * i) <= 0.0045 + 1e-12);
    if (i > 0) CHECK(j.episode.time[i] > j.episode.time[i - 1]);
    moved += std::abs(j.episode.time[i] - 0.01 * i) > 1e-6;
  }
  CHECK(moved > 100);
  // the start spread moves the first logged angle off the scenario's
  double spread = 0;
  for (std::uint64_t key = 0; key < 200; ++key)
    spread += std::pow(jitter.Collect(s, key, "j").episode.qpos.values(0, 0) + 0.2, 2);
  CHECK(std::sqrt(spread / 200) == doctest::Approx(0.1).epsilon(0.15));
}

TEST_CASE("world: bad world files name the file and the field") {
  WorldStudy w;
  const std::string file = w.dir.File("world.json");
  auto bad = [&](const std::string& body, const std::vector<std::string>& parts) {
    w.World(body);
    std::vector<std::string> all = parts;
    all.push_back(file);
    testing::CheckError([&] { ReadWorldFile(file, w.study); }, all);
  };
  bad(std::string(kTruth) + R"(, "sensors": {})", {"sensors", "unknown"});
  bad(R"("truth": {"damping": 0.1})", {"truth.friction", "friction"});
  bad(R"("truth": {"damping": 0.1, "friction": 0.1, "mass": 1})", {"mass"});
  bad(std::string(kTruth) + R"(, "sensor": {"qpos_std": -0.1})", {"sensor.qpos_std", ">= 0"});
  bad(std::string(kTruth) + R"(, "sensor": {"rate_hz": 0})", {"sensor.rate_hz", "> 0"});
  bad(std::string(kTruth) + R"(, "sensor": {"rate_hz": -5})", {"sensor.rate_hz"});
  bad(std::string(kTruth) + R"(, "start": {"qvel_std": -1})", {"start.qvel_std"});
  bad(std::string(kTruth) + R"(, "seed": -1)", {"seed"});
  // a rate the world's simulation cannot give, or too slow for three samples per episode: the
  // file passes its own reader, the model and the task refuse it (1e7 Hz once filled 23 GB)
  auto bad_world = [&](const std::string& body, const std::vector<std::string>& parts) {
    w.World(body);
    std::vector<std::string> all = parts;
    all.push_back(file);
    testing::CheckError([&] { World(w.study, ReadWorldFile(file, w.study)); }, all);
  };
  bad_world(std::string(kTruth) + R"(, "sensor": {"rate_hz": 1e7})",
            {"sensor.rate_hz", "at most the model's step rate"});
  bad_world(std::string(kTruth) + R"(, "sensor": {"rate_hz": 0.5})",
            {"sensor.rate_hz", "three samples over the task's horizon"});
  w.dir.Write("world.json", R"({"schema": "nextbatch.study/1"})");
  testing::CheckError([&] { ReadWorldFile(file, w.study); }, {"schema", "nextbatch.world/1"});
  testing::CheckError([&] { ReadWorldFile(w.dir.File("none.json"), w.study); }, {"none.json"});
}

}  // namespace
}  // namespace nextbatch
