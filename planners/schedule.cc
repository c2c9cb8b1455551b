#include "planners/schedule.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "engine/error.h"

namespace nextbatch {

std::string ScheduleOptions::Validate() const {
  if (exact_max_items < 0 || exact_max_items > 10)
    return Expected("schedule.exact_max_items", "an integer in 0 .. 10",
                    std::to_string(exact_max_items));
  return "";
}

namespace {

std::string WindowText(const std::pair<double, double>& w) {
  return "[" + FormatNumber(w.first) + ", " + FormatNumber(w.second) + "]";
}

void CheckRobot(Robot& robot, const std::string& where) {
  if (robot.windows.empty()) ThrowExpected(where, "at least one window [start_s, end_s]", "none");
  for (const auto& w : robot.windows)
    if (!std::isfinite(w.first) || !std::isfinite(w.second) || w.first < 0 || !(w.second > w.first))
      ThrowExpected(where, "windows [start_s, end_s] with 0 <= start_s < end_s", WindowText(w));
  std::sort(robot.windows.begin(), robot.windows.end());
  for (size_t i = 1; i < robot.windows.size(); ++i)
    if (robot.windows[i].first < robot.windows[i - 1].second)
      ThrowExpected(where, "windows that do not overlap",
                    WindowText(robot.windows[i - 1]) + " and " + WindowText(robot.windows[i]));
}

// Where a robot stands after its items so far.
struct Cursor {
  double time = 0.0;
  int window = 0;
  int setup = -2;  // setup of the open session; -2: none open
};

struct Placed {
  int item;
  double session_start;  // new session: its start (change included); else negative
  double end;
};

struct Placer {
  const std::vector<ScheduleItem>& items;
  const std::vector<double>& setup_seconds;
  const std::vector<Robot>& robots;

  // Places `item` on robot r after `c`; false when it fits no remaining window.
  bool Place(int r, Cursor& c, int item, Placed* out) const {
    const ScheduleItem& it = items[item];
    const auto& windows = robots[r].windows;
    if (c.setup == it.setup && c.window < static_cast<int>(windows.size()) &&
        c.time + it.seconds <= windows[c.window].second) {
      c.time += it.seconds;
      if (out) *out = {item, -1.0, c.time};
      return true;
    }
    const double duration = (it.setup >= 0 ? setup_seconds[it.setup] : 0.0) + it.seconds;
    for (int w = c.window; w < static_cast<int>(windows.size()); ++w) {
      const double start = std::max(c.time, windows[w].first);
      if (start + duration <= windows[w].second) {
        c = Cursor{start + duration, w, it.setup};
        if (out) *out = {item, start, c.time};
        return true;
      }
    }
    return false;
  }
};

// One point of a robot's (finish, setup changes) Pareto front, with the order that reaches it.
struct Point {
  double finish;
  int changes;
  std::vector<int> order;
};

bool Less(double a, double b) { return a < b - 1e-9 * (1.0 + std::abs(b)); }

}  // namespace

std::vector<Robot> RobotsFromJson(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || j.empty())
    ThrowExpected(where, "an object {\"robot\": [[start_s, end_s], ...]}", j.dump());
  std::vector<Robot> robots;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string at = where + "." + it.key();
    Robot robot;
    robot.name = it.key();
    if (!it.value().is_array())
      ThrowExpected(at, "an array of [start_s, end_s]", it.value().dump());
    for (const auto& w : it.value()) {
      if (!w.is_array() || w.size() != 2 || !w[0].is_number() || !w[1].is_number())
        ThrowExpected(at, "windows [start_s, end_s] of two numbers", w.dump());
      robot.windows.emplace_back(w[0].get<double>(), w[1].get<double>());
    }
    CheckRobot(robot, at);
    robots.push_back(std::move(robot));
  }
  return robots;
}

Schedule PlaceSequences(const std::vector<ScheduleItem>& items,
                        const std::vector<double>& setup_seconds, const std::vector<Robot>& robots,
                        const std::vector<std::vector<int>>& sequences) {
  const Placer placer{items, setup_seconds, robots};
  Schedule out;
  for (size_t r = 0; r < robots.size() && r < sequences.size(); ++r) {
    Cursor c;
    for (int item : sequences[r]) {
      Placed p;
      if (!placer.Place(static_cast<int>(r), c, item, &p)) {
        out.unscheduled.push_back(item);
        continue;
      }
      if (p.session_start >= 0.0 || out.sessions.empty() ||
          out.sessions.back().robot != static_cast<int>(r)) {
        Session s;
        s.robot = static_cast<int>(r);
        s.setup = items[item].setup;
        s.start = p.session_start;
        out.sessions.push_back(s);
        if (s.setup >= 0) ++out.setup_changes;
      }
      out.sessions.back().items.push_back(item);
      out.sessions.back().end = p.end;
      out.makespan = std::max(out.makespan, p.end);
    }
  }
  std::sort(out.unscheduled.begin(), out.unscheduled.end());
  return out;
}

namespace {

Schedule Exact(const Placer& placer, int n) {
  const int robots = static_cast<int>(placer.robots.size());
  const int subsets = 1 << n;
  // front[r][mask]: the Pareto front of robot r running exactly the items of `mask`.
  std::vector<std::vector<std::vector<Point>>> front(robots,
                                                     std::vector<std::vector<Point>>(subsets));
  for (int r = 0; r < robots; ++r) {
    front[r][0].push_back({0.0, 0, {}});
    for (int mask = 1; mask < subsets; ++mask) {
      std::vector<int> order;
      for (int i = 0; i < n; ++i)
        if (mask >> i & 1) order.push_back(i);
      std::vector<Point>& f = front[r][mask];
      do {
        Cursor c;
        int changes = 0;
        bool ok = true;
        for (int item : order) {
          Placed p;
          if (!placer.Place(r, c, item, &p)) {
            ok = false;
            break;
          }
          if (p.session_start >= 0.0 && placer.items[item].setup >= 0) ++changes;
        }
        if (!ok) continue;
        bool dominated = false;
        for (const Point& q : f)
          dominated = dominated || (!Less(c.time, q.finish) && q.changes <= changes);
        if (dominated) continue;
        f.erase(std::remove_if(f.begin(), f.end(),
                               [&](const Point& q) {
                                 return !Less(q.finish, c.time) && changes <= q.changes;
                               }),
                f.end());
        f.push_back({c.time, changes, order});
      } while (std::next_permutation(order.begin(), order.end()));
    }
  }
  // Every split of the items among the robots and "unscheduled".
  int best_unscheduled = n + 1, best_changes = 0;
  double best_makespan = 0.0;
  std::vector<int> best_masks, masks(robots);
  std::function<void(int, int)> walk = [&](int r, int rest) {
    if (r == robots) {
      const int unscheduled = __builtin_popcount(rest);
      double makespan = 0.0;
      for (int q = 0; q < robots; ++q) {
        double fastest = std::numeric_limits<double>::infinity();
        for (const Point& p : front[q][masks[q]]) fastest = std::min(fastest, p.finish);
        makespan = std::max(makespan, fastest);
      }
      int changes = 0;
      for (int q = 0; q < robots; ++q) {
        int fewest = std::numeric_limits<int>::max();
        for (const Point& p : front[q][masks[q]])
          if (!Less(makespan, p.finish)) fewest = std::min(fewest, p.changes);
        changes += fewest;
      }
      const bool better = unscheduled < best_unscheduled ||
                          (unscheduled == best_unscheduled &&
                           (Less(makespan, best_makespan) ||
                            (!Less(best_makespan, makespan) && changes < best_changes)));
      if (better) {
        best_unscheduled = unscheduled;
        best_makespan = makespan;
        best_changes = changes;
        best_masks = masks;
      }
      return;
    }
    // Submasks of `rest`, the empty one last.
    for (int sub = rest;; sub = (sub - 1) & rest) {
      if (!front[r][sub].empty()) {
        masks[r] = sub;
        walk(r + 1, rest & ~sub);
      }
      if (sub == 0) break;
    }
  };
  walk(0, subsets - 1);
  std::vector<std::vector<int>> sequences(robots);
  for (int r = 0; r < robots; ++r) {
    const Point* chosen = nullptr;
    for (const Point& p : front[r][best_masks[r]])
      if (!Less(best_makespan, p.finish) && (!chosen || p.changes < chosen->changes)) chosen = &p;
    sequences[r] = chosen->order;
  }
  Schedule out = PlaceSequences(placer.items, placer.setup_seconds, placer.robots, sequences);
  for (int i = 0; i < n; ++i)
    if (!std::any_of(best_masks.begin(), best_masks.end(), [&](int m) { return m >> i & 1; }))
      out.unscheduled.push_back(i);
  std::sort(out.unscheduled.begin(), out.unscheduled.end());
  out.exact = true;
  return out;
}

bool Worse(const Schedule& a, const Schedule& b) {
  if (a.unscheduled.size() != b.unscheduled.size())
    return a.unscheduled.size() > b.unscheduled.size();
  if (Less(b.makespan, a.makespan)) return true;
  if (Less(a.makespan, b.makespan)) return false;
  return a.setup_changes > b.setup_changes;
}

// Places runs of items, each on the robot where it ends earliest (lower robot on ties); a run
// that no robot takes whole is placed item by item, and an item that fits nowhere is left out.
Schedule PlaceRuns(const Placer& placer, const std::vector<std::vector<int>>& runs) {
  const int robots = static_cast<int>(placer.robots.size());
  std::vector<Cursor> cursor(robots);
  std::vector<std::vector<int>> sequences(robots);
  std::vector<int> unscheduled;
  auto place = [&](const std::vector<int>& run) {
    int best = -1;
    Cursor best_cursor;
    for (int r = 0; r < robots; ++r) {
      Cursor c = cursor[r];
      bool ok = true;
      for (int item : run) ok = ok && placer.Place(r, c, item, nullptr);
      if (ok && (best < 0 || Less(c.time, best_cursor.time))) {
        best = r;
        best_cursor = c;
      }
    }
    if (best < 0) return false;
    cursor[best] = best_cursor;
    sequences[best].insert(sequences[best].end(), run.begin(), run.end());
    return true;
  };
  for (const std::vector<int>& run : runs) {
    if (place(run)) continue;
    for (int item : run)
      if (!place({item})) unscheduled.push_back(item);
  }
  Schedule out = PlaceSequences(placer.items, placer.setup_seconds, placer.robots, sequences);
  out.unscheduled.insert(out.unscheduled.end(), unscheduled.begin(), unscheduled.end());
  std::sort(out.unscheduled.begin(), out.unscheduled.end());
  return out;
}

// Two passes, the better kept: (a) one session per setup, longest first; (b) the items alone,
// longest first, grouped by setup where a robot's last session shares it (fewer changes, more
// balance).
Schedule Heuristic(const Placer& placer) {
  const int n = static_cast<int>(placer.items.size());
  std::vector<std::vector<int>> groups;
  std::vector<int> group_of_setup(placer.setup_seconds.size() + 1, -1);
  for (int i = 0; i < n; ++i) {
    int& g = group_of_setup[placer.items[i].setup + 1];
    if (g < 0) {
      g = static_cast<int>(groups.size());
      groups.emplace_back();
    }
    groups[g].push_back(i);
  }
  auto longer = [&](int a, int b) { return placer.items[a].seconds > placer.items[b].seconds; };
  std::vector<double> length(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    std::stable_sort(groups[g].begin(), groups[g].end(), longer);
    const int setup = placer.items[groups[g][0]].setup;
    length[g] = setup >= 0 ? placer.setup_seconds[setup] : 0.0;
    for (int i : groups[g]) length[g] += placer.items[i].seconds;
  }
  std::vector<int> by_length(groups.size());
  std::iota(by_length.begin(), by_length.end(), 0);
  std::stable_sort(by_length.begin(), by_length.end(),
                   [&](int a, int b) { return length[a] > length[b]; });
  std::vector<std::vector<int>> sessions;
  for (int g : by_length) sessions.push_back(groups[g]);
  Schedule best = PlaceRuns(placer, sessions);

  // (b): setups in the order of (a), each setup's items longest first, one run per item.
  std::vector<std::vector<int>> singles;
  for (int g : by_length)
    for (int i : groups[g]) singles.push_back({i});
  Schedule items = PlaceRuns(placer, singles);
  if (Worse(best, items)) best = items;
  return best;
}

}  // namespace

Schedule MakeSchedule(const std::vector<ScheduleItem>& items,
                      const std::vector<double>& setup_seconds, const std::vector<Robot>& robots,
                      const ScheduleOptions& options) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError(problem);
  if (robots.empty()) ThrowExpected("schedule.robots", "at least one robot", "none");
  std::vector<Robot> checked = robots;
  for (Robot& r : checked) CheckRobot(r, "schedule.robots." + r.name);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = "schedule.items[" + std::to_string(i) + "]";
    if (!(items[i].seconds > 0.0) || !std::isfinite(items[i].seconds))
      ThrowExpected(where + ".seconds", "a positive number", FormatNumber(items[i].seconds));
    if (items[i].setup < -1 || items[i].setup >= static_cast<int>(setup_seconds.size()))
      ThrowExpected(where + ".setup", "-1 or a setup index", std::to_string(items[i].setup));
  }
  const Placer placer{items, setup_seconds, checked};
  const int n = static_cast<int>(items.size());
  double splits = std::pow(checked.size() + 1.0, n);
  if (n <= options.exact_max_items && splits <= 2e6) return Exact(placer, n);
  return Heuristic(placer);
}

}  // namespace nextbatch
