// Uses the installed engine: loads a model from a string, steps it, and checks that bad input
// arrives as nextbatch's InputError. Exit 0 when all holds.
#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/rollout.h"
#include "engine/workspace.h"

int main() {
  using namespace nextbatch;
  // Free fall from rest for 100 steps of 1 ms with semi-implicit Euler: z = -g dt^2 n(n+1)/2.
  ModelPtr m = LoadModelString(R"(<mujoco><option timestep="0.001" integrator="Euler"/>
    <worldbody><body><joint type="slide" axis="0 0 1"/><geom type="sphere" size="0.1"/></body>
    </worldbody></mujoco>)");
  Workspace ws(m.get(), false);
  ws.SetState(State::Reference(m.get()));
  RolloutOptions options;
  options.num_steps = 100;
  RolloutResult r = Rollout(ws, nullptr, options);
  const double expected = -9.81 * 1e-6 * 100 * 101 / 2;
  if (!r.ok() || std::fabs(r.qpos(100, 0) - expected) > 1e-12) {
    std::fprintf(stderr, "consumer: free fall gave %g, expected %g\n", r.qpos(100, 0), expected);
    return 1;
  }
  try {
    LoadModelString("<mujoco><worldbody><body>");
    std::fprintf(stderr, "consumer: a malformed model loaded\n");
    return 1;
  } catch (const InputError& e) {
    std::printf("consumer: ok (malformed model refused: %s)\n", e.what());
  }
  return 0;
}
