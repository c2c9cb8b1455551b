// The calibrate stage end to end on a small synthetic study: native episode files written by the
// engine from a pendulum with hidden values, ingested into a set, then fitted from that set.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/atomic_file.h"
#include "engine/digest.h"
#include "engine/episode_io.h"
#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/manifest.h"
#include "engine/model.h"
#include "pipeline/pipeline.h"
#include "tests/calibration/synthetic.h"
#include "tests/fixtures/models.h"
#include "tests/fixtures/parameters.h"

namespace nextbatch {
namespace {

namespace fs = std::filesystem;

struct StudyDir {
  fs::path dir;
  Eigen::VectorXd truth = Eigen::Vector3d(0.08, 0.7, 0.002);

  explicit StudyDir(bool log_velocities = true) {
    dir = fs::temp_directory_path() /
          ("nextbatch_calibrate_verb_" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::remove_all(dir);
    fs::create_directories(dir);
    WriteFileAtomic((dir / "pendulum.xml").string(), testing::PendulumXml());
    ModelPtr m = LoadModelFile((dir / "pendulum.xml").string());
    ParameterBinding b(m.get(), Parameters(false));
    testing::SyntheticLog log;
    log.duration = 1.5;
    log.qvel_noise = log_velocities ? 0.02 : 0.0;
    log.ctrl_offset = {0.0};
    log.ctrl_amplitude = {2.0};
    for (int i = 0; i < 3; ++i) {
      State s = State::Reference(m.get());
      s.qpos[0] = 0.4 * i - 0.3;
      Episode e = testing::MakeEpisode(m.get(), b, truth, s, log, i);
      WriteEpisodeJson(e, (dir / ("ep" + std::to_string(i) + ".json")).string());
    }
  }
  ~StudyDir() { fs::remove_all(dir); }

  static std::vector<ParameterSpec> Parameters(bool with_friction) {
    using testing::Spec;
    std::vector<ParameterSpec> out = {Spec("damping", {"joint:hinge.damping"}, 0.05, 0, 1),
                                      Spec("mass", {"body:link.mass"}, 0.6, 0.1, 3),
                                      Spec("delay", {"ctrl.delay"}, 0.0, 0, 0.02)};
    if (with_friction) out.push_back(Spec("bob_friction", {"geom:bob.friction[0]"}, 1, 0.1, 2));
    return out;
  }

  // Writes a study; `calibration` is the section's JSON text.
  std::string Study(const std::string& name, const std::string& parameters,
                    const std::string& calibration = "{}") const {
    std::string text = R"({"schema": "nextbatch.study/1", "name": ")" + name +
                       R"(", "seed": 1, "model": "pendulum.xml", "threads": 2,
      "parameters": )" +
                       parameters +
                       R"(,
      "dataset": {"importer": {"format": "native"},
                  "episodes": [{"path": "ep0.json"}, {"path": "ep1.json"}, {"path": "ep2.json"}],
                  "cleaning": {"resample": false}},
      "calibration": )" +
                       calibration + "}";
    const std::string path = (dir / (name + ".json")).string();
    WriteFileAtomic(path, text);
    return path;
  }
};

// Runs ingest (when its set is not current) and calibrate of `study` into `out`; returns the
// calibrate stage's exit code.
int Calibrate(const std::string& study_path, const std::string& out,
              const std::vector<std::string>& episodes = {}, const std::string& warm_start = "") {
  const Study study = Study::Load(study_path);
  PipelineOptions options;
  options.out = out;
  options.quiet = true;
  options.episodes = episodes;
  options.warm_start = warm_start;
  if (!CheckSet(StageId::kIngest, study, options).current) {
    REQUIRE(RunStage(StageId::kIngest, study, options).exit_code == 0);
  }
  return RunStage(StageId::kCalibrate, study, options).exit_code;
}

const char* kParameters = R"([
  {"name": "damping", "targets": ["joint:hinge.damping"], "initial": 0.05, "bounds": [0, 1]},
  {"name": "mass", "targets": ["body:link.mass"], "initial": 0.6, "bounds": [0.1, 3]},
  {"name": "delay", "targets": ["ctrl.delay"], "initial": 0, "bounds": [0, 0.02]}])";

TEST_CASE("calibrate writes calibration.json and a calibrated model that recover the truth") {
  StudyDir s;
  REQUIRE(Calibrate(s.Study("good", kParameters, R"({"segment_seconds": 0.5})"),
                    (s.dir / "out").string()) == 0);
  const nlohmann::json doc =
      ReadJsonFile((s.dir / "out" / "calibrate" / "calibration.json").string());
  CHECK(doc.at("schema") == "nextbatch.calibration/1");
  CHECK(doc.at("study") == "good");
  REQUIRE(doc.at("parameters").size() == 3);
  for (int j = 0; j < 3; ++j) {
    const auto& p = doc["parameters"][j];
    for (const char* key : {"name", "value", "std", "initial", "bounds", "at_bound"}) {
      CHECK(p.contains(key));
    }
    CAPTURE(p.dump());
    CHECK(std::abs(p["value"].get<double>() - s.truth[j]) < 3 * p["std"].get<double>());
  }
  CHECK(doc["correlation"].size() == 3);
  CHECK(doc["correlation"][1][1].get<double>() == doctest::Approx(1.0));
  REQUIRE(doc["episodes"].size() == 3);
  CHECK(doc["episodes"][0]["id"] == "ep0");
  CHECK(doc["episodes"][0]["outlier"] == false);
  const auto& fit = doc["fit"];
  for (const char* key : {"initial_cost", "final_cost", "iterations", "termination"}) {
    CHECK(fit.contains(key));
  }
  CHECK(fit["reduced_chi2"].get<double>() > 0.8);
  CHECK(fit["reduced_chi2"].get<double>() < 1.2);
  CHECK(doc["validation"]["replay_error_after"].get<double>() <
        doc["validation"]["replay_error_before"].get<double>());
  // the swinging pendulum is predicted far better than by holding still
  CHECK(doc["validation"]["replay_error_after"].get<double>() <
        doc["validation"]["replay_error_hold_still"].get<double>() / 5);
  CHECK(doc["validation"]["hold_still"]["windows"].size() ==
        doc["validation"]["after"]["windows"].size());
  CHECK(doc["identifiability"]["unidentifiable"].empty());
  // the logged velocities are fitted, with their own noise level
  CHECK(doc["noise"]["qvel:hinge"].get<double>() == doctest::Approx(0.02).epsilon(0.15));
  // The calibrated model carries the fitted damping; the mass of a body whose inertia comes from
  // its geoms is not kept by MuJoCo's writer, and the file says so; the delay is no MJCF field.
  ModelPtr fitted = LoadModelFile((s.dir / "out" / "calibrate" / "calibrated_model.xml").string());
  CHECK(fitted->dof_damping[0] ==
        doctest::Approx(doc["parameters"][0]["value"].get<double>()).epsilon(1e-5));
  REQUIRE(doc["model_not_saved"].size() == 1);
  CHECK(doc["model_not_saved"][0]["name"] == "mass");
  CHECK(doc["model_effects_only"] == nlohmann::json::array({"delay"}));
  CHECK(doc["episode_scale"] == nlohmann::json::object());  // none in this study
}

TEST_CASE("a torque fit goes through calibrate, and replay reads what it wrote") {
  StudyDir s;
  const std::string out = (s.dir / "out").string();
  const std::string study = s.Study("torque", kParameters, R"({"channels": ["torque"]})");
  REQUIRE(Calibrate(study, out, {"ep0", "ep1"}) == 0);
  const nlohmann::json doc = ReadJsonFile(out + "/calibrate/calibration.json");
  CHECK(doc["status"] == "converged");
  // the torque channel's noise level, estimated, and no position level it never used
  REQUIRE(doc["noise"].contains("torque:hinge"));
  CHECK(doc["noise"]["torque:hinge"].get<double>() > 0);
  CHECK_FALSE(doc["noise"].contains("qpos:hinge"));
  for (int j = 0; j < 3; ++j) {
    const auto& p = doc["parameters"][j];
    CAPTURE(p.dump());
    CHECK(std::abs(p["value"].get<double>() - s.truth[j]) < 4 * p["std"].get<double>());
  }
  // the held-out check replays open loop against the logged positions
  CHECK(doc["validation"]["replay_error_after"].get<double>() <
        doc["validation"]["replay_error_before"].get<double>());
  // the replay stage reads the torque fit's file and replays the unseen episode with it
  PipelineOptions options;
  options.out = out;
  options.quiet = true;
  options.episodes = {"ep2"};
  const StageReport report = RunStage(StageId::kReplay, Study::Load(study), options);
  REQUIRE(report.exit_code == 0);
  // its noise levels are forces: the band says it has no per-sample residual term
  bool said = false;
  for (const auto& w : report.warnings) {
    said = said || w.find("no noise level for joint positions") != std::string::npos;
  }
  CHECK(said);
  const nlohmann::json replay = ReadJsonFile(out + "/replay/replay.json");
  const nlohmann::json& med = replay["episodes"][0]["median"];
  CHECK(med["calibrated"].get<double>() < med["initial"].get<double>());
  CHECK(med["calibrated"].get<double>() < 0.01);
}

TEST_CASE("a finished fit whose model MuJoCo refuses to save is published without the model") {
  // The same pendulum with an explicit <inertial>, so that MuJoCo's writer keeps the inertia. A
  // fixed parameter sets its third principal moment above the sum of the other two: the fit runs
  // (only the moment about the hinge enters the dynamics), but MuJoCo's compiler refuses the
  // saved MJCF (A + B >= C). The fit must still be published.
  StudyDir s;
  std::string xml = testing::PendulumXml();
  const std::string geoms = R"(<geom name="rod")";
  xml.insert(xml.find(geoms),
             R"(<inertial pos="0 0 -0.4583" mass="0.6" diaginertia="0.1 0.1 0.01"/>
      )");
  WriteFileAtomic((s.dir / "pendulum.xml").string(), xml);
  const std::string parameters = R"([
  {"name": "damping", "targets": ["joint:hinge.damping"], "initial": 0.05, "bounds": [0, 1]},
  {"name": "mass", "targets": ["body:link.mass"], "initial": 0.6, "bounds": [0.1, 3]},
  {"name": "inertia_z", "targets": ["body:link.inertia[2]"], "initial": 0.5, "bounds": [0, 1],
   "fixed": true}])";
  const fs::path out = s.dir / "out";
  REQUIRE(Calibrate(s.Study("unsaveable", parameters), out.string()) == 0);
  const fs::path set = out / "calibrate";
  CHECK_FALSE(fs::exists(set / "calibrated_model.xml"));
  CHECK_FALSE(fs::exists(set / "calibrated_model.xml.tmp"));
  const nlohmann::json doc = ReadJsonFile((set / "calibration.json").string());
  CHECK(doc.at("model").is_null());
  CHECK(doc.at("model_error").get<std::string>().find("A + B >= C") != std::string::npos);
  REQUIRE(doc.at("parameters").size() == 3);
  CHECK(doc["parameters"][2]["value"].get<double>() == 0.5);
  // the fit itself is whole: its values, their stds and its summary are there
  CHECK(doc["parameters"][0]["std"].get<double>() > 0);
  CHECK(doc["fit"]["iterations"].get<int>() > 0);
  const Manifest m = ReadManifest((set / "manifest.json").string());
  CHECK(m.files.count("calibration.json") == 1);
  CHECK(m.files.count("calibrated_model.xml") == 0);
  bool warned = false;
  for (const auto& w : m.warnings)
    warned = warned || w.find("calibrated model could not be saved") != std::string::npos;
  CHECK(warned);
}

TEST_CASE("velocities that cleaning derived from the positions are not fitted as measurements") {
  StudyDir s(false);
  REQUIRE(Calibrate(s.Study("positions_only", kParameters), (s.dir / "out").string()) == 0);
  const nlohmann::json doc =
      ReadJsonFile((s.dir / "out" / "calibrate" / "calibration.json").string());
  CHECK(doc["noise"].contains("qpos:hinge"));
  CHECK_FALSE(doc["noise"].contains("qvel:hinge"));
  for (int j = 0; j < 3; ++j) {
    const auto& p = doc["parameters"][j];
    CHECK(std::abs(p["value"].get<double>() - s.truth[j]) < 3 * p["std"].get<double>());
  }
}

TEST_CASE("a failed fit exits 1 and leaves the earlier good result alone") {
  StudyDir s;
  const std::string out = (s.dir / "out").string();
  REQUIRE(Calibrate(s.Study("good", kParameters), out) == 0);
  const std::string before = ReadFile((s.dir / "out" / "calibrate" / "calibration.json").string());
  // A negative spring that makes the simulation explode within a few steps (a negative damping
  // is refused as input).
  CHECK(Calibrate(s.Study("diverging", R"([
    {"name": "stiffness", "targets": ["joint:hinge.stiffness"], "initial": -1e6,
     "bounds": [-1e7, 1]}])"),
                  out) == 1);
  CHECK(ReadFile((s.dir / "out" / "calibrate" / "calibration.json").string()) == before);
  // A parameter without effect stops before solving: bad input, exit 2, nothing written.
  CHECK_THROWS_WITH_AS(Calibrate(s.Study("ineffective", R"([
    {"name": "damping", "targets": ["joint:hinge.damping"], "initial": 0.05, "bounds": [0, 1]},
    {"name": "bob_friction", "targets": ["geom:bob.friction[0]"], "initial": 1,
     "bounds": [0.1, 2]}])"),
                                 out),
                       doctest::Contains("bob_friction"), InputError);
  CHECK(ReadFile((s.dir / "out" / "calibrate" / "calibration.json").string()) == before);
  // A typo in the section is an input error naming the key.
  CHECK_THROWS_WITH_AS(Calibrate(s.Study("typo", kParameters, R"({"segment_secs": 0.5})"), out),
                       doctest::Contains("calibration.segment_secs"), InputError);
  // no temporary file or staging folder is left behind by any of these runs
  for (const auto& entry : std::filesystem::recursive_directory_iterator(out)) {
    const std::string name = entry.path().filename().string();
    CHECK(name.find(".tmp") == std::string::npos);
    CHECK(name.find("staging") == std::string::npos);
    CHECK(name.find(".lock") == std::string::npos);
  }
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("--episodes fits the named episodes only and refuses an unknown id") {
  StudyDir s;
  const std::string study = s.Study("some", kParameters, R"({"segment_seconds": 0.5})");
  REQUIRE(Calibrate(study, (s.dir / "out").string(), {"ep2", "ep0"}) == 0);
  const nlohmann::json doc =
      ReadJsonFile((s.dir / "out" / "calibrate" / "calibration.json").string());
  REQUIRE(doc["episodes"].size() == 2);
  CHECK(doc["episodes"][0]["id"] == "ep0");  // the dataset's order
  CHECK(doc["episodes"][1]["id"] == "ep2");
  CHECK_THROWS_WITH_AS(Calibrate(study, (s.dir / "out2").string(), {"ep0", "ep9"}),
                       doctest::Contains("--episodes: expected episode ids of the dataset (ep0, "
                                         "ep1, ep2), got 'ep9'"),
                       InputError);
  CHECK_FALSE(std::filesystem::exists(s.dir / "out2" / "calibrate"));
}

TEST_CASE("calibration.episodes fits the study's choice, --episodes overrides it") {
  StudyDir s;
  const std::string study =
      s.Study("chosen", kParameters, R"({"segment_seconds": 0.5, "episodes": ["ep1"]})");
  REQUIRE(Calibrate(study, (s.dir / "out").string()) == 0);
  const auto fitted = [&](const char* out) {
    const nlohmann::json doc =
        ReadJsonFile((s.dir / out / "calibrate" / "calibration.json").string());
    std::string ids;
    for (const auto& e : doc["episodes"]) ids += e["id"].get<std::string>() + " ";
    return ids;
  };
  CHECK(fitted("out") == "ep1 ");
  REQUIRE(Calibrate(study, (s.dir / "out3").string(), {"ep0", "ep2"}) == 0);
  CHECK(fitted("out3") == "ep0 ep2 ");
  const std::string bad =
      s.Study("bad", kParameters, R"({"segment_seconds": 0.5, "episodes": ["ep7"]})");
  CHECK_THROWS_WITH_AS(Calibrate(bad, (s.dir / "out2").string()),
                       doctest::Contains("bad.json: calibration.episodes: expected episode ids "
                                         "of the dataset (ep0, ep1, ep2), got 'ep7'"),
                       InputError);
  const std::string empty = s.Study("empty", kParameters, R"({"episodes": []})");
  CHECK_THROWS_WITH_AS(Calibrate(empty, (s.dir / "out4").string()),
                       doctest::Contains("calibration.episodes: expected at least one episode id, "
                                         "got []"),
                       InputError);
}

}  // namespace
}  // namespace nextbatch

namespace nextbatch {
namespace {

TEST_CASE("the study's calibration.episodes selects what is fitted, --episodes replaces it") {
  StudyDir s;
  const std::string study =
      s.Study("chosen", kParameters, R"({"segment_seconds": 0.5, "episodes": ["ep1", "ep2"]})");
  const std::string out = (s.dir / "out").string();
  REQUIRE(Calibrate(study, out) == 0);
  const std::string file = (s.dir / "out" / "calibrate" / "calibration.json").string();
  nlohmann::json doc = ReadJsonFile(file);
  REQUIRE(doc["episodes"].size() == 2);
  CHECK(doc["episodes"][0]["id"] == "ep1");
  REQUIRE(Calibrate(study, out, {"ep0"}) == 0);
  doc = ReadJsonFile(file);
  REQUIRE(doc["episodes"].size() == 1);
  CHECK(doc["episodes"][0]["id"] == "ep0");
  // A metadata key that no episode has is named, with its place in the study.
  CHECK_THROWS_WITH_AS(
      Calibrate(s.Study("nokey", kParameters, R"({"episodes": {"where": {"kp": 8}}})"), out),
      doctest::Contains("calibration.episodes.kp: expected a metadata key of the episodes"),
      InputError);
}

TEST_CASE("a fit stopped at its cap says how far its own model puts the optimum") {
  StudyDir s;
  const std::string out = (s.dir / "out").string();
  const char* far = R"([
    {"name": "damping", "targets": ["joint:hinge.damping"], "initial": 0.5, "bounds": [0, 1]},
    {"name": "mass", "targets": ["body:link.mass"], "initial": 2.5, "bounds": [0.1, 3]},
    {"name": "delay", "targets": ["ctrl.delay"], "initial": 0, "bounds": [0, 0.02]}])";
  REQUIRE(Calibrate(s.Study("capped", far, R"({"max_iterations": 2})"), out) == 0);
  const fs::path set = s.dir / "out" / "calibrate";
  const nlohmann::json doc = ReadJsonFile((set / "calibration.json").string());
  REQUIRE(doc["fit"]["stopped_by"] == "iterations");
  const double left = doc["fit"]["remaining_step"].get<double>();
  REQUIRE(left > 0.1);
  char quoted[64];
  std::snprintf(quoted, sizeof(quoted), "its optimum is still %.3g honest std away", left);
  std::string found;
  for (const auto& w : ReadManifest((set / "manifest.json").string()).warnings) {
    if (w.find("stopped at its iteration limit (2 iterations)") != std::string::npos) found = w;
  }
  CHECK(found.find(quoted) != std::string::npos);
  // With the rule off there is no remaining step to quote.
  REQUIRE(Calibrate(s.Study("capped_off", far, R"({"max_iterations": 2, "step_tolerance": 0})"),
                    out) == 0);
  found.clear();
  for (const auto& w : ReadManifest((set / "manifest.json").string()).warnings) {
    if (w.find("stopped at its iteration limit") != std::string::npos) found = w;
  }
  CHECK_FALSE(found.empty());
  CHECK(found.find("honest std away") == std::string::npos);
}

// A smooth dry friction is an explicit force: a level this high with a vs' this small breaks the
// step limit pi M vs' / level at the fitted configurations (engine/parameter.h), and the fit's
// warnings say so; the same friction with a vs' 1000 times larger is within it and says nothing.
TEST_CASE("calibrate warns when a smooth dry friction is beyond its time step's limit") {
  StudyDir s;
  const std::string out = (s.dir / "out").string();
  auto parameters = [](double vs) {
    return std::string(R"([
    {"name": "damping", "targets": ["joint:hinge.damping"], "initial": 0.08, "bounds": [0, 1]},
    {"name": "level", "targets": ["joint:hinge.frictionloss"], "initial": 0.5, "bounds": [0, 2],
     "fixed": true},
    {"name": "vs", "targets": ["friction:hinge.smooth_velocity"], "initial": )") +
           std::to_string(vs) + R"(, "bounds": [1e-6, 1], "fixed": true}])";
  };
  auto chatter_warnings = [&](const std::string& name, double vs) {
    REQUIRE(Calibrate(s.Study(name, parameters(vs), R"({"max_iterations": 2})"), out) == 0);
    std::vector<std::string> found;
    for (const auto& w :
         ReadManifest((s.dir / "out" / "calibrate" / "manifest.json").string()).warnings) {
      if (w.find("is an explicit force") != std::string::npos) found.push_back(w);
    }
    return found;
  };
  const auto sharp = chatter_warnings("sharp", 1e-5);
  REQUIRE(sharp.size() == 1);
  CHECK(sharp[0].find("the smooth dry friction of joint hinge") == 0);
  CHECK(sharp[0].find("at its level 0.5 and vs' 1e-05") != std::string::npos);
  CHECK(chatter_warnings("smooth", 1e-2).empty());
}

TEST_CASE("a warm start from a converged calibration converges in far fewer iterations") {
  StudyDir s;
  const std::string out = (s.dir / "out").string();
  const std::string file = (s.dir / "out" / "calibrate" / "calibration.json").string();
  // Initial values far from the truth (damping 0.08, mass 0.7, delay 0.002), as a first fit of
  // a new robot starts. Ceres' tolerances alone end these fits (step_tolerance 0): the
  // comparison below is in formal stds, far tighter than the remaining-step rule's honest ones.
  const char* far = R"([
    {"name": "damping", "targets": ["joint:hinge.damping"], "initial": 0.5, "bounds": [0, 1]},
    {"name": "mass", "targets": ["body:link.mass"], "initial": 2.5, "bounds": [0.1, 3]},
    {"name": "delay", "targets": ["ctrl.delay"], "initial": 0, "bounds": [0, 0.02]}])";
  REQUIRE(Calibrate(s.Study("cold", far, R"({"max_iterations": 200, "step_tolerance": 0})"), out) ==
          0);
  const nlohmann::json cold = ReadJsonFile(file);
  REQUIRE(cold["fit"]["termination"] == "CONVERGENCE");
  fs::copy_file(file, s.dir / "earlier.json");
  // The study's warm_start, relative to the study.
  REQUIRE(
      Calibrate(
          s.Study("warm", far,
                  R"({"max_iterations": 200, "step_tolerance": 0, "warm_start": "earlier.json"})"),
          out) == 0);
  const nlohmann::json warm = ReadJsonFile(file);
  const int cold_iterations = cold["fit"]["iterations"].get<int>();
  const int warm_iterations = warm["fit"]["iterations"].get<int>();
  MESSAGE("iterations: cold " << cold_iterations << ", warm " << warm_iterations);
  CHECK(warm["fit"]["termination"] == "CONVERGENCE");
  CHECK(2 * warm_iterations <= cold_iterations);
  for (int j = 0; j < 3; ++j) {
    // It started from the earlier values and ends where the cold fit ended.
    CHECK(warm["parameters"][j]["initial"] == cold["parameters"][j]["value"]);
    const double v = warm["parameters"][j]["value"].get<double>();
    CHECK(std::abs(v - cold["parameters"][j]["value"].get<double>()) <
          0.1 * cold["parameters"][j]["std"].get<double>() + 1e-12);
  }
  // The earlier calibration is an input of the set: its digest is in the manifest.
  const nlohmann::json manifest =
      ReadJsonFile((s.dir / "out" / "calibrate" / "manifest.json").string());
  CHECK(manifest["inputs"]["file:warm_start"] == DigestOfFile((s.dir / "earlier.json").string()));
  // --warm-start gives the same start from the command line.
  REQUIRE(Calibrate(s.Study("cold", far, R"({"max_iterations": 200, "step_tolerance": 0})"), out,
                    {}, (s.dir / "earlier.json").string()) == 0);
  CHECK(ReadJsonFile(file)["fit"]["iterations"] == warm_iterations);
  // A file that is not there is bad input naming it.
  CHECK_THROWS_AS(Calibrate(s.Study("lost", far, R"({"warm_start": "none.json"})"), out),
                  InputError);
  // A file of another study (no parameter of this one by name) starts nothing, and says so.
  nlohmann::json other = ReadJsonFile((s.dir / "earlier.json").string());
  for (auto& p : other["parameters"]) p["name"] = "other_" + p["name"].get<std::string>();
  WriteFileAtomic((s.dir / "renamed.json").string(), other.dump(1));
  REQUIRE(Calibrate(s.Study("other", far, R"({"max_iterations": 2, "warm_start": "renamed.json"})"),
                    out) == 0);
  const nlohmann::json other_manifest =
      ReadJsonFile((s.dir / "out" / "calibrate" / "manifest.json").string());
  bool said = false;
  for (const auto& w : other_manifest["warnings"]) {
    said = said || w.get<std::string>().find("gives no free parameter of this study a value") !=
                       std::string::npos;
  }
  CHECK(said);
  CHECK(ReadJsonFile(file)["parameters"][1]["initial"] == 2.5);
}

TEST_CASE("a study whose every parameter is fixed is refused before anything is fitted") {
  StudyDir s;
  const char* held = R"([
    {"name": "damping", "targets": ["joint:hinge.damping"], "initial": 0.5, "bounds": [0, 1],
     "fixed": true},
    {"name": "mass", "targets": ["body:link.mass"], "initial": 2.5, "bounds": [0.1, 3],
     "fixed": true}])";
  CHECK_THROWS_WITH_AS(Calibrate(s.Study("held", held, "{}"), (s.dir / "out").string()),
                       doctest::Contains("parameters: expected at least one parameter to "
                                         "calibrate that is not \"fixed\": true, got all 2 fixed"),
                       InputError);
  CHECK_FALSE(fs::exists(s.dir / "out" / "calibrate"));
}

}  // namespace
}  // namespace nextbatch
