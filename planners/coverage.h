// Coverage of the scenario space by the real episodes: where the data is and where it is not.
//
// Distances live in a normalised factor space in which every factor spans 1:
//   continuous  (x - lower) / (upper - lower), or (log x - log lower) / (log upper - log lower)
//               for a log-scaled factor;
//   integer     (x - lower) / (upper - lower);
//   categorical one coordinate per level, one-hot scaled by d / sqrt(2), so that two different
//               levels lie exactly d apart (d = categorical_distance, 1 by default: a mismatch is
//               as far as the two ends of a numeric factor).
// Neighbour search goes through a k-d tree (nanoflann), never a scan of all episodes.
#ifndef NEXTBATCH_PLANNERS_COVERAGE_H_
#define NEXTBATCH_PLANNERS_COVERAGE_H_

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "planners/gain.h"
#include "scenarios/space.h"

namespace nextbatch {

struct CoverageOptions {
  double categorical_distance = 1.0;  // distance between two different levels
  int k = 5;                          // nearest episodes per candidate
  // A point is covered when an episode lies closer than radius * Diameter() (strictly).
  double radius = 0.15;
  int sample_size = 4096;  // scrambled Sobol points of the (feasible) space for the share
  std::uint64_t seed = 0;  // the Sobol scramble
  int bins = 4;            // b: numeric factors' marginal bins and the b x b pair grids
  int num_threads = 0;     // 0: what OpenMP offers

  // Empty when valid, else "coverage.field: expected X, got Y".
  std::string Validate() const;
};

// The normalised factor space of a scenario space.
class FactorEmbedding {
 public:
  FactorEmbedding(const ScenarioSpace& space, double categorical_distance);

  const ScenarioSpace& space() const { return space_; }
  int width() const { return width_; }  // coordinates of an embedded point
  // Largest distance between two points: sqrt(numeric factors + categorical factors * d^2).
  double Diameter() const { return diameter_; }
  double categorical_distance() const { return categorical_scale_ * std::sqrt(2.0); }
  // The coordinate of factor f's value in [0, 1] (numeric factors only).
  double Normalise(int f, double value) const;

  void Embed(const Scenario& s, double* out) const;  // width() values
  std::vector<double> Embed(const Scenario& s) const;
  // Row-major points.size() x width().
  std::vector<double> EmbedAll(const std::vector<Scenario>& points) const;
  double Distance(const Scenario& a, const Scenario& b) const;

 private:
  ScenarioSpace space_;
  double categorical_scale_;  // d / sqrt(2)
  std::vector<int> offset_;   // first coordinate of each factor
  int width_ = 0;
  double diameter_ = 0.0;
};

// A k-d tree over row-major points (n x width), for k-nearest and radius queries.
class PointIndex {
 public:
  PointIndex(std::vector<double> points, int width);
  ~PointIndex();
  PointIndex(const PointIndex&) = delete;
  PointIndex& operator=(const PointIndex&) = delete;

  int size() const;
  int width() const { return width_; }
  // Up to k nearest points, ascending by distance (Euclidean, not squared); returns how many.
  int Nearest(const double* query, int k, int* indices, double* distances) const;
  // Every point strictly closer than `radius`, ascending by index.
  std::vector<int> Within(const double* query, double radius) const;

 private:
  struct Impl;
  int width_;
  std::unique_ptr<Impl> impl_;
};

// The k nearest episodes of each candidate: row i holds count entries (count = min(k, episodes)).
struct Neighbours {
  int count = 0;
  std::vector<int> index;        // candidates x count, episode indices
  std::vector<double> distance;  // candidates x count, normalised distances, ascending
};

Neighbours NearestEpisodes(const FactorEmbedding& embedding, const std::vector<Scenario>& episodes,
                           const std::vector<Scenario>& candidates, int k, int num_threads);

// Counts of episodes per bin of one factor: numeric factors cut into `bins` equal bins of the
// normalised coordinate (an integer factor with at most `bins` values gets one bin per value);
// categorical factors one bin per level.
struct Marginal {
  std::string factor;
  std::vector<std::string> labels;  // "[0.25, 0.5)" in the factor's units, or the level name
  std::vector<int> counts;
  std::vector<int> empty;  // bins without an episode
};

// A pair of factors whose joint grid has cells without an episode. Cells that the space's
// constraints make infeasible are listed too: the grid knows nothing of constraints.
struct PairGap {
  std::string factor_a, factor_b;
  int cells = 0;                           // bins_a x bins_b
  std::vector<std::pair<int, int>> empty;  // (bin of a, bin of b), row-major order
};

struct CoverageReport {
  int episodes = 0;
  double radius = 0.0;  // absolute, in the normalised space
  int sample_size = 0;
  double share = 0.0;  // fraction of the sample closer than radius to an episode
  std::vector<Marginal> marginals;
  std::vector<PairGap> pair_gaps;  // only the pairs with at least one empty cell
};

// Bin of factor f's value (see Marginal) and the number of bins of factor f.
int BinCount(const FactorEmbedding& embedding, int f, int bins);
int BinOf(const FactorEmbedding& embedding, int f, double value, int bins);

// Throws InputError when the options or the space are invalid, or an episode is not a point of
// the space.
CoverageReport DatasetCoverage(const ScenarioSpace& space, const std::vector<Scenario>& episodes,
                               const CoverageOptions& options);

// The sample DatasetCoverage estimates the share on: options.sample_size scrambled Sobol points
// of the space (feasible ones only).
std::vector<Scenario> CoverageSample(const ScenarioSpace& space, const CoverageOptions& options);

// Coverage as a batch gain: f(batch) = the number of sample points that no episode covers and
// some batch item does (within the radius). Monotone and submodular (a set cover); a repeat of
// an item adds nothing. Candidate i's ball (the uncovered sample points closer than the radius)
// is precomputed once, so Gain is a sum over that ball. The balls are found by a scan with early
// exit, not a k-d tree: at coverage radii (a good part of each factor's range) in ten or more
// coordinates a tree prunes almost nothing (measured slower than the scan on the planner_scale
// bench). When a categorical mismatch alone puts two points outside the radius, only candidates
// with the sample point's levels are scanned.
class CoverageGain : public GainFunction {
 public:
  CoverageGain(const FactorEmbedding& embedding, const std::vector<Scenario>& episodes,
               const std::vector<Scenario>& candidates, const std::vector<Scenario>& sample,
               double radius, int num_threads);
  int size() const override { return static_cast<int>(start_.size()) - 1; }
  double Gain(int item) const override;
  void Commit(int item) override;
  void Reset() override;

  int uncovered() const { return uncovered_; }  // sample points not covered by episodes or batch
  int sample_size() const { return sample_size_; }

 private:
  std::vector<std::int64_t> start_;  // CSR: candidate i's sample points are points_[start_[i]..]
  std::vector<int> points_;
  std::vector<char> covered_;  // per sample point, by the batch
  std::vector<char> initial_;  // per sample point, by the episodes
  int uncovered_ = 0;
  int sample_size_ = 0;
};

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_COVERAGE_H_
