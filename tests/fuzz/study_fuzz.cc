// The study parser: Study::Load on arbitrary bytes, then the dataset section as ingest reads it
// (importers, episode entries, cleaning options), since both are study text a person writes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/dataset.h"
#include "engine/study.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nextbatch;
  const std::string path =
      fuzz::WriteScratch("study.json", {reinterpret_cast<const char*>(data), size});
  fuzz::ExpectRefusalOrSuccess([&] {
    const Study study = Study::Load(path);
    if (study.HasSection("dataset")) ReadDatasetSpec(study);
  });
  return 0;
}
