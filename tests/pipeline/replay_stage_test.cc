// The replay verb through the binary on a small synthetic study: a pendulum with hidden values,
// fitted on two logs and replayed on a third it was not fitted on, beside the study's initial
// values, holding still and a reference set.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "engine/atomic_file.h"
#include "engine/episode_io.h"
#include "engine/json_reader.h"
#include "engine/manifest.h"
#include "engine/model.h"
#include "engine/study.h"
#include "pipeline/pipeline.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

namespace fs = std::filesystem;

struct ReplayStudy {
  testing::TempDir dir{"replay_stage"};
  Eigen::VectorXd truth = Eigen::Vector2d(0.08, 0.7);

  ReplayStudy() {
    dir.Write("pendulum.xml", testing::PendulumXml());
    ModelPtr m = LoadModelFile(dir.File("pendulum.xml"));
    using testing::Spec;
    ParameterBinding b(m.get(), {Spec("damping", {"joint:hinge.damping"}, 0.05, 0, 1),
                                 Spec("mass", {"body:link.mass"}, 0.6, 0.1, 3)});
    testing::SyntheticLog log;
    log.duration = 2.0;
    log.ctrl_offset = {0.0};
    log.ctrl_amplitude = {2.0};
    for (int i = 0; i < 3; ++i) {
      State s = State::Reference(m.get());
      s.qpos[0] = 0.4 * i - 0.3;
      WriteEpisodeJson(testing::MakeEpisode(m.get(), b, truth, s, log, i),
                       dir.File("ep" + std::to_string(i) + ".json"));
    }
    dir.Write("references.json", R"({"schema": "nextbatch.references/1",
      "sets": [{"name": "handbook", "values": {"damping": 0.2, "mass": 0.5}}]})");
    Save(R"({"references": "references.json", "band_samples": 40})");
  }
  void Save(const std::string& replay) const {
    dir.Write("study.json", R"({"schema": "nextbatch.study/1", "name": "replay", "seed": 3,
      "model": "pendulum.xml", "threads": 2,
      "parameters": [
        {"name": "damping", "targets": ["joint:hinge.damping"], "initial": 0.05, "bounds": [0, 1]},
        {"name": "mass", "targets": ["body:link.mass"], "initial": 0.6, "bounds": [0.1, 3]}],
      "dataset": {"importer": {"format": "native"},
                  "episodes": [{"path": "ep0.json"}, {"path": "ep1.json"}, {"path": "ep2.json"}],
                  "cleaning": {"resample": false}},
      "calibration": {"segment_seconds": 0.5, "noise": {"qpos": 0.001}, "held_out_fraction": 0},
      "replay": )" + replay + "}");
  }
  std::string args() const { return dir.File("study.json") + " -o " + dir.File("out"); }
};

struct Run {
  int code = 0;
  std::string log;
};

Run Nextbatch(const ReplayStudy& s, const std::string& args) {
  const std::string log = s.dir.File("log");
  const int status =
      std::system((std::string(NEXTBATCH_BINARY) + " " + args + " >" + log + " 2>&1").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(log)};
}

TEST_CASE("replay scores the fit on an episode it did not see, with its band, traces and plot") {
  ReplayStudy s;
  Run r = Nextbatch(s, "replay " + s.args());
  CHECK(r.code == 2);  // no sets yet: says which command makes them
  CHECK(r.log.find("run `nextbatch calibrate") != std::string::npos);
  REQUIRE(Nextbatch(s, "ingest " + s.args()).code == 0);
  r = Nextbatch(s, "calibrate " + s.args() + " --episodes ep0,ep1");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  r = Nextbatch(s, "replay " + s.args() + " --episodes ep2");
  REQUIRE_MESSAGE(r.code == 0, r.log);
  MESSAGE(r.log);
  CHECK(r.log.find("band covers") != std::string::npos);
  const std::string set = s.dir.File("out/replay");
  const Manifest m = ReadManifest(set + "/manifest.json");
  CHECK(DigestFiles(set) == m.files);
  for (const char* f : {"replay.json", "windows.csv", "traces.csv", "replay_ep2.svg"}) {
    CHECK_MESSAGE(m.files.count(f) == 1, f);
  }
  const nlohmann::json doc = ReadJsonFile(set + "/replay.json");
  CHECK(doc["schema"] == "nextbatch.replay/1");
  CHECK(doc["sets"] == nlohmann::json::array({"calibrated", "initial", "hold_still", "handbook"}));
  REQUIRE(doc["episodes"].size() == 1);
  const nlohmann::json& ep = doc["episodes"][0];
  CHECK(ep["id"] == "ep2");
  CHECK(ep["windows"].size() >= 6);
  const nlohmann::json& med = ep["median"];
  // the fit of the hidden truth replays the unseen run better than every other set
  for (const char* other : {"initial", "hold_still", "handbook"}) {
    CHECK_MESSAGE(med["calibrated"].get<double>() < med[other].get<double>(), other);
  }
  CHECK(med["calibrated"].get<double>() < 0.01);
  CHECK(doc["summary"]["coverage"].get<double>() >= 0.5);
  CHECK(doc["band"]["residual_scale"].get<double>() > 0);
  // the discrepancy term comes from the episodes the fit was made on, not the replayed one
  const nlohmann::json& from_fit = doc["band"]["discrepancy_from_fit"];
  CHECK(from_fit["used"] == true);
  CHECK(from_fit["episodes"] == nlohmann::json::array({"ep0", "ep1"}));
  CHECK(from_fit["windows"].get<int>() >= 12);
  const double d = doc["band"]["discrepancy"].get<double>();
  CHECK(d >= 0);
  CHECK(d < 0.01);  // the right model: a few noise levels at most
  // traces: one row per logged sample of every window, with the band around the calibrated replay
  const std::string traces = ReadFile(set + "/traces.csv");
  CHECK(traces.rfind("episode,window_start,time,channel,logged,calibrated,band_low,band_high\n",
                     0) == 0);
  const std::string svg = ReadFile(set + "/replay_ep2.svg");
  CHECK(svg.find("<polyline") != std::string::npos);
  CHECK(svg.find("<polygon") != std::string::npos);

  // without the term, every window's radius is the draws' own q, and sqrt(q^2 + d^2) with it
  s.Save(R"({"references": "references.json", "band_samples": 40, "band_discrepancy": false})");
  REQUIRE(Nextbatch(s, "replay " + s.args() + " --episodes ep2").code == 0);
  const nlohmann::json own = ReadJsonFile(set + "/replay.json");
  CHECK(own["band"]["discrepancy"].get<double>() == 0);
  CHECK(own["band"]["discrepancy_from_fit"]["used"] == false);
  for (std::size_t w = 0; w < ep["windows"].size(); ++w) {
    const double q = own["episodes"][0]["windows"][w]["band_radius"].get<double>();
    CHECK(ep["windows"][w]["band_radius"].get<double>() == doctest::Approx(std::hypot(q, d)));
  }
  s.Save(R"({"references": "references.json", "band_samples": 40})");
  REQUIRE(Nextbatch(s, "replay " + s.args() + " --episodes ep2").code == 0);

  // a replay set is current until what it read changes, and calibrate's subset is not its own
  PipelineOptions options;
  options.out = s.dir.File("out");
  options.episodes = {"ep2"};
  const Study study = Study::Load(s.dir.File("study.json"));
  CHECK(CheckSet(StageId::kReplay, study, options).current);
  REQUIRE(Nextbatch(s, "calibrate " + s.args() + " --episodes ep0").code == 0);
  const SetStatus status = CheckSet(StageId::kReplay, study, options);
  CHECK_FALSE(status.current);
  REQUIRE(!status.changes.empty());
  CHECK(status.changes[0].find("calibrate") != std::string::npos);
}

TEST_CASE("replay refuses bad input naming the field: unknown episode, window <= 0") {
  ReplayStudy s;
  REQUIRE(Nextbatch(s, "ingest " + s.args()).code == 0);
  REQUIRE(Nextbatch(s, "calibrate " + s.args()).code == 0);
  Run r = Nextbatch(s, "replay " + s.args() + " --episodes ep7");
  CHECK(r.code == 2);
  CHECK(r.log.find("--episodes: expected episode ids of the dataset (ep0, ep1, ep2), got 'ep7'") !=
        std::string::npos);
  r = Nextbatch(s, "replay " + s.args() + " --window 0");
  CHECK(r.code == 2);
  CHECK(r.log.find("--window: expected a duration > 0") != std::string::npos);
  s.Save(R"({"window_seconds": -1})");
  r = Nextbatch(s, "replay " + s.args() + " --use-stale");
  CHECK(r.code == 2);
  CHECK(r.log.find("study.json: replay.window_seconds: expected a duration > 0") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(s.dir.File("out/replay")));
}

}  // namespace
}  // namespace nextbatch
