// Uses the installed package: loads a model from a string, steps it, checks that bad input
// arrives as nextbatch's InputError, and runs the pipeline's simulate stage on a small study,
// reading its set back through the scenarios module. Exit 0 when all holds.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/rollout.h"
#include "engine/workspace.h"
#include "pipeline/pipeline.h"
#include "scenarios/simulate_study.h"

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
    std::printf("consumer: malformed model refused: %s\n", e.what());
  }
  // A study with a hinge, a motor and 4 candidates, simulated under the parameter's prior.
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "nextbatch_consumer_study";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "arm.xml") << R"(<mujoco><option timestep="0.002"/><worldbody>
    <body><joint name="hinge" type="hinge" axis="0 1 0" damping="0.1"/>
    <geom type="capsule" fromto="0 0 0 0 0 -0.3" size="0.02" mass="0.5"/></body></worldbody>
    <actuator><motor name="motor" joint="hinge"/></actuator></mujoco>)";
  std::ofstream(dir / "study.json") << R"({"schema": "nextbatch.study/1", "seed": 2,
    "model": "arm.xml",
    "parameters": [{"name": "damping", "targets": ["joint:hinge.damping"], "initial": 0.1,
                    "bounds": [0, 1], "prior": {"mean": 0.1, "std": 0.02}}],
    "scenarios": {"factors": [{"name": "start", "range": [-0.5, 0.5],
                               "binding": {"kind": "qpos", "target": "hinge"}}]},
    "task": {"horizon": 0.2, "controller": {"type": "none"},
             "outcome": {"success": {"quantity": {"joint": "hinge", "abs": true}, "op": "<",
                                     "value": 1.0, "when": "always"}}},
    "simulate": {"candidates": 4, "posterior_samples": 2}})";
  PipelineOptions pipeline;
  pipeline.out = (dir / "out").string();
  pipeline.quiet = true;
  const StageReport report =
      RunStage(StageId::kSimulate, Study::Load((dir / "study.json").string()), pipeline);
  const CandidateSet set = ReadCandidateSet(report.dir);
  if (report.exit_code != 0 || !report.published || set.candidates.size() != 4) {
    std::fprintf(stderr, "consumer: simulate stage gave exit %d, %zu candidates\n",
                 report.exit_code, set.candidates.size());
    return 1;
  }
  std::filesystem::remove_all(dir);
  std::printf("consumer: ok (simulate stage published %s)\n", report.dir.c_str());
  return 0;
}
