#include "engine/importer.h"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "engine/cleaning.h"
#include "engine/error.h"
#include "engine/model.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/shared_data.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

const std::string kDfki = NEXTBATCH_SHARED_DIR "/realdata/dfki_simple_pendulum/results/";
const std::string kXl330 = NEXTBATCH_SHARED_DIR "/realdata/rhoban_bam_xl330/raw/";

ImporterSpec Spec(const std::string& json) {
  static nlohmann::json doc;  // the reader keeps a pointer; specs copy what they need
  doc = nlohmann::json::parse(json);
  return ReadImporterSpec(JsonReader(doc, "study.json", "dataset.importer"));
}

const char* kDfkiSpec = R"({"format": "csv", "time": {"column": "time", "unit": "s"},
  "qpos": [{"column": "position", "joint": "hinge", "unit": "rad"}],
  "qvel": [{"column": "velocity", "joint": "hinge", "unit": "rad/s"}],
  "ctrl": [{"column": "torque", "actuator": "motor", "unit": "Nm"}]})";

const char* kXlSpec = R"({"format": "json", "records": "entries",
  "time": {"column": "timestamp", "unit": "s"},
  "qpos": [{"column": "position", "joint": "hinge", "unit": "rad"}],
  "qvel": [{"column": "speed", "joint": "hinge", "unit": "rad/s"}],
  "ctrl": [{"column": "goal_position", "actuator": "motor", "unit": "rad"}],
  "logged": [{"column": "load", "name": "load", "wrap_bits": 16}],
  "filter": {"column": "torque_enable", "equals": true},
  "metadata": {"scenario": {"kp": "kp", "trajectory": "trajectory"}, "robot": "motor"}})";

using testing::CheckError;

TEST_CASE("the DFKI system identification CSV: 1170 samples at 300 Hz, SI values") {
  const std::string path = kDfki + "control_method_pd/system_identification/data_measured.csv";
  if (!testing::SharedPresent(path)) return;
  RawEpisode raw = ImportFile(Spec(kDfkiSpec), path);
  CHECK(raw.samples_read == 1170);
  CHECK(raw.episode.samples() == 1170);
  CHECK(raw.removed.empty());
  CHECK(raw.episode.time.back() == doctest::Approx(3.897822380065918));
  CHECK(raw.episode.qpos.values(1169, 0) == doctest::Approx(3.160746166170753213));
  CHECK(raw.episode.ctrl.values(1169, 0) == doctest::Approx(-1.384615384615383249));
  CleanResult c = CleanEpisode(raw, CleaningOptions(), 0.001);
  REQUIRE(c.episodes.size() == 1);
  CHECK(c.quality[0].raw_rate_hz == doctest::Approx(299.96).epsilon(1e-3));
  CHECK(c.quality[0].velocity_method == "logged (hinge)");
  CHECK(c.episodes[0].samples() == 3898);  // floor(3.8978 / 0.001) + 1
}

TEST_CASE("velocities estimated from DFKI positions agree with the motor's own, without lag") {
  // A second method on real data: the estimator (and the reader's units and time base) against
  // the velocity the motor reports. The stiff PD run moves fast (rms 4.2 rad/s), so a short
  // window; the residual, about 0.79 rad/s, is mostly the run's 20-50 Hz content that three
  // samples at 300 Hz cannot follow, plus the log's 0.066 rad/s quantisation.
  const std::string path = kDfki + "control_method_pd/system_identification/data_measured.csv";
  if (!testing::SharedPresent(path)) return;
  const Episode e = ImportFile(Spec(kDfkiSpec), path).episode;
  std::vector<double> q(e.samples()), v(e.samples());
  for (int i = 0; i < e.samples(); ++i) {
    q[i] = e.qpos.values(i, 0);
    v[i] = e.qvel.values(i, 0);
  }
  const std::vector<double> est = EstimateVelocity(e.time, q, "local_quadratic", 0.01);
  auto rms = [&](int lag) {
    double s = 0;
    int n = 0;
    for (int i = 5; i + 5 < e.samples(); ++i, ++n) s += std::pow(est[i] - v[i + lag], 2);
    return std::sqrt(s / n);
  };
  double speed = 0;
  for (double x : v) speed += x * x;
  speed = std::sqrt(speed / v.size());
  CHECK(speed == doctest::Approx(4.21).epsilon(0.01));
  CHECK(rms(0) < 0.25 * speed);
  CHECK(rms(0) < rms(-1));
  CHECK(rms(0) < rms(1));
}

TEST_CASE("the DFKI FFT run: an extra unnamed index column, 10000 samples at 100 Hz") {
  const std::string path = kDfki + "filter_method_fft/measured_data.csv";
  if (!testing::SharedPresent(path)) return;
  RawEpisode raw = ImportFile(Spec(R"({"time": {"column": "time"},
      "qpos": [{"column": "pos", "joint": "hinge"}], "qvel": [{"column": "vel", "joint": "hinge"}],
      "ctrl": [{"column": 4, "actuator": "motor"}]})"),
                              path);
  CHECK(raw.samples_read == 10000);
  CHECK(raw.episode.time[1] == doctest::Approx(0.01));
  CHECK(raw.episode.qpos.values(0, 0) == doctest::Approx(-3.044167238879993));
  CHECK(raw.episode.ctrl.values(1, 0) == doctest::Approx(1.7626373626373635));
  CleanResult c = CleanEpisode(raw, CleaningOptions(), 0.01);
  REQUIRE(c.episodes.size() == 1);
  CHECK(c.quality[0].raw_rate_hz == doctest::Approx(100.0).epsilon(1e-9));
  CHECK(c.episodes[0].samples() == 10000);
}

TEST_CASE("the DFKI gravity compensation CSV: 30000 samples near 1 kHz with 5.5 ms dropouts") {
  const std::string path = kDfki + "control_method_gravity_compensation/data_measured.csv";
  if (!testing::SharedPresent(path)) return;
  RawEpisode raw = ImportFile(Spec(kDfkiSpec), path);
  CHECK(raw.samples_read == 30000);
  CleaningOptions o;
  CleanResult c = CleanEpisode(raw, o, 0.001);
  REQUIRE(c.episodes.size() == 1);
  const EpisodeQuality& q = c.quality[0];
  CHECK(q.raw_rate_hz == doctest::Approx(999.6).epsilon(1e-3));
  CHECK(q.longest_step == doctest::Approx(0.005492).epsilon(1e-3));
  CHECK(q.gaps.empty());
  CHECK(q.samples_kept == 30000);
  CHECK(c.episodes[0].samples() == 30021);  // floor(30.02003 / 0.001) + 1
  // With a 5 ms gap threshold the dropouts split the run, and every sample is accounted for.
  o.max_gap = 0.005;
  o.min_duration = 0;
  c = CleanEpisode(raw, o, 0.001);
  REQUIRE(c.episodes.size() > 1);
  const EpisodeQuality& q5 = c.quality[0];
  CHECK(c.episodes.size() <= q5.gaps.size() + 1);
  int kept = 0;
  for (const auto& x : c.quality) kept += x.samples_kept;
  const auto shorts = q5.removed.find("short_segment");
  CHECK(kept + (shorts == q5.removed.end() ? 0 : shorts->second) == 30000);
}

TEST_CASE("the 16 XL330 logs: counts, unwrapped load, torque-off tail removed, metadata") {
  if (!testing::SharedPresent(kXl330)) return;
  struct Expect {
    const char* file;
    int read, kept;
  };
  const Expect expect[] = {
      {"2026-01-15_10h28m10", 1124, 1124}, {"2026-01-15_10h28m17", 1510, 372},
      {"2026-01-15_10h28m24", 1116, 1116}, {"2026-01-15_10h28m32", 1116, 1116},
      {"2026-01-15_10h28m42", 1116, 1116}, {"2026-01-15_10h28m49", 1513, 375},
      {"2026-01-15_10h28m57", 1120, 1120}, {"2026-01-15_10h29m04", 1110, 1110},
      {"2026-01-15_10h29m14", 1125, 1125}, {"2026-01-15_10h29m21", 1499, 366},
      {"2026-01-15_10h29m29", 1123, 1123}, {"2026-01-15_10h29m37", 1131, 1131},
      {"2026-01-15_10h29m47", 1117, 1117}, {"2026-01-15_10h29m54", 1509, 376},
      {"2026-01-15_10h30m02", 1113, 1113}, {"2026-01-15_10h30m10", 1110, 1110}};
  const ImporterSpec spec = Spec(kXlSpec);
  for (const Expect& x : expect) {
    INFO(x.file);
    RawEpisode raw = ImportFile(spec, kXl330 + x.file + ".json");
    CHECK(raw.samples_read == x.read);
    CHECK(raw.episode.samples() == x.kept);
    const bool lift = raw.episode.scenario.at("trajectory") == "lift_and_drop";
    CHECK(lift == (x.kept < x.read));
    if (lift) {
      CHECK(raw.removed.at("filter") == x.read - x.kept);
      CHECK(raw.episode.time.back() < 2.0);  // torque switched off at about 2.004 s
    }
    CHECK(raw.episode.robot == "xl330");
    // A signed 16-bit load stays within +-1000 once unwrapped (raw values reach 65535).
    CHECK(raw.episode.logged.values.cwiseAbs().maxCoeff() < 1000);
  }
  RawEpisode raw = ImportFile(spec, kXl330 + "2026-01-15_10h28m10.json");
  CHECK(raw.episode.scenario.at("kp") == 100);
  CHECK(raw.episode.logged.values(510, 0) == -2.0);  // raw register 65534
  CHECK(raw.episode.logged.values.minCoeff() == -328.0);
  CHECK(raw.episode.logged.values.maxCoeff() == 335.0);
  CleanResult c = CleanEpisode(raw, CleaningOptions(), 0.002);
  REQUIRE(c.episodes.size() == 1);
  CHECK(c.quality[0].raw_rate_hz == doctest::Approx(188.6).epsilon(2e-3));
  CHECK(c.quality[0].raw_step_min == doctest::Approx(0.005093).epsilon(1e-3));
  CHECK(c.quality[0].raw_step_max == doctest::Approx(0.007126).epsilon(1e-3));
}

TEST_CASE("units, scale, offset and register wrap-around convert to SI") {
  ColumnMap c;
  c.scale = 2.0;
  c.offset = 10.0;
  c.unit_factor = M_PI / 180.0;
  CHECK(c.Convert(40.0) == doctest::Approx(90.0 * M_PI / 180.0));
  ColumnMap w;
  w.wrap_bits = 16;
  CHECK(w.Convert(65535) == -1);
  CHECK(w.Convert(32768) == -32768);
  CHECK(w.Convert(32767) == 32767);
  CHECK(std::isnan(w.Convert(65536)));
  CHECK(std::isnan(w.Convert(1.5)));
  UnitInfo u;
  REQUIRE(LookUpUnit("ms", &u));
  CHECK(u.factor == 1e-3);
  REQUIRE(LookUpUnit("rpm", &u));
  CHECK(u.factor == doctest::Approx(2 * M_PI / 60));
  CHECK(!LookUpUnit("furlong", &u));
  testing::TempDir dir("units");
  const std::string p = dir.Write("deg.csv", "t_ms,angle_deg,cmd\n0,0,1\n10,90,2\n20,180,3\n");
  RawEpisode raw = ImportFile(Spec(R"({"time": {"column": "t_ms", "unit": "ms"},
      "qpos": [{"column": "angle_deg", "joint": "hinge", "unit": "deg", "offset": -90}],
      "ctrl": [{"column": "cmd", "actuator": "motor", "scale": 0.5, "unit": "mNm"}]})"),
                              p);
  CHECK(raw.episode.time[2] == doctest::Approx(0.02));
  CHECK(raw.episode.qpos.values(0, 0) == doctest::Approx(-M_PI / 2));
  CHECK(raw.episode.qpos.values(2, 0) == doctest::Approx(M_PI / 2));
  CHECK(raw.episode.ctrl.values(1, 0) == doctest::Approx(1e-3));
}

TEST_CASE("a byte order mark, CRLF line ends, comments and blank lines do not disturb the reader") {
  testing::TempDir dir("bom");
  const std::string p =
      dir.Write("bom.csv", "\xEF\xBB\xBFtime;q\r\n# comment\r\n0;1\r\n\r\n0.5;2\r\n");
  RawEpisode raw = ImportFile(
      Spec(
          R"({"delimiter": ";", "time": {"column": "time"}, "qpos": [{"column": "q", "joint": "hinge"}]})"),
      p);
  CHECK(raw.episode.time == std::vector<double>{0.0, 0.5});
  CHECK(raw.episode.qpos.values(1, 0) == 2.0);
}

TEST_CASE("a wrapping time counter is unwrapped into increasing time") {
  // A 15-bit millisecond tick (as Dynamixel servos keep) overflowing twice in 70 s of log.
  testing::TempDir dir("tick");
  std::string text = "tick,q\n";
  for (int i = 0; i < 700; ++i) text += std::to_string((i * 100) % 32768) + ",0.5\n";
  text += "40000,0.5\n";  // not a 15-bit value: removed as non-finite
  const std::string p = dir.Write("tick.csv", text);
  RawEpisode raw = ImportFile(Spec(R"({"time": {"column": "tick", "unit": "ms", "wrap_bits": 15},
               "qpos": [{"column": "q", "joint": "hinge"}]})"),
                              p);
  REQUIRE(raw.episode.samples() == 701);
  for (int i = 0; i < 700; ++i) CHECK(raw.episode.time[i] == doctest::Approx(0.1 * i));
  CHECK(std::isnan(raw.episode.time[700]));
  CHECK(raw.messages.back().find("wrapped 2 times") != std::string::npos);
}

TEST_CASE("a CSV log without a header line is read by column index") {
  testing::TempDir dir("noheader");
  const std::string p = dir.Write("n.csv", "0.0 1.5 7\n0.1 1.6 8\n0.2 1.7\n");
  RawEpisode raw = ImportFile(Spec(R"({"header": false, "delimiter": " ", "time": {"column": 0},
      "qpos": [{"column": 1, "joint": "hinge"}], "ctrl": [{"column": 2, "actuator": "motor"}]})"),
                              p);
  REQUIRE(raw.episode.samples() == 2);  // the last line is cut off: left out and counted
  CHECK(raw.removed.at("truncated_row") == 1);
  CHECK(raw.episode.qpos.values(1, 0) == 1.6);
  CHECK(raw.episode.ctrl.values(0, 0) == 7);
  CheckError(
      [] {
        Spec(
            R"({"header": false, "time": {"column": "t"}, "qpos": [{"column": 1, "joint": "hinge"}]})");
      },
      {"dataset.importer.time.column", "expected a 0-based column index (the file has no header)",
       "got \"t\""});
}

TEST_CASE("a log without a time column takes its times from the stated rate") {
  testing::TempDir dir("rate");
  const std::string p = dir.Write("r.csv", "q\n0\n1\n2\n");
  RawEpisode raw =
      ImportFile(Spec(R"({"rate": 50, "qpos": [{"column": "q", "joint": "hinge"}]})"), p);
  CHECK(raw.episode.time == std::vector<double>{0.0, 0.02, 0.04});
}

TEST_CASE("malformed CSV logs give errors naming file, line, column, expected and got") {
  testing::TempDir dir("bad_csv");
  const ImporterSpec spec = Spec(kDfkiSpec);
  const std::string head = "time,position,velocity,torque\n";
  // 1. a mapped column the header lacks
  std::string p = dir.Write("a.csv", "time,angle,velocity,torque\n0,0,0,0\n");
  CheckError([&] { ImportFile(spec, p); },
             {"a.csv: header", "qpos[0]", "expected a column \"position\"", "got the columns"});
  // 2. text where a number belongs
  p = dir.Write("b.csv", head + "0,0,0,0\n0.1,abc,0,0\n");
  CheckError([&] { ImportFile(spec, p); },
             {"b.csv: line 3, column \"position\"", "expected a number", "got \"abc\""});
  // 3. a row with too many fields
  p = dir.Write("c.csv", head + "0,0,0,0\n0.1,0,0,0,7\n0.2,0,0,0\n");
  CheckError([&] { ImportFile(spec, p); }, {"c.csv: line 3", "expected 4 fields", "got 5"});
  // 4. a short row in the middle
  p = dir.Write("d.csv", head + "0,0,0,0\n0.1,0,0\n0.2,0,0,0\n");
  CheckError([&] { ImportFile(spec, p); }, {"d.csv: line 3", "expected 4 fields", "got 3"});
  // 5. an empty file
  p = dir.Write("e.csv", "");
  CheckError([&] { ImportFile(spec, p); },
             {"e.csv", "expected a header line", "got an empty file"});
  // 6. a file that is not there
  CheckError([&] { ImportFile(spec, dir.File("missing.csv")); },
             {"missing.csv", "expected an existing file", "got none"});
  // 7. a column index past the last column
  p = dir.Write("g.csv", head + "0,0,0,0\n");
  CheckError(
      [&] {
        ImportFile(Spec(R"({"time": {"column": 0}, "qpos": [{"column": 9, "joint": "hinge"}]})"),
                   p);
      },
      {"g.csv: column 9", "expected a column index below 4", "got 9"});
  // 8. a filter column holding something that is not a boolean
  p = dir.Write("h.csv", "time,position,enabled\n0,0,true\n0.1,0,maybe\n");
  CheckError(
      [&] {
        ImportFile(
            Spec(R"({"time": {"column": "time"}, "qpos": [{"column": "position", "joint": "hinge"}],
                        "filter": {"column": "enabled", "equals": true}})"),
            p);
      },
      {"h.csv: line 3, column \"enabled\"", "expected a value comparable with true",
       "got \"maybe\""});
}

TEST_CASE("damaged CSV content is removed and reported, not thrown") {
  testing::TempDir dir("drop_csv");
  std::string text = "time,position,velocity,torque\n";
  for (int i = 0; i < 100; ++i) {
    text += std::to_string(0.01 * i) + "," +
            (i == 5   ? "nan"
             : i == 6 ? ""
                      : std::to_string(0.1 * i)) +
            ",0," + (i == 7 ? "inf" : "0") + "\n";
  }
  text += "1.0,0.5";  // cut off mid-line
  const std::string p = dir.Write("cut.csv", text);
  RawEpisode raw = ImportFile(Spec(kDfkiSpec), p);
  CHECK(raw.samples_read == 101);
  CHECK(raw.removed.at("truncated_row") == 1);
  CleanResult c = CleanEpisode(raw, CleaningOptions(), 0.01);
  REQUIRE(c.episodes.size() == 1);
  CHECK(c.quality[0].removed.at("non_finite") == 3);
  CHECK(c.quality[0].samples_kept == 97);
  bool said = false;
  for (const auto& m : c.quality[0].messages)
    said = said || m.find("qpos:hinge: 2") != std::string::npos;
  CHECK(said);
}

TEST_CASE("malformed JSON logs give errors naming file, record, field, expected and got") {
  testing::TempDir dir("bad_json");
  const ImporterSpec spec = Spec(kXlSpec);
  const std::string rec =
      R"({"timestamp": 0.0, "position": 0.1, "speed": 0, "goal_position": 0, "load": 3, "torque_enable": true})";
  const std::string meta = R"("kp": 100, "trajectory": "sin_sin", "motor": "xl330")";
  // 9. not JSON at all
  std::string p = dir.Write("a.json", "{\"entries\": [1, 2,,]}");
  CheckError([&] { ImportFile(spec, p); }, {"a.json: invalid JSON at line 1"});
  // 10. no record list
  p = dir.Write("b.json", "{" + meta + "}");
  CheckError([&] { ImportFile(spec, p); },
             {"b.json: entries", "expected a list of sample records", "got none"});
  // 11. the record list is an (empty) object: read as columns, the time column is missing
  p = dir.Write("c.json", "{" + meta + ", \"entries\": {}}");
  CheckError([&] { ImportFile(spec, p); },
             {"c.json: entries.timestamp", "expected an array of values", "got none"});
  // 12. a record without a mapped field
  p = dir.Write(
      "d.json",
      "{" + meta + ", \"entries\": [" + rec +
          R"(, {"timestamp": 0.01, "position": 0.1, "speed": 0, "goal_position": 0, "torque_enable": true}]})");
  CheckError([&] { ImportFile(spec, p); },
             {"d.json: entries[1].load", "expected a value", "got none"});
  // 13. a string where a number belongs
  std::string bad = rec;
  bad.replace(bad.find("0.1"), 3, "\"0.1\"");
  p = dir.Write("e.json", "{" + meta + ", \"entries\": [" + bad + "]}");
  CheckError([&] { ImportFile(spec, p); },
             {"e.json: entries[0].position", "expected a number", "got the string \"0.1\""});
  // 14. a record that is not an object
  p = dir.Write("f.json", "{" + meta + ", \"entries\": [" + rec + ", 5]}");
  CheckError([&] { ImportFile(spec, p); },
             {"f.json: entries[1]", "expected a sample record", "got 5"});
  // 15. metadata the study names but the file lacks
  p = dir.Write("g.json", R"({"kp": 100, "motor": "xl330", "entries": [)" + rec + "]}");
  CheckError([&] { ImportFile(spec, p); },
             {"g.json: trajectory", "expected a top-level field", "got none"});
  // 16. the top level is a list where an object with "entries" is expected
  p = dir.Write("h.json", "[" + rec + "]");
  CheckError([&] { ImportFile(spec, p); },
             {"h.json: (top level)", "expected an object", "got an array"});
}

TEST_CASE("columnar JSON logs (an object of equal-length arrays) read like records") {
  testing::TempDir dir("columnar");
  const ImporterSpec spec = Spec(R"({"format": "json", "records": "data",
      "time": {"column": "t", "unit": "ms"}, "qpos": [{"column": "q", "joint": "hinge", "unit": "deg"}],
      "filter": {"column": "on", "equals": 1}})");
  std::string p = dir.Write("ok.json", R"({"data": {"t": [0, 10, 20, 30], "q": [0, 90, 180, 270],
      "on": [1, 1, 1, 0], "other": "ignored"}})");
  RawEpisode raw = ImportFile(spec, p);
  CHECK(raw.samples_read == 4);
  CHECK(raw.removed.at("filter") == 1);
  REQUIRE(raw.episode.samples() == 3);
  CHECK(raw.episode.time[2] == doctest::Approx(0.02));
  CHECK(raw.episode.qpos.values(1, 0) == doctest::Approx(M_PI / 2));
  p = dir.Write("short.json", R"({"data": {"t": [0, 10, 20], "q": [0, 90], "on": [1, 1, 1]}})");
  CheckError([&] { ImportFile(spec, p); },
             {"short.json: data.q", "expected an array of 3 values (as t)", "got an array of 2"});
  p = dir.Write("text.json", R"({"data": {"t": [0, 10], "q": [0, "x"], "on": [1, 1]}})");
  CheckError([&] { ImportFile(spec, p); },
             {"text.json: data.q[1]", "expected a number", "got the string \"x\""});
  p = dir.Write("none.json", R"({"data": {"t": [0, 10], "on": [1, 1]}})");
  CheckError([&] { ImportFile(spec, p); },
             {"none.json: data.q", "expected an array of values", "got none"});
}

TEST_CASE("null readings and impossible register values are removed and reported") {
  testing::TempDir dir("drop_json");
  std::string entries;
  for (int i = 0; i < 50; ++i) {
    const std::string load = i == 3 ? "70000" : i == 4 ? "null" : std::to_string(65500 + i % 3);
    entries += std::string(i ? "," : "") + R"({"timestamp": )" + std::to_string(0.005 * i) +
               R"(, "position": 0.1, "speed": 0, "goal_position": 0, "load": )" + load +
               R"(, "torque_enable": true})";
  }
  const std::string p =
      dir.Write("x.json", R"({"kp": 100, "trajectory": "sin_sin", "motor": "xl330", "entries": [)" +
                              entries + "]}");
  RawEpisode raw = ImportFile(Spec(kXlSpec), p);
  CHECK(raw.samples_read == 50);
  CHECK(raw.episode.logged.values(0, 0) == -36);  // 65500 - 65536
  CleanResult c = CleanEpisode(raw, CleaningOptions(), 0.005);
  REQUIRE(c.episodes.size() == 1);
  CHECK(c.quality[0].removed.at("non_finite") == 2);
  CHECK(c.quality[0].stuck_channels.size() == 3);  // position, speed, goal never move
}

TEST_CASE("malformed importer specs name the study field, what it expected and what it got") {
  ModelPtr m = LoadModelString(testing::PendulumXml());
  // 17. an unknown unit
  CheckError(
      [] {
        Spec(
            R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge", "unit": "furlong"}]})");
      },
      {"study.json: dataset.importer.qpos[0].unit", "expected a known unit", "got \"furlong\""});
  // 18. an angle unit on the time column
  CheckError(
      [] {
        Spec(
            R"({"time": {"column": "t", "unit": "deg"}, "qpos": [{"column": "q", "joint": "hinge"}]})");
      },
      {"dataset.importer.time.unit", "expected a time (s, ms, us)", "got \"deg\""});
  // 19. a typo in a column mapping
  CheckError(
      [] {
        Spec(
            R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge", "scael": 2}]})");
      },
      {"dataset.importer.qpos[0].scael: unknown key"});
  // 20. the same joint mapped twice
  CheckError(
      [] {
        Spec(
            R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge"}, {"column": "r", "joint": "hinge"}]})");
      },
      {"qpos[1].joint", "expected each joint mapped once", "a second time"});
  // 21. both a time column and a rate
  CheckError(
      [] {
        Spec(
            R"({"time": {"column": "t"}, "rate": 100, "qpos": [{"column": "q", "joint": "hinge"}]})");
      },
      {"dataset.importer.rate", "expected either time or rate", "got both"});
  // 22. no positions
  CheckError([] { Spec(R"({"time": {"column": "t"}})"); },
             {"dataset.importer.qpos", "expected at least one"});
  // 23. a joint the model lacks
  CheckError(
      [&] {
        ValidateImporterSpec(
            Spec(R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "elbow"}]})"),
            m.get());
      },
      {"qpos[0].joint", "expected a joint of the model (hinge)", "got \"elbow\""});
  // 24. a length unit on a hinge
  CheckError(
      [&] {
        ValidateImporterSpec(
            Spec(
                R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge", "unit": "mm"}]})"),
            m.get());
      },
      {"qpos[0].unit", "expected an angle (rad, deg) for joint \"hinge\"", "got \"mm\""});
  // 25. an actuator the model lacks
  CheckError(
      [&] {
        ValidateImporterSpec(
            Spec(
                R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge"}], "ctrl": [{"column": "u", "actuator": "servo"}]})"),
            m.get());
      },
      {"ctrl[0].actuator", "expected an actuator of the model (motor)", "got \"servo\""});
  // 26. a wrap width beyond what a double holds exactly
  CheckError(
      [] {
        Spec(
            R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge", "wrap_bits": 64}]})");
      },
      {"qpos[0].wrap_bits", "expected 0 (none) or a register width 1..62", "got 64"});
  // 27. a model sensor of more than one dimension as one column
  ModelPtr with_frame = LoadModelString(R"(<mujoco><worldbody><body name="b"><joint name="hinge"/>
      <geom size=".1"/></body></worldbody><sensor><framepos name="tip" objtype="body" objname="b"/>
      </sensor></mujoco>)");
  CheckError(
      [&] {
        ValidateImporterSpec(
            Spec(
                R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge"}], "sensors": [{"column": "p", "sensor": "tip"}]})"),
            with_frame.get());
      },
      {"sensors[0].sensor", "expected a scalar sensor of the model",
       "got \"tip\" (a sensor of dimension 3)"});
  // 28. a sensor the model lacks (a logged quantity without a model sensor goes under logged)
  CheckError(
      [&] {
        ValidateImporterSpec(
            Spec(
                R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge"}], "sensors": [{"column": "p", "sensor": "load"}]})"),
            m.get());
      },
      {"sensors[0].sensor",
       "expected a scalar sensor of the model (angle; a channel the model has no sensor for goes "
       "under logged)",
       "got \"load\""});
  // 29. an unknown format
  CheckError([] { Spec(R"({"format": "xlsx", "qpos": []})"); },
             {"dataset.importer.format", "expected one of csv, json, native", "got \"xlsx\""});
  // 30. a misspelt key is named as such, with the known keys, before any required field is
  // missed for it ("q_pos" is not "expected at least one joint position column")
  CheckError(
      [] { Spec(R"({"time": {"column": "t"}, "q_pos": [{"column": "q", "joint": "hinge"}]})"); },
      {"study.json: dataset.importer.q_pos: unknown key",
       "the known keys: format, records, delimiter, header, time, rate, qpos, qvel, ctrl, sensors, "
       "logged, filter, metadata"});
  // 31. the same inside a column mapping, a filter and the metadata
  CheckError(
      [] { Spec(R"({"time": {"colum": "t"}, "qpos": [{"column": "q", "joint": "hinge"}]})"); },
      {"dataset.importer.time.colum: unknown key",
       "the known keys: column, scale, offset, unit, wrap_bits, range"});
  CheckError(
      [] { Spec(R"({"time": {"column": "t"}, "qpos": [{"column": "q", "jiont": "hinge"}]})"); },
      {"dataset.importer.qpos[0].jiont: unknown key",
       "the known keys: column, joint, scale, offset, unit, wrap_bits, range"});
  CheckError(
      [] {
        Spec(
            R"({"time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge"}], "filter": {"column": "on", "equal": true}})");
      },
      {"dataset.importer.filter.equal: unknown key", "the known keys: column, equals"});
  CheckError(
      [] {
        Spec(
            R"({"format": "json", "time": {"column": "t"}, "qpos": [{"column": "q", "joint": "hinge"}], "metadata": {"scenarios": {}}})");
      },
      {"dataset.importer.metadata.scenarios: unknown key",
       "the known keys: scenario, outcome, robot, site, date, extra"});
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("a logged value no robot reaches is refused naming file, line or record, and column") {
  testing::TempDir dir("unphysical");
  const ImporterSpec spec = Spec(kDfkiSpec);
  const std::string head = "time,position,velocity,torque\n";
  std::string p = dir.Write("a.csv", head + "0,0,0,0\n0.1,1e308,0,0\n");
  CheckError([&] { ImportFile(spec, p); },
             {"a.csv: line 3, column \"position\"", "a value within +-1000000000 (SI units)",
              "got 1e+308"});
  // The bound applies after conversion: 2e9 mrad is 2e6 rad, a value; 2e12 mrad is not.
  const ImporterSpec mm = Spec(R"({"time": {"column": "time", "unit": "ms"},
    "qpos": [{"column": "position", "joint": "hinge", "scale": 0.001}]})");
  p = dir.Write("b.csv", head + "0,0,0,0\n100,2e9,0,0\n");
  CHECK(ImportFile(mm, p).episode.qpos.values(1, 0) == doctest::Approx(2e6));
  p = dir.Write("c.csv", head + "0,0,0,0\n100,-2e12,0,0\n");
  CheckError([&] { ImportFile(mm, p); }, {"c.csv: line 3", "got -2000000000"});
  // Times: an epoch clock in seconds passes, 1e15 s does not.
  p = dir.Write("d.csv", head + "1700000000,0,0,0\n1700000000.01,0,0,0\n");
  CHECK(ImportFile(spec, p).episode.time[1] == doctest::Approx(1700000000.01));
  p = dir.Write("e.csv", head + "0,0,0,0\n1e15,0,0,0\n");
  CheckError([&] { ImportFile(spec, p); },
             {"e.csv: line 3, column \"time\"", "a time within +-1e+12", "got 1e+15"});
  // NaN and Inf stay for cleaning to remove and count; a number beyond a double does not.
  p = dir.Write("f.csv", head + "0,0,0,0\n0.1,inf,0,0\n0.2,nan,0,0\n");
  CHECK(std::isinf(ImportFile(spec, p).episode.qpos.values(1, 0)));
  p = dir.Write("f2.csv", head + "0,0,0,0\n0.1,-1e309,0,0\n");
  CheckError([&] { ImportFile(spec, p); },
             {"f2.csv: line 3, column \"position\"", "a number within +-1.8e308", "\"-1e309\""});
  // JSON logs name the record and the key.
  p = dir.Write("g.json", R"({"entries": [
    {"timestamp": 0, "position": 0, "speed": 0, "goal_position": 0, "load": 0, "torque_enable": true},
    {"timestamp": 0.1, "position": 0, "speed": -5e300, "goal_position": 0, "load": 0,
     "torque_enable": true}]})");
  CheckError([&] { ImportFile(Spec(kXlSpec), p); }, {"g.json: entries[1].speed", "got -5e+300"});
  // Native episodes name the sample and the channel.
  p = dir.Write("h.json", R"({"schema": "nextbatch.episode/1", "id": "x", "time": [0, 0.1, 0.2],
    "qpos": [{"name": "hinge", "values": [0, 1e10, 0]}]})");
  CheckError([&] { ImportFile(Spec(R"({"format": "native"})"), p); },
             {"h.json: sample 1, qpos:hinge", "got 10000000000"});
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

// Spikes (cleaning.spikes) found on the shared real logs at the default threshold: positions and
// logged velocities of the DFKI pendulums (6 + 9 files) and the XL330 (16 files).
TEST_CASE("single-sample spikes on the shared real logs") {
  const std::string dfki2 = NEXTBATCH_SHARED_DIR "/realdata/dfki_double_pendulum_A0/sys_id/";
  if (!testing::SharedPresent(kDfki) || !testing::SharedPresent(kXl330) ||
      !testing::SharedPresent(dfki2))
    return;
  auto spikes = [](const ImporterSpec& spec, const std::string& path) {
    const RawEpisode raw = ImportFile(spec, path);
    const CleanResult c = CleanEpisode(raw, CleaningOptions(), 0.001);
    int n = 0;
    for (const auto& q : c.quality) {
      for (const auto& s : q.spikes) {
        MESSAGE(path << ": " << s.channel << " at " << s.time << " s, size " << s.size);
        ++n;
      }
    }
    return n;
  };
  int total = 0, files = 0;
  const ImporterSpec dfki = Spec(kDfkiSpec);
  for (const char* f : {"control_method_gravity_compensation/data_measured.csv",
                        "control_method_sac/data_measured.csv",
                        "control_method_pd/system_identification/data_measured.csv",
                        "control_method_energy_shaping/data_measured_1kg.csv",
                        "control_method_energy_shaping/data_measured.csv"}) {
    total += spikes(dfki, kDfki + f), ++files;
  }
  // The FFT run's motor velocity reads the wrong sign for single samples, while the positions
  // move steadily the other way (e.g. at 71.03 s: -5.57 rad/s between 2.54 and 0.76, the position
  // rising 1.5 rad/s): 4 such samples, at 36.69, 71.03, 84.61 and 87.63 s. Every other sample
  // that departs from its neighbours there, the positions show as real motion.
  const int fft = spikes(Spec(R"({"format": "csv", "time": {"column": "time", "unit": "s"},
      "qpos": [{"column": "pos", "joint": "hinge", "unit": "rad"}],
      "qvel": [{"column": "vel", "joint": "hinge", "unit": "rad/s"}]})"),
                         kDfki + "filter_method_fft/measured_data.csv");
  CHECK(fft == 4);
  ++files;
  const ImporterSpec two = Spec(R"({"format": "csv", "time": {"column": "time", "unit": "s"},
      "qpos": [{"column": "pos_meas1", "joint": "shoulder", "unit": "rad"},
               {"column": "pos_meas2", "joint": "elbow", "unit": "rad"}],
      "qvel": [{"column": "vel_meas1", "joint": "shoulder", "unit": "rad/s"},
               {"column": "vel_meas2", "joint": "elbow", "unit": "rad/s"}]})");
  for (const char* f : {"00", "01", "02", "03", "04", "05", "11", "12", "13"}) {
    total += spikes(two, dfki2 + "trajectory_" + f + ".csv"), ++files;
  }
  const ImporterSpec xl = Spec(kXlSpec);
  for (const auto& f : std::filesystem::directory_iterator(kXl330)) {
    total += spikes(xl, f.path().string()), ++files;
  }
  MESSAGE(total << " spikes in " << files << " other files");
  CHECK(files == 31);
  CHECK(total == 0);
}

}  // namespace
}  // namespace nextbatch
