// Cleaning of imported logs: removes what cannot be used (non-finite values, out-of-range values,
// repeated or backward timestamps), splits at gaps, flags stuck channels, estimates missing
// velocities and resamples onto the simulation time step. Nothing is removed silently: every
// episode carries an EpisodeQuality that says what was removed, why, and how much is left.
#ifndef NEXTBATCH_ENGINE_CLEANING_H_
#define NEXTBATCH_ENGINE_CLEANING_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/episode.h"
#include "engine/importer.h"
#include "engine/json_reader.h"

namespace nextbatch {

struct CleaningOptions {
  // A time step longer than this (s) is a gap.
  double max_gap = 0.05;
  // split: every piece between gaps is an episode of its own; longest: keep the longest piece;
  // drop: drop an episode that has any gap.
  std::string gap_policy = "split";
  // Pieces shorter than this (s) are removed (counted as short_segment).
  double min_duration = 0.1;
  // An episode that keeps less than this fraction of the samples read (not counting those the
  // importer's filter left out on purpose) is dropped.
  double min_fraction_kept = 0.5;
  // A channel constant over a whole episode of at least stuck_min_samples samples is stuck;
  // warn: keep the episode and say so; drop: drop the episode.
  std::string stuck_policy = "warn";
  int stuck_min_samples = 20;
  // Single-sample spikes in positions and velocities (FindSpikes): flag reports each one;
  // drop also removes its sample before resampling (which then interpolates across it); none
  // does not look for them.
  std::string spikes = "flag";
  // A spike departs from both neighbours by more than this many times the local scale.
  double spike_threshold = 10.0;
  // Resample onto the model time step times `every`; false keeps the (cleaned) log's own times.
  bool resample = true;
  int every = 1;
  // linear, or cubic (Hermite with three-point derivatives: exact for quadratics).
  std::string interpolation = "linear";
  // ctrl: linear, cubic, or hold (zero-order hold: the last logged command).
  std::string ctrl_interpolation = "linear";
  // Velocities of joints with positions but no logged velocity: local_quadratic (least-squares
  // parabola over `velocity_window` seconds centred on each sample), central_difference
  // (derivative of the parabola through a sample and its two neighbours; also what
  // local_quadratic does where its window holds fewer than 3 samples) or none.
  std::string velocity_method = "local_quadratic";
  double velocity_window = 0.01;
  // Not a study field: the most memory one resampled episode may take (bytes; 0: the default,
  // DefaultWorkMemoryLimit()). A log whose grid would need more is refused with the estimate.
  std::uint64_t max_resample_bytes = 0;

  std::string Validate() const;
};

// Reads the study's dataset.cleaning object (strict keys) and validates it.
CleaningOptions ReadCleaningOptions(const JsonReader& r);
nlohmann::json CleaningOptionsToJson(const CleaningOptions& o);

// One single-sample spike found by cleaning.
struct Spike {
  std::string channel;   // "qpos:shoulder"
  double time = 0;       // of the sample, in the log's clock (s)
  double size = 0;       // its departure from the line through its neighbours (SI, signed)
  bool removed = false;  // spikes "drop": the sample was removed
};

// What happened to one episode between the file and the dataset.
struct EpisodeQuality {
  std::string id;
  std::string source;
  std::string status = "kept";          // kept | dropped
  std::string reason;                   // why dropped (empty when kept)
  int segment = 1;                      // which piece of its file (1-based) ...
  int segments = 1;                     // ... of how many pieces after gap splitting
  double start_time = 0, end_time = 0;  // of this piece in the log's clock (s)

  int samples_read = 0;  // rows/records in the file
  int samples_kept = 0;  // samples of this piece after cleaning, before resampling
  int samples_out = 0;   // samples of the episode as delivered (after resampling)
  // Samples of the file removed, per reason: filter, truncated_row, non_finite, out_of_range,
  // duplicate_time, non_monotonic_time, gap_segment, short_segment. Shared by all pieces:
  // samples_read = samples_kept summed over the file's pieces (kept or dropped) + all removed.
  std::map<std::string, int> removed;
  std::vector<std::pair<double, double>> gaps;  // (from, to) times of gaps longer than max_gap
  double longest_step = 0;                      // largest time step of the log (s)
  std::vector<std::string> stuck_channels;      // "qpos:shoulder", ...
  std::vector<Spike> spikes;                    // single-sample spikes, in time order

  double raw_rate_hz = 0;  // 1 / median time step of the cleaned log
  double raw_step_min = 0, raw_step_max = 0;
  double rate_hz = 0;         // of the delivered episode
  std::string interpolation;  // "linear", ... or "none" when not resampled
  std::string
      velocity_method;  // "logged", "local_quadratic over 0.0100 s (hinge)", ... per joint set
  std::vector<std::string> qvel_estimated;  // joints whose velocity cleaning derived from qpos
  double fraction_kept = 0;                 // samples_kept / samples_read
  std::vector<std::string> messages;
};

nlohmann::json QualityToJson(const EpisodeQuality& q);

struct CleanResult {
  std::vector<Episode> episodes;
  std::vector<EpisodeQuality> quality;  // one per episode
  std::vector<EpisodeQuality> dropped;  // pieces or whole files that gave no episode
};

// Cleans one imported log; `timestep` is the model's (s). Pieces after a split get ids
// "<id>#1", "<id>#2", ...
CleanResult CleanEpisode(const RawEpisode& raw, const CleaningOptions& options, double timestep);

// --- the numerical routines, exposed for tests -------------------------------------------------

enum class Interpolation { kLinear, kCubic, kHold };
Interpolation ParseInterpolation(const std::string& name);

// Values of the samples (t, y) at the ascending times tq, all within [t.front(), t.back()].
// t strictly increasing, at least 2 samples.
std::vector<double> Interpolate(const std::vector<double>& t, const std::vector<double>& y,
                                const std::vector<double>& tq, Interpolation method);

// Times t0, t0 + period, ... up to t1 (inclusive within 1e-9 of a period). Throws InputError for
// a grid of more than kMaxGridPoints points (CleanEpisode refuses much smaller ones first, by
// memory, naming the file).
constexpr double kMaxGridPoints = 1e9;
std::vector<double> UniformGrid(double t0, double t1, double period);

// Points of UniformGrid(t0, t1, period), as a double (huge or infinite for absurd spans).
double GridPoints(double t0, double t1, double period);

// Estimated bytes of an episode of `points` samples and `channels` channels while it is resampled
// and written: the grid, the new values and a copy of each (the dataset keeps the episode).
double ResampleBytes(double points, int channels);

// Derivative estimate dy/dt at every sample; t strictly increasing, at least 3 samples.
std::vector<double> EstimateVelocity(const std::vector<double>& t, const std::vector<double>& y,
                                     const std::string& method, double window);

// Indices of the single-sample spikes of the samples (t, y), t strictly increasing. Sample i
// (not the first or last, and not next to a step longer than max_gap) is a spike when it lies
// on the same side of both neighbours and departs from each by more than `threshold` x S_i,
// where S_i is the local scale: the median |y[j+1] - y[j]| over the 50 successive differences
// nearest to i (those touching i left out), at least the channel's resolution (its smallest
// non-zero |y[j+1] - y[j]|). The median difference is the local speed times the step, so the
// test asks for a jump to and back far faster than the signal moves around it; quantisation
// flicker of a few counts stays below it.
// A logged partner channel can show that such a sample is real motion (a swing faster than the
// sampling), and then it is not a spike: the sample is kept when the partner lies closer to it
// than to the line through its neighbours. `derivative` (empty or one value per sample) is y's
// logged derivative (a joint's velocity, for its position): y at t[i] integrated by trapezoids
// from each neighbour, averaged, is compared with y[i] and with the line. `integral` is the
// logged quantity y is the derivative of (a joint's position, for its velocity): its change from
// t[i-1] to t[i+1] is compared with the trapezoid integrals of y through y[i] and through the
// line.
std::vector<int> FindSpikes(const std::vector<double>& t, const std::vector<double>& y,
                            double threshold, double max_gap,
                            const std::vector<double>& derivative = {},
                            const std::vector<double>& integral = {});

// Index ranges [begin, end) of the pieces of t separated by steps longer than max_gap.
std::vector<std::pair<int, int>> SplitAtGaps(const std::vector<double>& t, double max_gap);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_CLEANING_H_
