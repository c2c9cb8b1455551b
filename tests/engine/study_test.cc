#include "engine/study.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <string>

#include "engine/parallel.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

std::string StudyText(const std::string& extra) {
  return R"({"schema": "nextbatch.study/1", "model": "m.xml")" + extra + "}";
}

TEST_CASE("the study's threads: 0 kept, large counts capped to the usable CPUs, negative refused") {
  testing::TempDir dir("study_threads");
  CHECK(Study::Load(dir.Write("a.json", StudyText(""))).threads == 0);
  CHECK(Study::Load(dir.Write("b.json", StudyText(R"(, "threads": 1)"))).threads == 1);
  CHECK(Study::Load(dir.Write("c.json", StudyText(R"(, "threads": 100000)"))).threads ==
        UsableCpus());
  const std::string negative = dir.Write("d.json", StudyText(R"(, "threads": -2)"));
  testing::CheckError([&] { Study::Load(negative); },
                      {"d.json: threads", "0 (all the usable CPUs) or a count >= 1", "got -2"});
  const std::string huge = dir.Write("e.json", StudyText(R"(, "threads": 1e12)"));
  testing::CheckError([&] { Study::Load(huge); }, {"e.json: threads", "an integer"});
}

TEST_CASE("a study that is no regular file, or far too large, is refused before it is read") {
  testing::TempDir dir("study_files");
  testing::CheckError([] { Study::Load("/dev/zero"); }, {"/dev/zero", "a regular file", "device"});
  testing::CheckError([&] { Study::Load(dir.path()); }, {"got a directory"});
  const std::string fifo = dir.File("fifo.json");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  testing::CheckError([&] { Study::Load(fifo); }, {"fifo.json", "a pipe (FIFO)"});
  testing::CheckError([&] { Study::Load(dir.File("none.json")); }, {"none.json", "got none"});
  const std::string big =
      dir.Write("big.json", StudyText(R"(, "notes": ")" + std::string(65 << 20, 'x') + "\""));
  testing::CheckError([&] { Study::Load(big); }, {"big.json", "at most 64 MiB", "65 MiB"});
}

TEST_CASE("overflowing numbers and repeated keys in a study are input errors naming the file") {
  testing::TempDir dir("study_json");
  const std::string overflow = dir.Write(
      "o.json",
      StudyText(
          R"(, "parameters": [{"name": "d", "targets": "joint:j.damping", "initial": 1e309}])"));
  testing::CheckError([&] { Study::Load(overflow); }, {"o.json", "1e309"});
  const std::string twice = dir.Write("t.json", StudyText(R"(, "seed": 1, "seed": 2)"));
  testing::CheckError([&] { Study::Load(twice); }, {"t.json", "\"seed\" twice"});
}

TEST_CASE("a prior mean outside the parameter's bounds is refused") {
  testing::TempDir dir("study_prior");
  const std::string outside =
      dir.Write("p.json", StudyText(R"(, "parameters": [{"name": "d", "targets": "joint:j.damping",
        "initial": 0.1, "bounds": [0, 1], "prior": {"mean": 2, "std": 0.1}}])"));
  testing::CheckError([&] { Study::Load(outside); },
                      {"p.json", "parameter 'd'.prior.mean", "within the bounds [0, 1]", "got 2"});
  const std::string inside =
      dir.Write("q.json", StudyText(R"(, "parameters": [{"name": "d", "targets": "joint:j.damping",
        "initial": 0.1, "bounds": [0, 1], "prior": {"mean": 1, "std": 0.1}}])"));
  CHECK(Study::Load(inside).parameters.at(0).prior_mean == 1);
}

}  // namespace
}  // namespace nextbatch
