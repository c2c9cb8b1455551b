// nextbatch simulate: draws the study's candidate scenarios, simulates each under posterior
// samples and writes out/candidates.jsonl (one line per candidate) and out/candidates.json.
#include <cstdio>
#include <filesystem>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/posterior.h"
#include "engine/progress.h"
#include "engine/study.h"
#include "scenarios/candidates.h"
#include "scenarios/sampler.h"
#include "scenarios/scenario_binding.h"
#include "scenarios/scene.h"
#include "scenarios/simulate_json.h"
#include "scenarios/space_json.h"
#include "scenarios/space_source.h"
#include "scenarios/task_json.h"
#include "tools/verbs.h"

namespace nextbatch::tools {

int RunSimulate(const VerbArgs& args) {
  const Study study = Study::Load(args.study);
  ModelPtr model = LoadSceneFile(study.model);
  const mjModel* m = model.get();
  Task task(m, ReadTaskSpec(study.Section("task")));
  SimulateOptions options;
  if (study.HasSection("simulate")) {
    options = ReadSimulateOptions(study.Section("simulate"),
                                  [&study](const std::string& p) { return study.Resolve(p); });
  }
  ScenariosSection scenarios = ReadScenarios(study);
  // without a count of its own, simulate as many candidates as the sampler is asked for
  if (!study.HasSection("simulate") || !study.doc.at("simulate").contains("candidates")) {
    options.candidates = scenarios.sampler.n;
  }
  options.seed = study.seed;
  options.num_threads = args.threads >= 0 ? args.threads : study.threads;
  std::unique_ptr<Sampler> sampler = MakeSampler(scenarios.space, scenarios.sampler);
  ScenarioBinding scenario_binding(m, scenarios.space);
  ParameterBinding parameters(m, study.parameters);
  const Posterior posterior =
      options.calibration.empty()
          ? Posterior::FromSpecs(study.parameters)
          : Posterior::ReadCalibration(options.calibration, study.parameters);
  SpaceSource source(*sampler, scenario_binding);

  EnsureDirectory(args.out);
  const std::string lines = (std::filesystem::path(args.out) / "candidates.jsonl").string();
  std::vector<std::string> metric_names;
  for (const auto& mt : task.outcome().metrics()) metric_names.push_back(mt.name);
  CandidateWriter writer(lines, metric_names);
  ProgressOptions progress_options;
  if (args.quiet) progress_options.terminal = 0;
  Progress bar("simulate", static_cast<long>(options.candidates), progress_options);
  const SimulateSummary summary = SimulateCandidates(
      m, task, parameters, posterior, source, options,
      [&writer](const std::vector<CandidateStats>& c, const ScenarioSource& s) {
        writer.Write(c, s);
      },
      [&bar](std::int64_t done, std::int64_t) { bar.Update(static_cast<long>(done)); });
  writer.Commit();

  nlohmann::json doc;
  doc["schema"] = "nextbatch.candidates/1";
  doc["study"] = study.path;
  doc["seed"] = study.seed;
  doc["candidates_file"] = "candidates.jsonl";
  doc["candidates"] = summary.candidates;
  doc["posterior_samples"] = options.posterior_samples;
  doc["calibration"] =
      options.calibration.empty() ? nlohmann::json(nullptr) : nlohmann::json(options.calibration);
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
      {"mean_success", summary.mean_success},
      {"seconds", summary.seconds}};
  WriteFileAtomic((std::filesystem::path(args.out) / "candidates.json").string(),
                  doc.dump(2) + "\n");
  if (!args.quiet) {
    std::fprintf(stderr,
                 "simulate: %lld candidates x %d samples, %lld diverged, mean success %.3f, "
                 "%.1f s -> %s\n",
                 (long long)summary.candidates, options.posterior_samples,
                 (long long)summary.diverged, summary.mean_success, summary.seconds, lines.c_str());
  }
  if (summary.termination != SimulateSummary::Termination::kDone) {
    std::fprintf(stderr, "nextbatch simulate: %s\n", summary.message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace nextbatch::tools
