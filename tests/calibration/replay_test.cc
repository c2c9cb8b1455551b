#include "calibration/replay.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "calibration/segments.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/random.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

using testing::Spec;

constexpr double kNoise = 1e-3;  // rad: the synthetic logs' position noise

struct Pendulum {
  ModelPtr model = LoadModelString(testing::PendulumXml());
  std::vector<ParameterSpec> specs = {Spec("damping", {"joint:hinge.damping"}, 0.05, 0, 1),
                                      Spec("mass", {"body:link.mass"}, 0.6, 0.1, 3)};
  ParameterBinding binding{model.get(), specs};
  Eigen::VectorXd truth = Eigen::Vector2d(0.08, 0.7);
  // The hidden world's dry friction (N m): 0 is the fitted model; above 0, an effect it lacks.
  double friction = 0.0;

  // Episodes `first`.. of the hidden truth; indices set their commands, start and noise.
  std::vector<Episode> Episodes(int first, int count, double duration) const {
    std::vector<ParameterSpec> world = specs;
    world.push_back(Spec("friction", {"joint:hinge.frictionloss"}, 0.0, 0, 1));
    const ParameterBinding world_binding(model.get(), world);
    const Eigen::Vector3d world_truth(truth[0], truth[1], friction);
    testing::SyntheticLog log;
    log.duration = duration;
    log.qpos_noise = kNoise;
    log.ctrl_offset = {0.0};
    log.ctrl_amplitude = {2.0};
    std::vector<Episode> out;
    for (int i = first; i < first + count; ++i) {
      State s = State::Reference(model.get());
      s.qpos[0] = 0.3 * (i % 4) - 0.4;
      out.push_back(testing::MakeEpisode(model.get(), world_binding, world_truth, s, log, i));
    }
    return out;
  }

  // A posterior around the truth with correlated parameters, and 20 draws with a 2 mrad residual:
  // a quick band for tests of the band's own arithmetic.
  Posterior CorrelatedPosterior() const {
    Eigen::Matrix2d cov;
    cov << 1e-4, 2e-5, 2e-5, 4e-3;
    return Posterior({"damping", "mass"}, truth, cov, binding.Lower(), binding.Upper());
  }
  static BandOptions QuickBand() {
    BandOptions o;
    o.samples = 20;
    o.residual_std["qpos:hinge"] = 2e-3;
    return o;
  }
};

double Median(std::vector<double> v) { return Quantile(&v, 0.5); }

TEST_CASE("quantiles interpolate between order statistics") {
  std::vector<double> v = {4, 1, 3, 2};
  CHECK(Quantile(&v, 0.0) == 1);
  CHECK(Quantile(&v, 1.0) == 4);
  CHECK(Quantile(&v, 0.5) == doctest::Approx(2.5));
  CHECK(Quantile(&v, 0.25) == doctest::Approx(1.75));  // h = 0.75 between 1 and 2
  std::vector<double> empty;
  CHECK(std::isnan(Quantile(&empty, 0.5)));
}

TEST_CASE("replay traces carry exactly the held-out check's window errors") {
  Pendulum p;
  const std::vector<Episode> eps = p.Episodes(0, 2, 1.5);
  const Eigen::VectorXd off = Eigen::Vector2d(0.03, 0.9);
  ReplaySetup setup;
  setup.threads = 2;
  const ReplayTraces t = ComputeReplayTraces(p.model.get(), p.binding, off, eps, setup);
  const ReplayError e = ComputeReplayError(p.model.get(), p.binding, off, eps, 0.3, 2);
  REQUIRE(t.windows.size() == e.windows.size());
  CHECK(t.error.median == e.median);
  for (std::size_t w = 0; w < e.windows.size(); ++w) {
    const TraceWindow& tw = t.windows[w];
    CHECK(tw.max_error == e.windows[w].max_error);
    CHECK(tw.start_time == e.windows[w].start_time);
    REQUIRE(tw.ok);
    CHECK((tw.simulated - tw.logged).cwiseAbs().maxCoeff() ==
          doctest::Approx(tw.max_error).epsilon(1e-12));
    for (std::size_t r = 0; r < tw.sample.size(); ++r) {
      CHECK(tw.logged[r] == eps[tw.episode].qpos.values(tw.sample[r], 0));
    }
  }
}

TEST_CASE("a window's start-state uncertainty matches the spread of its estimate over noise") {
  // A known trajectory (a quadratic in time) logged with noise many times: the covariance the
  // layout states for the local fit's value and slope must match their spread across the logs.
  ModelPtr m = LoadModelString(testing::PendulumXml());
  const double sigma = 2e-3;
  const int trials = 600;
  std::vector<Eigen::Vector2d> est;
  Eigen::Matrix2d stated;
  for (int k = 0; k < trials; ++k) {
    Episode e;
    e.id = "q";
    RandomStream rng(3, Stage::kTest, k);
    for (int i = 0; i < 200; ++i) e.time.push_back(0.01 * i + 0.003 * (i % 3));
    e.qpos.names = {"hinge"};
    e.qpos.values.resize(200, 1);
    for (int i = 0; i < 200; ++i) {
      const double t = e.time[i];
      e.qpos.values(i, 0) = 0.2 + 0.5 * t - 0.3 * t * t + sigma * rng.Normal();
    }
    const calib::Layout layout(m.get(), {e}, calib::ReplayLayout(0.3, 0.0));
    const calib::Segment& s = layout.segments()[2];
    REQUIRE(s.start_fits.size() == 1);
    const calib::StartFit& f = s.start_fits[0];
    CHECK(f.slope == m->nq);
    stated = sigma * sigma * f.unit_cov;
    est.emplace_back(s.x_start[f.value], s.x_start[f.slope]);
  }
  Eigen::Vector2d mean = Eigen::Vector2d::Zero();
  for (const auto& v : est) mean += v / trials;
  Eigen::Matrix2d cov = Eigen::Matrix2d::Zero();
  for (const auto& v : est) cov += (v - mean) * (v - mean).transpose() / (trials - 1);
  MESSAGE("stated " << stated << "\nempirical " << cov);
  // variances from 600 draws are within about +-12 % (2 standard errors)
  CHECK(cov(0, 0) == doctest::Approx(stated(0, 0)).epsilon(0.15));
  CHECK(cov(1, 1) == doctest::Approx(stated(1, 1)).epsilon(0.15));
  CHECK(std::abs(cov(0, 1) - stated(0, 1)) < 0.15 * std::sqrt(stated(0, 0) * stated(1, 1)));
}

// Fits the hidden-truth pendulum on 4 logs and builds the predictive band on 4 others.
struct HiddenTruth {
  Pendulum p;
  std::vector<Episode> fit, test;
  CalibrationResult result;
  Posterior posterior;
  BandOptions band;

  // `episodes` logs of 3 s to fit, as many of 4 s to replay
  explicit HiddenTruth(double friction = 0.0, int episodes = 4) {
    p.friction = friction;
    fit = p.Episodes(0, episodes, 3.0);
    test = p.Episodes(10, episodes, 4.0);
    CalibrationOptions o;
    o.threads = 2;
    o.noise["qpos"] = kNoise;
    o.held_out_fraction = 0;
    result = Calibrate(p.model.get(), p.binding, fit, o);
    REQUIRE(result.summary.usable());
    posterior = Posterior(result.names, result.value, result.honest_covariance, p.binding.Lower(),
                          p.binding.Upper());
    band.samples = 200;
    band.seed = 7;
    band.noise_std = result.noise;
    band.residual_std["qpos:hinge"] = kNoise * std::sqrt(result.error_model.residual_scale);
  }
};

TEST_CASE(
    "hidden truth: the calibrated replay beats the initial values, at the noise level, and "
    "the 95 % predictive band covers about 95 % of unseen windows") {
  HiddenTruth h;
  ReplaySetup setup;
  setup.threads = 2;
  const PredictiveBand band =
      ComputePredictiveBand(h.p.model.get(), h.p.binding, h.posterior, h.test, setup, h.band);
  const double calibrated = band.calibrated.error.median;
  const double initial =
      ComputeReplayError(h.p.model.get(), h.p.binding, h.p.binding.Initial(), h.test, 0.3, 2)
          .median;
  const double truth =
      ComputeReplayError(h.p.model.get(), h.p.binding, h.p.truth, h.test, 0.3, 2).median;
  std::vector<double> radius;
  for (const BandWindow& b : band.windows) radius.push_back(b.radius);
  const int n = static_cast<int>(band.windows.size());
  MESSAGE("windows " << n << ", median error: calibrated " << calibrated << ", truth " << truth
                     << ", initial " << initial << "; coverage " << band.coverage << ", pointwise "
                     << band.pointwise_coverage << ", median radius " << Median(radius)
                     << ", residual scale " << h.result.error_model.residual_scale);
  REQUIRE(n >= 40);
  CHECK(calibrated < 0.5 * initial);
  // the window's largest error of ~30 noisy samples (about 2.5 sigma) plus the start state's
  // error carried through 0.3 s: a few noise levels, and as good as the truth's own replay
  CHECK(calibrated > kNoise);
  CHECK(calibrated < 8 * kNoise);
  CHECK(calibrated < 1.2 * truth);
  // 95 % nominal, 0.81 measured (42 of 52 windows): the band leaves out the bias of the start
  // state's local quadratic fit in fast motion (the cubic term over the 9 samples' 80 ms; logged
  // at 2 ms the coverage is 0.90), and without the start states' noise it covers 0.33
  CHECK(band.coverage >= 0.75);
  CHECK(band.pointwise_coverage >= 0.85);
  CHECK(band.pointwise_coverage <= 0.995);
  // not wide either: the band's radius is a few times the typical error, not orders more
  CHECK(Median(radius) < 3 * calibrated);
  CHECK(band.diverged == 0);

  // without the start states' uncertainty the band misses what the estimate of the start
  // velocity carries into the window
  BandOptions no_start = h.band;
  no_start.start_state = false;
  const PredictiveBand narrow =
      ComputePredictiveBand(h.p.model.get(), h.p.binding, h.posterior, h.test, setup, no_start);
  MESSAGE("coverage without start-state uncertainty " << narrow.coverage);
  CHECK(narrow.coverage < band.coverage);
}

// The band with the discrepancy term its fit's own windows call for (FitBandDiscrepancy), on
// the unseen windows.
struct FittedBand {
  BandDiscrepancy discrepancy;
  PredictiveBand band;
  double median_radius = 0.0;
};

FittedBand WithDiscrepancy(const HiddenTruth& h, const ReplaySetup& setup) {
  FittedBand out;
  out.discrepancy = FitBandDiscrepancy(
      ComputePredictiveBand(h.p.model.get(), h.p.binding, h.posterior, h.fit, setup, h.band),
      h.band.level);
  BandOptions o = h.band;
  o.discrepancy = out.discrepancy.radius;
  out.band = ComputePredictiveBand(h.p.model.get(), h.p.binding, h.posterior, h.test, setup, o);
  std::vector<double> radius;
  for (const BandWindow& b : out.band.windows) radius.push_back(b.radius);
  out.median_radius = Median(radius);
  return out;
}

TEST_CASE("hidden truth, right model: the band with the fit's discrepancy term stays near 95 %") {
  HiddenTruth h;
  ReplaySetup setup;
  setup.threads = 2;
  const FittedBand f = WithDiscrepancy(h, setup);
  const double calibrated = f.band.calibrated.error.median;
  MESSAGE("fit windows " << f.discrepancy.windows << ", their coverage " << f.discrepancy.coverage
                         << ", discrepancy " << f.discrepancy.radius << "; unseen coverage "
                         << f.band.coverage << ", pointwise " << f.band.pointwise_coverage
                         << ", median radius " << f.median_radius << ", median error "
                         << calibrated);
  REQUIRE(f.discrepancy.windows >= 30);
  // the draws' band misses the start-state fit's bias in fast motion (above); the fit's own
  // windows show it, and a term of a few noise levels covers it, not a wide one
  CHECK(f.discrepancy.radius < 5 * kNoise);
  CHECK(f.band.coverage >= 0.85);
  CHECK(f.band.coverage <= 0.99);
  CHECK(f.median_radius < 3 * calibrated);
}

TEST_CASE(
    "hidden truth, unmodelled dry friction: the draws' band is too narrow, the band with the "
    "fit's discrepancy term covers 85-99 % of unseen windows") {
  // 0.1 N m of friction in the world; the fit has damping and mass only. Eight logs each way:
  // the conformal rank of 80 fitted windows and the coverage of ~100 unseen ones scatter by
  // about 2-3 % (with four, 40 and 52: 0.846 measured, one window short of 0.85)
  HiddenTruth h(0.1, 8);
  ReplaySetup setup;
  setup.threads = 2;
  const PredictiveBand own =
      ComputePredictiveBand(h.p.model.get(), h.p.binding, h.posterior, h.test, setup, h.band);
  const FittedBand f = WithDiscrepancy(h, setup);
  const double calibrated = f.band.calibrated.error.median;
  MESSAGE("residual scale " << h.result.error_model.residual_scale << "; draws' band covers "
                            << own.coverage << "; fit windows " << f.discrepancy.windows
                            << ", their coverage " << f.discrepancy.coverage << ", discrepancy "
                            << f.discrepancy.radius << "; unseen coverage " << f.band.coverage
                            << ", pointwise " << f.band.pointwise_coverage << ", median radius "
                            << f.median_radius << ", median error " << calibrated);
  CHECK(own.coverage < 0.85);
  CHECK(f.discrepancy.radius > 0);
  CHECK(f.band.coverage >= 0.85);
  CHECK(f.band.coverage <= 0.99);
  // the same statistic as the window's error: a few times the typical error, not orders more
  CHECK(f.median_radius < 4 * calibrated);
}

TEST_CASE("the discrepancy term is the split-conformal quantile of error^2 - radius^2") {
  PredictiveBand b;
  // 19 judged windows of radius 2 and errors 0.2, 0.4, .., 3.8, and one without a radius (its
  // replay diverged): left out
  for (int w = 0; w < 20; ++w) {
    TraceWindow t;
    BandWindow bw;
    t.max_error = 0.2 * (w + 1);
    bw.radius = w < 19 ? 2.0 : std::numeric_limits<double>::quiet_NaN();
    bw.covered = t.max_error <= bw.radius;
    b.calibrated.windows.push_back(t);
    b.windows.push_back(bw);
  }
  // ceil(20 x 0.95) = 19: the largest score, 3.8^2 - 2^2
  BandDiscrepancy d = FitBandDiscrepancy(b, 0.95);
  CHECK(d.windows == 19);
  CHECK(d.coverage == doctest::Approx(10.0 / 19));  // errors 0.2 .. 2.0 within 2
  CHECK(d.needed == doctest::Approx(3.8 * 3.8 - 4));
  CHECK(d.radius == doctest::Approx(std::sqrt(3.8 * 3.8 - 4)));
  // ceil(20 x 0.5) = 10: error 2.0, already covered
  d = FitBandDiscrepancy(b, 0.5);
  CHECK(d.needed == doctest::Approx(0.0));
  CHECK(d.radius == doctest::Approx(0.0));
  // ceil(20 x 0.25) = 5: error 1.0, which would narrow the band: no term
  d = FitBandDiscrepancy(b, 0.25);
  CHECK(d.needed == doctest::Approx(1 - 4.0));
  CHECK(d.radius == 0.0);
  // the term adds in quadrature to the radius and to each edge's distance from the replay
  Pendulum p;
  const std::vector<Episode> eps = p.Episodes(0, 1, 1.2);
  const Posterior post = p.CorrelatedPosterior();
  BandOptions o = Pendulum::QuickBand();
  ReplaySetup setup;
  const PredictiveBand own = ComputePredictiveBand(p.model.get(), p.binding, post, eps, setup, o);
  o.discrepancy = 0.01;
  const PredictiveBand wide = ComputePredictiveBand(p.model.get(), p.binding, post, eps, setup, o);
  for (std::size_t w = 0; w < own.windows.size(); ++w) {
    const Eigen::VectorXd& sim = own.calibrated.windows[w].simulated;
    CHECK(wide.windows[w].radius == doctest::Approx(std::hypot(own.windows[w].radius, 0.01)));
    for (Eigen::Index r = 0; r < sim.size(); ++r) {
      CHECK(sim[r] - wide.windows[w].low[r] ==
            doctest::Approx(std::hypot(sim[r] - own.windows[w].low[r], 0.01)));
      CHECK(wide.windows[w].high[r] - sim[r] ==
            doctest::Approx(std::hypot(own.windows[w].high[r] - sim[r], 0.01)));
    }
  }
  o.discrepancy = -1;
  CHECK(o.Validate().find("band discrepancy") != std::string::npos);
}

TEST_CASE("the predictive band is the same for one thread and for several") {
  Pendulum p;
  const std::vector<Episode> eps = p.Episodes(0, 2, 1.5);
  const Posterior post = p.CorrelatedPosterior();
  BandOptions o = Pendulum::QuickBand();
  ReplaySetup one, many;
  one.threads = 1;
  many.threads = 3;
  const PredictiveBand a = ComputePredictiveBand(p.model.get(), p.binding, post, eps, one, o);
  const PredictiveBand b = ComputePredictiveBand(p.model.get(), p.binding, post, eps, many, o);
  REQUIRE(a.windows.size() == b.windows.size());
  for (std::size_t w = 0; w < a.windows.size(); ++w) {
    CHECK(a.windows[w].low == b.windows[w].low);
    CHECK(a.windows[w].high == b.windows[w].high);
    CHECK(a.windows[w].radius == b.windows[w].radius);
    CHECK(a.calibrated.windows[w].simulated == b.calibrated.windows[w].simulated);
  }
  CHECK(a.coverage == b.coverage);
}

// Episodes with recorded conditions mixed with episodes that record none: each thread's
// workspace simulates whichever episodes it is given, so one that last ran a recorded episode
// must not carry its conditions into the next (the DFKI README study's replay of gravcomp, which
// records no payload, after energy_1kg, which records 1 kg, once did).
TEST_CASE("the predictive band is the same for one thread and for several, under conditions") {
  Pendulum p;
  const std::vector<Episode> eps = p.Episodes(0, 4, 1.5);
  EpisodeConditions conditions;
  conditions.binding =
      ParameterBinding(p.model.get(), {Spec("friction", {"joint:hinge.frictionloss"}, 0, 0, 2)});
  conditions.values[eps[1].id] = Eigen::VectorXd::Constant(1, 0.5);
  conditions.values[eps[3].id] = Eigen::VectorXd::Constant(1, 1.0);
  REQUIRE(conditions.Find(eps[0].id) == nullptr);
  const Posterior post = p.CorrelatedPosterior();
  const BandOptions o = Pendulum::QuickBand();
  ReplaySetup one, many;
  one.threads = 1;
  many.threads = 3;
  one.conditions = many.conditions = &conditions;
  const PredictiveBand a = ComputePredictiveBand(p.model.get(), p.binding, post, eps, one, o);
  const PredictiveBand b = ComputePredictiveBand(p.model.get(), p.binding, post, eps, many, o);
  REQUIRE(a.windows.size() == b.windows.size());
  for (std::size_t w = 0; w < a.windows.size(); ++w) {
    CAPTURE(w);
    CHECK(a.windows[w].low == b.windows[w].low);
    CHECK(a.windows[w].high == b.windows[w].high);
    CHECK(a.windows[w].radius == b.windows[w].radius);
  }
}

TEST_CASE("a band of draws with no spread at all is the calibrated replay itself") {
  Pendulum p;
  const std::vector<Episode> eps = p.Episodes(0, 1, 1.2);
  const Posterior post({"damping", "mass"}, p.truth, Eigen::Matrix2d::Zero(), p.binding.Lower(),
                       p.binding.Upper());
  BandOptions o;
  o.samples = 5;
  o.start_state = false;
  ReplaySetup setup;
  const PredictiveBand b = ComputePredictiveBand(p.model.get(), p.binding, post, eps, setup, o);
  for (std::size_t w = 0; w < b.windows.size(); ++w) {
    const TraceWindow& t = b.calibrated.windows[w];
    // draws are stored in single precision
    CHECK((b.windows[w].low - t.simulated).cwiseAbs().maxCoeff() < 1e-6);
    CHECK((b.windows[w].high - t.simulated).cwiseAbs().maxCoeff() < 1e-6);
    CHECK(b.windows[w].radius < 1e-6);
  }
}

TEST_CASE("reference sets: every study parameter, nothing else, named in errors") {
  Pendulum p;
  testing::TempDir dir("references");
  const std::string good = dir.Write("good.json", R"({"schema": "nextbatch.references/1",
    "sets": [{"name": "published", "how": "a paper", "values": {"damping": 0.1, "mass": 0.5}}]})");
  const std::vector<ReferenceSet> refs = ReadReferenceSets(good, p.specs);
  REQUIRE(refs.size() == 1);
  CHECK(refs[0].name == "published");
  CHECK(refs[0].values == Eigen::Vector2d(0.1, 0.5));
  const std::string missing = dir.Write("missing.json", R"({"schema": "nextbatch.references/1",
    "sets": [{"name": "a", "values": {"damping": 0.1}}]})");
  CHECK_THROWS_WITH_AS(ReadReferenceSets(missing, p.specs),
                       doctest::Contains("missing.json: sets[0].values.mass"), InputError);
  const std::string extra = dir.Write("extra.json", R"({"schema": "nextbatch.references/1",
    "sets": [{"name": "a", "values": {"damping": 0.1, "mass": 1, "length": 2}}]})");
  CHECK_THROWS_WITH_AS(ReadReferenceSets(extra, p.specs), doctest::Contains("length"), InputError);
}

TEST_CASE("replay settings are checked") {
  ReplaySetup s;
  s.window_seconds = 0;
  CHECK(s.Validate().find("replay.window_seconds") != std::string::npos);
  BandOptions b;
  b.level = 1.0;
  CHECK(b.Validate().find("replay.band_level") != std::string::npos);
  b.level = 0.9;
  b.samples = 1;
  CHECK(b.Validate().find("replay.band_samples") != std::string::npos);
}

}  // namespace
}  // namespace nextbatch
