#include "engine/model.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/error.h"
#include "engine/workspace.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/shared_data.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

TEST_CASE("a model loads from a string through the virtual file system") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  REQUIRE(m);
  CHECK(m->nq == 1);
  CHECK(m->nu == 1);
  CHECK(m->opt.timestep == doctest::Approx(0.002));
}

TEST_CASE("a model loads from a file, and the ViperX 300s of shared/models loads") {
  const std::string path = NEXTBATCH_SHARED_DIR "/models/trossen_vx300s/scene.xml";
  if (!testing::SharedPresent(path)) return;
  ModelPtr m = LoadModelFile(path);
  CHECK(m->nu == 7);
  CHECK(m->njnt >= 8);
}

TEST_CASE("a malformed model is an InputError carrying MuJoCo's message") {
  CHECK_THROWS_WITH_AS(LoadModelString("<mujoco><worldbody><body></mujoco>", {}, "broken.xml"),
                       doctest::Contains("broken.xml: cannot load model"), InputError);
  try {
    LoadModelString(R"(<mujoco><worldbody><geom type="sphere" size="-1"/></worldbody></mujoco>)",
                    {}, "bad_size.xml");
    FAIL("expected an error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("bad_size.xml") != std::string::npos);
    CHECK(std::string(e.what()).size() > 30);
  }
}

TEST_CASE("a missing model file is an InputError naming the file") {
  CHECK_THROWS_WITH_AS(LoadModelFile("/nonexistent/robot.xml"),
                       doctest::Contains("/nonexistent/robot.xml"), InputError);
}

TEST_CASE("assets given with the string are found by the model") {
  const std::string xml = R"(<mujoco><include file="body.xml"/></mujoco>)";
  const std::string body = R"(<mujoco><worldbody><body name="b"><joint type="slide"/>
    <geom type="sphere" size="0.1"/></body></worldbody></mujoco>)";
  ModelPtr m = LoadModelString(xml, {{"body.xml", body}});
  CHECK(m->nbody == 2);
}

TEST_CASE("a MuJoCo error inside a call becomes a MujocoError, not an exit") {
  // A tiny arena makes mj_makeData or the first step run out of memory: mju_error in 2.2.2.
  const std::string xml = R"(<mujoco><size nstack="100"/><worldbody>
    <body><freejoint/><geom type="box" size=".1 .1 .1"/></body>
    <body pos="0 0 .15"><freejoint/><geom type="box" size=".1 .1 .1"/></body>
    <geom type="plane" size="1 1 .1"/></worldbody></mujoco>)";
  bool thrown = false;
  try {
    ModelPtr m = LoadModelString(xml);
    Workspace ws(m.get(), false);
    for (int i = 0; i < 10; ++i) mj_step(ws.model(), ws.data());
  } catch (const MujocoError& e) {
    thrown = true;
    CHECK(std::string(e.what()).find("MuJoCo") != std::string::npos);
  } catch (const InputError& e) {
    thrown = true;  // the compiler may already refuse the size
    MESSAGE(std::string(e.what()));
  }
  CHECK(thrown);
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("a scene that adds joints to an included robot with a keyframe loads") {
  // MuJoCo 2.2.2 rejects the robot's keyframe once the scene has more joints than it covers.
  const std::string dir = "/tmp/nextbatch_scene_test_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/robot.xml") << R"(<mujoco><worldbody><body name="arm">
    <joint name="j" type="hinge"/><geom type="capsule" size=".02 .1"/></body></worldbody>
    <keyframe><key name="home" qpos="0.5"/></keyframe></mujoco>)";
  std::ofstream(dir + "/scene.xml") << R"(<mujoco><include file="robot.xml"/><worldbody>
    <body name="box" pos="1 0 0"><freejoint/><geom type="box" size=".1 .1 .1"/></body>
    </worldbody></mujoco>)";
  ModelPtr m = LoadModelFile(dir + "/scene.xml");
  CHECK(m->nq == 8);
  CHECK(m->nkey == 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("a model file with an absurd time step, or that is no regular file, is refused") {
  testing::TempDir dir("model_timestep");
  for (double h : {10.0, 0.15, 0.0}) {
    const std::string path = dir.Write("slow.xml", testing::PendulumXml(h));
    INFO(h);
    testing::CheckError([&] { LoadModelFile(path); },
                        {"slow.xml: option.timestep", "a time step in (0, 0.1] s"});
  }
  CHECK(LoadModelFile(dir.Write("ok.xml", testing::PendulumXml(0.1)))->opt.timestep == 0.1);
  testing::CheckError([] { LoadModelFile("/dev/zero"); }, {"/dev/zero", "got a device"});
  testing::CheckError([&] { LoadModelFile(dir.path()); }, {"got a directory"});
}

}  // namespace
}  // namespace nextbatch
