#include "engine/dataset.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "engine/atomic_file.h"
#include "engine/episode_io.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/parallel.h"

namespace nextbatch {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Glob(const Study& study, const JsonReader& r) {
  const std::string pattern = r.String("glob");
  const fs::path full(study.Resolve(pattern));
  const std::string dir = full.parent_path().string();
  const std::string name = full.filename().string();
  if (dir.find_first_of("*?[") != std::string::npos) {
    ThrowExpected(r.Where("glob"), "wildcards in the file name only", "\"" + pattern + "\"");
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    ThrowExpected(r.Where("glob"), "an existing folder", "\"" + dir + "\" (not found)");
  }
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string f = entry.path().filename().string();
    if (::fnmatch(name.c_str(), f.c_str(), 0) == 0) out.push_back((fs::path(dir) / f).string());
  }
  std::sort(out.begin(), out.end());
  if (out.empty()) ThrowExpected(r.Where("glob"), "at least one matching file", "none");
  return out;
}

nlohmann::json ObjectField(const JsonReader& r, const std::string& key) {
  if (!r.Has(key)) return nlohmann::json::object();
  const auto& v = r.Raw(key);
  if (!v.is_object()) ThrowExpected(r.Where(key), "an object", Describe(v));
  return v;
}

EpisodeEntry ReadEntry(const Study& study, const JsonReader& r) {
  EpisodeEntry e;
  e.where = r.Where();
  if (r.Has("path") == r.Has("glob")) {
    ThrowExpected(r.Where(), "exactly one of path, glob", r.Has("path") ? "both" : "neither");
  }
  if (r.Has("path")) {
    e.paths = {study.Resolve(r.String("path"))};
    std::error_code ec;
    if (!fs::is_regular_file(e.paths[0], ec)) {
      const bool exists = fs::exists(e.paths[0], ec);
      ThrowExpected(r.Where("path"), "an existing regular file (relative to the study)",
                    "\"" + r.String("path") + "\" (" + e.paths[0] + ": " +
                        (exists ? "not a regular file" : "not found") + ")");
    }
    e.id = r.String("id", "");
    if (r.Has("id") && e.id.empty()) ThrowExpected(r.Where("id"), "a non-empty id", "\"\"");
  } else {
    e.paths = Glob(study, r);
    if (r.Has("id"))
      ThrowExpected(r.Where("id"), "id_prefix with a glob (ids are file stems)", "id");
    e.id_prefix = r.String("id_prefix", "");
  }
  e.importer = r.String("importer", "");
  e.scenario = ObjectField(r, "scenario");
  e.outcome = ObjectField(r, "outcome");
  e.robot = r.String("robot", "");
  e.site = r.String("site", "");
  e.date = r.String("date", "");
  r.CheckAllRead();
  return e;
}

std::string Fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

// Values the model cannot take are kept (the model may be what is wrong) but said: a position
// beyond a limited joint's range, a command beyond a limited actuator's ctrlrange (MuJoCo clamps
// it), often a unit or offset mistake in the mapping.
void CheckAgainstModel(const Episode& e, const mjModel* m, EpisodeQuality* q) {
  auto check = [&](const Channels& c, const char* group, bool joint) {
    for (std::size_t k = 0; k < c.names.size(); ++k) {
      const int id = mj_name2id(m, joint ? mjOBJ_JOINT : mjOBJ_ACTUATOR, c.names[k].c_str());
      if (id < 0) continue;
      const bool limited = joint ? m->jnt_limited[id] : m->actuator_ctrllimited[id];
      if (!limited) continue;
      const double lo = joint ? m->jnt_range[2 * id] : m->actuator_ctrlrange[2 * id];
      const double hi = joint ? m->jnt_range[2 * id + 1] : m->actuator_ctrlrange[2 * id + 1];
      int outside = 0;
      for (int i = 0; i < c.values.rows(); ++i) {
        outside += (c.values(i, k) < lo || c.values(i, k) > hi) ? 1 : 0;
      }
      if (outside > 0) {
        q->messages.push_back(std::string(group) + ":" + c.names[k] + " is outside the model's " +
                              (joint ? "joint range" : "ctrlrange") + " [" + Fixed(lo, 4) + ", " +
                              Fixed(hi, 4) + "] at " + std::to_string(outside) + " of " +
                              std::to_string(c.values.rows()) +
                              " samples (kept; a unit or offset mistake?)");
      }
    }
  };
  check(e.qpos, "qpos", true);
  check(e.ctrl, "ctrl", false);
}

}  // namespace

int Dataset::Find(const std::string& id) const {
  for (std::size_t i = 0; i < episodes.size(); ++i) {
    if (episodes[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

DatasetSpec ReadDatasetSpec(const Study& study) {
  JsonReader r = study.Section("dataset");
  DatasetSpec s;
  if (r.Has("importer")) {
    s.importer = ReadImporterSpec(r.Object("importer"));
    s.has_importer = true;
  }
  if (r.Has("importers")) {
    JsonReader named = r.Object("importers");
    const auto& raw = r.Raw("importers");
    for (auto it = raw.begin(); it != raw.end(); ++it) {
      s.importers[it.key()] = ReadImporterSpec(named.Object(it.key()));
    }
  }
  for (const auto& entry : r.Objects("episodes")) s.episodes.push_back(ReadEntry(study, entry));
  if (s.episodes.empty()) ThrowExpected(r.Where("episodes"), "at least one episode", "none");
  for (const auto& e : s.episodes) {
    if (e.importer.empty()) {
      if (!s.has_importer) {
        ThrowExpected(e.where + ".importer", "an importer name (or a dataset.importer)", "none");
      }
    } else if (!s.importers.count(e.importer)) {
      std::string names;
      for (const auto& [name, spec] : s.importers) names += (names.empty() ? "" : ", ") + name;
      ThrowExpected(e.where + ".importer",
                    "a name in dataset.importers (" + (names.empty() ? "none given" : names) + ")",
                    "\"" + e.importer + "\"");
    }
  }
  if (r.Has("cleaning")) s.cleaning = ReadCleaningOptions(r.Object("cleaning"));
  s.on_error = r.Choice("on_error", {"fail", "drop"}, "fail");
  r.CheckAllRead();
  return s;
}

void ValidateEpisodeChannels(const Episode& e, const mjModel* m, const std::string& where) {
  auto check = [&](const Channels& c, mjtObj type, const char* group, const char* kind) {
    for (const auto& n : c.names) {
      if (mj_name2id(m, type, n.c_str()) < 0) {
        ThrowExpected(where + ": " + group, std::string("the name of a ") + kind + " of the model",
                      "\"" + n + "\"");
      }
    }
  };
  check(e.qpos, mjOBJ_JOINT, "qpos", "joint");
  check(e.qvel, mjOBJ_JOINT, "qvel", "joint");
  check(e.ctrl, mjOBJ_ACTUATOR, "ctrl", "actuator");
  check(e.sensors, mjOBJ_SENSOR, "sensors", "sensor");
  for (const auto& n : e.sensors.names) {
    if (m->sensor_dim[mj_name2id(m, mjOBJ_SENSOR, n.c_str())] != 1) {
      ThrowExpected(where + ": sensors", "a scalar sensor of the model", "\"" + n + "\"");
    }
  }
}

Dataset LoadDataset(const Study& study, const mjModel* model) {
  NB_CHECK(model != nullptr);
  const DatasetSpec spec = ReadDatasetSpec(study);
  if (spec.has_importer) ValidateImporterSpec(spec.importer, model);
  for (const auto& [name, importer] : spec.importers) ValidateImporterSpec(importer, model);
  Dataset d;
  d.cleaning = spec.cleaning;
  d.timestep = model->opt.timestep;
  d.sample_period = spec.cleaning.resample ? d.timestep * spec.cleaning.every : 0.0;
  d.study = study.path;
  d.model = study.model;
  // One job per file. Files are read and cleaned in parallel; everything that depends on the
  // order (unique ids, which error is reported, the order of episodes) is decided afterwards in
  // file order, so the dataset is the same for any thread count.
  struct Job {
    const EpisodeEntry* entry;
    std::string path;
    std::string error;  // an InputError's message
    std::string id;
    CleanResult clean;
  };
  std::vector<Job> jobs;
  for (const auto& entry : spec.episodes) {
    for (const auto& path : entry.paths) jobs.push_back({&entry, path, "", "", {}});
  }
  StoppableParallelFor(
      static_cast<int>(jobs.size()), study.threads,
      "ingest stopped while reading the logs; nothing was written", [&](int index, int) {
        Job& job = jobs[index];
        const EpisodeEntry& entry = *job.entry;
        const ImporterSpec& importer =
            entry.importer.empty() ? spec.importer : spec.importers.at(entry.importer);
        job.id = entry.id.empty() ? entry.id_prefix + fs::path(job.path).stem().string() : entry.id;
        RawEpisode raw;
        try {
          raw = ImportFile(importer, job.path);
          ValidateEpisodeChannels(raw.episode, model, job.path);
        } catch (const InputError& error) {
          job.error = error.what();
          return;
        }
        Episode& e = raw.episode;
        if (entry.id.empty() && importer.format == "native" && !e.id.empty()) job.id = e.id;
        e.id = job.id;
        for (auto it = entry.scenario.begin(); it != entry.scenario.end(); ++it) {
          e.scenario[it.key()] = it.value();
        }
        for (auto it = entry.outcome.begin(); it != entry.outcome.end(); ++it) {
          e.outcome[it.key()] = it.value();
        }
        if (!entry.robot.empty()) e.robot = entry.robot;
        if (!entry.site.empty()) e.site = entry.site;
        if (!entry.date.empty()) e.date = entry.date;
        try {
          // A log refused by cleaning (one too large to resample) is the file's fault like a
          // malformed one: on_error decides.
          job.clean = CleanEpisode(raw, spec.cleaning, d.timestep);
        } catch (const InputError& error) {
          job.error = error.what();
          return;
        }
        for (std::size_t k = 0; k < job.clean.episodes.size(); ++k) {
          CheckAgainstModel(job.clean.episodes[k], model, &job.clean.quality[k]);
        }
      });
  std::set<std::string> ids;
  for (Job& job : jobs) {
    if (!job.error.empty()) {
      if (spec.on_error == "fail") throw InputError(job.error);
      // on_error drop: the file is reported with the reason, the rest of the dataset loads.
      EpisodeQuality q;
      q.id = job.id;
      q.source = fs::absolute(job.path).lexically_normal().string();
      q.status = "dropped";
      q.reason = job.error;
      d.dropped.push_back(std::move(q));
      continue;
    }
    if (!ids.insert(job.id).second) {
      ThrowExpected(job.entry->where + ".id", "ids unique in the dataset",
                    "\"" + job.id + "\" a second time (from " + job.path + ")");
    }
    for (auto& x : job.clean.episodes) d.episodes.push_back(std::move(x));
    for (auto& x : job.clean.quality) d.quality.push_back(std::move(x));
    for (auto& x : job.clean.dropped) d.dropped.push_back(std::move(x));
  }
  return d;
}

nlohmann::json DatasetToJson(const Dataset& d) {
  nlohmann::json j;
  j["schema"] = "nextbatch.dataset/1";
  j["study"] = d.study;
  j["model"] = d.model;
  j["timestep"] = d.timestep;
  j["sample_period"] = d.sample_period;
  j["cleaning"] = CleaningOptionsToJson(d.cleaning);
  nlohmann::json episodes = nlohmann::json::array();
  long read = 0, out = 0;
  std::set<std::string> sources;
  for (std::size_t i = 0; i < d.episodes.size(); ++i) {
    const Episode& e = d.episodes[i];
    const EpisodeQuality& q = d.quality[i];
    nlohmann::json x;
    x["id"] = e.id;
    x["source"] = e.source;
    x["robot"] = e.robot;
    x["site"] = e.site;
    x["date"] = e.date;
    x["scenario"] = e.scenario;
    x["outcome"] = e.outcome;
    if (!e.extra.empty()) x["extra"] = e.extra;
    x["samples"] = e.samples();
    x["start_time"] = e.time.empty() ? 0.0 : e.time.front();
    x["duration"] = e.duration();
    x["rate_hz"] = q.rate_hz;
    x["channels"] = {{"qpos", e.qpos.names},
                     {"qvel", e.qvel.names},
                     {"ctrl", e.ctrl.names},
                     {"sensors", e.sensors.names},
                     {"logged", e.logged.names}};
    x["quality"] = QualityToJson(q);
    episodes.push_back(std::move(x));
    out += e.samples();
    if (sources.insert(q.source).second) read += q.samples_read;
  }
  nlohmann::json dropped = nlohmann::json::array();
  for (const auto& q : d.dropped) {
    dropped.push_back(QualityToJson(q));
    if (sources.insert(q.source).second) read += q.samples_read;
  }
  j["episodes"] = std::move(episodes);
  j["dropped"] = std::move(dropped);
  j["totals"] = {{"files", sources.size()},
                 {"episodes", d.episodes.size()},
                 {"dropped", d.dropped.size()},
                 {"samples_read", read},
                 {"samples_out", out}};
  return j;
}

std::vector<std::string> SpikeWarnings(const Dataset& d, int per_episode) {
  std::vector<std::string> w;
  for (const EpisodeQuality& q : d.quality) {
    const int n = static_cast<int>(q.spikes.size());
    for (int k = 0; k < std::min(n, per_episode); ++k) {
      const Spike& s = q.spikes[k];
      char text[128];
      std::snprintf(text, sizeof(text), " at %.4f s, size %.4g (%s)", s.time, s.size,
                    s.removed ? "removed" : "kept; cleaning.spikes \"drop\" removes it");
      w.push_back("episode " + q.id + ": a single-sample spike in " + s.channel + text);
    }
    if (n > per_episode) {
      w.push_back("episode " + q.id + ": " + std::to_string(n - per_episode) +
                  " more single-sample spikes (all in dataset.json, quality.spikes)");
    }
  }
  return w;
}

std::string DatasetSummary(const Dataset& d) {
  char line[320];
  std::string s;
  std::snprintf(line, sizeof(line), "%-22s %7s %7s %7s %7s %6s %8s %6s  %s\n", "episode", "read",
                "kept", "out", "raw Hz", "Hz", "duration", "kept%", "removed, notes");
  s += line;
  auto notes = [](const EpisodeQuality& q) {
    std::string n;
    for (const auto& [reason, count] : q.removed) {
      n += (n.empty() ? "" : ", ") + reason + " " + std::to_string(count);
    }
    if (!q.gaps.empty()) n += (n.empty() ? "" : ", ") + std::to_string(q.gaps.size()) + " gaps";
    for (const auto& c : q.stuck_channels) n += (n.empty() ? "" : ", ") + ("stuck " + c);
    if (!q.spikes.empty())
      n += (n.empty() ? "" : ", ") + std::to_string(q.spikes.size()) + " spikes";
    if (q.velocity_method.find("local_quadratic") != std::string::npos ||
        q.velocity_method.find("central_difference") != std::string::npos) {
      n += (n.empty() ? "" : ", ") + std::string("qvel estimated");
    }
    return n;
  };
  for (std::size_t i = 0; i < d.episodes.size(); ++i) {
    const EpisodeQuality& q = d.quality[i];
    std::snprintf(line, sizeof(line), "%-22s %7d %7d %7d %7.1f %6.1f %7.2fs %5.1f%%  %s\n",
                  q.id.c_str(), q.samples_read, q.samples_kept, q.samples_out, q.raw_rate_hz,
                  q.rate_hz, d.episodes[i].duration(), 100.0 * q.fraction_kept, notes(q).c_str());
    s += line;
  }
  for (const auto& q : d.dropped) {
    std::snprintf(line, sizeof(line), "%-22s %7d %7d %7s %7.1f %6s %8s %6s  DROPPED: %s\n",
                  q.id.c_str(), q.samples_read, q.samples_kept, "-", q.raw_rate_hz, "-", "-", "-",
                  q.reason.c_str());
    s += line;
  }
  s += std::to_string(d.episodes.size()) + " episodes, " + std::to_string(d.dropped.size()) +
       " dropped; " +
       (d.sample_period > 0 ? "resampled every " + Fixed(d.sample_period * 1000, 3) + " ms"
                            : std::string("not resampled")) +
       "\n";
  return s;
}

}  // namespace nextbatch

namespace nextbatch {

nlohmann::json WriteDatasetFiles(const Dataset& d, const std::string& dir) {
  const fs::path episodes_dir = fs::path(dir) / "episodes";
  EnsureDirectory(episodes_dir.string());
  nlohmann::json summary = DatasetToJson(d);
  std::set<std::string> stems;
  for (std::size_t i = 0; i < d.episodes.size(); ++i) {
    std::string stem = EpisodeFileStem(d.episodes[i].id);
    while (!stems.insert(stem).second) stem += "_";
    WriteEpisodeCsv(d.episodes[i], (episodes_dir / (stem + ".json")).string());
    summary["episodes"][i]["file"] = "episodes/" + stem + ".json";
  }
  // Written last: its presence means every episode file is complete.
  WriteFileAtomic((fs::path(dir) / "dataset.json").string(), summary.dump(1) + "\n");
  return summary;
}

Dataset ReadDatasetFiles(const std::string& dir) {
  const std::string path = (fs::path(dir) / "dataset.json").string();
  const nlohmann::json doc = ReadJsonFile(path);
  if (!doc.is_object()) ThrowExpected(path, "a JSON object", Describe(doc));
  JsonReader r(doc, path, "");
  const std::string schema = r.String("schema");
  if (schema != "nextbatch.dataset/1") {
    ThrowExpected(r.Where("schema"), "\"nextbatch.dataset/1\"", "\"" + schema + "\"");
  }
  Dataset d;
  d.study = r.String("study");
  d.model = r.String("model");
  d.timestep = r.Number("timestep");
  d.sample_period = r.Number("sample_period");
  const std::vector<JsonReader> episodes = r.Objects("episodes");
  std::set<std::string> ids;
  for (const JsonReader& e : episodes) {
    const std::string file = e.String("file");
    if (file.empty() || fs::path(file).is_absolute() || file.find("..") != std::string::npos) {
      ThrowExpected(e.Where("file"), "a path inside the set", "\"" + file + "\"");
    }
    Episode episode = ReadEpisodeFile((fs::path(dir) / file).string());
    const std::string id = e.String("id");
    if (episode.id != id) {
      ThrowExpected(e.Where("id"), "the id of " + file + " (\"" + episode.id + "\")",
                    "\"" + id + "\"");
    }
    if (!ids.insert(id).second) ThrowExpected(e.Where("id"), "a unique id", "\"" + id + "\"");
    JsonReader q = e.Object("quality");
    EpisodeQuality quality;
    quality.id = id;
    quality.source = q.String("source", "");
    quality.rate_hz = q.Number("rate_hz", 0.0);
    if (q.Has("qvel_estimated")) quality.qvel_estimated = q.Strings("qvel_estimated");
    for (const auto& name : quality.qvel_estimated) {
      if (episode.qvel.Find(name) < 0) {
        ThrowExpected(q.Where("qvel_estimated"), "joints with a velocity channel in " + file,
                      "\"" + name + "\"");
      }
    }
    d.episodes.push_back(std::move(episode));
    d.quality.push_back(std::move(quality));
  }
  return d;
}

void DropEstimatedVelocities(Dataset* d) {
  for (std::size_t i = 0; i < d->episodes.size() && i < d->quality.size(); ++i) {
    const std::vector<std::string>& estimated = d->quality[i].qvel_estimated;
    if (estimated.empty()) continue;
    Channels& qvel = d->episodes[i].qvel;
    Channels kept;
    for (const auto& name : qvel.names) {
      if (std::find(estimated.begin(), estimated.end(), name) == estimated.end()) {
        kept.names.push_back(name);
      }
    }
    kept.values.resize(qvel.values.rows(), static_cast<Eigen::Index>(kept.names.size()));
    for (std::size_t c = 0; c < kept.names.size(); ++c) {
      kept.values.col(static_cast<Eigen::Index>(c)) = qvel.values.col(qvel.Find(kept.names[c]));
    }
    qvel = std::move(kept);
  }
}

void KeepEpisodes(Dataset* d, const std::vector<std::string>& ids, const std::string& where) {
  if (ids.empty()) return;
  for (const std::string& id : ids) {
    if (d->Find(id) < 0) {
      std::string known;
      for (const Episode& e : d->episodes) known += (known.empty() ? "" : ", ") + e.id;
      ThrowExpected(where, "episode ids of the dataset (" + known + ")", "'" + id + "'");
    }
  }
  Dataset kept = *d;
  kept.episodes.clear();
  kept.quality.clear();
  for (std::size_t i = 0; i < d->episodes.size(); ++i) {
    if (std::find(ids.begin(), ids.end(), d->episodes[i].id) == ids.end()) continue;
    kept.episodes.push_back(std::move(d->episodes[i]));
    if (i < d->quality.size()) kept.quality.push_back(std::move(d->quality[i]));
  }
  *d = std::move(kept);
}

}  // namespace nextbatch
