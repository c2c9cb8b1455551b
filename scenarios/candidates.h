// Candidate simulation: many scenarios, each simulated under K samples of the calibration
// posterior (and the study's nuisance randomisation), reduced to an outcome distribution per
// candidate and streamed to disk chunk by chunk so that memory does not grow with their number.
#ifndef NEXTBATCH_SCENARIOS_CANDIDATES_H_
#define NEXTBATCH_SCENARIOS_CANDIDATES_H_

#include <mujoco/mujoco.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/episode.h"
#include "engine/parameter.h"
#include "engine/posterior.h"
#include "engine/workspace.h"
#include "scenarios/policy.h"
#include "scenarios/task.h"

namespace nextbatch {

// Where candidates' scenarios come from (a scenario space and its sampler, or a test's list).
class ScenarioSource {
 public:
  virtual ~ScenarioSource() = default;
  // Prepares scenarios [first, first + count): called serially before each chunk. Returns how
  // many there are (fewer than count only at the end of a finite design: simulation stops).
  virtual int Draw(std::int64_t first, int count) = 0;
  // Writes scenario `i` of the chunk into the workspace's private model and into `initial`.
  // Called concurrently for different workspaces: must not change the source.
  virtual void Apply(int i, Workspace& ws, State* initial) const = 0;
  // The scenario's factor values, {factor: value}.
  virtual nlohmann::json Values(int i) const = 0;
};

// Random perturbations of the initial state beyond the scenario (hinge and slide joints only),
// drawn from RandomStream(seed, Stage::kNuisance, candidate * K + k).
struct NuisanceOptions {
  double qpos_std = 0.0;  // rad or m
  double qvel_std = 0.0;  // rad/s or m/s

  std::string Validate() const;
};

// What a simulation has finished: candidates [0, candidates) and the sums over them, enough to
// continue it after them with the same results as a run that never stopped.
struct SimulateCheckpoint {
  std::int64_t candidates = 0;
  std::int64_t rollouts = 0;
  std::int64_t diverged = 0;
  std::int64_t steps = 0;
  double success_sum = 0.0;  // of the candidates' success probabilities, in candidate order
};

// Sequential safety sampling: more rollouts for a candidate whose safety verdict its K rollouts
// leave undecided. After the K rollouts, and after each further round, a candidate for which
// `more(violations, samples)` holds draws min(K, max_samples - samples) more rollouts, until
// `more` says no or it has max_samples. A violation is an unsafe or diverged rollout. Extra
// rollout j (0-based) of candidate c samples the posterior and the nuisance under the key
// kSafetyKeyBase + c x 2^24 + j, a key space apart from the K rollouts' c x K + k: a
// candidate's extra rollouts are the same for any thread count, chunk size or cap. They count
// only for safety (CandidateStats::safety_rollouts); the success rate and the metrics stay those
// of the K rollouts, so that the other estimates weigh every candidate alike. The decision rule
// is the planner's (planners/safety.h SafetySamplingRule); off when `more` is empty.
struct SafetySampling {
  int max_samples = 0;  // rollouts per candidate at most, the K included (<= K: none added)
  std::function<bool(int violations, int samples)> more;

  bool enabled() const { return static_cast<bool>(more); }
};
inline constexpr std::uint64_t kSafetyKeyBase = std::uint64_t{1} << 63;
inline constexpr int kSafetyMaxSamples = 1 << 24;  // extra rollouts per candidate the keys hold

struct SimulateOptions {
  std::int64_t candidates = 100;
  int posterior_samples = 8;  // K rollouts per candidate
  int chunk = 256;            // candidates simulated (and held in memory) at a time
  int num_threads = 0;        // 0: all available
  std::uint64_t seed = 0;
  std::string calibration;  // calibration.json ("" the parameters' priors)
  NuisanceOptions nuisance;
  // Continue a simulation that finished `resume.candidates` candidates (a whole number of
  // chunks; fewer only where a finite design ended): the next chunk starts after them and the
  // summary includes their sums. The chunk size must be the one of the run that stopped.
  SimulateCheckpoint resume;
  // Called after each chunk has gone to the sink, with everything finished so far (a resumable
  // stage saves it here). After it, a stop asked for by a signal (engine/interrupt.h) throws
  // Interrupted: the chunk boundary is where a run stops cleanly.
  std::function<void(const SimulateCheckpoint&)> on_chunk;
  // The simulate stage computes each candidate's information about the parameters (the plan's
  // information component, CandidateInformation); false saves its cost (about one more
  // simulation of the horizon per parameter and state component per candidate).
  bool information = true;
  // The calibration's per-episode factors (CalibrationOptions::episode_scale): parameter name ->
  // the scenario factor whose number multiplies that parameter's value in each candidate, as the
  // fit multiplied it by each logged episode's recorded value (e.g. a servo's stiffness = a gain
  // per firmware kp unit x the candidate's kp). Applied to every posterior sample and to the
  // information episode, whose scenario the information routine then scales by in the same way.
  std::map<std::string, std::string> episode_scale;
  // More rollouts where the safety verdict is undecided (both simulations: the batched one runs
  // each round of them as one batch in lockstep, under the same keys).
  SafetySampling safety;

  std::string Validate() const;
};

// One candidate's outcome distribution over its K rollouts.
struct CandidateStats {
  std::int64_t index = 0;
  int rollouts = 0;
  int successes = 0;                // diverged rollouts count as failures
  int safe = 0;                     // and as unsafe
  int diverged = 0;                 // diverged or MuJoCo error
  std::vector<double> metric_mean;  // over the rollouts that did not diverge
  std::vector<double> metric_std;   // sample std (0 with fewer than 2)
  // With CandidateInformation: the P x P information of one episode of the candidate (empty
  // when it could not be computed; `information_error` says why).
  Eigen::MatrixXd information;
  std::string information_error;
  // Every rollout that judged safety: the K above plus the sequential safety samples
  // (SafetySampling), and the violations among them (unsafe or diverged).
  int safety_rollouts = 0;
  int safety_violations = 0;

  double success_probability() const { return rollouts ? double(successes) / rollouts : 0.0; }
  double safety_probability() const { return rollouts ? double(safe) / rollouts : 0.0; }
};

struct SimulateSummary {
  enum class Termination { kDone, kFailed };
  Termination termination = Termination::kDone;
  std::string message;
  std::int64_t candidates = 0;
  std::int64_t rollouts = 0;
  std::int64_t diverged = 0;
  std::int64_t steps = 0;
  double mean_success = 0.0;
  double seconds = 0.0;
  double information_seconds = 0.0;  // of `seconds`, spent on CandidateInformation
};

// Called with each finished chunk, in candidate order; `source` still holds that chunk.
using CandidateSink =
    std::function<void(const std::vector<CandidateStats>& chunk, const ScenarioSource& source)>;
// Called after each chunk with the candidates done so far.
using ProgressFn = std::function<void(std::int64_t done, std::int64_t total)>;

// Makes the controller of one rollout (a caller's policy, e.g. through PolicyController) in
// place of the task's; called inside the parallel loop with the thread's model.
using ControllerFactory =
    std::function<std::unique_ptr<Controller>(const mjModel* m, std::int64_t candidate, int k)>;

// Sensitivities per candidate (the information component of the plan): one episode of the
// candidate's scenario simulated with the parameters at `values` (the posterior mean), no
// nuisance draw, under the task's controller, recorded every `sample_every` steps (time, the
// named joints' positions and velocities, the controller's raw commands: what a log of it would
// hold) and handed with its full states (samples x (nq + nv)) to `compute`, which returns the
// P x P information of that episode about the parameters. `compute` is called concurrently, with
// the thread's model (scenario and values applied): it must not share mutable state. It may
// throw InputError or RunError: that candidate then has no information, and says why.
struct CandidateInformation {
  Eigen::VectorXd values;
  int sample_every = 1;
  std::vector<std::string> qpos_joints, qvel_joints;
  std::function<Eigen::MatrixXd(const mjModel* m, const Episode& episode,
                                const Eigen::MatrixXd& states)>
      compute;
};

// Simulates options.candidates candidates. `binding` places posterior samples in each
// thread's private model copy (RestoreBase, posterior sample, then the scenario). The results
// do not depend on the thread count or the chunk size. Throws InputError for bad options.
SimulateSummary SimulateCandidates(const mjModel* base, const Task& task,
                                   const ParameterBinding& binding, const Posterior& posterior,
                                   ScenarioSource& source, const SimulateOptions& options,
                                   const CandidateSink& sink, const ProgressFn& progress = nullptr,
                                   const ControllerFactory& controllers = nullptr,
                                   const CandidateInformation* information = nullptr);

// The same, with a caller's batched policy instead of the task's controller: each chunk's
// rollouts (chunk x K workspaces, kept between chunks: size the chunk to the model) step in
// lockstep, and `policy` is called once per step with all their observations, as evaluation
// harnesses run neural policies. The horizon in steps is the base model's. The statistics equal
// those of SimulateCandidates with each rollout driven by the same law through a Policy, the
// sequential safety samples (options.safety) included: each of their rounds is one more batch
// (as many workspaces as the round's samples), each sample under its own key.
SimulateSummary SimulateCandidatesBatched(const mjModel* base, const Task& task,
                                          const ParameterBinding& binding,
                                          const Posterior& posterior, ScenarioSource& source,
                                          const SimulateOptions& options, BatchPolicy& policy,
                                          const ObservationSpec& observation,
                                          const CandidateSink& sink,
                                          const ProgressFn& progress = nullptr);

// Writes candidates as JSON lines into `path`.tmp and renames it to `path` on Commit (a killed
// run leaves no half file under the final name).
class CandidateWriter {
 public:
  CandidateWriter(std::string path, std::vector<std::string> metric_names);
  // Writes into `part` instead, a file that outlives the run (a resumable stage's state): keeps
  // its first `keep_bytes` bytes (the lines of the candidates a checkpoint recorded; what a killed
  // run appended after them goes) and appends after them. Commit gives `part` the second name
  // `path` (a hard link, else a copy), so that `part` stays valid until the caller removes it.
  CandidateWriter(std::string path, std::vector<std::string> metric_names, std::string part,
                  std::int64_t keep_bytes);
  ~CandidateWriter();  // removes the temporary file when not committed (not a `part`)
  void Write(const std::vector<CandidateStats>& chunk, const ScenarioSource& source);
  // Flushes what was written to the disk; returns the file's size in bytes.
  std::int64_t Sync();
  void Commit();

  // One candidate as its JSON line (without the newline).
  // "information" (row-major, P x P) is written when the candidate has it.
  static std::string Line(const CandidateStats& c, const nlohmann::json& scenario,
                          const std::vector<std::string>& metric_names);

 private:
  std::string path_, tmp_;
  std::vector<std::string> metrics_;
  std::ofstream out_;
  bool committed_ = false;
  bool keep_ = false;  // a resumable part: left in place without Commit
};

}  // namespace nextbatch

#endif  // NEXTBATCH_SCENARIOS_CANDIDATES_H_
