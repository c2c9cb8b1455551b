#include "engine/dataset.h"

#include <doctest/doctest.h>

#include <functional>

#include "engine/episode_io.h"
#include "engine/error.h"
#include "engine/model.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/shared_data.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

using testing::CheckError;

// A folder with the pendulum model, three small CSV logs and a native episode.
struct Folder {
  testing::TempDir dir{"dataset"};
  ModelPtr model = LoadModelString(testing::PendulumXml(0.01));

  Folder() {
    for (int k = 0; k < 3; ++k) {
      std::string text = "t,angle,torque\n";
      for (int i = 0; i < 60; ++i) {
        const double t = 0.02 * i + (k == 2 && i >= 30 ? 1.0 : 0.0);  // run 2 has a gap
        text += std::to_string(t) + "," + std::to_string(0.5 * t * k) + ",0.1\n";
      }
      dir.Write("run" + std::to_string(k) + ".csv", text);
    }
    Episode e;
    e.id = "native_run";
    for (int i = 0; i < 30; ++i) e.time.push_back(0.01 * i);
    e.qpos.names = {"hinge"};
    e.qpos.values = Eigen::VectorXd::LinSpaced(30, 0.0, 1.0);
    e.ctrl.names = {"motor"};
    e.ctrl.values = Eigen::MatrixXd::Zero(30, 1);
    WriteEpisodeJson(e, dir.File("native.json"));
  }

  Study Write(const std::string& dataset) const {
    const std::string text =
        R"({"schema": "nextbatch.study/1", "model": "m.xml", "dataset": )" + dataset + "}";
    return Study::Load(dir.Write("study.json", text));
  }
};

const char* kImporter = R"("importer": {"time": {"column": "t"},
    "qpos": [{"column": "angle", "joint": "hinge", "unit": "deg"}],
    "ctrl": [{"column": "torque", "actuator": "motor", "unit": "Nm"}]})";

TEST_CASE("a dataset reads paths, globs and native files, splits at gaps, reports totals") {
  Folder f;
  const Study study = f.Write(std::string("{") + kImporter + R"(,
      "importers": {"native": {"format": "native"}},
      "episodes": [
        {"path": "run0.csv", "id": "first", "scenario": {"load": "none"}, "outcome": {"success": true}},
        {"glob": "run[12].csv", "id_prefix": "g_", "robot": "pendulum"},
        {"path": "native.json", "importer": "native"}],
      "cleaning": {"every": 2, "min_duration": 0.1}})");
  const Dataset d = LoadDataset(study, f.model.get());
  REQUIRE(d.episodes.size() == 5);  // first, g_run1, g_run2#1, g_run2#2, native_run
  CHECK(d.episodes.size() == d.quality.size());
  CHECK(d.dropped.empty());
  CHECK(d.Find("first") == 0);
  CHECK(d.Find("g_run1") == 1);
  CHECK(d.Find("g_run2#1") == 2);
  CHECK(d.Find("g_run2#2") == 3);
  CHECK(d.Find("native_run") == 4);
  CHECK(d.episodes[0].scenario.at("load") == "none");
  CHECK(d.episodes[0].outcome.at("success") == true);
  CHECK(d.episodes[1].robot == "pendulum");
  CHECK(d.sample_period == doctest::Approx(0.02));
  // run1's angle column is 0.5 t degrees: converted to radians and resampled every 0.02 s.
  const Episode& run1 = d.episodes[1];
  CHECK(run1.qpos.names == std::vector<std::string>{"hinge"});
  CHECK(run1.qvel.names == std::vector<std::string>{"hinge"});  // estimated
  for (int i = 0; i < run1.samples(); i += 7) {
    CHECK(run1.qpos.values(i, 0) == doctest::Approx(0.5 * run1.time[i] * M_PI / 180).epsilon(1e-5));
    CHECK(run1.qvel.values(i, 0) == doctest::Approx(0.5 * M_PI / 180).epsilon(1e-3));
  }
  CHECK(d.quality[2].segments == 2);
  CHECK(d.quality[2].gaps.size() == 1);

  const nlohmann::json j = DatasetToJson(d);
  CHECK(j.at("schema") == "nextbatch.dataset/1");
  CHECK(j.at("episodes").size() == 5);
  CHECK(j.at("totals").at("files") == 4);
  CHECK(j.at("totals").at("samples_read") == 60 * 3 + 30);
  CHECK(j.at("episodes")[0].at("quality").at("samples_read") == 60);
  CHECK(j.at("episodes")[0].at("rate_hz") == doctest::Approx(50.0));
  CHECK(j.at("episodes")[0].at("channels").at("ctrl")[0] == "motor");
  const std::string table = DatasetSummary(d);
  CHECK(table.find("g_run2#2") != std::string::npos);
  CHECK(table.find("5 episodes, 0 dropped") != std::string::npos);
  CHECK(table.find("qvel estimated") != std::string::npos);
}

TEST_CASE("a dataset loaded on one thread equals the one loaded on three, bit for bit") {
  Folder f;
  for (int k = 3; k < 8; ++k) {  // more files than threads
    std::string text = "t,angle,torque\n";
    for (int i = 0; i < 40; ++i) {
      text += std::to_string(0.015 * i) + "," + std::to_string(std::sin(k * 0.1 * i)) + ",0.2\n";
    }
    f.dir.Write("run" + std::to_string(k) + ".csv", text);
  }
  Study study = f.Write(std::string("{") + kImporter +
                        R"(, "importers": {"native": {"format": "native"}},
      "episodes": [{"glob": "run*.csv"}, {"path": "native.json", "importer": "native"}]})");
  study.threads = 1;
  const Dataset serial = LoadDataset(study, f.model.get());
  study.threads = 3;
  const Dataset parallel = LoadDataset(study, f.model.get());
  REQUIRE(serial.episodes.size() == 10);
  REQUIRE(parallel.episodes.size() == serial.episodes.size());
  CHECK(DatasetToJson(parallel) == DatasetToJson(serial));
  for (std::size_t i = 0; i < serial.episodes.size(); ++i) {
    CHECK(parallel.episodes[i].id == serial.episodes[i].id);
    CHECK(parallel.episodes[i].time == serial.episodes[i].time);
    CHECK(parallel.episodes[i].qpos.values == serial.episodes[i].qpos.values);
    CHECK(parallel.episodes[i].qvel.values == serial.episodes[i].qvel.values);
    CHECK(parallel.episodes[i].ctrl.values == serial.episodes[i].ctrl.values);
  }
}

TEST_CASE("clean episodes written in the native format read back as the same episodes") {
  Folder f;
  const Study study =
      f.Write(std::string("{") + kImporter + R"(, "episodes": [{"glob": "run*.csv"}]})");
  const Dataset d = LoadDataset(study, f.model.get());
  REQUIRE(d.episodes.size() == 4);
  testing::TempDir out("dataset_native");
  for (const auto& e : d.episodes) {
    std::string stem = e.id;
    for (char& c : stem) c = c == '#' ? '_' : c;
    WriteEpisodeCsv(e, out.File(stem + ".json"));
  }
  // On the same grid, resampling the resampled episodes changes nothing, bit for bit.
  const Study again = f.Write(R"({"importer": {"format": "native"},
      "episodes": [{"glob": ")" +
                              out.path() + R"(/*.json"}]})");
  const Dataset d2 = LoadDataset(again, f.model.get());
  REQUIRE(d2.episodes.size() == 4);
  for (const auto& e : d.episodes) {
    const int i = d2.Find(e.id);
    REQUIRE(i >= 0);
    const Episode& b = d2.episodes[i];
    CHECK(b.time == e.time);
    CHECK(b.qpos.values == e.qpos.values);
    CHECK(b.qvel.values == e.qvel.values);
    CHECK(b.ctrl.values == e.ctrl.values);
    CHECK(d2.quality[i].velocity_method == "logged (hinge)");
  }
}

TEST_CASE("malformed dataset sections give errors naming the study field") {
  Folder f;
  const std::string imp = std::string(kImporter) + ",";
  auto load = [&](const std::string& dataset) { LoadDataset(f.Write(dataset), f.model.get()); };
  CheckError([&] { load("{" + imp + R"("episodes": [{"path": "run0.csv"}], "cleanup": {}})"); },
             {"study.json: dataset.cleanup: unknown key"});
  CheckError([&] { load("{" + imp + R"("episodes": []})"); },
             {"dataset.episodes", "expected at least one episode", "got none"});
  CheckError([&] { load("{" + imp + R"("episodes": [{"path": "run0.csv", "glob": "*.csv"}]})"); },
             {"dataset.episodes[0]", "expected exactly one of path, glob", "got both"});
  CheckError([&] { load("{" + imp + R"("episodes": [{"path": "nope.csv"}]})"); },
             {"dataset.episodes[0].path", "expected an existing regular file", "got \"nope.csv\"",
              "nope.csv: not found"});
  CheckError([&] { load("{" + imp + R"("episodes": [{"glob": "nothing*.csv"}]})"); },
             {"dataset.episodes[0].glob", "expected at least one matching file", "got none"});
  CheckError(
      [&] { load("{" + imp + R"("episodes": [{"path": "run0.csv", "importer": "hdf5"}]})"); },
      {"dataset.episodes[0].importer", "expected a name in dataset.importers", "got \"hdf5\""});
  CheckError(
      [&] {
        load("{" + imp +
             R"("episodes": [{"path": "run0.csv", "id": "a"}, {"path": "run1.csv", "id": "a"}]})");
      },
      {"dataset.episodes[1].id", "expected ids unique in the dataset", "got \"a\" a second time"});
  CheckError([&] { load("{" + imp + R"("episodes": [{"path": "run0.csv", "scenario": 3}]})"); },
             {"dataset.episodes[0].scenario", "expected an object", "got 3"});
  CheckError(
      [&] { load("{" + imp + R"("episodes": [{"path": "run0.csv"}], "cleaning": {"every": 0}})"); },
      {"dataset.cleaning.every: expected 1 or more, got 0"});
  CheckError(
      [&] {
        load(
            R"({"importer": {"time": {"column": "t"}, "qpos": [{"column": "angle", "joint": "shoulder"}]},
                          "episodes": [{"path": "run0.csv"}]})");
      },
      {"dataset.importer.qpos[0].joint", "expected a joint of the model", "got \"shoulder\""});
  CheckError(
      [&] {
        LoadDataset(Study::Load(f.dir.Write(
                        "s.json", R"({"schema": "nextbatch.study/1", "model": "m.xml"})")),
                    f.model.get());
      },
      {"s.json: dataset", "expected a section 'dataset'", "got none"});
}

TEST_CASE("with on_error drop a malformed log is listed as dropped and the rest loads") {
  Folder f;
  f.dir.Write("run9.csv", "t,angle,torque\n0,1,0\n0.02,abc,0\n");
  const std::string dataset =
      std::string("{") + kImporter + R"(, "episodes": [{"glob": "run*.csv"}], "on_error": "drop"})";
  const Dataset d = LoadDataset(f.Write(dataset), f.model.get());
  CHECK(d.episodes.size() == 4);  // run0, run1, run2#1, run2#2
  REQUIRE(d.dropped.size() == 1);
  CHECK(d.dropped[0].id == "run9");
  CHECK(d.dropped[0].status == "dropped");
  CHECK(d.dropped[0].reason.find("run9.csv: line 3, column \"angle\": expected a number") !=
        std::string::npos);
  std::string fail = dataset;
  fail.replace(fail.find("\"drop\""), 6, "\"fail\"");
  CheckError([&] { LoadDataset(f.Write(fail), f.model.get()); }, {"run9.csv: line 3"});
  fail.replace(fail.find("\"fail\""), 6, "\"skip\"");
  CheckError([&] { LoadDataset(f.Write(fail), f.model.get()); },
             {"dataset.on_error", "expected one of fail, drop", "got \"skip\""});
}

TEST_CASE("commands beyond the model's ctrlrange are kept and said") {
  Folder f;
  std::string text = "t,angle,torque\n";
  for (int i = 0; i < 50; ++i)
    text += std::to_string(0.02 * i) + ",0," + (i < 10 ? "10" : "1") + "\n";
  f.dir.Write("strong.csv", text);
  const Dataset d = LoadDataset(
      f.Write(std::string("{") + kImporter + R"(, "episodes": [{"path": "strong.csv"}]})"),
      f.model.get());
  REQUIRE(d.episodes.size() == 1);
  bool said = false;
  for (const auto& m : d.quality[0].messages) {
    said = said || m.find("ctrl:motor is outside the model's ctrlrange [-5.0000, 5.0000]") !=
                       std::string::npos;
  }
  CHECK(said);
  CHECK(d.episodes[0].ctrl.values.maxCoeff() > 5);  // kept as logged
}

TEST_CASE("a native episode naming a joint the model lacks is refused") {
  Folder f;
  Episode e;
  e.id = "x";
  e.time = {0.0, 0.01, 0.02};
  e.qpos.names = {"wrist"};
  e.qpos.values = Eigen::MatrixXd::Zero(3, 1);
  WriteEpisodeJson(e, f.dir.File("wrist.json"));
  const Study s =
      f.Write(R"({"importer": {"format": "native"}, "episodes": [{"path": "wrist.json"}]})");
  CheckError([&] { LoadDataset(s, f.model.get()); },
             {"wrist.json: qpos", "expected the name of a joint of the model", "got \"wrist\""});
}

TEST_CASE("the DFKI example study loads its six runs with logged velocities") {
  const std::string path = NEXTBATCH_SOURCE_DIR "/examples/dfki_pendulum/study.json";
  if (!testing::SharedPresent(NEXTBATCH_SHARED_DIR "/realdata/dfki_simple_pendulum")) return;
  const Study study = Study::Load(path);
  ModelPtr m = LoadModelFile(study.model);
  const Dataset d = LoadDataset(study, m.get());
  REQUIRE(d.episodes.size() == 6);
  CHECK(d.dropped.empty());
  const char* ids[] = {"sysid", "gravcomp", "sac", "energy", "energy_1kg", "fft"};
  const int read[] = {1170, 30000, 8000, 4000, 4000, 10000};
  const double rate[] = {300.0, 999.6, 200.0, 200.0, 200.0, 100.0};
  for (int k = 0; k < 6; ++k) {
    INFO(ids[k]);
    const int i = d.Find(ids[k]);
    REQUIRE(i >= 0);
    CHECK(d.quality[i].samples_read == read[k]);
    CHECK(d.quality[i].samples_kept == read[k]);
    CHECK(d.quality[i].raw_rate_hz == doctest::Approx(rate[k]).epsilon(1e-3));
    CHECK(d.quality[i].rate_hz == doctest::Approx(1000.0));
    CHECK(d.episodes[i].qvel.names == std::vector<std::string>{"shoulder"});
    CHECK(d.quality[i].velocity_method == "logged (shoulder)");
    CHECK(d.quality[i].qvel_estimated.empty());
  }
  CHECK(d.episodes[d.Find("energy_1kg")].scenario.at("payload") == "1kg");
}

}  // namespace
}  // namespace nextbatch
