// EpisodeInformation, the calibration's information routine as later stages call it: against a
// closed form, and against the information Calibrate reports for the same episode.
#include <doctest/doctest.h>

#include <Eigen/Cholesky>
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "calibration/calibration.h"
#include "calibration/segments.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/rollout.h"
#include "engine/workspace.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch {
namespace {

using testing::Spec;

// A block on a frictionless slide pushed by a constant force: with MuJoCo's semi-implicit Euler
// v_{k+1} = v_k + h u / m and q_{k+1} = q_k + h v_{k+1}, so j steps after a segment's start
// q_j = q_0 + j h v_0 + h^2 (u / m) j (j + 1) / 2: dq_j/dm = -h^2 u j (j + 1) / (2 m^2),
// dq_j/dq_0 = 1, dq_j/dv_0 = j h.
constexpr const char* kSlideXml = R"(<mujoco model="slide">
  <option timestep="0.01" integrator="Euler" gravity="0 0 0"/>
  <worldbody>
    <body name="block">
      <joint name="x" type="slide" axis="1 0 0"/>
      <geom type="box" size="0.1 0.1 0.1" contype="0" conaffinity="0"/>
      <inertial pos="0 0 0" mass="2" diaginertia="0.01 0.01 0.01"/>
    </body>
  </worldbody>
  <actuator><motor name="push" joint="x" gear="1"/></actuator>
</mujoco>)";

TEST_CASE("episode information: a pushed block's mass, start states eliminated, in closed form") {
  ModelPtr model = LoadModelString(kSlideXml);
  const mjModel* m = model.get();
  ParameterBinding binding(m, {Spec("mass", {"body:block.mass"}, 2.0, 0.1, 10)});
  const double h = 0.01, u = 1.5, mass = 2.5, q0 = 0.1, v0 = -0.2, sigma = 0.01;
  const int steps = 100;
  Episode e;
  e.id = "push";
  e.qpos.names = {"x"};
  e.ctrl.names = {"push"};
  e.qpos.values.resize(steps + 1, 1);
  e.ctrl.values = Eigen::MatrixXd::Constant(steps + 1, 1, u);
  Eigen::MatrixXd states(steps + 1, 2);
  double q = q0, v = v0;
  for (int k = 0; k <= steps; ++k) {
    e.time.push_back(k * h);
    e.qpos.values(k, 0) = q;
    states.row(k) << q, v;
    v += h * u / mass;
    q += h * v;
  }
  EpisodeInformationOptions o;
  o.segment_seconds = 0.5;
  o.noise = {{"qpos", sigma}};
  const std::vector<Eigen::MatrixXd> starts = {states};
  const Eigen::MatrixXd info =
      EpisodeInformation(m, binding, Eigen::VectorXd::Constant(1, mass), {e}, o, &starts);

  // the closed form on the fit's own segments
  calib::LayoutOptions lo;
  lo.segment_seconds = o.segment_seconds;
  lo.noise = o.noise;
  const calib::Layout layout(m, {e}, lo);
  REQUIRE(layout.segments().size() == 2);
  double expected = 0.0;
  for (const calib::Segment& seg : layout.segments()) {
    const int rows = seg.end - seg.first;
    Eigen::MatrixXd jp(rows, 1), jx(rows, 2);
    for (int j = 0; j < rows; ++j) {
      jp(j, 0) = -h * h * u * j * (j + 1) / (2 * mass * mass) / sigma;
      jx(j, 0) = 1.0 / sigma;
      jx(j, 1) = j * h / sigma;
    }
    // the part of dq/dm that no change of the start state can mimic
    const Eigen::MatrixXd residual =
        jp - jx * (jx.transpose() * jx).ldlt().solve(jx.transpose() * jp);
    expected += residual.squaredNorm();
  }
  MESSAGE("information " << info(0, 0) << ", closed form " << expected);
  CHECK(info(0, 0) == doctest::Approx(expected).epsilon(1e-6));
  // without the start states, the local fit to the (exact, quadratic) logs gives the same
  const Eigen::MatrixXd fitted =
      EpisodeInformation(m, binding, Eigen::VectorXd::Constant(1, mass), {e}, o);
  CHECK(fitted(0, 0) == doctest::Approx(expected).epsilon(1e-6));
  // a log-scale parameter: the same information, in the parameter's units
  std::vector<ParameterSpec> log_specs = {Spec("mass", {"body:block.mass"}, 2.0, 0.1, 10)};
  log_specs[0].log_scale = true;
  ParameterBinding log_binding(m, log_specs);
  const Eigen::MatrixXd log_info =
      EpisodeInformation(m, log_binding, Eigen::VectorXd::Constant(1, mass), {e}, o, &starts);
  CHECK(log_info(0, 0) == doctest::Approx(expected).epsilon(1e-5));

  // a channel without a noise level is refused: a simulated log has no noise to estimate it
  o.noise.clear();
  CHECK_THROWS_AS(EpisodeInformation(m, binding, Eigen::VectorXd::Constant(1, mass), {e}, o),
                  InputError);
}

// A pendulum episode sampled on the simulation grid, with its exact states.
struct GridEpisode {
  Episode episode;
  Eigen::MatrixXd states;
};

GridEpisode PendulumEpisode(const mjModel* m, const ParameterBinding& b,
                            const Eigen::VectorXd& truth, int every, double duration) {
  const int steps = static_cast<int>(std::lround(duration / m->opt.timestep));
  // commands at the sample times, linear between them: what the fit replays from the log
  std::vector<double> times;
  for (int k = 0; k <= steps; k += every) times.push_back(k * m->opt.timestep);
  Eigen::MatrixXd u(times.size(), 1);
  for (std::size_t i = 0; i < times.size(); ++i)
    u(i, 0) = 1.5 * std::sin(4.0 * times[i]) + 0.8 * std::sin(9.0 * times[i] + 1.0);
  Workspace ws(m, true);
  ws.Apply(b, truth);
  State s = State::Reference(m);
  s.qpos[0] = 0.3;
  ws.SetState(s);
  OpenLoopController controller(times, u, OpenLoopController::Hold::kLinear);
  RolloutOptions o;
  o.num_steps = steps;
  o.record_every = every;
  const RolloutResult r = Rollout(ws, &controller, o);
  REQUIRE(r.ok());
  GridEpisode g;
  Episode& e = g.episode;
  e.id = "swing";
  e.qpos.names = {"hinge"};
  e.ctrl.names = {"motor"};
  const int n = static_cast<int>(r.time.size());
  e.time = times;
  REQUIRE(static_cast<int>(r.time.size()) == static_cast<int>(times.size()));
  e.qpos.values = r.qpos;
  e.ctrl.values.resize(n, 1);
  g.states.resize(n, m->nq + m->nv);
  for (int i = 0; i < n; ++i) {
    e.ctrl.values(i, 0) = u(i, 0);
    g.states.row(i) << r.qpos.row(i), r.qvel.row(i);
  }
  return g;
}

TEST_CASE("episode information: equals the information Calibrate reports on the same episode") {
  ModelPtr model = LoadModelString(testing::PendulumXml(0.002));
  const mjModel* m = model.get();
  const std::vector<ParameterSpec> specs = {Spec("damping", {"joint:hinge.damping"}, 0.08, 0, 1),
                                            Spec("mass", {"body:link.mass"}, 0.7, 0.1, 3)};
  ParameterBinding b(m, specs);
  const Eigen::Vector2d truth(0.08, 0.7);
  const GridEpisode g = PendulumEpisode(m, b, truth, 5, 2.0);

  // the fit starts at the truth on exact logs: it stays there, start states included
  CalibrationOptions co;
  co.noise = {{"qpos", 1e-3}};
  co.held_out_fraction = 0.0;
  co.loss = LossType::kNone;
  co.threads = 1;
  co.segment_seconds = 0.5;
  const CalibrationResult res = Calibrate(m, b, {g.episode}, co);
  REQUIRE(res.summary.usable());
  CHECK(res.sample_seconds == doctest::Approx(0.01));

  EpisodeInformationOptions o;
  o.segment_seconds = co.segment_seconds;
  o.noise = co.noise;
  const std::vector<Eigen::MatrixXd> starts = {g.states};
  const Eigen::MatrixXd info = EpisodeInformation(m, b, res.value, {g.episode}, o, &starts);
  double worst = 0.0;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      const double scale = std::sqrt(info(i, i) * info(j, j));
      worst = std::max(worst, std::abs(info(i, j) - res.data_information(i, j)) / scale);
    }
  }
  MESSAGE("calibrate:\n"
          << res.data_information << "\nepisode information:\n"
          << info << "\nlargest difference " << worst << " of the diagonal's scale");
  CHECK(worst < 1e-6);
  // and the same on 2 threads, bit for bit
  o.threads = 2;
  CHECK(
      (EpisodeInformation(m, b, res.value, {g.episode}, o, &starts).array() == info.array()).all());
}

}  // namespace
}  // namespace nextbatch
