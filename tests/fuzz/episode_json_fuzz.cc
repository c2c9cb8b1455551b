// The native episode reader on arbitrary JSON text: inline time series, or a sidecar whose
// "data" names a CSV file (the scratch folder holds a valid one, data.csv, to reach that path).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/episode_io.h"
#include "engine/json_reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  nextbatch::fuzz::WriteScratch("data.csv", "time,qpos:hinge,ctrl:motor\n0,0.1,0\n0.001,0.2,0.5\n");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nextbatch;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::ExpectRefusalOrSuccess([&] {
    EpisodeFromJson(ParseJson(text, "episode.json"), "episode.json", fuzz::ScratchDir());
  });
  return 0;
}
