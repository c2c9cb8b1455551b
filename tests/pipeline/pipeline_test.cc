// The loop's stages as a user runs them: each reads the previous stage's set from disk, stale
// upstream sets are refused, two writers of one stage are refused, and a run killed at any point
// leaves each set whole (the previous one or the new one) and nothing half-written.
#include "pipeline/pipeline.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "engine/atomic_file.h"
#include "engine/episode_io.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/manifest.h"
#include "engine/model.h"
#include "engine/output_set.h"
#include "tests/fixtures/temp_files.h"
#include "tests/pipeline/pendulum_logs.h"

extern char** environ;

namespace nextbatch {
namespace {

namespace fs = std::filesystem;

// A small study of the DFKI pendulum with every stage: two synthetic logs made with hidden
// damping and friction, those two parameters, and 8 swing-up candidates of 1 s.
struct LoopStudy {
  testing::TempDir dir{"pipeline_loop"};
  nlohmann::json doc;

  LoopStudy() {
    doc = testing::PendulumStudyDoc("loop", 4);
    testing::WritePendulumLogs(dir);
    Save();
  }
  std::string Save() const { return dir.Write("study.json", doc.dump(1)); }
  std::string study() const { return dir.File("study.json"); }
  std::string out() const { return dir.File("out"); }
};

struct Run {
  int code = 0;
  std::string log;
};

// Runs `nextbatch <args>` with NEXTBATCH_FAULT set to `fault` ("" for none).
Run Nextbatch(const std::string& args, const std::string& log_path, const std::string& fault = "") {
  const std::string command = (fault.empty() ? "" : "NEXTBATCH_FAULT=" + fault + " ") +
                              std::string(NEXTBATCH_BINARY) + " " + args + " >" + log_path +
                              " 2>&1";
  const int status = std::system(command.c_str());
  Run r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  if (WIFSIGNALED(status)) r.code = -WTERMSIG(status);
  // system() reports a child killed by a signal through the shell as 128 + signal
  if (r.code == 128 + SIGKILL) r.code = -SIGKILL;
  r.log = ReadFile(log_path);
  return r;
}

// A published set is whole: its manifest lists exactly the files it holds, with their digests.
void CheckWhole(const std::string& set_dir) {
  INFO(set_dir);
  REQUIRE(fs::exists(set_dir + "/manifest.json"));
  const Manifest m = ReadManifest(set_dir + "/manifest.json");
  CHECK(DigestFiles(set_dir) == m.files);
}

// Nothing but published sets (and, after a killed run, its staging folder or lock) in `root`.
std::vector<std::string> Leftovers(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (name.find("staging") != std::string::npos || name.find(".tmp") != std::string::npos ||
        name.find(".lock") != std::string::npos) {
      out.push_back(fs::relative(e.path(), root).string());
    }
  }
  return out;
}

TEST_CASE("ingest -> calibrate -> simulate: each stage reads the previous one's set from disk") {
  LoopStudy s;
  const std::string args = s.study() + " -o " + s.out();
  Run r = Nextbatch("ingest " + args, s.dir.File("log"));
  REQUIRE_MESSAGE(r.code == 0, r.log);
  r = Nextbatch("calibrate " + args, s.dir.File("log"));
  REQUIRE_MESSAGE(r.code == 0, r.log);
  r = Nextbatch("simulate " + args, s.dir.File("log"));
  REQUIRE_MESSAGE(r.code == 0, r.log);
  for (const char* stage : {"ingest", "calibrate", "simulate"}) CheckWhole(s.out() + "/" + stage);
  CHECK(Leftovers(s.out()).empty());
  const Manifest ingest = ReadManifest(s.out() + "/ingest/manifest.json");
  const Manifest calibrate = ReadManifest(s.out() + "/calibrate/manifest.json");
  const Manifest simulate = ReadManifest(s.out() + "/simulate/manifest.json");
  CHECK(ingest.files.count("dataset.json") == 1);
  CHECK(ingest.files.count("episodes/ep0.json") == 1);
  CHECK(ingest.inputs.count("file:log ep0.json") == 1);
  CHECK(calibrate.inputs.at("upstream:ingest") == ingest.SetDigest());
  CHECK(simulate.inputs.at("upstream:calibrate") == calibrate.SetDigest());
  // simulate sampled the fitted posterior, not the priors
  const nlohmann::json candidates = ReadJsonFile(s.out() + "/simulate/candidates.json");
  CHECK(candidates.at("calibration") == s.out() + "/calibrate/calibration.json");
  CHECK(candidates.at("parameters") == nlohmann::json::array({"damping", "friction"}));
  // the fitted values recover the hidden truth
  const nlohmann::json cal = ReadJsonFile(s.out() + "/calibrate/calibration.json");
  CHECK(cal["parameters"][0]["value"].get<double>() == doctest::Approx(0.08).epsilon(0.15));
  CHECK(cal["information"].size() == 2);
}

TEST_CASE("a stale upstream set is refused, naming what changed, --use-stale reads it, warned") {
  LoopStudy s;
  const std::string args = s.study() + " -o " + s.out();
  for (const char* verb : {"ingest", "calibrate"}) {
    const Run r = Nextbatch(std::string(verb) + " " + args, s.dir.File("log"));
    REQUIRE_MESSAGE(r.code == 0, r.log);
  }
  s.doc["calibration"]["max_iterations"] = 31;
  s.Save();
  Run r = Nextbatch("simulate " + args, s.dir.File("log"));
  CHECK(r.code == 2);
  CHECK(r.log.find("calibrate set is stale") != std::string::npos);
  CHECK(r.log.find("study section 'calibration' changed") != std::string::npos);
  CHECK_FALSE(fs::exists(s.out() + "/simulate"));
  r = Nextbatch("simulate " + args + " --use-stale", s.dir.File("log"));
  CHECK(r.code == 0);
  CHECK(r.log.find("warning: read the stale calibrate set") != std::string::npos);
  CHECK(ReadManifest(s.out() + "/simulate/manifest.json").status == "done_with_warnings");
  // a changed log makes the ingest set stale, and so everything after it
  s.doc["calibration"]["max_iterations"] = 30;
  s.Save();
  WriteFileAtomic(s.dir.File("ep1.json"), ReadFile(s.dir.File("ep0.json")));
  r = Nextbatch("calibrate " + args, s.dir.File("log"));
  CHECK(r.code == 2);
  CHECK(r.log.find("input file log ep1.json changed") != std::string::npos);
  r = Nextbatch("simulate " + args, s.dir.File("log"));
  CHECK(r.code == 2);
  CHECK(r.log.find("upstream ingest: input file log ep1.json changed") != std::string::npos);
  // a missing upstream set says which command makes it
  r = Nextbatch("calibrate " + s.study() + " -o " + s.dir.File("empty"), s.dir.File("log"));
  CHECK(r.code == 2);
  CHECK(r.log.find("run `nextbatch ingest") != std::string::npos);
  CHECK_FALSE(fs::exists(s.dir.File("empty")));
}

TEST_CASE("RunPipeline reuses current sets and redoes what changed or what is forced") {
  LoopStudy s;
  PipelineOptions options;
  options.out = s.out();
  options.quiet = true;
  auto ran = [](const std::vector<StageReport>& reports) {
    std::string out;
    for (const auto& r : reports) {
      CHECK(r.exit_code == 0);
      out += std::string(r.reused ? "=" : "+") + r.stage + " ";
    }
    return out;
  };
  CHECK(ran(RunPipeline(Study::Load(s.study()), options, StageId::kSimulate)) ==
        "+ingest +calibrate +simulate ");
  CHECK(ran(RunPipeline(Study::Load(s.study()), options, StageId::kSimulate)) ==
        "=ingest =calibrate =simulate ");
  s.doc["simulate"]["posterior_samples"] = 2;
  s.Save();
  CHECK(ran(RunPipeline(Study::Load(s.study()), options, StageId::kSimulate)) ==
        "=ingest =calibrate +simulate ");
  CHECK(ran(RunPipeline(Study::Load(s.study()), options, StageId::kSimulate,
                        StageId::kCalibrate)) == "=ingest +calibrate +simulate ");
  const std::string calibration = ReadFile(s.out() + "/calibrate/calibration.json");
  CHECK(ran(RunPipeline(Study::Load(s.study()), options, StageId::kCalibrate)) ==
        "=ingest =calibrate ");
  CHECK(ReadFile(s.out() + "/calibrate/calibration.json") == calibration);
}

TEST_CASE(
    "warnings reach the manifest and stderr; --strict makes them exit 1, publishing nothing") {
  LoopStudy s;
  s.doc.erase("dataset");
  s.doc.erase("calibration");
  s.Save();
  // a cold start: no data, no calibration, the priors are sampled and the run says so
  Run r = Nextbatch("simulate " + s.study() + " -o " + s.out() + " --strict", s.dir.File("log"));
  CHECK(r.code == 1);
  CHECK(r.log.find("warning: no calibration") != std::string::npos);
  CHECK(r.log.find("--strict") != std::string::npos);
  CHECK_FALSE(fs::exists(s.out()));
  r = Nextbatch("simulate " + s.study() + " -o " + s.out(), s.dir.File("log"));
  CHECK(r.code == 0);
  const Manifest m = ReadManifest(s.out() + "/simulate/manifest.json");
  CHECK(m.status == "done_with_warnings");
  REQUIRE(m.warnings.size() == 2);
  CHECK(m.warnings[0].find("sampled from their priors") != std::string::npos);
  // and the candidates' information rests on an assumed noise level
  CHECK(m.warnings[1].find("information: no noise levels") != std::string::npos);
}

TEST_CASE("a second run writing the same stage of one folder is refused") {
  LoopStudy s;
  const Run ingest = Nextbatch("ingest " + s.study() + " -o " + s.out(), s.dir.File("log"));
  REQUIRE(ingest.code == 0);
  const std::string before = ReadFile(s.out() + "/ingest/manifest.json");
  {
    OutputSet held(s.out(), "ingest");  // another run, mid-way
    const Run r = Nextbatch("ingest " + s.study() + " -o " + s.out(), s.dir.File("log"));
    CHECK(r.code == 2);
    CHECK(r.log.find("another nextbatch run is writing this stage (process " +
                     std::to_string(::getpid()) + ")") != std::string::npos);
    CHECK(ReadFile(s.out() + "/ingest/manifest.json") == before);
    // another stage of the same folder is free
    CHECK(Nextbatch("calibrate " + s.study() + " -o " + s.out(), s.dir.File("log")).code == 0);
  }
  CHECK(Nextbatch("ingest " + s.study() + " -o " + s.out(), s.dir.File("log")).code == 0);
}

TEST_CASE("SIGKILL before, during and after the publish leaves each set whole, old or new") {
  LoopStudy s;
  const std::string args = s.study() + " -o " + s.out() + " -q";
  for (const char* verb : {"ingest", "calibrate", "simulate", "plan"}) {
    REQUIRE(Nextbatch(std::string(verb) + " " + args, s.dir.File("log")).code == 0);
  }
  // make every stage produce a different set than the one on disk
  s.doc["dataset"]["cleaning"]["max_gap"] = 1.0;
  s.Save();
  for (const char* verb : {"ingest", "calibrate", "simulate", "plan"}) {
    const std::string stage = verb;
    const std::string set = s.out() + "/" + stage;
    // plan would reuse the set a killed run published: --from plan makes it run every time
    const std::string stale = stage == "ingest" ? ""
                              : stage == "plan" ? " --from plan"
                                                : " --use-stale";
    for (const char* point : {"staged", "exchanged", "published"}) {
      const std::string where = stage + "." + point;
      CAPTURE(where);
      const std::string old_manifest = ReadFile(set + "/manifest.json");
      const Run r = Nextbatch(stage + " " + args + stale, s.dir.File("log"), where);
      CHECK_MESSAGE(r.code == -SIGKILL, r.log);
      CheckWhole(set);
      const bool replaced = ReadFile(set + "/manifest.json") != old_manifest;
      CHECK(replaced == (std::string(point) != "staged"));
    }
    // the next run cleans what the killed ones left and publishes
    REQUIRE(Nextbatch(stage + " " + args + stale, s.dir.File("log")).code == 0);
    CheckWhole(set);
  }
  CHECK(Leftovers(s.out()).empty());
}

// Starts `nextbatch` with `args`, output to /dev/null; returns its pid.
pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string binary = NEXTBATCH_BINARY;
  argv.push_back(binary.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

TEST_CASE("SIGKILL at random times during each stage never leaves a mixed or half set") {
  LoopStudy s;
  s.doc["simulate"]["candidates"] = 64;
  s.Save();
  const std::vector<std::string> base = {s.study(), "-o", s.out(), "-q"};
  // delays spread over each stage's run, fixed so that the test repeats itself
  const int delays_ms[] = {1, 20, 60, 150, 400};
  for (const char* verb : {"ingest", "calibrate", "simulate"}) {
    for (int delay : delays_ms) {
      std::vector<std::string> args = base;
      args.insert(args.begin(), verb);
      if (std::string(verb) != "ingest") args.push_back("--use-stale");
      const pid_t pid = Spawn(args);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
      const std::string set = s.out() + "/" + verb;
      if (fs::exists(set)) CheckWhole(set);
    }
    // finish the stage so that the next one has its upstream
    std::vector<std::string> args = base;
    args.insert(args.begin(), verb);
    if (std::string(verb) != "ingest") args.push_back("--use-stale");
    const pid_t pid = Spawn(args);
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    CheckWhole(s.out() + "/" + verb);
  }
  CHECK(Leftovers(s.out()).empty());
}

}  // namespace
}  // namespace nextbatch
