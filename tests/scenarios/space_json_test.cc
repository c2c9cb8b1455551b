#include "scenarios/space_json.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace nextbatch {
namespace {

const char* kSection = R"({
  "factors": [
    {"name": "friction", "type": "continuous", "range": [0.3, 1.2],
     "binding": {"kind": "parameter", "target": "geom:box.friction[0]"},
     "tag": "setup", "cost_seconds": 120},
    {"name": "mass_scale", "range": [0.5, 2], "log_scale": true,
     "binding": {"kind": "parameter", "targets": ["body:box.mass"], "mode": "scale"}},
    {"name": "object", "levels": ["box", {"name": "can", "body": "cylinder",
                                           "payload": {"radius": 0.03}}],
     "binding": {"kind": "variant", "target": "object"}, "tag": "setup", "cost_seconds": 60},
    {"name": "object_x", "range": [0.3, 0.5], "binding": {"kind": "pose", "target": "object.x"},
     "cost_seconds": 10},
    {"name": "start", "range": [-0.5, 0.5], "binding": {"kind": "qpos", "target": "j1"}},
    {"name": "repeats", "type": "integer", "range": [1, 4]}
  ],
  "constraints": [{"name": "reach", "terms": {"object_x": 1, "start": 0.2}, "max": 0.55},
                  {"name": "band", "terms": {"friction": 1}, "min": 0.4, "max": 1.1}],
  "sampler": {"kind": "lhs", "n": 64, "scramble": "shift", "grid_levels": 4,
              "grid_levels_per_factor": {"object_x": 5}, "max_rejections": 500}
})";

ScenariosSection Read(const nlohmann::json& j, std::uint64_t seed = 42) {
  return ReadScenariosSection(JsonReader(j, "study.json", "scenarios"), seed);
}

TEST_CASE("a full scenarios section reads into the space and the sampler options") {
  const ScenariosSection s = Read(nlohmann::json::parse(kSection));
  const ScenarioSpace& space = s.space;
  REQUIRE(space.dimension() == 6);
  const Factor& friction = space.factor(0);
  CHECK(friction.kind == FactorKind::kContinuous);
  CHECK(friction.lower == 0.3);
  CHECK(friction.upper == 1.2);
  CHECK(friction.binding.kind == FactorBinding::Kind::kParameter);
  CHECK(friction.binding.targets == std::vector<std::string>{"geom:box.friction[0]"});
  CHECK(friction.tag == FactorTag::kSetup);
  CHECK(friction.cost_seconds == 120);
  CHECK(space.factor(1).log_scale);
  CHECK(space.factor(1).binding.mode == BindMode::kScale);
  CHECK(space.factor(1).tag == FactorTag::kReset);
  const Factor& object = space.factor(2);
  CHECK(object.kind == FactorKind::kCategorical);
  REQUIRE(object.levels.size() == 2);
  CHECK(object.levels[0].name == "box");
  CHECK(object.levels[0].body.empty());
  CHECK(object.levels[1].body == "cylinder");
  CHECK(object.levels[1].payload["radius"] == 0.03);
  CHECK(space.factor(3).binding.kind == FactorBinding::Kind::kPose);
  CHECK(space.factor(4).binding.kind == FactorBinding::Kind::kQpos);
  CHECK(space.factor(5).kind == FactorKind::kInteger);
  CHECK(space.factor(5).binding.kind == FactorBinding::Kind::kNone);
  // "min" and "max" make two inequalities: friction <= 1.1 and -friction <= -0.4.
  REQUIRE(space.constraints().size() == 3);
  CHECK(space.constraints()[0].coefficients == std::vector<double>{1, 0.2});
  CHECK(space.constraints()[1].upper == 1.1);
  CHECK(space.constraints()[2].coefficients == std::vector<double>{-1});
  CHECK(space.constraints()[2].upper == -0.4);
  CHECK(s.has_sampler);
  CHECK(s.sampler.kind == SamplerKind::kLatinHypercube);
  CHECK(s.sampler.seed == 42);  // the study's
  CHECK(s.sampler.n == 64);
  CHECK(s.sampler.scramble == Scramble::kShift);
  CHECK(s.sampler.grid_levels == 4);
  CHECK(s.sampler.grid_levels_per_factor.at("object_x") == 5);
  CHECK(s.sampler.max_rejections == 500);
}

TEST_CASE("the space and the options written as JSON read back the same") {
  const ScenariosSection s = Read(nlohmann::json::parse(kSection));
  nlohmann::json j = ScenarioSpaceToJson(s.space);
  j["sampler"] = SamplerOptionsToJson(s.sampler);
  j["sampler"]["seed"] = 7;
  const ScenariosSection t = Read(j);
  CHECK(ScenarioSpaceToJson(t.space) == ScenarioSpaceToJson(s.space));
  CHECK(t.sampler.seed == 7);
  CHECK(SamplerOptionsToJson(t.sampler)["kind"] == "lhs");
  CHECK(t.space.constraints().size() == 3);
  // Scenarios from the two spaces are the same points.
  const auto a = MakeSampler(s.space, s.sampler)->Draw(0, 20);
  auto options = t.sampler;
  options.seed = 42;
  CHECK(MakeSampler(t.space, options)->Draw(0, 20) == a);
}

// Replaces the value at a JSON pointer of the full section and reads it.
std::string ErrorWith(const std::string& pointer, const nlohmann::json& value) {
  nlohmann::json j = nlohmann::json::parse(kSection);
  if (value.is_null()) {
    const auto slash = pointer.rfind('/');
    j[nlohmann::json::json_pointer(pointer.substr(0, slash))].erase(pointer.substr(slash + 1));
  } else {
    j[nlohmann::json::json_pointer(pointer)] = value;
  }
  try {
    Read(j);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_CASE("malformed scenarios sections give file: field: expected X, got Y") {
  using nlohmann::json;
  CHECK(ErrorWith("/colour", "red") ==
        "study.json: scenarios.colour: unknown key (a typo, or a field of another place?)");
  CHECK(ErrorWith("/factors/0/rnage", json::array({0, 1})) ==
        "study.json: scenarios.factors[0].rnage: unknown key (a typo, or a field of another "
        "place?)");
  CHECK(ErrorWith("/factors/0/range", json::array({1, 1})) ==
        "study.json: scenarios.factors[0].range: expected [lower, upper] with lower < upper, got "
        "[1, 1]");
  CHECK(ErrorWith("/factors/0/range", json::array({1})) ==
        "study.json: scenarios.factors[0].range: expected [lower, upper], got 1 numbers");
  CHECK(ErrorWith("/factors/5/range", json::array({4, 1})) ==
        "study.json: scenarios.factors[5].range: expected [lower, upper] with lower <= upper, got "
        "[4, 1]");
  CHECK(ErrorWith("/factors/5/range", json::array({1, 2.5})) ==
        "study.json: scenarios.factors[5].range: expected integer bounds, got [1, 2.5]");
  CHECK(ErrorWith("/factors/0/type", "real") ==
        "study.json: scenarios.factors[0].type: expected one of continuous, integer, "
        "categorical, got \"real\"");
  CHECK(ErrorWith("/factors/2/levels", json::array()) ==
        "study.json: scenarios.factors[2].levels: expected at least one level, got an empty "
        "array");
  CHECK(ErrorWith("/factors/2/levels/1", 3) ==
        "study.json: scenarios.factors[2].levels[1]: expected a level name or {name, body, "
        "value, payload}, got 3");
  CHECK(ErrorWith("/factors/2/levels/1", "box") ==
        "study.json: scenarios.factors[2].levels[1]: expected a level name not used before, got "
        "\"box\"");
  CHECK(ErrorWith("/factors/2/levels/1/size", 3) ==
        "study.json: scenarios.factors[2].levels[1].size: unknown key (a typo, or a field of "
        "another place?)");
  CHECK(ErrorWith("/factors/2/type", "continuous") ==
        "study.json: scenarios.factors[2].levels: expected a range, not levels, for a continuous "
        "factor, got levels");
  CHECK(ErrorWith("/factors/1/range/0", 0) ==
        "study.json: scenarios.factors[1].log_scale: expected a range with lower > 0 for a log "
        "scale, got lower 0");
  CHECK(ErrorWith("/factors/5/log_scale", true) ==
        "study.json: scenarios.factors[5].log_scale: expected log scale only on a continuous "
        "factor, got true on a integer factor");
  CHECK(ErrorWith("/factors/0/binding/kind", "field") ==
        "study.json: scenarios.factors[0].binding.kind: expected one of none, parameter, qpos, "
        "pose, variant, got \"field\"");
  CHECK(ErrorWith("/factors/3/binding/target", nullptr) ==
        "study.json: scenarios.factors[3].binding.target: expected a target for a binding of kind "
        "pose, got none");
  CHECK(ErrorWith("/factors/3/binding/mode", "scale") ==
        "study.json: scenarios.factors[3].binding.mode: expected no mode for a binding of kind "
        "pose, got a mode");
  CHECK(ErrorWith("/factors/4/binding/kind", "variant") ==
        "study.json: scenarios: factor 'start'.binding.kind: expected a categorical factor for a "
        "variant binding, got a continuous factor");
  CHECK(ErrorWith("/factors/0/tag", "teardown") ==
        "study.json: scenarios.factors[0].tag: expected one of setup, reset, got \"teardown\"");
  CHECK(ErrorWith("/factors/0/cost_seconds", -5) ==
        "study.json: scenarios.factors[0].cost_seconds: expected a number >= 0, got -5");
  CHECK(ErrorWith("/factors/1/name", "friction") ==
        "study.json: scenarios.factors[1].name: expected a factor name not used before, got "
        "\"friction\"");
  CHECK(ErrorWith("/factors", json::array()) ==
        "study.json: scenarios.factors: expected at least one factor, got an empty array");
  CHECK(ErrorWith("/constraints/0/terms/objct_x", 1) ==
        "study.json: scenarios.constraints[0].terms.objct_x: expected a factor of the space "
        "(friction, mass_scale, object, object_x, start, repeats), got 'objct_x'");
  CHECK(ErrorWith("/constraints/0/terms/object", 1) ==
        "study.json: scenarios.constraints[0].terms.object: expected a continuous or integer "
        "factor, got the categorical factor 'object'");
  CHECK(ErrorWith("/constraints/0/terms/start", "0.2") ==
        "study.json: scenarios.constraints[0].terms.start: expected a number, got the string "
        "\"0.2\"");
  CHECK(ErrorWith("/constraints/0/max", nullptr) ==
        "study.json: scenarios.constraints[0].max: expected a bound: max, min or both, got none");
  CHECK(ErrorWith("/constraints/1/min", 2) ==
        "study.json: scenarios.constraints[1].min: expected min <= max, got 2 > 1.1");
  CHECK(ErrorWith("/constraints/0/max", 0.1) ==
        "study.json: scenarios: constraint 'reach': expected a constraint that some point of the "
        "ranges meets, got a smallest left-hand side of 0.2 > 0.1");
  CHECK(ErrorWith("/sampler/kind", "sobel") ==
        "study.json: scenarios.sampler.kind: expected one of sobol, halton, lhs, uniform, grid, "
        "got \"sobel\"");
  CHECK(ErrorWith("/sampler/n", 0) ==
        "study.json: scenarios.sampler.n: expected a design size in [1, 2^26] for lhs, got 0");
  CHECK(ErrorWith("/sampler/seed", -1) ==
        "study.json: scenarios.sampler.seed: expected an integer >= 0, got -1");
  CHECK(ErrorWith("/sampler/grid_levels_per_factor/object", 3) ==
        "study.json: scenarios.sampler.grid_levels_per_factor.object: expected a continuous "
        "factor, got a categorical factor");
  CHECK(ErrorWith("/sampler/scramble", "full") ==
        "study.json: scenarios.sampler.scramble: expected one of none, shift, owen, got \"full\"");
}

void CollectPointers(const nlohmann::json& j, const std::string& at,
                     std::vector<std::string>* out) {
  if (!at.empty()) out->push_back(at);
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) CollectPointers(*it, at + "/" + it.key(), out);
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      CollectPointers(j[i], at + "/" + std::to_string(i), out);
    }
  }
}

TEST_CASE("any value in any place is read or rejected with an InputError, never worse") {
  const nlohmann::json good = nlohmann::json::parse(kSection);
  std::vector<std::string> pointers;
  CollectPointers(good, "", &pointers);
  const nlohmann::json replacements[] = {nullptr,
                                         "x",
                                         "",
                                         -1,
                                         0,
                                         1e308,
                                         -2.5,
                                         true,
                                         nlohmann::json::array(),
                                         nlohmann::json::object(),
                                         nlohmann::json::array({1, 2, 3})};
  int rejected = 0, accepted = 0;
  for (const std::string& p : pointers) {
    for (const nlohmann::json& r : replacements) {
      nlohmann::json j = good;
      j[nlohmann::json::json_pointer(p)] = r;
      CAPTURE(p);
      CAPTURE(r.dump());
      try {
        const ScenariosSection s = Read(j);
        REQUIRE(s.space.Validate().empty());
        REQUIRE(s.sampler.Validate().empty());
        ++accepted;
      } catch (const InputError& e) {
        REQUIRE(std::string(e.what()).rfind("study.json: ", 0) == 0);
        ++rejected;
      }
    }
  }
  CHECK(rejected > 300);
  CHECK(accepted > 10);
}

TEST_CASE("a study file's scenarios section: the study's seed, errors naming the file") {
  // Per process: other checkouts may run this test at the same time.
  const auto dir = std::filesystem::temp_directory_path() /
                   ("nextbatch_space_json_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "study.json").string();
  nlohmann::json study = {{"schema", "nextbatch.study/1"},
                          {"model", "scene.xml"},
                          {"seed", 1234},
                          {"scenarios", nlohmann::json::parse(kSection)}};
  study["scenarios"].erase("sampler");
  WriteFileAtomic(path, study.dump(2));
  const ScenariosSection s = ReadScenarios(Study::Load(path));
  CHECK(s.space.dimension() == 6);
  CHECK_FALSE(s.has_sampler);
  CHECK(s.sampler.seed == 1234);
  CHECK(s.sampler.kind == SamplerKind::kSobol);
  study["scenarios"]["factors"][0]["range"] = {2, 1};
  WriteFileAtomic(path, study.dump(2));
  CHECK_THROWS_WITH_AS(ReadScenarios(Study::Load(path)),
                       (path + ": scenarios.factors[0].range: expected [lower, upper] with lower "
                               "< upper, got [2, 1]")
                           .c_str(),
                       InputError);
  study.erase("scenarios");
  WriteFileAtomic(path, study.dump(2));
  CHECK_THROWS_AS(ReadScenarios(Study::Load(path)), InputError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nextbatch
