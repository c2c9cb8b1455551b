#include "calibration/replay.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "calibration/segments.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/random.h"

namespace nextbatch {
namespace {

using calib::Evaluator;
using calib::Layout;

Layout ReplayLayoutOf(const mjModel* base, const ParameterBinding& binding,
                      const std::vector<Episode>& episodes, const ReplaySetup& setup) {
  if (std::string e = setup.Validate(); !e.empty()) throw InputError(e);
  calib::LayoutOptions lo = calib::ReplayLayout(setup.window_seconds, setup.state_window);
  lo.scale_keys = calib::ScaleKeys(binding, setup.episode_scale);
  return Layout(base, episodes, lo);
}

Eigen::VectorXd InternalOf(const ParameterBinding& binding, const Eigen::VectorXd& values) {
  Eigen::VectorXd z = values;
  for (int j = 0; j < binding.size(); ++j) {
    if (binding.spec(j).log_scale) z[j] = std::log(values[j]);
  }
  return z;
}

// The traces of every window of the evaluated segments (residuals are simulated - logged at
// unit sigma on the qpos rows of a replay layout).
ReplayTraces TracesOf(const Evaluator& ev, const Layout& layout,
                      const std::vector<Episode>& episodes) {
  ReplayTraces out;
  for (const calib::Channel& c : layout.channels()) out.channels.push_back(c.name);
  out.error = calib::ReplayOf(ev, layout, episodes);
  for (int a = 0; a < ev.size(); ++a) {
    const int s = ev.segment(a);
    const calib::Segment& seg = layout.segments()[s];
    const calib::EpisodeMap& map = layout.maps()[seg.episode];
    TraceWindow w;
    w.episode = seg.episode;
    w.start_time = out.error.windows[a].start_time;
    w.ok = ev.ok(a);
    w.max_error = out.error.windows[a].max_error;
    const int rows = static_cast<int>(seg.rows.size());
    w.logged.resize(rows);
    if (w.ok) w.simulated.resize(rows);
    for (int r = 0; r < rows; ++r) {
      const auto& [sample, column] = seg.rows[r];
      const calib::EpisodeMap::Column& c = map.columns[column];
      w.sample.push_back(sample);
      w.channel.push_back(c.channel);
      w.logged[r] = (*c.values)(sample, c.column);
      if (w.ok) w.simulated[r] = w.logged[r] + ev.residuals(a)[r] * layout.Sigma(s, r);
    }
    out.windows.push_back(std::move(w));
  }
  return out;
}

// Noise level of a logged channel from the logs themselves (NoiseProbes, as the fit estimates
// the levels it is not given), over every episode that logs it.
double EstimatedNoise(const std::vector<Episode>& episodes, const std::string& channel) {
  const bool qvel = channel.rfind("qvel:", 0) == 0;
  const std::string joint = channel.substr(5);
  std::vector<double> probes;
  for (const Episode& e : episodes) {
    const Channels& c = qvel ? e.qvel : e.qpos;
    for (std::size_t k = 0; k < c.names.size(); ++k) {
      if (c.names[k] != joint) continue;
      auto p = calib::NoiseProbes(e.time, c.values, static_cast<int>(k));
      probes.insert(probes.end(), p.begin(), p.end());
    }
  }
  if (probes.empty()) return 0.0;
  for (double& p : probes) p = std::abs(p);
  std::vector<double> v = probes;
  return 1.4826 * Quantile(&v, 0.5);
}

// A factor F with F F^T = c for a symmetric positive semi-definite 2x2 matrix.
Eigen::Matrix2d Factor2(const Eigen::Matrix2d& c) {
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix2d> es(c);
  return es.eigenvectors() * es.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
}

}  // namespace

double Quantile(std::vector<double>* v, double q) {
  if (v->empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v->begin(), v->end());
  const double h = q * static_cast<double>(v->size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, v->size() - 1);
  return (*v)[lo] + (h - static_cast<double>(lo)) * ((*v)[hi] - (*v)[lo]);
}

std::vector<ReferenceSet> ReadReferenceSets(const std::string& path,
                                            const std::vector<ParameterSpec>& specs) {
  const nlohmann::json doc = ReadJsonFile(path);
  if (!doc.is_object()) ThrowExpected(path, "a JSON object", Describe(doc));
  JsonReader r(doc, path, "");
  const std::string schema = r.String("schema");
  if (schema != "nextbatch.references/1") {
    ThrowExpected(r.Where("schema"), "\"nextbatch.references/1\"", "\"" + schema + "\"");
  }
  r.String("notes", "");
  std::vector<ReferenceSet> out;
  std::set<std::string> names;
  for (const JsonReader& s : r.Objects("sets")) {
    ReferenceSet set;
    set.name = s.String("name");
    if (set.name.empty() || !names.insert(set.name).second) {
      ThrowExpected(s.Where("name"), "a unique, non-empty name", "\"" + set.name + "\"");
    }
    set.how = s.String("how", "");
    JsonReader v = s.Object("values");
    set.values.resize(static_cast<Eigen::Index>(specs.size()));
    for (std::size_t j = 0; j < specs.size(); ++j) {
      if (!v.Has(specs[j].name)) {
        ThrowExpected(v.Where(specs[j].name), "a value for every parameter of the study", "none");
      }
      set.values[static_cast<Eigen::Index>(j)] = v.Number(specs[j].name);
      if (!std::isfinite(set.values[static_cast<Eigen::Index>(j)])) {
        ThrowExpected(v.Where(specs[j].name), "a finite number", "not finite");
      }
    }
    v.CheckAllRead();
    s.CheckAllRead();
    out.push_back(std::move(set));
  }
  r.CheckAllRead();
  return out;
}

std::string ReplaySetup::Validate() const {
  if (!(window_seconds > 0) || !std::isfinite(window_seconds)) {
    return Expected("replay.window_seconds", "a duration > 0", FormatNumber(window_seconds));
  }
  if (!(state_window >= 0) || !std::isfinite(state_window)) {
    return Expected("replay state_window", "a duration >= 0", FormatNumber(state_window));
  }
  if (threads < 0) return Expected("replay threads", "0 (all) or more", std::to_string(threads));
  return "";
}

std::string BandOptions::Validate() const {
  if (samples < 2 || samples > 100000) {
    return Expected("replay.band_samples", "an integer in [2, 100000]", std::to_string(samples));
  }
  if (!(level > 0 && level < 1)) {
    return Expected("replay.band_level", "a probability in (0, 1)", FormatNumber(level));
  }
  for (const auto& [name, s] : residual_std) {
    if (!(s >= 0) || !std::isfinite(s)) {
      return Expected("residual std of " + name, "a number >= 0", FormatNumber(s));
    }
  }
  for (const auto& [name, s] : noise_std) {
    if (!(s >= 0) || !std::isfinite(s)) {
      return Expected("noise std of " + name, "a number >= 0", FormatNumber(s));
    }
  }
  if (!(discrepancy >= 0) || !std::isfinite(discrepancy)) {
    return Expected("band discrepancy", "a number >= 0", FormatNumber(discrepancy));
  }
  return "";
}

ReplayTraces ComputeReplayTraces(const mjModel* base, const ParameterBinding& binding,
                                 const Eigen::VectorXd& values,
                                 const std::vector<Episode>& episodes, const ReplaySetup& setup) {
  const Layout layout = ReplayLayoutOf(base, binding, episodes, setup);
  Evaluator ev(base, binding, episodes, layout, calib::AllSegments(layout), setup.threads,
               setup.hold, setup.conditions);
  std::vector<Eigen::VectorXd> x;
  for (const calib::Segment& s : layout.segments()) x.push_back(s.x_start);
  ev.Evaluate(InternalOf(binding, values), x, false);
  return TracesOf(ev, layout, episodes);
}

PredictiveBand ComputePredictiveBand(const mjModel* base, const ParameterBinding& binding,
                                     const Posterior& posterior,
                                     const std::vector<Episode>& episodes, const ReplaySetup& setup,
                                     const BandOptions& options) {
  if (std::string e = options.Validate(); !e.empty()) throw InputError(e);
  if (posterior.size() != binding.size()) {
    ThrowExpected("predictive band: posterior",
                  std::to_string(binding.size()) + " parameters (the study's)",
                  std::to_string(posterior.size()));
  }
  const Layout layout = ReplayLayoutOf(base, binding, episodes, setup);
  const int nseg = static_cast<int>(layout.segments().size());
  Evaluator ev(base, binding, episodes, layout, calib::AllSegments(layout), setup.threads,
               setup.hold, setup.conditions);
  std::vector<Eigen::VectorXd> x0;
  for (const calib::Segment& s : layout.segments()) x0.push_back(s.x_start);
  ev.Evaluate(InternalOf(binding, posterior.mean()), x0, false);
  PredictiveBand band;
  band.calibrated = TracesOf(ev, layout, episodes);

  // the noise level behind each start-state fit, and the residual error per layout channel
  std::map<std::string, double> noise = options.noise_std;
  std::vector<std::vector<Eigen::Matrix2d>> start_factor(nseg);
  for (int s = 0; s < nseg; ++s) {
    for (const calib::StartFit& f : layout.segments()[s].start_fits) {
      if (!options.start_state) {
        start_factor[s].push_back(Eigen::Matrix2d::Zero());
        continue;
      }
      if (!noise.count(f.channel)) noise[f.channel] = EstimatedNoise(episodes, f.channel);
      const double sigma = noise[f.channel];
      start_factor[s].push_back(Factor2(sigma * sigma * f.unit_cov));
    }
  }
  std::vector<double> residual(layout.channels().size(), 0.0);
  for (std::size_t c = 0; c < residual.size(); ++c) {
    auto it = options.residual_std.find(layout.channels()[c].name);
    if (it != options.residual_std.end()) residual[c] = it->second;
  }

  // draws[s]: rows x samples of the window's predictive draws (NaN where the draw diverged)
  const int K = options.samples;
  std::vector<Eigen::MatrixXf> draws(nseg);
  for (int s = 0; s < nseg; ++s) {
    draws[s].resize(static_cast<Eigen::Index>(layout.segments()[s].rows.size()), K);
  }
  Eigen::VectorXd values;
  std::vector<Eigen::VectorXd> x = x0;
  for (int k = 0; k < K; ++k) {
    posterior.Sample(options.seed, static_cast<std::uint64_t>(k), &values);
    // start states and residual errors of draw k: one stream, consumed in segment order
    RandomStream rng(options.seed, Stage::kNuisance, static_cast<std::uint64_t>(k));
    for (int s = 0; s < nseg; ++s) {
      const auto& fits = layout.segments()[s].start_fits;
      x[s] = x0[s];
      for (std::size_t f = 0; f < fits.size(); ++f) {
        const Eigen::Vector2d u(rng.Normal(), rng.Normal());
        const Eigen::Vector2d d = start_factor[s][f] * u;
        x[s][fits[f].value] += d[0];
        if (fits[f].slope >= 0) x[s][fits[f].slope] += d[1];
      }
    }
    ev.Evaluate(InternalOf(binding, values), x, false);
    for (int s = 0; s < nseg; ++s) {
      const TraceWindow& w = band.calibrated.windows[s];
      for (Eigen::Index r = 0; r < draws[s].rows(); ++r) {
        const double e = rng.Normal() * residual[w.channel[r]];
        draws[s](r, k) = ev.ok(s) ? static_cast<float>(w.logged[r] + ev.residuals(s)[r] + e)
                                  : std::numeric_limits<float>::quiet_NaN();
      }
      if (!ev.ok(s)) ++band.diverged;
    }
  }

  const double lo_q = (1 - options.level) / 2, hi_q = 1 - lo_q;
  const double d2 = options.discrepancy * options.discrepancy;
  long inside = 0, samples = 0;
  int covered = 0, judged = 0;
  std::vector<double> v, dev;
  for (int s = 0; s < nseg; ++s) {
    const TraceWindow& w = band.calibrated.windows[s];
    BandWindow b;
    const Eigen::Index rows = draws[s].rows();
    b.low.resize(rows);
    b.high.resize(rows);
    std::vector<char> ok(K, 1);
    for (int k = 0; k < K; ++k) ok[k] = rows == 0 || !std::isnan(draws[s](0, k));
    b.draws = static_cast<int>(std::count(ok.begin(), ok.end(), 1));
    for (Eigen::Index r = 0; r < rows; ++r) {
      v.clear();
      for (int k = 0; k < K; ++k) {
        if (ok[k]) v.push_back(draws[s](r, k));
      }
      b.low[r] = Quantile(&v, lo_q);
      b.high[r] = Quantile(&v, hi_q);
      if (w.ok && d2 > 0) {
        b.low[r] = w.simulated[r] - std::hypot(w.simulated[r] - b.low[r], options.discrepancy);
        b.high[r] = w.simulated[r] + std::hypot(b.high[r] - w.simulated[r], options.discrepancy);
      }
      if (w.ok && b.draws > 0) {
        ++samples;
        if (w.logged[r] >= b.low[r] && w.logged[r] <= b.high[r]) ++inside;
      }
    }
    if (w.ok && b.draws > 0 && rows > 0) {
      dev.clear();
      for (int k = 0; k < K; ++k) {
        if (!ok[k]) continue;
        dev.push_back((draws[s].col(k).cast<double>() - w.simulated).cwiseAbs().maxCoeff());
      }
      b.radius = std::sqrt(std::pow(Quantile(&dev, options.level), 2) + d2);
      b.covered = w.max_error <= b.radius;
      long in = 0;
      for (Eigen::Index r = 0; r < rows; ++r) {
        in += w.logged[r] >= b.low[r] && w.logged[r] <= b.high[r];
      }
      b.inside = static_cast<double>(in) / static_cast<double>(rows);
      ++judged;
      covered += b.covered;
    } else {
      b.radius = std::numeric_limits<double>::quiet_NaN();
      b.inside = std::numeric_limits<double>::quiet_NaN();
    }
    band.windows.push_back(std::move(b));
  }
  band.coverage = judged ? static_cast<double>(covered) / judged : NAN;
  band.pointwise_coverage = samples ? static_cast<double>(inside) / samples : NAN;
  return band;
}

BandDiscrepancy FitBandDiscrepancy(const PredictiveBand& fitted, double level) {
  BandDiscrepancy out;
  std::vector<double> score;
  int covered = 0;
  for (std::size_t w = 0; w < fitted.windows.size(); ++w) {
    const BandWindow& b = fitted.windows[w];
    if (!std::isfinite(b.radius)) continue;
    const double e = fitted.calibrated.windows[w].max_error;
    score.push_back(e * e - b.radius * b.radius);
    covered += b.covered;
  }
  out.windows = static_cast<int>(score.size());
  if (score.empty()) return out;
  out.coverage = static_cast<double>(covered) / out.windows;
  std::sort(score.begin(), score.end());
  // the rank that covers a new exchangeable window with probability >= level
  const std::size_t k = static_cast<std::size_t>(std::ceil((score.size() + 1) * level));
  out.needed = score[std::min(k, score.size()) - 1];
  out.radius = std::sqrt(std::max(0.0, out.needed));
  return out;
}

}  // namespace nextbatch
