// The study's "calibration" section mapped one to one onto CalibrationOptions, and the result
// written as calibration.json (schema "nextbatch.calibration/1", docs/formats/
// calibration.schema.json) with a short summary for people.
#ifndef NEXTBATCH_CALIBRATION_CALIBRATION_JSON_H_
#define NEXTBATCH_CALIBRATION_CALIBRATION_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "calibration/calibration.h"
#include "engine/json_reader.h"
#include "engine/study.h"

namespace nextbatch {

// Reads a "calibration" object. Unknown keys and invalid values throw InputError naming the
// file and field.
CalibrationOptions ReadCalibrationOptions(const JsonReader& r);

// The study's section, or defaults when it has none; threads default to the study's.
CalibrationOptions ReadCalibrationOptions(const Study& study);

// calibration.json for a result of `binding` (bounds come from its specs).
nlohmann::json CalibrationToJson(const CalibrationResult& result, const ParameterBinding& binding,
                                 const std::string& study_name);

// A few lines for stdout: status, cost, chi-square, each parameter with its std, outliers,
// identifiability and the held-out check.
std::string CalibrationSummaryText(const CalibrationResult& result);

}  // namespace nextbatch

#endif  // NEXTBATCH_CALIBRATION_CALIBRATION_JSON_H_
