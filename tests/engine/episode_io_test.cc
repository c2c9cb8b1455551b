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
  CheckError([&] { ReadEpisodeFile(p); }, {"missing.csv", "cannot open"});
}

}  // namespace
}  // namespace nextbatch
