// Resuming and stopping, as a user meets them: a simulate or plan run killed with SIGKILL at
// chosen points (fault points between and after chunks, around the publish) or at fixed delays,
// then rerun with --resume, publishes the same bytes as a run that was never stopped; a changed
// input starts afresh and says so; SIGINT and SIGTERM stop at a chunk boundary with exit 130 or
// 143, a message, nothing published and the lock released.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "engine/atomic_file.h"
#include "engine/episode_io.h"
#include "engine/error.h"
#include "engine/interrupt.h"
#include "engine/manifest.h"
#include "engine/model.h"
#include "pipeline/pipeline.h"
#include "tests/fixtures/command.h"
#include "tests/fixtures/temp_files.h"
#include "tests/pipeline/pendulum_logs.h"

namespace nextbatch {
namespace {

namespace fs = std::filesystem;

// The DFKI pendulum: two synthetic logs, damping and friction, swing-up candidates (6 chunks of
// 4 by default) and a planner section.
struct ResumeStudy {
  testing::TempDir dir{"resume"};
  nlohmann::json doc;

  ResumeStudy() {
    doc = testing::PendulumStudyDoc("resume", 7);
    testing::MakeTorqueLimitASetup(doc);
    doc["simulate"]["candidates"] = 24;
    doc["planner"] = {{"budget_seconds", 300}, {"reset_seconds", 19}};
    testing::WritePendulumLogs(dir);
    Save();
  }
  // Without logs: simulate samples the priors (a faster study for the simulate-only cases).
  void WithoutData() {
    doc.erase("dataset");
    doc.erase("calibration");
    Save();
  }
  std::string Save() const { return dir.Write("study.json", doc.dump(1)); }
  std::string study() const { return dir.File("study.json"); }
  std::string out(const std::string& name) const { return dir.File(name); }
};

struct Run {
  int code = 0;  // exit code, or minus the signal that ended the process
  std::string log;
};

Run Nextbatch(const ResumeStudy& s, const std::string& args, const std::string& fault = "") {
  const std::string log = s.dir.File("log");
  const std::string command = (fault.empty() ? "" : "NEXTBATCH_FAULT=" + fault + " ") +
                              std::string(NEXTBATCH_BINARY) + " " + args + " >" + log + " 2>&1";
  const int status = std::system(command.c_str());
  Run r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  if (r.code == 128 + SIGKILL) r.code = -SIGKILL;  // through the shell
  r.log = ReadFile(log);
  return r;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Two published sets hold the same bytes: every file, and the manifest but for what it records
// of this run only (when it was made and how long each phase took).
void CheckSameSet(const std::string& a, const std::string& b) {
  INFO(a, " against ", b);
  REQUIRE(fs::exists(a + "/manifest.json"));
  REQUIRE(fs::exists(b + "/manifest.json"));
  const auto files_a = DigestFiles(a), files_b = DigestFiles(b);
  CHECK(files_a == files_b);
  for (const auto& entry : files_a) {
    // named: a lambda (doctest's INFO) cannot capture a structured binding before C++20
    const auto& name = entry.first;
    INFO(name);
    CHECK(ReadFile(a + "/" + name) == ReadFile(b + "/" + name));
  }
  nlohmann::json ma = nlohmann::json::parse(ReadFile(a + "/manifest.json"));
  nlohmann::json mb = nlohmann::json::parse(ReadFile(b + "/manifest.json"));
  for (auto* m : {&ma, &mb}) {
    m->erase("created");
    m->erase("seconds");
  }
  CHECK(ma == mb);
}

// Runs `nextbatch <verb> study -o OUT -q` to the end and moves OUT to `ref`: the sets of a run
// that was never stopped, made in the output folder the compared runs use (sets name it: the
// calibration path in candidates.json, warnings). Returns `ref`.
std::string Reference(const ResumeStudy& s, const std::string& verb) {
  const std::string out = s.out("out"), ref = s.out("ref");
  fs::remove_all(ref);
  const Run r = Nextbatch(s, verb + " " + s.study() + " -o " + out + " -q");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  fs::rename(out, ref);
  return ref;
}

// Starts `nextbatch <args>` with its output in `log`; returns its pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = testing::SpawnNextbatch(args, log);
  REQUIRE(pid > 0);
  return pid;
}

TEST_CASE("simulate killed at each kill point, then --resume: the bytes of an unbroken run") {
  ResumeStudy s;
  s.WithoutData();
  const std::string ref = Reference(s, "simulate");
  const std::string out = s.out("out");
  const std::string run = "simulate " + s.study() + " -o " + out + " -q";
  // 6 chunks of 4: chunk n's lines on the disk (its checkpoint not yet), chunk n's checkpoint
  // written, every file staged, the set published (its checkpoint not yet removed)
  const std::pair<const char*, int> points[] = {{"simulate.lines.1", 0},   {"simulate.chunk.1", 4},
                                                {"simulate.lines.3", 8},   {"simulate.chunk.3", 12},
                                                {"simulate.chunk.6", 24},  {"simulate.staged", 24},
                                                {"simulate.published", 24}};
  for (const auto& entry : points) {
    // named: a lambda (doctest's INFO) cannot capture a structured binding before C++20
    const auto& point = entry.first;
    const auto& done = entry.second;
    CAPTURE(point);
    fs::remove_all(out);
    // the killed run on one thread, its resumption on two
    Run r = Nextbatch(s, run + " -j 1", point);
    REQUIRE_MESSAGE(r.code == -SIGKILL, r.log);
    CHECK(fs::exists(out + "/simulate") == (std::string(point) == "simulate.published"));
    CHECK(fs::exists(out + "/.simulate.resume"));
    r = Nextbatch(s, run + " -j 2 --resume");
    REQUIRE_MESSAGE(r.code == 0, r.log);
    if (done == 0) {
      CHECK_MESSAGE(Has(r.log, "cannot be used (incomplete): starting afresh"), r.log);
    } else {
      CHECK_MESSAGE(Has(r.log, "resumed after " + std::to_string(done) + " candidates"), r.log);
    }
    CheckSameSet(out + "/simulate", ref + "/simulate");
    CHECK(testing::Leftovers(out).empty());
  }
  // killed twice (after chunk 2 of each run), resumed twice
  fs::remove_all(out);
  Run r = Nextbatch(s, run, "simulate.chunk.2");
  REQUIRE(r.code == -SIGKILL);
  r = Nextbatch(s, run + " --resume", "simulate.chunk.2");
  REQUIRE(r.code == -SIGKILL);
  r = Nextbatch(s, run + " --resume");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK(Has(r.log, "resumed after 16 candidates"));
  CheckSameSet(out + "/simulate", ref + "/simulate");
  // without --resume the checkpoint is discarded, and the run starts afresh
  r = Nextbatch(s, run, "simulate.chunk.2");
  REQUIRE(r.code == -SIGKILL);
  r = Nextbatch(s, run);
  REQUIRE(r.code == 0);
  CHECK(Has(r.log, "discarded the checkpoint of an earlier run"));
  CheckSameSet(out + "/simulate", ref + "/simulate");
  CHECK(testing::Leftovers(out).empty());
}

TEST_CASE("simulate killed at fixed delays, resumed each time: the bytes of an unbroken run") {
  ResumeStudy s;
  s.WithoutData();
  s.doc["simulate"] = {{"candidates", 160}, {"posterior_samples", 4}, {"chunk", 8}};
  s.doc["task"]["horizon"] = 2.0;
  s.Save();
  const std::string ref = Reference(s, "simulate");
  const std::string out = s.out("out");
  const std::vector<std::string> args = {"simulate", s.study(), "-o", out, "-q", "--resume"};
  int killed = 0;
  for (int delay : {5, 40, 120, 250, 400, 700}) {
    CAPTURE(delay);
    const pid_t pid = Spawn(args, s.dir.File("spawn.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ::kill(pid, SIGKILL);
    killed += testing::WaitExit(pid) == -SIGKILL;
    if (fs::exists(out + "/simulate")) break;  // this machine finished before the kill
  }
  CHECK(killed >= 3);
  const Run r = Nextbatch(s, "simulate " + s.study() + " -o " + out + " -q --resume");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CheckSameSet(out + "/simulate", ref + "/simulate");
  CHECK(testing::Leftovers(out).empty());
}

TEST_CASE("--resume after a changed input starts afresh and says what changed") {
  ResumeStudy s;
  s.WithoutData();
  s.doc["seed"] = 8;
  s.Save();
  const std::string ref = Reference(s, "simulate");
  s.doc["seed"] = 7;
  s.Save();
  const std::string out = s.out("out");
  const std::string run = "simulate " + s.study() + " -o " + out + " -q";
  Run r = Nextbatch(s, run, "simulate.chunk.2");
  REQUIRE(r.code == -SIGKILL);
  s.doc["seed"] = 8;
  s.Save();
  r = Nextbatch(s, run + " --resume");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  CHECK_MESSAGE(Has(r.log,
                    "was made from other inputs (study section 'seed' changed): "
                    "starting afresh"),
                r.log);
  CheckSameSet(out + "/simulate", ref + "/simulate");
  // --resume with nothing to resume is a fresh run
  fs::remove_all(out);
  r = Nextbatch(s, run + " --resume");
  REQUIRE(r.code == 0);
  CHECK(Has(r.log, "no checkpoint"));
  CheckSameSet(out + "/simulate", ref + "/simulate");
}

TEST_CASE("SIGINT and SIGTERM stop simulate at a chunk: 130 / 143, nothing published, resumable") {
  ResumeStudy s;
  s.WithoutData();
  // 15 chunks: the signal, sent within 10 ms of the first checkpoint, lands with 14 to go (about
  // 3 s of work on 2 threads); 400 candidates made this the slowest unit test (69 s).
  s.doc["simulate"] = {{"candidates", 120}, {"posterior_samples", 4}, {"chunk", 8}};
  s.doc["task"]["horizon"] = 2.0;
  s.Save();
  const std::string ref = Reference(s, "simulate");
  const std::string out = s.out("out");
  for (int signal : {SIGINT, SIGTERM}) {
    const std::string name = signal == SIGINT ? "SIGINT" : "SIGTERM";
    CAPTURE(name);
    fs::remove_all(out);
    const std::string log = s.dir.File("log_" + name);
    const pid_t pid = Spawn({"simulate", s.study(), "-o", out, "-q"}, log);
    REQUIRE(testing::WaitForPath(out + "/.simulate.resume/checkpoint.json"));
    ::kill(pid, signal);
    const int code = testing::WaitExit(pid);
    const std::string text = ReadFile(log);
    CHECK_MESSAGE(code == 128 + signal, text);
    CHECK(Has(text, "nextbatch simulate: interrupted (" + name + "): simulate: stopped after "));
    CHECK(Has(text, "nothing was published"));
    CHECK(
        Has(text, "continue with `nextbatch simulate " + s.study() + " -o " + out + " --resume`"));
    CHECK_FALSE(fs::exists(out + "/simulate"));
    CHECK_FALSE(fs::exists(out + "/.simulate.lock"));
    for (const auto& e : fs::directory_iterator(out)) {
      CHECK_FALSE(Has(e.path().filename().string(), "staging"));
    }
    const Run r = Nextbatch(s, "simulate " + s.study() + " -o " + out + " -q -j 2 --resume");
    REQUIRE_MESSAGE(r.code == 0, r.log);
    CHECK(Has(r.log, "resumed after "));
    CheckSameSet(out + "/simulate", ref + "/simulate");
    CHECK(testing::Leftovers(out).empty());
  }
}

TEST_CASE("plan killed in each stage, then plan --resume: every set as an unbroken run's") {
  ResumeStudy s;
  const std::string ref = Reference(s, "plan");
  const std::string out = s.out("out");
  const char* points[] = {"ingest.staged", "calibrate.staged", "simulate.chunk.2",
                          "simulate.staged", "plan.staged"};
  for (const char* point : points) {
    CAPTURE(point);
    fs::remove_all(out);
    Run r = Nextbatch(s, "plan " + s.study() + " -o " + out + " -q", point);
    REQUIRE_MESSAGE(r.code == -SIGKILL, r.log);
    r = Nextbatch(s, "plan " + s.study() + " -o " + out + " -q -j 2 --resume");
    REQUIRE_MESSAGE(r.code == 0, r.log);
    if (std::string(point) == "simulate.chunk.2") CHECK(Has(r.log, "resumed after 8 candidates"));
    for (const char* stage : {"ingest", "calibrate", "simulate", "plan"}) {
      CheckSameSet(out + "/" + stage, ref + "/" + stage);
    }
    CHECK(testing::Leftovers(out).empty());
  }
}

TEST_CASE("SIGINT during plan: exit 130, the stage publishes nothing, plan --resume completes") {
  ResumeStudy s;
  const std::string ref = Reference(s, "plan");
  const std::string out = s.out("out");
  const std::string log = s.dir.File("log_plan");
  const pid_t pid = Spawn({"plan", s.study(), "-o", out, "-q"}, log);
  REQUIRE(testing::WaitForPath(out + "/ingest/manifest.json"));
  ::kill(pid, SIGINT);
  const int code = testing::WaitExit(pid);
  const std::string text = ReadFile(log);
  CHECK_MESSAGE(code == 130, text);
  CHECK(Has(text, "nextbatch plan: interrupted (SIGINT): "));
  CHECK(Has(text, "continue with `nextbatch plan " + s.study() + " -o " + out + " --resume`"));
  CHECK_FALSE(fs::exists(out + "/plan"));
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    CHECK_FALSE(Has(name, "staging"));
    CHECK_FALSE(Has(name, ".lock"));
  }
  const Run r = Nextbatch(s, "plan " + s.study() + " -o " + out + " -q --resume");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  for (const char* stage : {"ingest", "calibrate", "simulate", "plan"}) {
    CheckSameSet(out + "/" + stage, ref + "/" + stage);
  }
  CHECK(testing::Leftovers(out).empty());
}

TEST_CASE("a stop asked for before a stage begins: Interrupted, no set, no lock") {
  ResumeStudy s;
  s.WithoutData();
  PipelineOptions options;
  options.out = s.out("out");
  options.quiet = true;
  RequestInterrupt(SIGTERM);
  try {
    RunStage(StageId::kSimulate, Study::Load(s.study()), options);
    FAIL("no Interrupted");
  } catch (const Interrupted& e) {
    CHECK(e.exit_code() == 143);
    CHECK(std::string(e.what()) == "simulate: stopped before it began");
  }
  ClearInterrupt();
  CHECK_FALSE(fs::exists(options.out));
  CHECK(RunStage(StageId::kSimulate, Study::Load(s.study()), options).exit_code == 0);
}

}  // namespace
}  // namespace nextbatch
