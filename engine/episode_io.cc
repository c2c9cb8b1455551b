#include "engine/episode_io.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "engine/atomic_file.h"
#include "engine/csv_table.h"
#include "engine/digest.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/resource_limits.h"

namespace nextbatch {
namespace {

constexpr const char* kSchema = "nextbatch.episode/1";
Channels* Group(Episode* e, int g) { return &ChannelGroup(*e, g); }
const Channels& Group(const Episode& e, int g) { return ChannelGroup(e, g); }

nlohmann::json Finite(double x) { return std::isfinite(x) ? nlohmann::json(x) : nullptr; }

double ReadValue(const nlohmann::json& v, const std::string& where) {
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (!v.is_number()) ThrowExpected(where, "a number (or null)", Describe(v));
  return v.get<double>();
}

void ReadMetadata(const JsonReader& r, Episode* e) {
  e->id = r.String("id");
  if (e->id.empty()) ThrowExpected(r.Where("id"), "a non-empty id", "\"\"");
  e->robot = r.String("robot", "");
  e->site = r.String("site", "");
  e->date = r.String("date", "");
  e->source = r.String("source", "");
  for (const char* key : {"scenario", "outcome", "extra"}) {
    if (!r.Has(key)) continue;
    const auto& v = r.Raw(key);
    if (!v.is_object()) ThrowExpected(r.Where(key), "an object", Describe(v));
    (key[0] == 's' ? e->scenario : key[0] == 'o' ? e->outcome : e->extra) = v;
  }
}

void ReadInline(const JsonReader& r, Episode* e) {
  const auto& t = r.Raw("time");
  if (!t.is_array()) ThrowExpected(r.Where("time"), "an array of times (s)", Describe(t));
  for (std::size_t i = 0; i < t.size(); ++i) {
    e->time.push_back(ReadValue(t[i], r.Where("time") + "[" + std::to_string(i) + "]"));
  }
  const int n = e->samples();
  for (int g = 0; g < kChannelGroups; ++g) {
    if (!r.Has(ChannelGroupName(g))) continue;
    Channels* c = Group(e, g);
    std::vector<JsonReader> list = r.Objects(ChannelGroupName(g));
    c->values.resize(n, list.size());
    for (std::size_t j = 0; j < list.size(); ++j) {
      const std::string name = list[j].String("name");
      if (c->Find(name) >= 0) {
        ThrowExpected(list[j].Where("name"), "each channel once", "\"" + name + "\" again");
      }
      c->names.push_back(name);
      const auto& v = list[j].Raw("values");
      if (!v.is_array() || static_cast<int>(v.size()) != n) {
        ThrowExpected(list[j].Where("values"),
                      "an array of " + std::to_string(n) + " numbers (one per time)", Describe(v));
      }
      for (int i = 0; i < n; ++i) {
        c->values(i, j) = ReadValue(v[i], list[j].Where("values") + "[" + std::to_string(i) + "]");
      }
      list[j].CheckAllRead();
    }
  }
}

void ReadCsvData(const std::string& csv_path, Episode* e) {
  CheckInputFile(csv_path, MaxLogFileBytes(), "an episode's CSV data");
  const std::string text = ReadFile(csv_path);
  CsvCursor csv(text, csv_path);
  const std::vector<std::string>& header = csv.header();
  if (header.empty() || header[0] != "time") {
    ThrowExpected(csv_path + ": header", "\"time\" as the first column",
                  header.empty() ? "none" : "\"" + header[0] + "\"");
  }
  std::vector<std::pair<int, int>> where(header.size(), {-1, -1});  // (group, column)
  for (std::size_t k = 1; k < header.size(); ++k) {
    const std::string& h = header[k];
    const auto colon = h.find(':');
    int g = -1;
    for (int i = 0; i < kChannelGroups && colon != std::string::npos; ++i) {
      if (h.compare(0, colon, ChannelGroupName(i)) == 0) g = i;
    }
    if (g < 0 || colon + 1 >= h.size()) {
      ThrowExpected(csv_path + ": header column " + std::to_string(k + 1),
                    "qpos:<joint>, qvel:<joint>, ctrl:<actuator>, sensors:<name> or logged:<name>",
                    "\"" + h + "\"");
    }
    Channels* c = Group(e, g);
    const std::string name = h.substr(colon + 1);
    if (c->Find(name) >= 0) {
      ThrowExpected(csv_path + ": header column " + std::to_string(k + 1), "each channel once",
                    "\"" + h + "\" again");
    }
    where[k] = {g, static_cast<int>(c->names.size())};
    c->names.push_back(name);
  }
  std::vector<std::vector<double>> columns(header.size());
  while (csv.Next()) {
    for (std::size_t k = 0; k < header.size(); ++k) {
      double x;
      if (!ParseCsvNumber(csv.fields()[k], &x)) {
        ThrowExpected(
            csv_path + ": line " + std::to_string(csv.line()) + ", column \"" + header[k] + "\"",
            "a number", "\"" + std::string(csv.fields()[k]) + "\"");
      }
      columns[k].push_back(x);
    }
  }
  if (csv.truncated_last()) {
    ThrowExpected(csv_path + ": last line", std::to_string(header.size()) + " fields",
                  "fewer (a cut-off file)");
  }
  const int n = csv.rows();
  e->time = std::move(columns[0]);
  for (int g = 0; g < kChannelGroups; ++g) Group(e, g)->values.resize(n, Group(e, g)->names.size());
  for (std::size_t k = 1; k < header.size(); ++k) {
    Eigen::MatrixXd& m = Group(e, where[k].first)->values;
    for (int i = 0; i < n; ++i) m(i, where[k].second) = columns[k][i];
  }
}

std::string Number(double x) {
  if (!std::isfinite(x)) return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", x);
  return buf;
}

}  // namespace

const char* ChannelGroupName(int g) {
  static const char* const names[kChannelGroups] = {"qpos", "qvel", "ctrl", "sensors", "logged"};
  NB_CHECK(g >= 0 && g < kChannelGroups);
  return names[g];
}

Channels& ChannelGroup(Episode& e, int g) {
  switch (g) {
    case 0:
      return e.qpos;
    case 1:
      return e.qvel;
    case 2:
      return e.ctrl;
    case 3:
      return e.sensors;
    default:
      NB_CHECK(g == 4);
      return e.logged;
  }
}

const Channels& ChannelGroup(const Episode& e, int g) {
  return ChannelGroup(const_cast<Episode&>(e), g);
}

nlohmann::json EpisodeToJson(const Episode& e, bool with_data) {
  nlohmann::json j;
  j["schema"] = kSchema;
  j["id"] = e.id;
  if (!e.robot.empty()) j["robot"] = e.robot;
  if (!e.site.empty()) j["site"] = e.site;
  if (!e.date.empty()) j["date"] = e.date;
  if (!e.source.empty()) j["source"] = e.source;
  j["scenario"] = e.scenario;
  j["outcome"] = e.outcome;
  if (!e.extra.empty()) j["extra"] = e.extra;
  if (!with_data) return j;
  j["time"] = nlohmann::json::array();
  for (double t : e.time) j["time"].push_back(Finite(t));
  for (int g = 0; g < kChannelGroups; ++g) {
    const Channels& c = Group(e, g);
    if (c.empty()) continue;
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t k = 0; k < c.names.size(); ++k) {
      nlohmann::json v = nlohmann::json::array();
      for (int i = 0; i < c.values.rows(); ++i) v.push_back(Finite(c.values(i, k)));
      list.push_back({{"name", c.names[k]}, {"values", std::move(v)}});
    }
    j[ChannelGroupName(g)] = std::move(list);
  }
  return j;
}

Episode EpisodeFromJson(const nlohmann::json& doc, const std::string& file,
                        const std::string& dir) {
  JsonReader r(doc, file, "");
  const std::string schema = r.String("schema");
  if (schema != kSchema) {
    ThrowExpected(r.Where("schema"), std::string("\"") + kSchema + "\"", "\"" + schema + "\"");
  }
  Episode e;
  ReadMetadata(r, &e);
  if (r.Has("data")) {
    if (r.Has("time")) ThrowExpected(r.Where("time"), "either data (a CSV file) or time", "both");
    std::filesystem::path p(r.String("data"));
    if (p.is_relative()) p = std::filesystem::path(dir) / p;
    ReadCsvData(p.lexically_normal().string(), &e);
  } else {
    ReadInline(r, &e);
  }
  r.CheckAllRead();
  if (e.qpos.empty()) ThrowExpected(r.Where("qpos"), "at least one joint position channel", "none");
  return e;
}

Episode ReadEpisodeFile(const std::string& path) {
  return EpisodeFromJson(ReadJsonFile(path, MaxLogFileBytes()), path,
                         std::filesystem::path(path).parent_path().string());
}

void WriteEpisodeJson(const Episode& e, const std::string& path) {
  WriteFileAtomic(path, EpisodeToJson(e, true).dump(1) + "\n");
}

void WriteEpisodeCsv(const Episode& e, const std::string& sidecar_path) {
  std::filesystem::path side(sidecar_path);
  if (side.extension() != ".json") {
    throw LogicError("WriteEpisodeCsv: the sidecar path must end in .json: " + sidecar_path);
  }
  std::filesystem::path csv = side;
  csv.replace_extension(".csv");
  std::string text = "time";
  for (int g = 0; g < kChannelGroups; ++g) {
    for (const auto& n : Group(e, g).names)
      text += std::string(",") + ChannelGroupName(g) + ":" + n;
  }
  text += "\n";
  for (int i = 0; i < e.samples(); ++i) {
    text += Number(e.time[i]);
    for (int g = 0; g < kChannelGroups; ++g) {
      const Channels& c = Group(e, g);
      for (std::size_t k = 0; k < c.names.size(); ++k) text += "," + Number(c.values(i, k));
    }
    text += "\n";
  }
  WriteFileAtomic(csv.string(), text);
  nlohmann::json j = EpisodeToJson(e, false);
  j["data"] = csv.filename().string();
  WriteFileAtomic(sidecar_path, j.dump(1) + "\n");
}

std::string EpisodeFileStem(const std::string& id) {
  std::string s = id;
  for (char& c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) c = '_';
  }
  if (s.empty()) return "_";
  if (s[0] == '.') s[0] = '_';
  if (s.size() > kMaxStemChars) {
    s = s.substr(0, kMaxStemChars) + "-" + ShortHash(id);
  }
  return s;
}

}  // namespace nextbatch
