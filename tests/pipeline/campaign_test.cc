// The campaign verb as a user runs it: a smoke campaign (2 rounds, 2 strategies, 1 seed, a small
// budget, a tiny simulate) on the pendulum with byte-identical files for 1 and 2 threads; a hidden
// truth recovered by calibration from episodes the world collected; bad input refused with exit 2
// and nothing written; killed with SIGKILL at fault points (mid-round, between rounds, while the
// summary is written) or stopped by SIGINT / SIGTERM, then --resume: every file as an unbroken
// run's.
#include "pipeline/campaign.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "calibration/calibration_json.h"
#include "engine/atomic_file.h"
#include "engine/digest.h"
#include "engine/episode_io.h"
#include "engine/error.h"
#include "pipeline/pipeline.h"
#include "scenarios/world.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/csv_rows.h"
#include "tests/fixtures/temp_files.h"
#include "tests/pipeline/campaign_fixture.h"

namespace nextbatch {
namespace {

namespace fs = std::filesystem;

// The shared swing-up study (campaign_fixture.h) with a small simulate and a planner-vs-random
// campaign.
struct CampaignStudy {
  testing::TempDir dir{"campaign"};
  nlohmann::json doc;

  CampaignStudy() {
    doc = testing::SwingUpCampaignFiles(dir, "camp");
    doc["simulate"] = {{"candidates", 16}, {"posterior_samples", 4}, {"chunk", 8}};
    doc["campaign"] = nlohmann::json::parse(R"({"rounds": 2, "seeds": 1,
      "strategies": ["planner", "random"], "max_iterations": 8,
      "simulate": {"candidates": 8, "posterior_samples": 2}, "failure_grid": 2,
      "failure_samples": 3, "test_scenarios": 8, "test_samples": 4, "held_out": 2})");
    Save();
  }
  std::string Save() const { return dir.Write("study.json", doc.dump(1)); }
  std::string study() const { return dir.File("study.json"); }
};

struct Run {
  int code = 0;  // exit code, or minus the signal that ended the process
  std::string log;
};

// `nextbatch <args>`; with `fault`, NEXTBATCH_FAULT=fault (a kill point, engine/output_set.h).
Run Nextbatch(const CampaignStudy& s, const std::string& args, const std::string& fault = "") {
  const std::string log = s.dir.File("log");
  const int status = std::system(((fault.empty() ? "" : "NEXTBATCH_FAULT=" + fault + " ") +
                                  std::string(NEXTBATCH_BINARY) + " " + args + " >" + log + " 2>&1")
                                     .c_str());
  Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), ReadFile(log)};
  if (r.code == 128 + SIGKILL) r.code = -SIGKILL;  // through the shell
  return r;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("campaign: a smoke campaign, the same files for 1 and 2 threads") {
  CampaignStudy s;
  const std::string out1 = s.dir.File("out1"), out2 = s.dir.File("out2");
  Run r = Nextbatch(s, "campaign " + s.study() + " --reality " + s.dir.File("world.json") + " -o " +
                           out1 + " -j 1");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK(Has(r.log, "campaign: planner seed 1/1 round 2/2"));
  CHECK(Has(r.log, "episodes-to-target"));
  const auto rows = testing::CsvRows(ReadFile(out1 + "/rounds.csv"));
  REQUIRE(rows.size() == 1 + 2 * 3);
  const std::vector<std::string> header = {"strategy",         "seed",           "round",
                                           "episodes",         "robot_seconds",  "param_error",
                                           "error:damping",    "error:friction", "failures_found",
                                           "failure_regions",  "std_ratio",      "outcome_error",
                                           "outcome_sq_error", "held_out_error", "calibration",
                                           "skipped"};
  CHECK(rows[0] == header);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    CAPTURE(i);
    const int round = std::stoi(row[2]);
    CHECK(row[0] == (i <= 3 ? "planner" : "random"));
    CHECK(round == static_cast<int>((i - 1) % 3));
    // robot time within the budget of each batch so far; an episode is 1.5 + 8.5 s
    const double seconds = std::stod(row[4]);
    CHECK(seconds <= 150.0 * round + 1e-9);
    if (round == 0) {
      CHECK(std::stoi(row[3]) == 0);
      // the priors' error: |0.05 - 0.09| / 0.02 = 2 and |0.2 - 0.12| / 0.05 = 1.6
      CHECK(std::stod(row[6]) == doctest::Approx(2.0));
      CHECK(std::stod(row[7]) == doctest::Approx(1.6));
      CHECK(std::stod(row[5]) == doctest::Approx(1.8));
      CHECK(row[14] == "prior");
    } else {
      CHECK(std::stoi(row[3]) > std::stoi(rows[i - 1][3]));
      // each episode costs 10 s and at most one 60 s setup change
      CHECK(seconds >= 10.0 * std::stoi(row[3]));
      CHECK(seconds <= 70.0 * std::stoi(row[3]) + 1e-9);
      CHECK(row[14] != "prior");
      // the planner's batches move the estimate towards the truth; a random batch may not excite
      // the parameters (a torque limit too low to lift the pendulum off its start)
      if (row[0] == "planner") CHECK(std::stod(row[5]) < 1.0);
      CHECK(std::stod(row[5]) <= 1.8 + 1e-3);
    }
    CHECK(std::stoi(row[8]) <= std::stoi(row[9]));
    CHECK(std::stoi(row[9]) <= 4);  // a 2 x 2 grid
    // the planner's forecast std is compared from round 2 on: round 1's batch was planned from
    // the priors (a cold start), whose plan forecasts no std; the baselines have none
    if (row[0] == "planner" && round >= 2) CHECK_FALSE(row[10].empty());
    if (row[0] == "planner" && round <= 1) CHECK(row[10].empty());
    if (row[0] == "random") CHECK(row[10].empty());
    // rates in [0, 1] on 8 scenarios of 4 rollouts: the errors are in [0, 1], the squared one
    // at most the absolute one
    const double mae = std::stod(row[11]), mse = std::stod(row[12]);
    CHECK(mae >= 0.0);
    CHECK(mae <= 1.0);
    CHECK(mse <= mae + 1e-12);
    CHECK(std::fmod(mae * 32, 1.0) == doctest::Approx(0.0));  // a multiple of 1 / (8 x 4)
    // the held-out episodes replayed under the round's estimate: a joint-position error > 0
    CHECK(std::stod(row[13]) > 0.0);
    // the planner's fits move the estimate to the truth (above): the world's episodes that no
    // strategy collected are predicted better than by the priors
    if (row[0] == "planner" && round == 2) CHECK(std::stod(row[13]) < std::stod(rows[1][13]));
    // round 0 is the priors for every strategy: the same held-out error
    if (round == 0) CHECK(row[13] == rows[1][13]);
  }
  // the round studies and their sets are on disk, warm-started from the previous round
  const nlohmann::json round2 =
      nlohmann::json::parse(ReadFile(out1 + "/runs/random/seed0/round2/study.json"));
  CHECK(round2.at("calibration").at("max_iterations") == 8);
  CHECK(round2.at("calibration").at("warm_start") == "../round1/calibrate/calibration.json");
  CHECK(round2.at("dataset").at("episodes").size() ==
        static_cast<std::size_t>(std::stoi(rows[6][3])));
  CHECK(fs::exists(out1 + "/runs/planner/seed0/round1/plan/plan.json"));
  CHECK(fs::exists(out1 + "/param_error.svg"));
  CHECK(fs::exists(out1 + "/failures.svg"));
  CHECK(fs::exists(out1 + "/outcome_error.svg"));
  CHECK(fs::exists(out1 + "/held_out_error.svg"));
  CHECK(fs::exists(out1 + "/held_out/ingest/dataset.json"));
  const nlohmann::json doc = nlohmann::json::parse(ReadFile(out1 + "/campaign.json"));
  CHECK(doc.at("schema") == "nextbatch.campaign/1");
  CHECK(doc.at("strategies").size() == 2);
  CHECK(doc.at("episodes_to_target").at("of") == "random");

  // a rerun into the same folder reuses every round's sets (the world's episodes are the same
  // bytes again): what continues an interrupted campaign
  const std::string manifest = out1 + "/runs/planner/seed0/round2/calibrate/manifest.json";
  const std::string before = ReadFile(manifest), rounds_before = ReadFile(out1 + "/rounds.csv");
  r = Nextbatch(s, "campaign " + s.study() + " --reality " + s.dir.File("world.json") + " -o " +
                       out1 + " -j 1 -q");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK(ReadFile(manifest) == before);
  CHECK(ReadFile(out1 + "/rounds.csv") == rounds_before);

  // campaign.json names every summary file beside it with its digest (timings.csv, this
  // machine's seconds, without one)
  auto check_files = [](const std::string& out) {
    const nlohmann::json files =
        nlohmann::json::parse(ReadFile(out + "/campaign.json")).at("files");
    std::set<std::string> on_disk;
    for (const auto& e : fs::directory_iterator(out)) {
      if (e.is_regular_file() && e.path().filename() != "campaign.json")
        on_disk.insert(e.path().filename().string());
    }
    std::set<std::string> named;
    for (const auto& [name, digest] : files.items()) {
      named.insert(name);
      INFO(name);
      if (name == "timings.csv") {
        CHECK(digest.is_null());
      } else {
        CHECK(digest.get<std::string>() == DigestOfFile(out + "/" + name));
      }
    }
    CHECK(named == on_disk);
  };
  check_files(out1);
  CHECK(fs::exists(out1 + "/held_out_error.svg"));
  // the same folder, a campaign without held-out episodes: the earlier run's plot of them goes,
  // the rounds' sets are reused, and the files are a fresh run's (out2, below)
  s.doc["campaign"]["held_out"] = 0;
  s.Save();
  r = Nextbatch(s, "campaign " + s.study() + " --reality " + s.dir.File("world.json") + " -o " +
                       out1 + " -j 1 -q");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK(ReadFile(manifest) == before);
  CHECK_FALSE(fs::exists(out1 + "/held_out_error.svg"));
  check_files(out1);

  r = Nextbatch(s, "campaign " + s.study() + " --reality " + s.dir.File("world.json") + " -o " +
                       out2 + " -j 2 -q");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  for (const char* f :
       {"rounds.csv", "summary.csv", "campaign.json", "param_error.svg", "outcome_error.svg"}) {
    INFO(f);
    CHECK(ReadFile(out1 + "/" + f) == ReadFile(out2 + "/" + f));
  }
}

TEST_CASE("campaign: bad input exits 2 and writes nothing") {
  CampaignStudy s;
  const std::string out = s.dir.File("bad_out");
  auto refused = [&](const std::string& args, const std::vector<std::string>& parts) {
    const Run r = Nextbatch(s, "campaign " + s.study() + " -o " + out + " " + args);
    CHECK_MESSAGE(r.code == 2, r.log);
    for (const auto& p : parts) CHECK_MESSAGE(Has(r.log, p), r.log);
    CHECK_FALSE(fs::exists(out));
  };
  s.dir.Write("bad_world.json", R"({"schema": "nextbatch.world/1", "truth": {"damping": 1}})");
  refused("--reality " + s.dir.File("bad_world.json"), {"bad_world.json", "truth.friction"});
  refused("--reality " + s.dir.File("world.json") + " --strategies planner,bogus",
          {"strategies", "bogus"});
  s.doc["campaign"]["rounds"] = 0;
  s.Save();
  refused("--reality " + s.dir.File("world.json"), {"study.json", "campaign.rounds"});
  s.doc["campaign"]["rounds"] = 2;
  s.doc["campaign"]["rouns"] = 2;
  s.Save();
  refused("--reality " + s.dir.File("world.json"), {"study.json", "rouns"});
  s.doc["campaign"].erase("rouns");
  s.doc["campaign"]["budget_seconds"] = 20;  // less than one episode with its setup change
  s.Save();
  refused("--reality " + s.dir.File("world.json"), {"budget_seconds", "70"});
}

TEST_CASE("campaign: calibration recovers the world's truth from collected episodes") {
  CampaignStudy s;
  const Study study = Study::Load(s.study());
  const World world(study, ReadWorldFile(s.dir.File("world.json"), study));
  nlohmann::json episodes = nlohmann::json::array();
  const double angles[] = {-0.4, -0.1, 0.2, 0.45};
  const double limits[] = {0.8, 1.6, 2.4, 3.0};
  for (int i = 0; i < 4; ++i) {
    const Scenario sc =
        world.space().FromJson({{"initial_angle", angles[i]}, {"torque_limit", limits[i]}}, "s");
    const Collected c =
        world.Collect(sc, WorldKey({7, static_cast<std::uint64_t>(i)}), "w" + std::to_string(i));
    REQUIRE(c.ok);
    WriteEpisodeJson(c.episode, s.dir.File("w" + std::to_string(i) + ".json"));
    episodes.push_back(
        {{"path", "w" + std::to_string(i) + ".json"}, {"scenario", c.episode.scenario}});
  }
  s.doc["dataset"] = {{"importer", {{"format", "native"}}}, {"episodes", episodes}};
  s.doc["calibration"]["max_iterations"] = 30;
  s.Save();
  PipelineOptions options;
  options.out = s.dir.File("fit");
  options.quiet = true;
  for (const StageReport& r : RunPipeline(Study::Load(s.study()), options, StageId::kCalibrate))
    REQUIRE_MESSAGE(r.exit_code == 0, r.message);
  const CalibrationFile fit = ReadCalibrationFile(options.out + "/calibrate/calibration.json");
  const double truth[] = {0.09, 0.12};
  for (int j = 0; j < 2; ++j) {
    CAPTURE(fit.names[j]);
    const double honest = std::sqrt(fit.honest_covariance(j, j));
    CAPTURE(fit.value[j]);
    CAPTURE(honest);
    CHECK(std::abs(fit.value[j] - truth[j]) <= 3 * honest);
    // and far closer than the prior's mean was (2 and 1.6 prior stds off)
    CHECK(std::abs(fit.value[j] - truth[j]) < 0.25 * (j == 0 ? 0.04 : 0.08));
  }
}

// The outcome-model error's known answers: the world itself as the model gives exactly zero; the
// world's parameters in the study's model with other start draws give an error at the sampling
// level; a deliberately wrong model gives more.
TEST_CASE("campaign: outcome-model error, true model at the sampling level, a wrong one above") {
  CampaignStudy s;
  s.doc["simulate"]["nuisance"] = {{"qpos_std", 0.1}, {"qvel_std", 0.5}};
  s.Save();
  s.dir.Write("world.json", R"({"schema": "nextbatch.world/1", "name": "plain",
      "truth": {"damping": 0.09, "friction": 0.12},
      "start": {"qpos_std": 0.1, "qvel_std": 0.5}, "seed": 3})");
  const Study study = Study::Load(s.study());
  const World world(study, ReadWorldFile(s.dir.File("world.json"), study));
  std::vector<Scenario> test;
  for (int a = 0; a < 4; ++a) {
    for (int t = 0; t < 8; ++t) {
      test.push_back(world.space().FromJson(
          {{"initial_angle", -0.45 + 0.3 * a}, {"torque_limit", 0.3 + 2.7 * t / 7.0}}, "s"));
    }
  }
  const int n = 24;
  const std::vector<double> truth = SuccessRates(world, test, n, 1, 1);
  CHECK(SuccessRates(world, test, n, 1, 2) == truth);  // any thread count
  // a test set with successes and failures, else any model that always fails would score well
  CHECK(*std::min_element(truth.begin(), truth.end()) < 0.5);
  CHECK(*std::max_element(truth.begin(), truth.end()) > 0.5);

  // the same world, draws and keys: no error at all
  const World same(study, ModelWorldSpec(study, {0.09, 0.12}, 3));
  const OutcomeError zero = CompareRates(truth, SuccessRates(same, test, n, 1, 2));
  CHECK(zero.mean_abs == 0.0);
  CHECK(zero.mean_sq == 0.0);

  // other start draws: each rate difference has variance p(1-p)(2/n) <= 0.5/n, so the mean
  // |difference| is at most sqrt(0.5/n) and the mean squared one about 0.5/n at worst
  const OutcomeError right = CompareRates(
      truth, SuccessRates(World(study, ModelWorldSpec(study, {0.09, 0.12}, 77)), test, n, 2, 2));
  CAPTURE(right.mean_abs);
  CHECK(right.mean_abs > 0.0);
  CHECK(right.mean_abs <= std::sqrt(0.5 / n));
  CHECK(right.mean_sq <= 0.5 / n);

  // a model far off (the bounds' largest damping and friction) predicts other outcomes
  const OutcomeError wrong = CompareRates(
      truth, SuccessRates(World(study, ModelWorldSpec(study, {0.5, 1.0}, 77)), test, n, 2, 2));
  CAPTURE(wrong.mean_abs);
  CHECK(wrong.mean_abs > 2 * std::sqrt(0.5 / n));
  CHECK(wrong.mean_sq > 0.5 / n);
  CHECK_THROWS_AS(CompareRates({0.5}, {}), LogicError);
}

// A campaign folder's files (relative paths) with what must match between two runs: the bytes;
// for a manifest, all but what it records of its own run (created, seconds); for timings.csv
// (seconds per round: the one file that depends on the machine) its rows without the seconds.
std::map<std::string, std::string> Comparable(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    const std::string name = fs::relative(e.path(), root).generic_string();
    std::string text = ReadFile(e.path().string());
    if (e.path().filename() == "manifest.json") {
      nlohmann::json m = nlohmann::json::parse(text);
      m.erase("created");
      m.erase("seconds");
      text = m.dump(1);
    } else if (name == "timings.csv") {
      std::string rows;
      for (const auto& row : testing::CsvRows(text))
        rows += row.at(0) + "," + row.at(1) + "," + row.at(2) + "\n";
      text = rows;
    }
    files[name] = text;
  }
  return files;
}

// Every file of `out` as in `ref`, and no other file.
void CheckSameCampaign(const std::string& out, const std::string& ref) {
  const auto a = Comparable(out), b = Comparable(ref);
  std::string differ;
  for (const auto& [name, text] : a) {
    const auto it = b.find(name);
    if (it == b.end()) {
      differ += " " + name + " (not in the unbroken run's)";
    } else if (it->second != text) {
      differ += " " + name;
    }
  }
  for (const auto& [name, text] : b)
    if (!a.count(name)) differ += " " + name + " (missing)";
  INFO("files that differ:", differ);
  CHECK(differ.empty());
  CHECK(a.size() == b.size());
  CHECK(a.size() > 50);  // the rounds' sets, episodes and summary files are all there
}

// The smoke campaign, its planner's 8 candidates simulated in 2 chunks (a kill point between
// them), and the files of a run never stopped, made in the folder the stopped runs use (round
// studies name paths relative to it) and moved to `ref`.
struct StoppedCampaign {
  CampaignStudy s;
  std::string out, ref, run;

  StoppedCampaign() {
    s.doc["simulate"]["chunk"] = 4;
    s.Save();
    out = s.dir.File("out");
    ref = s.dir.File("ref");
    run = "campaign " + s.study() + " --reality " + s.dir.File("world.json") + " -o " + out + " -q";
    const Run r = Nextbatch(s, run);
    REQUIRE_MESSAGE(r.code == 0, r.log);
    fs::rename(out, ref);
  }

  // Killed at `point` (on 1 thread, the study's), then `nextbatch campaign ... -j 2 --resume`:
  // the files of the unbroken run, nothing a killed run leaves. Returns the resumed run's log.
  std::string KillAndResume(const std::string& point) {
    CAPTURE(point);
    Run r = Nextbatch(s, run, point);
    REQUIRE_MESSAGE(r.code == -SIGKILL, r.log);
    CHECK_FALSE(fs::exists(out + "/campaign.json"));
    r = Nextbatch(s, run + " -j 2 --resume");
    REQUIRE_MESSAGE(r.code == 0, r.log);
    CheckSameCampaign(out, ref);
    CHECK(testing::Leftovers(out).empty());
    return r.log;
  }
};

TEST_CASE(
    "campaign killed mid-round (simulate, calibrate), then --resume: the files of an "
    "unbroken run") {
  StoppedCampaign c;
  // the planner's round 0 after its first simulate chunk: the chunk is not simulated again
  const std::string log = c.KillAndResume("simulate.chunk.1");
  CHECK_MESSAGE(Has(log, "campaign: planner seed 0 round 0: simulate: resumed after 4 candidates"),
                log);
  // the planner's round 1 with its fit staged, not published
  fs::remove_all(c.out);
  c.KillAndResume("calibrate.staged");
  // without --resume, an interrupted simulation starts again (and says so); the finished rounds
  // are reused all the same
  fs::remove_all(c.out);
  Run r = Nextbatch(c.s, c.run, "simulate.chunk.1");
  REQUIRE(r.code == -SIGKILL);
  r = Nextbatch(c.s, c.run);
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK_MESSAGE(Has(r.log, "planner seed 0 round 0: simulate: discarded the checkpoint"), r.log);
  CheckSameCampaign(c.out, c.ref);
  CHECK(testing::Leftovers(c.out).empty());
}

TEST_CASE(
    "campaign killed collecting, between rounds and writing its summary, then --resume: "
    "the files of an unbroken run") {
  StoppedCampaign c;
  // the planner's round 1 with one episode of its batch written, the others not
  c.KillAndResume("campaign.collected.planner.0.1");
  // the planner's round 1 finished, round 2 not begun
  fs::remove_all(c.out);
  c.KillAndResume("campaign.round.planner.0.1");
  // three of the eight summary files staged, none in place
  fs::remove_all(c.out);
  c.KillAndResume("campaign.summary.3");
  // over a finished campaign's folder: campaign.json removed first, two of the new files in
  // place, so that no campaign.json stands beside a mix of two runs' files
  fs::remove_all(c.out);
  fs::copy(c.ref, c.out, fs::copy_options::recursive);
  c.KillAndResume("campaign.published.2");
}

TEST_CASE("SIGINT and SIGTERM stop a campaign: 130 / 143, what finished, the command to resume") {
  StoppedCampaign c;
  const std::string world = c.s.dir.File("world.json");
  // SIGINT once the planner's round 1 has begun (its ingest or fit running), SIGTERM once the
  // random strategy has begun
  const std::pair<int, const char*> stops[] = {{SIGINT, "/runs/planner/seed0/round1/study.json"},
                                               {SIGTERM, "/runs/random/seed0/round1/study.json"}};
  for (const auto& [signal, when] : stops) {
    const std::string name = signal == SIGINT ? "SIGINT" : "SIGTERM";
    CAPTURE(name);
    fs::remove_all(c.out);
    const std::string log = c.s.dir.File("log_" + name);
    const pid_t pid = testing::SpawnNextbatch(
        {"campaign", c.s.study(), "--reality", world, "-o", c.out, "-q"}, log);
    REQUIRE(pid > 0);
    REQUIRE(testing::WaitForPath(c.out + when));
    if (signal == SIGINT) {
      // one campaign writes into a folder at a time: a second is refused, naming the first
      const Run second = Nextbatch(c.s, c.run);
      CHECK(second.code == 2);
      CHECK_MESSAGE(Has(second.log, "another nextbatch run is writing this stage (process " +
                                        std::to_string(pid) + ")"),
                    second.log);
    }
    ::kill(pid, signal);
    const int code = testing::WaitExit(pid);
    const std::string text = ReadFile(log);
    CHECK_MESSAGE(code == 128 + signal, text);
    CHECK_MESSAGE(Has(text, "nextbatch campaign: interrupted (" + name + "): "), text);
    CHECK_MESSAGE(Has(text, " of 6 rounds finished"), text);
    CHECK_MESSAGE(Has(text,
                      "the summary files were not written; continue with `nextbatch "
                      "campaign " +
                          c.s.study() + " --reality " + world + " -o " + c.out + " --resume`"),
                  text);
    // nothing half-written: no summary file, temporary file, staging folder or lock; only the
    // checkpoint of a simulation that was stopped may stay, for --resume
    for (const char* f : {"campaign.json", "rounds.csv", "summary.csv"})
      CHECK_FALSE(fs::exists(c.out + "/" + f));
    for (const std::string& left : testing::Leftovers(c.out)) {
      CAPTURE(left);
      CHECK(Has(left, ".simulate.resume"));
    }
    const Run r = Nextbatch(c.s, c.run + " -j 2 --resume");
    REQUIRE_MESSAGE(r.code == 0, r.log);
    CheckSameCampaign(c.out, c.ref);
    CHECK(testing::Leftovers(c.out).empty());
  }
}

TEST_CASE("campaign --resume after the study changed: the stopped simulation starts afresh") {
  CampaignStudy s;
  s.doc["simulate"]["chunk"] = 4;
  s.Save();
  const std::string out = s.dir.File("out");
  const std::string run =
      "campaign " + s.study() + " --reality " + s.dir.File("world.json") + " -o " + out + " -q";
  Run r = Nextbatch(s, run, "simulate.chunk.1");
  REQUIRE_MESSAGE(r.code == -SIGKILL, r.log);
  s.doc["seed"] = 5;  // every round's study and seed change
  s.Save();
  r = Nextbatch(s, run + " --resume");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK_MESSAGE(
      Has(r.log, "campaign: planner seed 0 round 0: simulate: --resume: the checkpoint in " + out +
                     "/runs/planner/seed0/round0/.simulate.resume was made from other "
                     "inputs (study section 'seed' changed): starting afresh"),
      r.log);
  CHECK_FALSE(Has(r.log, "resumed after"));
  CHECK(fs::exists(out + "/campaign.json"));
  CHECK(testing::Leftovers(out).empty());
}

}  // namespace
}  // namespace nextbatch
