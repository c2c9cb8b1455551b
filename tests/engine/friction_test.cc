// Stribeck friction (`friction:<joint>.static`, `.stribeck_velocity`): dry friction whose level is
// higher at rest than sliding, applied by Workspace::Step; load-dependent friction (`.load`); dry
// friction as a smooth force (`.smooth_velocity`). Checked against the closed forms of a block on
// a frictional slide.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/parameter.h"
#include "engine/rollout.h"
#include "engine/workspace.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch {
namespace {

using testing::Spec;

constexpr double kMass = 2.0;     // kg
constexpr double kSliding = 1.0;  // N, the slide's frictionloss
constexpr double kStep = 0.001;   // s

// A 2 kg block on a horizontal slide with hard dry friction (no creep under a load below the
// level) and a force motor; no gravity along the slide.
std::string SlideXml() {
  return R"(<mujoco model="slide">
  <option timestep="0.001" integrator="Euler"/>
  <worldbody>
    <body name="block">
      <joint name="x" type="slide" axis="1 0 0" frictionloss="1.0" solreffriction="0.002 1"
             solimpfriction="0.99 0.99 0.001"/>
      <geom type="box" size="0.1 0.1 0.1" mass="2" contype="0" conaffinity="0"/>
    </body>
    <body name="wheel" pos="0 1 0">
      <joint name="spin" type="ball"/>
      <geom type="sphere" size="0.1" mass="1" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="push" joint="x"/>
  </actuator>
</mujoco>)";
}

// Runs `seconds` of a constant force from speed v0 and returns the final position and speed.
struct Motion {
  double q = 0, v = 0;
};
Motion Push(Workspace& ws, double force, double v0, double seconds) {
  State s = State::Reference(ws.model());
  s.qvel[0] = v0;
  ws.SetState(s);
  const int steps = static_cast<int>(std::lround(seconds / kStep));
  for (int k = 0; k < steps; ++k) {
    ws.data()->ctrl[0] = force;
    ws.Step();
  }
  return {ws.data()->qpos[0], ws.data()->qvel[0]};
}

TEST_CASE("the level falls from the static to the sliding value as exp(-(v / vs)^2)") {
  ModelPtr base = LoadModelString(SlideXml());
  Effects e = Effects::Identity(base.get());
  CHECK(e.IsIdentity());
  e.static_friction[0] = 3.0;
  e.stribeck_velocity[0] = 0.2;
  CHECK(e.FrictionLevel(0, 1.0, 0.0) == 3.0);
  CHECK(e.FrictionLevel(0, 1.0, 0.2) == doctest::Approx(1.0 + 2.0 / std::exp(1.0)));
  CHECK(e.FrictionLevel(0, 1.0, -0.4) == doctest::Approx(1.0 + 2.0 * std::exp(-4.0)));
  CHECK(e.FrictionLevel(0, 1.0, 10.0) == doctest::Approx(1.0).epsilon(1e-12));
  // A static level below the sliding one is allowed (friction rising with speed), never < 0.
  e.static_friction[0] = 0.5;
  CHECK(e.FrictionLevel(0, 1.0, 0.0) == 0.5);
  e.static_friction[0] = -2.0;
  CHECK(e.FrictionLevel(0, 1.0, 0.0) == 0.0);
}

TEST_CASE("a force between the sliding and the static level: the block stays, else it slides") {
  ModelPtr base = LoadModelString(SlideXml());
  const double force = 1.5;  // N: above the 1 N sliding level, below a 2 N static one
  Workspace plain(base.get(), true);
  // Without a static level: x = (F - Fc) / m * t^2 / 2 = 0.125 m after 1 s.
  const Motion a = Push(plain, force, 0.0, 1.0);
  CHECK(a.q == doctest::Approx((force - kSliding) / kMass / 2).epsilon(0.01));
  CHECK(a.v == doctest::Approx((force - kSliding) / kMass).epsilon(0.01));

  Workspace held(base.get(), true);
  ParameterBinding binding(base.get(),
                           {Spec("Fs", {"friction:x.static"}, 2.0, 0, 10),
                            Spec("vs", {"friction:x.stribeck_velocity"}, 0.05, 1e-3, 1)});
  held.Apply(binding, binding.Initial());
  CHECK_FALSE(held.effects().IsIdentity());
  const Motion b = Push(held, force, 0.0, 1.0);
  CHECK(std::abs(b.q) < 1e-4);
  CHECK(std::abs(b.v) < 1e-3);
  // The model keeps its sliding level between steps.
  CHECK(held.model()->dof_frictionloss[0] == kSliding);
  // Above the static level it breaks away; its acceleration grows from (F - Fs) / m at rest to
  // (F - Fc) / m once fast, so the speed after 1 s lies between the two.
  const Motion c = Push(held, 2.5, 0.0, 1.0);
  CHECK(c.v > (2.5 - 2.0) / kMass);
  CHECK(c.v < (2.5 - kSliding) / kMass);
}

TEST_CASE("sliding fast, the block feels the sliding level, at v = vs, Fc + (Fs - Fc) / e") {
  ModelPtr base = LoadModelString(SlideXml());
  Workspace ws(base.get(), true);
  ParameterBinding binding(base.get(),
                           {Spec("Fs", {"friction:x.static"}, 2.0, 0, 10),
                            Spec("vs", {"friction:x.stribeck_velocity"}, 0.05, 1e-3, 1)});
  ws.Apply(binding, binding.Initial());
  // From 5 m/s (100 vs) with no force: v(t) = v0 - Fc / m * t, exactly as without the effect.
  const Motion fast = Push(ws, 0.0, 5.0, 1.0);
  CHECK(fast.v == doctest::Approx(5.0 - kSliding / kMass * 1.0).epsilon(1e-9));
  CHECK(fast.q == doctest::Approx(5.0 - kSliding / kMass / 2).epsilon(1e-3));
  // One step from v = vs: the friction saturates at its level, dv = -h * level / m.
  const Motion one = Push(ws, 0.0, 0.05, kStep);
  const double level = kSliding + (2.0 - kSliding) / std::exp(1.0);
  CHECK(one.v == doctest::Approx(0.05 - kStep * level / kMass).epsilon(1e-9));
}

TEST_CASE("rollouts use the effect and leave the model as it was") {
  ModelPtr base = LoadModelString(SlideXml());
  Workspace ws(base.get(), true);
  ParameterBinding binding(base.get(), {Spec("Fs", {"friction:x.static"}, 2.0, 0, 10)});
  const Eigen::VectorXd v = binding.Initial();
  ws.Apply(binding, v);
  CHECK((binding.Read(ws.model(), ws.effects()) - v).cwiseAbs().maxCoeff() == 0.0);
  OpenLoopController push({0.0}, Eigen::MatrixXd::Constant(1, 1, 1.5));
  RolloutOptions o;
  o.num_steps = 1000;
  o.record_every = 1000;
  ws.SetState(State::Reference(ws.model()));
  const RolloutResult held = Rollout(ws, &push, o);
  REQUIRE(held.status == RolloutStatus::kOk);
  CHECK(std::abs(held.qpos(1, 0)) < 1e-4);
  CHECK(ws.model()->dof_frictionloss[0] == kSliding);
  ws.RestoreBase();
  CHECK(ws.effects().IsIdentity());
  ws.SetState(State::Reference(ws.model()));
  const RolloutResult slid = Rollout(ws, &push, o);
  CHECK(slid.qpos(1, 0) == doctest::Approx(0.125).epsilon(0.01));
}

TEST_CASE("load-dependent friction: the level grows by mu |actuator force|") {
  ModelPtr base = LoadModelString(SlideXml());
  Workspace ws(base.get(), true);
  ParameterBinding binding(base.get(), {Spec("mu", {"friction:x.load"}, 0.25, 0, 1)});
  ws.Apply(binding, binding.Initial());
  CHECK_FALSE(ws.effects().IsIdentity());
  // A 2 N push: the level is 1 + 0.25 * 2 = 1.5 N, x = (F - level) / m * t^2 / 2 = 0.125 m.
  const Motion a = Push(ws, 2.0, 0.0, 1.0);
  CHECK(a.q == doctest::Approx((2.0 - 1.5) / kMass / 2).epsilon(0.01));
  // 1.2 N would slide without it (level 1 N); with it the level is 1.3 N and the block stays.
  const Motion b = Push(ws, 1.2, 0.0, 1.0);
  CHECK(std::abs(b.q) < 1e-4);
  // Coasting with no force: only the sliding level acts, v = v0 - Fc / m * t.
  const Motion c = Push(ws, 0.0, 3.0, 1.0);
  CHECK(c.v == doctest::Approx(3.0 - kSliding / kMass).epsilon(1e-9));
  CHECK(ws.model()->dof_frictionloss[0] == kSliding);
}

// The smooth force's slope at rest is k = (2 / pi) level / vs', so one explicit step multiplies a
// small speed by 1 - h k / M: it decays when h < pi M vs' / level (the step limit) and grows into a
// sustained chatter beyond it.
TEST_CASE("smooth dry friction: its step limit pi M vs' / level, and the chatter beyond it") {
  ModelPtr base = LoadModelString(SlideXml());
  ParameterBinding binding(base.get(), {Spec("vs", {"friction:x.smooth_velocity"}, 0.05, 1e-6, 1),
                                        Spec("D", {"joint:x.damping"}, 0.0, 0, 1000)});
  const Eigen::VectorXd reference = Eigen::Map<const Eigen::VectorXd>(base->qpos0, base->nq);
  for (const double factor : {0.8, 1.25}) {
    CAPTURE(factor);
    const double vs = factor * kStep * kSliding / (mjPI * kMass);  // the limit is factor * h
    Workspace ws(base.get(), true);
    Eigen::VectorXd v(2);
    v << vs, 0.0;
    ws.Apply(binding, v);
    const auto limits = SmoothFrictionLimits(ws.model(), ws.effects(), {reference});
    REQUIRE(limits.size() == 1);
    CHECK(limits[0].dof == 0);
    CHECK(limits[0].level == kSliding);
    CHECK(limits[0].inertia == doctest::Approx(kMass).epsilon(1e-12));
    CHECK(limits[0].step_limit == doctest::Approx(factor * kStep).epsilon(1e-12));
    const auto warnings = SmoothFrictionWarnings(ws.model(), ws.effects(), {reference});
    CHECK(warnings.size() == (factor < 1 ? 1u : 0u));
    if (!warnings.empty()) {
      CHECK(warnings[0].find("joint x is an explicit force") != std::string::npos);
      CHECK(warnings[0].find("the model's time step is 0.001 s") != std::string::npos);
    }
    // From half of vs', 300 steps with no force: 0.6 per step inside the limit, 1.5 beyond it.
    const Motion after = Push(ws, 0.0, vs / 2, 300 * kStep);
    if (factor < 1) {
      CHECK(std::abs(after.v) > 0.1 * vs);
    } else {
      CHECK(std::abs(after.v) < 1e-12 * vs);
    }
  }
  // Euler integrates joint damping implicitly: the step sees M + h D.
  Workspace ws(base.get(), true);
  Eigen::VectorXd v(2);
  v << 1e-4, 500.0;
  ws.Apply(binding, v);
  const auto limits = SmoothFrictionLimits(ws.model(), ws.effects(), {reference});
  REQUIRE(limits.size() == 1);
  CHECK(limits[0].inertia == doctest::Approx(kMass + kStep * 500.0).epsilon(1e-12));
  // No smooth law, no entry.
  Workspace plain(base.get(), true);
  CHECK(SmoothFrictionLimits(plain.model(), plain.effects(), {reference}).empty());
}

// A double pendulum of point masses (1 kg at 1 m on each link): the elbow's effective inertia is
// 1 / (M^-1)_22 = M22 - M12^2 / M11 = 1 - (1 + c)^2 / (3 + 2c), c = cos(elbow): 0.2 stretched,
// 2/3 at a right angle; the limit takes the smallest over the configurations given.
TEST_CASE("smooth dry friction: the step limit takes the smallest effective inertia") {
  ModelPtr base = LoadModelString(R"(<mujoco model="two_link">
  <option timestep="0.001" integrator="Euler"/>
  <worldbody>
    <body name="upper">
      <joint name="shoulder" type="hinge" axis="0 1 0"/>
      <inertial pos="0 0 -1" mass="1" diaginertia="1e-9 1e-9 1e-9"/>
      <body name="lower" pos="0 0 -1">
        <joint name="elbow" type="hinge" axis="0 1 0" frictionloss="0.5"/>
        <inertial pos="0 0 -1" mass="1" diaginertia="1e-9 1e-9 1e-9"/>
      </body>
    </body>
  </worldbody>
</mujoco>)");
  ParameterBinding binding(base.get(),
                           {Spec("vs", {"friction:elbow.smooth_velocity"}, 0.01, 1e-6, 1)});
  Workspace ws(base.get(), true);
  ws.Apply(binding, binding.Initial());
  Eigen::VectorXd bent(2), stretched(2);
  bent << 0.3, mjPI / 2;
  stretched << -0.4, 0.0;
  auto elbow = [&](const std::vector<Eigen::VectorXd>& qs) {
    const auto limits = SmoothFrictionLimits(ws.model(), ws.effects(), qs);
    REQUIRE(limits.size() == 1);
    CHECK(limits[0].dof == 1);
    CHECK(limits[0].level == 0.5);
    CHECK(limits[0].step_limit ==
          doctest::Approx(mjPI * limits[0].inertia * 0.01 / 0.5).epsilon(1e-12));
    return limits[0].inertia;
  };
  CHECK(elbow({bent}) == doctest::Approx(2.0 / 3.0).epsilon(1e-6));
  CHECK(elbow({stretched}) == doctest::Approx(0.2).epsilon(1e-6));
  CHECK(elbow({bent, stretched}) == doctest::Approx(0.2).epsilon(1e-6));
  // pi 0.2 0.01 / 0.5 = 0.0126 s: well within the 1 ms step, so no warning
  CHECK(SmoothFrictionWarnings(ws.model(), ws.effects(), {bent, stretched}).empty());
}

TEST_CASE("smooth dry friction: -level (2 / pi) atan(v / vs), no sticking, inverse agrees") {
  ModelPtr base = LoadModelString(SlideXml());
  Workspace ws(base.get(), true);
  ParameterBinding binding(base.get(), {Spec("vs", {"friction:x.smooth_velocity"}, 0.05, 1e-3, 1)});
  ws.Apply(binding, binding.Initial());
  CHECK_FALSE(ws.effects().IsIdentity());
  CHECK((binding.Read(ws.model(), ws.effects()) - binding.Initial()).cwiseAbs().maxCoeff() == 0);
  // One step from v = vs with no force: atan(1) = pi / 4, so the force is half the level.
  const Motion one = Push(ws, 0.0, 0.05, kStep);
  CHECK(one.v == doctest::Approx(0.05 - kStep * (kSliding / 2) / kMass).epsilon(1e-12));
  // Fast, it is nearly the level: atan(x) > pi / 2 - 1 / x, so the force falls short of it by
  // less than (2 / pi) vs / v, and from 5 m/s v(1 s) lies in (5 - Fc / m, that + the shortfall).
  const Motion fast = Push(ws, 0.0, 5.0, 1.0);
  const double slowest = 5.0 - kSliding / kMass;
  CHECK(fast.v > slowest);
  CHECK(fast.v < slowest + (2 / mjPI) * 0.05 / slowest / kMass * 1.0);
  // Below the level it does not stick: a 0.5 N push settles where (2 / pi) atan(v / vs) = 0.5,
  // v = vs tan(pi / 4) = vs (the hard constraint holds the block: a.q < 1e-4 above); the time
  // constant there is m / (level (2 / pi) / (2 vs)) = 0.31 s, so 6 s leave e^-19 of the start.
  const Motion creep = Push(ws, kSliding / 2, 0.0, 6.0);
  CHECK(creep.v == doctest::Approx(0.05).epsilon(1e-6));
  // The model and the applied forces are as they were between steps.
  CHECK(ws.model()->dof_frictionloss[0] == kSliding);
  CHECK(ws.data()->qfrc_applied[0] == 0.0);
  // Inverse dynamics of the step just taken gives back what the motor applied.
  for (const double v0 : {-0.3, -0.02, 0.0, 0.01, 0.2}) {
    State s = State::Reference(ws.model());
    s.qvel[0] = v0;
    ws.SetState(s);
    ws.data()->ctrl[0] = 0.7;
    ws.Step();
    const double qacc = (ws.data()->qvel[0] - v0) / kStep;
    ws.SetState(s);
    ws.data()->ctrl[0] = 0.7;
    ws.data()->qacc[0] = qacc;
    ws.Inverse();
    CAPTURE(v0);
    CHECK(ws.data()->qfrc_inverse[0] == doctest::Approx(ws.data()->qfrc_actuator[0]).epsilon(1e-9));
    CHECK(ws.data()->qfrc_actuator[0] == doctest::Approx(0.7).epsilon(1e-12));
    CHECK(ws.data()->qfrc_applied[0] == 0.0);
  }
}

TEST_CASE("the joint actuator torque matches MuJoCo's own qfrc_actuator") {
  // A motor with gear 3, a clamped position servo and an affine-gain actuator on one hinge.
  ModelPtr m = LoadModelString(R"(<mujoco>
    <worldbody><body><joint name="h" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.02" mass="1"/></body></worldbody>
    <actuator>
      <motor joint="h" gear="3" ctrllimited="true" ctrlrange="-1 1"/>
      <position joint="h" kp="20" forcelimited="true" forcerange="-2 2"/>
      <general joint="h" gaintype="affine" gainprm="1.5 0.2 -0.1" biastype="affine"
               biasprm="0.3 -4 -0.5"/>
    </actuator></mujoco>)");
  DataPtr d = MakeData(m.get());
  for (const double q : {-0.7, 0.0, 0.4}) {
    for (const double v : {-2.0, 0.5}) {
      for (const double u : {-1.5, 0.2, 0.9}) {
        d->qpos[0] = q;
        d->qvel[0] = v;
        for (int a = 0; a < m->nu; ++a) d->ctrl[a] = u;
        mj_forward(m.get(), d.get());
        CAPTURE(q);
        CAPTURE(v);
        CAPTURE(u);
        CHECK(JointActuatorTorque(m.get(), d.get(), 0) ==
              doctest::Approx(d->qfrc_actuator[0]).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("friction targets are checked: a hinge or slide joint, a known field") {
  ModelPtr m = LoadModelString(SlideXml());
  CHECK(ResolveTarget(m.get(), "friction:x.static").size() == 1);
  testing::CheckError([&] { ResolveTarget(m.get(), "friction:spin.static"); },
                      {"friction:spin.static", "a hinge or slide joint", "a free or ball joint"});
  testing::CheckError(
      [&] { ResolveTarget(m.get(), "friction:x.kinetic"); },
      {"friction field static, stribeck_velocity, load or smooth_velocity", "'kinetic'"});
  CHECK(ResolveTarget(m.get(), "friction:x.smooth_velocity").size() == 1);
  testing::CheckError([&] { ResolveTarget(m.get(), "friction:y.static"); }, {"'y'"});
  testing::CheckError([&] { ResolveTarget(m.get(), "friction:x.static[1]"); }, {"[1]"});
  testing::CheckError([&] { ResolveTarget(m.get(), "wheel:w.radius"); }, {"friction"});
}

}  // namespace
}  // namespace nextbatch
