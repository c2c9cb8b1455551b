#include "engine/workspace.h"

#include <doctest/doctest.h>

#include <cstring>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/random.h"
#include "engine/rollout.h"
#include "tests/fixtures/models.h"

namespace nextbatch {
namespace {

// Four boxes dropped onto a plane. With nstack="1000" the contact-free steps fit in MuJoCo's
// stack but the first step that sees contacts overflows it: mju_error inside mj_step.
std::string FallingBoxesXml(int nstack) {
  std::string xml = R"(<mujoco><option timestep="0.005"/><size nstack=")" + std::to_string(nstack) +
                    R"("/><worldbody><geom type="plane" size="2 2 .1"/>)";
  for (int i = 0; i < 4; ++i) {
    xml += "<body pos='" + std::to_string(0.3 * i) + " 0 " + std::to_string(0.2 + 0.1 * i) +
           "'><freejoint/><geom type='box' size='.05 .05 .05'/></body>";
  }
  return xml + "</worldbody></mujoco>";
}

// The first step (1-based) whose forward pass finds a contact, with room to spare on the stack.
int FirstContactStep() {
  ModelPtr m = LoadModelString(FallingBoxesXml(100000));
  DataPtr d = MakeData(m.get());
  for (int step = 1; step <= 1000; ++step) {
    mj_step(m.get(), d.get());
    if (d->ncon > 0) return step;
  }
  return -1;
}

TEST_CASE("a MuJoCo error inside mj_step is reported as kMujocoError and the workspace recovers") {
  const int contact_step = FirstContactStep();
  REQUIRE(contact_step > 10);
  ModelPtr m = LoadModelString(FallingBoxesXml(1000));
  Workspace ws(m.get(), false);
  RolloutOptions o;
  o.num_steps = 400;

  ws.SetState(State::Reference(m.get()));
  RolloutResult r = Rollout(ws, nullptr, o);
  CHECK(r.status == RolloutStatus::kMujocoError);
  CHECK(r.message.find("MuJoCo") != std::string::npos);
  // It fails on the very step that first sees contacts, not at load and not on the first step.
  CHECK(r.steps == contact_step - 1);
  CHECK(r.qpos.rows() == r.steps + 1);
  CHECK(r.qpos.allFinite());

  // The stack was released: the same rollout again fails at the same step, not earlier.
  ws.SetState(State::Reference(m.get()));
  RolloutResult again = Rollout(ws, nullptr, o);
  CHECK(again.status == RolloutStatus::kMujocoError);
  CHECK(again.steps == r.steps);
  CHECK((again.qpos.array() == r.qpos.array()).all());

  // A rollout that stays clear of contacts runs as on a fresh workspace, bit for bit.
  o.num_steps = contact_step - 5;
  ws.SetState(State::Reference(m.get()));
  RolloutResult after = Rollout(ws, nullptr, o);
  Workspace fresh(m.get(), false);
  fresh.SetState(State::Reference(m.get()));
  RolloutResult reference = Rollout(fresh, nullptr, o);
  REQUIRE(after.ok());
  REQUIRE(reference.ok());
  CHECK((after.qpos.array() == reference.qpos.array()).all());
  CHECK((after.qvel.array() == reference.qvel.array()).all());
}

TEST_CASE("MuJoCo errors inside a parallel batch stay per rollout") {
  ModelPtr m = LoadModelString(FallingBoxesXml(1000));
  const int n = 8;
  std::vector<RolloutResult> results(n);
  WorkspacePool pool(m.get(), 2, false);
  ParallelFor(n, 2, [&](int i, int t) {
    pool[t].SetState(State::Reference(m.get()));
    RolloutOptions o;
    o.num_steps = i % 2 ? 400 : 20;  // odd items reach the contacts, even ones do not
    results[i] = Rollout(pool[t], nullptr, o);
  });
  for (int i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(results[i].status == (i % 2 ? RolloutStatus::kMujocoError : RolloutStatus::kOk));
    CHECK((results[i].qpos.array() == results[i % 2].qpos.array()).all());
  }
}

// Byte-wise equality of everything a model holds by value (arrays, options, statistics).
bool SameModel(const mjModel* a, const mjModel* b) {
  return a->nbuffer == b->nbuffer && std::memcmp(a->buffer, b->buffer, a->nbuffer) == 0 &&
         std::memcmp(&a->opt, &b->opt, sizeof(mjOption)) == 0 &&
         std::memcmp(&a->stat, &b->stat, sizeof(mjStatistic)) == 0;
}

TEST_CASE("Apply changes only the private copy, RestoreBase brings back the base exactly") {
  ModelPtr base = LoadModelString(testing::ArmBoxXml());
  ModelPtr snapshot = CopyModel(base.get());
  auto spec = [](const std::string& name, const std::string& target, double initial) {
    ParameterSpec s;
    s.name = name;
    s.targets = {target};
    s.initial = initial;
    return s;
  };
  ParameterSpec damping = spec("damping", "joint:j2.damping", 1.0);
  damping.mode = BindMode::kScale;
  ParameterSpec mass = spec("mass", "body:box.mass", 0.2);  // mj_setConst
  mass.lower = damping.lower = 0;  // masses and dampings are bounded below by 0
  mass.upper = damping.upper = 10;
  ParameterBinding binding(
      base.get(),
      {mass, spec("mu", "geom:box.friction[0]", 0.8), damping,
       spec("gravity", "opt.gravity[2]", -9.81), spec("kp", "actuator:a1.gainprm[0]", 20.0),
       spec("gain", "ctrl:a2.gain", 1.0), spec("delay", "ctrl.delay", 0.0)});
  REQUIRE(binding.needs_set_const());
  Workspace ws(base.get(), true);
  REQUIRE(ws.model() != base.get());
  REQUIRE(SameModel(ws.model(), base.get()));

  for (int k = 0; k < 5; ++k) {
    RandomStream rng(3, Stage::kTest, k);
    Eigen::VectorXd values = binding.Initial();
    for (int i = 0; i < values.size(); ++i) values[i] *= rng.Uniform(0.5, 1.5);
    values[6] = rng.Uniform(0.0, 0.01);
    ws.Apply(binding, values);
    CAPTURE(k);
    CHECK(SameModel(base.get(), snapshot.get()));
    CHECK_FALSE(SameModel(ws.model(), base.get()));
    const Eigen::VectorXd read = binding.Read(ws.model(), ws.effects());
    for (int i = 0; i < values.size(); ++i) CHECK(read[i] == doctest::Approx(values[i]));
    // The mass went through mj_setConst: the derived subtree mass of the box follows it.
    const int box = mj_name2id(ws.model(), mjOBJ_BODY, "box");
    CHECK(ws.model()->body_subtreemass[box] == doctest::Approx(values[0]));
  }
  ws.RestoreBase();
  CHECK(SameModel(ws.model(), base.get()));
  CHECK(SameModel(base.get(), snapshot.get()));
  CHECK(ws.effects().IsIdentity());
}

}  // namespace
}  // namespace nextbatch
