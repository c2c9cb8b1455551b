// Rollout throughput: the engine's Rollout (through WorkspacePool, Workspace and ParallelFor)
// against a hand-written mj_step loop on the same model, controls and thread count, measured in
// the same run, interleaved and repeated so that a noisy shared machine hurts both alike.
//
// Work: n rollouts of --steps steps from the model's reference state, under open-loop controls
// (sines, knots every 10 steps, linearly interpolated), recording qpos and qvel every
// --record-every steps on the engine side. The raw loop replays the very commands the engine's
// controller produces (tabulated before timing), records nothing, and resets the same state
// fields as Workspace::SetState, so both compute bit-identical trajectories (checked).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/random.h"
#include "engine/rollout.h"
#include "engine/workspace.h"
#include "tests/fixtures/models.h"

namespace nextbatch {
namespace {

constexpr int kPatterns = 16;   // distinct control sequences; rollout i uses pattern i % 16
constexpr int kKnotEvery = 10;  // steps between control knots

struct Pattern {
  std::vector<double> times;
  Eigen::MatrixXd knots;     // knots x nu, for the engine's OpenLoopController
  std::vector<double> ctrl;  // steps x nu, what that controller outputs at each step (raw loop)
};

struct Workload {
  std::string name;
  ModelPtr model;
  std::vector<Pattern> patterns;
};

// Sines around the middle of each actuator's control range (or 0 +- 0.5 when unlimited), a
// different phase and frequency per actuator and pattern.
Pattern MakePattern(const mjModel* m, int steps, int index) {
  Pattern p;
  RandomStream rng(7, Stage::kTest, index);
  const int knots = steps / kKnotEvery + 2;
  p.knots.resize(knots, m->nu);
  for (int a = 0; a < m->nu; ++a) {
    double mid = 0.0, amp = 0.5;
    if (m->actuator_ctrllimited[a]) {
      const double lo = m->actuator_ctrlrange[2 * a], hi = m->actuator_ctrlrange[2 * a + 1];
      mid = 0.5 * (lo + hi);
      amp = 0.3 * (hi - lo);
    }
    const double freq = rng.Uniform(0.3, 1.5), phase = rng.Uniform(0.0, 2 * M_PI);
    for (int k = 0; k < knots; ++k) {
      const double t = k * kKnotEvery * m->opt.timestep;
      p.knots(k, a) = mid + amp * std::sin(2 * M_PI * freq * t + phase);
    }
  }
  for (int k = 0; k < knots; ++k) p.times.push_back(k * kKnotEvery * m->opt.timestep);
  // Tabulate the controller's output along the time sequence mj_step produces (time += dt).
  OpenLoopController c(p.times, p.knots);
  DataPtr d = MakeData(m);
  c.Reset(m, d.get());
  p.ctrl.resize(static_cast<std::size_t>(steps) * m->nu);
  d->time = 0.0;
  for (int s = 0; s < steps; ++s) {
    c.Control(m, d.get(), &p.ctrl[static_cast<std::size_t>(s) * m->nu]);
    d->time += m->opt.timestep;
  }
  return p;
}

// Steps run by each side over the whole program, for instruction counts per step
// (valgrind --tool=callgrind --toggle-collect='*RunRaw*', then '*RunEngine*').
double raw_steps_run = 0, engine_steps_run = 0;

// The rollouts [begin, end) of a static schedule over `threads` (as OpenMP's schedule(static)).
void Block(int n, int threads, int t, int* begin, int* end) {
  const int chunk = (n + threads - 1) / threads;
  *begin = std::min(n, t * chunk);
  *end = std::min(n, *begin + chunk);
}

// A hand-written loop: one mjData per thread, the tabulated commands, mj_step, no checks.
void RunRaw(const Workload& w, int n, int steps, int threads, std::vector<double>* final_qpos) {
  const mjModel* m = w.model.get();
  const int nq = m->nq;
  std::vector<int> failed(threads, 0);
  auto worker = [&](int t) {
    try {
      DataPtr owned = MakeData(m);
      mjData* d = owned.get();
      int begin, end;
      Block(n, threads, t, &begin, &end);
      for (int i = begin; i < end; ++i) {
        d->time = 0.0;
        mju_copy(d->qpos, m->qpos0, nq);
        mju_zero(d->qvel, m->nv);
        mju_zero(d->act, m->na);
        mju_zero(d->qacc_warmstart, m->nv);
        mju_zero(d->ctrl, m->nu);
        mju_zero(d->qfrc_applied, m->nv);
        mju_zero(d->xfrc_applied, 6 * m->nbody);
        const double* u = w.patterns[i % kPatterns].ctrl.data();
        for (int s = 0; s < steps; ++s) {
          std::memcpy(d->ctrl, u + static_cast<std::size_t>(s) * m->nu, sizeof(double) * m->nu);
          mj_step(m, d);
        }
        std::memcpy(&(*final_qpos)[static_cast<std::size_t>(i) * nq], d->qpos, sizeof(double) * nq);
      }
    } catch (const std::exception&) {
      failed[t] = 1;  // never throw out of a thread
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& th : pool) th.join();
  for (int f : failed) {
    if (f) throw RunError(w.name + ": the raw loop raised a MuJoCo error");
  }
  raw_steps_run += static_cast<double>(n) * steps;
}

// What a user writes: a pool of workspaces, ParallelFor, a controller and Rollout per item.
void RunEngine(const Workload& w, int n, int steps, int threads, int record_every,
               std::vector<double>* final_qpos) {
  const mjModel* m = w.model.get();
  const int nq = m->nq;
  WorkspacePool pool(m, threads, false);
  std::vector<int> bad(n, 0);
  RolloutOptions options;
  options.num_steps = steps;
  options.record_every = record_every;
  ParallelFor(n, threads, [&](int i, int t) {
    Workspace& ws = pool[t];
    ws.SetState(State::Reference(m));
    const Pattern& p = w.patterns[i % kPatterns];
    OpenLoopController c(p.times, p.knots);
    RolloutResult r = Rollout(ws, &c, options);
    bad[i] = !r.ok() || r.steps != steps;
    std::memcpy(&(*final_qpos)[static_cast<std::size_t>(i) * nq], ws.data()->qpos,
                sizeof(double) * nq);
  });
  for (int i = 0; i < n; ++i) {
    if (bad[i]) throw RunError(w.name + ": engine rollout " + std::to_string(i) + " failed");
  }
  engine_steps_run += static_cast<double>(n) * steps;
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats Summarise(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Stats s;
  s.min = v.front();
  s.max = v.back();
  const std::size_t k = v.size();
  s.median = k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
  return s;
}

// The first line of /proc/loadavg, to show how busy the machine was.
std::string LoadAverage() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (!f) return "unknown\n";
  char line[128] = "";
  if (!std::fgets(line, sizeof line, f)) line[0] = 0;
  std::fclose(f);
  return line;
}

struct Run {
  double rate = 0;       // steps per second of wall time
  double cpu_share = 0;  // process CPU time / (wall time x threads): below 1, others ran too
};

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

template <typename F>
Run Time(double total_steps, int threads, F&& f) {
  const double c0 = CpuSeconds();
  const auto a = std::chrono::steady_clock::now();
  f();
  const double wall = Seconds(a, std::chrono::steady_clock::now());
  return {total_steps / wall, (CpuSeconds() - c0) / (wall * threads)};
}

// The repeats in which every run of `sides` had its cores nearly to itself (CPU share >= quiet).
// When none did, all repeats, flagged by *busy, so that a busy machine still gives figures.
std::vector<int> QuietRepeats(const std::vector<const std::vector<Run>*>& sides, double quiet,
                              bool* busy) {
  const int repeats = static_cast<int>(sides[0]->size());
  std::vector<int> reps;
  for (int i = 0; i < repeats; ++i) {
    bool ok = true;
    for (const auto* runs : sides) ok = ok && (*runs)[i].cpu_share >= quiet;
    if (ok) reps.push_back(i);
  }
  *busy = reps.empty();
  if (*busy) {
    for (int i = 0; i < repeats; ++i) reps.push_back(i);
  }
  return reps;
}

std::vector<double> Rates(const std::vector<Run>& runs, const std::vector<int>& reps) {
  std::vector<double> v;
  for (int i : reps) v.push_back(runs[i].rate);
  return v;
}

// a[i].rate / b[i].rate for each selected repeat i.
std::vector<double> Ratios(const std::vector<Run>& a, const std::vector<Run>& b,
                           const std::vector<int>& reps) {
  std::vector<double> v;
  for (int i : reps) v.push_back(a[i].rate / b[i].rate);
  return v;
}

struct Options {
  double duration = 1.0;  // seconds per timed run (per model, thread count and side)
  int repeats = 7;
  double quiet = 0.9;  // CPU share above which a run counts as undisturbed
  int steps = 1000;
  int record_every = 1;
  std::vector<std::string> models = {"pendulum", "arm_box", "vx300s"};
  std::vector<int> threads = {1, 2};
  std::string vx300s = std::string(NEXTBATCH_SHARED_DIR) + "/models/trossen_vx300s/scene.xml";
};

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"Engine rollouts against raw mj_step: steps per second, ratio and thread scaling"};
  app.add_option("--duration", o.duration, "seconds per timed run")->check(CLI::PositiveNumber);
  app.add_option("--repeats", o.repeats, "interleaved repetitions")->check(CLI::Range(1, 1000));
  app.add_option("--steps", o.steps, "steps per rollout")->check(CLI::Range(10, 1000000));
  app.add_option("--record-every", o.record_every, "engine records the state every k steps")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--quiet", o.quiet, "CPU share for a run to count as undisturbed")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--models", o.models, "pendulum, arm_box, vx300s");
  app.add_option("--threads", o.threads, "thread counts")->check(CLI::Range(1, 256));
  app.add_option("--vx300s", o.vx300s, "ViperX 300s scene.xml");
  CLI11_PARSE(app, argc, argv);

  std::vector<Workload> workloads;
  for (const std::string& name : o.models) {
    Workload w;
    w.name = name;
    if (name == "pendulum") {
      w.model = LoadModelString(testing::PendulumXml());
    } else if (name == "arm_box") {
      w.model = LoadModelString(testing::ArmBoxXml());
    } else if (name == "vx300s") {
      try {
        w.model = LoadModelFile(o.vx300s);
      } catch (const InputError& e) {
        std::printf("skipping vx300s: %s\n", e.what());
        continue;
      }
    } else {
      std::fprintf(stderr, "--models: expected pendulum, arm_box or vx300s, got %s\n",
                   name.c_str());
      return 2;
    }
    for (int i = 0; i < kPatterns; ++i)
      w.patterns.push_back(MakePattern(w.model.get(), o.steps, i));
    workloads.push_back(std::move(w));
  }

  std::printf(
      "rollouts of %d steps; engine records qpos+qvel every %d step(s), raw records "
      "nothing; %.2f s per run, %d interleaved repeats; median [min, max]\n",
      o.steps, o.record_every, o.duration, o.repeats);
  std::printf(
      "eng/raw and scaling: median [min, max] of per-repeat ratios; rollout/s: engine "
      "median; quiet: repeats whose runs all got >= %.2f of their cores, the only ones the "
      "figures use\n",
      o.quiet);
  std::printf("%-9s %3s %-30s %-30s %-21s %7s %5s\n", "model", "thr", "raw steps/s",
              "engine steps/s", "eng/raw", "rollout/s", "quiet");
  using Clock = std::chrono::steady_clock;
  for (const Workload& w : workloads) {
    const int nq = w.model->nq;
    // Size runs from one warm-up raw rollout so that a run lasts about --duration.
    std::vector<double> scratch(static_cast<std::size_t>(nq) * 2);
    RunRaw(w, 2, o.steps, 1, &scratch);
    auto t0 = Clock::now();
    RunRaw(w, 2, o.steps, 1, &scratch);
    const double per_rollout = Seconds(t0, Clock::now()) / 2;
    const int base = std::max(2, static_cast<int>(o.duration / per_rollout));

    // Repeats outermost, so that every repeat measures each thread count and side close in
    // time: per-repeat ratios and scalings are paired and share whatever load there was.
    const std::size_t nt = o.threads.size();
    std::vector<int> n(nt);
    std::vector<std::vector<double>> raw_q(nt), eng_q(nt);
    std::vector<std::vector<Run>> raw(nt), eng(nt);
    for (std::size_t ti = 0; ti < nt; ++ti) {
      n[ti] = base * o.threads[ti];
      raw_q[ti].resize(static_cast<std::size_t>(n[ti]) * nq);
      eng_q[ti].resize(raw_q[ti].size());
      RunEngine(w, 2 * o.threads[ti], o.steps, o.threads[ti], o.record_every, &eng_q[ti]);
    }
    for (int rep = 0; rep < o.repeats; ++rep) {
      for (std::size_t ti = 0; ti < nt; ++ti) {
        const int threads = o.threads[ti];
        const double total = static_cast<double>(n[ti]) * o.steps;
        // Alternate which side goes first so that drifting load falls on both.
        for (int side = 0; side < 2; ++side) {
          if ((side == 0) == (rep % 2 == 1)) {
            eng[ti].push_back(Time(total, threads, [&] {
              RunEngine(w, n[ti], o.steps, threads, o.record_every, &eng_q[ti]);
            }));
          } else {
            raw[ti].push_back(
                Time(total, threads, [&] { RunRaw(w, n[ti], o.steps, threads, &raw_q[ti]); }));
          }
        }
      }
    }
    for (std::size_t ti = 0; ti < nt; ++ti) {
      if (raw_q[ti] != eng_q[ti]) {
        std::printf("%s: engine and raw trajectories differ: the comparison is not fair\n",
                    w.name.c_str());
        return 1;
      }
      bool busy = false;
      const std::vector<int> reps = QuietRepeats({&raw[ti], &eng[ti]}, o.quiet, &busy);
      Stats r = Summarise(Rates(raw[ti], reps)), e = Summarise(Rates(eng[ti], reps));
      Stats q = Summarise(Ratios(eng[ti], raw[ti], reps));
      std::printf(
          "%-9s %3d %10.0f [%.0f, %.0f] %10.0f [%.0f, %.0f] %6.3f [%.3f, %.3f] %7.1f %3d/%d%s\n",
          w.name.c_str(), o.threads[ti], r.median, r.min, r.max, e.median, e.min, e.max, q.median,
          q.min, q.max, e.median / o.steps, busy ? 0 : static_cast<int>(reps.size()), o.repeats,
          busy ? " (all disturbed: figures from every repeat)" : "");
    }
    for (std::size_t ti = 1; ti < nt; ++ti) {
      bool busy = false;
      const std::vector<int> reps =
          QuietRepeats({&raw[ti], &eng[ti], &raw[0], &eng[0]}, o.quiet, &busy);
      Stats r = Summarise(Ratios(raw[ti], raw[0], reps));
      Stats e = Summarise(Ratios(eng[ti], eng[0], reps));
      std::printf(
          "%-9s scaling %d->%d threads: raw %.2fx [%.2f, %.2f], engine %.2fx [%.2f, %.2f]; "
          "quiet %d/%d%s\n",
          w.name.c_str(), o.threads[0], o.threads[ti], r.median, r.min, r.max, e.median, e.min,
          e.max, busy ? 0 : static_cast<int>(reps.size()), o.repeats,
          busy ? " (all disturbed)" : "");
    }
    std::fflush(stdout);
  }
  std::printf("load average at end: %s", LoadAverage().c_str());
  std::printf("steps run in all: raw %.0f, engine %.0f\n", raw_steps_run, engine_steps_run);
  return 0;
}

}  // namespace
}  // namespace nextbatch

int main(int argc, char** argv) {
  try {
    return nextbatch::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rollout_throughput: %s\n", e.what());
    return 1;
  }
}
