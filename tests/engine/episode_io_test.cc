#include "engine/episode_io.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "engine/error.h"
#include "engine/json_reader.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

Episode Sample() {
  Episode e;
  e.id = "run 7";
  e.robot = "arm";
  e.site = "lab";
  e.date = "2026-01-15T10:28:10Z";
  e.scenario = {{"kp", 400}, {"trajectory", "sin_sin"}};
  e.outcome = {{"success", true}, {"error", 0.125}};
  e.extra = {{"vin", 7.4}};
  const int n = 5;
  for (int i = 0; i < n; ++i) e.time.push_back(0.1 * i + 1.0 / 3.0);
  e.qpos.names = {"j1", "j2"};
  e.qpos.values.resize(n, 2);
  e.qvel.names = {"j1"};
  e.qvel.values.resize(n, 1);
  e.ctrl.names = {"a1"};
  e.ctrl.values.resize(n, 1);
  e.sensors.names = {"angle"};
  e.sensors.values = Eigen::VectorXd::LinSpaced(n, -1.0, 1.0);
  e.logged.names = {"pwm", "volts"};
  e.logged.values = Eigen::MatrixXd::Constant(n, 2, 7.25);
  for (int i = 0; i < n; ++i) {
    e.qpos.values(i, 0) = std::sin(i) / 7.0;
    e.qpos.values(i, 1) = -i * 1e-17;
    e.qvel.values(i, 0) = std::exp(i);
    e.ctrl.values(i, 0) = i == 2 ? std::numeric_limits<double>::quiet_NaN() : 0.1 * i;
  }
  return e;
}

void CheckSame(const Episode& a, const Episode& b) {
  CHECK(a.id == b.id);
  CHECK(a.robot == b.robot);
  CHECK(a.site == b.site);
  CHECK(a.date == b.date);
  CHECK(a.scenario == b.scenario);
  CHECK(a.outcome == b.outcome);
  CHECK(a.extra == b.extra);
  CHECK(a.time == b.time);  // bit for bit
  CHECK(a.qpos.names == b.qpos.names);
  CHECK(a.qvel.names == b.qvel.names);
  CHECK(a.ctrl.names == b.ctrl.names);
  CHECK(a.sensors.names == b.sensors.names);
  CHECK(a.qpos.values == b.qpos.values);
  CHECK(a.qvel.values == b.qvel.values);
  CHECK(a.logged.names == b.logged.names);
  CHECK(a.sensors.values == b.sensors.values);
  CHECK(a.logged.values == b.logged.values);
  REQUIRE(a.ctrl.values.rows() == b.ctrl.values.rows());
  for (int i = 0; i < a.ctrl.values.rows(); ++i) {
    const double x = a.ctrl.values(i, 0), y = b.ctrl.values(i, 0);
    CHECK((x == y || (std::isnan(x) && std::isnan(y))));
  }
}

using testing::CheckError;

TEST_CASE("a native JSON episode round-trips exactly, NaN included") {
  testing::TempDir dir("episode_json");
  const Episode e = Sample();
  WriteEpisodeJson(e, dir.File("e.json"));
  CheckSame(e, ReadEpisodeFile(dir.File("e.json")));
}

TEST_CASE("a native CSV episode with its sidecar round-trips exactly") {
  testing::TempDir dir("episode_csv");
  const Episode e = Sample();
  WriteEpisodeCsv(e, dir.File("e.json"));
  const nlohmann::json side = ReadJsonFile(dir.File("e.json"));
  CHECK(side.at("data") == "e.csv");
  CHECK(!side.contains("time"));
  CheckSame(e, ReadEpisodeFile(dir.File("e.json")));
}

TEST_CASE("malformed native episodes give errors naming file, field, expected and got") {
  testing::TempDir dir("episode_bad");
  auto write = [&](const std::string& name, const std::string& text) {
    return dir.Write(name, text);
  };
  std::string p = write("a.json", R"({"schema": "nextbatch.episode/2", "id": "x"})");
  CheckError([&] { ReadEpisodeFile(p); },
             {"a.json: schema", "expected \"nextbatch.episode/1\"", "got \"nextbatch.episode/2\""});
  p = write("b.json", R"({"schema": "nextbatch.episode/1", "id": "x", "time": [0, 0.1],
      "qpos": [{"name": "j", "values": [1]}]})");
  CheckError([&] { ReadEpisodeFile(p); },
             {"b.json: qpos[0].values", "expected an array of 2 numbers", "got an array of 1"});
  p = write("c.json", R"({"schema": "nextbatch.episode/1", "id": "x", "time": [0, "later"],
      "qpos": [{"name": "j", "values": [1, 2]}]})");
  CheckError([&] { ReadEpisodeFile(p); },
             {"c.json: time[1]", "expected a number", "got the string"});
  p = write("d.json", R"({"schema": "nextbatch.episode/1", "id": "x", "time": [0], "qpos": [],
      "colour": "red"})");
  CheckError([&] { ReadEpisodeFile(p); }, {"d.json: colour: unknown key"});
  write("e.csv", "time,qpos:j,velocity\n0,1,2\n");
  p = write("e.json", R"({"schema": "nextbatch.episode/1", "id": "x", "data": "e.csv"})");
  CheckError(
      [&] { ReadEpisodeFile(p); },
      {"e.csv: header column 3",
       "expected qpos:<joint>, qvel:<joint>, ctrl:<actuator>, sensors:<name> or logged:<name>",
       "got \"velocity\""});
  write("f.csv", "time,qpos:j\n0,1\n0.1,x\n");
  p = write("f.json", R"({"schema": "nextbatch.episode/1", "id": "x", "data": "f.csv"})");
  CheckError([&] { ReadEpisodeFile(p); },
             {"f.csv: line 3, column \"qpos:j\"", "expected a number", "got \"x\""});
  p = write("dup.json", R"({"schema": "nextbatch.episode/1", "id": "x", "time": [0],
      "qpos": [{"name": "j", "values": [1]}, {"name": "j", "values": [2]}]})");
  CheckError([&] { ReadEpisodeFile(p); },
             {"dup.json: qpos[1].name", "expected each channel once", "got \"j\" again"});
  p = write("g.json", R"({"schema": "nextbatch.episode/1", "id": "x", "time": [0]})");
  CheckError([&] { ReadEpisodeFile(p); }, {"g.json: qpos", "expected at least one joint position"});
  p = write("h.json", R"({"schema": "nextbatch.episode/1", "id": "x", "data": "missing.csv"})");
  CheckError([&] { ReadEpisodeFile(p); }, {"missing.csv", "expected an existing file", "got none"});
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

bool SafeStemChars(const std::string& s) {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

TEST_CASE("episode ids become safe, bounded, distinct file stems") {
  CHECK(EpisodeFileStem("sysid") == "sysid");
  CHECK(EpisodeFileStem("run#2") == "run_2");
  CHECK(EpisodeFileStem("a/../b c") == "a_.._b_c");
  CHECK(EpisodeFileStem("") == "_");
  CHECK(EpisodeFileStem(".") == "_");
  CHECK(EpisodeFileStem("..") == "_.");
  CHECK(EpisodeFileStem(".hidden") == "_hidden");
  CHECK(EpisodeFileStem("caf\xc3\xa9") == "caf__");
  CHECK(EpisodeFileStem(std::string("a\0b", 3)) == "a_b");
  // Long ids: 80 characters, '-', 16 hex digits of the whole id; a shared prefix stays apart.
  const std::string a = std::string(300, 'x') + "a", b = std::string(300, 'x') + "b";
  const std::string sa = EpisodeFileStem(a), sb = EpisodeFileStem(b);
  CHECK(sa.size() == kMaxStemChars + 17);
  CHECK(sa.substr(0, kMaxStemChars) == std::string(kMaxStemChars, 'x'));
  CHECK(sa[kMaxStemChars] == '-');
  CHECK(sa != sb);
  CHECK(SafeStemChars(sa));
  CHECK(EpisodeFileStem(a) == sa);  // the same id gives the same stem in every run
  // The digest is 64-bit FNV-1a of the whole id (reference value computed independently).
  CHECK(EpisodeFileStem(std::string(81, '/')) ==
        std::string(kMaxStemChars, '_') + "-9f53cd5f32adc86e");
  // Exactly 80 characters: kept whole.
  CHECK(EpisodeFileStem(std::string(80, 'y')) == std::string(80, 'y'));
  // Every byte value gives a usable name.
  std::string all;
  for (int c = 1; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string s = EpisodeFileStem(all);
  CHECK(SafeStemChars(s));
  CHECK(s.size() <= kMaxStemChars + 17);
  CHECK(s[0] != '.');
}

}  // namespace
}  // namespace nextbatch
