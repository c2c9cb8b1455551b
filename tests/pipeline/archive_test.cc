// The archive reality of a campaign, against known answers. Archives written by hidden worlds
// (native logs, read back through the importer): the shipped swing-up world on a 2 x 2 x 2 grid,
// and a short swing-up's world on a 3 x 3 grid, on which a chosen archived scenario returns
// exactly its episode; no episode is returned twice; the nearest-within-tolerance rule agrees
// with a brute-force scan of the coverage distance; and a campaign against it (round 0 = one of
// the archive's episodes, which the pool loses) writes the same files for 1 and 2 threads,
// measures the parameter error against the reference fit on the whole archive, and reports the
// hidden-world measures as not applicable.
#include "pipeline/archive.h"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "calibration/calibration.h"
#include "calibration/calibration_json.h"
#include "engine/atomic_file.h"
#include "engine/dataset.h"
#include "engine/episode_io.h"
#include "engine/error.h"
#include "engine/model.h"
#include "engine/parameter.h"
#include "pipeline/internal.h"
#include "scenarios/sampler.h"
#include "scenarios/space_json.h"
#include "scenarios/world.h"
#include "tests/fixtures/csv_rows.h"
#include "tests/fixtures/temp_files.h"
#include "tests/pipeline/campaign_fixture.h"

namespace nextbatch {
namespace {

namespace fs = std::filesystem;

constexpr double kTolerance = 0.3;

// The campaign test's pendulum swing-up (start angle, torque limit as a setup), one episode of
// its own (the archive's a4, the grid's centre); the archive: the hidden world's logs on the
// 3 x 3 grid of the space (a0 .. a8 in grid order), read with the study's native importer.
struct ArchiveStudy {
  testing::TempDir dir{"archive"};
  nlohmann::json doc;
  std::vector<Scenario> grid;

  ArchiveStudy() {
    doc = testing::SwingUpCampaignFiles(dir, "arch");
    doc["calibration"]["max_iterations"] = 6;
    doc["campaign"] = nlohmann::json::parse(R"({"rounds": 2, "seeds": 1,
      "strategies": ["grid", "random"], "max_iterations": 4, "grid_levels": 3})");
    dir.Write("study.json", doc.dump(1));
    // the world logs its episodes into the archive's folder
    const Study study = Study::Load(dir.File("study.json"));
    const World world(study, ReadWorldFile(dir.File("world.json"), study));
    SamplerOptions so;
    so.kind = SamplerKind::kGrid;
    so.grid_levels = 3;
    grid = MakeSampler(world.space(), so)->Draw(0, 9);
    fs::create_directories(dir.File("logs"));
    for (int i = 0; i < 9; ++i) {
      const Collected c = world.Collect(grid[i], WorldKey({77, static_cast<std::uint64_t>(i)}),
                                        "a" + std::to_string(i));
      REQUIRE(c.ok);
      WriteEpisodeJson(c.episode, dir.File("logs/a" + std::to_string(i) + ".json"));
    }
    dir.Write("archive.json", R"({"schema": "nextbatch.archive/1", "name": "grid9",
      "tolerance": 0.3, "dataset": {"episodes": [{"glob": "logs/a*.json"}]}})");
    doc["dataset"] = {{"importer", {{"format", "native"}}},
                      {"episodes", {{{"path", "logs/a4.json"}, {"id", "a4"}}}}};
    dir.Write("study.json", doc.dump(1));
  }
  Study Load() const { return Study::Load(dir.File("study.json")); }
};

// The lowest-index unused archived scenario nearest to s, by the coverage distance.
int BruteNearest(const FactorEmbedding& e, const std::vector<Scenario>& held,
                 const std::vector<char>& used, const Scenario& s, double* distance) {
  int best = -1;
  *distance = INFINITY;
  for (std::size_t j = 0; j < held.size(); ++j) {
    if (used[j]) continue;
    const double d = e.Distance(s, held[j]);
    if (d < *distance) {
      *distance = d;
      best = static_cast<int>(j);
    }
  }
  return best;
}

TEST_CASE("archive: the world's logs read back with their scenarios, exact picks, no repeats") {
  ArchiveStudy a;
  const Study study = a.Load();
  const ScenarioSpace space = ReadScenarios(study).space;
  const Archive archive = ReadArchiveFile(a.dir.File("archive.json"), study, space);
  CHECK(archive.name == "grid9");
  CHECK(archive.tolerance == 0.3);
  CHECK(archive.importer.is_null());  // the study's importer reads it
  REQUIRE(archive.episodes.size() == 9);
  std::vector<Scenario> held;
  for (int i = 0; i < 9; ++i) {
    const ArchiveEpisode& e = archive.episodes[i];
    CHECK(e.id == "a" + std::to_string(i));
    CHECK(e.path == fs::path(a.dir.File("logs/a" + std::to_string(i) + ".json")).string());
    CHECK(e.scenario.values == a.grid[i].values);  // the native log's metadata, exactly
    held.push_back(e.scenario);
  }
  CHECK(StudyEpisodePaths(study) == std::vector<std::string>{archive.episodes[4].path});

  // a strategy choosing exactly an archived scenario gets exactly that episode, at distance 0
  ArchivePool pool(held, space, 1.0, kTolerance);
  for (int i : {4, 0, 8, 2, 6, 1, 3, 5, 7}) {
    const ArchivePool::Match m = pool.Take(a.grid[i]);
    CHECK(m.index == i);
    CHECK(m.distance == 0.0);
  }
  CHECK(pool.remaining() == 0);
  const ArchivePool::Match none = pool.Take(a.grid[0]);
  CHECK(none.index == -1);
  CHECK(none.nearest == -1);

  // a used episode is not returned again: its scenario's nearest unused one is a grid neighbour,
  // 0.5 away in the normalised space, beyond the tolerance
  ArchivePool again(held, space, 1.0, kTolerance);
  CHECK(again.Take(a.grid[4]).index == 4);
  const ArchivePool::Match second = again.Take(a.grid[4]);
  CHECK(second.index == -1);
  CHECK(second.nearest == 1);  // (0, 0.5): the lowest index of the four neighbours
  CHECK(second.distance == doctest::Approx(0.5).epsilon(1e-12));
  // hand-computed: 0.1 of the angle's range from a0 = (-0.5, 0.3)
  Scenario near = a.grid[0];
  near.values[0] = -0.4;
  const ArchivePool::Match close = again.Take(near);
  CHECK(close.index == 0);
  CHECK(close.distance == doctest::Approx(0.1).epsilon(1e-12));
}

// The shipped swing-up world (examples/pendulum_swingup: a heavier bob, 200 Hz logs with jitter
// and noise) logging a 2 x 2 x 2 grid into a folder: read back through an archive (its own native
// importer, the campaign study having no dataset), each log carries its scenario exactly, and
// asking for a grid point returns that log.
TEST_CASE("archive: the swing-up world's logs on a grid, read back and picked exactly") {
  testing::TempDir dir("archive_swingup");
  const std::string example = NEXTBATCH_SOURCE_DIR "/examples/pendulum_swingup/";
  const Study study = Study::Load(example + "campaign_study.json");
  const World world(study, ReadWorldFile(example + "world.json", study));
  SamplerOptions so;
  so.kind = SamplerKind::kGrid;
  so.grid_levels = 2;
  const std::vector<Scenario> grid = MakeSampler(world.space(), so)->Draw(0, 8);
  fs::create_directories(dir.File("logs"));
  nlohmann::json episodes = nlohmann::json::array();
  for (int i = 0; i < 8; ++i) {
    const Collected c = world.Collect(grid[i], WorldKey({91, static_cast<std::uint64_t>(i)}),
                                      "s" + std::to_string(i));
    REQUIRE(c.ok);
    WriteEpisodeJson(c.episode, dir.File("logs/s" + std::to_string(i) + ".json"));
    episodes.push_back({{"path", "logs/s" + std::to_string(i) + ".json"}});
  }
  const nlohmann::json doc = {
      {"schema", "nextbatch.archive/1"},
      {"tolerance", 0.05},
      {"dataset", {{"importer", {{"format", "native"}}}, {"episodes", episodes}}}};
  dir.Write("archive.json", doc.dump());
  const Archive archive = ReadArchiveFile(dir.File("archive.json"), study, world.space());
  CHECK(archive.name == "archive");
  CHECK_FALSE(archive.importer.is_null());
  REQUIRE(archive.episodes.size() == 8);
  std::vector<Scenario> held;
  for (int i = 0; i < 8; ++i) {
    CHECK(archive.episodes[i].id == "s" + std::to_string(i));
    CHECK(archive.episodes[i].scenario.values == grid[i].values);
    held.push_back(archive.episodes[i].scenario);
  }
  CHECK(StudyEpisodePaths(study).empty());
  ArchivePool pool(held, world.space(), 1.0, archive.tolerance);
  for (int i : {7, 0, 3, 4, 1, 6, 2, 5}) {
    const ArchivePool::Match m = pool.Take(grid[i]);
    CHECK(m.index == i);
    CHECK(m.distance == 0.0);
  }
  // the round study's entry: the log itself, read by the archive's importer
  nlohmann::json dataset = {{"importer", {{"format", "native"}}},
                            {"episodes", nlohmann::json::array()}};
  AddArchiveEpisode(archive, archive.episodes[3], dir.File("round"), &dataset);
  CHECK(dataset.at("importers").at("archive") == archive.importer);
  CHECK(dataset.at("episodes").at(0).at("path") == "../logs/s3.json");
  CHECK(dataset.at("episodes").at(0).at("id") == "s3");
  CHECK(dataset.at("episodes").at(0).at("importer") == "archive");
}

TEST_CASE("archive: nearest within the tolerance agrees with a brute-force scan") {
  ArchiveStudy a;
  const Study study = a.Load();
  const ScenarioSpace space = ReadScenarios(study).space;
  const Archive archive = ReadArchiveFile(a.dir.File("archive.json"), study, space);
  std::vector<Scenario> held;
  for (const ArchiveEpisode& e : archive.episodes) held.push_back(e.scenario);
  SamplerOptions so;
  so.kind = SamplerKind::kUniform;
  so.seed = 5;
  const std::vector<Scenario> asks = MakeSampler(space, so)->Draw(0, 400);
  ArchivePool pool(held, space, 1.0, kTolerance);
  const FactorEmbedding e(space, 1.0);
  std::vector<char> used(held.size(), 0);
  std::set<int> returned;
  int taken = 0, skipped = 0;
  for (const Scenario& s : asks) {
    double d = 0;
    const int brute = BruteNearest(e, held, used, s, &d);
    const ArchivePool::Match m = pool.Take(s);
    CHECK(m.nearest == brute);
    if (brute >= 0) CHECK(m.distance == doctest::Approx(d).epsilon(1e-12));
    CHECK((m.index >= 0) == (brute >= 0 && d <= kTolerance));
    if (m.index >= 0) {
      CHECK(returned.insert(m.index).second);  // never twice
      used[m.index] = 1;
      ++taken;
    } else {
      ++skipped;
    }
  }
  CHECK(taken == 9);  // 400 uniform asks reach every grid point's neighbourhood
  CHECK(skipped == 391);
  CHECK(pool.remaining() == 0);
}

struct Run {
  int code = 0;
  std::string log;
};

Run Nextbatch(const ArchiveStudy& s, const std::string& args) {
  const std::string log = s.dir.File("log");
  const int status =
      std::system((std::string(NEXTBATCH_BINARY) + " " + args + " >" + log + " 2>&1").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(log)};
}

TEST_CASE("archive: a campaign against it, the same files for 1 and 2 threads") {
  ArchiveStudy a;
  const std::string out1 = a.dir.File("out1"), out2 = a.dir.File("out2");
  const std::string base =
      "campaign " + a.dir.File("study.json") + " --reality " + a.dir.File("archive.json");
  Run r = Nextbatch(a, base + " -o " + out1 + " -j 1");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  r = Nextbatch(a, base + " -o " + out2 + " -j 2");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  for (const char* f : {"rounds.csv", "summary.csv", "campaign.json", "param_error.svg",
                        "runs/grid/seed0/round2/study.json", "runs/random/seed0/round2/study.json",
                        "reference/study.json", "reference/calibrate/calibration.json"}) {
    CHECK_MESSAGE(ReadFile(out1 + "/" + f) == ReadFile(out2 + "/" + f), f);
  }
  // the hidden world's success-rate measures do not apply: no plot, null in campaign.json, empty
  // cells; the held-out error is measured on the episodes not collected yet
  for (const char* f : {"failures.svg", "outcome_error.svg"})
    CHECK_FALSE(fs::exists(out1 + "/" + f));
  CHECK(ReadFile(out1 + "/held_out_error.svg") == ReadFile(out2 + "/held_out_error.svg"));
  const nlohmann::json doc = nlohmann::json::parse(ReadFile(out1 + "/campaign.json"));
  CHECK(doc.at("failure_map").is_null());
  CHECK(doc.at("outcome_test").is_null());
  CHECK(doc.at("held_out").at("archived") == 9);
  CHECK(doc.at("reality").at("kind") == "archive");
  CHECK(doc.at("reality").at("episodes") == 9);

  // the error's reference: the fit on all nine archived episodes
  const CalibrationFile ref = ReadCalibrationFile(out1 + "/reference/calibrate/calibration.json");
  REQUIRE(ref.names == std::vector<std::string>{"damping", "friction"});
  const auto rows = testing::CsvRows(ReadFile(out1 + "/rounds.csv"));
  REQUIRE(rows.size() == 1 + 2 * 3);
  const auto& header = rows[0];
  auto col = [&header](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  REQUIRE(col("skipped") < header.size());
  // the held-out measure, recomputed: the replay error of the round's estimate on the archived
  // episodes (as the reference fit ingested them) that the round's dataset does not hold
  const Study study = a.Load();
  Dataset archived = ReadDatasetFiles(out1 + "/reference/ingest");
  DropEstimatedVelocities(&archived);
  REQUIRE(archived.episodes.size() == 9);
  const ModelPtr model = LoadModelFile(study.model);
  const ParameterBinding binding(model.get(), study.parameters);
  const EpisodeConditions conditions =
      pipeline_internal::StudyConditions(study, model.get(), archived.episodes);
  const CalibrationOptions co = ReadCalibrationOptions(study);
  std::set<double> held_out_errors;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const std::string dir =
        out1 + "/runs/" + row[0] + "/seed0/round" + row[col("round")] + "/calibrate/";
    const CalibrationFile cal = ReadCalibrationFile(dir + "calibration.json");
    const double e0 = std::abs(cal.value[0] - ref.value[0]) / 0.02;
    const double e1 = std::abs(cal.value[1] - ref.value[1]) / 0.05;
    CHECK(std::stod(row[col("error:damping")]) == doctest::Approx(e0).epsilon(1e-6));
    CHECK(std::stod(row[col("error:friction")]) == doctest::Approx(e1).epsilon(1e-6));
    CHECK(row[col("failures_found")].empty());
    CHECK(row[col("failure_regions")].empty());
    CHECK(row[col("outcome_error")].empty());
    CHECK_FALSE(row[col("skipped")].empty());
    const nlohmann::json round_study = nlohmann::json::parse(
        ReadFile(out1 + "/runs/" + row[0] + "/seed0/round" + row[col("round")] + "/study.json"));
    std::set<std::string> collected;
    for (const auto& e : round_study.at("dataset").at("episodes"))
      collected.insert(e.at("id").get<std::string>());
    std::vector<Episode> held;
    for (const Episode& e : archived.episodes)
      if (!collected.count(e.id)) held.push_back(e);
    REQUIRE(held.size() + collected.size() == 9);
    Eigen::VectorXd v = binding.Initial();
    for (int k = 0; k < 2; ++k) v[binding.Find(cal.names[k])] = cal.value[k];
    const double expected =
        ComputeReplayError(model.get(), binding, v, held, 0.3, 1, co.control_hold, co.episode_scale,
                           co.state_window, &conditions)
            .median;
    REQUIRE(std::isfinite(expected));
    CHECK(std::stod(row[col("held_out_error")]) == doctest::Approx(expected).epsilon(1e-6));
    held_out_errors.insert(expected);
  }
  CHECK(held_out_errors.size() > 1);  // the held-out episodes and the estimate change by round
  // each strategy's last round: the study's own a4 once, then archived episodes never repeated
  for (const char* s : {"grid", "random"}) {
    const nlohmann::json study =
        nlohmann::json::parse(ReadFile(out1 + "/runs/" + s + "/seed0/round2/study.json"));
    std::set<std::string> ids;
    int a4 = 0;
    for (const auto& e : study.at("dataset").at("episodes")) {
      CHECK(ids.insert(e.at("id").get<std::string>()).second);
      a4 += e.at("id") == "a4" ? 1 : 0;
    }
    CHECK(a4 == 1);
    const auto& last = rows[std::string(s) == "grid" ? 3 : 6];
    CHECK(last[0] == s);
    CHECK(static_cast<int>(ids.size()) == 1 + std::stoi(last[col("episodes")]));
  }
  // a rerun into the same folder reuses every set and writes the same files
  const std::string before = ReadFile(out1 + "/rounds.csv");
  r = Nextbatch(a, base + " -o " + out1 + " -j 2");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK(ReadFile(out1 + "/rounds.csv") == before);
}

TEST_CASE("archive: bad archives are refused naming the file and field") {
  ArchiveStudy a;
  const Study study = a.Load();
  const ScenarioSpace space = ReadScenarios(study).space;
  auto refused = [&](const std::string& text, const std::string& part) {
    const std::string path = a.dir.Write("bad.json", text);
    try {
      ReadArchiveFile(path, study, space);
      FAIL("accepted: " << text);
    } catch (const InputError& e) {
      const std::string what = e.what();
      CHECK_MESSAGE(what.find(path) != std::string::npos, what);
      CHECK_MESSAGE(what.find(part) != std::string::npos, what);
    }
  };
  refused(R"({"schema": "nextbatch.archive/1", "tolerance": -1,
              "dataset": {"episodes": [{"path": "logs/a0.json"}]}})",
          "tolerance: expected a normalised distance >= 0");
  refused(R"({"schema": "nextbatch.archive/1", "tolerance": 0.1,
              "dataset": {"episodes": [{"path": "logs/a0.json", "id": "x"},
                                       {"path": "logs/a1.json", "id": "x"}]}})",
          "an id unique in the archive");
  refused(R"({"schema": "nextbatch.archive/1", "tolerance": 0.1,
              "dataset": {"episodes": [{"path": "logs/a0.json",
                                        "scenario": {"torque_limit": 9}}]}})",
          "scenario");
  refused(R"({"schema": "nextbatch.archive/1", "tolerance": 0.1,
              "dataset": {"episodes": [{"path": "logs/a0.json"}], "cleaning": {}}})",
          "cleaning");
  refused(R"({"schema": "nextbatch.archive/1", "tolerance": 0.1,
              "dataset": {"episodes": [{"path": "logs/missing.json"}]}})",
          "dataset.episodes[0].path");
}

}  // namespace
}  // namespace nextbatch
