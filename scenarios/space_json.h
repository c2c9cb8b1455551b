// The "scenarios" section of a study: the scenario space and, optionally, its sampler.
//
//   "scenarios": {
//     "factors": [
//       {"name": "friction", "type": "continuous", "range": [0.3, 1.2], "log_scale": false,
//        "binding": {"kind": "parameter", "target": "geom:box.friction[0]", "mode": "set"},
//        "tag": "setup", "cost_seconds": 120},
//       {"name": "object", "type": "categorical",
//        "levels": ["box", {"name": "can", "body": "cylinder", "payload": {"radius": 0.03}}],
//        "binding": {"kind": "variant", "target": "object"}, "tag": "setup", "cost_seconds": 60},
//       {"name": "object_x", "range": [0.3, 0.5],
//        "binding": {"kind": "pose", "target": "object.x"}, "cost_seconds": 10},
//       {"name": "start", "range": [-0.5, 0.5], "binding": {"kind": "qpos", "target": "j1"}},
//       {"name": "repeats", "type": "integer", "range": [1, 4]}
//     ],
//     "constraints": [{"name": "reach", "terms": {"object_x": 1, "start": 0.2}, "max": 0.55}],
//     "sampler": {"kind": "sobol", "n": 256, "scramble": "owen", "seed": 7, "grid_levels": 3,
//                 "grid_levels_per_factor": {"object_x": 5}, "max_rejections": 100000}
//   }
//
// Defaults: type continuous (categorical when "levels" is given), log_scale false, binding none,
// tag reset, cost_seconds 0, mode set; a level given as a string is {"name": it}; a variant
// level's body defaults to its name. A constraint has "max" (sum <= max), "min" (sum >= min) or
// both. The sampler's seed defaults to the study's.
#ifndef NEXTBATCH_SCENARIOS_SPACE_JSON_H_
#define NEXTBATCH_SCENARIOS_SPACE_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>

#include "engine/json_reader.h"
#include "engine/study.h"
#include "scenarios/sampler.h"
#include "scenarios/space.h"

namespace nextbatch {

struct ScenariosSection {
  ScenarioSpace space;
  SamplerOptions sampler;
  bool has_sampler = false;  // whether the section named a sampler
};

// Reads a "scenarios" object. Every problem is an InputError "file: scenarios.field: expected X,
// got Y"; unknown keys are an error. `default_seed` is used when the sampler names none.
ScenariosSection ReadScenariosSection(const JsonReader& r, std::uint64_t default_seed);

// The study's "scenarios" section (throws when it is absent).
ScenariosSection ReadScenarios(const Study& study);

ScenarioSpace ReadScenarioSpace(const JsonReader& r);
SamplerOptions ReadSamplerOptions(const JsonReader& r, std::uint64_t default_seed);

// The inverse of ReadScenariosSection (for written plans and round-trip tests).
nlohmann::json ScenarioSpaceToJson(const ScenarioSpace& space);
nlohmann::json SamplerOptionsToJson(const SamplerOptions& options);

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_SPACE_JSON_H_
