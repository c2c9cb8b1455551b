// The study's "task" section onto TaskSpec (see docs/scenarios.md for the fields).
#ifndef NEXTBATCH_SCENARIOS_TASK_JSON_H_
#define NEXTBATCH_SCENARIOS_TASK_JSON_H_

#include "engine/json_reader.h"
#include "scenarios/task.h"

namespace nextbatch {

// Reads and checks the section (unknown keys are errors naming the key and file). Names are
// resolved later, against the model, by Task.
TaskSpec ReadTaskSpec(const JsonReader& section);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_TASK_JSON_H_
