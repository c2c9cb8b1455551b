// Scheduling a selected batch onto robots with availability windows.
//
// Model: an item (one scenario with its repeats, `seconds` of robot time) runs whole on one robot.
// Consecutive items of one setup on one robot, inside one window, form a session; a session starts
// with its setup's change time (setups -1 have none: nothing to rebuild) and must fit inside one
// window. Each item is placed as early as it fits after the robot's previous item.
// Objective, in order: fewest unscheduled items, the earliest time the last robot finishes
// (makespan), the fewest setup changes (sessions with a setup).
//
// Exact when items <= exact_max_items: every assignment of items to robots (or to "unscheduled")
// and every order of each robot's items; per robot and item subset, the orders' (finish, setup
// changes) Pareto front is kept, so the combination is exact for the lexicographic objective.
// Beyond: items grouped by setup into one session each, sessions longest first, each onto the
// robot on which it finishes earliest (lower robot on ties); a session that fits no window as a
// whole is split into its items, each placed the same way; an item that fits nowhere is left
// unscheduled.
#ifndef NEXTBATCH_PLANNERS_SCHEDULE_H_
#define NEXTBATCH_PLANNERS_SCHEDULE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace nextbatch {

struct ScheduleItem {
  int setup = -1;        // index into setup_seconds, -1: none
  double seconds = 0.0;  // robot time of the item (all its repeats), > 0
};

struct Robot {
  std::string name;
  std::vector<std::pair<double, double>> windows;  // [start_s, end_s), ascending, disjoint
};

struct ScheduleOptions {
  int exact_max_items = 8;  // enumeration up to this many items, the heuristic beyond

  // Empty when valid, else "schedule.field: expected X, got Y".
  std::string Validate() const;
};

struct Session {
  int robot = 0;
  int setup = -1;
  double start = 0.0;  // setup change included
  double end = 0.0;
  std::vector<int> items;  // in running order
};

struct Schedule {
  std::vector<Session> sessions;  // by robot, then start
  std::vector<int> unscheduled;   // items that fit no window, ascending
  double makespan = 0.0;          // end of the last session (0 when nothing is scheduled)
  int setup_changes = 0;          // sessions with a setup
  bool exact = false;
};

// Robots from {"robot": [[start_s, end_s], ...], ...}; windows are sorted. Throws InputError
// (`where` names the file) for a window that is not two numbers, runs backwards or is empty,
// windows of one robot that overlap, or a robot without windows.
std::vector<Robot> RobotsFromJson(const nlohmann::json& j, const std::string& where);

// Throws InputError for the same problems as RobotsFromJson and for bad items or options.
Schedule MakeSchedule(const std::vector<ScheduleItem>& items,
                      const std::vector<double>& setup_seconds, const std::vector<Robot>& robots,
                      const ScheduleOptions& options = {});

// The schedule of fixed per-robot item sequences, each item placed as early as it fits (items
// that fit nowhere after their predecessor are returned in `unscheduled`).
Schedule PlaceSequences(const std::vector<ScheduleItem>& items,
                        const std::vector<double>& setup_seconds, const std::vector<Robot>& robots,
                        const std::vector<std::vector<int>>& sequences);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_SCHEDULE_H_
