#include "engine/cleaning.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/random.h"
#include "tests/fixtures/errors.h"

namespace nextbatch {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Sample times on a jittered grid: step * (1 +- jitter), reproducible.
std::vector<double> JitteredTimes(int n, double step, double jitter, std::uint64_t index) {
  RandomStream rng(7, Stage::kTest, index);
  std::vector<double> t(n);
  t[0] = 0.0;
  for (int i = 1; i < n; ++i) t[i] = t[i - 1] + step * (1.0 + rng.Uniform(-jitter, jitter));
  return t;
}

// A raw log of one joint with position, control and a sensor; qvel absent.
RawEpisode Raw(const std::vector<double>& t, const std::vector<double>& q) {
  RawEpisode r;
  Episode& e = r.episode;
  e.id = "run";
  e.source = "synthetic";
  e.time = t;
  const int n = static_cast<int>(t.size());
  e.qpos.names = {"hinge"};
  e.qpos.values.resize(n, 1);
  e.ctrl.names = {"motor"};
  e.ctrl.values.resize(n, 1);
  e.sensors.names = {"load"};
  e.sensors.values.resize(n, 1);
  for (int i = 0; i < n; ++i) {
    e.qpos.values(i, 0) = q[i];
    e.ctrl.values(i, 0) = 0.5 * t[i];
    e.sensors.values(i, 0) = std::sin(7.0 * t[i]);
  }
  r.samples_read = n;
  return r;
}

int TotalRemoved(const EpisodeQuality& q) {
  int s = 0;
  for (const auto& [reason, count] : q.removed) s += count;
  return s;
}

TEST_CASE("linear interpolation reproduces a linear signal exactly on an irregular grid") {
  const std::vector<double> t = JitteredTimes(200, 0.005, 0.3, 1);
  std::vector<double> y;
  for (double x : t) y.push_back(2.5 - 1.75 * x);
  const std::vector<double> grid = UniformGrid(t.front(), t.back(), 0.001);
  for (Interpolation m : {Interpolation::kLinear, Interpolation::kCubic}) {
    const std::vector<double> v = Interpolate(t, y, grid, m);
    for (std::size_t i = 0; i < grid.size(); ++i)
      CHECK(v[i] == doctest::Approx(2.5 - 1.75 * grid[i]).epsilon(1e-12));
  }
}

TEST_CASE("cubic interpolation is exact for a quadratic, linear errs by s(1-s)h^2 f''/2") {
  const std::vector<double> t = JitteredTimes(100, 0.01, 0.4, 2);
  std::vector<double> y;
  for (double x : t) y.push_back(3.0 * x * x - x + 0.2);
  const std::vector<double> grid = UniformGrid(t.front(), t.back(), 0.0013);
  const std::vector<double> cubic = Interpolate(t, y, grid, Interpolation::kCubic);
  for (std::size_t i = 0; i < grid.size(); ++i) {
    const double x = grid[i];
    CHECK(std::abs(cubic[i] - (3.0 * x * x - x + 0.2)) < 1e-12);
  }
  // Midpoints of each interval: linear interpolation of a t^2 + ... overshoots by a h^2 / 4.
  std::vector<double> mid;
  for (std::size_t i = 0; i + 1 < t.size(); ++i) mid.push_back(0.5 * (t[i] + t[i + 1]));
  const std::vector<double> lin = Interpolate(t, y, mid, Interpolation::kLinear);
  for (std::size_t i = 0; i < mid.size(); ++i) {
    const double h = t[i + 1] - t[i];
    const double x = mid[i];
    CHECK(lin[i] - (3.0 * x * x - x + 0.2) == doctest::Approx(3.0 * h * h / 4).epsilon(1e-6));
  }
}

TEST_CASE("zero-order hold keeps the last sample until the next one") {
  const std::vector<double> t = {0.0, 1.0, 2.0};
  const std::vector<double> y = {5.0, 7.0, 9.0};
  const std::vector<double> v =
      Interpolate(t, y, {0.0, 0.5, 0.999, 1.0, 1.5, 2.0}, Interpolation::kHold);
  CHECK(v == std::vector<double>{5.0, 5.0, 5.0, 7.0, 7.0, 9.0});
}

TEST_CASE("the uniform grid spans the samples and counts floor(span / period) + 1 points") {
  const std::vector<double> g = UniformGrid(0.0035, 1.9989, 0.002);
  CHECK(g.size() == 998);
  CHECK(g.front() == 0.0035);
  CHECK(g.back() <= 1.9989);
  CHECK(UniformGrid(0.0, 1.0, 0.1).size() == 11);  // 1.0 reached despite rounding
}

TEST_CASE("the three-point derivative is exact for a quadratic on an irregular grid") {
  const std::vector<double> t = JitteredTimes(50, 0.004, 0.45, 3);
  std::vector<double> y;
  for (double x : t) y.push_back(-4.0 * x * x + 2.0 * x + 1.0);
  for (const char* method : {"central_difference", "local_quadratic"}) {
    const std::vector<double> v = EstimateVelocity(t, y, method, 0.02);
    for (std::size_t i = 0; i < t.size(); ++i) {
      CHECK(v[i] == doctest::Approx(-8.0 * t[i] + 2.0).epsilon(1e-9));
    }
  }
}

TEST_CASE("the local quadratic velocity of a sinusoid matches its closed form") {
  // On a uniform grid a symmetric window decouples the slope from the curvature, so the
  // estimate is A cos(w t) sum(tau sin(w tau)) / sum(tau^2) over the window's offsets tau.
  const double dt = 0.001, A = 0.8, w = 2 * M_PI * 2.0;
  const int m = 10;  // window of +-10 samples
  std::vector<double> t, y;
  for (int i = 0; i < 1000; ++i) {
    t.push_back(i * dt);
    y.push_back(A * std::sin(w * i * dt));
  }
  const std::vector<double> v = EstimateVelocity(t, y, "local_quadratic", (2 * m + 0.5) * dt);
  double num = 0, den = 0;
  for (int k = -m; k <= m; ++k) {
    num += k * dt * std::sin(w * k * dt);
    den += k * dt * k * dt;
  }
  for (int i = m; i < 1000 - m; i += 37) {
    CHECK(std::abs(v[i] - A * std::cos(w * t[i]) * num / den) < 1e-9);
    // and the window's bias is small: about (w h)^2 / 10 = 0.16 % of the true amplitude
    CHECK(std::abs(v[i] - A * w * std::cos(w * t[i])) < 2e-3 * A * w);
  }
}

TEST_CASE(
    "the local quadratic filter suppresses measurement noise that central differences amplify") {
  const double dt = 0.001, A = 1.0, w = 2 * M_PI * 0.5, sigma = 1e-3;
  RandomStream rng(11, Stage::kTest, 0);
  std::vector<double> t, y;
  for (int i = 0; i < 3000; ++i) {
    t.push_back(i * dt);
    y.push_back(A * std::sin(w * i * dt) + sigma * rng.Normal());
  }
  auto rms = [&](const std::vector<double>& v) {
    double s = 0;
    for (int i = 50; i < 2950; ++i) s += std::pow(v[i] - A * w * std::cos(w * t[i]), 2);
    return std::sqrt(s / 2900);
  };
  const double central = rms(EstimateVelocity(t, y, "central_difference", 0.0));
  const double local = rms(EstimateVelocity(t, y, "local_quadratic", 0.05));
  // Central difference noise: sigma / (sqrt(2) dt) = 0.71 rad/s; a 51-sample slope fit: about
  // sigma / sqrt(sum tau^2) = 0.0095 rad/s, plus a window bias below 0.002 rad/s.
  CHECK(central == doctest::Approx(sigma / (std::sqrt(2.0) * dt)).epsilon(0.1));
  CHECK(local == doctest::Approx(0.0096).epsilon(0.2));
}

TEST_CASE("gaps split a log into the expected pieces") {
  const std::vector<double> t = {0.0, 0.01, 0.02, 0.2, 0.21, 0.22, 0.23, 1.0, 1.5, 1.51};
  const auto pieces = SplitAtGaps(t, 0.05);
  REQUIRE(pieces.size() == 4);
  CHECK(pieces[0] == std::pair<int, int>{0, 3});
  CHECK(pieces[1] == std::pair<int, int>{3, 7});
  CHECK(pieces[2] == std::pair<int, int>{7, 8});
  CHECK(pieces[3] == std::pair<int, int>{8, 10});
  CHECK(SplitAtGaps(t, 1.0).size() == 1);
}

TEST_CASE("cleaning removes bad samples, reports each reason and accounts for every sample") {
  std::vector<double> t, q;
  for (int i = 0; i < 400; ++i) {
    t.push_back(0.01 * i + (i >= 200 ? 0.5 : 0.0));  // one 0.51 s gap after sample 199
    q.push_back(std::sin(t.back()));
  }
  RawEpisode raw = Raw(t, q);
  raw.episode.qpos.values(10, 0) = kNaN;        // non-finite
  raw.episode.time[20] = raw.episode.time[19];  // duplicate time
  raw.episode.time[30] = 0.055;                 // runs backwards
  raw.episode.ctrl.values(40, 0) = 99.0;        // out of range
  raw.limits["ctrl:motor"] = {-10.0, 10.0};
  raw.samples_read = 401;
  raw.removed["truncated_row"] = 1;

  CleaningOptions o;
  CleanResult r = CleanEpisode(raw, o, 0.002);
  REQUIRE(r.episodes.size() == 2);
  REQUIRE(r.quality.size() == 2);
  CHECK(r.dropped.empty());
  const EpisodeQuality& q1 = r.quality[0];
  CHECK(q1.removed.at("non_finite") == 1);
  CHECK(q1.removed.at("duplicate_time") == 1);
  CHECK(q1.removed.at("non_monotonic_time") == 1);
  CHECK(q1.removed.at("out_of_range") == 1);
  CHECK(q1.removed.at("truncated_row") == 1);
  CHECK(q1.gaps.size() == 1);
  CHECK(q1.gaps[0].first == doctest::Approx(1.99));
  CHECK(q1.gaps[0].second == doctest::Approx(2.5));
  CHECK(r.episodes[0].id == "run#1");
  CHECK(r.episodes[1].id == "run#2");
  CHECK(q1.samples_kept == 196);
  CHECK(r.quality[1].samples_kept == 200);
  // Every sample read is either kept in a piece or removed for a stated reason.
  CHECK(q1.samples_kept + r.quality[1].samples_kept + TotalRemoved(q1) == 401);
  CHECK(q1.fraction_kept == doctest::Approx(196.0 / 401));
  CHECK(q1.rate_hz == doctest::Approx(500.0));
  CHECK(q1.raw_rate_hz == doctest::Approx(100.0));
  CHECK(q1.velocity_method.find("local_quadratic") != std::string::npos);
  CHECK(q1.qvel_estimated == std::vector<std::string>{"hinge"});
  CHECK(!q1.messages.empty());
}

TEST_CASE("gap policies: longest keeps one piece, drop drops the episode, short pieces go") {
  std::vector<double> t, q;
  for (int i = 0; i < 300; ++i) {
    t.push_back(0.01 * i + (i >= 100 ? 1.0 : 0.0) + (i >= 290 ? 1.0 : 0.0));
    q.push_back(0.1 * t.back());
  }
  CleaningOptions o;
  o.gap_policy = "longest";
  CleanResult r = CleanEpisode(Raw(t, q), o, 0.001);
  REQUIRE(r.episodes.size() == 1);
  CHECK(r.quality[0].samples_kept == 190);
  CHECK(r.quality[0].removed.at("gap_segment") == 110);
  CHECK(r.episodes[0].id == "run");

  o.gap_policy = "split";
  o.min_duration = 0.5;  // the last piece (10 samples, 0.09 s) is too short
  r = CleanEpisode(Raw(t, q), o, 0.001);
  REQUIRE(r.episodes.size() == 2);
  CHECK(r.quality[0].removed.at("short_segment") == 10);
  CHECK(r.quality[0].samples_kept + r.quality[1].samples_kept + 10 == 300);

  o.gap_policy = "drop";
  r = CleanEpisode(Raw(t, q), o, 0.001);
  CHECK(r.episodes.empty());
  REQUIRE(r.dropped.size() == 1);
  CHECK(r.dropped[0].status == "dropped");
  CHECK(r.dropped[0].reason.find("gap") != std::string::npos);
  CHECK(r.dropped[0].removed.at("gap_segment") == 300);
}

TEST_CASE("resampling a linear log onto every second model step gives exact values") {
  const std::vector<double> t = JitteredTimes(300, 0.005, 0.3, 4);
  std::vector<double> q;
  for (double x : t) q.push_back(1.0 + 2.0 * x);
  CleaningOptions o;
  o.every = 2;
  o.velocity_method = "central_difference";
  CleanResult r = CleanEpisode(Raw(t, q), o, 0.001);
  REQUIRE(r.episodes.size() == 1);
  const Episode& e = r.episodes[0];
  CHECK(e.samples() == static_cast<int>(std::floor((t.back() - t.front()) / 0.002 + 1e-9)) + 1);
  CHECK(r.quality[0].samples_out == e.samples());
  CHECK(r.quality[0].rate_hz == doctest::Approx(500.0));
  for (int i = 0; i < e.samples(); ++i) {
    CHECK(e.time[i] == doctest::Approx(t.front() + 0.002 * i));
    CHECK(e.qpos.values(i, 0) == doctest::Approx(1.0 + 2.0 * e.time[i]).epsilon(1e-12));
    CHECK(e.ctrl.values(i, 0) == doctest::Approx(0.5 * e.time[i]).epsilon(1e-12));
    CHECK(e.qvel.values(i, 0) == doctest::Approx(2.0).epsilon(1e-9));  // estimated, exact here
  }
  REQUIRE(e.qvel.names == std::vector<std::string>{"hinge"});
}

TEST_CASE("stuck channels are flagged, and dropped when the policy says so") {
  const std::vector<double> t = JitteredTimes(100, 0.01, 0.1, 5);
  std::vector<double> q(100, 0.3);  // a position that never moves
  CleaningOptions o;
  CleanResult r = CleanEpisode(Raw(t, q), o, 0.01);
  REQUIRE(r.episodes.size() == 1);
  CHECK(r.quality[0].stuck_channels == std::vector<std::string>{"qpos:hinge"});
  o.stuck_policy = "drop";
  r = CleanEpisode(Raw(t, q), o, 0.01);
  CHECK(r.episodes.empty());
  REQUIRE(r.dropped.size() == 1);
  CHECK(r.dropped[0].reason.find("qpos:hinge") != std::string::npos);
}

// 0.8 sin(3 pi t) read through a 4096-count encoder, as a servo logs it.
constexpr double kCount = 2 * M_PI / 4096;
double Encoder(double x) { return kCount * std::round(x / kCount); }
double Swing(double t) { return 0.8 * std::sin(3 * M_PI * t); }

TEST_CASE(
    "FindSpikes finds exactly the injected spikes, not flicker, steps or two-sample glitches") {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<double> t = JitteredTimes(1200, 0.005, 0.2, 100 + seed);
    std::vector<double> y;
    for (double x : t) y.push_back(Encoder(Swing(x)));
    // The hidden truth: spikes of 0.6 to 3.1 rad (the swing moves up to 0.045 rad a step, so
    // 10 x the local scale stays below 0.46), up or down, at random interior samples at least 3
    // apart; also a stop into a still stretch with one-count flicker, and a 0.2 rad step.
    RandomStream rng(11, Stage::kTest, seed);
    const double rest = y[999];
    for (int i = 1000; i < 1100; ++i) y[i] = rest + (i % 7 == 0 ? kCount : 0.0);
    for (int i = 1100; i < 1200; ++i) y[i] = Encoder(rest + 0.2);
    std::vector<int> truth;
    for (int i = 5; i < 990; i += 3 + static_cast<int>(rng.Uniform(0, 200))) {
      const double size = rng.Uniform(0.6, 3.1) * (rng.Uniform(0, 1) < 0.5 ? -1 : 1);
      y[i] = Encoder(y[i] + size);
      truth.push_back(i);
    }
    CHECK(FindSpikes(t, y, 10.0, 0.05) == truth);
  }
  std::vector<double> t, y;
  for (int i = 0; i < 200; ++i) t.push_back(0.005 * i), y.push_back(Encoder(Swing(t.back())));
  // A glitch of two samples is not a single-sample spike; neither is the first or last sample.
  std::vector<double> two = y;
  two[50] = two[51] = -M_PI;
  two[0] = two[199] = 3.0;
  CHECK(FindSpikes(t, two, 10.0, 0.05).empty());
  // A sample next to a gap has no near neighbour to depart from.
  std::vector<double> gap_t = t;
  for (int i = 101; i < 200; ++i) gap_t[i] += 1.0;
  std::vector<double> gap_y = y;
  gap_y[100] = -M_PI;
  CHECK(FindSpikes(gap_t, gap_y, 10.0, 0.05).empty());
  CHECK(FindSpikes(t, gap_y, 10.0, 0.05) == std::vector<int>{100});
  // A constant channel has none.
  CHECK(FindSpikes(t, std::vector<double>(200, 1.0), 10.0, 0.05).empty());
}

TEST_CASE("a fast swing that the partner channel shows is not a spike, a glitch still is") {
  // A kick at 0.5 s: a 100 Hz decaying swing sampled at 300 Hz (three samples a period, as a
  // torque impulse on the DFKI pendulum logs it), still before and after.
  const double h = 1.0 / 300, w = 2 * M_PI * 100, tau = 0.03, amp = 0.01;
  std::vector<double> t, q, v;
  for (int i = 0; i < 300; ++i) {
    t.push_back(i * h);
    const double u = t.back() - 0.5;
    q.push_back(u < 0 ? 0.0 : amp * std::exp(-u / tau) * std::sin(w * u));
    v.push_back(u < 0 ? 0.0
                      : amp * std::exp(-u / tau) * (w * std::cos(w * u) - std::sin(w * u) / tau));
  }
  // Alone, the velocity's swing departs from both neighbours far beyond the still scale.
  CHECK_FALSE(FindSpikes(t, v, 10.0, 0.05).empty());
  // With the positions that show the same swing, and the positions with their velocities: none.
  CHECK(FindSpikes(t, v, 10.0, 0.05, {}, q).empty());
  CHECK(FindSpikes(t, q, 10.0, 0.05, v).empty());
  // Glitches that the partner does not show stay spikes.
  std::vector<double> v_glitch = v, q_glitch = q;
  v_glitch[100] = 8.0;
  q_glitch[250] = -M_PI;
  CHECK(FindSpikes(t, v_glitch, 10.0, 0.05, {}, q) == std::vector<int>{100});
  CHECK(FindSpikes(t, q_glitch, 10.0, 0.05, v) == std::vector<int>{250});
}

TEST_CASE("a spike is flagged with its channel, time and size, and drop repairs it") {
  // The glitch of issue 10: the encoder reads -pi for one sample.
  const std::vector<double> t = JitteredTimes(400, 0.005, 0.2, 9);
  std::vector<double> q;
  for (double x : t) q.push_back(Encoder(Swing(x)));
  const int at = 200;
  const double truth = Swing(t[at]);
  q[at] = -M_PI;
  CleaningOptions o;
  CleanResult r = CleanEpisode(Raw(t, q), o, 0.001);
  REQUIRE(r.quality.size() == 1);
  REQUIRE(r.quality[0].spikes.size() == 1);
  const Spike& s = r.quality[0].spikes[0];
  CHECK(s.channel == "qpos:hinge");
  CHECK(s.time == t[at]);
  CHECK(s.size == doctest::Approx(-M_PI - truth).epsilon(1e-2));
  CHECK_FALSE(s.removed);
  CHECK(r.quality[0].removed.count("spike") == 0);
  // Flagged, not repaired: the resampled log still dives towards -pi.
  auto worst = [&](const Episode& e) {
    double m = 0;
    for (int i = 0; i < e.samples(); ++i) {
      m = std::max(m, std::abs(e.qpos.values(i, 0) - Swing(e.time[i])));
    }
    return m;
  };
  CHECK(worst(r.episodes[0]) > 1.0);

  o.spikes = "drop";
  r = CleanEpisode(Raw(t, q), o, 0.001);
  REQUIRE(r.quality[0].spikes.size() == 1);
  CHECK(r.quality[0].spikes[0].removed);
  CHECK(r.quality[0].removed.at("spike") == 1);
  CHECK(r.quality[0].samples_kept == 399);
  // Linear interpolation error anywhere, the two steps around the removed sample (under
  // 0.012 s) included: h^2 / 8 x max|f''| (71 rad/s^2) <= 1.3e-3, plus half a count.
  CHECK(worst(r.episodes[0]) < 1.3e-3 + kCount / 2);

  o.spikes = "none";
  r = CleanEpisode(Raw(t, q), o, 0.001);
  CHECK(r.quality[0].spikes.empty());
}

TEST_CASE("an episode keeping too little, or almost nothing, is dropped with the reason") {
  std::vector<double> t, q;
  for (int i = 0; i < 100; ++i) {
    t.push_back(0.01 * i);
    q.push_back(i < 70 ? kNaN : 0.01 * i);
  }
  CleanResult r = CleanEpisode(Raw(t, q), CleaningOptions(), 0.01);
  CHECK(r.episodes.empty());
  REQUIRE(r.dropped.size() == 1);
  CHECK(r.dropped[0].removed.at("non_finite") == 70);
  CHECK(r.dropped[0].reason.find("min_fraction_kept") != std::string::npos);
  // The same log with the study's filter having removed the NaN part is kept.
  RawEpisode filtered = Raw(std::vector<double>(t.begin() + 70, t.end()),
                            std::vector<double>(q.begin() + 70, q.end()));
  filtered.samples_read = 100;
  filtered.removed["filter"] = 70;
  r = CleanEpisode(filtered, CleaningOptions(), 0.01);
  REQUIRE(r.episodes.size() == 1);
  CHECK(r.quality[0].fraction_kept == doctest::Approx(0.3));

  r = CleanEpisode(Raw({0.0, 0.1}, {1.0, 2.0}), CleaningOptions(), 0.01);
  REQUIRE(r.dropped.size() == 1);
  CHECK(r.dropped[0].reason.find("fewer than 3") != std::string::npos);
}

TEST_CASE("cleaning options are validated and read strictly") {
  CleaningOptions o;
  CHECK(o.Validate().empty());
  o.max_gap = 0;
  CHECK(o.Validate().find("max_gap") != std::string::npos);
  o = CleaningOptions();
  o.gap_policy = "merge";
  CHECK(o.Validate().find("split, longest or drop") != std::string::npos);
  o = CleaningOptions();
  o.every = 0;
  CHECK(o.Validate().find("every") != std::string::npos);
  o = CleaningOptions();
  o.velocity_method = "spline";
  CHECK(o.Validate().find("velocity_method") != std::string::npos);

  nlohmann::json j = {{"max_gap", 0.1}, {"every", 2}, {"interpolation", "cubic"}};
  CleaningOptions read = ReadCleaningOptions(JsonReader(j, "study.json", "dataset.cleaning"));
  CHECK(read.max_gap == 0.1);
  CHECK(read.every == 2);
  CHECK(read.interpolation == "cubic");
  j["max_gapp"] = 1;
  CHECK_THROWS_WITH_AS(ReadCleaningOptions(JsonReader(j, "study.json", "dataset.cleaning")),
                       doctest::Contains("study.json: dataset.cleaning.max_gapp: unknown key"),
                       InputError);
  nlohmann::json bad = {{"interpolation", "quintic"}};
  CHECK_THROWS_WITH_AS(
      ReadCleaningOptions(JsonReader(bad, "study.json", "dataset.cleaning")),
      doctest::Contains("interpolation: expected linear or cubic, got \"quintic\""), InputError);
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("a native episode without qvel rows (the optional group absent) cleans and resamples") {
  // ReadEpisodeFile leaves an absent group as a 0 x 0 matrix, not samples x 0: TakeRows must
  // not index its rows (Eigen asserts in Debug builds).
  RawEpisode raw = Raw(JitteredTimes(300, 0.002, 0.2, 11), std::vector<double>(300, 0.0));
  for (int i = 0; i < 300; ++i) raw.episode.qpos.values(i, 0) = 0.3 * raw.episode.time[i];
  raw.episode.qvel = Channels();
  REQUIRE(raw.episode.qvel.values.rows() == 0);
  const CleanResult c = CleanEpisode(raw, CleaningOptions(), 0.001);
  REQUIRE(c.episodes.size() == 1);
  const Episode& e = c.episodes[0];
  REQUIRE(e.qvel.values.rows() == e.samples());
  // The estimated velocity of a ramp is its slope.
  for (int i = 0; i < e.samples(); ++i) CHECK(e.qvel.values(i, 0) == doctest::Approx(0.3));
}

TEST_CASE("a grid too large for memory is refused up front with the estimate and the file") {
  // 600 samples spanning 1e6 s on a 1 ms grid: 1e9 points of 4 channels (time, qpos, ctrl,
  // sensor, and the estimated qvel), about 120 GB.
  std::vector<double> t(600), q(600);
  for (int i = 0; i < 600; ++i) {
    t[i] = i * (1e6 / 599);
    q[i] = std::sin(1e-4 * t[i]);
  }
  RawEpisode raw = Raw(t, q);
  raw.episode.source = "/logs/slow.csv";
  CleaningOptions o;
  o.max_gap = 1e7;
  const double points = GridPoints(0, 1e6, 0.001);
  CHECK(points == doctest::Approx(1e9 + 1));
  CHECK(ResampleBytes(points, 4) == doctest::Approx(3 * (1e9 + 1) * 5 * 8));
  testing::CheckError([&] { CleanEpisode(raw, o, 0.001); },
                      {"/logs/slow.csv", "episode 'run'", "resampled every 0.001 s", "at most",
                       "a quarter of the memory", "about 112 GiB", "samples of 4 channels"});
  // An explicit limit: a grid just below it passes, just above it is refused.
  std::vector<double> t2(50), q2(50);
  for (int i = 0; i < 50; ++i) {
    t2[i] = i * 0.01;
    q2[i] = 0.1 * i;
  }
  const RawEpisode small = Raw(t2, q2);
  const double need = ResampleBytes(GridPoints(0, 0.49, 0.001), 4);
  o.max_resample_bytes = static_cast<std::uint64_t>(need);
  CHECK(CleanEpisode(small, o, 0.001).episodes.size() == 1);
  o.max_resample_bytes = static_cast<std::uint64_t>(need) - 1;
  testing::CheckError([&] { CleanEpisode(small, o, 0.001); }, {"synthetic", "491 samples"});
  // UniformGrid itself never allocates an absurd grid.
  testing::CheckError([] { UniformGrid(0, 1e9, 1e-3); },
                      {"resampling grid", "at most 1000000000 points", "got 1e+12"});
  testing::CheckError([] { UniformGrid(0, 1e308, 1e-300); }, {"resampling grid"});
}

}  // namespace
}  // namespace nextbatch
