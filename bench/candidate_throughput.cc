// Candidate simulation throughput against raw mj_step on the same model and threads, and peak
// memory while streaming a million candidates.
//
//   candidate_throughput [--threads N] [--quick]
//
// Part 1: the DFKI pendulum swing-up task (energy-shaping controller, success and safety
// predicates and three metrics evaluated every step, posterior samples bound per rollout)
// against plain mj_step loops of the same number of rollouts and steps. Part 2: 10^6 candidates
// of a short-horizon pendulum task streamed to a JSON-lines file in chunks; peak RSS
// (getrusage ru_maxrss) must stay flat.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/posterior.h"
#include "scenarios/candidates.h"
#include "scenarios/scene.h"
#include "scenarios/task_json.h"

namespace nb = nextbatch;

namespace {

double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // kilobytes on Linux
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Candidate i: initial angle and a torque limit from the index alone.
class PendulumSource : public nb::ScenarioSource {
 public:
  int Draw(std::int64_t first, int count) override {
    first_ = first;
    return count;
  }
  void Apply(int i, nb::Workspace& ws, nb::State* initial) const override {
    const double u = std::fmod(0.618033988749895 * static_cast<double>(first_ + i), 1.0);
    initial->qpos[0] = -0.5 + u;
    ws.mutable_model()->actuator_ctrlrange[1] = 1.0 + 2.0 * u;
  }
  nlohmann::json Values(int i) const override {
    const double u = std::fmod(0.618033988749895 * static_cast<double>(first_ + i), 1.0);
    return {{"initial_angle", -0.5 + u}, {"torque_limit", 1.0 + 2.0 * u}};
  }

 private:
  std::int64_t first_ = 0;
};

nb::Task PendulumTask(const mjModel* m, double horizon) {
  nlohmann::json j = nlohmann::json::parse(R"({
    "controller": {"type": "energy_swing_up", "joint": "shoulder", "actuator": "motor"},
    "outcome": {
      "success": {"quantity": {"joint": "shoulder", "wrap": true, "abs": true}, "op": ">",
                  "value": 2.94, "when": "ever"},
      "safety": {"quantity": {"joint": "shoulder", "field": "vel", "abs": true}, "op": "<",
                 "value": 20, "when": "always"},
      "metrics": {
        "t_up": {"time_to": {"quantity": {"joint": "shoulder", "wrap": true, "abs": true},
                             "op": ">", "value": 2.94}},
        "peak": {"quantity": {"actuator": "motor", "field": "force", "abs": true},
                 "reduce": "max"},
        "final": {"quantity": {"joint": "shoulder", "wrap": true, "abs": true}}}}})");
  j["horizon"] = horizon;
  return nb::Task(m, nb::ReadTaskSpec(nb::JsonReader(j, "bench", "task")));
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--quick")) quick = true;
  }
  threads = nb::ResolveThreads(threads);
  const std::string dir = NEXTBATCH_SOURCE_DIR;
  nb::ModelPtr m = nb::LoadSceneFile(dir + "/examples/dfki_pendulum/pendulum.xml");

  // Part 1: throughput.
  const double horizon = 4.0;
  const int candidates = quick ? 32 : 64, K = 4;
  nb::Task task = PendulumTask(m.get(), horizon);
  const int steps = task.NumSteps(m.get());
  std::vector<nb::ParameterSpec> specs(2);
  specs[0] = {"damping", {"joint:shoulder.damping"}};
  specs[0].initial = specs[0].prior_mean = 0.05;
  specs[0].prior_std = 0.02;
  specs[0].lower = 0;
  specs[0].upper = 1;
  specs[1] = {"friction", {"joint:shoulder.frictionloss"}};
  specs[1].initial = specs[1].prior_mean = 0.2;
  specs[1].prior_std = 0.05;
  specs[1].lower = 0;
  specs[1].upper = 1;
  nb::ParameterBinding binding(m.get(), specs);
  nb::Posterior posterior = nb::Posterior::FromSpecs(specs);

  // raw: the same rollouts (count and length), plain mj_step with a constant command. The two
  // are measured in alternating pairs and compared pair by pair (median of the ratios): on a
  // shared machine the load drifts between pairs, much less within one.
  const int rollouts = candidates * K;
  nb::WorkspacePool pool(m.get(), threads, false);
  const int pairs = quick ? 5 : 9;
  std::vector<double> raw_rate, cand_rate, ratio;
  for (int rep = 0; rep < pairs; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    nb::ParallelFor(rollouts, threads, [&](int r, int thread) {
      nb::Workspace& ws = pool[thread];
      nb::State s = nb::State::Reference(ws.model());
      s.qpos[0] = -0.5 + std::fmod(0.618033988749895 * r, 1.0);
      ws.SetState(s);
      mjData* d = ws.data();
      d->ctrl[0] = 0.5;
      for (int k = 0; k < steps; ++k) mj_step(ws.model(), d);
    });
    raw_rate.push_back(rollouts * double(steps) / Seconds(t0));

    nb::SimulateOptions o;
    o.candidates = candidates;
    o.posterior_samples = K;
    o.chunk = 64;
    o.num_threads = threads;
    o.seed = 1;
    PendulumSource source;
    nb::SimulateSummary s =
        nb::SimulateCandidates(m.get(), task, binding, posterior, source, o, nullptr);
    cand_rate.push_back(s.steps / s.seconds);
    ratio.push_back(cand_rate.back() / raw_rate.back());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double best_raw = median(raw_rate), best_cand = median(cand_rate);
  std::printf("model: examples/dfki_pendulum/pendulum.xml, %d threads, %d rollouts of %d steps\n",
              threads, rollouts, steps);
  std::printf("raw mj_step:          %10.0f steps/s (median of %d)\n", best_raw, pairs);
  std::printf("candidate rollouts:   %10.0f steps/s (controller, outcome, posterior sample)\n",
              best_cand);
  std::printf("ratio candidate/raw:  %10.3f (median of %d paired ratios; target >= 0.85)\n",
              median(ratio), pairs);
  std::printf("candidate rollouts/s: %10.1f (raw-equivalent %.1f)\n", best_cand / steps,
              best_raw / steps);

  // Part 2: memory while streaming many candidates.
  const std::int64_t many = quick ? 100000 : 1000000;
  nb::Task short_task = PendulumTask(m.get(), 0.005);  // 5 steps: the point is memory scaling
  const std::string path =
      (std::filesystem::temp_directory_path() / "nb_bench_candidates.jsonl").string();
  const double rss_before = PeakRssMb();
  auto t0 = std::chrono::steady_clock::now();
  {
    nb::CandidateWriter writer(path, {"final", "peak", "t_up"});
    nb::SimulateOptions o;
    o.candidates = many;
    o.posterior_samples = 1;
    o.chunk = 4096;
    o.num_threads = threads;
    PendulumSource source;
    nb::SimulateCandidates(m.get(), short_task, binding, posterior, source, o,
                           [&](const std::vector<nb::CandidateStats>& c,
                               const nb::ScenarioSource& s) { writer.Write(c, s); });
    writer.Commit();
  }
  const double secs = Seconds(t0);
  const double rss_after = PeakRssMb();
  const double mb = std::filesystem::file_size(path) / 1e6;
  std::filesystem::remove(path);
  std::printf("%lld candidates streamed in %.1f s (%.0f candidates/s), file %.0f MB\n",
              (long long)many, secs, many / secs, mb);
  std::printf("peak RSS: %.1f MB before, %.1f MB after (limit 2048 MB)\n", rss_before, rss_after);
  return 0;
}
