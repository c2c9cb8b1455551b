#include "calibration/segments.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/model.h"
#include "engine/random.h"
#include "tests/fixtures/models.h"

namespace nextbatch::calib {
namespace {

Episode SlideEpisode(int samples, std::uint64_t seed) {
  Episode e;
  e.id = "slide";
  RandomStream rng(seed, Stage::kTest, 0);
  double t = 0;
  for (int i = 0; i < samples; ++i, t += 0.02 * rng.Uniform(0.6, 1.4)) e.time.push_back(t);
  e.qpos.names = {"x"};
  e.qpos.values = Eigen::MatrixXd::Zero(samples, 1);
  e.ctrl.names = {"push"};
  e.ctrl.values = Eigen::MatrixXd::Constant(samples, 1, 4.0);  // 2 m/s^2 on 2 kg
  return e;
}

ParameterSpec CartParameter(const std::string& name, const std::string& target, double initial,
                            double lower, double upper) {
  ParameterSpec s;
  s.name = name;
  s.targets = {target};
  s.initial = initial;
  s.lower = lower;
  s.upper = upper;
  return s;
}

// Segments of 0.3 s, position noise 0.5.
LayoutOptions CartLayout() {
  LayoutOptions lo;
  lo.segment_seconds = 0.3;
  lo.noise["qpos"] = 0.5;
  return lo;
}

TEST_CASE("central-difference Jacobians match the closed form of semi-implicit Euler") {
  ModelPtr m = LoadModelString(testing::CartXml());
  ParameterBinding b(m.get(), {CartParameter("gain", "ctrl:push.gain", 1.0, 0.1, 10)});
  std::vector<Episode> eps = {SlideEpisode(40, 1)};
  Layout layout(m.get(), eps, CartLayout());  // sigma 0.5: residuals are (sim - log) / 0.5
  REQUIRE(layout.segments().size() >= 2);
  Evaluator ev(m.get(), b, eps, layout, {0, 1}, 2, ControlHold::kLinear);
  std::vector<Eigen::VectorXd> x = {Eigen::Vector2d(0.1, -0.3), Eigen::Vector2d(0.2, 0.5)};
  REQUIRE(ev.Evaluate(Eigen::VectorXd::Constant(1, 1.0), x, true));
  const double dt = 0.01, a = 2.0, sigma = 0.5;
  for (int s = 0; s < 2; ++s) {
    const Segment& seg = layout.segments()[s];
    const double tg = seg.start_step * dt;
    for (std::size_t row = 0; row < seg.rows.size(); ++row) {
      const double t = eps[0].time[seg.rows[row].first] - tg;
      // q(k) = q0 + k dt v0 + a dt^2 k(k+1)/2, linear in between grid points
      const double u = t / dt;
      const int k = static_cast<int>(std::floor(u));
      const double w = u - k;
      auto drive = [&](int n) { return dt * dt * n * (n + 1) / 2.0; };
      const double q = x[s][0] + t * x[s][1] + a * ((1 - w) * drive(k) + w * drive(k + 1));
      CHECK(ev.residuals(s)[row] == doctest::Approx(q / sigma).epsilon(1e-9));
      CHECK(ev.jx(s)(row, 0) == doctest::Approx(1 / sigma).epsilon(1e-6));
      CHECK(ev.jx(s)(row, 1) == doctest::Approx(t / sigma).epsilon(1e-6));
      // d q / d gain = a (per unit gain) times the drive term
      CHECK(ev.jp(s)(row, 0) ==
            doctest::Approx(a * ((1 - w) * drive(k) + w * drive(k + 1)) / sigma).epsilon(1e-6));
    }
  }
}

// Dry friction has a kink at its lower bound 0 (below it MuJoCo has no friction at all): a
// central difference across the bound would average the slope the fit can reach with one it
// never can, halving it. The evaluator's derivative at a bound is the one-sided difference inside.
TEST_CASE("a parameter's derivative at its bound is differenced inside the bounds") {
  ModelPtr m = LoadModelString(testing::CartXml());
  ParameterBinding b(m.get(), {CartParameter("friction", "joint:x.frictionloss", 0.5, 0, 3)});
  std::vector<Episode> eps = {SlideEpisode(40, 2)};
  Layout layout(m.get(), eps, CartLayout());
  Evaluator ev(m.get(), b, eps, layout, {0}, 1, ControlHold::kLinear);
  CHECK(ev.lower()[0] == 0.0);
  CHECK(ev.upper()[0] == 3.0);
  const std::vector<Eigen::VectorXd> x = {Eigen::Vector2d(0.0, 0.5)};  // sliding forward
  const double h = ev.z_steps()[0];
  auto residuals_at = [&](double z) {
    REQUIRE(ev.Evaluate(Eigen::VectorXd::Constant(1, z), x, false));
    return Eigen::VectorXd(ev.residuals(0));
  };
  // Away from the bounds the derivative is the plain central difference at the same step.
  const Eigen::VectorXd inside = (residuals_at(1.0 + h) - residuals_at(1.0 - h)) / (2 * h);
  REQUIRE(ev.Evaluate(Eigen::VectorXd::Constant(1, 1.0), x, true));
  const Eigen::VectorXd j_inside = ev.jp(0).col(0);
  for (int r = 0; r < inside.size(); ++r) CHECK(j_inside[r] == doctest::Approx(inside[r]));
  // At the bound: the one-sided difference over [0, 2h], and about the interior slope (friction
  // acts linearly while the cart slides), where straddling the bound gives about half of it.
  const Eigen::VectorXd one_sided = (residuals_at(2 * h) - residuals_at(0.0)) / (2 * h);
  const Eigen::VectorXd straddling = (residuals_at(h) - residuals_at(-h)) / (2 * h);
  REQUIRE(ev.Evaluate(Eigen::VectorXd::Constant(1, 0.0), x, true));
  const Eigen::VectorXd j_bound = ev.jp(0).col(0);
  REQUIRE(inside.norm() > 0);
  for (int r = 0; r < inside.size(); ++r) CHECK(j_bound[r] == doctest::Approx(one_sided[r]));
  CHECK((j_bound - inside).norm() < 0.05 * inside.norm());
  CHECK(straddling.norm() == doctest::Approx(0.5 * inside.norm()).epsilon(0.05));
  // The same at the upper bound, from below.
  const Eigen::VectorXd from_below = (residuals_at(3.0) - residuals_at(3.0 - 2 * h)) / (2 * h);
  REQUIRE(ev.Evaluate(Eigen::VectorXd::Constant(1, 3.0), x, true));
  for (int r = 0; r < inside.size(); ++r) {
    CHECK(ev.jp(0)(r, 0) == doctest::Approx(from_below[r]));
  }
}

TEST_CASE("noise probes vanish on a cubic and give sigma on white noise, at irregular times") {
  RandomStream rng(5, Stage::kTest, 1);
  const int n = 3000;
  std::vector<double> t(n);
  Eigen::MatrixXd y(n, 2);
  double time = 0;
  for (int i = 0; i < n; ++i) {
    t[i] = time;
    time += 0.01 * rng.Uniform(0.5, 1.5);
    y(i, 0) = 1 + 2 * t[i] - 0.5 * t[i] * t[i] + 0.1 * t[i] * t[i] * t[i];
    y(i, 1) = std::sin(t[i]) + 0.003 * rng.Normal();
  }
  for (double p : NoiseProbes(t, y, 0)) CHECK(std::abs(p) < 1e-9);
  std::vector<double> probes = NoiseProbes(t, y, 1);
  for (double& p : probes) p = std::abs(p);
  std::nth_element(probes.begin(), probes.begin() + probes.size() / 2, probes.end());
  CHECK(1.4826 * probes[probes.size() / 2] == doctest::Approx(0.003).epsilon(0.05));
}

TEST_CASE("segments cover every sample once, a short tail joins, held-out ones are spread") {
  ModelPtr m = LoadModelString(testing::CartXml());
  std::vector<Episode> eps = {SlideEpisode(200, 2), SlideEpisode(120, 3)};
  eps[1].id = "second";
  LayoutOptions lo;
  lo.segment_seconds = 0.5;
  lo.held_out_fraction = 0.25;
  Layout layout(m.get(), eps, lo);
  std::vector<int> seen0(200, 0), seen1(120, 0);
  int held = 0;
  for (const auto& s : layout.segments()) {
    for (int i = s.first; i < s.end; ++i) ++(s.episode == 0 ? seen0 : seen1)[i];
    const double span = eps[s.episode].time[s.end - 1] - eps[s.episode].time[s.first];
    CHECK(span < 1.5 * lo.segment_seconds + 0.03);
    CHECK(s.rows.size() == static_cast<std::size_t>(s.end - s.first));
    held += s.held_out;
    const double tg = s.start_step * 0.01;
    CHECK(tg <= eps[s.episode].time[s.first] + 1e-12);
    CHECK(tg + s.num_steps * 0.01 >= eps[s.episode].time[s.end - 1] - 1e-12);
  }
  for (int v : seen0) CHECK(v == 1);
  for (int v : seen1) CHECK(v == 1);
  const int count = static_cast<int>(layout.segments().size());
  CHECK(held == static_cast<int>(std::lround(0.25 * count)));
  CHECK_FALSE(layout.segments().front().held_out);
}

}  // namespace
}  // namespace nextbatch::calib

namespace nextbatch::calib {
namespace {

// Start states come from a local quadratic fit: exact on a quadratic. The fit's first guesses
// (x_init) use the 9 nearest samples; replay starts (x_start) use state_window, which averages
// encoder quantisation out of the velocity.
TEST_CASE("start states: exact on a quadratic, a wider window averages quantisation out") {
  ModelPtr m = LoadModelString(testing::CartXml());
  const int n = 3000;  // 3 s at 1 kHz
  auto episode = [&](double step) {
    Episode e = SlideEpisode(n, 3);
    for (int i = 0; i < n; ++i) {
      e.time[i] = 0.001 * i;
      const double q = 0.2 + 0.5 * e.time[i] - 0.3 * e.time[i] * e.time[i];
      e.qpos.values(i, 0) = step > 0 ? step * std::round(q / step) : q;
    }
    return e;
  };
  // The largest velocity error of x_init and of x_start over the segments.
  auto errors = [&](const Episode& e, double window, bool exact) {
    LayoutOptions lo;
    lo.segment_seconds = 0.5;
    lo.state_window = window;
    lo.noise["qpos"] = 1e-3;
    Layout layout(m.get(), {e}, lo);
    REQUIRE(layout.segments().size() >= 5);
    std::pair<double, double> worst{0, 0};
    for (const Segment& s : layout.segments()) {
      const double t = s.start_step * m->opt.timestep;
      const double q = 0.2 + 0.5 * t - 0.3 * t * t, v = 0.5 - 0.6 * t;
      if (exact) {
        CHECK(s.x_init[0] == doctest::Approx(q).epsilon(1e-9));
        CHECK(s.x_start[0] == doctest::Approx(q).epsilon(1e-9));
      }
      worst.first = std::max(worst.first, std::abs(s.x_init[1] - v));
      worst.second = std::max(worst.second, std::abs(s.x_start[1] - v));
    }
    return worst;
  };
  const auto exact = errors(episode(0), 0.1, true);  // 9 samples and 101 samples
  CHECK(exact.first < 1e-9);
  CHECK(exact.second < 1e-9);
  // Quantised to 3 mrad (a coarse encoder): velocities from 9 samples (8 ms) are off by a large
  // fraction of step / 8 ms (0.75 m/s measured); over 0.1 s, about 100 times less (0.0076).
  const auto coarse = errors(episode(0.003), 0.1, false);
  MESSAGE("velocity error, quantised positions: 9 samples " << coarse.first << ", 0.1 s "
                                                            << coarse.second);
  CHECK(coarse.first > 0.05);
  CHECK(coarse.second < coarse.first / 20);
  // state_window 0: replay starts from the 9 nearest samples too.
  const auto narrow = errors(episode(0.003), 0.0, false);
  CHECK(narrow.second == narrow.first);
}

}  // namespace
}  // namespace nextbatch::calib
