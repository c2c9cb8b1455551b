#include "engine/rollout.h"

#include <doctest/doctest.h>

#include <cmath>

#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/random.h"
#include "tests/fixtures/models.h"

namespace nextbatch {
namespace {

class ConstantController : public Controller {
 public:
  explicit ConstantController(double u) : u_(u) {}
  void Control(const mjModel* m, const mjData*, double* ctrl) override {
    for (int i = 0; i < m->nu; ++i) ctrl[i] = u_;
  }

 private:
  double u_;
};

TEST_CASE("a constant force gives the closed-form semi-implicit Euler trajectory") {
  ModelPtr m = LoadModelString(testing::CartXml());
  Workspace ws(m.get(), false);
  ws.SetState(State::Reference(m.get()));
  ConstantController c(4.0);  // a = 2 m/s^2
  RolloutOptions o;
  o.num_steps = 50;
  RolloutResult r = Rollout(ws, &c, o);
  REQUIRE(r.ok());
  REQUIRE(r.qpos.rows() == 51);
  const double dt = 0.01, a = 2.0;
  for (int n = 0; n <= 50; ++n) {
    CHECK(r.qvel(n, 0) == doctest::Approx(n * dt * a).epsilon(1e-12));
    CHECK(r.qpos(n, 0) == doctest::Approx(dt * dt * a * n * (n + 1) / 2.0).epsilon(1e-12));
    CHECK(r.time[n] == doctest::Approx(n * dt));
  }
}

TEST_CASE("delay, gain and bias act on the commands as stated") {
  ModelPtr m = LoadModelString(testing::CartXml());
  ParameterSpec delay{"delay", {"ctrl.delay"}}, gain{"gain", {"ctrl:push.gain"}},
      bias{"bias", {"ctrl:push.bias"}};
  delay.initial = 0.035;  // 3.5 steps
  gain.initial = 0.5;
  bias.initial = 1.0;
  ParameterBinding binding(m.get(), {delay, gain, bias});
  Workspace ws(m.get(), true);
  ws.Apply(binding, binding.Initial());
  ws.SetState(State::Reference(m.get()));
  // A step in the command between t = 0.09 and 0.1 s: from 0 to 4 N.
  OpenLoopController c({0.0, 0.0949, 0.095, 1.0}, Eigen::Vector4d(0, 0, 4, 4),
                       OpenLoopController::Hold::kZeroOrder);
  RolloutOptions o;
  o.num_steps = 40;
  o.record_ctrl = true;
  RolloutResult r = Rollout(ws, &c, o);
  REQUIRE(r.ok());
  // Applied = 0.5 * u(t - 0.035) + 1: the step (at step 10) shows up half at step 13 (3.5 steps
  // late, between two commands) and fully from step 14 on.
  CHECK(r.ctrl(13, 0) == doctest::Approx(1.0));  // record 13 = state after 13 steps
  CHECK(r.ctrl(14, 0) == doctest::Approx(2.0));  // ctrl of the 14th step: half of the step
  CHECK(r.ctrl(15, 0) == doctest::Approx(3.0));
  CHECK(r.ctrl(40, 0) == doctest::Approx(3.0));
}

TEST_CASE("a divergent rollout reports its status instead of throwing") {
  // A stiff spring far beyond what explicit Euler at this step can integrate.
  ModelPtr m = LoadModelString(R"(<mujoco><option timestep="0.05" integrator="Euler"/>
    <worldbody><body><joint name="x" type="slide" axis="1 0 0" stiffness="1e6"/>
    <geom type="sphere" size="0.1" mass="0.01"/></body></worldbody></mujoco>)");
  Workspace ws(m.get(), false);
  State s = State::Reference(m.get());
  s.qpos[0] = 0.1;
  ws.SetState(s);
  RolloutOptions o;
  o.num_steps = 1000;
  RolloutResult r = Rollout(ws, nullptr, o);
  CHECK(r.status == RolloutStatus::kDiverged);
  CHECK(r.steps < 1000);
  CHECK(r.message.find("diverged at step") != std::string::npos);
  CHECK(r.qpos.rows() == r.steps + 1);
  CHECK(r.qpos.allFinite());
}

TEST_CASE("an observer can stop a rollout early") {
  ModelPtr m = LoadModelString(testing::CartXml());
  Workspace ws(m.get(), false);
  ws.SetState(State::Reference(m.get()));
  ConstantController c(4.0);
  RolloutOptions o;
  o.num_steps = 100;
  RolloutResult r =
      Rollout(ws, &c, o, [](int, const mjModel*, const mjData* d) { return d->qpos[0] < 0.05; });
  CHECK(r.ok());
  CHECK(r.steps < 100);
  CHECK(r.qpos.rows() == r.steps + 1);
}

// A batch of rollouts with per-item parameters and random initial states.
std::vector<RolloutResult> Batch(const mjModel* m, const ParameterBinding& binding, int threads) {
  const int n = 24;
  std::vector<RolloutResult> out(n);
  WorkspacePool pool(m, ResolveThreads(threads), true);
  ParallelFor(n, threads, [&](int i, int t) {
    Workspace& ws = pool[t];
    RandomStream rng(42, Stage::kTest, i);
    Eigen::VectorXd values = binding.Initial();
    for (int k = 0; k < values.size(); ++k) values[k] *= rng.Uniform(0.5, 1.5);
    ws.Apply(binding, values);
    State s = State::Reference(ws.model());
    for (int k = 0; k < 3; ++k) s.qpos[k] = rng.Uniform(-0.5, 0.5);
    ws.SetState(s);
    Eigen::MatrixXd u(2, ws.model()->nu);
    for (int k = 0; k < u.size(); ++k) u.data()[k] = rng.Uniform(-1, 1);
    OpenLoopController c({0.0, 0.5}, u);
    RolloutOptions o;
    o.num_steps = 250;
    o.record_every = 5;
    out[i] = Rollout(ws, &c, o);
  });
  return out;
}

TEST_CASE("a batch of rollouts is bit-identical with 1 and 2 threads") {
  ModelPtr m = LoadModelString(testing::ArmBoxXml());
  ParameterSpec mass{"mass", {"body:box.mass"}}, friction{"mu", {"geom:box.friction[0]"}},
      damping{"damping", {"joint:j2.damping"}};
  mass.initial = 0.2;
  friction.initial = 0.8;
  damping.initial = 1.0;
  mass.lower = damping.lower = 0;  // masses and dampings are bounded below by 0
  mass.upper = damping.upper = 10;
  ParameterBinding binding(m.get(), {mass, friction, damping});
  auto a = Batch(m.get(), binding, 1);
  auto b = Batch(m.get(), binding, 2);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].ok());
    REQUIRE(b[i].ok());
    CHECK(a[i].qpos.rows() == 51);
    CHECK((a[i].qpos.array() == b[i].qpos.array()).all());
    CHECK((a[i].qvel.array() == b[i].qvel.array()).all());
  }
}

TEST_CASE("ParallelFor visits every index once and rethrows the lowest failing one") {
  std::vector<int> hits(100, 0);
  ParallelFor(100, 2, [&](int i, int) { ++hits[i]; });
  for (int h : hits) CHECK(h == 1);
  CHECK_THROWS_WITH(ParallelFor(100, 2,
                                [](int i, int) {
                                  if (i == 70 || i == 30)
                                    throw std::runtime_error("item " + std::to_string(i));
                                }),
                    "item 30");
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("recorded sensors belong to the recorded state, with the sensor bias added") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  ParameterSpec bias{"bias", {"sensor:angle.bias"}};
  bias.initial = 0.25;
  ParameterBinding binding(m.get(), {bias});
  Workspace ws(m.get(), true);
  ws.Apply(binding, binding.Initial());
  State s = State::Reference(m.get());
  s.qpos[0] = 1.0;
  ws.SetState(s);
  RolloutOptions o;
  o.num_steps = 30;
  o.record_every = 3;
  o.record_sensors = true;
  RolloutResult r = Rollout(ws, nullptr, o);
  REQUIRE(r.ok());
  for (int i = 0; i < r.qpos.rows(); ++i) CHECK(r.sensors(i, 0) == r.qpos(i, 0) + 0.25);
}

}  // namespace
}  // namespace nextbatch
