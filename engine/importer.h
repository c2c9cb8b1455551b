// The column-mapping importer: reads real logs in their own layout (CSV with a header, or JSON
// with a list of sample records) into an Episode, by a mapping written in the study, so that no
// conversion script stands between a robot's log and nextbatch.
//
// Each mapped value is converted as  si = unit_factor(unit) * (scale * wrap(raw) + offset),
// where wrap() turns an unsigned register of `wrap_bits` bits into a signed value.
#ifndef NEXTBATCH_ENGINE_IMPORTER_H_
#define NEXTBATCH_ENGINE_IMPORTER_H_

#include <mujoco/mujoco.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/csv_table.h"
#include "engine/episode.h"
#include "engine/json_reader.h"

namespace nextbatch {

// The physical kind of a unit, to catch a degree column mapped onto a slide joint.
enum class UnitKind {
  kAny,
  kAngle,
  kLength,
  kAngularVelocity,
  kVelocity,
  kTorque,
  kForce,
  kTime,
  kOther
};

struct UnitInfo {
  double factor = 1.0;  // multiply to get SI
  UnitKind kind = UnitKind::kAny;
};

// Looks up a unit ("rad", "deg", "rad/s", "deg/s", "rpm", "m", "mm", "m/s", "mm/s", "Nm", "mNm",
// "N", "s", "ms", "us", "V", "mV", "A", "mA", "1"). Returns false when unknown.
bool LookUpUnit(const std::string& unit, UnitInfo* info);

// One mapped column: a CSV header name (or 0-based index) or a JSON record key.
struct ColumnMap {
  std::string column;  // name; empty when `index` is used
  int index = -1;      // CSV column index when the column is given as a number
  std::string target;  // joint (qpos, qvel), actuator (ctrl), model sensor (sensors), a name
                       // of its own (logged)
  double scale = 1.0;
  double offset = 0.0;
  std::string unit;  // empty: already SI
  double unit_factor = 1.0;
  UnitKind unit_kind = UnitKind::kAny;
  int wrap_bits = 0;  // 0: no wrap-around
  bool has_range = false;
  double lower = 0.0, upper = 0.0;  // valid range in SI; values outside are removed by cleaning
  std::string where;                // "study.json: dataset.importer.qpos[0]" for messages

  std::string Label() const;  // the column as a person would name it
  // Raw value to SI; NaN when the raw value is not a valid register value (wrap_bits).
  double Convert(double raw) const;
};

// Keep only the samples where a column equals a value (e.g. torque_enable == true).
struct FilterSpec {
  bool active = false;
  std::string column;
  int index = -1;
  nlohmann::json equals;  // a boolean, number or string
};

struct ImporterSpec {
  std::string format = "csv";  // csv | json | native
  std::string records;         // json: key of the sample list; empty: the document is the list
  char delimiter = ',';
  bool header = true;  // csv: the first line names the columns; false: columns by index only
  bool has_time = true;
  ColumnMap time;                                    // seconds after conversion
  double rate = 0;                                   // Hz, when the log has no time column
  std::vector<ColumnMap> qpos, qvel, ctrl, sensors;  // sensors: scalar model sensors
  std::vector<ColumnMap> logged;  // other channels, by a name of their own ("name")
  FilterSpec filter;
  // json only: top-level keys of the file that fill the episode's metadata.
  std::map<std::string, std::string> scenario_keys;  // factor -> key
  std::map<std::string, std::string> outcome_keys;   // outcome field -> key
  std::string robot_key, site_key, date_key;
  std::vector<std::string> extra_keys;
  std::string where;
};

// Reads an importer object from the study's dataset section (strict keys).
ImporterSpec ReadImporterSpec(const JsonReader& r);

// Checks every target against the model: qpos/qvel joints exist and are hinge or slide with a
// unit of the matching kind, ctrl actuators exist, sensors are scalar model sensors (a logged
// quantity the model has no sensor for goes under "logged"). Throws InputError naming the field.
void ValidateImporterSpec(const ImporterSpec& spec, const mjModel* model);

// A log as read, before cleaning: SI values, raw timestamps (may be unsorted, repeated, NaN).
struct RawEpisode {
  Episode episode;
  int samples_read = 0;                // rows or records in the file
  std::map<std::string, int> removed;  // reason -> samples (filter, truncated_row, ...)
  std::vector<std::string> messages;   // what the importer did, for the quality report
  // Valid ranges per channel, keyed "qpos:name", "ctrl:name", "logged:name", ... (SI).
  std::map<std::string, std::pair<double, double>> limits;
};

// Reads one log file by the spec. Malformed content throws InputError "file: where: expected X,
// got Y"; a truncated last CSV row or a filtered sample is removed and counted instead.
RawEpisode ImportFile(const ImporterSpec& spec, const std::string& path);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_IMPORTER_H_
