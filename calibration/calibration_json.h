// The study's "calibration" section mapped one to one onto CalibrationOptions, and the result
// written as calibration.json (schema "nextbatch.calibration/1", docs/formats/
// calibration.schema.json) with a short summary for people.
#ifndef NEXTBATCH_CALIBRATION_CALIBRATION_JSON_H_
#define NEXTBATCH_CALIBRATION_CALIBRATION_JSON_H_

#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "calibration/calibrated_model.h"
#include "calibration/calibration.h"
#include "engine/json_reader.h"
#include "engine/posterior.h"
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

// The whole calibration.json a calibrate stage writes: CalibrationToJson plus the options that a
// later stage needs to apply the fit as it was made (episode_scale) and the calibrated model's
// report (`model` is null when it could not be saved).
nlohmann::json CalibrationDocument(const CalibrationResult& result, const ParameterBinding& binding,
                                   const std::string& study_name, const CalibrationOptions& options,
                                   const SavedModelReport& model, const std::string& model_file);

// calibration.json as read back: everything a later stage uses. Matrices are in the file's
// parameter order; NaN where the file has null (not determined by the fit).
struct CalibrationFile {
  std::string path;
  std::string status;
  std::string study;
  std::vector<std::string> names;
  Eigen::VectorXd value, std, initial, lower, upper;
  Eigen::MatrixXd correlation;
  Eigen::MatrixXd information;  // empty when the file has none (written before it was added)
  // The honest covariance (honest.covariance): the error model's, which simulate and plan sample
  // by default; empty when the file has none.
  Eigen::MatrixXd honest_covariance;
  std::map<std::string, std::string> episode_scale;
  // Ids of the episodes the fit was made on (`episodes` not `excluded`); empty when the file
  // lists none.
  std::vector<std::string> fitted_episodes;
  std::string model;  // the calibrated MJCF beside the file ("" when not saved)
  // The fit's weighing of its data (empty or defaults when the file predates them): noise level
  // per channel, the median sample interval, and the error model's residual scale s^2 (NaN when
  // the file has none; s * noise is the typical size of a residual the fit left, in the
  // channel's units), serial correlation and between-episode ratio (NaN when too few episodes
  // to cluster on).
  std::map<std::string, double> noise;
  double sample_seconds = 0.0;
  bool has_error_model = false;
  double residual_scale = std::numeric_limits<double>::quiet_NaN();
  double serial_correlation = 1.0;
  double between_episode = NAN;
  int error_episodes = 0;
  // Grouped inertial parameters in physical units (Stacked() order; NaN where null), checked
  // against their coordinates among the parameters; empty when the file has none.
  struct Inertial {
    std::string name, body;
    std::vector<int> coordinates;  // indices of its 10 coordinates in `names`
    InertialVector value, std, honest_std, initial;
  };
  std::vector<Inertial> inertials;
};

// Reads and checks calibration.json: the schema, a usable status (not failed or
// preflight_failed), finite values, stds >= 0 or null, a square symmetric correlation in [-1, 1]
// with a unit diagonal (within rounding) that is positive semi-definite. Throws InputError
// naming the file and field.
CalibrationFile ReadCalibrationFile(const std::string& path);

// A warm start: the study's parameters start from an earlier calibration's values.
struct WarmStartReport {
  std::string file;
  std::vector<std::string> taken;    // parameters whose initial value is now the file's
  std::vector<std::string> clamped;  // "name: 3.2 outside [0, 3], starts at 3"
  std::vector<std::string> missing;  // study parameters the file lacks: the study's initial value
  std::vector<std::string> fixed;    // fixed study parameters: held at the study's value
  std::vector<std::string> unused;   // file parameters the study lacks
};

// Sets the initial value of each (not fixed) parameter of `specs` that `file` has (by name) to
// the file's value, clamped into the parameter's bounds; says what it did.
WarmStartReport ApplyWarmStart(const CalibrationFile& file, std::vector<ParameterSpec>* specs);

// Which covariance of a calibration a posterior takes: the honest one (the error model's: residual
// scale, serial correlation, between-episode variation) or the formal one (the information
// matrix's inverse, far too narrow when the residuals are model error rather than noise).
enum class PosteriorCovariance { kHonest, kFormal };

// The posterior over the study's parameters `specs` (in their order): a calibrated parameter
// takes the file's value and its honest covariance (kHonest: a file without one is an InputError
// that says how to take the formal one) or its formal std and correlation (kFormal); a study
// parameter the file lacks falls back to its prior (or its initial value, held, without a prior). A
// file parameter the study lacks is an error naming both lists. A null std takes the prior's std,
// or 0.
Posterior PosteriorFromCalibration(const CalibrationFile& file,
                                   const std::vector<ParameterSpec>& specs,
                                   PosteriorCovariance which = PosteriorCovariance::kHonest);

// A few lines for stdout: status, cost, chi-square, each parameter with its std, outliers,
// identifiability and the held-out check.
std::string CalibrationSummaryText(const CalibrationResult& result);

}  // namespace nextbatch

#endif  // NEXTBATCH_CALIBRATION_CALIBRATION_JSON_H_
