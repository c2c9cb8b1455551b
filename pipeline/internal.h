// What the stages share inside the pipeline module (not installed).
#ifndef NEXTBATCH_PIPELINE_INTERNAL_H_
#define NEXTBATCH_PIPELINE_INTERNAL_H_

#include <map>
#include <string>

#include "engine/manifest.h"
#include "pipeline/pipeline.h"

namespace nextbatch::pipeline_internal {

using Inputs = std::map<std::string, std::string>;

// The digests of what `stage` reads, computed from the study and the upstream sets on disk now.
Inputs CurrentInputs(StageId stage, const Study& study, const PipelineOptions& options);

// Where a stage's set is read from: the override in `options`, else <out>/<stage>.
std::string SetDir(StageId stage, const PipelineOptions& options);

// Reads the upstream set `stage` for a consumer: refuses (InputError) a missing set, and a stale
// one unless options.use_stale (then a warning is added to `warnings`). Returns its manifest.
Manifest RequireCurrentSet(StageId stage, const Study& study, const PipelineOptions& options,
                           std::vector<std::string>* warnings);

// A manifest for `stage` with the study's fields and the current inputs.
Manifest NewManifest(StageId stage, const Study& study, const Inputs& inputs);

// The stages themselves (stages.cc).
StageReport RunIngest(const Study& study, const PipelineOptions& options);
StageReport RunCalibrate(const Study& study, const PipelineOptions& options);
StageReport RunSimulate(const Study& study, const PipelineOptions& options);

// The simulate stage's calibration input: "" for the priors, else the calibration.json to read.
struct CalibrationSource {
  std::string file;       // calibration.json, "" for the priors
  bool from_set = false;  // an upstream calibrate set (checked for staleness)
};
CalibrationSource SimulateCalibration(const Study& study, const PipelineOptions& options);

}  // namespace nextbatch::pipeline_internal

#endif  // NEXTBATCH_PIPELINE_INTERNAL_H_
