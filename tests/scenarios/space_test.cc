#include "scenarios/space.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"

namespace nextbatch {
namespace {

ScenarioSpace MixedSpace() {
  Factor friction;
  friction.name = "friction";
  friction.lower = 0.2;
  friction.upper = 1.0;
  friction.tag = FactorTag::kSetup;
  friction.cost_seconds = 120;
  Factor mass = friction;
  mass.name = "mass";
  mass.lower = 0.01;
  mass.upper = 10;
  mass.log_scale = true;
  mass.cost_seconds = 30;
  Factor repeats;
  repeats.name = "repeats";
  repeats.kind = FactorKind::kInteger;
  repeats.lower = -2;
  repeats.upper = 2;
  Factor shape;
  shape.name = "shape";
  shape.kind = FactorKind::kCategorical;
  for (const char* n : {"box", "cylinder", "sphere"}) {
    Level l;
    l.name = n;
    shape.levels.push_back(l);
  }
  shape.tag = FactorTag::kSetup;
  shape.cost_seconds = 60;
  return ScenarioSpace({friction, mass, repeats, shape});
}

TEST_CASE("unit-cube mapping: closed forms, and back") {
  const ScenarioSpace space = MixedSpace();
  REQUIRE(space.Validate().empty());
  const Scenario s = space.FromUnit(std::vector<double>{0.25, 0.5, 0.39, 0.7});
  CHECK(s.values[0] == doctest::Approx(0.4));             // 0.2 + 0.25 * 0.8
  CHECK(s.values[1] == doctest::Approx(std::sqrt(0.1)));  // geometric mean of 0.01 and 10
  CHECK(s.values[2] == -1);                               // cell 1 of 5 (0.2 .. 0.4)
  CHECK(s.values[3] == 2);                                // level 2 of 3 (above 2/3)
  // The bounds of the cube reach the bounds of every factor.
  const Scenario lo = space.FromUnit(std::vector<double>{0, 0, 0, 0});
  const Scenario hi = space.FromUnit(std::vector<double>{1, 1, 1, 1});
  CHECK(lo.values == std::vector<double>{0.2, 0.01, -2, 0});
  CHECK(hi.values[0] == 1.0);
  CHECK(hi.values[1] == doctest::Approx(10.0));
  CHECK(hi.values[1] <= 10.0);
  CHECK(hi.values[2] == 2);
  CHECK(hi.values[3] == 2);
  // Round trips: exact for integers and levels, to round-off for continuous.
  for (const Scenario& x : {s, lo, hi}) {
    const Scenario y = space.FromUnit(space.ToUnit(x));
    CHECK(y.values[0] == doctest::Approx(x.values[0]).epsilon(1e-14));
    CHECK(y.values[1] == doctest::Approx(x.values[1]).epsilon(1e-14));
    CHECK(y.values[2] == x.values[2]);
    CHECK(y.values[3] == x.values[3]);
  }
  // Integers and levels map to the centres of their cells.
  const auto u = space.ToUnit(s);
  CHECK(u[2] == doctest::Approx(0.3));
  CHECK(u[3] == doctest::Approx(5.0 / 6));
}

TEST_CASE("constraints: evaluate, feasibility and the first violated one") {
  ScenarioSpace space = MixedSpace();
  LinearConstraint c;
  c.name = "light_and_slippery";
  c.factors = {0, 1};
  c.coefficients = {2.0, 1.0};
  c.upper = 3.0;
  space.AddConstraint(c);
  LinearConstraint d;
  d.name = "few";
  d.factors = {2};
  d.coefficients = {1.0};
  d.upper = 1.0;
  space.AddConstraint(d);
  REQUIRE(space.Validate().empty());
  Scenario s{{0.5, 2.0, 1, 0}};
  CHECK(c.Evaluate(s.values) == 3.0);
  CHECK(space.Feasible(s));  // on the boundary
  s.values[1] = 2.0 + 1e-9;
  CHECK(space.FirstViolated(s) == 0);
  s.values[1] = 1.0;
  s.values[2] = 2;
  CHECK(space.FirstViolated(s) == 1);
  CHECK_FALSE(space.Feasible(s));
}

TEST_CASE("scenario JSON: level names, integers, round trip and clear errors") {
  const ScenarioSpace space = MixedSpace();
  const Scenario s{{0.5, 2.5, -1, 1}};
  const nlohmann::json j = space.ToJson(s);
  CHECK(j == nlohmann::json::parse(
                 R"({"friction": 0.5, "mass": 2.5, "repeats": -1, "shape": "cylinder"})"));
  CHECK(j["repeats"].is_number_integer());
  CHECK(space.FromJson(j, "plan.json: items[0].scenario") == s);
  auto bad = [&](const char* text) {
    return space.FromJson(nlohmann::json::parse(text), "plan.json: items[0].scenario");
  };
  CHECK_THROWS_WITH_AS(bad(R"({"friction": 0.5, "mass": 2.5, "repeats": -1, "shape": "cube"})"),
                       "plan.json: items[0].scenario.shape: expected one of box, cylinder, "
                       "sphere, got the string \"cube\"",
                       InputError);
  CHECK_THROWS_WITH_AS(bad(R"({"friction": 0.5, "mass": 2.5, "repeats": 0.5, "shape": "box"})"),
                       "plan.json: items[0].scenario.repeats: expected an integer, got 0.5",
                       InputError);
  CHECK_THROWS_WITH_AS(bad(R"({"friction": 1.5, "mass": 2.5, "repeats": 0, "shape": "box"})"),
                       "plan.json: items[0].scenario.friction: expected a value in [0.2, 1], got "
                       "1.5",
                       InputError);
  CHECK_THROWS_WITH_AS(bad(R"({"friction": 0.5, "repeats": 0, "shape": "box"})"),
                       "plan.json: items[0].scenario.mass: expected a value (every factor is "
                       "required), got none",
                       InputError);
  CHECK_THROWS_WITH_AS(
      bad(R"({"friction": 0.5, "mass": 1, "repeats": 0, "shape": "box", "colour": 1})"),
      "plan.json: items[0].scenario.colour: expected a factor of the space (friction, mass, "
      "repeats, shape), got an unknown key",
      InputError);
  CHECK_THROWS_WITH_AS(bad(R"({"friction": "high", "mass": 1, "repeats": 0, "shape": "box"})"),
                       "plan.json: items[0].scenario.friction: expected a number, got the string "
                       "\"high\"",
                       InputError);
}

TEST_CASE(
    "a recorded scenario: each value it gives is checked, missing factors and other keys pass") {
  const ScenarioSpace space = MixedSpace();
  auto check = [&](const char* text) {
    space.CheckRecorded(nlohmann::json::parse(text), "episode e1 (e1.csv): scenario");
  };
  CHECK_NOTHROW(check(R"({"friction": 0.5, "mass": 2.5, "repeats": -1, "shape": "box"})"));
  CHECK_NOTHROW(check(R"({"mass": 2.5, "controller": "sac"})"));  // counts for nothing, but valid
  CHECK_NOTHROW(check("{}"));
  CHECK_THROWS_WITH_AS(check(R"({"friction": 1.5, "controller": "sac"})"),
                       "episode e1 (e1.csv): scenario.friction: expected a value in [0.2, 1], got "
                       "1.5",
                       InputError);
  CHECK_THROWS_WITH_AS(check(R"({"shape": "cube"})"),
                       "episode e1 (e1.csv): scenario.shape: expected one of box, cylinder, "
                       "sphere, got the string \"cube\"",
                       InputError);
  CHECK_THROWS_WITH_AS(check(R"({"repeats": "2"})"),
                       "episode e1 (e1.csv): scenario.repeats: expected an integer, got the "
                       "string \"2\"",
                       InputError);
  CHECK_THROWS_WITH_AS(check("[1]"),
                       "episode e1 (e1.csv): scenario: expected an object {factor: value}, got an "
                       "array of 1",
                       InputError);
}

TEST_CASE("Check and Validate name what is wrong") {
  const ScenarioSpace space = MixedSpace();
  CHECK(space.Check(Scenario{{0.5, 2.5, -1, 1}}).empty());
  CHECK(space.Check(Scenario{{0.5, 2.5, -1, 3}}) ==
        "scenario.shape: expected a level index in [0, 2], got 3");
  CHECK(space.Check(Scenario{{0.5, 2.5, -1.5, 1}}) ==
        "scenario.repeats: expected an integer, got -1.5");
  CHECK(space.Check(Scenario{{0.5, 2.5}}) == "scenario: expected 4 values, got 2");

  auto with = [](auto change) {
    ScenarioSpace s = MixedSpace();
    std::vector<Factor> f = s.factors();
    change(f);
    return ScenarioSpace(f).Validate();
  };
  CHECK(with([](std::vector<Factor>& f) { f[0].upper = 0.2; }) ==
        "factor 'friction'.range: expected [lower, upper] with lower < upper, a finite width, got "
        "[0.2, 0.2]");
  CHECK(with([](std::vector<Factor>& f) {
          f[0].lower = -1e308;
          f[0].upper = 1e308;
        }) ==
        "factor 'friction'.range: expected [lower, upper] with lower < upper, a finite width, "
        "got [-1e+308, 1e+308]");
  CHECK(with([](std::vector<Factor>& f) { f[1].lower = 0; }) ==
        "factor 'mass'.log_scale: expected a range with lower > 0, got lower 0");
  CHECK(with([](std::vector<Factor>& f) { f[2].upper = -3; }) ==
        "factor 'repeats'.range: expected [lower, upper], integers with lower <= upper, got [-2, "
        "-3]");
  CHECK(with([](std::vector<Factor>& f) { f[3].levels.clear(); }) ==
        "factor 'shape'.levels: expected at least one level, got none");
  CHECK(with([](std::vector<Factor>& f) { f[3].levels[1].name = "box"; }) ==
        "factor 'shape'.levels: expected unique level names, got 'box' twice");
  CHECK(with([](std::vector<Factor>& f) { f[1].name = "friction"; }) ==
        "factor 'friction': expected a unique name, got a second factor");
  CHECK(with([](std::vector<Factor>& f) { f[0].cost_seconds = -1; }) ==
        "factor 'friction'.cost_seconds: expected a number >= 0, got -1");
  CHECK(with([](std::vector<Factor>& f) {
          f[0].binding.kind = FactorBinding::Kind::kVariant;
          f[0].binding.targets = {"object"};
        }) ==
        "factor 'friction'.binding.kind: expected a categorical factor for a variant "
        "binding, got a continuous factor");
  CHECK(with([](std::vector<Factor>& f) {
          f[3].binding.kind = FactorBinding::Kind::kParameter;
          f[3].binding.targets = {"geom:box.friction[0]"};
        }) ==
        "factor 'shape'.levels: expected a number ('value') for every level of a "
        "categorical factor bound to a parameter, got none for level 'box'");
  CHECK(with([](std::vector<Factor>& f) {
          f[0].binding.kind = FactorBinding::Kind::kPose;
          f[0].binding.targets = {"box.roll"};
        }) ==
        "factor 'friction'.binding.target: expected body.x, body.y, body.z or body.yaw, "
        "got 'box.roll'");
  ScenarioSpace constrained = MixedSpace();
  LinearConstraint c;
  c.name = "bad";
  c.factors = {3};
  c.coefficients = {1};
  constrained.AddConstraint(c);
  CHECK(constrained.Validate() ==
        "constraint 'bad'.terms.shape: expected a continuous or integer factor, got a "
        "categorical factor");
}

TEST_CASE("setup cost counts only setup factors that change") {
  const ScenarioSpace space = MixedSpace();
  const Scenario a{{0.5, 2.5, -1, 1}};
  CHECK(space.SetupCost(a, a) == 0);
  CHECK(space.SetupCost(a, Scenario{{0.5, 2.5, 2, 1}}) == 0);     // reset factor
  CHECK(space.SetupCost(a, Scenario{{0.6, 2.5, -1, 0}}) == 180);  // friction and shape
}

}  // namespace
}  // namespace nextbatch
