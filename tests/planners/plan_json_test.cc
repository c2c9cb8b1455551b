#include "planners/plan_json.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

ScenarioSpace Space() {
  Factor mass;
  mass.name = "mass";
  mass.lower = 0.1;
  mass.upper = 2.0;
  Factor shape;
  shape.name = "shape";
  shape.kind = FactorKind::kCategorical;
  for (const char* n : {"box", "ball"}) {
    Level l;
    l.name = n;
    shape.levels.push_back(l);
  }
  return ScenarioSpace({mass, shape});
}

Plan Example(const ScenarioSpace& space) {
  Plan plan;
  plan.study = "examples/xl330/study.json";
  plan.seed = 18446744073709551615ull;  // the largest seed survives the round trip
  for (int i = 0; i < 3; ++i) {
    PlanItem it;
    it.rank = i + 1;
    it.scenario = Scenario{{0.1 + 0.3 * i, static_cast<double>(i % 2)}};
    it.item_id = ItemId(space, it.scenario, plan.seed);
    it.repeats = 1 + i;
    it.score = 1.0 / 3.0 + i;
    it.components = {0.1 * i, 0.7, 1e-17, 42.5};
    it.informs = i == 1 ? "" : "joint:hinge.damping";
    it.reason = "covers an empty cell \"mass x shape\", information 0.42 nats";
    it.session = i == 2 ? -1 : i;
    it.est_seconds = 60.0 * it.repeats;
    plan.items.push_back(it);
  }
  plan.sessions = {{"arm_a", 0, 130, 10, {plan.items[0].item_id}},
                   {"arm_b", 5, 200.25, 0, {plan.items[1].item_id}}};
  plan.budget = {3600, 310.25, 10};
  plan.expected.coverage_before = 0.25;
  plan.expected.coverage_after = 0.5;
  plan.expected.std_before = {{"joint:hinge.damping", 0.2},
                              {"body:link.mass", std::numeric_limits<double>::infinity()}};
  plan.expected.std_after = {{"joint:hinge.damping", 0.1}, {"body:link.mass", 3.0}};
  plan.expected.failure_modes = {"slips at high mass"};
  return plan;
}

// FNV-1a 64 written out again, checked on the published vector for "a".
std::uint64_t Fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

TEST_CASE("item ids: FNV-1a of the scenario's sorted JSON and the seed, stable and distinct") {
  REQUIRE(Fnv1a("a") == 0xaf63dc4c8601ec8cull);
  const ScenarioSpace space = Space();
  const Scenario s{{0.5, 1}};
  char expected[17];
  std::snprintf(expected, sizeof(expected), "%016llx",
                static_cast<unsigned long long>(Fnv1a("{\"mass\":0.5,\"shape\":\"ball\"}#7")));
  CHECK(ItemId(space, s, 7) == expected);
  CHECK(ItemId(space, s, 7) == ItemId(space, Scenario{{0.5, 1}}, 7));
  CHECK(ItemId(space, s, 8) != ItemId(space, s, 7));
  CHECK(ItemId(space, Scenario{{0.5, 0}}, 7) != ItemId(space, s, 7));
}

TEST_CASE("plan.json round trip: the reader returns what the writer wrote, to the bit") {
  const ScenarioSpace space = Space();
  const Plan plan = Example(space);
  const testing::TempDir dir("plan_json");
  WritePlan(plan, space, dir.path());
  const Plan back = ReadPlan(dir.path(), space);
  CHECK(PlanToJson(back, space) == PlanToJson(plan, space));
  CHECK(back.seed == plan.seed);
  REQUIRE(back.items.size() == 3);
  CHECK(back.items[0].score == plan.items[0].score);
  CHECK(back.items[0].components.information == 1e-17);
  CHECK(back.items[2].session == -1);
  CHECK(back.items[1].scenario == plan.items[1].scenario);
  CHECK(std::isinf(back.expected.std_before.at("body:link.mass")));
  CHECK(back.sessions[1].end_s == 200.25);
  // Written twice, the same bytes.
  const std::string first = ReadFile(dir.File("plan.json"));
  WritePlan(back, space, dir.path());
  CHECK(ReadFile(dir.File("plan.json")) == first);
  CHECK(ReadPlan(dir.File("plan.json"), space).items.size() == 3);
}

TEST_CASE("plan.csv: one row per item, factors as columns, text quoted") {
  const ScenarioSpace space = Space();
  const Plan plan = Example(space);
  const std::string csv = PlanToCsv(plan, space);
  CHECK(csv.rfind("rank,item_id,\"mass\",\"shape\",repeats,score,", 0) == 0);
  int lines = 0;
  for (char c : csv) lines += c == '\n';
  CHECK(lines == 4);
  CHECK(csv.find("1," + plan.items[0].item_id + ",0.1,\"box\",1,") != std::string::npos);
  CHECK(csv.find("\"covers an empty cell \"\"mass x shape\"\", information 0.42 nats\"") !=
        std::string::npos);
  CHECK(csv.find(",0,\"arm_a\",60,") != std::string::npos);
}

TEST_CASE("plan.json reader is strict") {
  const ScenarioSpace space = Space();
  const nlohmann::json good = PlanToJson(Example(space), space);
  nlohmann::json j = good;
  j["extra"] = 1;
  CHECK_THROWS_WITH_AS(PlanFromJson(j, space, "plan.json"),
                       "plan.json: extra: unknown key (a typo, or a field of another place?)",
                       InputError);
  j = good;
  j["schema"] = "nextbatch.plan/2";
  CHECK_THROWS_WITH_AS(PlanFromJson(j, space, "plan.json"),
                       "plan.json: schema: expected \"nextbatch.plan/1\", got \"nextbatch.plan/2\"",
                       InputError);
  j = good;
  j["items"][1]["session"] = 5;
  CHECK_THROWS_WITH_AS(PlanFromJson(j, space, "plan.json"),
                       "plan.json: items[1].session: expected -1 or a session index below 2, got 5",
                       InputError);
  j = good;
  j["items"][0]["scenario"]["shape"] = "cone";
  CHECK_THROWS_AS(PlanFromJson(j, space, "plan.json"), InputError);
  j = good;
  j["items"][0]["components"].erase("cost");
  CHECK_THROWS_AS(PlanFromJson(j, space, "plan.json"), InputError);
  j = good;
  j["seed"] = -1;
  CHECK_THROWS_AS(PlanFromJson(j, space, "plan.json"), InputError);
}

}  // namespace
}  // namespace nextbatch
