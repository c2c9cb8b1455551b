#include "scenarios/simulate_study.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/atomic_file.h"
#include "engine/dataset.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/model.h"
#include "engine/progress.h"
#include "scenarios/sampler.h"
#include "scenarios/scenario_binding.h"
#include "scenarios/simulate_json.h"
#include "scenarios/space_json.h"
#include "scenarios/space_source.h"
#include "scenarios/task_json.h"

namespace nextbatch {
namespace fs = std::filesystem;

SimulateOptions ReadStudySimulateOptions(const Study& study) {
  SimulateOptions options;
  if (study.HasSection("simulate")) {
    options = ReadSimulateOptions(study.Section("simulate"),
                                  [&study](const std::string& p) { return study.Resolve(p); });
  }
  if (!study.HasSection("simulate") || !study.doc.at("simulate").contains("candidates")) {
    options.candidates = ReadScenarios(study).sampler.n;
  }
  options.seed = study.seed;
  options.num_threads = study.threads;
  return options;
}

TaskSpec ReadStudyTaskSpec(const Study& study, const ScenarioSpace& space, const mjModel* m) {
  TaskSpec spec = ReadTaskSpec(study.Section("task"));
  if (spec.controller.type == ControllerSpec::Type::kProfile) {
    FillCommandProfiles(space, LoadDataset(study, m).episodes, study.path, &spec);
  }
  return spec;
}

SimulateStudyResult SimulateStudy(const Study& study, const Posterior& posterior,
                                  const nlohmann::json& calibration, int threads, bool quiet,
                                  const std::string& dir, const SimulateResume* resume,
                                  const CandidateInformation* information,
                                  const nlohmann::json& information_document,
                                  const std::map<std::string, std::string>& episode_scale,
                                  const SafetySampling& safety) {
  ModelPtr model = LoadModelFile(study.model);
  const mjModel* m = model.get();
  ScenariosSection scenarios = ReadScenarios(study);
  Task task(m, ReadStudyTaskSpec(study, scenarios.space, m));
  SimulateOptions options = ReadStudySimulateOptions(study);
  options.num_threads = threads;
  std::unique_ptr<Sampler> sampler = MakeSampler(scenarios.space, scenarios.sampler);
  ScenarioBinding scenario_binding(m, scenarios.space);
  ParameterBinding parameters(m, study.parameters);
  SpaceSource source(*sampler, scenario_binding);
  for (const auto& [name, factor] : episode_scale) {
    const int f = scenarios.space.Find(factor);
    if (f < 0 || !scenarios.space.factor(f).numeric()) {
      ThrowExpected(study.path + ": scenarios.factors",
                    "a numeric factor '" + factor + "': the calibration scales parameter '" + name +
                        "' by it in every episode (calibration.episode_scale)",
                    f < 0 ? std::string("no such factor") : std::string("a categorical factor"));
    }
  }
  options.episode_scale = episode_scale;
  options.safety = safety;

  std::vector<std::string> metric_names;
  for (const auto& mt : task.outcome().metrics()) metric_names.push_back(mt.name);
  const std::string lines = (fs::path(dir) / "candidates.jsonl").string();
  std::unique_ptr<CandidateWriter> writer =
      resume ? std::make_unique<CandidateWriter>(lines, metric_names, resume->part, resume->bytes)
             : std::make_unique<CandidateWriter>(lines, metric_names);
  if (resume) {
    options.resume = resume->done;
    options.on_chunk = [&writer, resume](const SimulateCheckpoint& done) {
      resume->save(writer->Sync(), done);
    };
  }
  ProgressOptions progress_options;
  if (quiet) progress_options.terminal = 0;
  Progress bar("simulate", static_cast<long>(options.candidates), progress_options);
  if (options.resume.candidates > 0) bar.Update(static_cast<long>(options.resume.candidates));
  SimulateStudyResult result;
  result.summary = SimulateCandidates(
      m, task, parameters, posterior, source, options,
      [&writer](const std::vector<CandidateStats>& c, const ScenarioSource& s) {
        writer->Write(c, s);
      },
      [&bar](std::int64_t done, std::int64_t) { bar.Update(static_cast<long>(done)); }, nullptr,
      information);
  writer->Commit();
  // Counted from the written lines, not during the run: a resumed run did not simulate the
  // candidates before its checkpoint, and its files must equal an uninterrupted run's.
  std::int64_t with_information = 0, safety_candidates = 0, safety_extra = 0;
  std::string first_error;
  if (information || safety.enabled()) {
    std::ifstream in(lines);
    std::string line;
    while (std::getline(in, line)) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (j.contains("safety_rollouts")) {
        ++safety_candidates;
        safety_extra += j.at("safety_rollouts").get<std::int64_t>() - j.at("rollouts").get<int>();
      }
      const auto it = j.find("information");
      if (it != j.end() && !it->is_null()) ++with_information;
      const auto e = j.find("information_error");
      if (first_error.empty() && e != j.end() && e->is_string()) {
        first_error = "candidate " + std::to_string(j.value("index", std::int64_t{-1})) + ": " +
                      e->get<std::string>();
      }
    }
  }

  const SimulateSummary& summary = result.summary;
  nlohmann::json& doc = result.document;
  doc["schema"] = "nextbatch.candidates/1";
  doc["study"] = study.path;
  doc["seed"] = study.seed;
  doc["candidates_file"] = "candidates.jsonl";
  doc["candidates"] = summary.candidates;
  doc["posterior_samples"] = options.posterior_samples;
  doc["calibration"] = calibration;
  doc["parameters"] = posterior.names();
  doc["metrics"] = metric_names;
  doc["factors"] = nlohmann::json::array();
  for (const Factor& f : scenarios.space.factors()) doc["factors"].push_back(f.name);
  doc["summary"] = {
      {"termination",
       summary.termination == SimulateSummary::Termination::kDone ? "done" : "failed"},
      {"message", summary.message},
      {"rollouts", summary.rollouts},
      {"diverged", summary.diverged},
      {"steps", summary.steps},
      {"mean_success", summary.mean_success}};
  if (safety.enabled()) {
    doc["safety_sampling"] = {{"max_samples", safety.max_samples},
                              {"candidates", safety_candidates},
                              {"extra_rollouts", safety_extra}};
  }
  if (information) {
    nlohmann::json info =
        information_document.is_object() ? information_document : nlohmann::json::object();
    info["candidates"] = with_information;
    info["first_error"] = first_error;
    doc["information"] = info;
  }
  WriteFileAtomic((fs::path(dir) / "candidates.json").string(), doc.dump(2) + "\n");
  return result;
}

namespace {

// An n x n matrix of finite numbers, as nested rows.
Eigen::MatrixXd ReadSquare(const nlohmann::json& j, std::size_t n, const std::string& where) {
  const std::string expected = std::to_string(n) + " x " + std::to_string(n) + " finite numbers";
  if (!j.is_array() || j.size() != n) ThrowExpected(where, expected, Describe(j));
  Eigen::MatrixXd m(n, n);
  for (std::size_t a = 0; a < n; ++a) {
    if (!j[a].is_array() || j[a].size() != n) ThrowExpected(where, expected, Describe(j[a]));
    for (std::size_t b = 0; b < n; ++b) {
      if (!j[a][b].is_number() || !std::isfinite(j[a][b].get<double>()))
        ThrowExpected(where + "[" + std::to_string(a) + "][" + std::to_string(b) + "]",
                      "a finite number", Describe(j[a][b]));
      m(a, b) = j[a][b].get<double>();
    }
  }
  return m;
}

}  // namespace

CandidateSet ReadCandidateSet(const std::string& dir) {
  CandidateSet set;
  const std::string doc_path = (fs::path(dir) / "candidates.json").string();
  set.document = ReadJsonFile(doc_path);
  if (!set.document.is_object()) ThrowExpected(doc_path, "a JSON object", Describe(set.document));
  JsonReader r(set.document, doc_path, "");
  const std::string schema = r.String("schema");
  if (schema != "nextbatch.candidates/1") {
    ThrowExpected(r.Where("schema"), "\"nextbatch.candidates/1\"", "\"" + schema + "\"");
  }
  set.metrics = r.Strings("metrics");
  set.factors = r.Strings("factors");
  set.parameters = r.Strings("parameters");
  const std::string file = r.String("candidates_file");
  if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
    ThrowExpected(r.Where("candidates_file"), "a file name in the set", "\"" + file + "\"");
  }
  const nlohmann::json& count = r.Raw("candidates");
  if (!count.is_number_integer() || count.get<std::int64_t>() < 0) {
    ThrowExpected(r.Where("candidates"), "a count >= 0", Describe(count));
  }
  if (r.Has("information")) {
    const nlohmann::json& info = r.Raw("information");
    if (!info.is_object()) ThrowExpected(r.Where("information"), "an object", Describe(info));
    set.has_information = true;
    const std::size_t np = set.parameters.size();
    set.information_floor = Eigen::MatrixXd::Zero(np, np);
    if (info.contains("floor"))
      set.information_floor = ReadSquare(info.at("floor"), np, r.Where("information") + ".floor");
  }
  const std::string lines_path = (fs::path(dir) / file).string();
  std::ifstream in(lines_path);
  if (!in) throw InputError(lines_path + ": cannot open file");
  std::string line;
  for (std::int64_t n = 0; std::getline(in, line); ++n) {
    const std::string where_line = lines_path + ": line " + std::to_string(n + 1);
    const nlohmann::json j = ParseJson(line, where_line);
    if (!j.is_object()) ThrowExpected(where_line, "a JSON object", Describe(j));
    JsonReader c(j, where_line, "");
    CandidateRecord rec;
    const nlohmann::json& index = c.Raw("index");
    if (!index.is_number_integer() || index.get<std::int64_t>() != n) {
      ThrowExpected(c.Where("index"), std::to_string(n), Describe(index));
    }
    rec.index = n;
    rec.scenario = c.Raw("scenario");
    if (!rec.scenario.is_object()) {
      ThrowExpected(c.Where("scenario"), "an object {factor: value}", Describe(rec.scenario));
    }
    for (const auto& f : set.factors) {
      if (!rec.scenario.contains(f)) ThrowExpected(c.Where("scenario"), "factor " + f, "none");
    }
    rec.rollouts = c.Integer("rollouts");
    rec.success = c.Number("success");
    rec.safety = c.Number("safety");
    rec.diverged = c.Integer("diverged");
    rec.safety_rollouts = rec.rollouts;
    rec.safety_violations = rec.rollouts - static_cast<int>(std::lround(rec.safety * rec.rollouts));
    if (c.Has("safety_rollouts")) {
      rec.safety_rollouts = c.Integer("safety_rollouts");
      rec.safety_violations = c.Integer("safety_violations");
      if (rec.safety_rollouts < rec.rollouts || rec.safety_violations < 0 ||
          rec.safety_violations > rec.safety_rollouts)
        ThrowExpected(
            c.Where("safety_rollouts"),
            "rollouts <= safety_rollouts and 0 <= safety_violations <= safety_rollouts",
            std::to_string(rec.safety_rollouts) + " and " + std::to_string(rec.safety_violations));
    }
    if (rec.rollouts < 0 || !(rec.success >= 0 && rec.success <= 1) ||
        !(rec.safety >= 0 && rec.safety <= 1) || rec.diverged < 0 || rec.diverged > rec.rollouts) {
      ThrowExpected(where_line, "counts >= 0 and probabilities in [0, 1]", line.substr(0, 200));
    }
    JsonReader metrics = c.Object("metrics");
    for (const auto& name : set.metrics) {
      const nlohmann::json& v = metrics.Raw(name);
      if (v.is_null()) {
        rec.metric_mean.push_back(NAN);
        rec.metric_std.push_back(NAN);
      } else {
        JsonReader mv = metrics.Object(name);
        rec.metric_mean.push_back(mv.Number("mean"));
        rec.metric_std.push_back(mv.Number("std"));
        mv.CheckAllRead();
      }
    }
    metrics.CheckAllRead();
    if (c.Has("information") && !c.Raw("information").is_null()) {
      rec.information =
          ReadSquare(c.Raw("information"), set.parameters.size(), c.Where("information"));
    }
    if (c.Has("information_error")) rec.information_error = c.String("information_error");
    c.CheckAllRead();
    set.candidates.push_back(std::move(rec));
  }
  if (static_cast<std::int64_t>(set.candidates.size()) != count.get<std::int64_t>()) {
    ThrowExpected(lines_path, std::to_string(count.get<std::int64_t>()) + " candidates",
                  std::to_string(set.candidates.size()));
  }
  return set;
}

}  // namespace nextbatch
