#include "planners/coverage.h"

// Ties at equal distance resolve to the lower index, so neighbour lists are reproducible.
#define NANOFLANN_FIRST_MATCH
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <nanoflann.hpp>
#include <numeric>

#include "engine/error.h"
#include "engine/parallel.h"
#include "scenarios/sampler.h"

namespace nextbatch {

std::string CoverageOptions::Validate() const {
  if (!(categorical_distance > 0.0) || !std::isfinite(categorical_distance))
    return Expected("coverage.categorical_distance", "a positive number",
                    FormatNumber(categorical_distance));
  if (k < 1) return Expected("coverage.k", "an integer >= 1", std::to_string(k));
  if (!(radius > 0.0) || !(radius <= 1.0))
    return Expected("coverage.radius", "a fraction of the diameter in (0, 1]",
                    FormatNumber(radius));
  if (sample_size < 1)
    return Expected("coverage.sample_size", "an integer >= 1", std::to_string(sample_size));
  if (bins < 1) return Expected("coverage.bins", "an integer >= 1", std::to_string(bins));
  if (num_threads < 0)
    return Expected("coverage.num_threads", "an integer >= 0", std::to_string(num_threads));
  return "";
}

FactorEmbedding::FactorEmbedding(const ScenarioSpace& space, double categorical_distance)
    : space_(space), categorical_scale_(categorical_distance / std::sqrt(2.0)) {
  if (!(categorical_distance > 0.0))
    ThrowExpected("coverage.categorical_distance", "a positive number",
                  FormatNumber(categorical_distance));
  double squared = 0.0;
  for (const Factor& f : space_.factors()) {
    offset_.push_back(width_);
    if (f.numeric()) {
      width_ += 1;
      squared += 1.0;
    } else {
      width_ += static_cast<int>(f.levels.size());
      squared += categorical_distance * categorical_distance;
    }
  }
  diameter_ = std::sqrt(squared);
}

double FactorEmbedding::Normalise(int f, double value) const {
  const Factor& factor = space_.factor(f);
  if (factor.upper <= factor.lower) return 0.0;
  if (factor.kind == FactorKind::kContinuous && factor.log_scale)
    return std::log(value / factor.lower) / std::log(factor.upper / factor.lower);
  return (value - factor.lower) / (factor.upper - factor.lower);
}

void FactorEmbedding::Embed(const Scenario& s, double* out) const {
  NB_CHECK(static_cast<int>(s.values.size()) == space_.dimension());
  for (int f = 0; f < space_.dimension(); ++f) {
    const Factor& factor = space_.factor(f);
    double* x = out + offset_[f];
    if (factor.numeric()) {
      x[0] = Normalise(f, s.values[f]);
    } else {
      const int levels = static_cast<int>(factor.levels.size());
      std::fill(x, x + levels, 0.0);
      x[static_cast<int>(s.values[f])] = categorical_scale_;
    }
  }
}

std::vector<double> FactorEmbedding::Embed(const Scenario& s) const {
  std::vector<double> out(width_);
  Embed(s, out.data());
  return out;
}

std::vector<double> FactorEmbedding::EmbedAll(const std::vector<Scenario>& points) const {
  std::vector<double> out(points.size() * static_cast<size_t>(width_));
  for (size_t i = 0; i < points.size(); ++i) Embed(points[i], out.data() + i * width_);
  return out;
}

double FactorEmbedding::Distance(const Scenario& a, const Scenario& b) const {
  const std::vector<double> x = Embed(a), y = Embed(b);
  double sum = 0.0;
  for (int i = 0; i < width_; ++i) sum += (x[i] - y[i]) * (x[i] - y[i]);
  return std::sqrt(sum);
}

// ---------------------------------------------------------------------------------------------

namespace {

struct Cloud {
  const std::vector<double>* points;
  int width;
  size_t kdtree_get_point_count() const { return points->size() / width; }
  double kdtree_get_pt(size_t i, size_t d) const { return (*points)[i * width + d]; }
  template <class Box>
  bool kdtree_get_bbox(Box&) const {
    return false;
  }
};

using Tree = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, Cloud>, Cloud,
                                                 -1, std::uint32_t>;

}  // namespace

struct PointIndex::Impl {
  std::vector<double> points;
  Cloud cloud;
  std::unique_ptr<Tree> tree;
};

PointIndex::PointIndex(std::vector<double> points, int width) : width_(width), impl_(new Impl) {
  NB_CHECK(width > 0 && points.size() % width == 0);
  impl_->points = std::move(points);
  impl_->cloud = Cloud{&impl_->points, width};
  impl_->tree.reset(new Tree(width, impl_->cloud, nanoflann::KDTreeSingleIndexAdaptorParams(16)));
}

PointIndex::~PointIndex() = default;

int PointIndex::size() const { return static_cast<int>(impl_->points.size() / width_); }

int PointIndex::Nearest(const double* query, int k, int* indices, double* distances) const {
  const int n = std::min(k, size());
  if (n <= 0) return 0;
  std::vector<std::uint32_t> found(n);
  std::vector<double> squared(n);
  const int got = static_cast<int>(impl_->tree->knnSearch(query, n, found.data(), squared.data()));
  for (int i = 0; i < got; ++i) {
    indices[i] = static_cast<int>(found[i]);
    distances[i] = std::sqrt(squared[i]);
  }
  return got;
}

std::vector<int> PointIndex::Within(const double* query, double radius) const {
  std::vector<std::pair<std::uint32_t, double>> found;
  if (size() > 0) {
    nanoflann::SearchParams params;
    params.sorted = false;
    impl_->tree->radiusSearch(query, radius * radius, found, params);
  }
  std::vector<int> out;
  out.reserve(found.size());
  for (const auto& f : found) out.push_back(static_cast<int>(f.first));
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------------------------------------

Neighbours NearestEpisodes(const FactorEmbedding& embedding, const std::vector<Scenario>& episodes,
                           const std::vector<Scenario>& candidates, int k, int num_threads) {
  if (k < 1) ThrowExpected("coverage.k", "an integer >= 1", std::to_string(k));
  Neighbours out;
  out.count = std::min<int>(k, static_cast<int>(episodes.size()));
  const size_t n = candidates.size();
  out.index.assign(n * out.count, -1);
  out.distance.assign(n * out.count, 0.0);
  if (out.count == 0) return out;
  const PointIndex index(embedding.EmbedAll(episodes), embedding.width());
  const int width = embedding.width();
  const int threads = ResolveThreads(num_threads);
  std::vector<std::vector<double>> scratch(threads, std::vector<double>(width));
  ParallelFor(static_cast<int>(n), threads, [&](int i, int thread) {
    double* query = scratch[thread].data();
    embedding.Embed(candidates[i], query);
    index.Nearest(query, out.count, &out.index[static_cast<size_t>(i) * out.count],
                  &out.distance[static_cast<size_t>(i) * out.count]);
  });
  return out;
}

namespace {

bool OneBinPerValue(const Factor& f, int bins) {
  return f.kind == FactorKind::kInteger && f.Cardinality() <= bins;
}

// Value of factor f at normalised coordinate t (inverse of Normalise).
double ValueAt(const Factor& f, double t) {
  if (f.kind == FactorKind::kContinuous && f.log_scale)
    return f.lower * std::pow(f.upper / f.lower, t);
  return f.lower + t * (f.upper - f.lower);
}

std::string BinLabel(const Factor& f, int bin, int bins) {
  if (!f.numeric()) return f.levels[bin].name;
  if (OneBinPerValue(f, bins)) return FormatNumber(f.lower + bin);
  const double a = ValueAt(f, static_cast<double>(bin) / bins);
  const double b = ValueAt(f, static_cast<double>(bin + 1) / bins);
  return "[" + FormatNumber(a) + ", " + FormatNumber(b) + (bin + 1 == bins ? "]" : ")");
}

}  // namespace

int BinCount(const FactorEmbedding& embedding, int f, int bins) {
  const Factor& factor = embedding.space().factor(f);
  if (!factor.numeric()) return static_cast<int>(factor.levels.size());
  if (OneBinPerValue(factor, bins)) return factor.Cardinality();
  return bins;
}

int BinOf(const FactorEmbedding& embedding, int f, double value, int bins) {
  const Factor& factor = embedding.space().factor(f);
  if (!factor.numeric()) return static_cast<int>(value);
  if (OneBinPerValue(factor, bins)) return static_cast<int>(std::lround(value - factor.lower));
  const double t = embedding.Normalise(f, value);
  return std::min(bins - 1, std::max(0, static_cast<int>(std::floor(t * bins))));
}

std::vector<Scenario> CoverageSample(const ScenarioSpace& space, const CoverageOptions& options) {
  SamplerOptions sampler;
  sampler.kind = SamplerKind::kSobol;
  sampler.scramble = Scramble::kOwen;
  sampler.seed = options.seed;
  sampler.n = options.sample_size;
  return MakeSampler(space, sampler)->Draw(0, options.sample_size);
}

CoverageReport DatasetCoverage(const ScenarioSpace& space, const std::vector<Scenario>& episodes,
                               const CoverageOptions& options) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError(problem);
  const std::string bad_space = space.Validate();
  if (!bad_space.empty()) throw InputError(bad_space);
  for (size_t e = 0; e < episodes.size(); ++e) {
    const std::string bad = space.Check(episodes[e]);
    if (!bad.empty())
      ThrowExpected("episodes[" + std::to_string(e) + "]", "a point of the space", bad);
  }
  const FactorEmbedding embedding(space, options.categorical_distance);
  CoverageReport report;
  report.episodes = static_cast<int>(episodes.size());
  report.radius = options.radius * embedding.Diameter();

  const std::vector<Scenario> sample = CoverageSample(space, options);
  report.sample_size = static_cast<int>(sample.size());
  const Neighbours nearest = NearestEpisodes(embedding, episodes, sample, 1, options.num_threads);
  int covered = 0;
  if (nearest.count > 0)
    for (double d : nearest.distance) covered += d < report.radius ? 1 : 0;
  report.share = sample.empty() ? 0.0 : static_cast<double>(covered) / sample.size();

  const int d = space.dimension();
  std::vector<std::vector<int>> bin(d, std::vector<int>(episodes.size()));
  for (int f = 0; f < d; ++f) {
    const Factor& factor = space.factor(f);
    Marginal m;
    m.factor = factor.name;
    const int n = BinCount(embedding, f, options.bins);
    m.counts.assign(n, 0);
    for (int b = 0; b < n; ++b) m.labels.push_back(BinLabel(factor, b, options.bins));
    for (size_t e = 0; e < episodes.size(); ++e) {
      bin[f][e] = BinOf(embedding, f, episodes[e].values[f], options.bins);
      ++m.counts[bin[f][e]];
    }
    for (int b = 0; b < n; ++b)
      if (m.counts[b] == 0) m.empty.push_back(b);
    report.marginals.push_back(std::move(m));
  }
  for (int a = 0; a < d; ++a) {
    for (int b = a + 1; b < d; ++b) {
      const int na = BinCount(embedding, a, options.bins),
                nb = BinCount(embedding, b, options.bins);
      std::vector<char> seen(static_cast<size_t>(na) * nb, 0);
      for (size_t e = 0; e < episodes.size(); ++e) seen[bin[a][e] * nb + bin[b][e]] = 1;
      PairGap gap;
      gap.factor_a = space.factor(a).name;
      gap.factor_b = space.factor(b).name;
      gap.cells = na * nb;
      for (int i = 0; i < na; ++i)
        for (int j = 0; j < nb; ++j)
          if (!seen[i * nb + j]) gap.empty.emplace_back(i, j);
      if (!gap.empty.empty()) report.pair_gaps.push_back(std::move(gap));
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------------

CoverageGain::CoverageGain(const FactorEmbedding& embedding, const std::vector<Scenario>& episodes,
                           const std::vector<Scenario>& candidates,
                           const std::vector<Scenario>& sample, double radius, int num_threads) {
  sample_size_ = static_cast<int>(sample.size());
  const int width = embedding.width();
  const std::vector<double> queries = embedding.EmbedAll(sample);
  initial_.assign(sample.size(), 0);
  if (!episodes.empty()) {
    const PointIndex episode_index(embedding.EmbedAll(episodes), width);
    ParallelFor(sample_size_, num_threads, [&](int q, int) {
      int index;
      double distance;
      episode_index.Nearest(&queries[static_cast<size_t>(q) * width], 1, &index, &distance);
      initial_[q] = distance < radius ? 1 : 0;
    });
  }
  // Where a categorical mismatch alone exceeds the radius, a candidate is compared only with the
  // sample points of its own levels, on the numeric coordinates (the categorical ones are equal).
  const ScenarioSpace& space = embedding.space();
  const bool by_levels = embedding.categorical_distance() >= radius;
  std::vector<int> categorical, numeric;
  for (int f = 0; f < space.dimension(); ++f)
    (space.factor(f).numeric() ? numeric : categorical).push_back(f);
  if (!by_levels) categorical.clear();
  const int coords = by_levels ? static_cast<int>(numeric.size()) : width;
  auto coordinates = [&](const Scenario& s, double* out) {
    if (!by_levels) return embedding.Embed(s, out);
    for (size_t k = 0; k < numeric.size(); ++k)
      out[k] = embedding.Normalise(numeric[k], s.values[numeric[k]]);
  };
  auto signature = [&](const Scenario& s) {
    std::vector<int> levels;
    for (int f : categorical) levels.push_back(static_cast<int>(s.values[f]));
    return levels;
  };
  // The uncovered sample points of each level combination, contiguous (they stay in cache while
  // every candidate of that combination is scanned against them).
  std::map<std::vector<int>, int> group_of;
  std::vector<std::vector<int>> members;
  std::vector<std::vector<double>> block;
  for (int q = 0; q < sample_size_; ++q) {
    if (initial_[q]) continue;
    const auto it = group_of.emplace(signature(sample[q]), static_cast<int>(members.size())).first;
    if (it->second == static_cast<int>(members.size())) {
      members.emplace_back();
      block.emplace_back();
    }
    members[it->second].push_back(q);
    block[it->second].resize(block[it->second].size() + coords);
    coordinates(sample[q], &block[it->second][block[it->second].size() - coords]);
  }
  // Coordinate-major (row w holds coordinate w of every member), so that the scan below runs
  // over contiguous numbers and vectorises.
  for (size_t g = 0; g < members.size(); ++g) {
    const size_t m = members[g].size();
    std::vector<double> transposed(block[g].size());
    for (size_t i = 0; i < m; ++i)
      for (int w = 0; w < coords; ++w) transposed[w * m + i] = block[g][i * coords + w];
    block[g].swap(transposed);
  }
  // Candidates in chunks, each chunk's balls collected apart and joined in order.
  const int n = static_cast<int>(candidates.size());
  const int chunk = 4096;
  const int chunks = (n + chunk - 1) / chunk;
  std::vector<std::vector<int>> chunk_points(chunks);
  std::vector<std::vector<int>> chunk_counts(chunks);
  const double r2 = radius * radius;
  ParallelFor(chunks, num_threads, [&](int k, int) {
    std::vector<double> x(coords), sum;
    for (int c = k * chunk; c < std::min(n, (k + 1) * chunk); ++c) {
      const auto it = group_of.find(signature(candidates[c]));
      int count = 0;
      if (it != group_of.end()) {
        coordinates(candidates[c], x.data());
        const std::vector<double>& y = block[it->second];
        const std::vector<int>& ids = members[it->second];
        const size_t m = ids.size();
        sum.assign(m, 0.0);
        for (int w = 0; w < coords; ++w) {
          const double xw = x[w];
          const double* row = &y[w * m];
          for (size_t i = 0; i < m; ++i) sum[i] += (xw - row[i]) * (xw - row[i]);
        }
        for (size_t i = 0; i < m; ++i) {
          if (sum[i] < r2) {
            chunk_points[k].push_back(ids[i]);
            ++count;
          }
        }
      }
      chunk_counts[k].push_back(count);
    }
  });
  start_.assign(candidates.size() + 1, 0);
  int c = 0;
  for (const std::vector<int>& counts : chunk_counts) {
    for (int count : counts) {
      start_[c + 1] = start_[c] + count;
      ++c;
    }
  }
  points_.reserve(start_.back());
  for (auto& p : chunk_points) {
    points_.insert(points_.end(), p.begin(), p.end());
    std::vector<int>().swap(p);
  }
  Reset();
}

double CoverageGain::Gain(int item) const {
  int gain = 0;
  for (std::int64_t p = start_[item]; p < start_[item + 1]; ++p)
    gain += covered_[points_[p]] ? 0 : 1;
  return gain;
}

void CoverageGain::Commit(int item) {
  for (std::int64_t p = start_[item]; p < start_[item + 1]; ++p) {
    char& c = covered_[points_[p]];
    if (!c) --uncovered_;
    c = 1;
  }
}

void CoverageGain::Reset() {
  covered_ = initial_;
  uncovered_ = 0;
  for (char c : initial_) uncovered_ += c ? 0 : 1;
}

}  // namespace nextbatch
