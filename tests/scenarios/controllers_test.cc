#include "scenarios/controllers.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include "engine/error.h"
#include "engine/model.h"
#include "scenarios/task.h"
#include "scenarios/task_json.h"
#include "tests/fixtures/shared_data.h"

namespace nextbatch {
namespace {

// A 2 kg slider along z under gravity, driven by a motor.
const char* kSlider = R"(<mujoco><option timestep="0.002"/>
  <worldbody><body name="cart"><joint name="z" type="slide" axis="0 0 1"/>
  <geom type="sphere" size="0.05" mass="2"/></body></worldbody>
  <actuator><motor name="lift" joint="z" gear="2"/></actuator></mujoco>)";

// The DFKI pendulum's a-priori values: hanging down at 0, a 0.2 N m friction torque.
const char* kPendulum = R"(<mujoco><option timestep="0.001" integrator="Euler"/>
  <worldbody><body name="pendulum" pos="0 0 1">
    <joint name="shoulder" type="hinge" axis="0 1 0" damping="0.05" frictionloss="0.2"/>
    <inertial pos="0 0 -0.45" mass="0.676" diaginertia="0.0137 0.0137 0.0001"/>
    <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.01" contype="0" conaffinity="0" mass="0"/>
  </body></worldbody>
  <actuator><motor name="motor" joint="shoulder"/></actuator></mujoco>)";

State Rest(const mjModel* m) { return State::Reference(m); }

TEST_CASE("PD through waypoints settles at the closed-form steady state q = r - m g / kp") {
  ModelPtr m = LoadModelString(kSlider);
  PdWaypointOptions o;
  o.joints = {"z"};
  o.actuators = {"lift"};
  o.times = {0.0, 1.0};
  o.positions = {{0.0}, {0.5}};
  o.kp = {200.0};
  o.kd = {40.0};  // critically damped for 2 kg
  for (bool comp : {false, true}) {
    o.gravity_compensation = comp;
    PdWaypointController c(m.get(), o);
    Workspace ws(m.get(), false);
    ws.SetState(Rest(m.get()));
    mj_forward(m.get(), ws.data());
    RolloutOptions ro;
    ro.num_steps = 3000;  // 6 s
    ro.record_every = 0;
    REQUIRE(Rollout(ws, &c, ro).ok());
    const double expected = comp ? 0.5 : 0.5 - 2 * 9.81 / 200;
    CHECK(ws.data()->qpos[0] == doctest::Approx(expected).epsilon(1e-6));
    // the motor's gear of 2 halves the command
    CHECK(ws.data()->ctrl[0] == doctest::Approx(2 * 9.81 / 2).epsilon(1e-4));
  }
  // position output hands the interpolated reference to a servo
  o.position_output = true;
  PdWaypointController c(m.get(), o);
  Workspace ws(m.get(), false);
  ws.SetState(Rest(m.get()));
  c.Reset(m.get(), ws.data());
  ws.data()->time = 0.25;
  double u = 0;
  c.Control(m.get(), ws.data(), &u);
  CHECK(u == doctest::Approx(0.125));
}

TEST_CASE("an open-loop task replays its commands: the closed-form constant-force trajectory") {
  ModelPtr m = LoadModelString(R"(<mujoco><option timestep="0.01" gravity="0 0 0"
    integrator="Euler"/><worldbody><body name="cart"><joint name="x" type="slide"
    axis="1 0 0"/><geom type="sphere" size="0.1" mass="2"/></body></worldbody>
    <actuator><motor name="push" joint="x"/></actuator></mujoco>)");
  nlohmann::json j = nlohmann::json::parse(R"({"horizon": 0.5,
    "controller": {"type": "open_loop", "times": [0, 10], "values": [[4], [4]], "hold": "zero_order"},
    "outcome": {"metrics": {"x": {"quantity": {"joint": "x"}, "reduce": "end"},
                            "v": {"quantity": {"joint": "x", "field": "vel"}, "reduce": "max"}}}})");
  Task task(m.get(), ReadTaskSpec(JsonReader(j, "study.json", "task")));
  Workspace ws(m.get(), false);
  ws.SetState(task.InitialState(m.get()));
  Outcome::Evaluator ev(&task.outcome());
  EpisodeOutcome e = task.Run(ws, ev);
  REQUIRE(e.ok());
  CHECK(e.steps == 50);
  const double dt = 0.01, a = 2.0;
  // metrics in name order: v, x
  CHECK((*e.metrics)[0] == doctest::Approx(50 * dt * a).epsilon(1e-12));
  CHECK((*e.metrics)[1] == doctest::Approx(dt * dt * a * 50 * 51 / 2).epsilon(1e-12));
}

TEST_CASE("energy swing-up: the pendulum's constants, and upright within the torque limit") {
  ModelPtr m = LoadModelString(kPendulum);
  const double mgl = 0.676 * 9.81 * 0.45, inertia = 0.0137 + 0.676 * 0.45 * 0.45;
  nlohmann::json j = nlohmann::json::parse(R"({"horizon": 10,
    "controller": {"type": "energy_swing_up", "joint": "shoulder", "actuator": "motor",
                   "torque_limit": 1.5},
    "outcome": {
      "success": {"quantity": {"joint": "shoulder", "wrap": true, "abs": true}, "op": ">",
                  "value": 2.94, "when": {"last": 2}},
      "metrics": {"t_up": {"time_to": {"quantity": {"joint": "shoulder", "wrap": true,
                                       "abs": true}, "op": ">", "value": 2.94}},
                  "peak": {"quantity": {"joint": "shoulder", "wrap": true, "abs": true},
                           "reduce": "max"},
                  "final": {"quantity": {"joint": "shoulder", "wrap": true, "abs": true}}}}})");
  Task task(m.get(), ReadTaskSpec(JsonReader(j, "study.json", "task")));
  Workspace ws(m.get(), false);
  State s = task.InitialState(m.get());
  s.qpos[0] = 0.3;  // 0.3 rad to the side, at rest
  ws.SetState(s);
  mj_forward(m.get(), ws.data());
  auto c = task.MakeController(m.get());
  c->Reset(m.get(), ws.data());
  auto* swing = dynamic_cast<EnergySwingUpController*>(c.get());
  REQUIRE(swing != nullptr);
  CHECK(swing->mgl() == doctest::Approx(mgl).epsilon(1e-9));
  CHECK(swing->inertia() == doctest::Approx(inertia).epsilon(1e-9));
  CHECK(swing->Energy(M_PI, 0.0) == doctest::Approx(2 * mgl).epsilon(1e-12));
  CHECK(swing->Energy(0.3, 0.0) == doctest::Approx(mgl * (1 - std::cos(0.3))).epsilon(1e-12));

  Outcome::Evaluator ev(&task.outcome());
  ws.SetState(s);
  EpisodeOutcome e = task.Run(ws, ev);
  REQUIRE(e.ok());
  CHECK(e.success);
  CHECK((*e.metrics)[2] < 8.0);
  MESSAGE("swing-up with 1.5 N m reached upright after "
          << (*e.metrics)[2] << " s; peak " << (*e.metrics)[1] << " final " << (*e.metrics)[0]);

  // Below the friction torque (0.2 N m) it cannot even start to swing.
  j["controller"]["torque_limit"] = 0.15;
  Task weak(m.get(), ReadTaskSpec(JsonReader(j, "study.json", "task")));
  Outcome::Evaluator ev2(&weak.outcome());
  ws.SetState(s);
  EpisodeOutcome f = weak.Run(ws, ev2);
  REQUIRE(f.ok());
  CHECK_FALSE(f.success);
}

// A three-joint arm of position servos with a tip site, and a block on the floor.
const char* kArm = R"(<mujoco><option timestep="0.002"/>
  <worldbody>
    <geom name="floor" type="plane" size="1 1 0.1"/>
    <body name="base" pos="0 0 0.4">
      <joint name="yaw" type="hinge" axis="0 0 1" damping="2"/>
      <geom type="cylinder" size="0.03 0.03" mass="1"/>
      <body name="upper">
        <joint name="shoulder" type="hinge" axis="0 1 0" damping="2"/>
        <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="0.5"/>
        <body name="lower" pos="0.3 0 0">
          <joint name="elbow" type="hinge" axis="0 1 0" damping="2"/>
          <geom type="capsule" fromto="0 0 0 0.25 0 0" size="0.02" mass="0.3" contype="0"
                conaffinity="0"/>
          <site name="tip" pos="0.25 0 0"/>
        </body>
      </body>
    </body>
    <body name="block" pos="0.3 0.2 0.02">
      <freejoint/>
      <geom type="box" size="0.02 0.02 0.02" mass="0.1"/>
    </body>
  </worldbody>
  <actuator>
    <position name="yaw" joint="yaw" kp="100"/>
    <position name="shoulder" joint="shoulder" kp="100"/>
    <position name="elbow" joint="elbow" kp="100"/>
  </actuator></mujoco>)";

TEST_CASE("scripted reach brings the end-effector site to the object") {
  ModelPtr m = LoadModelString(kArm);
  ScriptedArmOptions o;
  o.skill = ScriptedArmOptions::Skill::kReach;
  o.joints = {"yaw", "shoulder", "elbow"};
  o.actuators = {"yaw", "shoulder", "elbow"};
  o.site = "tip";
  o.objects = {"block"};
  o.top_down = false;
  o.grasp_height = 0.05;  // stop 5 cm above the block's centre
  o.segment_time = 1.0;
  ScriptedArmController c(m.get(), o);
  Workspace ws(m.get(), false);
  State s = State::Reference(m.get());
  s.qpos[1] = 0.3;
  s.qpos[2] = 0.6;
  ws.SetState(s);
  mj_forward(m.get(), ws.data());
  RolloutOptions ro;
  ro.num_steps = 2000;  // 2 segments of 1 s, then 2 s of holding
  ro.record_every = 0;
  REQUIRE(Rollout(ws, &c, ro).ok());
  mj_forward(m.get(), ws.data());
  const double* tip = ws.data()->site_xpos;
  const double* block = ws.data()->xpos + 3 * mj_name2id(m.get(), mjOBJ_BODY, "block");
  CHECK(std::abs(tip[0] - block[0]) < 0.005);
  CHECK(std::abs(tip[1] - block[1]) < 0.005);
  CHECK(std::abs(tip[2] - (block[2] + 0.05)) < 0.005);
  // the path starts at the initial tip position and ends at the grasp point
  const Eigen::Vector3d end = c.Target(10.0);
  CHECK(end[2] == doctest::Approx(0.02 + 0.05));
}

TEST_CASE("the vx300s tabletop scene loads, and the scripted pick lifts the box") {
  const std::string shared = NEXTBATCH_SHARED_DIR "/models/trossen_vx300s/vx300s.xml";
  if (!testing::SharedPresent(shared)) return;
  const std::string dir = NEXTBATCH_SOURCE_DIR "/examples/vx300s_tabletop/";
  ModelPtr m = LoadModelFile(dir + "scene.xml");
  CHECK(m->nq == 8 + 3 * 7);
  CHECK(m->nu == 7);
  REQUIRE(m->nkey == 1);  // the scene's own home, the arm file's is dropped
  const nlohmann::json study = nlohmann::json::parse(std::ifstream(dir + "study_pick.json"));
  Task task(m.get(), ReadTaskSpec(JsonReader(study["task"], "study_pick.json", "task")));
  Workspace ws(m.get(), false);
  State s = task.InitialState(m.get());
  s.qpos[8 + 7 + 2] = -100;  // park the cylinder and the sphere: the box stays
  s.qpos[8 + 14 + 2] = -101;
  ws.SetState(s);
  Outcome::Evaluator ev(&task.outcome());
  EpisodeOutcome e = task.Run(ws, ev);
  REQUIRE(e.ok());
  CHECK(e.success);
  CHECK(e.safe);
  // metrics in name order: lift (box height at the end), slip (pinch to box)
  CHECK((*e.metrics)[0] > 0.12);
  CHECK((*e.metrics)[1] < 0.05);
}

TEST_CASE("controller options are checked, and unknown names list the model's") {
  ModelPtr m = LoadModelString(kPendulum);
  EnergySwingUpOptions o;
  o.joint = "elbow";
  o.actuator = "motor";
  try {
    EnergySwingUpController c(m.get(), o);
    FAIL("accepted an unknown joint");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find(
              "controller.joint: expected a joint of the model (shoulder)") != std::string::npos);
  }
  o.joint = "shoulder";
  o.catch_angle = 4;
  CHECK_THROWS_AS(EnergySwingUpController(m.get(), o), InputError);
  PdWaypointOptions p;
  p.joints = {"shoulder"};
  p.actuators = {"motor"};
  p.times = {0.0, 0.0};
  p.positions = {{0.0}, {1.0}};
  p.kp = {1};
  p.kd = {1};
  CHECK(p.Validate().find("ascending times") != std::string::npos);
}

}  // namespace
}  // namespace nextbatch
