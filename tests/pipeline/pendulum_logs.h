// The pipeline tests' shared data: the DFKI pendulum model and two synthetic logs of it, made with
// hidden damping 0.08 and friction 0.15 from two start angles, written into a test folder.
#ifndef NEXTBATCH_TESTS_PIPELINE_PENDULUM_LOGS_H_
#define NEXTBATCH_TESTS_PIPELINE_PENDULUM_LOGS_H_

#include <string>

#include "engine/episode_io.h"
#include "engine/model.h"
#include "engine/parameter.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch::testing {

// Writes pendulum.xml, ep0.json and ep1.json into `dir`.
inline void WritePendulumLogs(const TempDir& dir) {
  dir.Write("pendulum.xml", ReadFile(NEXTBATCH_SOURCE_DIR "/examples/dfki_pendulum/pendulum.xml"));
  ModelPtr m = LoadModelFile(dir.File("pendulum.xml"));
  ParameterSpec damping{"damping", {"joint:shoulder.damping"}};
  ParameterSpec friction{"friction", {"joint:shoulder.frictionloss"}};
  damping.upper = friction.upper = 1;
  damping.lower = friction.lower = 0;
  ParameterBinding b(m.get(), {damping, friction});
  SyntheticLog log;
  log.duration = 1.5;
  log.qvel_noise = 0.02;
  log.ctrl_offset = {0.0};
  log.ctrl_amplitude = {2.0};
  for (int i = 0; i < 2; ++i) {
    State s = State::Reference(m.get());
    s.qpos[0] = 0.5 * i - 0.2;
    const Episode e = MakeEpisode(m.get(), b, Eigen::Vector2d(0.08, 0.15), s, log, i);
    WriteEpisodeJson(e, dir.File("ep" + std::to_string(i) + ".json"));
  }
}

}  // namespace nextbatch::testing

#endif  // NEXTBATCH_TESTS_PIPELINE_PENDULUM_LOGS_H_
