#include "scenarios/outcome.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>

#include "engine/error.h"
#include "engine/model.h"

// Counts heap allocations while a test asks for it (this test binary's operator new).
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// GCC cannot see that these replace the global pair together.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace nextbatch {
namespace {

// A box free on a table, and a hinge arm with a motor and a tip site.
const char* kScene = R"(<mujoco>
  <option timestep="0.01"/>
  <worldbody>
    <geom name="table" type="box" size="0.5 0.5 0.05" pos="0 0 -0.05"/>
    <body name="arm" pos="0 0 0.5">
      <joint name="hinge" type="hinge" axis="0 1 0"/>
      <geom name="link" type="capsule" fromto="0 0 0 0.2 0 0" size="0.01" mass="0.1"/>
      <body name="finger" pos="0.2 0 0">
        <geom name="finger_geom" type="sphere" size="0.01" mass="0.01"/>
        <site name="tip" pos="0.05 0 0"/>
      </body>
    </body>
    <body name="box" pos="0.3 0 0.03">
      <freejoint name="box_joint"/>
      <geom name="box_geom" type="box" size="0.03 0.03 0.03" mass="0.2"/>
    </body>
  </worldbody>
  <actuator><motor name="motor" joint="hinge"/></actuator>
</mujoco>)";

struct Scene {
  ModelPtr m = LoadModelString(kScene);
  DataPtr d = MakeData(m.get());
  // box position (free joint qpos 1..3), hinge angle, time
  void Set(double box_z, double angle = 0.0, double t = 0.0, double box_x = 0.3) {
    d->time = t;
    d->qpos[0] = angle;
    d->qpos[1] = box_x;
    d->qpos[2] = 0.0;
    d->qpos[3] = box_z;
    mj_forward(m.get(), d.get());
  }
};

Outcome Compile(const mjModel* m, const nlohmann::json& j, double horizon = 1.0) {
  return Outcome::Compile(JsonReader(j, "study.json", "task.outcome"), m, horizon);
}

bool HoldsNow(const Outcome& o, const Scene& s) {
  return o.Holds(o.success_node(), s.m.get(), s.d.get());
}

TEST_CASE("each quantity reads the hand-set state") {
  Scene s;
  s.Set(0.2, M_PI / 2, 0.7);
  auto success = [&](const char* text) {
    return HoldsNow(Compile(s.m.get(), {{"success", nlohmann::json::parse(text)}}), s);
  };
  // body position, centre of mass, site, joint angle (wrapped and not), distance, time
  CHECK(success(R"({"quantity": {"body": "box", "field": "pos", "axis": "z"}, "op": ">",
                  "value": 0.19})"));
  CHECK_FALSE(success(R"({"quantity": {"body": "box", "axis": "z"}, "op": ">", "value": 0.21})"));
  // hinge about +y by pi/2 turns +x into -z: the tip at (0, 0, 0.5 - 0.25)
  CHECK(success(R"({"quantity": {"site": "tip", "axis": "z"}, "op": "<", "value": 0.2501})"));
  CHECK(success(R"({"quantity": {"site": "tip", "axis": "z"}, "op": ">", "value": 0.2499})"));
  CHECK(success(R"({"quantity": {"site": "tip", "axis": "x", "abs": true}, "op": "<",
                  "value": 1e-9})"));
  CHECK(success(R"({"quantity": {"joint": "hinge"}, "op": "==", "value": 1.5707963267948966})"));
  s.Set(0.2, 2 * M_PI + 0.1, 0.7);
  CHECK(
      success(R"({"quantity": {"joint": "hinge", "wrap": true}, "op": "<", "value": 0.1000001})"));
  CHECK_FALSE(success(R"({"quantity": {"joint": "hinge"}, "op": "<", "value": 1})"));
  s.Set(0.2, 0.0, 0.7);
  // tip at (0.25, 0, 0.5), box at (0.3, 0, 0.2): distance sqrt(0.05^2 + 0.3^2)
  const double dist = std::sqrt(0.05 * 0.05 + 0.3 * 0.3);
  Outcome od = Compile(s.m.get(), nlohmann::json::parse(R"({"metrics": {
      "d": {"quantity": {"distance": [{"site": "tip"}, {"body": "box"}]}},
      "dz": {"quantity": {"distance": [{"site": "tip"}, {"body": "box"}], "axis": "z"}}}})"));
  CHECK(od.Read(0, s.m.get(), s.d.get(), 0.0) == doctest::Approx(dist).epsilon(1e-12));
  CHECK(od.Read(1, s.m.get(), s.d.get(), 0.0) == doctest::Approx(-0.3).epsilon(1e-12));
  CHECK(success(R"({"quantity": "time", "op": ">=", "value": 0.7})"));
  // actuator command and force
  s.d->ctrl[0] = 0.4;
  mj_forward(s.m.get(), s.d.get());
  CHECK(
      success(R"({"quantity": {"actuator": "motor", "field": "ctrl"}, "op": "==", "value": 0.4})"));
  CHECK(success(
      R"({"quantity": {"actuator": "motor", "field": "force"}, "op": ">", "value": 0.39})"));
}

TEST_CASE("contacts between named geoms and body subtrees") {
  Scene s;
  const char* touch = R"({"contact": ["box_geom", "table"]})";
  const char* finger = R"({"contact": [{"body": "arm"}, "box_geom"]})";
  Outcome a = Compile(s.m.get(), {{"success", nlohmann::json::parse(touch)}});
  Outcome b = Compile(s.m.get(), {{"success", nlohmann::json::parse(finger)}});
  s.Set(0.029);  // sinks 1 mm into the table
  CHECK(HoldsNow(a, s));
  CHECK_FALSE(HoldsNow(b, s));
  s.Set(0.2);
  CHECK_FALSE(HoldsNow(a, s));
  // the finger (a child body of "arm") inside the box: the box at the tip
  s.Set(0.5, 0.0, 0.0, 0.22);
  CHECK(HoldsNow(b, s));
}

TEST_CASE("all, any and not combine conditions") {
  Scene s;
  s.Set(0.2, 0.5);
  auto success = [&](const char* text) {
    return HoldsNow(Compile(s.m.get(), {{"success", nlohmann::json::parse(text)}}), s);
  };
  const std::string high = R"({"quantity": {"body": "box", "axis": "z"}, "op": ">", "value": 0.1})";
  const std::string bent = R"({"quantity": {"joint": "hinge"}, "op": ">", "value": 1.0})";
  CHECK(success(("{\"any\": [" + high + "," + bent + "]}").c_str()));
  CHECK_FALSE(success(("{\"all\": [" + high + "," + bent + "]}").c_str()));
  CHECK(success(("{\"all\": [" + high + ", {\"not\": " + bent + "}]}").c_str()));
}

// Feeds an episode of hand-set states: box height z(t) at t = 0, 0.1, ..., 1.0.
struct Episode {
  Scene s;
  Outcome o;
  Outcome::Evaluator ev;
  Episode(const nlohmann::json& j, const std::function<double(double)>& z)
      : o(Compile(s.m.get(), j, 1.0)), ev(&o) {
    s.Set(z(0.0), 0.0, 0.0);
    ev.Begin(s.m.get(), s.d.get());
    for (int k = 1; k <= 10; ++k) {
      s.Set(z(0.1 * k), 0.0, 0.1 * k);
      ev.Observe(s.m.get(), s.d.get());
    }
    ev.Finish(s.m.get(), s.d.get());
  }
};

nlohmann::json Above(double v, const nlohmann::json& when) {
  return {{"success",
           {{"quantity", {{"body", "box"}, {"field", "pos"}, {"axis", "z"}}},
            {"op", ">"},
            {"value", v},
            {"when", when}}}};
}

TEST_CASE("when: end, always, ever, last, after and within judge the right samples") {
  // the box is lifted from 0.03 to 0.2 at t = 0.5 and dropped to 0.04 at t = 0.85
  auto lift = [](double t) { return t < 0.45 ? 0.03 : (t < 0.8 ? 0.2 : 0.04); };
  CHECK_FALSE(Episode(Above(0.1, "end"), lift).ev.success());
  CHECK(Episode(Above(0.035, "end"), lift).ev.success());
  CHECK(Episode(Above(0.1, "ever"), lift).ev.success());
  CHECK_FALSE(Episode(Above(0.1, "always"), lift).ev.success());
  CHECK(Episode(Above(0.02, "always"), lift).ev.success());
  // last 0.5 s: samples 0.5 .. 1.0 include the drop
  CHECK_FALSE(Episode(Above(0.1, {{"last", 0.5}}), lift).ev.success());
  CHECK(Episode(Above(0.035, {{"last", 0.5}}), lift).ev.success());
  CHECK_FALSE(Episode(Above(0.035, {{"last", 0.6}}), lift).ev.success());  // 0.4 s is low
  CHECK(Episode(Above(0.1, {{"within", 0.5}}), lift).ev.success());
  CHECK_FALSE(Episode(Above(0.1, {{"within", 0.4}}), lift).ev.success());
  CHECK(Episode(Above(0.035, {{"after", 0.5}}), lift).ev.success());
  CHECK_FALSE(Episode(Above(0.1, {{"after", 0.5}}), lift).ev.success());
  // "after" a time past the end has no sample: not satisfied
  CHECK_FALSE(Episode(Above(0.0, {{"after", 2.0}}), lift).ev.success());
  // a combinator with `when` judges its whole subtree at each sample
  nlohmann::json both = {
      {"success",
       {{"all",
         {{{"quantity", {{"body", "box"}, {"axis", "z"}}}, {"op", ">"}, {"value", 0.1}},
          {{"quantity", "time"}, {"op", ">"}, {"value", 0.55}}}},
        {"when", "ever"}}}};
  CHECK(Episode(both, lift).ev.success());
  both["success"]["all"][1]["value"] = 0.75;
  CHECK_FALSE(Episode(both, lift).ev.success());
  // safety is judged like success
  nlohmann::json safety = {{"safety", Above(0.02, "always")["success"]}};
  Episode e(safety, lift);
  CHECK(e.ev.safe());
  CHECK(e.ev.success());  // no success predicate: every episode succeeds
}

TEST_CASE("metrics reduce over the episode") {
  auto ramp = [](double t) { return 0.1 + t; };  // 0.1 .. 1.1
  nlohmann::json q = {{"body", "box"}, {"axis", "z"}};
  nlohmann::json j = {{"metrics",
                       {{"end", {{"quantity", q}, {"reduce", "end"}}},
                        {"max", {{"quantity", q}, {"reduce", "max"}}},
                        {"min", {{"quantity", q}, {"reduce", "min"}}},
                        {"mean", {{"quantity", q}, {"reduce", "mean"}}},
                        {"t_half", {{"time_to", {{"quantity", q}, {"op", ">="}, {"value", 0.5}}}}},
                        {"never", {{"time_to", {{"quantity", q}, {"op", ">"}, {"value", 5}}}}}}}};
  Episode e(j, ramp);
  // nlohmann orders object keys: end, max, mean, min, never, t_half
  const auto& names = e.o.metrics();
  std::map<std::string, double> v;
  for (std::size_t i = 0; i < names.size(); ++i) v[names[i].name] = e.ev.metrics()[i];
  CHECK(v["end"] == doctest::Approx(1.1));
  CHECK(v["max"] == doctest::Approx(1.1));
  CHECK(v["min"] == doctest::Approx(0.1));
  CHECK(v["mean"] == doctest::Approx(0.6));  // 11 samples 0.1 .. 1.1
  CHECK(v["t_half"] == doctest::Approx(0.4));
  CHECK(v["never"] == doctest::Approx(1.0));  // censored at the horizon
}

TEST_CASE("body lists follow the body present, relative quantities start from zero") {
  Scene s;
  // the arm's finger parked far below stands for an absent object variant
  nlohmann::json j = nlohmann::json::parse(R"({"metrics": {
      "z": {"quantity": {"body": ["finger", "box"], "axis": "z"}, "reduce": "end"},
      "dx": {"quantity": {"body": "box", "axis": "x", "relative": true}, "reduce": "end"},
      "far": {"quantity": {"body": ["finger", "box"], "axis": "z"}, "reduce": "min"}}})");
  Outcome o = Compile(s.m.get(), j);
  Outcome::Evaluator ev(&o);
  // the box moves 0.12 m along x during the episode
  s.Set(0.1, 0.0, 0.0, 0.3);
  ev.Begin(s.m.get(), s.d.get());
  s.Set(0.1, 0.0, 0.5, 0.42);
  ev.Observe(s.m.get(), s.d.get());
  ev.Finish(s.m.get(), s.d.get());
  // metrics in name order: dx, far, z; the finger is present (z = 0.5): it is chosen
  CHECK(ev.metrics()[0] == doctest::Approx(0.12));
  CHECK(ev.metrics()[2] == doctest::Approx(0.5));
  // with the finger below z = -10 (a parked variant), the box is chosen
  ModelPtr parked = LoadModelString(
      std::string(kScene).replace(std::string(kScene).find("<body name=\"arm\" pos=\"0 0 0.5\">"),
                                  std::string("<body name=\"arm\" pos=\"0 0 0.5\">").size(),
                                  "<body name=\"arm\" pos=\"0 0 -100\">"));
  DataPtr d = MakeData(parked.get());
  Outcome o2 = Compile(parked.get(), j);
  Outcome::Evaluator ev2(&o2);
  d->qpos[1] = 0.3;
  d->qpos[3] = 0.1;
  d->qpos[4] = 1;
  mj_forward(parked.get(), d.get());
  ev2.Begin(parked.get(), d.get());
  ev2.Finish(parked.get(), d.get());
  CHECK(ev2.metrics()[2] == doctest::Approx(0.1));
  CHECK(ev2.metrics()[0] == doctest::Approx(0.0));
}

TEST_CASE("judging a step allocates nothing") {
  Scene s;
  nlohmann::json j = nlohmann::json::parse(R"({
      "success": {"all": [{"quantity": {"body": ["finger", "box"], "axis": "z"}, "op": ">",
                           "value": 0.05, "when": {"last": 0.5}},
                          {"not": {"contact": [{"body": "arm"}, "table"]}, "when": "always"}]},
      "safety": {"quantity": {"distance": [{"site": "tip"}, {"body": "box"}], "relative": true},
                 "op": "<", "value": 1, "when": "ever"},
      "metrics": {"m": {"quantity": {"body": "box", "field": "vel"}, "reduce": "mean"},
                  "t": {"time_to": {"quantity": "time", "op": ">", "value": 0.3}}}})");
  Outcome o = Compile(s.m.get(), j);
  Outcome::Evaluator ev(&o);
  s.Set(0.2);
  ev.Begin(s.m.get(), s.d.get());
  g_allocations = 0;
  g_counting = true;
  for (int k = 1; k <= 50; ++k) {
    s.d->time = 0.02 * k;
    ev.Observe(s.m.get(), s.d.get());
  }
  g_counting = false;
  CHECK(g_allocations == 0);
}

TEST_CASE("malformed outcomes name the field, and unknown names list the valid ones") {
  Scene s;
  auto message = [&](const char* text) -> std::string {
    try {
      Compile(s.m.get(), nlohmann::json::parse(text));
    } catch (const InputError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  std::string m = message(R"({"success": {"quantity": {"body": "bx"}, "op": ">", "value": 0}})");
  CHECK(m.find("study.json: task.outcome.success.quantity.body: expected a body of the model") !=
        std::string::npos);
  CHECK(m.find("world, arm, finger, box") != std::string::npos);
  CHECK(message(R"({"success": {"contact": ["box_geom", "tabel"]}})").find("table") !=
        std::string::npos);
  CHECK(message(R"({"success": {"quantity": "time", "op": "=>", "value": 0}})")
            .find("success.op: expected one of <, <=, >, >=, ==, !=") != std::string::npos);
  CHECK(message(R"({"success": {"quantity": "time", "op": ">", "value": "1"}})")
            .find("success.value: expected a finite number") != std::string::npos);
  CHECK(message(R"({"success": {"quantity": "time", "op": ">", "value": 1, "when": "sometimes"}})")
            .find("success.when: expected \"end\"") != std::string::npos);
  CHECK(message(R"({"success": {"quantity": "time", "op": ">", "value": 1, "when": {"last": -1}}})")
            .find("success.when") != std::string::npos);
  CHECK(message(R"({"success": {"quantity": "time", "op": ">", "value": 1, "whn": "end"}})")
            .find("success.whn: expected a known key") != std::string::npos);
  CHECK(message(R"({"success": {"all": [{"quantity": "time", "op": ">", "value": 1,
                   "when": "end"}], "when": "ever"}})")
            .find("no `when` inside") != std::string::npos);
  CHECK(message(R"({"success": {"all": []}})").find("non-empty array") != std::string::npos);
  CHECK(message(R"({"success": {"quantity": {"joint": "hinge", "field": "acc"}, "op": ">",
                   "value": 1}})")
            .find("field: expected one of pos, vel") != std::string::npos);
  CHECK(message(R"({"sucess": {}})").find("sucess") != std::string::npos);
  CHECK(message(R"({"metrics": {"x": {"quantity": "time", "reduce": "median"}}})")
            .find("metrics.x.reduce: expected one of end, min, max, mean") != std::string::npos);
}

}  // namespace
}  // namespace nextbatch
