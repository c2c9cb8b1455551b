// The factor bindings of the XL330 servo bench (examples/xl330/plan.json): the mass on the arm,
// the arm's length, the firmware kp through the calibration's per-episode gain and the commanded
// goal profile, each against what the physics or the calibration says it must be.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/model.h"
#include "engine/workspace.h"
#include "scenarios/logged_outcome.h"
#include "scenarios/scenario_binding.h"
#include "scenarios/space_json.h"
#include "scenarios/task.h"
#include "scenarios/task_json.h"

namespace nextbatch {
namespace {

const std::string kModel = NEXTBATCH_SOURCE_DIR "/examples/xl330/xl330.xml";

// The mass and length factors as plan.json binds them: the body's mass, and the arm body's
// centre of mass moved along the arm (the model's arm points down its -z axis).
const char* kMassLength = R"({
  "factors": [
    {"name": "mass", "range": [0.1, 1.0],
     "binding": {"kind": "parameter", "target": "body:arm.mass"}},
    {"name": "length", "range": [0.05, 0.2],
     "binding": {"kind": "parameter", "target": "body:arm.ipos[2]*-1"}}
  ]
})";

ScenarioSpace Space(const char* text) {
  return ReadScenariosSection(JsonReader(nlohmann::json::parse(text), "plan.json", "scenarios"), 0)
      .space;
}

TEST_CASE("xl330: the static gravity torque of the bound arm is m g L for several m and L") {
  ModelPtr base = LoadModelFile(kModel);
  const ScenarioBinding binding(base.get(), Space(kMassLength));
  Workspace ws(base.get(), true);
  const int hinge = mj_name2id(base.get(), mjOBJ_JOINT, "hinge");
  const int dof = base->jnt_dofadr[hinge], adr = base->jnt_qposadr[hinge];
  const double g = -base->opt.gravity[2];
  REQUIRE(g > 9);
  for (double m : {0.49, 0.2, 0.9}) {
    for (double L : {0.05, 0.1, 0.137, 0.2}) {
      CAPTURE(m);
      CAPTURE(L);
      State x0 = State::Reference(ws.model());
      binding.Apply(Scenario{{m, L}}, ws, &x0);
      // Arm horizontal, at rest: the bias force is gravity alone, tau = m g L (sign: the
      // hinge's axis is +y, so gravity pulls the horizontal arm back toward hanging down).
      x0.qpos[adr] = M_PI / 2;
      ws.SetState(x0);
      mj_forward(ws.model(), ws.data());
      CHECK(std::abs(ws.data()->qfrc_bias[dof]) == doctest::Approx(m * g * L).epsilon(1e-12));
      // Hanging straight down: no torque.
      x0.qpos[adr] = 0.0;
      ws.SetState(x0);
      mj_forward(ws.model(), ws.data());
      CHECK(std::abs(ws.data()->qfrc_bias[dof]) < 1e-12);
      // The inertia about the hinge follows too: m L^2 plus the point's own 1e-7 and the armature.
      const double inertia = m * L * L + 1e-7 + ws.model()->dof_armature[dof];
      mj_forward(ws.model(), ws.data());
      CHECK(ws.data()->qM[ws.model()->dof_Madr[dof]] == doctest::Approx(inertia).epsilon(1e-12));
    }
  }
}

// |q - goal| of the servo: a joint's position minus the servo's command.
const char* kTracking = R"({
  "success": {"quantity": {"joint": "hinge", "minus": {"actuator": "servo", "field": "ctrl"},
                           "abs": true}, "op": "<", "value": 0.5, "when": "always"},
  "metrics": {"peak_error": {"quantity": {"joint": "hinge",
                                          "minus": {"actuator": "servo", "field": "ctrl"},
                                          "abs": true}, "reduce": "max"}}
})";

Outcome Tracking(const mjModel* m, const char* text = kTracking) {
  return Outcome::Compile(JsonReader(nlohmann::json::parse(text), "plan.json", "task.outcome"), m,
                          2.0);
}

// A logged episode of the servo: q(t) and goal(t) every 5 ms over `seconds`.
Episode ServoLog(double seconds, bool with_goal) {
  Episode e;
  e.id = "log";
  const int n = static_cast<int>(std::lround(seconds / 0.005)) + 1;
  e.time.resize(n);
  e.qpos.names = {"hinge"};
  e.qpos.values.resize(n, 1);
  if (with_goal) {
    e.ctrl.names = {"servo"};
    e.ctrl.values.resize(n, 1);
  }
  for (int i = 0; i < n; ++i) {
    const double t = 0.005 * i;
    e.time[i] = t;
    e.qpos.values(i, 0) = 0.8 * std::sin(2 * t);
    if (with_goal) e.ctrl.values(i, 0) = std::sin(2 * t + 0.3);
  }
  return e;
}

TEST_CASE("a quantity minus another: the servo's tracking error, simulated and logged") {
  ModelPtr m = LoadModelFile(kModel);
  const Outcome o = Tracking(m.get());
  DataPtr d = MakeData(m.get());
  d->qpos[0] = 0.3;
  d->ctrl[0] = 0.75;
  mj_forward(m.get(), d.get());
  CHECK(o.Read(o.metrics()[0].quantity, m.get(), d.get(), 0.0) == doctest::Approx(0.45));
  // On a log: the largest |q - goal| over the horizon, by hand on the samples.
  const Episode e = ServoLog(2.0, true);
  double peak = 0;
  for (int i = 0; i < e.samples(); ++i) {
    peak = std::max(peak, std::abs(e.qpos.values(i, 0) - e.ctrl.values(i, 0)));
  }
  const LoggedOutcome r = JudgeLoggedEpisode(m.get(), o, e);
  REQUIRE(r.success_judged);
  CHECK(r.metrics.at("peak_error") == doctest::Approx(peak).epsilon(1e-12));
  CHECK(r.success == (peak < 0.5));
  CHECK(peak > 0.3);  // the case is not trivial: sin(2t) vs 0.8 sin(2t + 0.3)
  // Without the logged command the rule cannot be judged, and says what it lacks.
  const LoggedOutcome none = JudgeLoggedEpisode(m.get(), o, ServoLog(2.0, false));
  CHECK_FALSE(none.success_judged);
  CHECK(none.reason.find("the command (ctrl) of actuator 'servo'") != std::string::npos);
  // The subtracted quantity is a plain one.
  CHECK_THROWS_WITH_AS(Tracking(m.get(), R"({"metrics": {"e": {"quantity": {"joint": "hinge",
      "minus": {"actuator": "servo", "field": "ctrl", "abs": true}}, "reduce": "max"}}})"),
                       doctest::Contains("task.outcome.metrics.e.quantity.minus"), InputError);
}

TEST_CASE("profile controller: each level plays back its logged episode's commands") {
  ModelPtr m = LoadModelFile(kModel);
  const ScenarioSpace space = Space(R"({"factors": [
    {"name": "trajectory", "levels": [{"name": "a", "payload": {"episode": "log"}},
                                      {"name": "b", "payload": {"episode": "other"}}]}]})");
  Episode log = ServoLog(1.0, true);
  for (double& t : log.time) t += 7.0;  // a log's clock need not start at 0
  Episode other = ServoLog(0.5, true);
  other.id = "other";
  other.ctrl.values *= -1.0;
  TaskSpec spec = ReadTaskSpec(JsonReader(nlohmann::json::parse(R"({"horizon": 1.0,
      "controller": {"type": "profile", "factor": "trajectory", "actuator": "servo"}})"),
                                          "plan.json", "task"));
  FillCommandProfiles(space, {log, other}, "plan.json", &spec);
  const Task task(m.get(), spec);
  REQUIRE(task.needs_scenario());
  DataPtr d = MakeData(m.get());
  for (const char* level : {"a", "b"}) {
    const Episode& e = std::string(level) == "a" ? log : other;
    std::unique_ptr<Controller> c = task.MakeController(m.get(), {{"trajectory", level}});
    c->Reset(m.get(), d.get());
    // At the samples and halfway between them (linear hold), and held after the last one.
    for (int i = 0; i + 1 < e.samples(); i += 7) {
      for (double w : {0.0, 0.5}) {
        d->time = (1 - w) * (e.time[i] - e.time[0]) + w * (e.time[i + 1] - e.time[0]);
        double u = 0;
        c->Control(m.get(), d.get(), &u);
        CHECK(u == doctest::Approx((1 - w) * e.ctrl.values(i, 0) + w * e.ctrl.values(i + 1, 0))
                       .epsilon(1e-12));
      }
    }
    d->time = 5.0;
    double u = 0;
    c->Control(m.get(), d.get(), &u);
    CHECK(u == e.ctrl.values(e.samples() - 1, 0));
  }
  // Without a scenario, or with a level that names no logged episode, it is an input error.
  CHECK_THROWS_AS(task.MakeController(m.get()), InputError);
  CHECK_THROWS_WITH_AS(FillCommandProfiles(space, {log}, "plan.json", &spec),
                       doctest::Contains("levels.b.payload.episode"), InputError);
  const ScenarioSpace bare = Space(R"({"factors": [{"name": "trajectory", "levels": ["a"]}]})");
  CHECK_THROWS_WITH_AS(FillCommandProfiles(bare, {log}, "plan.json", &spec),
                       doctest::Contains("levels.a.payload"), InputError);
  const ScenarioSpace numeric = Space(R"({"factors": [{"name": "trajectory", "range": [0, 1]}]})");
  CHECK_THROWS_WITH_AS(FillCommandProfiles(numeric, {log}, "plan.json", &spec),
                       doctest::Contains("a categorical scenario factor"), InputError);
}

}  // namespace
}  // namespace nextbatch
