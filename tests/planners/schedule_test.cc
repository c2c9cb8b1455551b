#include "planners/schedule.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "engine/error.h"
#include "engine/random.h"

namespace nextbatch {
namespace {

struct Value {
  int unscheduled;
  double makespan;
  int changes;
};

bool Better(const Value& a, const Value& b) {
  if (a.unscheduled != b.unscheduled) return a.unscheduled < b.unscheduled;
  if (a.makespan < b.makespan - 1e-9) return true;
  if (a.makespan > b.makespan + 1e-9) return false;
  return a.changes < b.changes;
}

Value Of(const Schedule& s) {
  return {static_cast<int>(s.unscheduled.size()), s.makespan, s.setup_changes};
}

// Independent enumeration: every assignment (robot or none) and every order of all items, the
// robots' sequences read off the order.
Value BruteForce(const std::vector<ScheduleItem>& items, const std::vector<double>& setups,
                 const std::vector<Robot>& robots) {
  const int n = static_cast<int>(items.size()), r = static_cast<int>(robots.size());
  Value best{n + 1, 0.0, 0};
  std::vector<int> assign(n, 0);
  for (;;) {
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    do {
      std::vector<std::vector<int>> seq(r);
      for (int i : order)
        if (assign[i] < r) seq[assign[i]].push_back(i);
      Schedule s = PlaceSequences(items, setups, robots, seq);
      Value v = Of(s);
      v.unscheduled += static_cast<int>(std::count(assign.begin(), assign.end(), r));
      if (Better(v, best)) best = v;
    } while (std::next_permutation(order.begin(), order.end()));
    int k = 0;
    while (k < n && ++assign[k] > r) assign[k++] = 0;
    if (k == n) break;
  }
  return best;
}

void CheckInsideWindows(const Schedule& s, const std::vector<ScheduleItem>& items,
                        const std::vector<double>& setups, const std::vector<Robot>& robots) {
  std::vector<double> last(robots.size(), 0.0);
  for (const Session& session : s.sessions) {
    double length = session.setup >= 0 ? setups[session.setup] : 0.0;
    for (int i : session.items) {
      CHECK(items[i].setup == session.setup);
      length += items[i].seconds;
    }
    CHECK(session.end == doctest::Approx(session.start + length));
    CHECK(session.start >= last[session.robot]);
    last[session.robot] = session.end;
    bool inside = false;
    for (const auto& w : robots[session.robot].windows)
      inside = inside || (session.start >= w.first && session.end <= w.second + 1e-9);
    CHECK(inside);
  }
}

TEST_CASE("schedule: a hand case whose optimum is worked out by hand") {
  // Setup 0: two 40 s items; setup 1: one 30 s item; changes take 10 s; two robots [0, 100].
  // One robot cannot take all (130 s). Splitting by setup gives 90 s with 2 changes; mixing (s0 A
  // + s1 C | s0 B) also 90 s but 3 changes.
  const std::vector<ScheduleItem> items = {{0, 40}, {0, 40}, {1, 30}};
  const std::vector<Robot> robots = {{"a", {{0, 100}}}, {"b", {{0, 100}}}};
  const Schedule s = MakeSchedule(items, {10, 10}, robots);
  CHECK(s.exact);
  CHECK(s.makespan == 90);
  CHECK(s.setup_changes == 2);
  CHECK(s.unscheduled.empty());
  REQUIRE(s.sessions.size() == 2);
  CHECK(s.sessions[0].items.size() + s.sessions[1].items.size() == 3);
  CheckInsideWindows(s, items, {10, 10}, robots);
}

TEST_CASE("schedule: exact equals an independent enumeration on small random cases") {
  int cases = 0, heuristic_optimal = 0;
  double worst = 1.0;
  for (std::uint64_t t = 0; t < 40; ++t) {
    RandomStream r(9, Stage::kTest, t);
    const int n = 3 + static_cast<int>(r.UniformInt(3));
    const int robot_count = 1 + static_cast<int>(r.UniformInt(2));
    std::vector<double> setups = {r.Uniform(0, 30), r.Uniform(0, 30), r.Uniform(0, 30)};
    std::vector<ScheduleItem> items;
    for (int i = 0; i < n; ++i)
      items.push_back({static_cast<int>(r.UniformInt(4)) - 1, r.Uniform(10, 80)});
    std::vector<Robot> robots;
    for (int k = 0; k < robot_count; ++k) {
      Robot robot{"r" + std::to_string(k), {}};
      double at = r.Uniform(0, 50);
      const int windows = 1 + static_cast<int>(r.UniformInt(3));
      for (int w = 0; w < windows; ++w) {
        const double length = r.Uniform(60, 200);
        robot.windows.emplace_back(at, at + length);
        at += length + r.Uniform(10, 100);
      }
      robots.push_back(robot);
    }
    const Schedule exact = MakeSchedule(items, setups, robots);
    REQUIRE(exact.exact);
    const Value truth = BruteForce(items, setups, robots);
    CHECK(exact.unscheduled.size() == static_cast<size_t>(truth.unscheduled));
    CHECK(exact.makespan == doctest::Approx(truth.makespan));
    CHECK(exact.setup_changes == truth.changes);
    CheckInsideWindows(exact, items, setups, robots);

    ScheduleOptions heuristic;
    heuristic.exact_max_items = 0;
    const Schedule h = MakeSchedule(items, setups, robots, heuristic);
    CHECK_FALSE(h.exact);
    CheckInsideWindows(h, items, setups, robots);
    CHECK_FALSE(Better(Of(h), truth));
    if (h.unscheduled.size() == exact.unscheduled.size() && exact.makespan > 0) {
      worst = std::min(worst, exact.makespan / h.makespan);
      heuristic_optimal += h.makespan <= exact.makespan + 1e-9 ? 1 : 0;
    }
    ++cases;
  }
  MESSAGE("schedule: exact == enumeration on " << cases << " cases; the heuristic optimal on "
                                               << heuristic_optimal << ", worst makespan ratio "
                                               << worst);
}

TEST_CASE("schedule: a session that fits no window is left unscheduled and said so") {
  const std::vector<ScheduleItem> items = {{0, 50}, {1, 95}, {0, 20}};
  const std::vector<Robot> robots = {{"a", {{0, 100}, {200, 260}}}};
  for (int exact_max : {8, 0}) {
    ScheduleOptions o;
    o.exact_max_items = exact_max;
    const Schedule s = MakeSchedule(items, {10, 10}, robots, o);
    CHECK(s.unscheduled == std::vector<int>{1});  // 10 + 95 > 100: no window takes it
    CHECK(s.makespan == 80);                      // 10 + 50 + 20 in the first window
    CHECK(s.setup_changes == 1);
  }
}

TEST_CASE("schedule: the heuristic keeps every session inside its windows on a larger batch") {
  RandomStream r(10, Stage::kTest, 0);
  std::vector<ScheduleItem> items;
  for (int i = 0; i < 60; ++i)
    items.push_back({static_cast<int>(r.UniformInt(8)), r.Uniform(20, 120)});
  const std::vector<double> setups(8, 300.0);
  const std::vector<Robot> robots = {
      {"a", {{0, 3600}, {7200, 10800}}}, {"b", {{0, 5400}}}, {"c", {{1800, 9000}}}};
  const Schedule s = MakeSchedule(items, setups, robots);
  CHECK_FALSE(s.exact);
  CHECK(s.unscheduled.empty());
  CHECK(s.setup_changes == 8);  // one session per setup: every one fits a window whole
  CheckInsideWindows(s, items, setups, robots);
  size_t scheduled = 0;
  for (const Session& session : s.sessions) scheduled += session.items.size();
  CHECK(scheduled == items.size());
}

TEST_CASE("availability windows that overlap or run backwards are input errors") {
  using nlohmann::json;
  const std::vector<Robot> ok = RobotsFromJson(
      json::parse(R"({"b": [[50, 60], [0, 10]], "a": [[0, 5]]})"), "study.json: availability");
  REQUIRE(ok.size() == 2);
  CHECK(ok[0].name == "a");
  CHECK(ok[1].windows[0].first == 0);  // sorted
  CHECK_THROWS_WITH_AS(
      RobotsFromJson(json::parse(R"({"a": [[0, 100], [50, 150]]})"), "study.json: availability"),
      "study.json: availability.a: expected windows that do not overlap, got [0, 100] and "
      "[50, 150]",
      InputError);
  CHECK_THROWS_WITH_AS(
      RobotsFromJson(json::parse(R"({"a": [[100, 50]]})"), "study.json: availability"),
      "study.json: availability.a: expected windows [start_s, end_s] with 0 <= start_s < end_s, "
      "got [100, 50]",
      InputError);
  CHECK_THROWS_AS(RobotsFromJson(json::parse(R"({"a": [[1, 2, 3]]})"), "x"), InputError);
  CHECK_THROWS_AS(RobotsFromJson(json::parse(R"({"a": []})"), "x"), InputError);
  CHECK_THROWS_AS(MakeSchedule({{-1, 5}}, {}, {{"a", {{10, 0}}}}), InputError);
  CHECK_THROWS_AS(MakeSchedule({{-1, 5}}, {}, {}), InputError);
  CHECK_THROWS_AS(MakeSchedule({{0, 5}}, {}, {{"a", {{0, 10}}}}), InputError);  // setup 0 unknown
}

}  // namespace
}  // namespace nextbatch
