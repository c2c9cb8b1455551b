// The column-mapping importer. An input is an importer object (the study's dataset.importer),
// a line "---", then the log file; without that line the whole input is a CSV log read by a
// fixed mapping. Both halves vary, so formats, delimiters, filters and wrap-around are reached.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/importer.h"
#include "engine/json_reader.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

constexpr const char* kDefaultSpec = R"({
  "time": {"column": "t", "unit": "ms"},
  "qpos": [{"column": "q", "joint": "hinge", "unit": "deg", "range": [-180, 180]}],
  "ctrl": [{"column": 2, "actuator": "motor", "scale": 0.5, "offset": 1}],
  "logged": [{"column": "pwm", "name": "pwm", "wrap_bits": 16}]
})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nextbatch;
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string spec_text = kDefaultSpec, log = input;
  const std::size_t split = input.find("\n---\n");
  if (split != std::string::npos) {
    spec_text = input.substr(0, split);
    log = input.substr(split + 5);
  }
  fuzz::ExpectRefusalOrSuccess([&] {
    const nlohmann::json doc = ParseJson(spec_text, "study.json");
    const ImporterSpec spec = ReadImporterSpec(JsonReader(doc, "study.json", "dataset.importer"));
    ImportFile(spec, fuzz::WriteScratch(spec.format == "csv" ? "log.csv" : "log.json", log));
  });
  return 0;
}
