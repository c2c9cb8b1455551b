// The CSV row reader and number parser on arbitrary text. The first byte picks the delimiter and
// whether the first line is a header; the rest is the file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/csv_table.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nextbatch;
  if (size == 0) return 0;
  static constexpr char kDelimiters[] = {',', ';', '\t', ' '};
  const char delimiter = kDelimiters[data[0] & 3];
  const bool header = (data[0] & 4) == 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  fuzz::ExpectRefusalOrSuccess([&] {
    CsvCursor csv(text, "log.csv", delimiter, header);
    const std::size_t columns = csv.header().size();
    while (csv.Next()) {
      if (csv.fields().size() != columns) throw LogicError("a row of the wrong length passed");
      for (std::string_view f : csv.fields()) {
        double x;
        ParseCsvNumber(f, &x);
      }
    }
  });
  return 0;
}
