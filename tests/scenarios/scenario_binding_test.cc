#include "scenarios/scenario_binding.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/model.h"
#include "scenarios/space_json.h"

namespace nextbatch {
namespace {

// A turning arm with a slide at its tip, three object variants sharing one spot on a table
// (they overlap at qpos0: only one may be present), and two fixed obstacle variants.
const char* kSceneXml = R"(<mujoco model="variants">
  <compiler angle="radian"/>
  <option timestep="0.002"/>
  <worldbody>
    <geom name="table" type="box" size="1 1 0.05" pos="0 0 -0.05"/>
    <body name="base" pos="0 0 0.3">
      <joint name="j1" type="hinge" axis="0 0 1" limited="true" range="-2 2"/>
      <geom name="arm" type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="0.5"
            contype="0" conaffinity="0"/>
      <body name="tip" pos="0.3 0 0">
        <joint name="slide" type="slide" axis="1 0 0"/>
        <geom name="tip_geom" type="sphere" size="0.01" mass="0.1" contype="0" conaffinity="0"/>
      </body>
    </body>
    <body name="box" pos="0.4 0 0.03">
      <freejoint name="box_free"/>
      <geom name="box_geom" type="box" size="0.03 0.03 0.03" mass="0.2"/>
    </body>
    <body name="cylinder" pos="0.4 0 0.04">
      <freejoint/>
      <geom name="cylinder_geom" type="cylinder" size="0.03 0.04" mass="0.3"/>
    </body>
    <body name="sphere" pos="0.4 0 0.025">
      <freejoint/>
      <geom name="sphere_geom" type="sphere" size="0.025" mass="0.1"/>
    </body>
    <body name="wall" pos="0 0.5 0.1">
      <geom name="wall_geom" type="box" size="0.5 0.02 0.1"/>
    </body>
    <body name="post" pos="0 -0.5 0.1">
      <geom name="post_geom" type="cylinder" size="0.05 0.1"/>
    </body>
  </worldbody>
</mujoco>)";

const char* kSection = R"({
  "factors": [
    {"name": "object", "levels": ["box", "cylinder", {"name": "ball", "body": "sphere"}],
     "binding": {"kind": "variant", "target": "object"}, "tag": "setup", "cost_seconds": 60},
    {"name": "obstacle", "levels": ["wall", "post"],
     "binding": {"kind": "variant", "target": "obstacle"}},
    {"name": "x", "range": [0.3, 0.5], "binding": {"kind": "pose", "target": "object.x"}},
    {"name": "y", "range": [-0.1, 0.1], "binding": {"kind": "pose", "target": "object.y"}},
    {"name": "z", "range": [0.02, 0.6], "binding": {"kind": "pose", "target": "object.z"}},
    {"name": "yaw", "range": [-3, 3], "binding": {"kind": "pose", "target": "object.yaw"}},
    {"name": "turn", "range": [-1, 1], "binding": {"kind": "qpos", "target": "j1"}},
    {"name": "reach", "range": [-0.1, 0.1], "binding": {"kind": "qpos", "target": "slide"}},
    {"name": "friction", "range": [0.1, 2],
     "binding": {"kind": "parameter", "target": "geom:box_geom.friction[0]"}},
    {"name": "heavier", "range": [0.5, 3],
     "binding": {"kind": "parameter", "target": "body:box.mass", "mode": "scale"}},
    {"name": "gravity", "levels": [{"name": "earth", "value": -9.81},
                                   {"name": "moon", "value": -1.62}],
     "binding": {"kind": "parameter", "target": "opt.gravity[2]"}}
  ]
})";

ScenarioSpace Space(const std::string& text = kSection) {
  return ReadScenariosSection(JsonReader(nlohmann::json::parse(text), "study.json", "scenarios"), 0)
      .space;
}

// object, obstacle, x, y, z, yaw, turn, reach, friction, heavier, gravity
Scenario Make(int object, int obstacle, double z, int gravity) {
  return Scenario{{double(object), double(obstacle), 0.42, -0.05, z, 0.7, 0.6, 0.05, 1.3, 2.0,
                   double(gravity)}};
}

bool TouchesAny(const mjModel* m, const mjData* d, int body) {
  for (int c = 0; c < d->ncon; ++c) {
    if (m->geom_bodyid[d->contact[c].geom1] == body || m->geom_bodyid[d->contact[c].geom2] == body)
      return true;
  }
  return false;
}

TEST_CASE("parameter, qpos and pose bindings change what they claim in the simulation") {
  ModelPtr base = LoadModelString(kSceneXml);
  const ScenarioSpace space = Space();
  ScenarioBinding binding(base.get(), space);
  CHECK(binding.needs_private_model());
  Workspace ws(base.get(), true);
  const Scenario s = Make(0, 0, 0.5, 1);  // the box, lifted, on the moon
  State x0 = State::Reference(ws.model());
  binding.Apply(s, ws, &x0);
  ws.SetState(x0);
  const mjModel* m = ws.model();
  mjData* d = ws.data();
  mj_forward(m, d);
  const int box = mj_name2id(m, mjOBJ_BODY, "box");
  // Parameters: friction set, mass scaled from the base model's 0.2 (with mj_setConst run:
  // the subtree mass follows), gravity from the level's value.
  CHECK(m->geom_friction[3 * mj_name2id(m, mjOBJ_GEOM, "box_geom")] == 1.3);
  CHECK(m->body_mass[box] == doctest::Approx(0.4));
  CHECK(m->body_subtreemass[box] == doctest::Approx(0.4));
  CHECK(m->opt.gravity[2] == -1.62);
  CHECK(base->body_mass[box] == doctest::Approx(0.2));  // the shared model is untouched
  // The lifted box falls freely at the moon's gravity.
  const int dof = m->jnt_dofadr[m->body_jntadr[box]];
  CHECK(d->qacc[dof + 2] == doctest::Approx(-1.62).epsilon(1e-9));
  // Pose: world position and heading of the chosen body.
  CHECK(d->xpos[3 * box + 0] == doctest::Approx(0.42));
  CHECK(d->xpos[3 * box + 1] == doctest::Approx(-0.05));
  CHECK(d->xpos[3 * box + 2] == doctest::Approx(0.5));
  CHECK(std::atan2(d->xmat[9 * box + 3], d->xmat[9 * box + 0]) == doctest::Approx(0.7));
  CHECK(d->xmat[9 * box + 8] == doctest::Approx(1.0));  // still upright
  // Joint positions: the tip sits at (0.3 + reach) along the arm turned by `turn` about z.
  const int tip = mj_name2id(m, mjOBJ_BODY, "tip");
  CHECK(d->xpos[3 * tip + 0] == doctest::Approx(0.35 * std::cos(0.6)));
  CHECK(d->xpos[3 * tip + 1] == doctest::Approx(0.35 * std::sin(0.6)));
  CHECK(d->xpos[3 * tip + 2] == doctest::Approx(0.3));
}

TEST_CASE("recorded conditions: an episode's parameter factors, as Apply writes them") {
  ModelPtr base = LoadModelString(kSceneXml);
  const ScenarioBinding binding(base.get(), Space());
  auto episode = [](const std::string& id, const nlohmann::json& scenario) {
    Episode e;
    e.id = id;
    e.source = id + ".csv";
    e.scenario = scenario;
    return e;
  };
  const std::vector<Episode> episodes = {episode("full", {{"friction", 1.3},
                                                          {"heavier", 2.0},
                                                          {"gravity", "moon"},
                                                          {"turn", 0.6},
                                                          {"object", "box"},
                                                          {"operator", "ann"}}),
                                         episode("none", nlohmann::json::object()),
                                         episode("some", {{"heavier", 1.5}})};
  const EpisodeConditions c = binding.RecordedConditions(episodes);
  // Only the parameter factors, in factor order: friction, heavier, gravity.
  REQUIRE(c.binding.size() == 3);
  CHECK(c.binding.spec(1).name == "heavier");
  CHECK(c.binding.spec(1).mode == BindMode::kScale);
  CHECK(c.Find("none") == nullptr);
  REQUIRE(c.Find("some") != nullptr);
  CHECK(std::isnan((*c.Find("some"))[0]));
  CHECK((*c.Find("some"))[1] == 1.5);
  CHECK(std::isnan((*c.Find("some"))[2]));
  REQUIRE(c.Find("full") != nullptr);
  // The model fields equal those Apply writes for a full scenario with the same values.
  Workspace recorded(base.get(), true), applied(base.get(), true);
  recorded.ApplyUnder(ParameterBinding(), Eigen::VectorXd(), c.binding, c.Find("full"));
  State x0 = State::Reference(applied.model());
  binding.Apply(Make(0, 0, 0.5, 1), applied, &x0);
  const mjModel *a = recorded.model(), *b = applied.model();
  const int box = mj_name2id(a, mjOBJ_BODY, "box");
  const int geom = mj_name2id(a, mjOBJ_GEOM, "box_geom");
  CHECK(a->geom_friction[3 * geom] == b->geom_friction[3 * geom]);
  CHECK(a->body_mass[box] == b->body_mass[box]);
  CHECK(a->body_subtreemass[box] == b->body_subtreemass[box]);
  CHECK(a->opt.gravity[2] == b->opt.gravity[2]);
  // qpos, pose and variant factors stay out: the recorded model keeps every body present.
  for (int g = 0; g < a->ngeom; ++g) CHECK(a->geom_contype[g] == base->geom_contype[g]);
  // A value the space refuses is the ingest check's error, naming the episode and the factor.
  CHECK_THROWS_WITH_AS(binding.RecordedConditions({episode("heavy", {{"heavier", 9.0}})}),
                       doctest::Contains("episode heavy (heavy.csv): scenario.heavier"),
                       InputError);
  CHECK_THROWS_WITH_AS(binding.RecordedConditions({episode("mars", {{"gravity", "mars"}})}),
                       doctest::Contains("scenario.gravity"), InputError);
}

TEST_CASE("variants: the chosen body is present, the others are parked without contacts") {
  ModelPtr base = LoadModelString(kSceneXml);
  const ScenarioSpace space = Space();
  ScenarioBinding binding(base.get(), space);
  Workspace ws(base.get(), true);
  const mjModel* m = ws.model();
  const int box = mj_name2id(m, mjOBJ_BODY, "box");
  const int cylinder = mj_name2id(m, mjOBJ_BODY, "cylinder");
  const int sphere = mj_name2id(m, mjOBJ_BODY, "sphere");
  const int wall = mj_name2id(m, mjOBJ_BODY, "wall");
  const int post = mj_name2id(m, mjOBJ_BODY, "post");
  // The same workspace goes through several scenarios: each leaves exactly its own variant.
  for (int object : {1, 0, 2, 1}) {
    CAPTURE(object);
    const int bodies[3] = {box, cylinder, sphere};
    const double half_height[3] = {0.03, 0.04, 0.025};
    // Placed 2 mm above the table.
    const Scenario s = Make(object, object % 2, half_height[object] + 0.002, 0);
    State x0 = State::Reference(m);
    binding.Apply(s, ws, &x0);
    ws.SetState(x0);
    mjData* d = ws.data();
    for (int i = 0; i < 500; ++i) mj_step(m, d);  // one second
    CHECK(binding.ObjectBody("object", s) == bodies[object]);
    CHECK(binding.ObjectBody("nothing", s) == -1);
    for (int k = 0; k < 3; ++k) {
      const int b = bodies[k];
      const int g = m->body_geomadr[b];
      if (k == object) {
        // Landed and resting on the table at its pose.
        CHECK(d->xpos[3 * b + 2] == doctest::Approx(half_height[k]).epsilon(0.05));
        CHECK(d->xpos[3 * b + 0] == doctest::Approx(0.42).epsilon(0.05));
        CHECK(TouchesAny(m, d, b));
        CHECK(m->geom_contype[g] == 1);
        CHECK(m->geom_rgba[4 * g + 3] > 0);
      } else {
        // Parked far below, falling without touching anything, invisible.
        CHECK(d->xpos[3 * b + 2] < -99);
        CHECK_FALSE(TouchesAny(m, d, b));
        CHECK(m->geom_contype[g] == 0);
        CHECK(m->geom_conaffinity[g] == 0);
        CHECK(m->geom_rgba[4 * g + 3] == 0);
      }
    }
    // Fixed obstacles: the chosen one in its place, the other moved away.
    const int present = object % 2 == 0 ? wall : post, absent = object % 2 == 0 ? post : wall;
    CHECK(d->xpos[3 * present + 2] == doctest::Approx(0.1));
    CHECK(d->xpos[3 * absent + 2] < -99);
    CHECK(m->geom_contype[m->body_geomadr[absent]] == 0);
  }
}

TEST_CASE("qpos and pose bindings alone leave the model shared") {
  ModelPtr base = LoadModelString(kSceneXml);
  const ScenarioSpace space = Space(R"({"factors": [
    {"name": "turn", "range": [-1, 1], "binding": {"kind": "qpos", "target": "j1"}},
    {"name": "box_yaw", "range": [-1, 1], "binding": {"kind": "pose", "target": "box.yaw"}}]})");
  ScenarioBinding binding(base.get(), space);
  CHECK_FALSE(binding.needs_private_model());
  Workspace ws(base.get(), false);
  State x0 = State::Reference(base.get());
  ApplyScenario(base.get(), space, Scenario{{-0.4, -0.9}}, ws, &x0);
  ws.SetState(x0);
  mj_forward(ws.model(), ws.data());
  const int box = mj_name2id(base.get(), mjOBJ_BODY, "box");
  CHECK(std::atan2(ws.data()->xmat[9 * box + 3], ws.data()->xmat[9 * box]) ==
        doctest::Approx(-0.9));
  CHECK(ws.data()->qpos[base->jnt_qposadr[mj_name2id(base.get(), mjOBJ_JOINT, "j1")]] == -0.4);
}

std::string BindError(const std::string& factor) {
  ModelPtr base = LoadModelString(kSceneXml);
  try {
    ScenarioBinding(base.get(), Space(R"({"factors": [)" + factor + "]}"));
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_CASE("bindings that do not fit the model are clear input errors") {
  CHECK(BindError(R"({"name": "o", "levels": ["box", "cone"],
                      "binding": {"kind": "variant", "target": "object"}})") ==
        "scenarios: factor 'o'.levels.cone: expected a body of the model (with a free joint or "
        "none) for the level, got 'cone'");
  CHECK(BindError(R"({"name": "o", "levels": ["box", "tip"],
                      "binding": {"kind": "variant", "target": "object"}})") ==
        "scenarios: factor 'o'.levels.tip: expected a body with one free joint or no joint, got "
        "body 'tip' with other joints");
  CHECK(BindError(R"({"name": "p", "range": [0, 1],
                      "binding": {"kind": "pose", "target": "base.x"}})") ==
        "scenarios: factor 'p'.binding.target: expected a body with a free joint (box, cylinder, "
        "sphere) and a component, got 'base.x'");
  CHECK(BindError(R"({"name": "o", "levels": ["box", "sphere"],
                      "binding": {"kind": "variant", "target": "object"}},
                     {"name": "p", "range": [0, 1],
                      "binding": {"kind": "pose", "target": "box.x"}})") ==
        "scenarios: factor 'p'.binding.target: expected the object 'object' rather than its "
        "variant body, got 'box.x'");
  CHECK(BindError(R"({"name": "o", "levels": ["box", "sphere"],
                      "binding": {"kind": "variant", "target": "object"}},
                     {"name": "o2", "levels": ["cylinder", "sphere"],
                      "binding": {"kind": "variant", "target": "other"}})") ==
        "scenarios: factor 'o2'.levels: expected bodies of no other variant factor, got body "
        "'sphere' of factor 'o' too");
  CHECK(BindError(R"({"name": "a", "range": [0, 1],
                      "binding": {"kind": "qpos", "target": "j1"}},
                     {"name": "b", "range": [0, 1],
                      "binding": {"kind": "qpos", "target": "j1"}})") ==
        "scenarios: factor 'b'.binding.target: expected a target no other factor binds, got "
        "'j1', bound by factor 'a' too");
  CHECK(BindError(R"({"name": "q", "range": [0, 1],
                      "binding": {"kind": "qpos", "target": "box_free"}})") ==
        "scenarios: factor 'q'.binding.target: expected a hinge or slide joint of the model, got "
        "the free or ball joint 'box_free'");
  CHECK(BindError(R"({"name": "q", "range": [-3, 1],
                      "binding": {"kind": "qpos", "target": "j1"}})") ==
        "scenarios: factor 'q'.range: expected a range within joint 'j1' limits [-2, 2], got [-3, "
        "1]");
  CHECK(BindError(R"({"name": "f", "range": [0, 1],
                      "binding": {"kind": "parameter", "target": "geom:bx.friction[0]"}})")
            .rfind("scenarios: factor 'f'.binding.target: target 'geom:bx.friction[0]': expected "
                   "a geom of the model (",
                   0) == 0);
}

}  // namespace
}  // namespace nextbatch
