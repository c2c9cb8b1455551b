#include "pipeline/archive.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "calibration/calibration_json.h"
#include "engine/atomic_file.h"
#include "engine/dataset.h"
#include "engine/error.h"
#include "engine/importer.h"
#include "engine/json_reader.h"
#include "pipeline/pipeline.h"

namespace nextbatch {
namespace fs = std::filesystem;

namespace {

std::string Normal(const std::string& path) {
  return fs::absolute(path).lexically_normal().string();
}

}  // namespace

bool IsArchiveFile(const std::string& path) {
  try {
    const nlohmann::json doc = ReadJsonFile(path);
    // any version of the archive schema: its reader then names the one it expects
    return doc.is_object() && doc.contains("schema") && doc.at("schema").is_string() &&
           doc.at("schema").get<std::string>().rfind("nextbatch.archive", 0) == 0;
  } catch (const std::exception&) {
    return false;
  }
}

Archive ReadArchiveFile(const std::string& path, const Study& study, const ScenarioSpace& space) {
  const nlohmann::json doc = ReadJsonFile(path);
  if (!doc.is_object()) ThrowExpected(path, "an archive object", Describe(doc));
  const JsonReader r(doc, path, "");
  r.CheckKnownKeys({"schema", "name", "notes", "tolerance", "dataset"});
  const std::string schema = r.String("schema");
  if (schema != "nextbatch.archive/1")
    ThrowExpected(r.Where("schema"), "\"nextbatch.archive/1\"", "\"" + schema + "\"");
  Archive a;
  a.file = path;
  a.name = r.String("name", fs::path(path).stem().string());
  (void)r.String("notes", "");
  a.tolerance = r.Number("tolerance");
  if (!std::isfinite(a.tolerance) || a.tolerance < 0)
    ThrowExpected(r.Where("tolerance"), "a normalised distance >= 0", FormatNumber(a.tolerance));
  const JsonReader d = r.Object("dataset");
  // the round studies' dataset holds one cleaning for every episode: the study's
  d.CheckKnownKeys({"episodes", "importer"});
  r.CheckAllRead();

  // the archive's dataset block, read by the study's dataset reader: the study's importers fill
  // what the archive does not give
  nlohmann::json dataset = doc.at("dataset");
  if (d.Has("importer")) a.importer = dataset.at("importer");
  if (study.HasSection("dataset") && study.doc.at("dataset").is_object()) {
    const nlohmann::json& own = study.doc.at("dataset");
    if (!dataset.contains("importer") && own.contains("importer"))
      dataset["importer"] = own.at("importer");
    if (own.contains("importers")) dataset["importers"] = own.at("importers");
  }
  Study view = study;
  view.path = path;
  view.dir = fs::absolute(path).parent_path().string();
  view.doc = {{"dataset", dataset}};
  const DatasetSpec spec = ReadDatasetSpec(view);

  // a round's dataset holds the study's own episodes and the collected ones: ids must not clash
  std::map<std::string, std::string> own;  // id -> file
  if (study.HasSection("dataset")) {
    for (const EpisodeEntry& e : ReadDatasetSpec(study).episodes)
      for (const std::string& p : e.paths)
        own[e.id.empty() ? e.id_prefix + fs::path(p).stem().string() : e.id] = Normal(p);
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < spec.episodes.size(); ++i) {
    const EpisodeEntry& entry = spec.episodes[i];
    const ImporterSpec& importer =
        entry.importer.empty() ? spec.importer : spec.importers.at(entry.importer);
    nlohmann::json base = dataset.at("episodes").at(i);
    for (const char* key : {"path", "glob", "id", "id_prefix"}) base.erase(key);
    for (const std::string& file : entry.paths) {
      const RawEpisode raw = ImportFile(importer, file);
      ArchiveEpisode e;
      e.path = Normal(file);
      e.id = !entry.id.empty() ? entry.id
             : (entry.id_prefix.empty() && importer.format == "native" && !raw.episode.id.empty())
                 ? raw.episode.id
                 : entry.id_prefix + fs::path(file).stem().string();
      const std::string where = entry.where + " (" + file + ")";
      const auto clash = own.find(e.id);
      if (clash != own.end() && clash->second != e.path)
        ThrowExpected(entry.where + ".id",
                      "an id none of the study's own episodes has (" + clash->second + ")",
                      "\"" + e.id + "\" (" + file + ")");
      if (!ids.insert(e.id).second)
        ThrowExpected(entry.where + ".id", "an id unique in the archive",
                      "\"" + e.id + "\" again (" + file + ")");
      nlohmann::json scenario =
          raw.episode.scenario.is_object() ? raw.episode.scenario : nlohmann::json::object();
      for (auto it = entry.scenario.begin(); it != entry.scenario.end(); ++it)
        scenario[it.key()] = it.value();
      e.scenario = space.FromJson(scenario, where + ": scenario");
      e.entry = base;
      e.entry["path"] = e.path;
      e.entry["id"] = e.id;
      a.episodes.push_back(std::move(e));
    }
  }
  return a;
}

std::vector<std::string> StudyEpisodePaths(const Study& study) {
  std::vector<std::string> out;
  if (!study.HasSection("dataset")) return out;
  for (const EpisodeEntry& e : ReadDatasetSpec(study).episodes)
    for (const std::string& p : e.paths) out.push_back(Normal(p));
  return out;
}

void AddArchiveEpisode(const Archive& archive, const ArchiveEpisode& e, const std::string& from_dir,
                       nlohmann::json* dataset) {
  nlohmann::json entry = e.entry;
  entry["path"] = fs::path(e.path)
                      .lexically_relative(fs::absolute(from_dir).lexically_normal())
                      .generic_string();
  if (!archive.importer.is_null()) {
    (*dataset)["importers"]["archive"] = archive.importer;
    if (!entry.contains("importer")) entry["importer"] = "archive";
  }
  (*dataset)["episodes"].push_back(entry);
}

ArchiveReference FitArchiveReference(const Study& study, const Archive& archive,
                                     const std::string& dir, int threads) {
  EnsureDirectory(dir);
  const std::string base = fs::absolute(dir).lexically_normal().string();
  nlohmann::json doc = study.doc;
  for (const char* section : {"campaign", "replay", "simulate", "planner"}) doc.erase(section);
  doc["model"] = fs::path(Normal(study.model)).lexically_relative(base).generic_string();
  nlohmann::json dataset = study.HasSection("dataset")
                               ? study.doc.at("dataset")
                               : nlohmann::json{{"importer", {{"format", "native"}}}};
  dataset["episodes"] = nlohmann::json::array();
  for (const ArchiveEpisode& e : archive.episodes) AddArchiveEpisode(archive, e, base, &dataset);
  doc["dataset"] = dataset;
  if (doc.contains("calibration") && doc.at("calibration").is_object())
    doc["calibration"].erase("warm_start");
  const std::string path = base + "/study.json";
  WriteFileAtomic(path, doc.dump(1) + "\n");
  const Study fit = Study::Load(path);
  PipelineOptions po;
  po.out = base;
  po.threads = threads;
  po.quiet = true;
  for (const StageReport& rep : RunPipeline(fit, po, StageId::kCalibrate)) {
    if (rep.exit_code != 0)
      throw RunError("the archive's reference fit: " + rep.stage + " failed: " + rep.message);
  }
  ArchiveReference ref;
  ref.calibration = base + "/calibrate/calibration.json";
  const CalibrationFile file = ReadCalibrationFile(ref.calibration);
  ref.status = file.status;
  for (const ParameterSpec& p : study.parameters) {
    double v = p.initial;
    for (std::size_t j = 0; j < file.names.size(); ++j)
      if (file.names[j] == p.name) v = file.value[static_cast<int>(j)];
    ref.values.push_back(v);
  }
  return ref;
}

ArchivePool::ArchivePool(const std::vector<Scenario>& scenarios, const ScenarioSpace& space,
                         double categorical_distance, double tolerance)
    : embedding_(space, categorical_distance),
      points_(embedding_.EmbedAll(scenarios)),
      used_(scenarios.size(), 0),
      remaining_(static_cast<int>(scenarios.size())),
      tolerance_(tolerance) {}

ArchivePool::Match ArchivePool::Nearest(const Scenario& s) const {
  const std::vector<double> q = embedding_.Embed(s);
  const int w = embedding_.width();
  Match m;
  // a scan in archive order: archives are small, and a strict < keeps the lowest index on ties
  for (std::size_t i = 0; i < used_.size(); ++i) {
    if (used_[i]) continue;
    double sum = 0.0;
    for (int k = 0; k < w; ++k) {
      const double d = points_[i * w + k] - q[k];
      sum += d * d;
    }
    const double dist = std::sqrt(sum);
    if (dist < m.distance) {
      m.distance = dist;
      m.nearest = static_cast<int>(i);
    }
  }
  return m;
}

ArchivePool::Match ArchivePool::Take(const Scenario& s) {
  Match m = Nearest(s);
  if (m.nearest >= 0 && m.distance <= tolerance_) {
    m.index = m.nearest;
    Remove(m.index);
  }
  return m;
}

void ArchivePool::Remove(int index) {
  NB_CHECK(index >= 0 && index < static_cast<int>(used_.size()));
  if (!used_[index]) --remaining_;
  used_[index] = 1;
}

}  // namespace nextbatch
