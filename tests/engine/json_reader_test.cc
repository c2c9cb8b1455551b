#include "engine/json_reader.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/fixtures/errors.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

TEST_CASE("a key given twice is refused by name and place, the same key in two objects is fine") {
  testing::CheckError([] { ParseJson(R"({"a": 1, "b": 2, "a": 3})", "s.json"); },
                      {"s.json: (top level)", "expected each key once", "got \"a\" twice"});
  testing::CheckError(
      [] { ParseJson(R"({"dataset": {"cleaning": {"every": 1, "every": 2}}})", "s.json"); },
      {"s.json: dataset.cleaning", "\"every\" twice"});
  testing::CheckError(
      [] { ParseJson(R"({"p": [{"name": "x"}, {"name": "y", "name": "z"}]})", "s.json"); },
      {"s.json: p", "\"name\" twice"});
  const nlohmann::json ok =
      ParseJson(R"({"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}], "x": 5})", "s.json");
  CHECK(ok["b"]["x"] == 2);
  CHECK(ok["c"][1]["x"] == 4);
  CHECK(ok["x"] == 5);
}

TEST_CASE("CheckKnownKeys names the first unknown key, its place and the known keys") {
  const nlohmann::json doc = ParseJson(R"({"a": {"x": 1, "yy": 2}})", "s.json");
  const JsonReader a(doc.at("a"), "s.json", "a");
  a.CheckKnownKeys({"x", "yy"});
  testing::CheckError(
      [&] {
        a.CheckKnownKeys({"x", "y"});
      },
      {"s.json: a.yy: unknown key (the known keys: x, y)"});
  // Only the keys present are checked: a known key may be absent.
  a.CheckKnownKeys({"x", "yy", "z"});
}

TEST_CASE("a syntax error names line and column and keeps the parser's whole reason") {
  // The reason quotes the text read, colons included: it must not be cut at the last colon.
  testing::CheckError([] { ParseJson("{\"a\": 1,\n \"b\": NaN}", "s.json"); },
                      {"s.json: invalid JSON at line 2, column 7: syntax error while parsing value",
                       "invalid literal", "\"b\": N"});
}

TEST_CASE("a number beyond a double is an input error naming the file, not a library error") {
  testing::CheckError([] { ParseJson(R"({"initial": 1e309})", "study.json"); },
                      {"study.json", "expected valid JSON with numbers within +-1.8e308", "1e309"});
  testing::CheckError([] { ParseJson(R"([-1e400])", "log.json"); }, {"log.json", "1e400"});
  // The largest double still reads.
  CHECK(ParseJson("[1.7976931348623157e308]", "f")[0].get<double>() == 1.7976931348623157e308);
}

TEST_CASE("ReadJsonFile refuses devices, directories and oversized files before reading") {
  testing::TempDir dir("json_files");
  testing::CheckError([] { ReadJsonFile("/dev/zero"); }, {"/dev/zero", "got a device"});
  testing::CheckError([&] { ReadJsonFile(dir.path()); }, {"got a directory"});
  const std::string big = dir.Write("big.json", "[" + std::string(200, ' ') + "]");
  CHECK(ReadJsonFile(big).is_array());
  testing::CheckError([&] { ReadJsonFile(big, 100); }, {"big.json", "at most 100 bytes"});
  CHECK(kMaxJsonDocumentBytes == 64ull << 20);
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("JSON nested deeper than 256 levels is refused before anything walks it") {
  const auto nested = [](int depth) {
    return std::string(depth, '[') + "1" + std::string(depth, ']');
  };
  CHECK(ParseJson(nested(255), "ok.json").is_array());
  CHECK_THROWS_WITH_AS(ParseJson(nested(20000), "deep.json"),
                       doctest::Contains("deep.json: expected JSON nested at most 256 levels deep"),
                       InputError);
}

}  // namespace
}  // namespace nextbatch
