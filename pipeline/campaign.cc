#include "pipeline/campaign.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "calibration/calibration.h"
#include "calibration/calibration_json.h"
#include "engine/atomic_file.h"
#include "engine/dataset.h"
#include "engine/digest.h"
#include "engine/episode_io.h"
#include "engine/error.h"
#include "engine/interrupt.h"
#include "engine/json_reader.h"
#include "engine/model.h"
#include "engine/output_set.h"
#include "engine/parallel.h"
#include "engine/parameter.h"
#include "engine/progress.h"
#include "engine/random.h"
#include "engine/svg_plot.h"
#include "pipeline/archive.h"
#include "pipeline/internal.h"
#include "pipeline/pipeline.h"
#include "planners/plan_json.h"
#include "planners/plan_options.h"
#include "scenarios/sampler.h"
#include "scenarios/space_json.h"
#include "scenarios/world.h"

namespace nextbatch {
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Num(double x) { return std::isfinite(x) ? FormatNumber(x) : ""; }
nlohmann::json JsonNum(double x) { return std::isfinite(x) ? nlohmann::json(x) : nullptr; }
std::string Fmt(const char* format, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, x);
  return buf;
}

struct Strategy {
  std::string name;  // as given: "planner", "planner:information", "random"
  std::string base;  // "planner", "coverage", ...
  std::string rule;  // planner:<rule>
  bool planner() const { return base == "planner" || base == "coverage" || base == "uncertainty"; }
  std::string dir() const {
    std::string d = name;
    std::replace(d.begin(), d.end(), ':', '_');
    return d;
  }
};

Strategy ParseStrategy(const std::string& name, const std::string& where) {
  Strategy s;
  s.name = name;
  const std::size_t colon = name.find(':');
  s.base = name.substr(0, colon);
  if (colon != std::string::npos) s.rule = name.substr(colon + 1);
  const auto& known = CampaignStrategies();
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  if (std::find(known.begin(), known.end(), s.base) == known.end())
    ThrowExpected(where, "a strategy (" + list + ", planner:<rule>)", "\"" + name + "\"");
  if (colon != std::string::npos && (s.base != "planner" || s.rule.empty()))
    ThrowExpected(where, "planner:<rule> with a rule name", "\"" + name + "\"");
  return s;
}

// The q-quantile (linear between order statistics) of the finite values; NaN when none.
double Quantile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

std::string Relative(const std::string& path, const std::string& from_dir) {
  return fs::absolute(path)
      .lexically_normal()
      .lexically_relative(fs::absolute(from_dir).lexically_normal())
      .generic_string();
}

// The failure map: a fixed grid over the space; a cell is a failure region when the world's
// success rate on samples drawn uniformly inside it is below 1/2.
struct FailureMap {
  std::vector<int> bins;  // per factor
  int cells = 0;
  std::vector<double> rate;  // per cell; NaN where no feasible sample fell
  std::vector<char> region;  // per cell

  int CellOf(const ScenarioSpace& space, const Scenario& s) const {
    const std::vector<double> u = space.ToUnit(s);
    int cell = 0;
    for (int f = space.dimension() - 1; f >= 0; --f) {
      const int b = std::clamp(static_cast<int>(std::floor(u[f] * bins[f])), 0, bins[f] - 1);
      cell = cell * bins[f] + b;
    }
    return cell;
  }
  int regions() const { return static_cast<int>(std::count(region.begin(), region.end(), 1)); }
};

FailureMap MakeFailureMap(const World& world, const CampaignOptions& o, int threads) {
  const ScenarioSpace& space = world.space();
  FailureMap map;
  map.cells = 1;
  for (const Factor& f : space.factors()) {
    int b = o.failure_grid;
    if (f.kind == FactorKind::kCategorical) b = static_cast<int>(f.levels.size());
    if (f.kind == FactorKind::kInteger) b = std::min(b, f.Cardinality());
    map.bins.push_back(std::max(1, b));
    map.cells *= map.bins.back();
  }
  const int n = map.cells * o.failure_samples;
  std::vector<signed char> ok(n, -1);  // -1 infeasible, else success
  ParallelFor(n, threads, [&](int i, int) {
    const int cell = i / o.failure_samples, k = i % o.failure_samples;
    RandomStream rng(
        world.spec().seed, Stage::kCampaign,
        WorldKey({0xfa11, static_cast<std::uint64_t>(cell), static_cast<std::uint64_t>(k)}));
    std::vector<double> u(space.dimension());
    int rest = cell;
    for (int f = 0; f < space.dimension(); ++f) {
      const int b = rest % map.bins[f];
      rest /= map.bins[f];
      u[f] = std::min((b + rng.Uniform()) / map.bins[f], 1.0 - 1e-12);
    }
    const Scenario s = space.FromUnit(u);
    if (!space.Feasible(s)) return;
    ok[i] = world.Succeeds(s, WorldKey({0xfa11, static_cast<std::uint64_t>(cell),
                                        static_cast<std::uint64_t>(k), 1}))
                ? 1
                : 0;
  });
  map.rate.assign(map.cells, kNaN);
  map.region.assign(map.cells, 0);
  for (int c = 0; c < map.cells; ++c) {
    int count = 0, successes = 0;
    for (int k = 0; k < o.failure_samples; ++k) {
      const signed char v = ok[c * o.failure_samples + k];
      if (v < 0) continue;
      ++count;
      successes += v;
    }
    if (count == 0) continue;
    map.rate[c] = static_cast<double>(successes) / count;
    map.region[c] = map.rate[c] < 0.5 ? 1 : 0;
  }
  return map;
}

// A fixed scenario set (the outcome-model error's test set, the held-out episodes' scenarios):
// uniform draws over the space (feasible ones), keyed by the world's seed and `tag` only, so
// every strategy and round is judged on the same scenarios.
std::vector<Scenario> TestScenarios(const World& world, int count, std::uint64_t tag) {
  const ScenarioSpace& space = world.space();
  std::vector<Scenario> out;
  for (int i = 0; static_cast<int>(out.size()) < count && i < 100 * count; ++i) {
    RandomStream rng(world.spec().seed, Stage::kCampaign,
                     WorldKey({tag, static_cast<std::uint64_t>(i)}));
    std::vector<double> u(space.dimension());
    for (double& x : u) x = std::min(rng.Uniform(), 1.0 - 1e-12);
    const Scenario s = space.FromUnit(u);
    if (space.Feasible(s)) out.push_back(s);
  }
  return out;
}

// Robot seconds of a batch, costed as the planner costs one: each episode, plus every distinct
// setup's change (the sum of the setup factors' cost_seconds).
struct BatchCost {
  double episode_seconds = 0.0;
  double change_seconds = 0.0;
  std::vector<int> setup_factors;
  std::set<std::vector<double>> setups;
  double seconds = 0.0;

  double Next(const Scenario& s) const {
    return episode_seconds + (setup_factors.empty() || setups.count(Key(s)) ? 0.0 : change_seconds);
  }
  void Add(const Scenario& s) {
    seconds += Next(s);
    if (!setup_factors.empty()) setups.insert(Key(s));
  }
  std::vector<double> Key(const Scenario& s) const {
    std::vector<double> k;
    for (int f : setup_factors) k.push_back(s.values[f]);
    return k;
  }
};

BatchCost NewCost(const ScenarioSpace& space, double episode_seconds) {
  BatchCost c;
  c.episode_seconds = episode_seconds;
  for (int f = 0; f < space.dimension(); ++f) {
    if (space.factor(f).tag == FactorTag::kSetup) {
      c.setup_factors.push_back(f);
      c.change_seconds += space.factor(f).cost_seconds;
    }
  }
  return c;
}

// Everything fixed for a campaign.
struct Context {
  const Study* study = nullptr;
  CampaignOptions options;
  std::vector<Strategy> strategies;
  std::unique_ptr<World> world;        // a hidden world, or
  std::unique_ptr<Archive> archive;    // an archive (pipeline/archive.h)
  std::vector<std::string> own_paths;  // the study's own episodes: not in an archive's pool
  double categorical_distance = 1.0;   // the planner's coverage distance, for the archive's pool
  ScenarioSpace space;
  double budget = 0.0;
  double episode_seconds = 0.0;
  int threads = 1;
  FailureMap failures;
  std::vector<Scenario> test;     // the outcome-model error's test set
  std::vector<double> test_rate;  // the world's success rate on it
  // the held-out episodes (ingested as the rounds' are) and what replays them
  std::vector<Episode> held_out;
  EpisodeConditions held_out_conditions;  // their recorded scenarios, as calibrate applies them
  // an archive: held_out holds every archived episode (the reference fit's ingest) and
  // held_out_index each one's index in archive->episodes; a round's held-out measure is taken on
  // the ones its strategy has not collected yet
  std::vector<int> held_out_index;
  ModelPtr model;
  ParameterBinding binding;
  CalibrationOptions calibration;
  double replay_window = 0.3;
  std::vector<std::string> names;  // estimated (not fixed) parameters
  std::vector<int> index;          // their index in study.parameters
  std::vector<double> truth, scale;
  // the outcome-model error per estimate (every study parameter's value): rounds with the same
  // estimate (the priors before any fit; every round of a study that fits nothing) predict the
  // same rates, so each is simulated once; the strategies run one after another
  mutable std::map<std::vector<double>, OutcomeError> outcome_errors;
};

struct RoundRow {
  std::string strategy;
  int seed = 0, round = 0;
  int episodes = 0;
  double robot_seconds = 0.0;
  double param_error = kNaN;
  std::vector<double> errors;  // per estimated parameter
  int failures_found = 0;
  double std_ratio = kNaN;
  double outcome_error = kNaN;     // mean |predicted - true| success rate on the test set
  double outcome_sq_error = kNaN;  // mean squared
  double held_out_error = kNaN;    // the replay measure on the held-out episodes
  int skipped = 0;          // archive: chosen scenarios with no unused episode within the tolerance
  std::string calibration;  // the calibration's status, "prior" before any
  double seconds = 0.0;     // wall time of the round (timings.csv only)
};

struct CollectedEntry {
  std::string path;  // absolute
  nlohmann::json scenario;
  int archive = -1;  // an archive's episode (its own entry and importer), else a native world log
};

// What replays the held-out episodes under a round's estimate, as calibrate replays its own: the
// study's model and parameters, the episodes' recorded scenarios, its calibration and replay
// settings.
void SetUpHeldOutReplay(Context* cx) {
  const Study& base = *cx->study;
  cx->model = LoadModelFile(base.model);
  cx->binding = ParameterBinding(cx->model.get(), base.parameters);
  cx->held_out_conditions = pipeline_internal::StudyConditions(base, cx->model.get(), cx->held_out);
  cx->calibration = ReadCalibrationOptions(base);
  if (base.HasSection("replay") && base.doc.at("replay").is_object())
    cx->replay_window = base.doc.at("replay").value("window_seconds", cx->replay_window);
}

// Collects the held-out episodes (never in any strategy's dataset) and ingests them as the
// rounds' episodes are (the study's dataset settings, the native importer), once, under
// <out>/held_out/; the replay error of each round's estimate on them is the held-out measure.
void MakeHeldOut(Context* cx) {
  const Study& base = *cx->study;
  const std::string dir = fs::absolute(cx->options.out + "/held_out").string();
  EnsureDirectory(dir + "/episodes");
  nlohmann::json dataset =
      base.HasSection("dataset") ? base.doc.at("dataset") : nlohmann::json::object();
  dataset.erase("importers");
  dataset["importer"] = {{"format", "native"}};
  nlohmann::json episodes = nlohmann::json::array();
  const std::vector<Scenario> scenarios = TestScenarios(*cx->world, cx->options.held_out, 0x401d);
  std::vector<Collected> got(scenarios.size());
  ParallelFor(static_cast<int>(scenarios.size()), cx->threads, [&](int i, int) {
    got[i] = cx->world->Collect(scenarios[i], WorldKey({0x401d, static_cast<std::uint64_t>(i), 1}),
                                "held_out_" + std::to_string(i));
  });
  for (const Collected& c : got) {
    if (!c.ok) continue;
    const std::string path = dir + "/episodes/" + c.episode.id + ".json";
    WriteEpisodeJson(c.episode, path);
    episodes.push_back({{"path", Relative(path, dir)}, {"scenario", c.episode.scenario}});
  }
  if (episodes.empty()) return;
  dataset["episodes"] = episodes;
  nlohmann::json doc = base.doc;
  for (const char* section : {"campaign", "replay", "simulate", "planner"}) doc.erase(section);
  doc["model"] = Relative(base.model, dir);
  doc["dataset"] = dataset;
  if (doc.contains("calibration") && doc.at("calibration").is_object())
    doc["calibration"].erase("warm_start");
  WriteFileAtomic(dir + "/study.json", doc.dump(1) + "\n");
  const Study study = Study::Load(dir + "/study.json");
  PipelineOptions po;
  po.out = dir;
  po.threads = cx->threads;
  po.quiet = true;
  po.resume = cx->options.resume;
  for (const StageReport& rep : RunPipeline(study, po, StageId::kIngest)) {
    if (rep.exit_code != 0)
      throw RunError("held-out episodes: " + rep.stage + " failed: " + rep.message);
  }
  Dataset d = ReadDatasetFiles(pipeline_internal::SetDir(StageId::kIngest, po));
  DropEstimatedVelocities(&d);
  cx->held_out = std::move(d.episodes);
  SetUpHeldOutReplay(cx);
}

// An archive's held-out measure: every archived episode, as the reference fit ingested them
// (<reference>/ingest), with what replays them; a round scores the ones not yet collected.
void UseArchiveHeldOut(Context* cx, const std::string& reference_dir) {
  PipelineOptions po;
  po.out = reference_dir;
  Dataset d = ReadDatasetFiles(pipeline_internal::SetDir(StageId::kIngest, po));
  DropEstimatedVelocities(&d);
  std::map<std::string, int> index;
  for (std::size_t i = 0; i < cx->archive->episodes.size(); ++i)
    index[cx->archive->episodes[i].id] = static_cast<int>(i);
  for (Episode& e : d.episodes) {
    const auto it = index.find(e.id);
    if (it == index.end())
      throw RunError(reference_dir + ": the reference fit's episode '" + e.id +
                     "' is not in the archive");
    cx->held_out_index.push_back(it->second);
    cx->held_out.push_back(std::move(e));
  }
  SetUpHeldOutReplay(cx);
}

nlohmann::json RoundStudy(const Context& cx, const Strategy& s, std::uint64_t seed,
                          const std::string& dir, const std::vector<CollectedEntry>& collected,
                          const std::string& warm_start) {
  const Study& base = *cx.study;
  nlohmann::json doc = base.doc;
  doc.erase("campaign");
  doc.erase("replay");
  doc["model"] = Relative(base.model, dir);
  doc["seed"] = seed;
  const bool own_dataset = base.HasSection("dataset");
  if (own_dataset || !collected.empty()) {
    nlohmann::json dataset = own_dataset ? base.doc.at("dataset") : nlohmann::json::object();
    nlohmann::json episodes = nlohmann::json::array();
    if (own_dataset) {
      for (nlohmann::json e : base.doc.at("dataset").value("episodes", nlohmann::json::array())) {
        for (const char* key : {"path", "glob"}) {
          if (e.contains(key) && e.at(key).is_string())
            e[key] = Relative(base.Resolve(e.at(key).get<std::string>()), dir);
        }
        episodes.push_back(e);
      }
    } else {
      dataset["importer"] = {{"format", "native"}};
    }
    const bool native = std::any_of(collected.begin(), collected.end(),
                                    [](const CollectedEntry& c) { return c.archive < 0; });
    if (own_dataset && native) {
      dataset["importers"]["campaign_native"] = {{"format", "native"}};
    }
    for (const CollectedEntry& c : collected) {
      if (c.archive >= 0) continue;
      nlohmann::json e = {{"path", Relative(c.path, dir)}, {"scenario", c.scenario}};
      if (own_dataset) e["importer"] = "campaign_native";
      episodes.push_back(e);
    }
    dataset["episodes"] = episodes;
    for (const CollectedEntry& c : collected) {
      if (c.archive >= 0)
        AddArchiveEpisode(*cx.archive, cx.archive->episodes[c.archive], dir, &dataset);
    }
    doc["dataset"] = dataset;
  }
  nlohmann::json calibration =
      base.HasSection("calibration") ? base.doc.at("calibration") : nlohmann::json::object();
  calibration["max_iterations"] = cx.options.max_iterations;
  // a batch that does not excite a parameter is a result to measure, not a reason to stop: the
  // fit keeps its prior there
  calibration["preflight_min_effect"] = 0;
  if (!warm_start.empty()) {
    calibration["warm_start"] = Relative(warm_start, dir);
  } else if (calibration.contains("warm_start") && calibration.at("warm_start").is_string()) {
    calibration["warm_start"] =
        Relative(base.Resolve(calibration.at("warm_start").get<std::string>()), dir);
  }
  doc["calibration"] = calibration;
  nlohmann::json simulate =
      base.HasSection("simulate") ? base.doc.at("simulate") : nlohmann::json::object();
  simulate.erase("calibration");  // each round simulates under its own calibration
  if (cx.options.simulate_candidates > 0) simulate["candidates"] = cx.options.simulate_candidates;
  if (cx.options.simulate_posterior_samples > 0)
    simulate["posterior_samples"] = cx.options.simulate_posterior_samples;
  // coverage and uncertainty give the information component no weight: not computing it saves
  // most of the simulate stage's time
  if (s.base == "coverage" || s.base == "uncertainty") simulate["information"] = false;
  doc["simulate"] = simulate;
  nlohmann::json planner =
      base.HasSection("planner") ? base.doc.at("planner") : nlohmann::json::object();
  planner["budget_seconds"] = cx.budget;
  if (s.base == "coverage" || s.base == "uncertainty") {
    nlohmann::json weights = planner.value("weights", nlohmann::json::object());
    weights["coverage"] = s.base == "coverage" ? 1 : 0;
    weights["uncertainty"] = s.base == "uncertainty" ? 1 : 0;
    weights["information"] = 0;
    planner["weights"] = weights;
  }
  if (!s.rule.empty()) planner["rule"] = s.rule;
  doc["planner"] = planner;
  return doc;
}

// The next batch of a baseline strategy: scenarios in the strategy's order while the budget
// lasts (the first that does not fit ends the batch).
std::vector<Scenario> BaselineBatch(const Context& cx, const Strategy& s, int seed, int round,
                                    std::vector<std::uint64_t>* grid_order,
                                    std::size_t* grid_cursor) {
  BatchCost cost = NewCost(cx.space, cx.episode_seconds);
  std::vector<Scenario> batch;
  const std::uint64_t key = WorldKey(
      {cx.study->seed, static_cast<std::uint64_t>(seed), static_cast<std::uint64_t>(round)});
  auto take = [&](const Scenario& sc) {
    if (cost.seconds + cost.Next(sc) > cx.budget + 1e-9) return false;
    cost.Add(sc);
    batch.push_back(sc);
    return true;
  };
  SamplerOptions so;
  so.seed = key;
  if (s.base == "random") {
    so.kind = SamplerKind::kUniform;
    const std::unique_ptr<Sampler> sampler = MakeSampler(cx.space, so);
    for (std::uint64_t i = 0;; ++i) {
      if (!take(sampler->Draw(i, 1).at(0))) break;
    }
  } else if (s.base == "lhs") {
    // a design of as many points as fit when every one brings its own setup
    so.kind = SamplerKind::kLatinHypercube;
    so.n = std::max(
        1, static_cast<int>(std::floor(
               cx.budget / (cx.episode_seconds + NewCost(cx.space, 0).change_seconds) + 1e-9)));
    const std::unique_ptr<Sampler> sampler = MakeSampler(cx.space, so);
    for (const Scenario& sc : sampler->Draw(0, so.n)) {
      if (!take(sc)) break;
    }
  } else {  // grid
    so.kind = SamplerKind::kGrid;
    so.grid_levels = cx.options.grid_levels;
    so.seed = cx.study->seed;
    const std::unique_ptr<Sampler> sampler = MakeSampler(cx.space, so);
    const std::vector<Scenario> points =
        sampler->Draw(0, static_cast<int>(std::min<std::uint64_t>(sampler->capacity(), 1000000)));
    if (grid_order->empty()) {
      // a seeded random order (Fisher-Yates), renewed each time the grid has been visited
      grid_order->resize(points.size());
      for (std::size_t i = 0; i < points.size(); ++i) (*grid_order)[i] = i;
      RandomStream rng(cx.study->seed, Stage::kCampaign,
                       WorldKey({0x9e1d, static_cast<std::uint64_t>(seed)}));
      for (std::size_t i = points.size(); i > 1; --i)
        std::swap((*grid_order)[i - 1], (*grid_order)[rng.UniformInt(i)]);
    }
    for (;;) {
      const Scenario& sc = points[(*grid_order)[*grid_cursor % points.size()]];
      if (!take(sc)) break;
      ++*grid_cursor;
    }
  }
  return batch;
}

// The planner section's options. Without a task (an archive campaign of baselines only) no horizon
// gives an episode's robot time, so planner.episode_seconds must.
PlanOptions ArchivePlanOptions(const Study& study) {
  if (study.HasSection("task")) return ReadPlanOptions(study);
  if (!study.HasSection(kPlannerSection) ||
      !study.doc.at(kPlannerSection).contains("episode_seconds"))
    ThrowExpected(study.path + ": planner.episode_seconds",
                  "the robot time of one episode (no task section gives a horizon)", "none");
  PlanOptions o = ReadPlanOptions(study.Section(kPlannerSection), 0.0);
  if (std::string e = o.Validate(); !e.empty()) throw InputError(study.path + ": " + e);
  return o;
}

std::uint64_t NameKey(const std::string& name) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Runs one strategy and seed through every round; returns a row per round.
std::vector<RoundRow> RunOne(const Context& cx, const Strategy& s, int seed,
                             const std::function<void(const RoundRow&)>& progress) {
  const CampaignOptions& o = cx.options;
  const std::string run_dir =
      (fs::path(o.out) / "runs" / s.dir() / ("seed" + std::to_string(seed))).string();
  EnsureDirectory(run_dir + "/episodes");
  std::vector<CollectedEntry> collected;
  std::vector<RoundRow> rows;
  std::set<int> found;  // failure regions found so far
  int episodes = 0;
  double robot_seconds = 0.0;
  std::string warm_start;
  std::map<std::string, double> forecast;  // the last plan's std_after
  std::vector<std::uint64_t> grid_order;
  std::size_t grid_cursor = 0;
  std::unique_ptr<ArchivePool> pool;
  int skipped = 0;
  if (cx.archive) {
    std::vector<Scenario> held;
    for (const ArchiveEpisode& e : cx.archive->episodes) held.push_back(e.scenario);
    pool = std::make_unique<ArchivePool>(held, cx.space, cx.categorical_distance,
                                         cx.archive->tolerance);
    // round 0's episodes are the study's own: never collected again
    for (std::size_t i = 0; i < cx.archive->episodes.size(); ++i) {
      if (std::find(cx.own_paths.begin(), cx.own_paths.end(), cx.archive->episodes[i].path) !=
          cx.own_paths.end())
        pool->Remove(static_cast<int>(i));
    }
  }
  for (int r = 0; r <= o.rounds; ++r) {
    ThrowIfInterrupted("stopped before " + s.name + " seed " + std::to_string(seed) + " round " +
                       std::to_string(r));
    const auto t0 = std::chrono::steady_clock::now();
    const std::string dir = run_dir + "/round" + std::to_string(r);
    EnsureDirectory(dir);
    const std::uint64_t study_seed = WorldKey({cx.study->seed, static_cast<std::uint64_t>(seed),
                                               static_cast<std::uint64_t>(r)}) %
                                     1000000000ULL;
    const nlohmann::json doc = RoundStudy(cx, s, study_seed, dir, collected, warm_start);
    const std::string study_path = dir + "/study.json";
    WriteFileAtomic(study_path, doc.dump(1) + "\n");
    const Study study = Study::Load(study_path);
    PipelineOptions po;
    po.out = dir;
    po.threads = cx.threads;
    po.quiet = true;
    po.resume = o.resume;
    const bool plan = s.planner() && r < o.rounds;
    const std::vector<StageId> stages =
        StagesOf(study, plan ? StageId::kPlan : StageId::kCalibrate);
    const std::string round_name =
        s.name + " seed " + std::to_string(seed) + " round " + std::to_string(r);
    std::vector<StageReport> reports;
    try {
      if (!stages.empty())
        reports = RunPipeline(study, po, plan ? StageId::kPlan : StageId::kCalibrate);
    } catch (const Interrupted& e) {
      throw Interrupted(e.signal(), round_name + ": " + e.what());
    }
    for (const StageReport& rep : reports) {
      // what a stage did with an earlier run's checkpoint (resumed, discarded, made from other
      // inputs); --resume's "no checkpoint" would be said by every round
      for (const std::string& note : rep.notes) {
        if (note.rfind("--resume: no checkpoint", 0) != 0)
          std::fprintf(stderr, "campaign: %s: %s: %s\n", round_name.c_str(), rep.stage.c_str(),
                       note.c_str());
      }
      if (rep.exit_code != 0)
        throw RunError(round_name + ": " + rep.stage + " failed: " + rep.message);
    }
    RoundRow row;
    row.strategy = s.name;
    row.seed = seed;
    row.round = r;
    row.episodes = episodes;
    row.robot_seconds = robot_seconds;
    row.failures_found = static_cast<int>(found.size());
    row.skipped = skipped;
    row.calibration = "prior";
    // the estimate: this round's calibration, else the priors
    std::vector<double> estimate;
    for (int i : cx.index) estimate.push_back(cx.study->parameters[i].PriorMean());
    const std::string cal = dir + "/calibrate/calibration.json";
    if (std::find(stages.begin(), stages.end(), StageId::kCalibrate) != stages.end()) {
      const CalibrationFile file = ReadCalibrationFile(cal);
      row.calibration = file.status;
      double ratio_sum = 0;
      int ratio_count = 0;
      for (std::size_t k = 0; k < cx.names.size(); ++k) {
        const auto it = std::find(file.names.begin(), file.names.end(), cx.names[k]);
        if (it == file.names.end()) continue;
        const int j = static_cast<int>(it - file.names.begin());
        estimate[k] = file.value[j];
        const double honest = file.honest_covariance.rows() > j
                                  ? std::sqrt(std::max(0.0, file.honest_covariance(j, j)))
                                  : file.std[j];
        const auto f = forecast.find(cx.names[k]);
        if (f != forecast.end() && f->second > 0 && std::isfinite(honest)) {
          ratio_sum += honest / f->second;
          ++ratio_count;
        }
      }
      if (ratio_count > 0) row.std_ratio = ratio_sum / ratio_count;
      warm_start = cal;
    }
    double sum = 0;
    for (std::size_t k = 0; k < cx.names.size(); ++k) {
      row.errors.push_back(std::abs(estimate[k] - cx.truth[k]) / cx.scale[k]);
      sum += row.errors.back();
    }
    if (!cx.names.empty()) row.param_error = sum / cx.names.size();
    if (!cx.test.empty()) {
      // the calibrated model's (posterior mean's) predicted success rates: the same code for
      // every strategy, so planners and baselines are judged alike
      std::vector<double> values;
      for (const ParameterSpec& p : cx.study->parameters) values.push_back(p.initial);
      for (std::size_t k = 0; k < cx.index.size(); ++k) values[cx.index[k]] = estimate[k];
      auto it = cx.outcome_errors.find(values);
      if (it == cx.outcome_errors.end()) {
        const World model(*cx.study, ModelWorldSpec(*cx.study, values, cx.world->spec().seed + 1));
        it = cx.outcome_errors
                 .emplace(values,
                          CompareRates(cx.test_rate, SuccessRates(model, cx.test, o.test_samples,
                                                                  0x7e5702, cx.threads)))
                 .first;
      }
      row.outcome_error = it->second.mean_abs;
      row.outcome_sq_error = it->second.mean_sq;
    }
    if (!cx.held_out.empty()) {
      Eigen::VectorXd v = cx.binding.Initial();
      for (std::size_t k = 0; k < cx.index.size(); ++k) v[cx.index[k]] = estimate[k];
      // an archive: the episodes this strategy has not collected (its own pool's unused ones)
      std::vector<Episode> unused;
      if (cx.archive) {
        for (std::size_t i = 0; i < cx.held_out.size(); ++i)
          if (!pool->used(cx.held_out_index[i])) unused.push_back(cx.held_out[i]);
      }
      const std::vector<Episode>& held = cx.archive ? unused : cx.held_out;
      if (!held.empty()) {
        row.held_out_error =
            ComputeReplayError(cx.model.get(), cx.binding, v, held, cx.replay_window, cx.threads,
                               cx.calibration.control_hold, cx.calibration.episode_scale,
                               cx.calibration.state_window, &cx.held_out_conditions)
                .median;
      }
    }
    // the next batch
    if (r < o.rounds) {
      std::vector<Scenario> batch;
      forecast.clear();
      if (s.planner()) {
        const Plan p = ReadPlan(dir + "/plan", cx.space);
        for (const PlanItem& it : p.items)
          for (int k = 0; k < it.repeats; ++k) batch.push_back(it.scenario);
        forecast = p.expected.std_after;
      } else {
        batch = BaselineBatch(cx, s, seed, r, &grid_order, &grid_cursor);
      }
      BatchCost cost = NewCost(cx.space, cx.episode_seconds);
      if (cx.archive) {
        // each chosen scenario, in the batch's order, takes the nearest unused archived episode
        // within the tolerance; one beyond it is skipped (no episode, no robot time) and counted
        for (const Scenario& sc : batch) {
          const ArchivePool::Match m = pool->Take(sc);
          if (m.index < 0) {
            ++skipped;
            continue;
          }
          const ArchiveEpisode& e = cx.archive->episodes[m.index];
          cost.Add(e.scenario);
          collected.push_back({e.path, cx.space.ToJson(e.scenario), m.index});
          ++episodes;
        }
        batch.clear();  // below: the world's collection, now of nothing; the cost is added once
      }
      for (const Scenario& sc : batch) cost.Add(sc);
      const std::size_t collected_before = collected.size();
      std::vector<Collected> got(batch.size());
      const std::uint64_t skey = NameKey(s.name);
      ParallelFor(static_cast<int>(batch.size()), cx.threads, [&](int i, int) {
        const std::string id = "r" + std::to_string(r + 1) + "_" + std::to_string(i);
        got[i] = cx.world->Collect(
            batch[i],
            WorldKey({skey, static_cast<std::uint64_t>(seed), static_cast<std::uint64_t>(r),
                      static_cast<std::uint64_t>(i)}),
            id);
      });
      for (std::size_t i = 0; i < got.size(); ++i) {
        if (!got[i].success) {
          const int cell = cx.failures.CellOf(cx.space, batch[i]);
          if (cx.failures.region[cell]) found.insert(cell);
        }
        if (!got[i].ok) continue;  // a diverged world episode leaves no log
        const std::string path =
            fs::absolute(run_dir + "/episodes/" + got[i].episode.id + ".json").string();
        WriteEpisodeJson(got[i].episode, path);
        if (collected.size() == collected_before)
          FaultPoint("campaign.collected." + s.dir() + "." + std::to_string(seed) + "." +
                     std::to_string(r));
        collected.push_back({path, got[i].episode.scenario});
      }
      episodes += static_cast<int>(batch.size());
      robot_seconds += cost.seconds;
    }
    row.seconds = pipeline_internal::Since(t0);
    progress(row);
    rows.push_back(row);
    FaultPoint("campaign.round." + s.dir() + "." + std::to_string(seed) + "." + std::to_string(r));
  }
  return rows;
}

struct Summary {
  double median = kNaN, low = kNaN, high = kNaN;
};
Summary Summarise(const std::vector<double>& v) {
  return {Quantile(v, 0.5), Quantile(v, 0.05), Quantile(v, 0.95)};
}

std::string Plot(const Context& cx, const std::vector<RoundRow>& rows,
                 const std::function<double(const RoundRow&)>& y, const std::string& title,
                 const std::string& y_label) {
  static const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                  "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  SvgPanel panel;
  panel.title = title;
  panel.y_label = y_label;
  for (std::size_t k = 0; k < cx.strategies.size(); ++k) {
    const std::string& name = cx.strategies[k].name;
    std::vector<double> x, med, lo, hi;
    for (int r = 0; r <= cx.options.rounds; ++r) {
      std::vector<double> xs, ys;
      for (const RoundRow& row : rows) {
        if (row.strategy != name || row.round != r) continue;
        xs.push_back(row.robot_seconds / 3600.0);
        ys.push_back(y(row));
      }
      const Summary sy = Summarise(ys);
      x.push_back(Quantile(xs, 0.5));
      med.push_back(sy.median);
      lo.push_back(sy.low);
      hi.push_back(sy.high);
    }
    const std::string color = kColors[k % 8];
    panel.bands.push_back({name + " 5-95 %", color, {x}, {lo}, {hi}});
    panel.lines.push_back({name, color, {x}, {med}});
  }
  return SvgPlot({panel}, title, "robot time (h, median over seeds)");
}

// Every summary file a campaign may write into <out>/ besides campaign.json; which of them a run
// writes depends on its reality and study (an archive has no failure map, a study that fits
// nothing no parameter error).
const char* const kSummaryFiles[] = {"rounds.csv",        "summary.csv",  "timings.csv",
                                     "param_error.svg",   "failures.svg", "outcome_error.svg",
                                     "held_out_error.svg"};

// Moves the staged summary files into <out>/ in order, campaign.json (the last) removed first,
// and removes the summary files of an earlier campaign in this folder that this one does not
// write (an archive's campaign after a world's would otherwise stand beside its failures.svg):
// a reader who finds campaign.json finds exactly the files of the same run beside it, which its
// `files` names with their digests.
void PublishSummary(const OutputSet& lock,
                    const std::vector<std::pair<std::string, std::string>>& files) {
  for (std::size_t k = 0; k < files.size(); ++k) {
    WriteFileAtomic(lock.File(files[k].first), files[k].second);
    FaultPoint("campaign.summary." + std::to_string(k + 1));
  }
  const std::string marker = (fs::path(lock.root()) / files.back().first).string();
  std::error_code ec;
  fs::remove(marker, ec);
  if (ec) throw RunError(marker + ": cannot replace: " + ec.message());
  for (const char* name : kSummaryFiles) {
    const bool written =
        std::any_of(files.begin(), files.end(), [name](const auto& f) { return f.first == name; });
    if (written) continue;
    const std::string stale = (fs::path(lock.root()) / name).string();
    fs::remove(stale, ec);
    if (ec) throw RunError(stale + ": cannot remove an earlier campaign's file: " + ec.message());
  }
  for (std::size_t k = 0; k < files.size(); ++k) {
    const std::string to = (fs::path(lock.root()) / files[k].first).string();
    fs::rename(lock.File(files[k].first), to, ec);
    if (ec) throw RunError(to + ": cannot publish: " + ec.message());
    FaultPoint("campaign.published." + std::to_string(k + 1));
  }
}

// A name that a killed run leaves: WriteFileAtomic's "<name>.tmp.<pid>", a stage's staging folder
// ".<stage>.staging.<pid>[.old]", its lock ".<stage>.lock" or its checkpoint ".<stage>.resume".
bool IsLeftover(const std::string& name) {
  const std::size_t tmp = name.rfind(".tmp.");
  if (tmp != std::string::npos && tmp + 5 < name.size() &&
      name.find_first_not_of("0123456789", tmp + 5) == std::string::npos)
    return true;
  if (name.empty() || name[0] != '.') return false;
  auto ends_with = [&name](const std::string& tail) {
    return name.size() >= tail.size() &&
           name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return name.find(".staging.") != std::string::npos || ends_with(".lock") || ends_with(".resume");
}

// Removes what killed runs left where the campaign writes: under <out>/runs and <out>/held_out,
// and the summary files' temporary files in <out>/. Called with the campaign's lock held once
// every round has finished, so no stage of the campaign is using any of it (an unfinished
// simulation's checkpoint is gone once its stage published or was reused).
void RemoveLeftovers(const std::string& out,
                     const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<fs::path> doomed;
  std::error_code ec;
  for (const char* sub : {"runs", "held_out"}) {
    const fs::path root = fs::path(out) / sub;
    if (!fs::is_directory(root, ec)) continue;
    for (auto it = fs::recursive_directory_iterator(root, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!IsLeftover(it->path().filename().string())) continue;
      doomed.push_back(it->path());
      it.disable_recursion_pending();
    }
  }
  for (const auto& entry : fs::directory_iterator(out, ec)) {
    const std::string name = entry.path().filename().string();
    for (const auto& f : files) {
      if (name.rfind(f.first + ".tmp.", 0) == 0 && IsLeftover(name)) doomed.push_back(entry.path());
    }
  }
  for (const fs::path& p : doomed) fs::remove_all(p, ec);
}

}  // namespace

WorldSpec ModelWorldSpec(const Study& study, const std::vector<double>& values,
                         std::uint64_t seed) {
  WorldSpec w;
  w.file = study.path;
  w.name = "model";
  w.truth = values;
  w.seed = seed;
  if (study.HasSection("simulate")) {
    const nlohmann::json& sim = study.doc.at("simulate");
    if (sim.contains("nuisance") && sim.at("nuisance").is_object()) {
      w.start_qpos_std = sim.at("nuisance").value("qpos_std", 0.0);
      w.start_qvel_std = sim.at("nuisance").value("qvel_std", 0.0);
    }
  }
  return w;
}

std::vector<double> SuccessRates(const World& world, const std::vector<Scenario>& scenarios,
                                 int samples, std::uint64_t stream, int threads) {
  const int n = static_cast<int>(scenarios.size()) * samples;
  std::vector<char> ok(n, 0);
  ParallelFor(n, threads, [&](int i, int) {
    ok[i] = world.Succeeds(scenarios[i / samples],
                           WorldKey({stream, static_cast<std::uint64_t>(i / samples),
                                     static_cast<std::uint64_t>(i % samples)}))
                ? 1
                : 0;
  });
  std::vector<double> rate(scenarios.size(), 0.0);
  for (int i = 0; i < n; ++i) rate[i / samples] += ok[i];
  for (double& r : rate) r /= samples;
  return rate;
}

OutcomeError CompareRates(const std::vector<double>& truth, const std::vector<double>& predicted) {
  if (truth.empty() || truth.size() != predicted.size())
    throw LogicError("CompareRates: rate vectors empty or of different sizes");
  OutcomeError e;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const double d = predicted[i] - truth[i];
    e.mean_abs += std::abs(d);
    e.mean_sq += d * d;
  }
  e.mean_abs /= truth.size();
  e.mean_sq /= truth.size();
  return e;
}

const std::vector<std::string>& CampaignStrategies() {
  static const std::vector<std::string> names = {"planner", "coverage", "uncertainty",
                                                 "random",  "lhs",      "grid"};
  return names;
}

std::string CampaignOptions::Validate() const {
  if (reality.empty()) return "--reality: expected a world or archive file, got none";
  if (out.empty()) return "-o: expected an output folder, got an empty path";
  if (rounds < 1) return Expected("campaign.rounds", "a count >= 1", std::to_string(rounds));
  if (seeds < 1) return Expected("campaign.seeds", "a count >= 1", std::to_string(seeds));
  if (strategies.empty()) return Expected("campaign.strategies", "at least one strategy", "none");
  std::set<std::string> seen;
  for (const auto& s : strategies) {
    try {
      ParseStrategy(s, "campaign.strategies");
    } catch (const InputError& e) {
      return e.what();
    }
    if (!seen.insert(s).second)
      return Expected("campaign.strategies", "each strategy once", "\"" + s + "\" twice");
  }
  if (!std::isfinite(budget_seconds) || budget_seconds < 0)
    return Expected(budget_source.empty() ? "campaign.budget_seconds" : budget_source,
                    "a number of seconds > 0", FormatNumber(budget_seconds));
  if (max_iterations < 1)
    return Expected("campaign.max_iterations", "a count >= 1", std::to_string(max_iterations));
  if (simulate_candidates < 0)
    return Expected("campaign.simulate.candidates", "a count >= 1",
                    std::to_string(simulate_candidates));
  if (simulate_posterior_samples < 0)
    return Expected("campaign.simulate.posterior_samples", "a count >= 1",
                    std::to_string(simulate_posterior_samples));
  if (failure_grid < 1 || failure_grid > 100)
    return Expected("campaign.failure_grid", "bins per factor in [1, 100]",
                    std::to_string(failure_grid));
  if (failure_samples < 1)
    return Expected("campaign.failure_samples", "a count >= 1", std::to_string(failure_samples));
  if (grid_levels < 2)
    return Expected("campaign.grid_levels", "a count >= 2", std::to_string(grid_levels));
  if (test_scenarios < 0)
    return Expected("campaign.test_scenarios", "a count >= 0", std::to_string(test_scenarios));
  if (test_samples < 1)
    return Expected("campaign.test_samples", "a count >= 1", std::to_string(test_samples));
  if (held_out < 0) return Expected("campaign.held_out", "a count >= 0", std::to_string(held_out));
  if (threads < -1) return Expected("-j", "a thread count >= 0", std::to_string(threads));
  return "";
}

CampaignOptions ReadCampaignOptions(const Study& study) {
  CampaignOptions o;
  if (!study.HasSection("campaign")) return o;
  const JsonReader r = study.Section("campaign");
  r.CheckKnownKeys({"rounds", "seeds", "strategies", "budget_seconds", "max_iterations", "simulate",
                    "failure_grid", "failure_samples", "grid_levels", "test_scenarios",
                    "test_samples", "held_out"});
  auto count = [&r](const char* key, int fallback, int least) {
    const int v = r.Integer(key, fallback);
    if (v < least)
      ThrowExpected(r.Where(key), "a count >= " + std::to_string(least), std::to_string(v));
    return v;
  };
  o.rounds = count("rounds", o.rounds, 1);
  o.seeds = count("seeds", o.seeds, 1);
  if (r.Has("strategies")) {
    o.strategies = r.Strings("strategies");
    for (const auto& s : o.strategies) ParseStrategy(s, r.Where("strategies"));
  }
  if (r.Has("budget_seconds")) {
    o.budget_seconds = r.Number("budget_seconds");
    if (!std::isfinite(o.budget_seconds) || !(o.budget_seconds > 0))
      ThrowExpected(r.Where("budget_seconds"), "a number of seconds > 0",
                    FormatNumber(o.budget_seconds));
  }
  o.max_iterations = count("max_iterations", o.max_iterations, 1);
  if (r.Has("simulate")) {
    const JsonReader s = r.Object("simulate");
    s.CheckKnownKeys({"candidates", "posterior_samples"});
    auto positive = [&s](const char* key) {
      const int v = s.Integer(key, 0);
      if (s.Has(key) && v < 1) ThrowExpected(s.Where(key), "a count >= 1", std::to_string(v));
      return v;
    };
    o.simulate_candidates = positive("candidates");
    o.simulate_posterior_samples = positive("posterior_samples");
    s.CheckAllRead();
  }
  o.failure_grid = count("failure_grid", o.failure_grid, 1);
  o.failure_samples = count("failure_samples", o.failure_samples, 1);
  o.grid_levels = count("grid_levels", o.grid_levels, 2);
  o.test_scenarios = count("test_scenarios", o.test_scenarios, 0);
  o.test_samples = count("test_samples", o.test_samples, 1);
  o.held_out = count("held_out", o.held_out, 0);
  r.CheckAllRead();
  if (std::string e = o.Validate(); !e.empty() && e.rfind("--reality", 0) != 0)
    throw InputError(study.path + ": " + e);
  return o;
}

CampaignResult RunCampaign(const Study& study, const CampaignOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (std::string e = options.Validate(); !e.empty()) throw InputError(e);
  // everything that can be refused is checked before anything is written
  Context cx;
  cx.study = &study;
  cx.options = options;
  for (const auto& s : options.strategies)
    cx.strategies.push_back(ParseStrategy(s, "--strategies"));
  const bool archive = IsArchiveFile(options.reality);
  if (!study.HasSection("scenarios") || (!archive && !study.HasSection("task"))) {
    ThrowExpected(study.path, "scenarios and task sections (what a campaign collects)", "none");
  }
  if (archive) {
    for (const Strategy& s : cx.strategies) {
      if (s.planner() && !study.HasSection("task"))
        ThrowExpected(study.path + ": task",
                      "a task section for the planner strategies (\"" + s.name + "\")", "none");
    }
    cx.space = ReadScenarios(study).space;
    cx.archive = std::make_unique<Archive>(ReadArchiveFile(options.reality, study, cx.space));
    cx.own_paths = StudyEpisodePaths(study);
  } else {
    cx.world = std::make_unique<World>(study, ReadWorldFile(options.reality, study));
    cx.space = cx.world->space();
  }
  pipeline_internal::CheckPlanSection(study);
  const PlanOptions plan_options = ArchivePlanOptions(study);
  cx.categorical_distance = plan_options.coverage.categorical_distance;
  cx.budget = options.budget_seconds > 0 ? options.budget_seconds : plan_options.budget_seconds;
  cx.episode_seconds = plan_options.episode_seconds;
  if (cx.budget < cx.episode_seconds + NewCost(cx.space, 0).change_seconds) {
    const std::string where = options.budget_source.empty()
                                  ? study.path + ": campaign.budget_seconds"
                                  : options.budget_source;
    ThrowExpected(where,
                  "room for one episode with its setup (" +
                      FormatNumber(cx.episode_seconds + NewCost(cx.space, 0).change_seconds) +
                      " s)",
                  FormatNumber(cx.budget));
  }
  cx.threads = ResolveThreads(options.threads >= 0 ? options.threads : study.threads);
  for (std::size_t i = 0; i < study.parameters.size(); ++i) {
    const ParameterSpec& p = study.parameters[i];
    if (p.fixed) continue;
    cx.names.push_back(p.name);
    cx.index.push_back(static_cast<int>(i));
    cx.truth.push_back(cx.world ? cx.world->spec().truth[i] : kNaN);
    // the error's unit: the prior std, else the std of a uniform over the bounds
    double scale = p.PriorStd();
    if (!(scale > 0) && std::isfinite(p.upper - p.lower) && p.upper > p.lower)
      scale = (p.upper - p.lower) / std::sqrt(12.0);
    cx.scale.push_back(scale > 0 ? scale : 1.0);
  }
  // one campaign per folder: the lock also makes removing what killed runs left safe; its
  // staging folder holds the summary files until they are moved into place
  OutputSet lock(options.out, "campaign");
  const bool quiet = options.quiet;
  ArchiveReference reference;
  if (cx.world) {
    if (!quiet) std::fprintf(stderr, "campaign: the world's failure map...\n");
    cx.failures = MakeFailureMap(*cx.world, options, cx.threads);
    if (!quiet) {
      std::fprintf(stderr, "campaign: %d of %d cells are failure regions (%s)\n",
                   cx.failures.regions(), cx.failures.cells,
                   FormatDuration(pipeline_internal::Since(t0)).c_str());
    }
    cx.test = TestScenarios(*cx.world, options.test_scenarios, 0x7e57);
    cx.test_rate = SuccessRates(*cx.world, cx.test, options.test_samples, 0x7e5701, cx.threads);
    EnsureDirectory(options.out);
  } else {
    // no hidden truth: the parameter error is measured against a fit on the whole archive
    EnsureDirectory(options.out);
    if (!quiet) {
      std::fprintf(stderr, "campaign: archive %s, %zu episodes; the reference fit on all...\n",
                   cx.archive->name.c_str(), cx.archive->episodes.size());
    }
    reference = FitArchiveReference(study, *cx.archive,
                                    (fs::path(options.out) / "reference").string(), cx.threads);
    for (std::size_t k = 0; k < cx.index.size(); ++k) cx.truth[k] = reference.values[cx.index[k]];
    UseArchiveHeldOut(&cx, (fs::path(options.out) / "reference").string());
    if (!quiet) {
      std::fprintf(stderr, "campaign: reference fit %s (%s)\n", reference.status.c_str(),
                   FormatDuration(pipeline_internal::Since(t0)).c_str());
    }
  }
  std::vector<RoundRow> rows;
  const long total = static_cast<long>(cx.strategies.size()) * options.seeds * (options.rounds + 1);
  long done = 0;
  try {
    if (cx.world && options.held_out > 0) MakeHeldOut(&cx);
    for (const Strategy& s : cx.strategies) {
      for (int seed = 0; seed < options.seeds; ++seed) {
        const std::vector<RoundRow> got = RunOne(cx, s, seed, [&](const RoundRow& row) {
          ++done;
          if (quiet) return;
          const double elapsed = pipeline_internal::Since(t0);
          std::fprintf(
              stderr,
              "campaign: %s seed %d/%d round %d/%d: %d episodes, %s robot s, param error "
              "%s, %s %d/%d (%s; %s elapsed, ~%s left)\n",
              s.name.c_str(), seed + 1, options.seeds, row.round, options.rounds, row.episodes,
              Num(row.robot_seconds).c_str(),
              cx.names.empty() ? "- (nothing fitted)" : Fmt("%.3g", row.param_error).c_str(),
              cx.archive ? "skipped (of chosen)" : "failures",
              cx.archive ? row.skipped : row.failures_found,
              cx.archive ? row.skipped + row.episodes : cx.failures.regions(),
              FormatDuration(row.seconds).c_str(), FormatDuration(elapsed).c_str(),
              FormatDuration(elapsed / done * (total - done)).c_str());
        });
        rows.insert(rows.end(), got.begin(), got.end());
      }
    }
    ThrowIfInterrupted("stopped before writing the summary files");
  } catch (const Interrupted& e) {
    throw Interrupted(e.signal(), std::string(e.what()) + "; " + std::to_string(done) + " of " +
                                      std::to_string(total) + " rounds finished");
  }

  // rounds.csv
  std::string csv = "strategy,seed,round,episodes,robot_seconds,param_error";
  for (const auto& n : cx.names) csv += ",error:" + n;
  csv +=
      ",failures_found,failure_regions,std_ratio,outcome_error,outcome_sq_error,held_out_error,"
      "calibration,skipped\n";
  std::string timings = "strategy,seed,round,seconds\n";
  for (const RoundRow& r : rows) {
    csv += r.strategy + "," + std::to_string(r.seed) + "," + std::to_string(r.round) + "," +
           std::to_string(r.episodes) + "," + Num(r.robot_seconds) + "," + Num(r.param_error);
    for (double e : r.errors) csv += "," + Num(e);
    // an archive has no hidden success rate: no failure regions (empty, not 0); a world answers
    // every scenario: nothing skipped (empty)
    csv += "," +
           (cx.archive
                ? ","
                : std::to_string(r.failures_found) + "," + std::to_string(cx.failures.regions())) +
           "," + Num(r.std_ratio) + "," + Num(r.outcome_error) + "," + Num(r.outcome_sq_error) +
           "," + Num(r.held_out_error) + "," + r.calibration + "," +
           (cx.archive ? std::to_string(r.skipped) : "") + "\n";
    timings += r.strategy + "," + std::to_string(r.seed) + "," + std::to_string(r.round) + "," +
               Fmt("%.2f", r.seconds) + "\n";
  }

  // summary over seeds
  nlohmann::json doc;
  doc["schema"] = "nextbatch.campaign/1";
  doc["study"] = study.name;
  if (cx.world) {
    doc["world"] = cx.world->spec().name;
    doc["reality"] = {{"kind", "world"}, {"name", cx.world->spec().name}};
  } else {
    doc["world"] = nullptr;
    doc["reality"] = {{"kind", "archive"},
                      {"name", cx.archive->name},
                      {"episodes", cx.archive->episodes.size()},
                      {"tolerance", cx.archive->tolerance},
                      {"categorical_distance", cx.categorical_distance},
                      {"reference",
                       {{"calibration", Relative(reference.calibration, options.out)},
                        {"status", reference.status}}}};
  }
  doc["rounds"] = options.rounds;
  doc["seeds"] = options.seeds;
  doc["budget_seconds"] = cx.budget;
  doc["episode_seconds"] = cx.episode_seconds;
  doc["parameters"] = nlohmann::json::array();
  for (std::size_t k = 0; k < cx.names.size(); ++k) {
    doc["parameters"].push_back({{"name", cx.names[k]},
                                 {cx.archive ? "reference" : "truth", cx.truth[k]},
                                 {"error_unit", cx.scale[k]}});
  }
  if (cx.world) {
    doc["failure_map"] = {{"bins", cx.failures.bins},
                          {"cells", cx.failures.cells},
                          {"regions", cx.failures.regions()},
                          {"samples_per_cell", options.failure_samples}};
    doc["outcome_test"] = {{"scenarios", cx.test.size()}, {"samples", options.test_samples}};
    doc["held_out"] = {{"episodes", cx.held_out.size()}, {"window_seconds", cx.replay_window}};
  } else {
    // measures of a hidden world's success rates and episodes: an archive has neither
    doc["failure_map"] = nullptr;
    doc["outcome_test"] = nullptr;
    doc["held_out"] = {{"episodes", "not collected"},
                       {"archived", cx.held_out.size()},
                       {"window_seconds", cx.replay_window}};
  }
  std::string summary = "strategy,round,measure,median,q05,q95\n";
  std::vector<std::pair<std::string, std::function<double(const RoundRow&)>>> measures = {
      {"episodes", [](const RoundRow& r) { return double(r.episodes); }},
      {"robot_seconds", [](const RoundRow& r) { return r.robot_seconds; }},
      {"param_error", [](const RoundRow& r) { return r.param_error; }},
      {"failures_found",
       [&cx](const RoundRow& r) { return cx.archive ? kNaN : double(r.failures_found); }},
      {"std_ratio", [](const RoundRow& r) { return r.std_ratio; }},
      {"outcome_error", [](const RoundRow& r) { return r.outcome_error; }},
      {"outcome_sq_error", [](const RoundRow& r) { return r.outcome_sq_error; }},
      {"held_out_error", [](const RoundRow& r) { return r.held_out_error; }},
  };
  if (cx.archive)
    measures.push_back({"skipped", [](const RoundRow& r) { return double(r.skipped); }});
  nlohmann::json strategies = nlohmann::json::array();
  for (const Strategy& s : cx.strategies) {
    nlohmann::json rounds_json = nlohmann::json::array();
    for (int round = 0; round <= options.rounds; ++round) {
      nlohmann::json rj = {{"round", round}};
      for (const auto& [name, get] : measures) {
        std::vector<double> v;
        for (const RoundRow& r : rows)
          if (r.strategy == s.name && r.round == round) v.push_back(get(r));
        const Summary sm = Summarise(v);
        summary += s.name + "," + std::to_string(round) + "," + name + "," + Num(sm.median) + "," +
                   Num(sm.low) + "," + Num(sm.high) + "\n";
        rj[name] = {
            {"median", JsonNum(sm.median)}, {"q05", JsonNum(sm.low)}, {"q95", JsonNum(sm.high)}};
      }
      rounds_json.push_back(rj);
    }
    strategies.push_back({{"name", s.name}, {"rounds", rounds_json}});
  }
  doc["strategies"] = strategies;

  // episodes-to-target: the parameter error uniform random reaches (median over seeds) after its
  // last round; per strategy and seed the first round at or below it
  std::string text;
  const bool has_random = std::any_of(cx.strategies.begin(), cx.strategies.end(),
                                      [](const Strategy& s) { return s.name == "random"; });
  nlohmann::json target_json = nullptr;
  if (has_random && !cx.names.empty()) {
    std::vector<double> last;
    for (const RoundRow& r : rows)
      if (r.strategy == "random" && r.round == options.rounds) last.push_back(r.param_error);
    const double target = Quantile(last, 0.5);
    target_json = {{"param_error", JsonNum(target)}, {"of", "random"}};
    nlohmann::json per = nlohmann::json::array();
    std::map<std::string, std::pair<double, double>> medians;
    char line[256];
    std::snprintf(line, sizeof(line), "%-22s %10s %12s %10s %8s\n", "strategy", "episodes",
                  "robot_s", "vs_random", "reached");
    text += "episodes-to-target (parameter error <= " + Num(target) +
            ", random's median after round " + std::to_string(options.rounds) + "):\n" + line;
    for (const Strategy& s : cx.strategies) {
      std::vector<double> eps, secs;
      int reached = 0;
      for (int seed = 0; seed < options.seeds; ++seed) {
        double e = INFINITY, t = INFINITY;
        for (const RoundRow& r : rows) {
          if (r.strategy != s.name || r.seed != seed) continue;
          if (std::isfinite(r.param_error) && r.param_error <= target) {
            e = r.episodes;
            t = r.robot_seconds;
            break;
          }
        }
        if (std::isfinite(e)) ++reached;
        eps.push_back(e);
        secs.push_back(t);
      }
      // unreached seeds count as infinitely many episodes; the lower median (the ceil(n/2)-th
      // smallest) is finite when at least half the seeds reached the target, as random does
      // by construction of the target
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[(v.size() - 1) / 2];
      };
      medians[s.name] = {median(eps), median(secs)};
      per.push_back({{"strategy", s.name},
                     {"episodes", JsonNum(medians[s.name].first)},
                     {"robot_seconds", JsonNum(medians[s.name].second)},
                     {"seeds_reached", reached}});
    }
    const auto& rnd = medians.at("random");
    for (std::size_t k = 0; k < cx.strategies.size(); ++k) {
      const auto& m = medians.at(cx.strategies[k].name);
      // unreached (infinite) medians have no ratio
      const double ratio = std::isfinite(m.first) ? rnd.first / m.first : kNaN;
      per[k]["episodes_ratio_vs_random"] = JsonNum(ratio);
      per[k]["robot_seconds_ratio_vs_random"] =
          JsonNum(std::isfinite(m.second) ? rnd.second / m.second : kNaN);
      std::snprintf(line, sizeof(line), "%-22s %10s %12s %10s %5d/%d\n",
                    cx.strategies[k].name.c_str(),
                    std::isfinite(m.first) ? Num(m.first).c_str() : "-",
                    std::isfinite(m.second) ? Num(m.second).c_str() : "-",
                    std::isfinite(ratio) ? Fmt("%.3g", ratio).c_str() : "-",
                    per[k]["seeds_reached"].get<int>(), options.seeds);
      text += line;
    }
    target_json["strategies"] = per;
  }
  doc["episodes_to_target"] = target_json;
  if (cx.names.empty()) {
    text +=
        "no estimated parameters: no parameter error or episodes-to-target; see the failure "
        "regions and the outcome-model error in summary.csv\n";
  }

  std::vector<std::pair<std::string, std::string>> files = {
      {"rounds.csv", csv}, {"summary.csv", summary}, {"timings.csv", timings}};
  // a study that fits nothing has no parameter error to plot
  if (!cx.names.empty())
    files.emplace_back("param_error.svg",
                       Plot(
                           cx, rows, [](const RoundRow& r) { return r.param_error; },
                           "parameter error vs robot time (median, 5-95 % over seeds)",
                           cx.archive ? "mean |estimate - archive fit| / prior std"
                                      : "mean |estimate - truth| / prior std"));
  // an archive's campaign writes no plot of the measures it does not have (a hidden world's
  // success rates)
  if (cx.world) {
    files.emplace_back("failures.svg",
                       Plot(
                           cx, rows, [](const RoundRow& r) { return double(r.failures_found); },
                           "failure regions found vs robot time (of " +
                               std::to_string(cx.failures.regions()) + ")",
                           "regions found"));
    files.emplace_back("outcome_error.svg",
                       Plot(
                           cx, rows, [](const RoundRow& r) { return r.outcome_error; },
                           "outcome-model error vs robot time (" + std::to_string(cx.test.size()) +
                               " test scenarios)",
                           "mean |predicted - true| success rate"));
  }
  // no held-out episodes (a world's campaign.held_out 0): no held-out measure to plot
  if (cx.archive || !cx.held_out.empty())
    files.emplace_back(
        "held_out_error.svg",
        Plot(
            cx, rows, [](const RoundRow& r) { return r.held_out_error; },
            "held-out prediction error vs robot time (" +
                (cx.archive ? "the archive's episodes not collected yet"
                            : std::to_string(cx.held_out.size()) + " episodes never collected") +
                ")",
            "median window max |replay - log| joint position"));
  // campaign.json names the files of its run with their digests: a reader can tell them from
  // anything else in the folder and check that none was changed or mixed with another run's.
  // timings.csv holds this machine's seconds: named, not digested, so that campaign.json stays
  // the same bytes for any thread count and machine.
  doc["files"] = nlohmann::json::object();
  for (const auto& [name, bytes] : files) {
    if (std::find(std::begin(kSummaryFiles), std::end(kSummaryFiles), name) ==
        std::end(kSummaryFiles))
      throw LogicError("campaign: summary file " + name + " is missing from kSummaryFiles");
    doc["files"][name] =
        name == "timings.csv" ? nlohmann::json(nullptr) : nlohmann::json(DigestOf(bytes));
  }
  files.emplace_back("campaign.json", doc.dump(1) + "\n");  // last: it marks a whole summary
  PublishSummary(lock, files);
  RemoveLeftovers(options.out, files);
  CampaignResult result;
  result.document = doc;
  result.text = text;
  result.seconds = pipeline_internal::Since(t0);
  return result;
}

}  // namespace nextbatch
