#include "engine/importer.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "engine/atomic_file.h"
#include "engine/episode_io.h"
#include "engine/error.h"
#include "engine/resource_limits.h"

namespace nextbatch {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

std::string KindName(UnitKind k) {
  switch (k) {
    case UnitKind::kAngle:
      return "an angle (rad, deg)";
    case UnitKind::kLength:
      return "a length (m, mm)";
    case UnitKind::kAngularVelocity:
      return "an angular velocity (rad/s, deg/s, rpm)";
    case UnitKind::kVelocity:
      return "a velocity (m/s, mm/s)";
    case UnitKind::kTime:
      return "a time (s, ms, us)";
    default:
      return "a unit";
  }
}

// Reads the column reference: a name (string) or a 0-based index (CSV only).
void ReadColumnRef(const JsonReader& r, const std::string& key, std::string* name, int* index) {
  const auto& v = r.Raw(key);
  if (v.is_string() && !v.get<std::string>().empty()) {
    *name = v.get<std::string>();
  } else if (v.is_number_integer() && v.get<long long>() >= 0 && v.get<long long>() < 100000) {
    *index = v.get<int>();
  } else {
    ThrowExpected(r.Where(key), "a column name or a 0-based column index", Describe(v));
  }
}

ColumnMap ReadColumnMap(const JsonReader& r, const std::string& target_key, UnitKind expected) {
  ColumnMap c;
  c.where = r.Where();
  std::vector<std::string> known = {"column", "scale", "offset", "unit", "wrap_bits", "range"};
  if (!target_key.empty()) known.insert(known.begin() + 1, target_key);
  r.CheckKnownKeys(known);
  ReadColumnRef(r, "column", &c.column, &c.index);
  if (!target_key.empty()) c.target = r.String(target_key);
  c.scale = r.Number("scale", 1.0);
  c.offset = r.Number("offset", 0.0);
  c.unit = r.String("unit", "");
  if (!c.unit.empty()) {
    UnitInfo u;
    if (!LookUpUnit(c.unit, &u)) {
      ThrowExpected(r.Where("unit"),
                    "a known unit (rad, deg, rad/s, deg/s, rpm, m, mm, m/s, mm/s, Nm, mNm, N, s, "
                    "ms, us, V, mV, A, mA, 1)",
                    Quote(c.unit));
    }
    if (expected != UnitKind::kAny && u.kind != expected) {
      ThrowExpected(r.Where("unit"), KindName(expected), Quote(c.unit));
    }
    c.unit_factor = u.factor;
    c.unit_kind = u.kind;
  }
  c.wrap_bits = r.Integer("wrap_bits", 0);
  if (c.wrap_bits < 0 || c.wrap_bits > 62) {
    ThrowExpected(r.Where("wrap_bits"), "0 (none) or a register width 1..62",
                  std::to_string(c.wrap_bits));
  }
  if (r.Has("range")) {
    std::vector<double> b = r.Numbers("range");
    if (b.size() != 2 || !(b[0] < b[1])) {
      ThrowExpected(r.Where("range"), "[lower, upper] with lower < upper (SI units)",
                    r.Raw("range").dump());
    }
    c.has_range = true;
    c.lower = b[0];
    c.upper = b[1];
  }
  if (c.scale == 0.0) ThrowExpected(r.Where("scale"), "a non-zero number", "0");
  r.CheckAllRead();
  return c;
}

std::vector<ColumnMap> ReadColumnMaps(const JsonReader& r, const std::string& key,
                                      const std::string& target_key, UnitKind expected) {
  std::vector<ColumnMap> out;
  if (!r.Has(key)) return out;
  for (const auto& o : r.Objects(key)) {
    out.push_back(ReadColumnMap(o, target_key, expected));
    for (std::size_t i = 0; i + 1 < out.size(); ++i) {
      if (out[i].target == out.back().target) {
        ThrowExpected(o.Where(target_key), "each " + target_key + " mapped once in " + key,
                      Quote(out.back().target) + " a second time");
      }
    }
  }
  return out;
}

std::map<std::string, std::string> ReadKeyMap(const JsonReader& r, const std::string& key) {
  std::map<std::string, std::string> out;
  if (!r.Has(key)) return out;
  JsonReader o = r.Object(key);
  const auto& raw = r.Raw(key);
  for (auto it = raw.begin(); it != raw.end(); ++it) out[it.key()] = o.String(it.key());
  return out;
}

// The value of a CSV cell or JSON record field where a boolean is meant.
bool MatchesFilter(const nlohmann::json& equals, const nlohmann::json& value) {
  if (equals.is_number() && value.is_number()) return equals.get<double>() == value.get<double>();
  return equals == value;
}

bool CellMatchesFilter(const nlohmann::json& equals, const std::string& cell, bool* ok) {
  *ok = true;
  if (equals.is_boolean()) {
    if (cell == "true" || cell == "True" || cell == "TRUE" || cell == "1") return equals == true;
    if (cell == "false" || cell == "False" || cell == "FALSE" || cell == "0")
      return equals == false;
    *ok = false;
    return false;
  }
  if (equals.is_number()) {
    double x;
    if (!ParseCsvNumber(cell, &x)) {
      *ok = false;
      return false;
    }
    return x == equals.get<double>();
  }
  return equals.is_string() && cell == equals.get<std::string>();
}

void AddLimits(const std::vector<ColumnMap>& maps, const std::string& group, RawEpisode* raw) {
  for (const auto& c : maps) {
    if (c.has_range) raw->limits[group + ":" + c.target] = {c.lower, c.upper};
  }
}

void SetChannelNames(const ImporterSpec& spec, Episode* e, int rows) {
  auto names = [](const std::vector<ColumnMap>& maps) {
    std::vector<std::string> n;
    for (const auto& c : maps) n.push_back(c.target);
    return n;
  };
  e->qpos.names = names(spec.qpos);
  e->qvel.names = names(spec.qvel);
  e->ctrl.names = names(spec.ctrl);
  e->sensors.names = names(spec.sensors);
  e->logged.names = names(spec.logged);
  e->qpos.values.resize(rows, spec.qpos.size());
  e->qvel.values.resize(rows, spec.qvel.size());
  e->ctrl.values.resize(rows, spec.ctrl.size());
  e->sensors.values.resize(rows, spec.sensors.size());
  e->logged.values.resize(rows, spec.logged.size());
  e->time.resize(rows);
}

// Pointers to every mapped column with the matrix and column it fills (time: matrix null).
struct Slot {
  const ColumnMap* map;
  Eigen::MatrixXd* values;
  int col;
};

std::vector<Slot> Slots(const ImporterSpec& spec, Episode* e) {
  std::vector<Slot> s;
  if (spec.has_time) s.push_back({&spec.time, nullptr, 0});
  auto add = [&s](const std::vector<ColumnMap>& maps, Eigen::MatrixXd* m) {
    for (std::size_t i = 0; i < maps.size(); ++i) s.push_back({&maps[i], m, static_cast<int>(i)});
  };
  add(spec.qpos, &e->qpos.values);
  add(spec.qvel, &e->qvel.values);
  add(spec.ctrl, &e->ctrl.values);
  add(spec.sensors, &e->sensors.values);
  add(spec.logged, &e->logged.values);
  return s;
}

void Store(const Slot& s, Episode* e, int row, double raw) {
  if (s.values == nullptr) {
    // A wrapping time counter is unwrapped over the whole log (UnwrapTime), not made signed.
    e->time[row] = s.map->wrap_bits > 0 ? raw : s.map->Convert(raw);
  } else {
    const double v = s.map->Convert(raw);
    (*s.values)(row, s.col) = v;
  }
}

// Refuses a value that no robot logs (kMaxLoggedMagnitude, kMaxLoggedTime, in SI): a corrupt
// field or a missing unit, better named here by file, row and column than blamed on the fit.
// NaN and Inf stay: cleaning removes those rows and counts them.
void CheckLogged(const Slot& s, double raw, const std::string& where) {
  const bool time = s.values == nullptr;
  if (time && s.map->wrap_bits > 0) return;  // a counter, bounded by its register
  const double v = s.map->Convert(raw);
  const double bound = time ? kMaxLoggedTime : kMaxLoggedMagnitude;
  if (std::isfinite(v) && std::abs(v) > bound) {
    ThrowExpected(where,
                  std::string(time ? "a time" : "a value") + " within +-" + FormatNumber(bound) +
                      " (SI units) once converted",
                  FormatNumber(v));
  }
}

// The same bounds for a native episode, by sample and channel.
void CheckNativeLogged(const Episode& e, const std::string& path) {
  for (int i = 0; i < e.samples(); ++i) {
    if (std::isfinite(e.time[i]) && std::abs(e.time[i]) > kMaxLoggedTime) {
      ThrowExpected(path + ": sample " + std::to_string(i) + ", time",
                    "a time within +-" + FormatNumber(kMaxLoggedTime) + " s",
                    FormatNumber(e.time[i]));
    }
    for (int g = 0; g < kChannelGroups; ++g) {
      const Channels& c = ChannelGroup(e, g);
      if (c.values.rows() <= i) continue;
      for (int k = 0; k < c.values.cols(); ++k) {
        const double v = c.values(i, k);
        if (std::isfinite(v) && std::abs(v) > kMaxLoggedMagnitude) {
          ThrowExpected(path + ": sample " + std::to_string(i) + ", " + ChannelGroupName(g) + ":" +
                            c.names[k],
                        "a value within +-" + FormatNumber(kMaxLoggedMagnitude) + " (SI units)",
                        FormatNumber(v));
        }
      }
    }
  }
}

int CsvIndex(const ColumnMap& c, const std::vector<std::string>& header, const std::string& path) {
  if (c.index >= 0) {
    if (c.index >= static_cast<int>(header.size())) {
      ThrowExpected(path + ": column " + std::to_string(c.index) + " (" + c.where + ")",
                    "a column index below " + std::to_string(header.size()),
                    std::to_string(c.index));
    }
    return c.index;
  }
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == c.column) return static_cast<int>(i);
  }
  std::string cols;
  for (const auto& h : header) cols += (cols.empty() ? "" : ", ") + Quote(h);
  ThrowExpected(path + ": header (" + c.where + ")", "a column " + Quote(c.column),
                "the columns " + cols);
}

void ImportCsv(const ImporterSpec& spec, const std::string& path, RawEpisode* raw) {
  CheckInputFile(path, MaxLogFileBytes(), "a CSV log");
  const std::string text = ReadFile(path);
  CsvCursor csv(text, path, spec.delimiter, spec.header);
  const std::vector<std::string>& header = csv.header();
  Episode& e = raw->episode;
  int filter_col = -1;
  if (spec.filter.active) {
    ColumnMap f;
    f.column = spec.filter.column;
    f.index = spec.filter.index;
    f.where = spec.where + ".filter";
    filter_col = CsvIndex(f, header, path);
  }
  SetChannelNames(spec, &e, 0);
  const std::vector<Slot> slots = Slots(spec, &e);
  std::vector<int> cols;
  for (const auto& s : slots) cols.push_back(CsvIndex(*s.map, header, path));
  // Raw numbers per mapped column, converted once the sample count is known.
  std::vector<std::vector<double>> columns(slots.size());
  std::vector<int> rows;  // index of each kept row among all rows (times from `rate`)
  int filtered = 0;
  for (int row = 0; csv.Next(); ++row) {
    if (filter_col >= 0) {
      bool ok;
      const std::string cell(csv.fields()[filter_col]);
      const bool match = CellMatchesFilter(spec.filter.equals, cell, &ok);
      if (!ok) {
        ThrowExpected(
            path + ": line " + std::to_string(csv.line()) + ", column " + Quote(header[filter_col]),
            "a value comparable with " + spec.filter.equals.dump(), Quote(cell));
      }
      if (!match) {
        ++filtered;
        continue;
      }
    }
    for (std::size_t j = 0; j < slots.size(); ++j) {
      double x;
      if (!ParseCsvNumber(csv.fields()[cols[j]], &x)) {
        ThrowExpected(
            path + ": line " + std::to_string(csv.line()) + ", column " + Quote(header[cols[j]]),
            "a number", Quote(std::string(csv.fields()[cols[j]])));
      }
      // "inf" is a reading (removed by cleaning); "1e309" is a number too large for a double.
      if (std::isinf(x) &&
          std::string(csv.fields()[cols[j]]).find_first_of("0123456789") != std::string::npos) {
        ThrowExpected(
            path + ": line " + std::to_string(csv.line()) + ", column " + Quote(header[cols[j]]),
            "a number within +-1.8e308", Quote(std::string(csv.fields()[cols[j]])));
      }
      CheckLogged(
          slots[j], x,
          path + ": line " + std::to_string(csv.line()) + ", column " + Quote(header[cols[j]]));
      columns[j].push_back(x);
    }
    rows.push_back(row);
  }
  raw->samples_read = csv.rows() + (csv.truncated_last() ? 1 : 0);
  if (csv.truncated_last()) {
    raw->removed["truncated_row"] += 1;
    raw->messages.push_back(
        "the last line has fewer fields than the header (a log cut off mid-line): left out");
  }
  const int n = static_cast<int>(rows.size());
  SetChannelNames(spec, &e, n);
  for (std::size_t j = 0; j < slots.size(); ++j) {
    for (int k = 0; k < n; ++k) Store(slots[j], &e, k, columns[j][k]);
  }
  if (!spec.has_time) {
    for (int k = 0; k < n; ++k) e.time[k] = static_cast<double>(rows[k]) / spec.rate;
  }
  if (filtered > 0) {
    raw->removed["filter"] += filtered;
    raw->messages.push_back(
        "removed " + std::to_string(filtered) + " samples where " +
        (spec.filter.column.empty() ? std::to_string(spec.filter.index) : spec.filter.column) +
        " != " + spec.filter.equals.dump());
  }
}

double JsonNumber(const nlohmann::json& v, const std::string& where) {
  if (v.is_null()) return kNaN;  // a missing reading: removed by cleaning as non-finite
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_number()) return v.get<double>();
  ThrowExpected(where, "a number", Describe(v));
}

void ImportJson(const ImporterSpec& spec, const std::string& path, RawEpisode* raw) {
  const nlohmann::json doc = ReadJsonFile(path, MaxLogFileBytes());
  const nlohmann::json* list = &doc;
  if (!spec.records.empty()) {
    if (!doc.is_object()) ThrowExpected(path + ": (top level)", "an object", Describe(doc));
    auto it = doc.find(spec.records);
    if (it == doc.end()) {
      ThrowExpected(path + ": " + spec.records, "a list of sample records", "none");
    }
    list = &*it;
  }
  const std::string list_name = spec.records.empty() ? "(top level)" : spec.records;
  // Records: a list of sample objects. Columnar: an object of equal-length arrays, one per key.
  const bool columnar = list->is_object();
  if (!list->is_array() && !columnar) {
    ThrowExpected(path + ": " + list_name,
                  "a list of sample records (or an object of equal-length arrays)",
                  Describe(*list));
  }
  std::size_t n = list->size();
  if (columnar) {
    std::vector<std::string> keys;
    if (spec.has_time) keys.push_back(spec.time.column);
    for (const auto* maps : {&spec.qpos, &spec.qvel, &spec.ctrl, &spec.sensors, &spec.logged}) {
      for (const auto& c : *maps) keys.push_back(c.column);
    }
    if (spec.filter.active) keys.push_back(spec.filter.column);
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const std::string where = path + ": " + list_name + "." + keys[k];
      auto it = list->find(keys[k]);
      if (it == list->end()) ThrowExpected(where, "an array of values", "none");
      if (!it->is_array()) ThrowExpected(where, "an array of values", Describe(*it));
      if (k == 0) n = it->size();
      if (it->size() != n) {
        ThrowExpected(where, "an array of " + std::to_string(n) + " values (as " + keys[0] + ")",
                      Describe(*it));
      }
    }
  }
  raw->samples_read = static_cast<int>(n);
  auto field = [&](std::size_t i, const std::string& key) -> const nlohmann::json& {
    if (columnar) return (*list)[key][i];
    const nlohmann::json& rec = (*list)[i];
    const std::string where = path + ": " + list_name + "[" + std::to_string(i) + "]";
    if (!rec.is_object()) ThrowExpected(where, "a sample record (an object)", Describe(rec));
    auto it = rec.find(key);
    if (it == rec.end()) ThrowExpected(where + "." + key, "a value", "none");
    return *it;
  };
  std::vector<std::size_t> keep;
  for (std::size_t i = 0; i < n; ++i) {
    if (spec.filter.active) {
      const auto& v = field(i, spec.filter.column);
      if (!MatchesFilter(spec.filter.equals, v)) continue;
    }
    keep.push_back(i);
  }
  Episode& e = raw->episode;
  SetChannelNames(spec, &e, static_cast<int>(keep.size()));
  std::vector<Slot> slots = Slots(spec, &e);
  for (std::size_t k = 0; k < keep.size(); ++k) {
    for (const auto& s : slots) {
      const std::string index = "[" + std::to_string(keep[k]) + "]";
      const std::string where =
          path + ": " + list_name +
          (columnar ? "." + s.map->column + index : index + "." + s.map->column);
      const double x = JsonNumber(field(keep[k], s.map->column), where);
      CheckLogged(s, x, where);
      Store(s, &e, static_cast<int>(k), x);
    }
    if (!spec.has_time) e.time[k] = static_cast<double>(keep[k]) / spec.rate;
  }
  const int filtered = raw->samples_read - static_cast<int>(keep.size());
  if (filtered > 0) {
    raw->removed["filter"] += filtered;
    std::string from;
    if (!keep.empty() && keep.back() + 1 == keep.size()) {
      from = " (the tail: records " + std::to_string(keep.size()) + " to " + std::to_string(n - 1) +
             ")";
    }
    raw->messages.push_back("removed " + std::to_string(filtered) + " samples where " +
                            spec.filter.column + " != " + spec.filter.equals.dump() + from);
  }
  // Metadata from the file's top-level fields.
  auto top = [&](const std::string& key) -> const nlohmann::json& {
    if (!doc.is_object() || !doc.contains(key)) {
      ThrowExpected(path + ": " + key, "a top-level field (named in " + spec.where + ".metadata)",
                    "none");
    }
    return doc.at(key);
  };
  auto text = [&](const std::string& key) {
    const auto& v = top(key);
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  for (const auto& [factor, key] : spec.scenario_keys) e.scenario[factor] = top(key);
  for (const auto& [name, key] : spec.outcome_keys) e.outcome[name] = top(key);
  if (!spec.robot_key.empty()) e.robot = text(spec.robot_key);
  if (!spec.site_key.empty()) e.site = text(spec.site_key);
  if (!spec.date_key.empty()) e.date = text(spec.date_key);
  for (const auto& key : spec.extra_keys) e.extra[key] = top(key);
}

}  // namespace

bool LookUpUnit(const std::string& unit, UnitInfo* info) {
  static const std::map<std::string, UnitInfo> units = {
      {"rad", {1.0, UnitKind::kAngle}},
      {"deg", {M_PI / 180.0, UnitKind::kAngle}},
      {"rad/s", {1.0, UnitKind::kAngularVelocity}},
      {"deg/s", {M_PI / 180.0, UnitKind::kAngularVelocity}},
      {"rpm", {2.0 * M_PI / 60.0, UnitKind::kAngularVelocity}},
      {"m", {1.0, UnitKind::kLength}},
      {"mm", {1e-3, UnitKind::kLength}},
      {"m/s", {1.0, UnitKind::kVelocity}},
      {"mm/s", {1e-3, UnitKind::kVelocity}},
      {"Nm", {1.0, UnitKind::kTorque}},
      {"mNm", {1e-3, UnitKind::kTorque}},
      {"N", {1.0, UnitKind::kForce}},
      {"s", {1.0, UnitKind::kTime}},
      {"ms", {1e-3, UnitKind::kTime}},
      {"us", {1e-6, UnitKind::kTime}},
      {"V", {1.0, UnitKind::kOther}},
      {"mV", {1e-3, UnitKind::kOther}},
      {"A", {1.0, UnitKind::kOther}},
      {"mA", {1e-3, UnitKind::kOther}},
      {"1", {1.0, UnitKind::kOther}},
  };
  auto it = units.find(unit);
  if (it == units.end()) return false;
  *info = it->second;
  return true;
}

std::string ColumnMap::Label() const {
  return index >= 0 ? "column " + std::to_string(index) : Quote(column);
}

double ColumnMap::Convert(double raw) const {
  double x = raw;
  if (wrap_bits > 0 && std::isfinite(x)) {
    const double span = std::ldexp(1.0, wrap_bits);
    if (x < 0 || x >= span || x != std::floor(x)) return kNaN;
    if (x >= span / 2) x -= span;
  }
  return unit_factor * (scale * x + offset);
}

ImporterSpec ReadImporterSpec(const JsonReader& r) {
  ImporterSpec s;
  s.where = r.Where();
  r.CheckKnownKeys({"format", "records", "delimiter", "header", "time", "rate", "qpos", "qvel",
                    "ctrl", "sensors", "logged", "filter", "metadata"});
  s.format = r.Choice("format", {"csv", "json", "native"}, "csv");
  if (s.format == "native") {
    r.CheckAllRead();
    return s;
  }
  s.records = r.String("records", "");
  if (!s.records.empty() && s.format != "json") {
    ThrowExpected(r.Where("records"), "no 'records' for format " + s.format, Quote(s.records));
  }
  const std::string delim = r.String("delimiter", ",");
  if (delim.size() != 1) ThrowExpected(r.Where("delimiter"), "one character", Quote(delim));
  s.delimiter = delim[0];
  s.header = r.Bool("header", true);
  if (!s.header && s.format != "csv") {
    ThrowExpected(r.Where("header"), "header only for format csv", "false");
  }
  if (r.Has("time")) {
    s.time = ReadColumnMap(r.Object("time"), "", UnitKind::kTime);
    if (r.Has("rate")) ThrowExpected(r.Where("rate"), "either time or rate", "both");
  } else {
    s.has_time = false;
    if (!r.Has("rate")) ThrowExpected(r.Where("time"), "a time column (or a rate in Hz)", "none");
    s.rate = r.Number("rate");
    if (!(s.rate > 0)) ThrowExpected(r.Where("rate"), "a rate > 0 (Hz)", std::to_string(s.rate));
  }
  s.time.target = "time";
  s.qpos = ReadColumnMaps(r, "qpos", "joint", UnitKind::kAny);
  s.qvel = ReadColumnMaps(r, "qvel", "joint", UnitKind::kAny);
  s.ctrl = ReadColumnMaps(r, "ctrl", "actuator", UnitKind::kAny);
  s.sensors = ReadColumnMaps(r, "sensors", "sensor", UnitKind::kAny);
  s.logged = ReadColumnMaps(r, "logged", "name", UnitKind::kAny);
  if (s.qpos.empty()) ThrowExpected(r.Where("qpos"), "at least one joint position column", "none");
  if (r.Has("filter")) {
    JsonReader f = r.Object("filter");
    f.CheckKnownKeys({"column", "equals"});
    ReadColumnRef(f, "column", &s.filter.column, &s.filter.index);
    s.filter.equals = f.Raw("equals");
    if (!s.filter.equals.is_boolean() && !s.filter.equals.is_number() &&
        !s.filter.equals.is_string()) {
      ThrowExpected(f.Where("equals"), "a boolean, number or string", Describe(s.filter.equals));
    }
    if (s.format == "json" && s.filter.index >= 0) {
      ThrowExpected(f.Where("column"), "a record key", "an index");
    }
    s.filter.active = true;
    f.CheckAllRead();
  }
  if (r.Has("metadata")) {
    JsonReader m = r.Object("metadata");
    m.CheckKnownKeys({"scenario", "outcome", "robot", "site", "date", "extra"});
    if (s.format != "json") {
      ThrowExpected(m.Where(), "no metadata for format csv (give it per episode)", "an object");
    }
    s.scenario_keys = ReadKeyMap(m, "scenario");
    s.outcome_keys = ReadKeyMap(m, "outcome");
    s.robot_key = m.String("robot", "");
    s.site_key = m.String("site", "");
    s.date_key = m.String("date", "");
    if (m.Has("extra")) s.extra_keys = m.Strings("extra");
    m.CheckAllRead();
  }
  if (!s.header) {
    std::vector<const ColumnMap*> all = {&s.time};
    for (const auto* maps : {&s.qpos, &s.qvel, &s.ctrl, &s.sensors, &s.logged}) {
      for (const auto& c : *maps) all.push_back(&c);
    }
    for (const ColumnMap* c : all) {
      if (!c->column.empty()) {
        ThrowExpected(c->where + ".column", "a 0-based column index (the file has no header)",
                      Quote(c->column));
      }
    }
    if (s.filter.active && !s.filter.column.empty()) {
      ThrowExpected(r.Where("filter") + ".column",
                    "a 0-based column index (the file has no header)", Quote(s.filter.column));
    }
  }
  if (s.format == "json") {
    auto check = [&](const std::vector<ColumnMap>& maps, const std::string& key) {
      for (const auto& c : maps) {
        if (c.index >= 0)
          ThrowExpected(c.where + ".column", "a record key (" + key + ")", "an index");
      }
    };
    check(s.qpos, "qpos");
    check(s.qvel, "qvel");
    check(s.ctrl, "ctrl");
    check(s.sensors, "sensors");
    check(s.logged, "logged");
    if (s.has_time && s.time.index >= 0) check({s.time}, "time");
  }
  r.CheckAllRead();
  return s;
}

void ValidateImporterSpec(const ImporterSpec& spec, const mjModel* m) {
  std::string joints, actuators;
  for (int i = 0; i < m->njnt; ++i) {
    const char* n = mj_id2name(m, mjOBJ_JOINT, i);
    if (n) joints += (joints.empty() ? "" : ", ") + std::string(n);
  }
  for (int i = 0; i < m->nu; ++i) {
    const char* n = mj_id2name(m, mjOBJ_ACTUATOR, i);
    if (n) actuators += (actuators.empty() ? "" : ", ") + std::string(n);
  }
  auto check_joints = [&](const std::vector<ColumnMap>& maps, bool velocity) {
    for (const auto& c : maps) {
      const int id = mj_name2id(m, mjOBJ_JOINT, c.target.c_str());
      if (id < 0) {
        ThrowExpected(c.where + ".joint", "a joint of the model (" + joints + ")", Quote(c.target));
      }
      const int type = m->jnt_type[id];
      if (type != mjJNT_HINGE && type != mjJNT_SLIDE) {
        ThrowExpected(c.where + ".joint", "a hinge or slide joint",
                      Quote(c.target) + " (a free or ball joint)");
      }
      if (c.unit_kind == UnitKind::kAny) continue;
      UnitKind want = type == mjJNT_HINGE
                          ? (velocity ? UnitKind::kAngularVelocity : UnitKind::kAngle)
                          : (velocity ? UnitKind::kVelocity : UnitKind::kLength);
      if (c.unit_kind != want) {
        ThrowExpected(c.where + ".unit", KindName(want) + " for joint " + Quote(c.target),
                      Quote(c.unit));
      }
    }
  };
  check_joints(spec.qpos, false);
  check_joints(spec.qvel, true);
  std::string sensors;
  for (int i = 0; i < m->nsensor; ++i) {
    const char* n = mj_id2name(m, mjOBJ_SENSOR, i);
    if (n && m->sensor_dim[i] == 1) sensors += (sensors.empty() ? "" : ", ") + std::string(n);
  }
  for (const auto& c : spec.sensors) {
    const int id = mj_name2id(m, mjOBJ_SENSOR, c.target.c_str());
    if (id < 0) {
      ThrowExpected(c.where + ".sensor",
                    "a scalar sensor of the model (" + (sensors.empty() ? "none" : sensors) +
                        "; a channel the model has no sensor for goes under logged)",
                    Quote(c.target));
    }
    if (m->sensor_dim[id] != 1) {
      ThrowExpected(
          c.where + ".sensor", "a scalar sensor of the model",
          Quote(c.target) + " (a sensor of dimension " + std::to_string(m->sensor_dim[id]) + ")");
    }
  }
  for (const auto& c : spec.ctrl) {
    if (mj_name2id(m, mjOBJ_ACTUATOR, c.target.c_str()) < 0) {
      ThrowExpected(c.where + ".actuator", "an actuator of the model (" + actuators + ")",
                    Quote(c.target));
    }
  }
}

namespace {

// A counter of `wrap_bits` bits (e.g. a servo's millisecond tick) restarts at 0 when it
// overflows: each drop by more than half its span adds one span. Then scale, offset and unit.
void UnwrapTime(const ColumnMap& c, RawEpisode* raw) {
  const double span = std::ldexp(1.0, c.wrap_bits);
  double turns = 0, previous = kNaN;
  int wraps = 0;
  for (double& t : raw->episode.time) {
    if (!std::isfinite(t) || t < 0 || t >= span || t != std::floor(t)) {
      t = kNaN;  // not a value of the counter: removed by cleaning as non-finite
      continue;
    }
    if (std::isfinite(previous) && t < previous - span / 2) {
      turns += span;
      ++wraps;
    }
    previous = t;
    t = c.unit_factor * (c.scale * (t + turns) + c.offset);
  }
  if (wraps > 0) {
    raw->messages.push_back("the " + std::to_string(c.wrap_bits) + "-bit time counter " +
                            c.Label() + " wrapped " + std::to_string(wraps) + " times: unwrapped");
  }
}

}  // namespace

RawEpisode ImportFile(const ImporterSpec& spec, const std::string& path) {
  RawEpisode raw;
  if (spec.format == "native") {
    raw.episode = ReadEpisodeFile(path);
    raw.samples_read = raw.episode.samples();
    CheckNativeLogged(raw.episode, path);
  } else if (spec.format == "csv") {
    ImportCsv(spec, path, &raw);
  } else {
    ImportJson(spec, path, &raw);
  }
  if (spec.format != "native" && spec.has_time && spec.time.wrap_bits > 0)
    UnwrapTime(spec.time, &raw);
  raw.episode.source = std::filesystem::absolute(path).lexically_normal().string();
  AddLimits(spec.qpos, "qpos", &raw);
  AddLimits(spec.qvel, "qvel", &raw);
  AddLimits(spec.ctrl, "ctrl", &raw);
  AddLimits(spec.sensors, "sensors", &raw);
  AddLimits(spec.logged, "logged", &raw);
  std::vector<ColumnMap> wrapped = spec.sensors;
  wrapped.insert(wrapped.end(), spec.logged.begin(), spec.logged.end());
  for (const auto& c : wrapped) {
    if (c.wrap_bits > 0) {
      raw.messages.push_back(c.Label() + ": unsigned " + std::to_string(c.wrap_bits) +
                             "-bit register read as signed");
    }
  }
  return raw;
}

}  // namespace nextbatch
