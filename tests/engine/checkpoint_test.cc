#include "engine/checkpoint.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "engine/atomic_file.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

TEST_CASE("a checkpoint round-trips, names what changed, and a broken one says why") {
  testing::TempDir dir("checkpoint");
  const std::string cp = CheckpointDir(dir.path(), "simulate");
  CHECK(std::filesystem::path(cp).filename() == ".simulate.resume");
  std::string why;
  CHECK_FALSE(ReadCheckpoint(cp, &why));  // none: not an error
  CHECK(why.empty());

  Checkpoint c;
  c.stage = "simulate";
  c.version = "1.2.3";
  c.inputs = {{"study:seed", "aa"}, {"study:task", "bb"}};
  c.progress = {{"candidates", 256}, {"success_sum", 0.1 + 0.2}};
  WriteCheckpoint(cp, c);
  const std::optional<Checkpoint> back = ReadCheckpoint(cp, &why);
  REQUIRE(back);
  CHECK(back->stage == "simulate");
  CHECK(back->inputs == c.inputs);
  CHECK(back->progress["success_sum"].get<double>() == 0.1 + 0.2);  // every bit
  CHECK(CheckpointMismatch(*back, c.inputs, "1.2.3").empty());
  CHECK(CheckpointMismatch(*back, {{"study:seed", "ab"}, {"study:task", "bb"}}, "1.2.3") ==
        "study section 'seed' changed");
  CHECK(CheckpointMismatch(*back, c.inputs, "1.2.4") ==
        "it was made by nextbatch 1.2.3, this is 1.2.4");

  WriteFileAtomic(cp + "/checkpoint.json",
                  "{\"schema\": \"nextbatch.checkpoint/1\", \"stage\": 3}");
  CHECK_FALSE(ReadCheckpoint(cp, &why));
  CHECK(why.find("checkpoint.json: stage: expected a string") != std::string::npos);
  WriteFileAtomic(cp + "/checkpoint.json", "{\"schema\": \"nextbatch.checkpoint/1\", \"sta");
  CHECK_FALSE(ReadCheckpoint(cp, &why));
  CHECK(why.find("checkpoint.json") != std::string::npos);

  RemoveCheckpoint(cp);
  CHECK_FALSE(std::filesystem::exists(cp));
  RemoveCheckpoint(cp);  // gone already: no error
}

}  // namespace
}  // namespace nextbatch
