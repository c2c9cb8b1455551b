#include "scenarios/candidates.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/error.h"
#include "engine/interrupt.h"
#include "engine/parallel.h"
#include "engine/random.h"
#include "scenarios/policy.h"
#include "scenarios/recording_controller.h"

namespace nextbatch {

std::string NuisanceOptions::Validate() const {
  if (!(qpos_std >= 0) || !std::isfinite(qpos_std)) {
    return Expected("simulate.nuisance.qpos_std", "a number >= 0", std::to_string(qpos_std));
  }
  if (!(qvel_std >= 0) || !std::isfinite(qvel_std)) {
    return Expected("simulate.nuisance.qvel_std", "a number >= 0", std::to_string(qvel_std));
  }
  return "";
}

std::string SimulateOptions::Validate() const {
  if (candidates < 1) return Expected("simulate.candidates", ">= 1", std::to_string(candidates));
  if (posterior_samples < 1) {
    return Expected("simulate.posterior_samples", ">= 1", std::to_string(posterior_samples));
  }
  if (chunk < 1) return Expected("simulate.chunk", ">= 1", std::to_string(chunk));
  if (num_threads < 0) return Expected("simulate.threads", ">= 0", std::to_string(num_threads));
  if (safety.max_samples < 0 || safety.max_samples > kSafetyMaxSamples) {
    return Expected("safety.max_samples", "0 to " + std::to_string(kSafetyMaxSamples),
                    std::to_string(safety.max_samples));
  }
  if (resume.candidates < 0 || resume.candidates > candidates) {
    return Expected("resume", "0 to " + std::to_string(candidates) + " candidates done",
                    std::to_string(resume.candidates));
  }
  return nuisance.Validate();
}

namespace {

// What a stop has finished: the candidates before `first` (a stop inside a chunk drops the
// chunk; the ones before it have their checkpoint).
std::string StoppedAfter(std::int64_t first, std::int64_t total) {
  return "stopped after " + std::to_string(first) + " of " + std::to_string(total) + " candidates";
}

// Per-rollout results of a chunk, flat so that a chunk is a few allocations.
struct ChunkBuffer {
  std::vector<char> success, safe, diverged;
  std::vector<int> steps;
  std::vector<double> metrics;               // rollout-major
  std::vector<Eigen::MatrixXd> information;  // per candidate (with CandidateInformation)
  std::vector<std::string> information_error;
  // per candidate: the sequential safety samples (SafetySampling) beyond the K rollouts
  std::vector<int> extra_rollouts, extra_violations, extra_diverged;
  std::vector<std::int64_t> extra_steps;
};

// The episode a log of one rollout from the workspace's current state would hold, and its full
// states at the sample times. Throws RunError when the rollout fails.
Episode RecordEpisode(const Task& task, const CandidateInformation& info, Workspace& ws,
                      std::int64_t candidate, const nlohmann::json& scenario,
                      Eigen::MatrixXd* states) {
  const mjModel* m = ws.model();
  std::unique_ptr<Controller> inner = task.MakeController(m, scenario);
  RecordingController recorder(inner.get(), m->nu);
  RolloutOptions ro;
  ro.num_steps = task.NumSteps(m);
  ro.record_every = 1;
  ro.record_qvel = true;
  mj_forward(m, ws.data());
  const RolloutResult r = Rollout(ws, &recorder, ro);
  if (!r.ok()) throw RunError("the mean-parameter rollout failed: " + r.message);
  const int steps = static_cast<int>(r.time.size()) - 1;
  const int every = info.sample_every;
  const int n = steps / every + 1;
  Episode e;
  e.id = "candidate_" + std::to_string(candidate);
  e.time.resize(n);
  auto joint_columns = [&](const std::vector<std::string>& names, bool velocity, Channels* c) {
    c->names = names;
    c->values.resize(n, static_cast<Eigen::Index>(names.size()));
    for (std::size_t k = 0; k < names.size(); ++k) {
      const int j = mj_name2id(m, mjOBJ_JOINT, names[k].c_str());
      NB_CHECK(j >= 0);
      for (int i = 0; i < n; ++i) {
        c->values(i, static_cast<Eigen::Index>(k)) =
            velocity ? r.qvel(i * every, m->jnt_dofadr[j]) : r.qpos(i * every, m->jnt_qposadr[j]);
      }
    }
  };
  joint_columns(info.qpos_joints, false, &e.qpos);
  joint_columns(info.qvel_joints, true, &e.qvel);
  states->resize(n, m->nq + m->nv);
  e.ctrl.values.resize(n, m->nu);
  for (int a = 0; a < m->nu; ++a) e.ctrl.names.push_back(mj_id2name(m, mjOBJ_ACTUATOR, a));
  // Rollout row k is the state after step k; the controller's call k + 1 (0-based: k) is the
  // command applied from that state on, which a log would show at time t_k.
  const std::vector<double>& cmd = recorder.commands();
  const int calls = static_cast<int>(cmd.size()) / std::max(1, m->nu);
  for (int i = 0; i < n; ++i) {
    const int k = i * every;
    e.time[i] = r.time[k];
    states->row(i).head(m->nq) = r.qpos.row(k);
    states->row(i).tail(m->nv) = r.qvel.row(k);
    const int call = std::min(k, calls - 1);
    for (int a = 0; a < m->nu; ++a) e.ctrl.values(i, a) = call >= 0 ? cmd[call * m->nu + a] : 0.0;
  }
  return e;
}

void Perturb(const mjModel* m, const NuisanceOptions& n, std::uint64_t seed, std::uint64_t index,
             State* s) {
  if (n.qpos_std == 0 && n.qvel_std == 0) return;
  RandomStream rng(seed, Stage::kNuisance, index);
  for (int j = 0; j < m->njnt; ++j) {
    const int type = m->jnt_type[j];
    if (type != mjJNT_HINGE && type != mjJNT_SLIDE) continue;
    const double a = rng.Normal(), b = rng.Normal();
    s->qpos[m->jnt_qposadr[j]] += n.qpos_std * a;
    s->qvel[m->jnt_dofadr[j]] += n.qvel_std * b;
  }
}

}  // namespace

namespace {

// Every parameter that options.episode_scale names must be one of the binding's.
void CheckEpisodeScale(const ParameterBinding& binding, const SimulateOptions& options) {
  for (const auto& [name, factor] : options.episode_scale) {
    if (binding.Find(name) >= 0) continue;
    std::string names;
    for (const auto& s : binding.specs()) names += (names.empty() ? "" : ", ") + s.name;
    ThrowExpected("simulate: episode_scale", "a parameter name (" + names + ")", "'" + name + "'");
  }
}

// Each candidate's per-parameter factors from options.episode_scale (empty vectors when there
// are none), read serially after the chunk is drawn so that a bad scenario value throws here and
// not inside the parallel loop.
std::vector<Eigen::VectorXd> ChunkScales(const ParameterBinding& binding,
                                         const SimulateOptions& options,
                                         const ScenarioSource& source, int count) {
  std::vector<Eigen::VectorXd> out(count);
  if (options.episode_scale.empty()) return out;
  for (int i = 0; i < count; ++i) {
    const nlohmann::json values = source.Values(i);
    out[i] = Eigen::VectorXd::Ones(binding.size());
    for (const auto& [name, factor] : options.episode_scale) {
      const int j = binding.Find(name);
      const auto it = values.find(factor);
      if (it == values.end() || !it->is_number() || !std::isfinite(it->get<double>())) {
        ThrowExpected("simulate: episode_scale." + name,
                      "a scenario factor '" + factor + "' with a number",
                      it == values.end() ? std::string("no such factor") : it->dump());
      }
      out[i][j] = it->get<double>();
    }
  }
  return out;
}

// Prepares rollout k of candidate i (chunk-relative) on a workspace: the posterior sample, the
// scenario and the nuisance perturbation, keyed by (seed, stage, candidate * K + k).
// `scale`: the candidate's per-parameter factors (ChunkScales), empty when there are none.
// `key`: RolloutKey, or SafetyKey for a sequential safety sample.
void PrepareRollout(const Task& task, const ParameterBinding& binding, const Posterior& posterior,
                    const ScenarioSource& source, const SimulateOptions& options, std::uint64_t key,
                    int i, Workspace& ws, Eigen::VectorXd* theta, const Eigen::VectorXd& scale) {
  ws.RestoreBase();
  if (binding.size() > 0) {
    posterior.Sample(options.seed, key, theta);
    if (scale.size() == theta->size()) *theta = theta->cwiseProduct(scale);
    ws.Apply(binding, *theta);
  }
  State initial = task.InitialState(ws.model());
  source.Apply(i, ws, &initial);
  Perturb(ws.model(), options.nuisance, options.seed, key, &initial);
  ws.SetState(initial);
}

std::uint64_t RolloutKey(const SimulateOptions& options, std::int64_t candidate, int k) {
  return static_cast<std::uint64_t>(candidate) * options.posterior_samples +
         static_cast<unsigned>(k);
}

std::uint64_t SafetyKey(std::int64_t candidate, int j) {
  return kSafetyKeyBase + (static_cast<std::uint64_t>(candidate) << 24) + static_cast<unsigned>(j);
}

void Record(const EpisodeOutcome& e, int r, int nm, ChunkBuffer* buf) {
  buf->steps[r] = e.steps;
  if (!e.ok()) {
    buf->diverged[r] = 1;
    return;
  }
  buf->success[r] = e.success;
  buf->safe[r] = e.safe;
  for (int q = 0; q < nm; ++q) buf->metrics[static_cast<std::size_t>(r) * nm + q] = (*e.metrics)[q];
}

// One sequential safety sample's verdict: a violation (unsafe or diverged), a divergence, its
// steps.
struct SafetySample {
  char unsafe = 0;
  char diverged = 0;
  int steps = 0;
};

// Runs one round of safety samples: (candidate in the chunk, extra rollout j) each, the verdicts
// into `out` in the same order.
using SafetyRound = std::function<void(const std::vector<std::pair<int, int>>& todo,
                                       std::vector<SafetySample>* out)>;

// The sequential safety samples of a chunk (SafetySampling): rounds of up to K more rollouts for
// each candidate its rule leaves undecided after the K rollouts in `buf`. A candidate's rounds
// depend on its own rollouts alone, and each sample on its key alone, so any thread count, chunk
// size or way of running a round (one rollout at a time or a batch in lockstep) draws the same.
void SafetyRounds(const SafetySampling& rule, int K, int count, ChunkBuffer* buf,
                  const SafetyRound& run) {
  std::vector<int> samples(count, K), violations(count, 0);
  for (int i = 0; i < count; ++i)
    for (int k = 0; k < K; ++k) {
      const int r = i * K + k;
      violations[i] += buf->diverged[r] || !buf->safe[r] ? 1 : 0;
    }
  std::vector<std::pair<int, int>> todo;  // (candidate in the chunk, extra rollout)
  std::vector<SafetySample> out;
  for (;;) {
    todo.clear();
    for (int i = 0; i < count; ++i) {
      if (samples[i] >= rule.max_samples || !rule.more(violations[i], samples[i])) continue;
      const int add = std::min(K, rule.max_samples - samples[i]);
      for (int a = 0; a < add; ++a) todo.emplace_back(i, samples[i] - K + a);
    }
    if (todo.empty()) return;
    out.assign(todo.size(), SafetySample());
    run(todo, &out);
    for (std::size_t t = 0; t < todo.size(); ++t) {
      const int i = todo[t].first;
      ++samples[i];
      violations[i] += out[t].unsafe;
      ++buf->extra_rollouts[i];
      buf->extra_violations[i] += out[t].unsafe;
      buf->extra_diverged[i] += out[t].diverged;
      buf->extra_steps[i] += out[t].steps;
    }
  }
}

SafetySample Judged(const EpisodeOutcome& e) {
  SafetySample s;
  s.steps = e.steps;
  s.diverged = e.ok() ? 0 : 1;
  s.unsafe = !e.ok() || !e.safe ? 1 : 0;
  return s;
}

// The chunk loop shared by the per-rollout and the batched simulation: draws each chunk,
// lets `simulate` fill the per-rollout buffer, reduces it per candidate and hands it on.
SimulateSummary RunChunks(
    const Task& task, ScenarioSource& source, const SimulateOptions& options,
    const CandidateSink& sink, const ProgressFn& progress,
    const std::function<void(std::int64_t first, int count, ChunkBuffer*)>& simulate) {
  {
    const std::string error = options.Validate();
    if (!error.empty()) throw InputError(error);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int K = options.posterior_samples;
  const int nm = task.outcome().num_metrics();
  SimulateSummary summary;
  summary.candidates = options.resume.candidates;
  summary.rollouts = options.resume.rollouts;
  summary.diverged = options.resume.diverged;
  summary.steps = options.resume.steps;
  ChunkBuffer buf;
  std::vector<CandidateStats> stats;
  double success_sum = options.resume.success_sum;
  // scenarios are drawn by index (Sampler::Draw), so a resumed run starts at its first chunk;
  // a count that is not a multiple of the chunk is where a finite design ended
  const bool ended = options.resume.candidates % options.chunk != 0;
  for (std::int64_t first = options.resume.candidates; !ended && first < options.candidates;
       first += options.chunk) {
    int count = static_cast<int>(std::min<std::int64_t>(options.chunk, options.candidates - first));
    const int drawn = source.Draw(first, count);
    NB_CHECK(drawn >= 0 && drawn <= count);
    const bool last = drawn < count;
    count = drawn;
    const int n = count * K;
    buf.success.assign(n, 0);
    buf.safe.assign(n, 0);
    buf.diverged.assign(n, 0);
    buf.steps.assign(n, 0);
    buf.metrics.assign(static_cast<std::size_t>(n) * nm, 0.0);
    buf.information.assign(count, Eigen::MatrixXd());
    buf.information_error.assign(count, "");
    buf.extra_rollouts.assign(count, 0);
    buf.extra_violations.assign(count, 0);
    buf.extra_diverged.assign(count, 0);
    buf.extra_steps.assign(count, 0);
    simulate(first, count, &buf);
    stats.resize(count);
    for (int i = 0; i < count; ++i) {
      CandidateStats& c = stats[i];
      c.index = first + i;
      c.rollouts = K;
      c.successes = c.safe = c.diverged = 0;
      c.metric_mean.assign(nm, 0.0);
      c.metric_std.assign(nm, 0.0);
      c.information = std::move(buf.information[i]);
      c.information_error = std::move(buf.information_error[i]);
      int ok = 0;
      for (int k = 0; k < K; ++k) {
        const int r = i * K + k;
        summary.steps += buf.steps[r];
        if (buf.diverged[r]) {
          ++c.diverged;
          continue;
        }
        ++ok;
        c.successes += buf.success[r];
        c.safe += buf.safe[r];
        for (int q = 0; q < nm; ++q) {
          c.metric_mean[q] += buf.metrics[static_cast<std::size_t>(r) * nm + q];
        }
      }
      for (int q = 0; q < nm; ++q) {
        if (ok == 0) {
          c.metric_mean[q] = std::nan("");
          c.metric_std[q] = std::nan("");
          continue;
        }
        c.metric_mean[q] /= ok;
        double ss = 0;
        for (int k = 0; k < K; ++k) {
          const int r = i * K + k;
          if (buf.diverged[r]) continue;
          const double dx = buf.metrics[static_cast<std::size_t>(r) * nm + q] - c.metric_mean[q];
          ss += dx * dx;
        }
        c.metric_std[q] = ok > 1 ? std::sqrt(ss / (ok - 1)) : 0.0;
      }
      summary.diverged += c.diverged;
      success_sum += c.success_probability();
      c.safety_rollouts = K + buf.extra_rollouts[i];
      c.safety_violations = (K - c.safe) + buf.extra_violations[i];
      summary.rollouts += buf.extra_rollouts[i];
      summary.diverged += buf.extra_diverged[i];
      summary.steps += buf.extra_steps[i];
    }
    summary.candidates += count;
    summary.rollouts += n;
    if (sink) sink(stats, source);
    if (options.on_chunk) {
      options.on_chunk(
          {summary.candidates, summary.rollouts, summary.diverged, summary.steps, success_sum});
    }
    if (progress) progress(summary.candidates, options.candidates);
    if (last) break;
    if (summary.candidates < options.candidates) {
      ThrowIfInterrupted(StoppedAfter(summary.candidates, options.candidates));
    }
  }
  summary.mean_success = summary.candidates ? success_sum / summary.candidates : 0.0;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (summary.rollouts > 0 && summary.diverged == summary.rollouts) {
    summary.termination = SimulateSummary::Termination::kFailed;
    summary.message = "every rollout diverged";
  }
  return summary;
}

}  // namespace

SimulateSummary SimulateCandidates(const mjModel* base, const Task& task,
                                   const ParameterBinding& binding, const Posterior& posterior,
                                   ScenarioSource& source, const SimulateOptions& options,
                                   const CandidateSink& sink, const ProgressFn& progress,
                                   const ControllerFactory& controllers,
                                   const CandidateInformation* information) {
  if (information) {
    NB_CHECK(information->values.size() == binding.size() && information->compute);
    if (information->sample_every < 1)
      ThrowExpected("simulate: information.sample_every", ">= 1",
                    std::to_string(information->sample_every));
    for (const auto* list : {&information->qpos_joints, &information->qvel_joints}) {
      for (const std::string& name : *list) {
        const int j = mj_name2id(base, mjOBJ_JOINT, name.c_str());
        if (j < 0 || (base->jnt_type[j] != mjJNT_HINGE && base->jnt_type[j] != mjJNT_SLIDE))
          ThrowExpected("simulate: information channel", "a hinge or slide joint",
                        "'" + name + "'");
      }
    }
  }
  NB_CHECK(posterior.size() == binding.size());
  CheckEpisodeScale(binding, options);
  const int threads = ResolveThreads(options.num_threads);
  const int K = options.posterior_samples;
  const int nm = task.outcome().num_metrics();
  WorkspacePool pool(base, threads, true);
  std::vector<std::unique_ptr<Outcome::Evaluator>> evaluators;
  for (int t = 0; t < threads; ++t) {
    evaluators.push_back(std::make_unique<Outcome::Evaluator>(&task.outcome()));
  }
  std::vector<Eigen::VectorXd> theta(threads);
  double information_seconds = 0.0;
  SimulateSummary summary = RunChunks(
      task, source, options, sink, progress, [&](std::int64_t first, int count, ChunkBuffer* buf) {
        const std::vector<Eigen::VectorXd> scales = ChunkScales(binding, options, source, count);
        // The scenarios of a controller that depends on them, each tried once here: a level
        // without a profile throws before the parallel loop.
        std::vector<nlohmann::json> scenarios(count);
        if (task.needs_scenario() || information) {
          for (int i = 0; i < count; ++i) {
            scenarios[i] = source.Values(i);
            if (task.needs_scenario()) task.MakeController(base, scenarios[i]);
          }
        }
        // Rollout `k` of chunk candidate i under posterior key `key` (k >= K: a safety sample).
        const auto rollout = [&](int i, int k, std::uint64_t key, int thread) {
          Workspace& ws = pool[thread];
          PrepareRollout(task, binding, posterior, source, options, key, i, ws, &theta[thread],
                         scales[i]);
          std::unique_ptr<Controller> own;
          if (controllers) {
            own = controllers(ws.model(), first + i, k);
          } else if (task.needs_scenario()) {
            own = task.MakeController(ws.model(), scenarios[i]);
          }
          return task.Run(ws, *evaluators[thread], own.get());
        };
        StoppableParallelFor(
            count * K, threads, StoppedAfter(first, options.candidates), [&](int r, int thread) {
              const int i = r / K, k = r % K;
              Record(rollout(i, k, RolloutKey(options, first + i, k), thread), r, nm, buf);
            });
        if (options.safety.enabled()) {
          SafetyRounds(
              options.safety, K, count, buf,
              [&](const std::vector<std::pair<int, int>>& todo, std::vector<SafetySample>* out) {
                StoppableParallelFor(
                    static_cast<int>(todo.size()), threads, StoppedAfter(first, options.candidates),
                    [&](int t, int thread) {
                      const auto [i, j] = todo[t];
                      (*out)[t] = Judged(rollout(i, K + j, SafetyKey(first + i, j), thread));
                    });
              });
        }
        if (!information) return;
        const auto t0 = std::chrono::steady_clock::now();
        // One mean-parameter episode per candidate; nothing throws out of the loop.
        StoppableParallelFor(
            count, threads, StoppedAfter(first, options.candidates), [&](int i, int thread) {
              Workspace& ws = pool[thread];
              try {
                ws.RestoreBase();
                if (binding.size() > 0) {
                  const Eigen::VectorXd& scale = scales[i];
                  ws.Apply(binding, scale.size() == binding.size()
                                        ? Eigen::VectorXd(information->values.cwiseProduct(scale))
                                        : information->values);
                }
                State initial = task.InitialState(ws.model());
                source.Apply(i, ws, &initial);
                ws.SetState(initial);
                Eigen::MatrixXd states;
                Episode e = RecordEpisode(task, *information, ws, first + i, scenarios[i], &states);
                // What a log of it would record: its scenario (the episode_scale factors
                // included, which the information routine scales the parameters by).
                e.scenario = scenarios[i];
                Eigen::MatrixXd info = information->compute(ws.model(), e, states);
                if (!info.allFinite()) {
                  buf->information_error[i] = "the information is not finite";
                } else {
                  buf->information[i] = std::move(info);
                }
              } catch (const MujocoError& e) {
                ws.HardReset();
                buf->information_error[i] = e.what();
              } catch (const std::exception& e) {
                buf->information_error[i] = e.what();
              }
            });
        information_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
  summary.information_seconds = information_seconds;
  return summary;
}

SimulateSummary SimulateCandidatesBatched(const mjModel* base, const Task& task,
                                          const ParameterBinding& binding,
                                          const Posterior& posterior, ScenarioSource& source,
                                          const SimulateOptions& options, BatchPolicy& policy,
                                          const ObservationSpec& observation,
                                          const CandidateSink& sink, const ProgressFn& progress) {
  NB_CHECK(posterior.size() == binding.size());
  CheckEpisodeScale(binding, options);
  const int threads = ResolveThreads(options.num_threads);
  const int K = options.posterior_samples;
  const int nm = task.outcome().num_metrics();
  // one workspace and one evaluator per rollout of a batch, made once and reused (grown to the
  // largest batch: a chunk's K rollouts per candidate, or a round of safety samples)
  std::vector<std::unique_ptr<Workspace>> workspaces;
  std::vector<std::unique_ptr<Outcome::Evaluator>> evaluators;
  std::vector<Eigen::VectorXd> theta;
  // Runs n rollouts in lockstep: rollout r is chunk candidate candidate(r) under posterior key
  // key(r); `done(r, outcome)` receives each, its metrics valid during the call.
  const auto lockstep = [&](int n, const std::vector<Eigen::VectorXd>& scales,
                            const std::function<int(int)>& candidate,
                            const std::function<std::uint64_t(int)>& key,
                            const std::function<void(int, const EpisodeOutcome&)>& done) {
    while (static_cast<int>(workspaces.size()) < n) {
      workspaces.push_back(std::make_unique<Workspace>(base, true));
      evaluators.push_back(std::make_unique<Outcome::Evaluator>(&task.outcome()));
      theta.emplace_back();
    }
    std::vector<char> started(n, 0);
    ParallelFor(n, threads, [&](int r, int) {
      Workspace& ws = *workspaces[r];
      const int i = candidate(r);
      PrepareRollout(task, binding, posterior, source, options, key(r), i, ws, &theta[r],
                     scales[i]);
      try {
        mj_forward(ws.model(), ws.data());
      } catch (const MujocoError&) {
        ws.HardReset();
        return;
      }
      evaluators[r]->Begin(ws.model(), ws.data());
      started[r] = 1;
    });
    std::vector<Workspace*> batch;
    for (int r = 0; r < n; ++r) batch.push_back(workspaces[r].get());
    BatchRolloutOptions o;
    o.num_steps = task.NumSteps(base);
    o.observation = observation;
    o.num_threads = threads;
    const std::vector<RolloutResult> results =
        BatchRollout(batch, policy, o, [&](int r, int, const mjModel* m, const mjData* d) {
          evaluators[r]->Observe(m, d);
          return true;
        });
    ParallelFor(n, threads, [&](int r, int) {
      EpisodeOutcome e;
      e.status = started[r] ? results[r].status : RolloutStatus::kMujocoError;
      e.steps = results[r].steps;
      if (e.ok()) {
        Workspace& ws = *workspaces[r];
        try {
          evaluators[r]->Finish(ws.model(), ws.data());
          e.success = evaluators[r]->success();
          e.safe = evaluators[r]->safe();
          e.metrics = &evaluators[r]->metrics();
        } catch (const MujocoError&) {
          ws.HardReset();
          e.status = RolloutStatus::kMujocoError;
        }
      }
      done(r, e);
    });
  };
  return RunChunks(
      task, source, options, sink, progress, [&](std::int64_t first, int count, ChunkBuffer* buf) {
        const std::vector<Eigen::VectorXd> scales = ChunkScales(binding, options, source, count);
        lockstep(
            count * K, scales, [&](int r) { return r / K; },
            [&](int r) { return RolloutKey(options, first + r / K, r % K); },
            [&](int r, const EpisodeOutcome& e) { Record(e, r, nm, buf); });
        if (!options.safety.enabled()) return;
        // each round of safety samples is one batch in lockstep, under the same keys as the
        // per-rollout simulation's
        SafetyRounds(
            options.safety, K, count, buf,
            [&](const std::vector<std::pair<int, int>>& todo, std::vector<SafetySample>* out) {
              lockstep(
                  static_cast<int>(todo.size()), scales, [&](int t) { return todo[t].first; },
                  [&](int t) { return SafetyKey(first + todo[t].first, todo[t].second); },
                  [&](int t, const EpisodeOutcome& e) { (*out)[t] = Judged(e); });
            });
      });
}

CandidateWriter::CandidateWriter(std::string path, std::vector<std::string> metric_names)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), metrics_(std::move(metric_names)) {
  out_.open(tmp_, std::ios::out | std::ios::trunc);
  if (!out_) throw RunError(tmp_ + ": cannot open for writing");
}

CandidateWriter::CandidateWriter(std::string path, std::vector<std::string> metric_names,
                                 std::string part, std::int64_t keep_bytes)
    : path_(std::move(path)),
      tmp_(std::move(part)),
      metrics_(std::move(metric_names)),
      keep_(true) {
  std::error_code ec;
  if (keep_bytes > 0) {
    if (!std::filesystem::exists(tmp_, ec) ||
        static_cast<std::int64_t>(std::filesystem::file_size(tmp_, ec)) < keep_bytes) {
      throw RunError(tmp_ + ": expected at least " + std::to_string(keep_bytes) +
                     " bytes of saved candidates, got fewer");
    }
    std::filesystem::resize_file(tmp_, static_cast<std::uintmax_t>(keep_bytes), ec);
    if (ec) throw RunError(tmp_ + ": cannot truncate: " + ec.message());
    out_.open(tmp_, std::ios::out | std::ios::app);
  } else {
    out_.open(tmp_, std::ios::out | std::ios::trunc);
  }
  if (!out_) throw RunError(tmp_ + ": cannot open for writing");
}

std::int64_t CandidateWriter::Sync() {
  out_.flush();
  if (!out_) throw RunError(tmp_ + ": write failed (disk full?)");
  const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    throw RunError(tmp_ + ": cannot sync to disk");
  }
  ::close(fd);
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(tmp_, ec);
  if (ec) throw RunError(tmp_ + ": cannot read its size: " + ec.message());
  return static_cast<std::int64_t>(size);
}

CandidateWriter::~CandidateWriter() {
  if (!committed_ && !keep_) {
    out_.close();
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

std::string CandidateWriter::Line(const CandidateStats& c, const nlohmann::json& scenario,
                                  const std::vector<std::string>& names) {
  // ordered: a person reading the file sees index and scenario first
  nlohmann::ordered_json j;
  j["index"] = c.index;
  j["scenario"] = scenario;
  j["rollouts"] = c.rollouts;
  j["success"] = c.success_probability();
  j["safety"] = c.safety_probability();
  j["diverged"] = c.diverged;
  // only where sequential safety samples were drawn: a set without them reads as before
  if (c.safety_rollouts > c.rollouts) {
    j["safety_rollouts"] = c.safety_rollouts;
    j["safety_violations"] = c.safety_violations;
  }
  nlohmann::ordered_json m = nlohmann::ordered_json::object();
  for (std::size_t q = 0; q < names.size(); ++q) {
    // JSON has no NaN: a metric of a candidate whose every rollout diverged is null
    if (std::isfinite(c.metric_mean[q])) {
      m[names[q]] = {{"mean", c.metric_mean[q]}, {"std", c.metric_std[q]}};
    } else {
      m[names[q]] = nullptr;
    }
  }
  j["metrics"] = m;
  if (c.information.size() > 0) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (Eigen::Index a = 0; a < c.information.rows(); ++a) {
      nlohmann::ordered_json row = nlohmann::ordered_json::array();
      for (Eigen::Index b = 0; b < c.information.cols(); ++b) row.push_back(c.information(a, b));
      rows.push_back(row);
    }
    j["information"] = rows;
  } else if (!c.information_error.empty()) {
    j["information"] = nullptr;
    j["information_error"] = c.information_error;
  }
  return j.dump();
}

void CandidateWriter::Write(const std::vector<CandidateStats>& chunk,
                            const ScenarioSource& source) {
  std::string text;
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    text += Line(chunk[i], source.Values(static_cast<int>(i)), metrics_);
    text += '\n';
  }
  out_ << text;
  if (!out_) throw RunError(tmp_ + ": write failed (disk full?)");
}

void CandidateWriter::Commit() {
  out_.flush();
  out_.close();
  if (!out_) throw RunError(tmp_ + ": write failed (disk full?)");
  std::error_code ec;
  if (keep_) {
    // the part stays what its checkpoint says until the set is published: a second name for it
    std::filesystem::create_hard_link(tmp_, path_, ec);
    if (ec) {
      ec.clear();
      std::filesystem::copy_file(tmp_, path_, std::filesystem::copy_options::overwrite_existing,
                                 ec);
    }
    if (ec) throw RunError(path_ + ": cannot copy from " + tmp_ + ": " + ec.message());
  } else {
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) throw RunError(path_ + ": cannot rename from " + tmp_ + ": " + ec.message());
  }
  committed_ = true;
}

}  // namespace nextbatch
