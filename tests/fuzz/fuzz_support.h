// Shared pieces of the libFuzzer targets: a scratch folder for readers that take a path, and the
// rule that separates a finding from a refusal. nextbatch refuses bad input with InputError (or
// RunError when a file cannot be read); anything else that escapes a reader (a JSON-library
// exception, std::bad_alloc, an Eigen assertion, a sanitizer report) is a bug the fuzzer reports.
#ifndef NEXTBATCH_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define NEXTBATCH_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "engine/error.h"

namespace nextbatch::fuzz {

// A folder of this process's own, removed at exit: parallel fuzzing jobs must not share files.
// Never destroyed, so that the exit handler that removes the folder can still name it.
inline const std::string& ScratchDir() {
  static const std::string* const dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* path = new std::string(std::string(tmp && *tmp ? tmp : "/tmp") + "/nextbatch_fuzz_" +
                                 std::to_string(getpid()));
    std::filesystem::remove_all(*path);
    std::filesystem::create_directories(*path);
    std::atexit([] { std::filesystem::remove_all(ScratchDir()); });
    return path;
  }();
  return *dir;
}

// Writes `bytes` to `name` in the scratch folder and returns its path.
inline std::string WriteScratch(const std::string& name, std::string_view bytes) {
  const std::string path = ScratchDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
  return path;
}

// Runs `read`; an InputError or RunError is the reader doing its job.
template <typename F>
void ExpectRefusalOrSuccess(F&& read) {
  try {
    read();
  } catch (const InputError&) {
  } catch (const RunError&) {
  }
}

}  // namespace nextbatch::fuzz

#endif  // NEXTBATCH_TESTS_FUZZ_FUZZ_SUPPORT_H_
