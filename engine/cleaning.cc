#include "engine/cleaning.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/episode_io.h"
#include "engine/error.h"
#include "engine/resource_limits.h"

namespace nextbatch {
namespace {

Channels& Group(Episode& e, int g) { return ChannelGroup(e, g); }
const Channels& Group(const Episode& e, int g) { return ChannelGroup(e, g); }

std::string Fixed(double x, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

bool OneOf(const std::string& s, std::initializer_list<const char*> choices) {
  for (const char* c : choices) {
    if (s == c) return true;
  }
  return false;
}

Episode TakeRows(const Episode& in, const std::vector<int>& rows) {
  Episode e = in;
  e.time.resize(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) e.time[i] = in.time[rows[i]];
  for (int g = 0; g < kChannelGroups; ++g) {
    const Eigen::MatrixXd& src = Group(in, g).values;
    Eigen::MatrixXd& dst = Group(e, g).values;
    dst.resize(rows.size(), src.cols());
    // An absent group (a native episode without qvel) may have no rows at all: nothing to copy.
    if (src.cols() == 0) continue;
    for (std::size_t i = 0; i < rows.size(); ++i) dst.row(i) = src.row(rows[i]);
  }
  return e;
}

// Indices of the longest strictly increasing subsequence of t: the most samples whose clock
// runs forward, so one backward jump costs the few samples it touches, not the rest of the log.
std::vector<int> LongestIncreasing(const std::vector<double>& t, const std::vector<int>& idx) {
  std::vector<int> tails;  // positions into idx
  std::vector<int> prev(idx.size(), -1);
  for (std::size_t k = 0; k < idx.size(); ++k) {
    const double x = t[idx[k]];
    auto it = std::lower_bound(tails.begin(), tails.end(), x,
                               [&](int p, double v) { return t[idx[p]] < v; });
    const int pos = static_cast<int>(it - tails.begin());
    prev[k] = pos > 0 ? tails[pos - 1] : -1;
    if (it == tails.end()) {
      tails.push_back(static_cast<int>(k));
    } else {
      *it = static_cast<int>(k);
    }
  }
  std::vector<int> out;
  for (int p = tails.empty() ? -1 : tails.back(); p >= 0; p = prev[p]) out.push_back(idx[p]);
  std::reverse(out.begin(), out.end());
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

std::vector<double> Column(const Eigen::MatrixXd& m, int c) {
  std::vector<double> v(m.rows());
  for (int i = 0; i < m.rows(); ++i) v[i] = m(i, c);
  return v;
}

EpisodeQuality Dropped(EpisodeQuality q, const std::string& reason) {
  q.status = "dropped";
  q.reason = reason;
  q.samples_out = 0;
  return q;
}

// Parabola through three samples: its derivative at t[b] (a, b, c consecutive or any three).
double ThreePointDerivative(double ta, double ya, double tb, double yb, double tc, double yc,
                            double at) {
  const double s0 = (yb - ya) / (tb - ta);
  const double s1 = (yc - yb) / (tc - tb);
  const double c = (s1 - s0) / (tc - ta);
  // p(t) = ya + s0 (t - ta) + c (t - ta)(t - tb)
  return s0 + c * ((at - ta) + (at - tb));
}

std::vector<double> ThreePoint(const std::vector<double>& t, const std::vector<double>& y) {
  const std::size_t n = t.size();
  std::vector<double> d(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t a = i == 0 ? 0 : (i + 1 == n ? n - 3 : i - 1);
    d[i] = ThreePointDerivative(t[a], y[a], t[a + 1], y[a + 1], t[a + 2], y[a + 2], t[i]);
  }
  return d;
}

std::vector<double> LocalQuadratic(const std::vector<double>& t, const std::vector<double>& y,
                                   double window) {
  const int n = static_cast<int>(t.size());
  const double h = window / 2;
  std::vector<double> d(n);
  std::vector<double> fallback;
  int lo = 0, hi = 0;  // samples [lo, hi) lie within t[i] +- h
  for (int i = 0; i < n; ++i) {
    while (t[lo] < t[i] - h) ++lo;
    if (hi < i + 1) hi = i + 1;
    while (hi < n && t[hi] <= t[i] + h) ++hi;
    if (hi - lo < 3) {
      if (fallback.empty()) fallback = ThreePoint(t, y);
      d[i] = fallback[i];
      continue;
    }
    // Least squares y ~ a + b u + c u^2 with u = (t - t_i) / h (scaled for conditioning).
    Eigen::Matrix3d A = Eigen::Matrix3d::Zero();
    Eigen::Vector3d r = Eigen::Vector3d::Zero();
    for (int j = lo; j < hi; ++j) {
      const double u = (t[j] - t[i]) / h;
      const Eigen::Vector3d phi(1.0, u, u * u);
      A += phi * phi.transpose();
      r += phi * (y[j] - y[i]);
    }
    const Eigen::Vector3d coef = A.ldlt().solve(r);
    d[i] = coef(1) / h;
  }
  return d;
}

}  // namespace

std::string CleaningOptions::Validate() const {
  if (!(max_gap > 0)) return "max_gap: expected a time > 0 (s), got " + std::to_string(max_gap);
  if (!OneOf(gap_policy, {"split", "longest", "drop"}))
    return "gap_policy: expected split, longest or drop, got \"" + gap_policy + "\"";
  if (!(min_duration >= 0))
    return "min_duration: expected a time >= 0 (s), got " + std::to_string(min_duration);
  if (!(min_fraction_kept >= 0 && min_fraction_kept <= 1))
    return "min_fraction_kept: expected a fraction in [0, 1], got " +
           std::to_string(min_fraction_kept);
  if (!OneOf(stuck_policy, {"warn", "drop"}))
    return "stuck_policy: expected warn or drop, got \"" + stuck_policy + "\"";
  if (stuck_min_samples < 2)
    return "stuck_min_samples: expected 2 or more, got " + std::to_string(stuck_min_samples);
  if (every < 1) return "every: expected 1 or more, got " + std::to_string(every);
  if (!OneOf(interpolation, {"linear", "cubic"}))
    return "interpolation: expected linear or cubic, got \"" + interpolation + "\"";
  if (!OneOf(ctrl_interpolation, {"linear", "cubic", "hold"}))
    return "ctrl_interpolation: expected linear, cubic or hold, got \"" + ctrl_interpolation + "\"";
  if (!OneOf(velocity_method, {"local_quadratic", "central_difference", "none"}))
    return "velocity_method: expected local_quadratic, central_difference or none, got \"" +
           velocity_method + "\"";
  if (!(velocity_window > 0))
    return "velocity_window: expected a time > 0 (s), got " + std::to_string(velocity_window);
  if (!OneOf(spikes, {"flag", "drop", "none"}))
    return "spikes: expected flag, drop or none, got \"" + spikes + "\"";
  if (!(spike_threshold >= 2) || !std::isfinite(spike_threshold))
    return "spike_threshold: expected a number >= 2, got " + std::to_string(spike_threshold);
  return "";
}

CleaningOptions ReadCleaningOptions(const JsonReader& r) {
  CleaningOptions o;
  o.max_gap = r.Number("max_gap", o.max_gap);
  o.gap_policy = r.String("gap_policy", o.gap_policy);
  o.min_duration = r.Number("min_duration", o.min_duration);
  o.min_fraction_kept = r.Number("min_fraction_kept", o.min_fraction_kept);
  o.stuck_policy = r.String("stuck_policy", o.stuck_policy);
  o.stuck_min_samples = r.Integer("stuck_min_samples", o.stuck_min_samples);
  o.resample = r.Bool("resample", o.resample);
  o.every = r.Integer("every", o.every);
  o.interpolation = r.String("interpolation", o.interpolation);
  o.ctrl_interpolation = r.String("ctrl_interpolation", o.ctrl_interpolation);
  o.velocity_method = r.String("velocity_method", o.velocity_method);
  o.velocity_window = r.Number("velocity_window", o.velocity_window);
  o.spikes = r.String("spikes", o.spikes);
  o.spike_threshold = r.Number("spike_threshold", o.spike_threshold);
  r.CheckAllRead();
  const std::string error = o.Validate();
  if (!error.empty()) throw InputError(r.Where() + "." + error);
  return o;
}

nlohmann::json CleaningOptionsToJson(const CleaningOptions& o) {
  return {{"max_gap", o.max_gap},
          {"gap_policy", o.gap_policy},
          {"min_duration", o.min_duration},
          {"min_fraction_kept", o.min_fraction_kept},
          {"stuck_policy", o.stuck_policy},
          {"stuck_min_samples", o.stuck_min_samples},
          {"resample", o.resample},
          {"every", o.every},
          {"interpolation", o.interpolation},
          {"ctrl_interpolation", o.ctrl_interpolation},
          {"velocity_method", o.velocity_method},
          {"velocity_window", o.velocity_window},
          {"spikes", o.spikes},
          {"spike_threshold", o.spike_threshold}};
}

nlohmann::json QualityToJson(const EpisodeQuality& q) {
  nlohmann::json gaps = nlohmann::json::array();
  for (const auto& g : q.gaps) gaps.push_back({g.first, g.second});
  nlohmann::json spikes = nlohmann::json::array();
  for (const auto& p : q.spikes) {
    spikes.push_back(
        {{"channel", p.channel}, {"time", p.time}, {"size", p.size}, {"removed", p.removed}});
  }
  return {{"id", q.id},
          {"source", q.source},
          {"status", q.status},
          {"reason", q.reason},
          {"segment", q.segment},
          {"segments", q.segments},
          {"start_time", q.start_time},
          {"end_time", q.end_time},
          {"samples_read", q.samples_read},
          {"samples_kept", q.samples_kept},
          {"samples_out", q.samples_out},
          {"removed", q.removed},
          {"gaps", gaps},
          {"longest_step", q.longest_step},
          {"stuck_channels", q.stuck_channels},
          {"spikes", spikes},
          {"raw_rate_hz", q.raw_rate_hz},
          {"raw_step_min", q.raw_step_min},
          {"raw_step_max", q.raw_step_max},
          {"rate_hz", q.rate_hz},
          {"interpolation", q.interpolation},
          {"velocity_method", q.velocity_method},
          {"qvel_estimated", q.qvel_estimated},
          {"fraction_kept", q.fraction_kept},
          {"messages", q.messages}};
}

Interpolation ParseInterpolation(const std::string& name) {
  if (name == "cubic") return Interpolation::kCubic;
  if (name == "hold") return Interpolation::kHold;
  NB_CHECK(name == "linear");
  return Interpolation::kLinear;
}

std::vector<double> Interpolate(const std::vector<double>& t, const std::vector<double>& y,
                                const std::vector<double>& tq, Interpolation method) {
  const std::size_t n = t.size();
  NB_CHECK(n >= 2 && y.size() == n);
  std::vector<double> d;
  if (method == Interpolation::kCubic)
    d = n >= 3 ? ThreePoint(t, y) : std::vector<double>(n, (y[1] - y[0]) / (t[1] - t[0]));
  std::vector<double> out(tq.size());
  std::size_t k = 0;  // interval [t[k], t[k+1]]
  for (std::size_t q = 0; q < tq.size(); ++q) {
    const double x = tq[q];
    while (k + 2 < n && t[k + 1] <= x) ++k;
    const double h = t[k + 1] - t[k];
    const double s = std::clamp((x - t[k]) / h, 0.0, 1.0);
    switch (method) {
      case Interpolation::kLinear:
        out[q] = y[k] + s * (y[k + 1] - y[k]);
        break;
      case Interpolation::kHold:
        out[q] = x >= t[k + 1] ? y[k + 1] : y[k];
        break;
      case Interpolation::kCubic: {
        const double s2 = s * s, s3 = s2 * s;
        out[q] = (2 * s3 - 3 * s2 + 1) * y[k] + (s3 - 2 * s2 + s) * h * d[k] +
                 (-2 * s3 + 3 * s2) * y[k + 1] + (s3 - s2) * h * d[k + 1];
        break;
      }
    }
  }
  return out;
}

double GridPoints(double t0, double t1, double period) {
  return std::floor((t1 - t0) / period + 1e-9) + 1;
}

double ResampleBytes(double points, int channels) {
  return 3.0 * points * (1.0 + channels) * sizeof(double);
}

std::vector<double> UniformGrid(double t0, double t1, double period) {
  NB_CHECK(period > 0 && t1 >= t0);
  const double points = GridPoints(t0, t1, period);
  if (!(points <= kMaxGridPoints)) {
    ThrowExpected("resampling grid from " + FormatNumber(t0) + " to " + FormatNumber(t1) +
                      " s every " + FormatNumber(period) + " s",
                  "at most " + FormatNumber(kMaxGridPoints) + " points", FormatNumber(points));
  }
  const long count = static_cast<long>(points);
  std::vector<double> g(count);
  for (long k = 0; k < count; ++k) g[k] = std::min(t0 + k * period, t1);
  return g;
}

std::vector<double> EstimateVelocity(const std::vector<double>& t, const std::vector<double>& y,
                                     const std::string& method, double window) {
  NB_CHECK(t.size() >= 3 && y.size() == t.size());
  if (method == "central_difference") return ThreePoint(t, y);
  NB_CHECK(method == "local_quadratic");
  return LocalQuadratic(t, y, window);
}

std::vector<int> FindSpikes(const std::vector<double>& t, const std::vector<double>& y,
                            double threshold, double max_gap, const std::vector<double>& derivative,
                            const std::vector<double>& integral) {
  const int n = static_cast<int>(y.size());
  NB_CHECK(t.size() == y.size());
  NB_CHECK(derivative.empty() || derivative.size() == y.size());
  NB_CHECK(integral.empty() || integral.size() == y.size());
  std::vector<int> out;
  if (n < 3) return out;
  std::vector<double> d(n - 1);
  double resolution = HUGE_VAL;
  for (int j = 0; j + 1 < n; ++j) {
    d[j] = std::abs(y[j + 1] - y[j]);
    if (d[j] > 0) resolution = std::min(resolution, d[j]);
  }
  if (!std::isfinite(resolution)) return out;  // constant
  constexpr int kHalfWindow = 25;
  std::vector<double> local;
  for (int i = 1; i + 1 < n; ++i) {
    if (t[i] - t[i - 1] > max_gap || t[i + 1] - t[i] > max_gap) continue;
    const double a = y[i] - y[i - 1], c = y[i] - y[i + 1];
    const double jump = std::min(std::abs(a), std::abs(c));
    // Cheap tests first: the same side of both neighbours, beyond the resolution's bound.
    if (a * c <= 0 || jump <= threshold * resolution) continue;
    local.clear();
    for (int j = std::max(0, i - 1 - kHalfWindow); j < std::min(n - 1, i + kHalfWindow + 1); ++j) {
      if (j != i - 1 && j != i) local.push_back(d[j]);
    }
    const double scale = std::max(resolution, local.empty() ? 0.0 : Median(local));
    if (jump <= threshold * scale) continue;
    // Does the partner side with the sample, or with the line through its neighbours?
    const double h1 = t[i] - t[i - 1], h2 = t[i + 1] - t[i], w = h1 / (h1 + h2);
    const double line = y[i - 1] + w * (y[i + 1] - y[i - 1]);
    if (!derivative.empty()) {
      // y at t[i] integrated (trapezoids) from both neighbours, averaged.
      const double d = derivative[i];
      const double from_left = y[i - 1] + 0.5 * (derivative[i - 1] + d) * h1;
      const double from_right = y[i + 1] - 0.5 * (d + derivative[i + 1]) * h2;
      const double shown = 0.5 * (from_left + from_right);
      if (std::abs(y[i] - shown) <= std::abs(line - shown)) continue;
    }
    if (!integral.empty()) {
      // The integral's change over [t[i-1], t[i+1]] against the trapezoids with y[i] or the line.
      auto change = [&](double mid) {
        return 0.5 * (y[i - 1] + mid) * h1 + 0.5 * (mid + y[i + 1]) * h2;
      };
      const double shown = integral[i + 1] - integral[i - 1];
      if (std::abs(change(y[i]) - shown) <= std::abs(change(line) - shown)) continue;
    }
    out.push_back(i);
  }
  return out;
}

std::vector<std::pair<int, int>> SplitAtGaps(const std::vector<double>& t, double max_gap) {
  std::vector<std::pair<int, int>> pieces;
  int begin = 0;
  for (std::size_t i = 1; i <= t.size(); ++i) {
    if (i == t.size() || t[i] - t[i - 1] > max_gap) {
      pieces.push_back({begin, static_cast<int>(i)});
      begin = static_cast<int>(i);
    }
  }
  if (t.empty()) pieces.clear();
  return pieces;
}

namespace {

// Removes rows with NaN/Inf or values outside their channel's range; counts per reason.
std::vector<int> UsableRows(const RawEpisode& raw, EpisodeQuality* q) {
  const Episode& in = raw.episode;
  const int n = in.samples();
  std::vector<char> keep(n, 1);
  std::map<std::string, int> bad;
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(in.time[i])) {
      keep[i] = 0;
      ++bad["time"];
    }
    for (int g = 0; g < kChannelGroups; ++g) {
      const Channels& c = Group(in, g);
      for (std::size_t k = 0; k < c.names.size(); ++k) {
        if (!std::isfinite(c.values(i, k))) {
          keep[i] = 0;
          ++bad[std::string(ChannelGroupName(g)) + ":" + c.names[k]];
        }
      }
    }
  }
  int non_finite = 0;
  for (int i = 0; i < n; ++i) non_finite += keep[i] ? 0 : 1;
  if (non_finite > 0) {
    std::string which;
    for (const auto& [name, count] : bad) {
      which += (which.empty() ? "" : ", ") + name + ": " + std::to_string(count);
    }
    q->removed["non_finite"] += non_finite;
    q->messages.push_back("removed " + std::to_string(non_finite) +
                          " samples with NaN/Inf or missing values (" + which + ")");
  }
  for (const auto& [key, range] : raw.limits) {
    const auto colon = key.find(':');
    int g = 0;
    while (g < kChannelGroups && key.compare(0, colon, ChannelGroupName(g)) != 0) ++g;
    if (g == kChannelGroups) continue;
    const Channels& c = Group(in, g);
    const int col = c.Find(key.substr(colon + 1));
    if (col < 0) continue;
    int count = 0;
    for (int i = 0; i < n; ++i) {
      const double v = c.values(i, col);
      if (keep[i] && (v < range.first || v > range.second)) {
        keep[i] = 0;
        ++count;
      }
    }
    if (count > 0) {
      q->removed["out_of_range"] += count;
      q->messages.push_back("removed " + std::to_string(count) + " samples with " + key +
                            " outside [" + std::to_string(range.first) + ", " +
                            std::to_string(range.second) + "]");
    }
  }
  std::vector<int> rows;
  for (int i = 0; i < n; ++i) {
    if (keep[i]) rows.push_back(i);
  }
  std::vector<int> inc = LongestIncreasing(in.time, rows);
  if (inc.size() < rows.size()) {
    std::vector<double> kept_times;
    for (int i : inc) kept_times.push_back(in.time[i]);
    int dup = 0, back = 0;
    std::size_t j = 0;
    for (int i : rows) {
      if (j < inc.size() && inc[j] == i) {
        ++j;
        continue;
      }
      std::binary_search(kept_times.begin(), kept_times.end(), in.time[i]) ? ++dup : ++back;
    }
    if (dup > 0) {
      q->removed["duplicate_time"] += dup;
      q->messages.push_back("removed " + std::to_string(dup) +
                            " samples repeating the timestamp of another sample");
    }
    if (back > 0) {
      q->removed["non_monotonic_time"] += back;
      q->messages.push_back("removed " + std::to_string(back) +
                            " samples whose timestamp runs backwards (kept the longest run of "
                            "increasing timestamps)");
    }
  }
  return inc;
}

// Sizes the grid before allocating it: a log whose few samples span days would otherwise take
// gigabytes (or end in a bare bad_alloc) on a millisecond grid.
void CheckResampleSize(const std::string& file, const Episode& e, const CleaningOptions& o,
                       double period) {
  int channels = 0;
  for (int g = 0; g < kChannelGroups; ++g) channels += static_cast<int>(Group(e, g).names.size());
  const double points = GridPoints(e.time.front(), e.time.back(), period);
  const double bytes = ResampleBytes(points, channels);
  const std::uint64_t limit =
      o.max_resample_bytes > 0 ? o.max_resample_bytes : DefaultWorkMemoryLimit();
  if (!(bytes <= static_cast<double>(limit))) {
    ThrowExpected(
        file + ": episode '" + e.id + "' (" + FormatNumber(e.time.front()) + " to " +
            FormatNumber(e.time.back()) + " s) resampled every " + FormatNumber(period) + " s",
        "at most " + FormatBytes(limit) +
            " (a quarter of the memory this process may use; check the time unit, or "
            "set cleaning.resample false to keep the log's own times)",
        "about " +
            (bytes < 1.8e19 ? FormatBytes(static_cast<std::uint64_t>(bytes))
                            : FormatNumber(bytes) + " bytes") +
            " (" + FormatNumber(points) + " samples of " + std::to_string(channels) + " channels)");
  }
}

void Resample(const CleaningOptions& o, double period, Episode* e) {
  const std::vector<double> grid = UniformGrid(e->time.front(), e->time.back(), period);
  for (int g = 0; g < kChannelGroups; ++g) {
    Channels& c = Group(*e, g);
    const Interpolation method =
        ParseInterpolation(g == 2 ? o.ctrl_interpolation : o.interpolation);
    Eigen::MatrixXd out(grid.size(), c.names.size());
    for (std::size_t k = 0; k < c.names.size(); ++k) {
      const std::vector<double> v = Interpolate(e->time, Column(c.values, k), grid, method);
      for (std::size_t i = 0; i < grid.size(); ++i) out(i, k) = v[i];
    }
    c.values = std::move(out);
  }
  e->time = grid;
}

// Finds single-sample spikes in positions and velocities (not in commands, which may jump by
// design, nor in sensors, where an impact is a real single-sample peak); reports each, and under
// spikes "drop" removes its sample.
void FlagSpikes(const CleaningOptions& o, Episode* e, EpisodeQuality* q) {
  if (o.spikes == "none") return;
  std::vector<char> remove(e->samples(), 0);
  for (int g : {0, 1}) {
    const Channels& c = Group(*e, g);
    // The same joint's logged velocity (for a position) or position (for a velocity).
    const Channels& other = Group(*e, 1 - g);
    for (std::size_t k = 0; k < c.names.size(); ++k) {
      const std::vector<double> y = Column(c.values, static_cast<int>(k));
      const int p = other.values.rows() == e->samples() ? other.Find(c.names[k]) : -1;
      const std::vector<double> partner = p >= 0 ? Column(other.values, p) : std::vector<double>();
      const std::vector<double> none;
      for (int i : FindSpikes(e->time, y, o.spike_threshold, o.max_gap, g == 0 ? partner : none,
                              g == 1 ? partner : none)) {
        Spike s;
        s.channel = std::string(ChannelGroupName(g)) + ":" + c.names[k];
        s.time = e->time[i];
        const double w = (e->time[i] - e->time[i - 1]) / (e->time[i + 1] - e->time[i - 1]);
        s.size = y[i] - (y[i - 1] + w * (y[i + 1] - y[i - 1]));
        s.removed = o.spikes == "drop";
        remove[i] = 1;
        q->spikes.push_back(s);
      }
    }
  }
  if (q->spikes.empty()) return;
  std::sort(q->spikes.begin(), q->spikes.end(),
            [](const Spike& a, const Spike& b) { return a.time < b.time; });
  std::vector<int> keep;
  for (int i = 0; i < e->samples(); ++i) {
    if (!remove[i]) keep.push_back(i);
  }
  const int count = e->samples() - static_cast<int>(keep.size());
  if (o.spikes == "drop") {
    *e = TakeRows(*e, keep);
    q->removed["spike"] += count;
  }
  q->messages.push_back(std::to_string(q->spikes.size()) + " single-sample spike(s) in " +
                        std::to_string(count) + " sample(s) (more than " +
                        Fixed(o.spike_threshold, 1) + " x the local scale, to and back)" +
                        (o.spikes == "drop" ? ": removed before resampling"
                                            : ": kept (cleaning.spikes \"drop\" removes them)"));
}

}  // namespace

CleanResult CleanEpisode(const RawEpisode& raw, const CleaningOptions& o, double timestep) {
  NB_CHECK(o.Validate().empty() && timestep > 0);
  CleanResult out;
  EpisodeQuality base;
  base.id = raw.episode.id;
  base.source = raw.episode.source;
  base.samples_read = raw.samples_read;
  base.removed = raw.removed;
  base.messages = raw.messages;
  const std::vector<int> rows = UsableRows(raw, &base);
  if (rows.size() < 3) {
    base.samples_kept = static_cast<int>(rows.size());
    out.dropped.push_back(Dropped(base, "fewer than 3 usable samples (" +
                                            std::to_string(rows.size()) + " of " +
                                            std::to_string(raw.samples_read) + ")"));
    return out;
  }
  Episode all = TakeRows(raw.episode, rows);
  FlagSpikes(o, &all, &base);
  std::vector<double> steps;
  for (std::size_t i = 1; i < all.time.size(); ++i) steps.push_back(all.time[i] - all.time[i - 1]);
  const double median = Median(steps);
  base.raw_rate_hz = 1.0 / median;
  base.raw_step_min = *std::min_element(steps.begin(), steps.end());
  base.raw_step_max = base.longest_step = *std::max_element(steps.begin(), steps.end());

  std::vector<std::pair<int, int>> pieces = SplitAtGaps(all.time, o.max_gap);
  for (std::size_t p = 1; p < pieces.size(); ++p) {
    base.gaps.push_back({all.time[pieces[p].first - 1], all.time[pieces[p].first]});
  }
  if (pieces.size() > 1) {
    base.messages.push_back(std::to_string(base.gaps.size()) + " gaps longer than max_gap " +
                            Fixed(o.max_gap) + " s (longest " + Fixed(base.longest_step) +
                            " s); gap_policy " + o.gap_policy);
    if (o.gap_policy == "drop") {
      base.removed["gap_segment"] += static_cast<int>(rows.size());
      out.dropped.push_back(Dropped(base, "has gaps and gap_policy is drop"));
      return out;
    }
    if (o.gap_policy == "longest") {
      std::size_t best = 0;
      auto span = [&](std::size_t k) {
        return all.time[pieces[k].second - 1] - all.time[pieces[k].first];
      };
      for (std::size_t k = 1; k < pieces.size(); ++k) {
        if (span(k) > span(best)) best = k;
      }
      for (std::size_t k = 0; k < pieces.size(); ++k) {
        if (k != best) base.removed["gap_segment"] += pieces[k].second - pieces[k].first;
      }
      pieces = {pieces[best]};
    }
  }
  std::vector<std::pair<int, int>> usable;
  for (const auto& piece : pieces) {
    const double duration = all.time[piece.second - 1] - all.time[piece.first];
    const int count = piece.second - piece.first;
    if (count < 3 || duration < o.min_duration) {
      base.removed["short_segment"] += count;
      base.messages.push_back("removed a piece of " + std::to_string(count) + " samples (" +
                              Fixed(all.time[piece.first]) + " to " +
                              Fixed(all.time[piece.second - 1]) + " s) shorter than " +
                              "min_duration " + Fixed(o.min_duration) + " s");
    } else {
      usable.push_back(piece);
    }
  }
  int kept = 0;
  for (const auto& piece : usable) kept += piece.second - piece.first;
  const double fraction = raw.samples_read > 0 ? static_cast<double>(kept) / raw.samples_read : 0.0;
  // Samples the study's filter asked to leave out are not a loss of quality.
  const auto filtered = base.removed.find("filter");
  const int wanted = raw.samples_read - (filtered == base.removed.end() ? 0 : filtered->second);
  const double fraction_wanted = wanted > 0 ? static_cast<double>(kept) / wanted : 0.0;
  if (usable.empty() || fraction_wanted < o.min_fraction_kept) {
    base.samples_kept = kept;
    base.fraction_kept = fraction;
    const std::string why =
        usable.empty() ? "no piece of at least min_duration " + Fixed(o.min_duration) + " s"
                       : "keeps " + Fixed(100 * fraction_wanted, 1) +
                             "% of its samples (filter aside), below min_fraction_kept " +
                             Fixed(100 * o.min_fraction_kept, 1) + "%";
    out.dropped.push_back(Dropped(base, why));
    return out;
  }
  const double period = timestep * o.every;
  for (std::size_t k = 0; k < usable.size(); ++k) {
    EpisodeQuality q = base;
    std::vector<int> piece_rows;
    for (int i = usable[k].first; i < usable[k].second; ++i) piece_rows.push_back(i);
    Episode e = TakeRows(all, piece_rows);
    q.segment = static_cast<int>(k + 1);
    q.segments = static_cast<int>(usable.size());
    if (usable.size() > 1) q.id = e.id = raw.episode.id + "#" + std::to_string(k + 1);
    q.start_time = e.time.front();
    q.end_time = e.time.back();
    q.spikes.clear();
    for (const Spike& p : base.spikes) {
      if (p.time >= q.start_time && p.time <= q.end_time) q.spikes.push_back(p);
    }
    q.samples_kept = e.samples();
    q.fraction_kept = static_cast<double>(q.samples_kept) / std::max(1, raw.samples_read);
    if (usable.size() > 1) {
      q.messages.push_back("piece " + std::to_string(k + 1) + " of " +
                           std::to_string(usable.size()) + " (" + Fixed(q.start_time) + " to " +
                           Fixed(q.end_time) + " s)");
    }
    for (int g = 0; g < kChannelGroups; ++g) {
      const Channels& c = Group(e, g);
      for (std::size_t j = 0; j < c.names.size(); ++j) {
        if (e.samples() >= o.stuck_min_samples &&
            c.values.col(j).maxCoeff() == c.values.col(j).minCoeff()) {
          q.stuck_channels.push_back(std::string(ChannelGroupName(g)) + ":" + c.names[j]);
        }
      }
    }
    if (!q.stuck_channels.empty()) {
      std::string list;
      for (const auto& s : q.stuck_channels) list += (list.empty() ? "" : ", ") + s;
      q.messages.push_back("constant over the whole episode (stuck?): " + list);
      if (o.stuck_policy == "drop") {
        out.dropped.push_back(Dropped(q, "stuck channel(s) " + list + " and stuck_policy drop"));
        continue;
      }
    }
    // Velocities: logged ones are kept; missing ones are estimated from positions.
    std::string logged, estimated, missing;
    for (std::size_t j = 0; j < e.qpos.names.size(); ++j) {
      const std::string& joint = e.qpos.names[j];
      if (e.qvel.Find(joint) >= 0) {
        logged += (logged.empty() ? "" : ", ") + joint;
        continue;
      }
      if (o.velocity_method == "none") {
        missing += (missing.empty() ? "" : ", ") + joint;
        continue;
      }
      const std::vector<double> v =
          EstimateVelocity(e.time, Column(e.qpos.values, j), o.velocity_method, o.velocity_window);
      e.qvel.names.push_back(joint);
      e.qvel.values.conservativeResize(e.samples(), e.qvel.names.size());
      for (int i = 0; i < e.samples(); ++i) e.qvel.values(i, e.qvel.names.size() - 1) = v[i];
      estimated += (estimated.empty() ? "" : ", ") + joint;
      q.qvel_estimated.push_back(joint);
    }
    std::string method;
    if (!logged.empty()) method = "logged (" + logged + ")";
    if (!estimated.empty()) {
      method +=
          std::string(method.empty() ? "" : "; ") + o.velocity_method +
          (o.velocity_method == "local_quadratic" ? " over " + Fixed(o.velocity_window, 4) + " s"
                                                  : "") +
          " (" + estimated + ")";
    }
    if (!missing.empty())
      method += std::string(method.empty() ? "" : "; ") + "none (" + missing + ")";
    q.velocity_method = method;
    if (o.resample) {
      if (e.duration() < period) {
        out.dropped.push_back(Dropped(q, "shorter than one resampling period"));
        continue;
      }
      if (period > 1.5 / q.raw_rate_hz) {
        q.messages.push_back("resampled to a coarser step (" + Fixed(period, 4) +
                             " s) than the log's: values interpolated, not low-pass filtered");
      }
      CheckResampleSize(raw.episode.source, e, o, period);
      Resample(o, period, &e);
      q.rate_hz = 1.0 / period;
      q.interpolation =
          o.interpolation +
          (o.ctrl_interpolation != o.interpolation ? " (ctrl: " + o.ctrl_interpolation + ")" : "");
    } else {
      q.rate_hz = q.raw_rate_hz;
      q.interpolation = "none";
    }
    q.samples_out = e.samples();
    out.episodes.push_back(std::move(e));
    out.quality.push_back(std::move(q));
  }
  return out;
}

}  // namespace nextbatch
