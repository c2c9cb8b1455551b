#include "scenarios/world.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/random.h"
#include "engine/rollout.h"
#include "engine/workspace.h"
#include "scenarios/recording_controller.h"
#include "scenarios/simulate_study.h"
#include "scenarios/space_json.h"

namespace nextbatch {
namespace {

// Stream purposes under one key.
enum : std::uint64_t { kStart = 0, kTimes = 1, kNoise = 2 };

std::uint64_t Mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double NonNegative(const JsonReader& r, const std::string& key, double fallback) {
  const double v = r.Number(key, fallback);
  if (!std::isfinite(v) || v < 0) ThrowExpected(r.Where(key), "a number >= 0", FormatNumber(v));
  return v;
}

}  // namespace

std::uint64_t WorldKey(std::initializer_list<std::uint64_t> parts) {
  std::uint64_t h = 0x6a09e667f3bcc908ULL;
  for (std::uint64_t p : parts) h = Mix(h ^ Mix(p));
  return h;
}

std::string SensorModel::Validate() const {
  if (!std::isfinite(rate_hz) || !(rate_hz > 0))
    return Expected("sensor.rate_hz", "a rate > 0 (samples per second)", FormatNumber(rate_hz));
  const std::pair<const char*, double> stds[] = {{"jitter_seconds", jitter_seconds},
                                                 {"qpos_std", qpos_std},
                                                 {"qvel_std", qvel_std},
                                                 {"ctrl_std", ctrl_std}};
  for (const auto& [name, v] : stds) {
    if (!std::isfinite(v) || v < 0)
      return Expected(std::string("sensor.") + name, "a number >= 0", FormatNumber(v));
  }
  return "";
}

WorldSpec ReadWorldFile(const std::string& path, const Study& study) {
  const nlohmann::json doc = ReadJsonFile(path);
  if (!doc.is_object()) ThrowExpected(path, "a world object", Describe(doc));
  JsonReader r(doc, path, "");
  r.CheckKnownKeys({"schema", "name", "notes", "truth", "model", "sensor", "start", "seed"});
  const std::string schema = r.String("schema");
  if (schema != "nextbatch.world/1")
    ThrowExpected(r.Where("schema"), "\"nextbatch.world/1\"", "\"" + schema + "\"");
  WorldSpec w;
  w.file = path;
  w.name = r.String("name", std::filesystem::path(path).stem().string());
  (void)r.String("notes", "");
  const JsonReader truth = r.Object("truth");
  std::vector<std::string> names;
  for (const ParameterSpec& p : study.parameters) names.push_back(p.name);
  truth.CheckKnownKeys(names);
  for (const ParameterSpec& p : study.parameters) {
    if (!truth.Has(p.name)) {
      ThrowExpected(truth.Where(p.name), "the true value of the study's parameter '" + p.name + "'",
                    "none");
    }
    const double v = truth.Number(p.name);
    if (!std::isfinite(v)) ThrowExpected(truth.Where(p.name), "a finite number", FormatNumber(v));
    w.truth.push_back(v);
  }
  if (r.Has("model")) {
    const std::string m = r.String("model");
    if (m.empty()) ThrowExpected(r.Where("model"), "an MJCF path", "an empty string");
    const std::filesystem::path p(m);
    w.model = p.is_absolute()
                  ? p.string()
                  : (std::filesystem::path(path).parent_path() / p).lexically_normal().string();
  }
  if (r.Has("sensor")) {
    const JsonReader s = r.Object("sensor");
    s.CheckKnownKeys({"rate_hz", "jitter_seconds", "qpos_std", "qvel_std", "ctrl_std"});
    w.sensor.rate_hz = s.Number("rate_hz", w.sensor.rate_hz);
    if (!std::isfinite(w.sensor.rate_hz) || !(w.sensor.rate_hz > 0))
      ThrowExpected(s.Where("rate_hz"), "a rate > 0 (samples per second)",
                    FormatNumber(w.sensor.rate_hz));
    w.sensor.jitter_seconds = NonNegative(s, "jitter_seconds", 0);
    w.sensor.qpos_std = NonNegative(s, "qpos_std", 0);
    w.sensor.qvel_std = NonNegative(s, "qvel_std", 0);
    w.sensor.ctrl_std = NonNegative(s, "ctrl_std", 0);
  }
  if (r.Has("start")) {
    const JsonReader s = r.Object("start");
    s.CheckKnownKeys({"qpos_std", "qvel_std"});
    w.start_qpos_std = NonNegative(s, "qpos_std", 0);
    w.start_qvel_std = NonNegative(s, "qvel_std", 0);
  }
  if (r.Has("seed")) {
    const nlohmann::json& seed = r.Raw("seed");
    if (!seed.is_number_unsigned())
      ThrowExpected(r.Where("seed"), "an integer >= 0", Describe(seed));
    w.seed = seed.get<std::uint64_t>();
  }
  r.CheckAllRead();
  return w;
}

struct World::Trajectory {
  RolloutResult rollout;
  std::vector<double> commands;  // calls x nu
  bool success = false;
  bool safe = true;
};

World::World(const Study& study, WorldSpec spec) : spec_(std::move(spec)) {
  model_ = LoadModelFile(spec_.model.empty() ? study.model : spec_.model);
  if (static_cast<int>(spec_.truth.size()) != static_cast<int>(study.parameters.size()))
    throw LogicError("World: truth and parameters differ in size");
  parameters_ = ParameterBinding(model_.get(), study.parameters);
  binding_ = ScenarioBinding(model_.get(), ReadScenarios(study).space);
  const nlohmann::json calibration =
      study.HasSection("calibration") ? study.doc["calibration"] : nlohmann::json();
  if (calibration.is_object() && calibration.contains("episode_scale")) {
    // The fit scales those parameters per episode by a scenario factor; the world's truth would
    // have to be scaled the same way, which it does not do yet: refuse rather than log episodes
    // from an unscaled truth.
    ThrowExpected(study.path + ": calibration.episode_scale",
                  "no per-episode scaled parameters in a study run against a hidden world (a "
                  "world applies its truth unscaled)",
                  calibration["episode_scale"].dump());
  }
  task_ = std::make_unique<Task>(model_.get(),
                                 ReadStudyTaskSpec(study, binding_.space(), model_.get()));
  const mjModel* m = model_.get();
  {
    // the world samples its own simulation: faster than its step rate adds nothing but memory
    // (a log row per sample), and the ingest of its logs needs three samples per episode
    const double step_rate = 1.0 / m->opt.timestep;
    const double horizon = task_->NumSteps(m) * m->opt.timestep;
    const std::string where = spec_.file + ": sensor.rate_hz";
    if (spec_.sensor.rate_hz > step_rate * (1 + 1e-9)) {
      ThrowExpected(where,
                    "at most the model's step rate 1/timestep = " + FormatNumber(step_rate) +
                        " Hz (the world samples its simulation)",
                    FormatNumber(spec_.sensor.rate_hz));
    }
    if (spec_.sensor.rate_hz * horizon < 2.0 - 1e-9) {
      ThrowExpected(where,
                    "at least " + FormatNumber(2.0 / horizon) +
                        " Hz (three samples over the task's horizon of " + FormatNumber(horizon) +
                        " s)",
                    FormatNumber(spec_.sensor.rate_hz));
    }
  }
  for (int j = 0; j < m->njnt; ++j) {
    if ((m->jnt_type[j] == mjJNT_HINGE || m->jnt_type[j] == mjJNT_SLIDE) &&
        !ElementName(m, mjOBJ_JOINT, j).empty())
      joints_.push_back(j);
  }
  for (int a = 0; a < m->nu; ++a) {
    if (!ElementName(m, mjOBJ_ACTUATOR, a).empty()) actuators_.push_back(a);
  }
}

bool World::Run(const Scenario& s, std::uint64_t key, Trajectory* out) const {
  Workspace ws(model_.get(), true);
  Eigen::VectorXd truth(static_cast<Eigen::Index>(spec_.truth.size()));
  for (std::size_t i = 0; i < spec_.truth.size(); ++i) truth[i] = spec_.truth[i];
  if (parameters_.size() > 0) ws.Apply(parameters_, truth);
  const mjModel* m = ws.model();
  State initial = task_->InitialState(m);
  binding_.Apply(s, ws, &initial);
  if (spec_.start_qpos_std > 0 || spec_.start_qvel_std > 0) {
    RandomStream rng(spec_.seed, Stage::kCampaign, WorldKey({key, kStart}));
    for (int j : joints_) {
      const double a = rng.Normal(), b = rng.Normal();
      initial.qpos[m->jnt_qposadr[j]] += spec_.start_qpos_std * a;
      initial.qvel[m->jnt_dofadr[j]] += spec_.start_qvel_std * b;
    }
  }
  ws.SetState(initial);
  std::unique_ptr<Controller> inner = task_->MakeController(m, binding_.space().ToJson(s));
  RecordingController recorder(inner.get(), m->nu);
  Outcome::Evaluator evaluator(&task_->outcome());
  RolloutOptions ro;
  ro.num_steps = task_->NumSteps(m);
  ro.record_every = 1;
  ro.record_qvel = true;
  try {
    mj_forward(m, ws.data());
  } catch (const MujocoError&) {
    return false;
  }
  evaluator.Begin(m, ws.data());
  const StepObserver observer = [&evaluator](int, const mjModel* mm, const mjData* dd) {
    evaluator.Observe(mm, dd);
    return true;
  };
  out->rollout = Rollout(ws, &recorder, ro, observer);
  if (!out->rollout.ok()) return false;
  try {
    evaluator.Finish(m, ws.data());
  } catch (const MujocoError&) {
    return false;
  }
  out->success = evaluator.success();
  out->safe = evaluator.safe();
  out->commands = recorder.commands();
  return true;
}

bool World::Succeeds(const Scenario& s, std::uint64_t key) const {
  Trajectory t;
  return Run(s, key, &t) && t.success;
}

Collected World::Collect(const Scenario& s, std::uint64_t key, const std::string& id) const {
  Collected c;
  Trajectory t;
  c.episode.id = id;
  c.episode.robot = "world:" + spec_.name;
  c.episode.scenario = space().ToJson(s);
  if (!Run(s, key, &t)) {
    c.ok = false;
    c.success = false;
    c.safe = false;
    c.episode.outcome = {{"success", false}, {"safe", false}, {"diverged", true}};
    return c;
  }
  c.success = t.success;
  c.safe = t.safe;
  c.episode.outcome = {{"success", t.success}, {"safe", t.safe}};
  const mjModel* m = model_.get();
  const RolloutResult& r = t.rollout;
  const int rows = static_cast<int>(r.time.size());
  const double t0 = r.time.front(), t1 = r.time.back();
  const double dt = 1.0 / spec_.sensor.rate_hz;
  const int n = static_cast<int>(std::floor((t1 - t0) / dt + 1e-9)) + 1;
  // sample times: a regular grid with jittered interior samples (the first and last stay, so the
  // log spans the whole task); the clip keeps them increasing
  RandomStream times(spec_.seed, Stage::kCampaign, WorldKey({key, kTimes}));
  std::vector<double> ts(n);
  for (int i = 0; i < n; ++i) {
    double jitter = 0;
    if (spec_.sensor.jitter_seconds > 0) {
      const double z = times.Normal() * spec_.sensor.jitter_seconds;
      jitter = std::clamp(z, -0.45 * dt, 0.45 * dt);
    }
    ts[i] = (i == 0 || i == n - 1) ? t0 + i * dt : t0 + i * dt + jitter;
  }
  ts[n - 1] = std::min(ts[n - 1], t1);
  Episode& e = c.episode;
  e.time = ts;
  e.qpos.values.resize(n, static_cast<Eigen::Index>(joints_.size()));
  e.qvel.values.resize(n, static_cast<Eigen::Index>(joints_.size()));
  e.ctrl.values.resize(n, static_cast<Eigen::Index>(actuators_.size()));
  for (int j : joints_) {
    e.qpos.names.push_back(ElementName(m, mjOBJ_JOINT, j));
    e.qvel.names.push_back(ElementName(m, mjOBJ_JOINT, j));
  }
  for (int a : actuators_) e.ctrl.names.push_back(ElementName(m, mjOBJ_ACTUATOR, a));
  RandomStream noise(spec_.seed, Stage::kCampaign, WorldKey({key, kNoise}));
  const double step = m->opt.timestep;
  const int calls = m->nu > 0 ? static_cast<int>(t.commands.size()) / m->nu : 0;
  for (int i = 0; i < n; ++i) {
    // rows are the states after each step, row k at r.time[k] = t0 + k * step
    const double x = std::clamp((ts[i] - t0) / step, 0.0, static_cast<double>(rows - 1));
    const int k = std::min(static_cast<int>(std::floor(x)), rows - 2 < 0 ? 0 : rows - 2);
    const double f = rows > 1 ? x - k : 0.0;
    const int k1 = std::min(k + 1, rows - 1);
    for (std::size_t c2 = 0; c2 < joints_.size(); ++c2) {
      const int j = joints_[c2];
      const int qa = m->jnt_qposadr[j], va = m->jnt_dofadr[j];
      const double q = (1 - f) * r.qpos(k, qa) + f * r.qpos(k1, qa);
      const double v = (1 - f) * r.qvel(k, va) + f * r.qvel(k1, va);
      e.qpos.values(i, static_cast<Eigen::Index>(c2)) = q + spec_.sensor.qpos_std * noise.Normal();
      e.qvel.values(i, static_cast<Eigen::Index>(c2)) = v + spec_.sensor.qvel_std * noise.Normal();
    }
    // the command in force at ts[i]: the controller's call made at the last state before it
    const int call = std::min(static_cast<int>(std::floor(x + 1e-9)), calls - 1);
    for (std::size_t c2 = 0; c2 < actuators_.size(); ++c2) {
      const double u = call >= 0 ? t.commands[call * m->nu + actuators_[c2]] : 0.0;
      e.ctrl.values(i, static_cast<Eigen::Index>(c2)) = u + spec_.sensor.ctrl_std * noise.Normal();
    }
  }
  return c;
}

}  // namespace nextbatch
