#include "engine/parameter.h"

#include <doctest/doctest.h>

#include <limits>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/workspace.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch {
namespace {

using testing::Spec;

TEST_CASE("every target kind is written where it claims and read back") {
  ModelPtr base = LoadModelString(testing::ArmBoxXml());
  Workspace ws(base.get(), true);
  std::vector<ParameterSpec> specs = {
      Spec("damping", {"joint:j1.damping"}, 2.5, 0, 10),
      Spec("friction_loss", {"joint:j2.frictionloss"}, 0.3, 0, 10),
      Spec("armature", {"joint:j3.armature"}, 0.02, 0, 10),
      Spec("stiffness", {"joint:j1.stiffness"}, 4.0),
      Spec("mass", {"body:arm1.mass"}, 0.7, 0, 10),
      Spec("ipos", {"body:arm1.ipos[0]"}, 0.12),
      Spec("friction", {"geom:box.friction[0]"}, 0.4),
      Spec("box_size", {"geom:box.size[2]"}, 0.04),
      Spec("gain", {"actuator:a1.gainprm[0]"}, 30.0),
      Spec("bias", {"actuator:a1.biasprm[1]"}, -30.0),
      Spec("timestep", {"opt.timestep"}, 0.001, 1e-5, 0.1),
      Spec("gravity", {"opt.gravity[2]"}, -9.0),
      Spec("delay", {"ctrl.delay"}, 0.004, 0, 1),
      Spec("ctrl_gain", {"ctrl:a2.gain"}, 0.9),
      Spec("ctrl_bias", {"ctrl:a3.bias"}, 0.1),
  };
  ParameterBinding binding(base.get(), specs);
  CHECK(binding.needs_set_const());
  ws.Apply(binding, binding.Initial());
  const mjModel* m = ws.model();
  auto joint = [&](const char* n) { return mj_name2id(m, mjOBJ_JOINT, n); };
  auto body = [&](const char* n) { return mj_name2id(m, mjOBJ_BODY, n); };
  CHECK(m->dof_damping[m->jnt_dofadr[joint("j1")]] == 2.5);
  CHECK(m->dof_frictionloss[m->jnt_dofadr[joint("j2")]] == 0.3);
  CHECK(m->dof_armature[m->jnt_dofadr[joint("j3")]] == 0.02);
  CHECK(m->jnt_stiffness[joint("j1")] == 4.0);
  CHECK(m->body_mass[body("arm1")] == 0.7);
  CHECK(m->body_ipos[3 * body("arm1")] == 0.12);
  const int box = mj_name2id(m, mjOBJ_GEOM, "box");
  CHECK(m->geom_friction[3 * box] == 0.4);
  CHECK(m->geom_size[3 * box + 2] == 0.04);
  CHECK(m->actuator_gainprm[0] == 30.0);
  CHECK(m->actuator_biasprm[1] == -30.0);
  CHECK(m->opt.timestep == 0.001);
  CHECK(m->opt.gravity[2] == -9.0);
  CHECK(ws.effects().delay == 0.004);
  CHECK(ws.effects().ctrl_gain[1] == 0.9);
  CHECK(ws.effects().ctrl_bias[2] == 0.1);
  Eigen::VectorXd back = binding.Read(m, ws.effects());
  CHECK((back - binding.Initial()).cwiseAbs().maxCoeff() == 0.0);
  // The base model is untouched.
  CHECK(base->body_mass[body("arm1")] == doctest::Approx(0.5));
}

TEST_CASE("a joint field drives every dof of a free joint, one parameter drives many fields") {
  ModelPtr base = LoadModelString(testing::ArmBoxXml());
  Workspace ws(base.get(), true);
  ParameterBinding binding(
      base.get(),
      {Spec("d", {"joint:box_joint.damping", "joint:j2.damping", "joint:j3.damping"}, 0.25, 0, 1)});
  ws.Apply(binding, binding.Initial());
  const mjModel* m = ws.model();
  const int fj = mj_name2id(m, mjOBJ_JOINT, "box_joint");
  for (int i = 0; i < 6; ++i) CHECK(m->dof_damping[m->jnt_dofadr[fj] + i] == 0.25);
  CHECK(m->dof_damping[m->jnt_dofadr[mj_name2id(m, mjOBJ_JOINT, "j2")]] == 0.25);
  CHECK(m->dof_damping[m->jnt_dofadr[mj_name2id(m, mjOBJ_JOINT, "j1")]] == 1.0);
}

TEST_CASE("a *k suffix drives a slot with k times the value: one servo stiffness, two fields") {
  ModelPtr base = LoadModelString(testing::ArmBoxXml());
  Workspace ws(base.get(), true);
  ParameterBinding binding(
      base.get(), {Spec("kp", {"actuator:a1.gainprm[0]", "actuator:a1.biasprm[1]*-1"}, 35.0),
                   Spec("kv", {"actuator:a1.biasprm[2]*-1"}, 2.0)});
  ws.Apply(binding, binding.Initial());
  CHECK(ws.model()->actuator_gainprm[0] == 35.0);
  CHECK(ws.model()->actuator_biasprm[1] == -35.0);
  CHECK(ws.model()->actuator_biasprm[2] == -2.0);
  Eigen::VectorXd back = binding.Read(ws.model(), ws.effects());
  CHECK(back[0] == 35.0);
  CHECK(back[1] == 2.0);
  CHECK_THROWS_WITH(ParameterBinding(base.get(), {Spec("x", {"actuator:a1.biasprm[1]*0"}, 1.0)}),
                    doctest::Contains("a finite non-zero factor after '*', got '0'"));
  CHECK_THROWS_WITH(ParameterBinding(base.get(), {Spec("x", {"actuator:a1.biasprm[1]*"}, 1.0)}),
                    doctest::Contains("a finite non-zero factor"));
  CHECK_THROWS_WITH(ParameterBinding(base.get(), {Spec("x", {"actuator:a9.biasprm[1]*2"}, 1.0)}),
                    doctest::Contains("'a9'"));
}

TEST_CASE("scale mode multiplies the base model's value") {
  ModelPtr base = LoadModelString(testing::PendulumXml());
  Workspace ws(base.get(), true);
  ParameterSpec s = Spec("mass_scale", {"body:link.mass"}, 2.0, 0.1, 10);
  s.mode = BindMode::kScale;
  ParameterBinding binding(base.get(), {s});
  ws.Apply(binding, binding.Initial());
  const int b = mj_name2id(base.get(), mjOBJ_BODY, "link");
  CHECK(ws.model()->body_mass[b] == doctest::Approx(2.0 * base->body_mass[b]));
  CHECK(binding.Read(ws.model(), ws.effects())[0] == doctest::Approx(2.0));
}

TEST_CASE("episode conditions over parameters: the parameter sets the base, the condition scales") {
  ModelPtr base = LoadModelString(testing::PendulumXml());
  const int b = mj_name2id(base.get(), mjOBJ_BODY, "link");
  const double m0 = base->body_mass[b];
  ParameterSpec factor = Spec("mass_factor", {"body:link.mass"}, 1.0, 0.5, 2);
  factor.mode = BindMode::kScale;
  const ParameterBinding conditions(base.get(), {factor});
  const ParameterBinding set_mass(base.get(), {Spec("mass", {"body:link.mass"}, 1.0, 0.01, 10)});
  ParameterSpec scale_spec = Spec("mass_scale", {"body:link.mass"}, 1.0, 0.1, 10);
  scale_spec.mode = BindMode::kScale;
  const ParameterBinding scale_mass(base.get(), {scale_spec});
  const ParameterBinding none;
  const Eigen::VectorXd f15 = Eigen::VectorXd::Constant(1, 1.5);
  const Eigen::VectorXd omitted =
      Eigen::VectorXd::Constant(1, std::numeric_limits<double>::quiet_NaN());
  Workspace ws(base.get(), true);
  // set-mode parameter 0.8, condition x1.5: 1.2
  ws.ApplyUnder(set_mass, Eigen::VectorXd::Constant(1, 0.8), conditions, &f15);
  CHECK(ws.model()->body_mass[b] == doctest::Approx(1.2));
  CHECK(ws.model()->body_subtreemass[b] == doctest::Approx(1.2));  // mj_setConst ran
  // scale-mode parameter x2 of the base, condition x1.5: 3 m0
  ws.ApplyUnder(scale_mass, Eigen::VectorXd::Constant(1, 2.0), conditions, &f15);
  CHECK(ws.model()->body_mass[b] == doctest::Approx(3.0 * m0));
  // no parameter on the target: the condition scales the base model's value, every time
  ws.ApplyUnder(none, Eigen::VectorXd(), conditions, &f15);
  ws.ApplyUnder(none, Eigen::VectorXd(), conditions, &f15);
  CHECK(ws.model()->body_mass[b] == doctest::Approx(1.5 * m0));
  // an episode that does not record the factor after one that did: the base value again
  ws.ApplyUnder(none, Eigen::VectorXd(), conditions, &omitted);
  CHECK(ws.model()->body_mass[b] == doctest::Approx(m0));
  ws.ApplyUnder(set_mass, Eigen::VectorXd::Constant(1, 0.8), conditions, &omitted);
  CHECK(ws.model()->body_mass[b] == doctest::Approx(0.8));
  // a set-mode condition overrides a parameter on its target
  const ParameterBinding set_condition(base.get(),
                                       {Spec("payload", {"body:link.mass"}, 1.0, 0.01, 10)});
  const Eigen::VectorXd two = Eigen::VectorXd::Constant(1, 2.0);
  ws.ApplyUnder(set_mass, Eigen::VectorXd::Constant(1, 0.8), set_condition, &two);
  CHECK(ws.model()->body_mass[b] == doctest::Approx(2.0));
  // no conditions for the episode: Apply's result
  ws.ApplyUnder(set_mass, Eigen::VectorXd::Constant(1, 0.8), conditions, nullptr);
  CHECK(ws.model()->body_mass[b] == doctest::Approx(0.8));
  // an episode that records none of the conditions after one that did, with no parameter on the
  // target: the base value again, not the last episode's (the workspace is reused across
  // episodes, and which episode a thread's workspace ran before must not matter)
  ws.ApplyUnder(none, Eigen::VectorXd(), conditions, &f15);
  REQUIRE(ws.model()->body_mass[b] == doctest::Approx(1.5 * m0));
  ws.ApplyUnder(none, Eigen::VectorXd(), conditions, nullptr);
  CHECK(ws.model()->body_mass[b] == doctest::Approx(m0));
  CHECK(ws.model()->body_subtreemass[b] == doctest::Approx(m0));
}

TEST_CASE("mj_setConst runs after a mass change: the mass matrix follows the new mass") {
  ModelPtr base = LoadModelString(testing::PendulumXml());
  Workspace ws(base.get(), true);
  const int b = mj_name2id(base.get(), mjOBJ_BODY, "link");
  ParameterBinding binding(base.get(), {Spec("m", {"body:link.mass"}, 1.0, 0.01, 10)});
  const double subtree_before = ws.model()->body_subtreemass[b];
  ws.Apply(binding, Eigen::VectorXd::Constant(1, 2.0));
  // body_subtreemass is a derived constant that only mj_setConst updates.
  CHECK(ws.model()->body_subtreemass[b] == doctest::Approx(2.0));
  CHECK(subtree_before == doctest::Approx(0.6));
  // Closed form: a point-free check of the hinge inertia through the mass matrix.
  ws.SetState(State::Reference(ws.model()));
  mj_forward(ws.model(), ws.data());
  const mjModel* m = ws.model();
  const double* ipos = m->body_ipos + 3 * b;
  const double* inertia = m->body_inertia + 3 * b;
  // Hinge about y through the body origin; principal axes aligned with the body frame here.
  const double expected = inertia[1] + 2.0 * (ipos[0] * ipos[0] + ipos[2] * ipos[2]);
  CHECK(ws.data()->qM[0] == doctest::Approx(expected).epsilon(1e-6));
}

TEST_CASE("unknown names list the valid ones") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  auto message = [&](const std::string& target) {
    try {
      ResolveTarget(m.get(), target);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("joint:elbow.damping").find("(hinge)") != std::string::npos);
  CHECK(message("joint:hinge.dumping").find("damping, frictionloss, armature") !=
        std::string::npos);
  CHECK(message("geom:bob.friction").find("an index [0..2]") != std::string::npos);
  CHECK(message("geom:bob.friction[3]").find("got [3]") != std::string::npos);
  CHECK(message("geom:bob.friction[x]").find("non-negative integer") != std::string::npos);
  CHECK(message("wheel:w.radius").find("an element kind (joint, body") != std::string::npos);
  CHECK(message("opt.timestamp").find("timestep, gravity") != std::string::npos);
  CHECK(message("nonsense").find("kind:element.field") != std::string::npos);
  CHECK(message("ctrl:motor.offset").find("gain or bias") != std::string::npos);
  CHECK(message("sensor:angle.bias") == "no error");
}

TEST_CASE("invalid specs are refused with the field named") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  ParameterSpec s = Spec("d", {"joint:hinge.damping"}, 5.0, 0.0, 1.0);
  CHECK_THROWS_WITH_AS(ParameterBinding(m.get(), {s}), doctest::Contains("d'.initial"), InputError);
  s = Spec("d", {"joint:hinge.damping"}, 0.5, 0.0, 1.0);
  s.log_scale = true;
  CHECK_THROWS_WITH_AS(ParameterBinding(m.get(), {s}), doctest::Contains("lower bound > 0"),
                       InputError);
  s = Spec("d", {}, 0.5, 0.0, 1.0);
  CHECK_THROWS_WITH_AS(ParameterBinding(m.get(), {s}), doctest::Contains("at least one target"),
                       InputError);
  s = Spec("d", {"joint:hinge.damping"}, 0.5, 0.0, 1.0);
  CHECK_THROWS_WITH_AS(ParameterBinding(m.get(), {s, s}), doctest::Contains("unique name"),
                       InputError);
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("bounds that allow a negative mass, inertia, damping, armature or friction are refused") {
  ModelPtr base = LoadModelString(testing::ArmBoxXml());
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"body:arm1.mass", "a mass"},
      {"body:arm1.inertia[1]", "an inertia"},
      {"joint:j1.damping", "a damping"},
      {"joint:j2.armature", "an armature"},
      {"joint:j3.frictionloss", "a friction loss"}};
  for (const auto& field : fields) {
    // named: a lambda (doctest's INFO) cannot capture a structured binding before C++20
    const std::string& target = field.first;
    const std::string& quantity = field.second;
    INFO(target);
    testing::CheckError([&] { ParameterBinding(base.get(), {Spec("p", {target}, 0.5, -0.1, 1)}); },
                        {"parameter 'p': bounds: expected", "keep target '" + target + "' >= 0",
                         quantity + " cannot be negative", "got [-0.1, 1]"});
    testing::CheckError([&] { ParameterBinding(base.get(), {Spec("p", {target}, 0.5)}); },
                        {"parameter 'p': bounds", "got [-1000000000, 1000000000]"});
    ParameterSpec none = Spec("p", {target}, 0.5);
    none.lower = -1e300;
    none.upper = 1e300;
    testing::CheckError([&] { ParameterBinding(base.get(), {none}); }, {"got no bounds"});
    // Zero is allowed (a massless link is MuJoCo's business; no damping is common).
    CHECK(ParameterBinding(base.get(), {Spec("p", {target}, 0.5, 0, 1)}).size() == 1);
  }
  // A *-1 factor flips the check: set mode writes -value.
  testing::CheckError(
      [&] { ParameterBinding(base.get(), {Spec("p", {"joint:j1.damping*-1"}, 0.5, 0, 1)}); },
      {"parameter 'p': bounds"});
  CHECK(ParameterBinding(base.get(), {Spec("p", {"joint:j1.damping*-1"}, -0.5, -1, 0)}).size() ==
        1);
  // Scale mode: the base value times the bounds.
  ParameterSpec scale = Spec("s", {"body:arm1.mass"}, 1.0, -0.5, 2);
  scale.mode = BindMode::kScale;
  testing::CheckError([&] { ParameterBinding(base.get(), {scale}); }, {"times 0.5"});
  scale.lower = 0.5;
  CHECK(ParameterBinding(base.get(), {scale}).size() == 1);
  // Fields of either sign stay free.
  CHECK(ParameterBinding(base.get(), {Spec("g", {"opt.gravity[2]"}, -9.8)}).size() == 1);
  CHECK(ParameterBinding(base.get(), {Spec("x", {"body:arm1.ipos[0]"}, 0.1)}).size() == 1);
}

TEST_CASE("a prior mean outside the bounds is refused") {
  ParameterSpec s = Spec("d", {"joint:j1.damping"}, 0.5, 0, 1);
  s.prior_std = 0.1;
  s.prior_mean = 1.5;
  CHECK(s.Validate().find("parameter 'd'.prior.mean: expected a mean within the bounds [0, 1], "
                          "got 1.5") != std::string::npos);
  s.prior_mean = 1.0;
  CHECK(s.Validate().empty());
  s.prior_std = 0;  // no prior: the mean is not used
  s.prior_mean = 7;
  CHECK(s.Validate().empty());
}

}  // namespace
}  // namespace nextbatch
