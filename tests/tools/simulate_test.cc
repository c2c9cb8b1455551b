// Runs `nextbatch simulate` as a user would: exit codes, outputs, determinism across threads.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/atomic_file.h"
#include "engine/json_reader.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

using testing::RunNextbatch;

// A small swing-up study over the DFKI pendulum: 10 candidates x 3 posterior samples, 1 s.
nlohmann::json SmallStudy() {
  return nlohmann::json::parse(R"({"schema": "nextbatch.study/1", "seed": 4,
    "model": "pendulum.xml",
    "parameters": [{"name": "damping", "targets": ["joint:shoulder.damping"], "initial": 0.05,
                    "bounds": [0, 1], "prior": {"mean": 0.05, "std": 0.02}}],
    "scenarios": {"factors": [
      {"name": "initial_angle", "range": [-0.5, 0.5],
       "binding": {"kind": "qpos", "target": "shoulder"}},
      {"name": "torque_limit", "range": [0.5, 3.0],
       "binding": {"kind": "parameter", "target": "actuator:motor.ctrlrange[1]"}}]},
    "task": {"horizon": 1.0,
      "controller": {"type": "energy_swing_up", "joint": "shoulder", "actuator": "motor"},
      "outcome": {
        "success": {"quantity": {"joint": "shoulder", "abs": true}, "op": ">", "value": 1.5,
                    "when": "ever"},
        "metrics": {"peak": {"quantity": {"joint": "shoulder", "abs": true}, "reduce": "max"}}}},
    "simulate": {"candidates": 10, "posterior_samples": 3, "chunk": 4}})");
}

TEST_CASE("simulate writes one line per candidate, the same for 1 and 2 threads") {
  testing::TempDir dir("simulate_ok");
  dir.Write("pendulum.xml", ReadFile(NEXTBATCH_SOURCE_DIR "/examples/dfki_pendulum/pendulum.xml"));
  const std::string study = dir.Write("study.json", SmallStudy().dump());
  REQUIRE(RunNextbatch("simulate " + study + " -o " + dir.File("one") + " -j 1",
                       dir.File("log1")) == 0);
  REQUIRE(RunNextbatch("simulate " + study + " -o " + dir.File("two") + " -j 2",
                       dir.File("log2")) == 0);
  const std::string one = ReadFile(dir.File("one/simulate/candidates.jsonl"));
  CHECK(one == ReadFile(dir.File("two/simulate/candidates.jsonl")));
  CHECK(!std::filesystem::exists(dir.File("one/simulate/candidates.jsonl.tmp")));
  const nlohmann::json summary = ReadJsonFile(dir.File("one/simulate/candidates.json"));
  CHECK(summary.at("schema") == "nextbatch.candidates/1");
  CHECK(summary.at("candidates") == 10);
  CHECK(summary.at("summary").at("rollouts") == 30);
  CHECK(summary.at("summary").at("steps") == 30 * 1000);
  std::ifstream in(dir.File("one/simulate/candidates.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const nlohmann::json c = nlohmann::json::parse(line);
    CHECK(c.at("index") == n);
    CHECK(c.at("rollouts") == 3);
    CHECK(c.at("scenario").contains("torque_limit"));
    CHECK(c.at("success").get<double>() >= 0.0);
    CHECK(c.at("metrics").at("peak").at("mean").get<double>() > 0.0);
    ++n;
  }
  CHECK(n == 10);
}

TEST_CASE("a log file gets progress as whole lines only when the environment asks") {
  testing::TempDir dir("simulate_progress");
  dir.Write("pendulum.xml", ReadFile(NEXTBATCH_SOURCE_DIR "/examples/dfki_pendulum/pendulum.xml"));
  const std::string study = dir.Write("study.json", SmallStudy().dump());
  REQUIRE(RunNextbatch("simulate " + study + " -o " + dir.File("plain"), dir.File("plain.log")) ==
          0);
  CHECK(ReadFile(dir.File("plain.log")).find("simulate: 10/10") == std::string::npos);
  REQUIRE(RunNextbatch("simulate " + study + " -o " + dir.File("lines"), dir.File("lines.log"),
                       "NEXTBATCH_PROGRESS=lines") == 0);
  const std::string log = ReadFile(dir.File("lines.log"));
  // The first chunk's line at once (chunks of 4), the next within 30 s skipped, the last when
  // done; each ended, none rewritten in place.
  const std::size_t first = log.find("simulate: 4/10 (eta ");
  REQUIRE(first != std::string::npos);
  CHECK(log.find("simulate: 8/10") == std::string::npos);
  CHECK(log.find('\n', first) < log.find("simulate: 10/10"));
  const std::size_t last = log.find("simulate: 10/10 (took ");
  REQUIRE(last != std::string::npos);
  CHECK(log.find('\n', last) != std::string::npos);
  CHECK(log.find('\r') == std::string::npos);
  CHECK(log.find("\033[K") == std::string::npos);
  // The same candidates either way.
  CHECK(ReadFile(dir.File("plain/simulate/candidates.jsonl")) ==
        ReadFile(dir.File("lines/simulate/candidates.jsonl")));
  // A value it does not know: exit 2 before any work, nothing written.
  CHECK(RunNextbatch("simulate " + study + " -o " + dir.File("bad"), dir.File("bad.log"),
                     "NEXTBATCH_PROGRESS=verbose") == 2);
  CHECK(ReadFile(dir.File("bad.log")).find("NEXTBATCH_PROGRESS") != std::string::npos);
  CHECK(!std::filesystem::exists(dir.File("bad/simulate")));
}

TEST_CASE("simulate on a malformed study exits 2, names the field and writes nothing") {
  testing::TempDir dir("simulate_bad");
  dir.Write("pendulum.xml", ReadFile(NEXTBATCH_SOURCE_DIR "/examples/dfki_pendulum/pendulum.xml"));
  nlohmann::json j = SmallStudy();
  j["simulate"]["candiates"] = 5;
  const std::string study = dir.Write("study.json", j.dump());
  CHECK(RunNextbatch("simulate " + study + " -o " + dir.File("out"), dir.File("log")) == 2);
  CHECK(ReadFile(dir.File("log")).find("simulate.candiates") != std::string::npos);
  CHECK(!std::filesystem::exists(dir.File("out")));
  j = SmallStudy();
  j["task"]["outcome"]["success"]["quantity"]["joint"] = "elbow";
  dir.Write("study.json", j.dump());
  CHECK(RunNextbatch("simulate " + study + " -o " + dir.File("out"), dir.File("log")) == 2);
  CHECK(ReadFile(dir.File("log")).find("expected a joint of the model (shoulder)") !=
        std::string::npos);
}

}  // namespace
}  // namespace nextbatch
