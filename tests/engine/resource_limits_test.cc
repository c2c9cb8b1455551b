#include "engine/resource_limits.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tests/fixtures/errors.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

TEST_CASE("usable memory is the smaller of MemAvailable and the room under the cgroup limit") {
  testing::TempDir dir("memory");
  const std::string meminfo = dir.Write("meminfo",
                                        "MemTotal:       16000000 kB\n"
                                        "MemFree:         1000000 kB\n"
                                        "MemAvailable:    8000000 kB\n");
  const std::string none = dir.File("no_cgroup");
  CHECK(UsableMemoryBytes(meminfo, none) == 8000000ull * 1024);
  // cgroup v2: a 2 GiB limit of which 0.5 GiB is used leaves 1.5 GiB.
  std::filesystem::create_directories(dir.File("v2"));
  dir.Write("v2/memory.max", "2147483648\n");
  dir.Write("v2/memory.current", "536870912\n");
  CHECK(UsableMemoryBytes(meminfo, dir.File("v2")) == 1610612736ull);
  // "max" is no limit.
  dir.Write("v2/memory.max", "max\n");
  CHECK(UsableMemoryBytes(meminfo, dir.File("v2")) == 8000000ull * 1024);
  // cgroup v1, and its "unlimited" value (close to 2^63).
  std::filesystem::create_directories(dir.File("v1/memory"));
  dir.Write("v1/memory/memory.limit_in_bytes", "1073741824\n");
  dir.Write("v1/memory/memory.usage_in_bytes", "73741824\n");
  CHECK(UsableMemoryBytes(meminfo, dir.File("v1")) == 1000000000ull);
  dir.Write("v1/memory/memory.limit_in_bytes", "9223372036854771712\n");
  CHECK(UsableMemoryBytes(meminfo, dir.File("v1")) == 8000000ull * 1024);
  // Nothing readable: the 4 GiB guess.
  CHECK(UsableMemoryBytes(none, none) == (4ull << 30));
  // This machine: something, and the default work limit is a quarter of it.
  CHECK(UsableMemoryBytes() > 0);
  CHECK(DefaultWorkMemoryLimit() <= UsableMemoryBytes() / 4 + 1);
}

TEST_CASE("byte counts read as a person would write them") {
  CHECK(FormatBytes(512) == "512 bytes");
  CHECK(FormatBytes(64ull << 20) == "64 MiB");
  CHECK(FormatBytes(3ull << 29) == "1.5 GiB");
}

TEST_CASE("input files must be regular files of a bounded size") {
  testing::TempDir dir("input_files");
  const std::string ok = dir.Write("study.json", "{}");
  CheckInputFile(ok, 100, "a study");
  testing::CheckError([&] { CheckInputFile(dir.File("absent.json"), 100, "a study"); },
                      {"absent.json", "expected an existing file (a study)", "got none"});
  testing::CheckError([&] { CheckInputFile(dir.path(), 100, "a study"); },
                      {"expected a regular file (a study)", "got a directory"});
  testing::CheckError([] { CheckInputFile("/dev/zero", 100, "a study"); },
                      {"/dev/zero", "got a device"});
  const std::string fifo = dir.File("pipe");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  testing::CheckError([&] { CheckInputFile(fifo, 100, "a study"); }, {"got a pipe (FIFO)"});
  const std::string big = dir.Write("big.json", std::string(101, ' '));
  testing::CheckError([&] { CheckInputFile(big, 100, "a study"); },
                      {"big.json", "a study of at most 100 bytes", "got 101 bytes"});
}

}  // namespace
}  // namespace nextbatch
