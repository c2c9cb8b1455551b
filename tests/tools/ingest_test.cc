// Runs the built `nextbatch` command as a user would and checks exit codes and outputs.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/atomic_file.h"
#include "engine/json_reader.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/shared_data.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

using testing::RunNextbatch;

TEST_CASE("ingest on a malformed study exits 2 and writes no dataset.json") {
  testing::TempDir dir("ingest_bad");
  dir.Write("pendulum.xml", ReadFile(NEXTBATCH_SOURCE_DIR "/examples/dfki_pendulum/pendulum.xml"));
  dir.Write("log.csv", "time,position,torque\n0,0,0\n0.01,0.1,0\n0.02,0.2,0\n");
  const std::string study = dir.Write("study.json", R"({"schema": "nextbatch.study/1",
    "model": "pendulum.xml",
    "dataset": {"importer": {"time": {"column": "time"},
                             "qpos": [{"column": "position", "joint": "shoulder", "unti": "rad"}]},
                "episodes": [{"path": "log.csv"}]}})");
  const std::string out = dir.File("out");
  CHECK(RunNextbatch("ingest " + study + " -o " + out, dir.File("log.txt")) == 2);
  CHECK(!std::filesystem::exists(out));
  const std::string log = ReadFile(dir.File("log.txt"));
  CHECK(log.find("dataset.importer.qpos[0].unti: unknown key") != std::string::npos);
}

TEST_CASE("ingest on the XL330 example study exits 0 and writes the dataset and episodes") {
  if (!testing::SharedPresent(NEXTBATCH_SHARED_DIR "/realdata/rhoban_bam_xl330/raw")) return;
  testing::TempDir dir("ingest_xl330");
  const std::string out = dir.File("out");
  REQUIRE(RunNextbatch("ingest " NEXTBATCH_SOURCE_DIR "/examples/xl330/study.json -o " + out,
                       dir.File("log.txt")) == 0);
  const nlohmann::json d = ReadJsonFile(out + "/ingest/dataset.json");
  CHECK(d.at("schema") == "nextbatch.dataset/1");
  REQUIRE(d.at("episodes").size() == 16);
  CHECK(d.at("dropped").empty());
  CHECK(d.at("totals").at("samples_read") == 19452);
  for (const auto& e : d.at("episodes")) {
    CHECK(std::filesystem::exists(out + "/ingest/" + e.at("file").get<std::string>()));
    CHECK(e.at("rate_hz") == doctest::Approx(500.0));
  }
  const std::string log = ReadFile(dir.File("log.txt"));
  CHECK(log.find("16 episodes, 0 dropped") != std::string::npos);
  CHECK(log.find("filter 1138") != std::string::npos);
}

}  // namespace
}  // namespace nextbatch
