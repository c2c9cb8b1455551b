// A task's outcome judged on a real episode's logged trajectory instead of a simulated one, so
// that real and simulated episodes are judged by the same rules (success, safety, metrics).
//
// Each logged sample within the task's horizon (from the episode's first sample) is written into
// a mjData of the base model (qpos, qvel and ctrl by name; joints and actuators not logged keep
// the reference position, zero speed, zero command), its derived quantities are computed
// (mj_forward) and the task's own Outcome::Evaluator judges it, as it judges simulation steps.
// A rule is judged only when every quantity it reads is determined by the logged channels:
//   time                              nothing
//   joint position / speed            that joint's qpos / qvel
//   actuator ctrl                     that actuator's ctrl
//   actuator force                    that actuator's ctrl and every joint's qpos and qvel
//   body, site, distance, contact     every joint's qpos
//   body velocity                     every joint's qpos and qvel
// The episode's recorded model properties (`conditions`: its scenario's parameter-kind factors,
// ScenarioBinding::RecordedConditions) are applied to a copy of the model, as calibration and
// replay apply them; without them the base model's masses, geometry and actuator ranges judge
// (which matters for actuator force, body, site, distance and contact quantities). A log shorter
// than the horizon (by more than one sample step) is not judged: an "always" or "end" rule would be
// judged on part of the task.
#ifndef NEXTBATCH_SCENARIOS_LOGGED_OUTCOME_H_
#define NEXTBATCH_SCENARIOS_LOGGED_OUTCOME_H_

#include <mujoco/mujoco.h>

#include <map>
#include <string>

#include "engine/episode.h"
#include "engine/parameter.h"
#include "scenarios/outcome.h"

namespace nextbatch {

struct LoggedOutcome {
  bool success_judged = false;  // the outcome has a success rule and the log determines it
  bool success = false;
  bool safety_judged = false;
  bool safe = true;
  std::map<std::string, double> metrics;  // the metrics the log determines, by name
  double seconds = 0.0;                   // the span judged (from the first sample)
  // Why a rule could not be judged (e.g. "success reads joint 'elbow' speed (qvel), which the log
  // lacks"); empty when every rule was.
  std::string reason;
};

// Judges `e` (channel names are model names, as ingest delivers them) against `outcome`, compiled
// for `m` with the task's horizon. Throws InputError when a channel names no joint or actuator of
// `m`. Never runs a simulation step.
LoggedOutcome JudgeLoggedEpisode(const mjModel* m, const Outcome& outcome, const Episode& e,
                                 const EpisodeConditions* conditions = nullptr);

// A real episode's success as the planner uses it: the task's success rule judged on the log
// when the log determines it, else the episode's recorded label (outcome "success", a boolean),
// else unknown.
struct RealOutcome {
  int success = -1;    // 1 succeeded, 0 failed, -1 unknown
  std::string source;  // "log" (the task's rule on the logged trajectory), "label" or "" (unknown)
  std::string note;    // why it is unknown, or the label when the log contradicts it
};

RealOutcome RealEpisodeOutcome(const mjModel* m, const Outcome& outcome, const Episode& e,
                               const EpisodeConditions* conditions = nullptr);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_LOGGED_OUTCOME_H_
