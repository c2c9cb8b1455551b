// Coverage of calibration's 95 % intervals against a hidden truth: many seeds of synthetic logs
// with coloured (AR(1)) measurement noise, each fitted; the fraction of seeds whose interval
// (estimate +- 1.96 std) holds the truth, for the formal and the honest std. Shared by
// bench/calibration_coverage.cc (200 seeds per case) and the test suite (20 seeds).
#ifndef NEXTBATCH_TESTS_CALIBRATION_COVERAGE_H_
#define NEXTBATCH_TESTS_CALIBRATION_COVERAGE_H_

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "calibration/calibration.h"
#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/random.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch::testing {

// A hinge joint driven by a position servo (MuJoCo's kp (u - q)) through a gear train: the
// servo's gain, the reflected rotor inertia (armature), dry friction and damping; an offset mass
// under gravity loads it.
inline std::string ServoJointXml() {
  return R"(<mujoco model="servo_joint">
  <option timestep="0.002"/>
  <worldbody>
    <body name="horn" pos="0 0 0.5">
      <joint name="shaft" type="hinge" axis="0 1 0" damping="0.1" armature="0.01"
             frictionloss="0.05"/>
      <geom type="capsule" fromto="0 0 0 0.1 0 0" size="0.01" mass="0.2"/>
    </body>
  </worldbody>
  <actuator>
    <general name="servo" joint="shaft" gaintype="fixed" biastype="affine" gainprm="5"
             biasprm="0 -5 0"/>
  </actuator>
</mujoco>)";
}

struct CoverageCase {
  std::string name;
  std::string description;
  std::string xml;
  std::vector<ParameterSpec> truth_specs;  // the model that makes the data
  Eigen::VectorXd truth;
  std::vector<ParameterSpec> fit_specs;  // the model that is fitted
  std::vector<int> shared;  // per fitted parameter: its index in truth_specs (-1: none)
  int episodes = 4;
  SyntheticLog log;
  double noise_tau = 0.03;                  // s: correlation time of the AR(1) measurement noise
  std::vector<std::vector<double>> starts;  // start qpos per episode (cycled)
  CalibrationOptions options;
};

inline CoverageCase MakeCoverageCase(const std::string& name) {
  CoverageCase c;
  c.name = name;
  c.log.duration = 1.0;
  c.log.qpos_noise = 1e-3;
  c.options.threads = 1;
  c.options.segment_seconds = 0.25;
  c.options.held_out_fraction = 0;
  c.options.max_iterations = 15;
  auto same = [](CoverageCase* k) {
    k->truth_specs = k->fit_specs;
    for (std::size_t j = 0; j < k->fit_specs.size(); ++j) k->shared.push_back(static_cast<int>(j));
  };
  if (name == "pendulum" || name == "pendulum_delay" || name == "pendulum_slow_noise") {
    c.xml = PendulumXml();
    c.fit_specs = {Spec("damping", {"joint:hinge.damping"}, 0.06, 0, 1),
                   Spec("mass", {"body:link.mass"}, 0.6, 0.1, 3)};
    same(&c);
    c.truth = Eigen::Vector2d(0.08, 0.7);
    c.log.ctrl_offset = {0.0};
    c.log.ctrl_amplitude = {2.0};
    c.starts = {{-0.3}, {0.1}, {0.5}, {-0.1}};
    c.description = "pendulum, 4 x 1 s, AR(1) noise 1 mrad, tau 30 ms";
    if (name == "pendulum_delay") {
      // The data's actuation lags by 3 steps (6 ms); the fitted model has no delay.
      c.truth_specs.push_back(Spec("delay", {"ctrl.delay"}, 0, 0, 0.02));
      c.truth.conservativeResize(3);
      c.truth[2] = 0.006;
      c.description = "pendulum, unmodelled 6 ms actuation delay";
    }
    if (name == "pendulum_slow_noise") {
      c.noise_tau = 0.15;  // comparable to the 0.25 s segments
      c.description = "pendulum, AR(1) noise with tau 150 ms (segments 250 ms)";
    }
  } else if (name == "two_link") {
    c.xml = TwoLinkXml();
    c.fit_specs = {Spec("shoulder_damping", {"joint:shoulder.damping"}, 0.1, 0, 2),
                   Spec("elbow_damping", {"joint:elbow.damping"}, 0.05, 0, 2),
                   Spec("elbow_armature", {"joint:elbow.armature"}, 0.005, 0, 0.1),
                   Spec("upper_mass", {"body:upper.mass"}, 1.0, 0.1, 5),
                   Spec("lower_mass", {"body:lower.mass"}, 0.5, 0.1, 5)};
    same(&c);
    c.truth.resize(5);
    c.truth << 0.15, 0.08, 0.008, 1.1, 0.6;
    c.episodes = 3;
    c.log.ctrl_offset = {0.0, 0.0};
    c.log.ctrl_amplitude = {4.0, 1.5};
    c.starts = {{-1.2, 0.0}, {-0.8, 0.3}, {-0.4, 0.6}};
    c.description = "two-link arm, 3 x 1 s, AR(1) noise 1 mrad, tau 30 ms";
  } else if (name == "servo" || name == "servo_stribeck") {
    c.xml = ServoJointXml();
    c.fit_specs = {
        Spec("kp", {"actuator:servo.gainprm[0]", "actuator:servo.biasprm[1]*-1"}, 4, 0.5, 50),
        Spec("armature", {"joint:shaft.armature"}, 0.008, 0, 0.2),
        Spec("frictionloss", {"joint:shaft.frictionloss"}, 0.03, 0, 1),
        Spec("damping", {"joint:shaft.damping"}, 0.08, 0, 2)};
    same(&c);
    c.truth.resize(4);
    c.truth << 6, 0.012, 0.04, 0.12;
    c.log.ctrl_offset = {0.0};
    c.log.ctrl_amplitude = {1.0};
    c.starts = {{0.0}, {0.3}, {-0.3}, {0.1}};
    c.description = "servo joint (gain, armature, dry friction, damping), 4 x 1 s";
    if (name == "servo_stribeck") {
      // The data's joint holds 2.5 times its sliding friction at rest (Stribeck velocity
      // 0.1 rad/s); the fitted model has Coulomb friction only.
      c.truth_specs.push_back(Spec("static", {"friction:shaft.static"}, 0, 0, 1));
      c.truth_specs.push_back(Spec("vs", {"friction:shaft.stribeck_velocity"}, 0.05, 0.001, 1));
      c.truth.conservativeResize(6);
      c.truth[4] = 0.1;
      c.truth[5] = 0.1;
      c.description = "servo joint, Stribeck friction in the data, Coulomb in the fit";
    }
  } else {
    throw std::invalid_argument("unknown coverage case '" + name + "'");
  }
  return c;
}

inline std::vector<std::string> CoverageCaseNames() {
  return {"pendulum",       "two_link",       "servo",
          "servo_stribeck", "pendulum_delay", "pendulum_slow_noise"};
}

// The episodes of one seed: noise-free logs of the truth, then AR(1) noise of std
// log.qpos_noise and correlation time noise_tau on every logged position.
inline std::vector<Episode> CoverageEpisodes(const CoverageCase& c, const mjModel* m,
                                             std::uint64_t seed) {
  ParameterBinding truth(m, c.truth_specs);
  SyntheticLog log = c.log;
  log.qpos_noise = 0;
  log.seed = seed;
  std::vector<Episode> out;
  for (int i = 0; i < c.episodes; ++i) {
    State s = State::Reference(m);
    const auto& q = c.starts[i % c.starts.size()];
    for (std::size_t k = 0; k < q.size(); ++k) s.qpos[static_cast<int>(k)] = q[k];
    Episode e = MakeEpisode(m, truth, c.truth, s, log, i);
    RandomStream rng(seed, Stage::kMeasurementNoise, 1000 + static_cast<std::uint64_t>(i));
    for (int col = 0; col < e.qpos.values.cols(); ++col) {
      double n = c.log.qpos_noise * rng.Normal();
      for (int k = 0; k < e.samples(); ++k) {
        if (k > 0) {
          const double phi = std::exp(-(e.time[k] - e.time[k - 1]) / c.noise_tau);
          n = phi * n + std::sqrt(1 - phi * phi) * c.log.qpos_noise * rng.Normal();
        }
        e.qpos.values(k, col) += n;
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

struct CoverageSeed {
  bool ok = false;
  Eigen::VectorXd value, formal, honest;  // per fitted parameter
  double residual_scale = 0, serial_correlation = 0, seconds = 0;
  int iterations = 0;
};

struct CoverageResult {
  std::vector<CoverageSeed> seeds;
  int usable = 0;
  // Per fitted parameter that the data's model shares: seeds whose 95 % interval holds the
  // truth, formal and honest.
  std::vector<int> formal_hits, honest_hits;
  std::vector<double> honest_over_formal;  // median ratio of the stds
  // Spread of the errors against the honest std: the standard deviation of (value - truth) /
  // honest std over seeds (about 1 when honest), and the mean error over its standard deviation
  // (a bias).
  std::vector<double> honest_z_sd, bias;
  double residual_scale = 0, serial_correlation = 0;  // medians
  double seconds = 0;                                 // mean per fit
};

inline double Median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t k = v.size();
  return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

// Fits seeds [first, first + count) of the case, `threads` seeds at a time (each fit on one
// thread, so the result does not depend on `threads`).
inline CoverageResult RunCoverage(const CoverageCase& c, std::uint64_t first, int count,
                                  int threads) {
  ModelPtr model = LoadModelString(c.xml);
  CoverageResult out;
  out.seeds.resize(count);
  ParallelFor(count, threads, [&](int k, int) {
    const auto episodes = CoverageEpisodes(c, model.get(), first + static_cast<std::uint64_t>(k));
    ParameterBinding b(model.get(), c.fit_specs);
    CalibrationOptions o = c.options;
    o.threads = 1;
    CalibrationResult r = Calibrate(model.get(), b, episodes, o);
    CoverageSeed& s = out.seeds[k];
    s.ok = r.summary.usable() && r.std.allFinite() && r.honest_std.allFinite();
    s.value = r.value;
    s.formal = r.std;
    s.honest = r.honest_std;
    s.residual_scale = r.error_model.residual_scale;
    s.serial_correlation = r.error_model.serial_correlation;
    s.seconds = r.summary.total_seconds;
    s.iterations = r.summary.iterations;
  });
  const int np = static_cast<int>(c.fit_specs.size());
  out.formal_hits.assign(np, 0);
  out.honest_hits.assign(np, 0);
  std::vector<std::vector<double>> ratio(np), z(np), errors(np);
  std::vector<double> chi2, serial;
  for (const CoverageSeed& s : out.seeds) {
    out.seconds += s.seconds / count;
    if (!s.ok) continue;
    ++out.usable;
    chi2.push_back(s.residual_scale);
    serial.push_back(s.serial_correlation);
    for (int j = 0; j < np; ++j) {
      if (c.shared[j] < 0) continue;
      const double error = std::abs(s.value[j] - c.truth[c.shared[j]]);
      out.formal_hits[j] += error <= 1.959963984540054 * s.formal[j];
      out.honest_hits[j] += error <= 1.959963984540054 * s.honest[j];
      ratio[j].push_back(s.honest[j] / s.formal[j]);
      z[j].push_back((s.value[j] - c.truth[c.shared[j]]) / s.honest[j]);
      errors[j].push_back(s.value[j] - c.truth[c.shared[j]]);
    }
  }
  auto mean_sd = [](const std::vector<double>& v) {
    double m = 0, q = 0;
    for (double x : v) m += x / v.size();
    for (double x : v) q += (x - m) * (x - m) / std::max<std::size_t>(v.size() - 1, 1);
    return std::make_pair(m, std::sqrt(q));
  };
  for (int j = 0; j < np; ++j) {
    out.honest_over_formal.push_back(Median(ratio[j]));
    out.honest_z_sd.push_back(mean_sd(z[j]).second);
    const auto [m, sd] = mean_sd(errors[j]);
    out.bias.push_back(sd > 0 ? m / sd : 0.0);
  }
  out.residual_scale = Median(chi2);
  out.serial_correlation = Median(serial);
  return out;
}

// Two-sided exact binomial test of k successes in n trials at success probability p: the total
// probability of outcomes no more likely than k.
inline double BinomialTwoSided(int k, int n, double p) {
  auto log_pmf = [&](int i) {
    return std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) +
           i * std::log(p) + (n - i) * std::log1p(-p);
  };
  const double at = log_pmf(k);
  double sum = 0;
  for (int i = 0; i <= n; ++i) {
    const double l = log_pmf(i);
    if (l <= at + 1e-7) sum += std::exp(l);
  }
  return std::min(1.0, sum);
}

}  // namespace nextbatch::testing

#endif  // NEXTBATCH_TESTS_CALIBRATION_COVERAGE_H_
