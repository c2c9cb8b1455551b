#include "engine/episode_selection.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/importer.h"
#include "tests/fixtures/errors.h"
#include "tests/fixtures/shared_data.h"

namespace nextbatch {
namespace {

using testing::CheckError;

Episode Run(const std::string& id, int kp, const std::string& trajectory, double mass) {
  Episode e;
  e.id = id;
  e.scenario = {{"kp", kp}, {"trajectory", trajectory}};
  e.extra = {{"mass", mass}};
  e.robot = "servo";
  return e;
}

// Eight runs: kp 8 and 32, two trajectories, two masses.
Dataset Synthetic() {
  Dataset d;
  int k = 0;
  for (int kp : {8, 32}) {
    for (const char* t : {"sin_sin", "chirp"}) {
      for (double m : {0.5, 1.0}) {
        d.episodes.push_back(Run("run" + std::to_string(k++), kp, t, m));
        EpisodeQuality q;
        q.id = d.episodes.back().id;
        d.quality.push_back(q);
      }
    }
  }
  return d;
}

std::vector<std::string> Ids(const Dataset& d) {
  std::vector<std::string> ids;
  for (const Episode& e : d.episodes) ids.push_back(e.id);
  return ids;
}

EpisodeSelection Read(const std::string& json) {
  static nlohmann::json doc;  // the reader keeps a pointer
  doc = nlohmann::json::parse(json);
  return ReadEpisodeSelection(JsonReader(doc, "study.json", "calibration"), "episodes");
}

std::vector<std::string> Select(const EpisodeSelection& s) {
  Dataset d = Synthetic();
  SelectEpisodes(&d, s);
  REQUIRE(d.quality.size() == d.episodes.size());
  for (std::size_t i = 0; i < d.episodes.size(); ++i) CHECK(d.quality[i].id == d.episodes[i].id);
  return Ids(d);
}

TEST_CASE("episodes are selected by their metadata, every key matching one of its values") {
  using V = std::vector<std::string>;
  // A brute-force reference: the runs are numbered kp-major, then trajectory, then mass.
  CHECK(Select(Read(R"({"episodes": {"where": {"kp": 8}}})")) == V{"run0", "run1", "run2", "run3"});
  CHECK(Select(Read(R"({"episodes": {"where": {"kp": [8, 32], "trajectory": "chirp"}}})")) ==
        V{"run2", "run3", "run6", "run7"});
  // Numbers compare by value; an extra field and the robot are metadata too.
  CHECK(Select(Read(R"({"episodes": {"where": {"kp": 32.0, "mass": 1}}})")) == V{"run5", "run7"});
  CHECK(Select(Read(R"({"episodes": {"where": {"robot": "servo"}}})")).size() == 8);
  // Ids and conditions together: both must hold.
  CHECK(Select(Read(R"({"episodes": {"ids": ["run0", "run5"], "where": {"kp": 8}}})")) ==
        V{"run0"});
  CHECK(Select(Read(R"({"episodes": ["run6", "run1"]})")) == V{"run1", "run6"});
  // The command-line form.
  CHECK(Select(ParseEpisodeSelection({"kp=8"}, "--episodes")) == V{"run0", "run1", "run2", "run3"});
  CHECK(Select(ParseEpisodeSelection({"kp=32", "trajectory=sin_sin", "mass=0.5"}, "--episodes")) ==
        V{"run4"});
  CHECK(Select(ParseEpisodeSelection({"mass=1", "kp=8", "kp=32"}, "--episodes")) ==
        V{"run1", "run3", "run5", "run7"});
  CHECK(Select(ParseEpisodeSelection({"run3", "run2"}, "--episodes")) == V{"run2", "run3"});
  CHECK(Select(EpisodeSelection()).size() == 8);
}

TEST_CASE("command-line values read as numbers where they are numbers, else as text") {
  const EpisodeSelection s = ParseEpisodeSelection({"kp=8", "name=8a", "on=true", "t=\"x\""}, "-e");
  REQUIRE(s.where.size() == 4);
  CHECK(s.where[0].second[0] == 8);
  CHECK(s.where[1].second[0] == "8a");
  CHECK(s.where[2].second[0] == true);
  CHECK(s.where[3].second[0] == "\"x\"");  // a string is taken as typed
  CheckError([] { ParseEpisodeSelection({"kp="}, "--episodes"); },
             {"--episodes", "expected key=value with a key and a value", "got \"kp=\""});
  CheckError([] { ParseEpisodeSelection({"=8"}, "--episodes"); }, {"--episodes", "got \"=8\""});
}

TEST_CASE("a key no episode has, an unknown id or an empty selection is an error naming it") {
  CheckError(
      [] { Select(Read(R"({"episodes": {"where": {"kpp": 8}}})")); },
      {"study.json: calibration.episodes.kpp",
       "expected a metadata key of the episodes (kp, mass, robot, trajectory)", "got \"kpp\""});
  CheckError([] { Select(ParseEpisodeSelection({"gain=8"}, "--episodes")); },
             {"--episodes.gain", "expected a metadata key of the episodes"});
  CheckError([] { Select(Read(R"({"episodes": {"where": {"kp": 16, "trajectory": "chirp"}}})")); },
             {"study.json: calibration.episodes", "expected at least one episode selected",
              "got none of 8 (their values: kp: 32, 8; trajectory: chirp, sin_sin)"});
  CheckError([] { Select(Read(R"({"episodes": {"ids": ["run9"]}})")); },
             {"study.json: calibration.episodes", "expected episode ids of the dataset", "'run9'"});
  CheckError([] { Read(R"({"episodes": {"wher": {"kp": 8}}})"); },
             {"calibration.episodes.wher: unknown key (the known keys: ids, where)"});
  CheckError([] { Read(R"({"episodes": {"where": {"kp": [[8]]}}})"); },
             {"calibration.episodes.where.kp", "expected a number, string, boolean or null"});
  CheckError([] { Read(R"({"episodes": {"where": {"kp": []}}})"); },
             {"calibration.episodes.where.kp", "got []"});
  CheckError([] { Read(R"({"episodes": "run1"})"); },
             {"calibration.episodes", "expected an array of episode ids or an object"});
  CheckError([] { Read(R"({"episodes": {}})"); },
             {"calibration.episodes", "expected ids or where", "got an empty object"});
}

TEST_CASE("the XL330 logs are selected by the kp and trajectory in their headers") {
  const std::string dir = NEXTBATCH_SHARED_DIR "/realdata/rhoban_bam_xl330/raw/";
  if (!testing::SharedPresent(dir)) return;
  nlohmann::json spec_doc = nlohmann::json::parse(R"({"format": "json", "records": "entries",
    "time": {"column": "timestamp", "unit": "s"},
    "qpos": [{"column": "position", "joint": "hinge", "unit": "rad"}],
    "metadata": {"scenario": {"kp": "kp", "trajectory": "trajectory"}, "extra": ["vin"]}})");
  const ImporterSpec spec = ReadImporterSpec(JsonReader(spec_doc, "study.json", "importer"));
  Dataset d;
  std::vector<std::string> expected;  // read from the headers directly: the second method
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(dir)) files.push_back(f.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    RawEpisode raw = ImportFile(spec, f.string());
    raw.episode.id = f.stem().string();
    d.episodes.push_back(raw.episode);
    std::ifstream in(f);
    const nlohmann::json header = nlohmann::json::parse(in);
    const int kp = header.at("kp").get<int>();
    if ((kp == 200 || kp == 800) && header.at("trajectory") == "up_and_down") {
      expected.push_back(raw.episode.id);
    }
  }
  REQUIRE(d.episodes.size() == 16);
  Dataset by_study = d;
  SelectEpisodes(
      &by_study,
      Read(R"({"episodes": {"where": {"kp": [200, 800], "trajectory": "up_and_down"}}})"));
  CHECK(Ids(by_study) == expected);
  CHECK(expected.size() == 2);
  Dataset by_cli = d;
  SelectEpisodes(&by_cli, ParseEpisodeSelection({"kp=400"}, "--episodes"));
  CHECK(by_cli.episodes.size() == 4);
  for (const Episode& e : by_cli.episodes) CHECK(e.scenario.at("kp") == 400);
  CheckError(
      [&] {
        Dataset copy = d;
        SelectEpisodes(&copy, ParseEpisodeSelection({"kp=300"}, "--episodes"));
      },
      {"--episodes", "expected at least one episode selected",
       "(their values: kp: 100, 200, 400, 800)"});
}

}  // namespace
}  // namespace nextbatch
