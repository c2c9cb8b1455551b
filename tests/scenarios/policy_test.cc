#include "scenarios/policy.h"

#include <doctest/doctest.h>

#include "engine/model.h"
#include "tests/fixtures/models.h"

namespace nextbatch {
namespace {

// u = -k . obs + a nonlinearity, the same arithmetic for one row or many.
double Law(const double* obs, int n) {
  double u = 0;
  for (int i = 0; i < n; ++i) u -= (i + 1) * 0.7 * obs[i];
  return 2.0 * std::tanh(u) + 0.1 * obs[0] * obs[0];
}

class LinearPolicy : public Policy {
 public:
  void Act(const double* obs, int n, double* ctrl, int nu) override {
    for (int k = 0; k < nu; ++k) ctrl[k] = Law(obs, n);
  }
};

class LinearBatchPolicy : public BatchPolicy {
 public:
  int calls = 0;
  void Act(int batch, const double* obs, int n, double* ctrl, int nu) override {
    ++calls;
    for (int b = 0; b < batch; ++b) {
      for (int k = 0; k < nu; ++k) ctrl[b * nu + k] = Law(obs + b * n, n);
    }
  }
};

TEST_CASE("batched policy stepping equals one-at-a-time stepping exactly, for any thread count") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  ParameterSpec delay{"delay", {"ctrl.delay"}};
  delay.initial = 0.005;  // effects apply in both paths
  ParameterBinding binding(m.get(), {delay});
  const int batch = 5, steps = 400;
  ObservationSpec spec;
  spec.time = true;
  auto initial = [&](int i) {
    State s = State::Reference(m.get());
    s.qpos[0] = 0.2 * i - 0.4;
    s.qvel[0] = 0.1 * i;
    return s;
  };
  // one at a time, through the engine's rollout
  std::vector<Eigen::VectorXd> qpos(batch), qvel(batch);
  for (int i = 0; i < batch; ++i) {
    Workspace ws(m.get(), true);
    ws.Apply(binding, binding.Initial());
    ws.SetState(initial(i));
    LinearPolicy p;
    PolicyController c(&p, spec, &ws.effects());
    RolloutOptions o;
    o.num_steps = steps;
    o.record_every = 0;
    REQUIRE(Rollout(ws, &c, o).ok());
    qpos[i] = Eigen::Map<Eigen::VectorXd>(ws.data()->qpos, m->nq);
    qvel[i] = Eigen::Map<Eigen::VectorXd>(ws.data()->qvel, m->nv);
  }
  for (int threads : {1, 2}) {
    std::vector<std::unique_ptr<Workspace>> own;
    std::vector<Workspace*> ws;
    for (int i = 0; i < batch; ++i) {
      own.push_back(std::make_unique<Workspace>(m.get(), true));
      own.back()->Apply(binding, binding.Initial());
      own.back()->SetState(initial(i));
      ws.push_back(own.back().get());
    }
    LinearBatchPolicy p;
    BatchRolloutOptions o;
    o.num_steps = steps;
    o.observation = spec;
    o.num_threads = threads;
    std::vector<RolloutResult> r = BatchRollout(ws, p, o);
    CHECK(p.calls == steps);
    for (int i = 0; i < batch; ++i) {
      REQUIRE(r[i].ok());
      CHECK(r[i].steps == steps);
      CHECK(r[i].qpos(0, 0) == qpos[i][0]);  // bit-identical
      CHECK(r[i].qvel(0, 0) == qvel[i][0]);
    }
  }
}

TEST_CASE("a diverging scenario stops alone, the others finish") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  std::vector<std::unique_ptr<Workspace>> own;
  std::vector<Workspace*> ws;
  for (int i = 0; i < 3; ++i) {
    own.push_back(std::make_unique<Workspace>(m.get(), false));
    own.back()->SetState(State::Reference(m.get()));
    ws.push_back(own.back().get());
  }
  class Blowup : public BatchPolicy {
    void Act(int batch, const double*, int, double* ctrl, int) override {
      for (int b = 0; b < batch; ++b) ctrl[b] = b == 1 ? std::nan("") : 0.1;
    }
  } p;
  BatchRolloutOptions o;
  o.num_steps = 20;
  std::vector<RolloutResult> r = BatchRollout(ws, p, o);
  CHECK(r[0].ok());
  CHECK(r[2].ok());
  CHECK(r[1].status == RolloutStatus::kDiverged);
  CHECK(r[0].steps == 20);
}

}  // namespace
}  // namespace nextbatch
