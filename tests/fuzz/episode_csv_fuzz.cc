// The native episode reader's CSV half: a fixed sidecar whose "data" file holds the bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/episode_io.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  nextbatch::fuzz::WriteScratch(
      "episode.json", R"({"schema": "nextbatch.episode/1", "id": "fuzz", "data": "episode.csv"})");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nextbatch;
  fuzz::WriteScratch("episode.csv", {reinterpret_cast<const char*>(data), size});
  fuzz::ExpectRefusalOrSuccess([&] { ReadEpisodeFile(fuzz::ScratchDir() + "/episode.json"); });
  return 0;
}
