// Open-loop replay of logged episodes over windows, with the simulated traces beside the logged
// ones, and the posterior predictive band of a calibration; plus the reference parameter sets a
// study names (file format nextbatch.references/1). The error of a window is the one the
// held-out check reports (ComputeReplayError: the largest |simulated - logged| joint position).
#ifndef NEXTBATCH_CALIBRATION_REPLAY_H_
#define NEXTBATCH_CALIBRATION_REPLAY_H_

#include <mujoco/mujoco.h>

#include <Eigen/Core>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "calibration/calibration.h"
#include "engine/episode.h"
#include "engine/parameter.h"
#include "engine/posterior.h"

namespace nextbatch {

// A named parameter set (e.g. a published fit) in the study's parameter order.
struct ReferenceSet {
  std::string name;
  std::string how;  // where the values come from ("" when not said)
  Eigen::VectorXd values;
};

// Reads {"schema": "nextbatch.references/1", "notes": ..., "sets": [{"name", "how", "values":
// {parameter: value}}]}: every parameter of `specs` must have a value in every set, and no other
// name may appear. Throws InputError naming the file and field.
std::vector<ReferenceSet> ReadReferenceSets(const std::string& path,
                                            const std::vector<ParameterSpec>& specs);

// How replays are made: as the fit made its held-out check.
struct ReplaySetup {
  double window_seconds = 0.3;
  double state_window = kDefaultStateWindow;
  ControlHold hold = ControlHold::kLinear;
  std::map<std::string, std::string> episode_scale;  // parameter -> Episode::scenario key
  int threads = 0;                                   // 0: all usable CPUs
  // Each episode's recorded model properties over the parameters, as the fit applied them
  // (EpisodeConditions); null: none. Must outlive the call.
  const EpisodeConditions* conditions = nullptr;

  std::string Validate() const;  // "" when valid
};

// One replayed window: every logged joint position sample in it (rows), logged and simulated.
struct TraceWindow {
  int episode = 0;
  double start_time = 0.0;
  bool ok = true;            // false when the simulation diverged (simulated is then empty)
  double max_error = 0.0;    // as ReplayWindow: max over rows of |simulated - logged|
  std::vector<int> sample;   // per row: the logged sample of the episode
  std::vector<int> channel;  // per row: index into ReplayTraces::channels
  Eigen::VectorXd logged, simulated;
};

struct ReplayTraces {
  std::vector<std::string> channels;  // "qpos:<joint>"
  std::vector<TraceWindow> windows;
  ReplayError error;  // the windows' max errors and their median (equal to ComputeReplayError's)
};

// ComputeReplayError's windows of `values` with their traces.
ReplayTraces ComputeReplayTraces(const mjModel* base, const ParameterBinding& binding,
                                 const Eigen::VectorXd& values,
                                 const std::vector<Episode>& episodes, const ReplaySetup& setup);

struct BandOptions {
  int samples = 100;    // draws of the predictive distribution
  double level = 0.95;  // central probability of the band
  std::uint64_t seed = 1;
  // Standard deviation per channel ("qpos:<joint>") of an independent error added to every
  // simulated sample: what the fit's residuals say the model misses at a sample (the calibration
  // error model's residual scale times the channel's noise level). Channels not named: 0.
  std::map<std::string, double> residual_std;
  // Noise standard deviation per logged channel ("qpos:<joint>", "qvel:<joint>") for the
  // uncertainty of each window's start state (the local fit to the logs it comes from); channels
  // not named are estimated from the logs. start_state false: start states are taken as exact.
  std::map<std::string, double> noise_std;
  bool start_state = true;
  // A model error the draws lack (in the logged channels' units): added in quadrature to every
  // window's radius, sqrt(radius^2 + d^2), and to each sample's distance of the band's edges
  // from the calibrated replay. 0: the draws' own band; FitBandDiscrepancy's radius: a band that
  // also carries the model error the fit's own episodes show.
  double discrepancy = 0.0;

  std::string Validate() const;  // "" when valid
};

struct BandWindow {
  Eigen::VectorXd low, high;  // per row of the window: the band's quantiles
  // The `level` quantile over draws of their largest |draw - calibrated replay| in the window:
  // the half-width of the simultaneous band around the calibrated replay.
  double radius = 0.0;
  // The logged window lies inside that simultaneous band: its largest |logged - calibrated
  // replay| (TraceWindow::max_error) is at most `radius`.
  bool covered = false;
  double inside = 0.0;  // share of the window's logged samples within [low, high]
  int draws = 0;        // draws that did not diverge (the quantiles are over these)
};

struct PredictiveBand {
  ReplayTraces calibrated;  // the replay of the posterior mean
  std::vector<BandWindow> windows;
  double coverage = 0.0;            // share of calibrated windows that are covered
  double pointwise_coverage = 0.0;  // share of all logged samples within [low, high]
  int diverged = 0;                 // draws x windows that diverged
};

// The posterior predictive band of replays: each draw takes parameters from `posterior`
// (Posterior::Sample(seed, k)), a start state perturbed by its estimate's uncertainty, and
// adds the residual error to every sample; the band is the draws' central `level` quantiles per
// sample. Deterministic for any thread count.
PredictiveBand ComputePredictiveBand(const mjModel* base, const ParameterBinding& binding,
                                     const Posterior& posterior,
                                     const std::vector<Episode>& episodes, const ReplaySetup& setup,
                                     const BandOptions& options);

// What a band computed on the episodes the fit was made on says about the model error its draws
// leave out: the smallest discrepancy term that covers `level` of those windows.
struct BandDiscrepancy {
  // sqrt(max(0, needed)): the fit's own windows can widen the band, never narrow it (they are
  // the fit's data, so their errors understate those of a run it did not see).
  double radius = 0.0;
  // The ceil((n + 1) level)-th smallest of max_error^2 - radius^2 over the n judged windows (the
  // split-conformal quantile; the largest when n is too small for it); <= 0 when the draws'
  // band already covers `level` of them. NaN when no window is judged.
  double needed = std::numeric_limits<double>::quiet_NaN();
  int windows = 0;  // judged windows (replayed, with draws)
  double coverage = std::numeric_limits<double>::quiet_NaN();  // of the draws' own band
};

// The discrepancy term from `fitted`, a band (discrepancy 0) on episodes the fit was made on:
// a window is covered with the term d when max_error^2 <= radius^2 + d^2, and d is the smallest
// that covers `level` of those windows, by split-conformal prediction with that score (Vovk,
// Gammerman & Shafer 2005; Lei et al. 2018): `level` of new windows exchangeable with those
// are covered.
BandDiscrepancy FitBandDiscrepancy(const PredictiveBand& fitted, double level);

// The q quantile (0 <= q <= 1) of `v` with linear interpolation between order statistics
// (type 7 of Hyndman and Fan); NaN for an empty vector. Sorts `v`.
double Quantile(std::vector<double>* v, double q);

}  // namespace nextbatch

#endif  // NEXTBATCH_CALIBRATION_REPLAY_H_
