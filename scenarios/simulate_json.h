// The study's "simulate" section onto SimulateOptions (see docs/scenarios.md).
#ifndef NEXTBATCH_SCENARIOS_SIMULATE_JSON_H_
#define NEXTBATCH_SCENARIOS_SIMULATE_JSON_H_

#include <functional>
#include <string>

#include "engine/json_reader.h"
#include "scenarios/candidates.h"

namespace nextbatch {

// Reads {candidates, posterior_samples, chunk, calibration, nuisance: {qpos_std, qvel_std}}.
// `resolve` turns the calibration path (relative to the study) into a usable one. Unknown keys
// are errors naming the key and file.
SimulateOptions ReadSimulateOptions(const JsonReader& section,
                                    const std::function<std::string(const std::string&)>& resolve);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_SIMULATE_JSON_H_
