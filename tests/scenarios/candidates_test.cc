#include "scenarios/candidates.h"

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "engine/error.h"
#include "engine/interrupt.h"
#include "engine/model.h"
#include "engine/random.h"
#include "scenarios/policy.h"
#include "scenarios/simulate_json.h"
#include "scenarios/task_json.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/models.h"

namespace nextbatch {
namespace {

// Scenario i: the pendulum released from angle 0.1 + 0.01 i, a function of the index alone.
class AngleSource : public ScenarioSource {
 public:
  int Draw(std::int64_t first, int count) override {
    angles_.clear();
    for (int i = 0; i < count; ++i) angles_.push_back(0.1 + 0.01 * static_cast<double>(first + i));
    return count;
  }
  void Apply(int i, Workspace&, State* initial) const override { initial->qpos[0] = angles_[i]; }
  nlohmann::json Values(int i) const override { return {{"angle", angles_[i]}}; }

 protected:
  std::vector<double> angles_;
};

nlohmann::json TaskJson() {
  return nlohmann::json::parse(R"({"horizon": 0.6,
    "controller": {"type": "energy_swing_up", "joint": "hinge", "actuator": "motor",
                   "torque_limit": 0.8},
    "outcome": {
      "success": {"quantity": {"joint": "hinge", "abs": true}, "op": ">", "value": 0.6,
                  "when": "ever"},
      "safety": {"quantity": {"joint": "hinge", "field": "vel", "abs": true}, "op": "<",
                 "value": 6, "when": "always"},
      "metrics": {"peak": {"quantity": {"joint": "hinge", "abs": true}, "reduce": "max"}}}})");
}

struct Fixture {
  ModelPtr m = LoadModelString(testing::PendulumXml(0.002));
  Task task{m.get(), ReadTaskSpec(JsonReader(TaskJson(), "study.json", "task"))};
  std::vector<ParameterSpec> specs;
  ParameterBinding binding;
  Posterior posterior;
  Fixture() {
    ParameterSpec mass{"bob_mass", {"body:link.mass"}};
    mass.mode = BindMode::kScale;
    mass.initial = 1.0;
    mass.lower = 0.5;
    mass.upper = 1.5;
    mass.prior_mean = 1.0;
    mass.prior_std = 0.3;
    ParameterSpec damping{"damping", {"joint:hinge.damping"}};
    damping.initial = 0.05;
    damping.lower = 0;
    damping.upper = 1;
    damping.prior_mean = 0.1;
    damping.prior_std = 0.05;
    specs = {mass, damping};
    binding = ParameterBinding(m.get(), specs);
    posterior = Posterior::FromSpecs(specs);
  }
  std::vector<CandidateStats> Run(int threads, int chunk, SimulateSummary* summary = nullptr) {
    SimulateOptions o;
    o.candidates = 23;
    o.posterior_samples = 4;
    o.chunk = chunk;
    o.num_threads = threads;
    o.seed = 11;
    o.nuisance.qvel_std = 0.3;
    AngleSource source;
    std::vector<CandidateStats> all;
    SimulateSummary s =
        SimulateCandidates(m.get(), task, binding, posterior, source, o,
                           [&](const std::vector<CandidateStats>& c, const ScenarioSource&) {
                             all.insert(all.end(), c.begin(), c.end());
                           });
    if (summary) *summary = s;
    return all;
  }
};

void CheckSame(const std::vector<CandidateStats>& a, const std::vector<CandidateStats>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].index == b[i].index);
    CHECK(a[i].successes == b[i].successes);
    CHECK(a[i].safe == b[i].safe);
    CHECK(a[i].diverged == b[i].diverged);
    CHECK(a[i].metric_mean == b[i].metric_mean);  // bit-identical
    CHECK(a[i].metric_std == b[i].metric_std);
  }
}

TEST_CASE("candidate statistics are bit-identical for 1 and 2 threads and any chunk size") {
  Fixture f;
  SimulateSummary s;
  std::vector<CandidateStats> one = f.Run(1, 5, &s);
  CheckSame(one, f.Run(2, 5));
  CheckSame(one, f.Run(2, 23));
  CHECK(s.candidates == 23);
  CHECK(s.rollouts == 92);
  CHECK(s.steps == 92 * 300);
  // the outcome is not trivial: some candidates succeed, some not, spreads are non-zero
  int some = 0, none = 0;
  for (const auto& c : one) {
    some += c.successes > 0;
    none += c.successes == 0;
  }
  CHECK(some > 0);
  CHECK(none > 0);
  CHECK(one[5].metric_std[0] > 0);
}

TEST_CASE("a simulation resumed from any chunk's checkpoint equals one never stopped") {
  Fixture f;
  SimulateOptions o;
  o.candidates = 23;
  o.posterior_samples = 4;
  o.chunk = 5;
  o.num_threads = 1;
  o.seed = 11;
  o.nuisance.qvel_std = 0.3;
  std::vector<SimulateCheckpoint> checkpoints;
  o.on_chunk = [&](const SimulateCheckpoint& c) { checkpoints.push_back(c); };
  std::vector<CandidateStats> all;
  auto collect = [](std::vector<CandidateStats>* out) {
    return [out](const std::vector<CandidateStats>& c, const ScenarioSource&) {
      out->insert(out->end(), c.begin(), c.end());
    };
  };
  AngleSource source;
  const SimulateSummary full =
      SimulateCandidates(f.m.get(), f.task, f.binding, f.posterior, source, o, collect(&all));
  REQUIRE(checkpoints.size() == 5);  // 5, 10, 15, 20, 23
  CHECK(checkpoints.back().candidates == 23);
  CHECK(checkpoints.back().steps == full.steps);
  for (const SimulateCheckpoint& c : checkpoints) {
    CAPTURE(c.candidates);
    SimulateOptions r = o;
    r.on_chunk = nullptr;
    r.resume = c;
    r.num_threads = 2;
    std::vector<CandidateStats> rest(all.begin(), all.begin() + c.candidates);
    AngleSource again;
    const SimulateSummary s =
        SimulateCandidates(f.m.get(), f.task, f.binding, f.posterior, again, r, collect(&rest));
    CheckSame(rest, all);
    CHECK(s.candidates == full.candidates);
    CHECK(s.rollouts == full.rollouts);
    CHECK(s.steps == full.steps);
    CHECK(s.diverged == full.diverged);
    CHECK(s.mean_success == full.mean_success);  // bit-identical: summed in candidate order
  }
  // a stop asked for during a chunk takes effect once that chunk is handed on and saved
  std::vector<CandidateStats> part;
  checkpoints.clear();
  AngleSource stopped;
  try {
    SimulateCandidates(f.m.get(), f.task, f.binding, f.posterior, stopped, o,
                       [&](const std::vector<CandidateStats>& c, const ScenarioSource& src) {
                         collect (&part)(c, src);
                         if (part.size() == 10) RequestInterrupt(SIGINT);
                       });
    FAIL("no Interrupted");
  } catch (const Interrupted& e) {
    CHECK(e.exit_code() == 130);
    CHECK(std::string(e.what()) == "stopped after 10 of 23 candidates");
  }
  ClearInterrupt();
  CHECK(part.size() == 10);
  REQUIRE(checkpoints.size() == 2);
  CHECK(checkpoints.back().candidates == 10);
  // a stop asked for inside a chunk's rollouts drops that chunk at once: the rollouts not yet
  // begun are skipped, nothing of the chunk reaches the sink, and the checkpoint is the last one
  class StopAt12 : public AngleSource {
   public:
    void Apply(int i, Workspace& ws, State* initial) const override {
      AngleSource::Apply(i, ws, initial);
      if (angles_[i] == 0.1 + 0.01 * 12.0) RequestInterrupt(SIGTERM);
    }
  };
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    std::vector<CandidateStats> upto;
    checkpoints.clear();
    StopAt12 mid;
    SimulateOptions m = o;
    m.num_threads = threads;
    try {
      SimulateCandidates(f.m.get(), f.task, f.binding, f.posterior, mid, m, collect(&upto));
      FAIL("no Interrupted");
    } catch (const Interrupted& e) {
      CHECK(e.exit_code() == 143);
      CHECK(std::string(e.what()) == "stopped after 10 of 23 candidates");
    }
    ClearInterrupt();
    CHECK(upto.size() == 10);
    REQUIRE(checkpoints.size() == 2);
    CHECK(checkpoints.back().candidates == 10);
  }
  // a resumable writer keeps the saved bytes, drops what came after them, and keeps its part
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "nb_resume_part";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string part_path = (dir / "lines.part").string(),
                    final_path = (dir / "x.jsonl").string();
  std::ofstream(part_path) << "{\"saved\": 1}\n{\"half";
  {
    CandidateWriter w(final_path, {"peak"}, part_path, 13);
    AngleSource one;
    one.Draw(0, 1);
    w.Write({all[0]}, one);
    CHECK(w.Sync() == static_cast<std::int64_t>(
                          13 + CandidateWriter::Line(all[0], one.Values(0), {"peak"}).size() + 1));
    w.Commit();
  }
  std::ifstream in(final_path);
  std::string first, second, third;
  std::getline(in, first);
  std::getline(in, second);
  CHECK(first == "{\"saved\": 1}");
  CHECK(nlohmann::json::parse(second)["index"] == 0);
  CHECK_FALSE(std::getline(in, third));
  CHECK(std::filesystem::exists(part_path));
  { CandidateWriter abandoned(final_path + "2", {}, part_path, 0); }
  CHECK(std::filesystem::exists(part_path));
  std::filesystem::remove_all(dir);
}

// What a candidate's information hook saw, returned as its "information": (0, 0) the largest
// error of replaying the episode's logged commands open loop from its first state (0 when the
// log holds what the rollout did), (1, 1) the number of samples, (0, 1) the last logged angle.
Eigen::MatrixXd ReplayCheck(const mjModel* m, const Episode& e, const Eigen::MatrixXd& states,
                            int every) {
  Workspace ws(m, false);
  State s = State::Reference(m);
  s.time = e.time[0];
  s.qpos = states.row(0).head(m->nq).transpose();
  s.qvel = states.row(0).tail(m->nv).transpose();
  ws.SetState(s);
  OpenLoopController replay(e.time, e.ctrl.values, OpenLoopController::Hold::kLinear);
  RolloutOptions o;
  o.num_steps = (e.samples() - 1) * every;
  o.record_every = every;
  const RolloutResult r = Rollout(ws, &replay, o);
  double error = r.ok() ? 0.0 : 1.0;
  for (int i = 0; r.ok() && i < e.samples(); ++i) {
    error = std::max(error, std::abs(r.qpos(i, 0) - e.qpos.values(i, 0)));
    error = std::max(error, std::abs(r.qvel(i, 0) - e.qvel.values(i, 0)));
    error = std::max(error, std::abs(states(i, 0) - e.qpos.values(i, 0)));
  }
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(2, 2);
  out(0, 0) = error;
  out(1, 1) = e.samples();
  out(0, 1) = out(1, 0) = e.qpos.values(e.samples() - 1, 0);
  return out;
}

TEST_CASE("candidates' information: one mean-parameter episode each, logged as it ran") {
  Fixture f;
  auto run = [&](int threads, int every) {
    CandidateInformation info;
    info.values = f.posterior.mean();
    info.sample_every = every;
    info.qpos_joints = {"hinge"};
    info.qvel_joints = {"hinge"};
    info.compute = [every](const mjModel* m, const Episode& e, const Eigen::MatrixXd& states) {
      return ReplayCheck(m, e, states, every);
    };
    SimulateOptions o;
    o.candidates = 7;
    o.posterior_samples = 2;
    o.chunk = 3;
    o.num_threads = threads;
    o.seed = 11;
    AngleSource source;
    std::vector<CandidateStats> all;
    SimulateCandidates(
        f.m.get(), f.task, f.binding, f.posterior, source, o,
        [&](const std::vector<CandidateStats>& c, const ScenarioSource&) {
          all.insert(all.end(), c.begin(), c.end());
        },
        nullptr, nullptr, &info);
    return all;
  };
  const std::vector<CandidateStats> one = run(1, 1);
  REQUIRE(one.size() == 7);
  for (const CandidateStats& c : one) {
    REQUIRE(c.information.rows() == 2);
    CHECK(c.information_error.empty());
    CHECK(c.information(0, 0) == 0.0);  // the logged commands replay the episode exactly
    CHECK(c.information(1, 1) == 301);  // 0.6 s at 2 ms, both ends
  }
  // each candidate its own scenario
  CHECK(one[0].information(0, 1) != one[6].information(0, 1));
  const std::vector<CandidateStats> two = run(2, 1);
  for (std::size_t i = 0; i < one.size(); ++i)
    CHECK((one[i].information.array() == two[i].information.array()).all());
  // every fifth step logged: 61 samples
  CHECK(run(2, 5)[3].information(1, 1) == 61);
  // the line carries the matrix
  const std::string line = CandidateWriter::Line(one[0], {{"angle", 0.1}}, {"peak"});
  CHECK(line.find("\"information\":[[0.0,") != std::string::npos);
}

TEST_CASE("a thread count far above the CPUs is capped: same statistics, no per-thread blowup") {
  // 100000 requested threads would be 100000 workspaces (a few MB each) and as many OpenMP
  // threads; capped, the run is the one of the usable CPUs, bit for bit.
  Fixture f;
  CheckSame(f.Run(1, 5), f.Run(100000, 5));
}

TEST_CASE("a candidate's statistics equal its rollouts simulated by hand") {
  Fixture f;
  std::vector<CandidateStats> all = f.Run(2, 7);
  const int candidate = 9, K = 4;
  Workspace ws(f.m.get(), true);
  Outcome::Evaluator ev(&f.task.outcome());
  int successes = 0;
  double peak_sum = 0;
  std::vector<double> peaks;
  for (int k = 0; k < K; ++k) {
    const std::uint64_t key = candidate * K + k;
    Eigen::VectorXd theta;
    f.posterior.Sample(11, key, &theta);
    ws.RestoreBase();
    ws.Apply(f.binding, theta);
    State s = f.task.InitialState(ws.model());
    s.qpos[0] = 0.1 + 0.01 * candidate;
    RandomStream rng(11, Stage::kNuisance, key);
    rng.Normal();  // the qpos draw (std 0)
    s.qvel[0] += 0.3 * rng.Normal();
    ws.SetState(s);
    EpisodeOutcome e = f.task.Run(ws, ev);
    REQUIRE(e.ok());
    successes += e.success;
    peaks.push_back((*e.metrics)[0]);
    peak_sum += (*e.metrics)[0];
  }
  CHECK(all[candidate].successes == successes);
  CHECK(all[candidate].metric_mean[0] == doctest::Approx(peak_sum / K).epsilon(1e-14));
  double ss = 0;
  for (double p : peaks) ss += (p - peak_sum / K) * (p - peak_sum / K);
  CHECK(all[candidate].metric_std[0] == doctest::Approx(std::sqrt(ss / (K - 1))).epsilon(1e-12));
}

// The PD law of the task's "pd" controller, written as a caller's policy on [qpos, qvel].
class PdPolicy : public Policy {
 public:
  void Act(const double* obs, int, double* ctrl, int) override {
    ctrl[0] = 3.0 * (0.8 - obs[0]) - 0.4 * obs[1];
  }
};

TEST_CASE("a caller's policy runs candidates, it matches the built-in controller it mirrors") {
  Fixture f;
  nlohmann::json j = TaskJson();
  j["controller"] = nlohmann::json::parse(R"({"type": "pd", "joints": ["hinge"],
      "actuators": ["motor"], "waypoints": [{"time": 0, "positions": [0.8]}], "kp": 3, "kd": 0.4})");
  Task pd(f.m.get(), ReadTaskSpec(JsonReader(j, "study.json", "task")));
  SimulateOptions o;
  o.candidates = 9;
  o.posterior_samples = 3;
  o.chunk = 4;
  o.num_threads = 2;
  auto run = [&](const ControllerFactory& factory) {
    AngleSource source;
    std::vector<CandidateStats> all;
    SimulateCandidates(
        f.m.get(), pd, f.binding, f.posterior, source, o,
        [&](const std::vector<CandidateStats>& c, const ScenarioSource&) {
          all.insert(all.end(), c.begin(), c.end());
        },
        nullptr, factory);
    return all;
  };
  std::vector<CandidateStats> builtin = run(nullptr);
  std::vector<std::unique_ptr<PdPolicy>> policies;
  std::mutex mutex;
  std::vector<CandidateStats> policy = run([&](const mjModel*, std::int64_t, int) {
    std::lock_guard<std::mutex> lock(mutex);
    policies.push_back(std::make_unique<PdPolicy>());
    return std::make_unique<PolicyController>(policies.back().get(), ObservationSpec{});
  });
  CheckSame(builtin, policy);
  CHECK(policies.size() == 27);
  CHECK(builtin[0].metric_mean[0] > 0.5);  // the peak angle: it swings toward 0.8 rad
}

// A nonlinear law, the same arithmetic row by row for the batched and the single policy.
double Law(const double* obs) { return 1.5 * std::tanh(2.0 * obs[1] - 0.7 * obs[0]) + 0.2; }

class LawPolicy : public Policy {
 public:
  void Act(const double* obs, int, double* ctrl, int) override { ctrl[0] = Law(obs); }
};

class LawBatchPolicy : public BatchPolicy {
 public:
  int calls = 0;
  void Act(int batch, const double* obs, int n, double* ctrl, int) override {
    ++calls;
    for (int b = 0; b < batch; ++b) ctrl[b] = Law(obs + b * n);
  }
};

TEST_CASE("candidates under a batched policy equal one-at-a-time rollouts of the same law") {
  Fixture f;
  SimulateOptions o;
  o.candidates = 11;
  o.posterior_samples = 3;
  o.chunk = 4;
  o.num_threads = 2;
  o.seed = 5;
  o.nuisance.qpos_std = 0.05;
  auto collect = [](std::vector<CandidateStats>* all) {
    return [all](const std::vector<CandidateStats>& c, const ScenarioSource&) {
      all->insert(all->end(), c.begin(), c.end());
    };
  };
  std::vector<CandidateStats> single, batched, batched1;
  std::vector<std::unique_ptr<LawPolicy>> policies;
  std::mutex mutex;
  {
    AngleSource source;
    SimulateCandidates(f.m.get(), f.task, f.binding, f.posterior, source, o, collect(&single),
                       nullptr, [&](const mjModel*, std::int64_t, int) {
                         std::lock_guard<std::mutex> lock(mutex);
                         policies.push_back(std::make_unique<LawPolicy>());
                         return std::make_unique<PolicyController>(policies.back().get(),
                                                                   ObservationSpec{});
                       });
  }
  LawBatchPolicy p;
  {
    AngleSource source;
    SimulateCandidatesBatched(f.m.get(), f.task, f.binding, f.posterior, source, o, p,
                              ObservationSpec{}, collect(&batched));
  }
  CHECK(p.calls == 3 * 300);  // three chunks (4, 4, 3 candidates) of 300 steps
  CheckSame(single, batched);
  o.num_threads = 1;
  {
    AngleSource source;
    SimulateCandidatesBatched(f.m.get(), f.task, f.binding, f.posterior, source, o, p,
                              ObservationSpec{}, collect(&batched1));
  }
  CheckSame(batched, batched1);
}

// Candidate 1 starts with a speed MuJoCo rejects (above mjMAXVAL): every rollout diverges.
class DivergingSource : public AngleSource {
 public:
  int Draw(std::int64_t first, int count) override {
    first_ = first;
    return AngleSource::Draw(first, count);
  }
  void Apply(int i, Workspace& ws, State* initial) const override {
    AngleSource::Apply(i, ws, initial);
    if (first_ + i == 1) initial->qvel[0] = 1e12;
  }

 private:
  std::int64_t first_ = 0;
};

TEST_CASE("diverged rollouts are counted, fail, and leave the metrics undefined") {
  Fixture f;
  SimulateOptions o;
  o.candidates = 3;
  o.posterior_samples = 2;
  DivergingSource source;
  std::vector<CandidateStats> all;
  SimulateSummary s =
      SimulateCandidates(f.m.get(), f.task, f.binding, f.posterior, source, o,
                         [&](const std::vector<CandidateStats>& c, const ScenarioSource&) {
                           all.insert(all.end(), c.begin(), c.end());
                         });
  REQUIRE(all.size() == 3);
  CHECK(all[1].diverged == 2);
  CHECK(all[1].successes == 0);
  CHECK(all[1].safe == 0);
  CHECK(std::isnan(all[1].metric_mean[0]));
  CHECK(all[0].diverged == 0);
  CHECK(s.diverged == 2);
  CHECK(s.termination == SimulateSummary::Termination::kDone);
  const nlohmann::json line = nlohmann::json::parse(CandidateWriter::Line(all[1], {}, {"peak"}));
  CHECK(line["metrics"]["peak"].is_null());
  CHECK(line["diverged"] == 2);
}

TEST_CASE("candidates stream into a temporary file renamed on commit") {
  Fixture f;
  const std::string path =
      (std::filesystem::temp_directory_path() / "nb_candidates_test.jsonl").string();
  std::filesystem::remove(path);
  {
    CandidateWriter w(path, {"peak"});
    SimulateOptions o;
    o.candidates = 10;
    o.posterior_samples = 2;
    o.chunk = 4;
    AngleSource source;
    SimulateCandidates(f.m.get(), f.task, f.binding, f.posterior, source, o,
                       [&](const std::vector<CandidateStats>& c, const ScenarioSource& s) {
                         w.Write(c, s);
                         CHECK(std::filesystem::exists(path + ".tmp"));
                         CHECK_FALSE(std::filesystem::exists(path));
                       });
    w.Commit();
  }
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line);
    CHECK(j["index"] == n);
    CHECK(j["scenario"]["angle"].get<double>() == doctest::Approx(0.1 + 0.01 * n));
    CHECK(j["rollouts"] == 2);
    CHECK(j["metrics"]["peak"]["mean"].is_number());
    ++n;
  }
  CHECK(n == 10);
  // an abandoned writer leaves nothing behind
  const std::string other = path + ".abandoned";
  { CandidateWriter w(other, {}); }
  CHECK_FALSE(std::filesystem::exists(other));
  CHECK_FALSE(std::filesystem::exists(other + ".tmp"));
}

std::string TaskError(const std::string& text, const mjModel* m = nullptr) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    TaskSpec s = ReadTaskSpec(JsonReader(j, "study.json", "task"));
    if (m) Task t(m, s);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST_CASE("malformed task sections are rejected with the field and the file") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  CHECK(TaskError(R"({"controller": {"type": "none"}})")
            .find("study.json: task.horizon: expected a value") != std::string::npos);
  CHECK(TaskError(R"({"horizon": -1})").find("task.horizon: expected seconds > 0") !=
        std::string::npos);
  CHECK(TaskError(R"({"horizon": 1, "horizn": 2})").find("horizn") != std::string::npos);
  CHECK(TaskError(R"({"horizon": 1, "controller": {"type": "mpc"}})")
            .find("task.controller.type: expected one of none, open_loop, pd") !=
        std::string::npos);
  CHECK(TaskError(R"({"horizon": 1, "controller": {"type": "open_loop", "times": [0, 1],
                      "values": [[1]]}})")
            .find("as many value rows as times") != std::string::npos);
  CHECK(TaskError(R"({"horizon": 1, "controller": {"type": "open_loop", "times": [0],
                      "values": [[1, 2]]}})",
                  m.get())
            .find("rows of 1 commands") != std::string::npos);
  CHECK(TaskError(R"({"horizon": 1, "controller": {"type": "pd", "joints": ["knee"],
                      "actuators": ["motor"], "waypoints": [{"time": 0, "positions": [1]}],
                      "kp": 1, "kd": 1}})",
                  m.get())
            .find("controller.joints[0]: expected a joint of the model (hinge)") !=
        std::string::npos);
  CHECK(TaskError(R"({"horizon": 1, "controller": {"type": "energy_swing_up", "joint": "hinge",
                      "actuator": "motor", "gain": 2}})")
            .find("task.controller.gain") != std::string::npos);
  CHECK(TaskError(R"({"horizon": 1, "keyframe": "home"})", m.get())
            .find("task.keyframe: expected a keyframe") != std::string::npos);
  CHECK(TaskError(R"({"horizon": 1, "outcome": []})").find("task.outcome: expected an object") !=
        std::string::npos);
}

std::string SimulateError(const std::string& text) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    ReadSimulateOptions(JsonReader(j, "study.json", "simulate"), nullptr);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST_CASE("malformed simulate sections are rejected with the field and the file") {
  CHECK(SimulateError(R"({"candidates": 0})")
            .find("study.json: simulate.candidates: expected an integer >= 1") !=
        std::string::npos);
  CHECK(SimulateError(R"({"candidates": 1.5})").find("simulate.candidates") != std::string::npos);
  CHECK(SimulateError(R"({"posterior_samples": 0})").find("simulate.posterior_samples") !=
        std::string::npos);
  CHECK(SimulateError(R"({"chunk": "big"})").find("simulate.chunk: expected an integer") !=
        std::string::npos);
  CHECK(SimulateError(R"({"candidtes": 3})").find("candidtes") != std::string::npos);
  CHECK(SimulateError(R"({"nuisance": {"qpos_std": -1}})").find("nuisance.qpos_std") !=
        std::string::npos);
  CHECK(SimulateError(R"({"nuisance": {"qacc_std": 1}})").find("qacc_std") != std::string::npos);
  nlohmann::json ok = nlohmann::json::parse(
      R"({"candidates": 1000000, "posterior_samples": 3, "chunk": 64, "calibration": "c.json"})");
  SimulateOptions o = ReadSimulateOptions(JsonReader(ok, "study.json", "simulate"),
                                          [](const std::string& p) { return "dir/" + p; });
  CHECK(o.candidates == 1000000);
  CHECK(o.posterior_samples == 3);
  CHECK(o.chunk == 64);
  CHECK(o.calibration == "dir/c.json");
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("a horizon beyond kMaxTaskSteps model steps is refused in seconds, not as an int") {
  ModelPtr m = LoadModelString(testing::PendulumXml(0.002));
  for (double horizon : {1e308, 1e10, 20000.002}) {
    nlohmann::json j = TaskJson();
    j["horizon"] = horizon;
    testing::CheckError([&] { Task(m.get(), ReadTaskSpec(JsonReader(j, "study.json", "task"))); },
                        {"study.json: task.horizon",
                         "at most 10000000 model steps (20000 s at the model's step 0.002 s)",
                         "got " + FormatNumber(horizon) + " s"});
  }
  // Exactly the limit is a (long) task; its step count is exact.
  nlohmann::json j = TaskJson();
  j["horizon"] = 20000.0;
  Task task(m.get(), ReadTaskSpec(JsonReader(j, "study.json", "task")));
  CHECK(task.NumSteps(m.get()) == 10000000);
  // Non-positive horizons keep their own message, as a number.
  j["horizon"] = -1e308;
  testing::CheckError([&] { Task(m.get(), ReadTaskSpec(JsonReader(j, "study.json", "task"))); },
                      {"task.horizon", "seconds > 0", "got -1e+308"});
}

}  // namespace
}  // namespace nextbatch
