#include "engine/output_set.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "engine/atomic_file.h"
#include "engine/digest.h"
#include "engine/error.h"
#include "engine/manifest.h"
#include "tests/fixtures/temp_files.h"

namespace nextbatch {
namespace {

namespace fs = std::filesystem;

// The names directly inside a folder, sorted.
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

Manifest Sample() {
  Manifest m;
  m.study = "study.json";
  m.study_name = "s";
  m.seed = 7;
  m.inputs = {{"study:dataset", DigestOf("a")}, {"file:model", DigestOf("b")}};
  m.warnings = {"one thing"};
  m.seconds = {{"total", 1.5}};
  m.created = UtcNow();
  m.version = "0.1.0";
  return m;
}

TEST_CASE("a published set holds its files and a manifest with their digests") {
  testing::TempDir dir("set_publish");
  const std::string root = dir.File("out");
  {
    OutputSet set(root, "ingest");
    WriteFileAtomic(set.File("a.txt"), "first");
    EnsureDirectory(set.File("episodes"));
    WriteFileAtomic(set.File("episodes/e.csv"), "1,2\n");
    CHECK_FALSE(fs::exists(root + "/ingest"));  // nothing visible before the publish
    set.Publish(Sample());
  }
  CHECK(Names(root) == std::vector<std::string>{"ingest"});  // no lock, no staging left
  const Manifest m = ReadManifest(root + "/ingest/manifest.json");
  CHECK(m.stage == "ingest");
  CHECK(m.seed == 7);
  CHECK(m.files.size() == 2);
  CHECK(m.files.at("a.txt") == DigestOf("first"));
  CHECK(m.files.at("episodes/e.csv") == DigestOf("1,2\n"));
  CHECK(m.inputs == Sample().inputs);
  CHECK(m.warnings == Sample().warnings);
  CHECK(m.seconds.at("total") == 1.5);
}

TEST_CASE("a new set replaces the old one whole, a run that does not publish leaves it alone") {
  testing::TempDir dir("set_replace");
  const std::string root = dir.File("out");
  {
    OutputSet set(root, "simulate");
    WriteFileAtomic(set.File("old_only.txt"), "x");
    WriteFileAtomic(set.File("shared.txt"), "old");
    set.Publish(Sample());
  }
  {
    OutputSet set(root, "simulate");
    WriteFileAtomic(set.File("shared.txt"), "abandoned");
    // destroyed without Publish: a failed run
  }
  CHECK(ReadFile(root + "/simulate/shared.txt") == "old");
  CHECK(Names(root) == std::vector<std::string>{"simulate"});
  {
    OutputSet set(root, "simulate");
    WriteFileAtomic(set.File("shared.txt"), "new");
    set.Publish(Sample());
  }
  CHECK(ReadFile(root + "/simulate/shared.txt") == "new");
  CHECK_FALSE(fs::exists(root + "/simulate/old_only.txt"));  // no mix of two runs
  CHECK(Names(root) == std::vector<std::string>{"simulate"});
}

TEST_CASE("a second writer of the same stage is refused, other stages are not") {
  testing::TempDir dir("set_lock");
  const std::string root = dir.File("out");
  OutputSet first(root, "calibrate");
  const std::string expected =
      "another nextbatch run is writing this stage (process " + std::to_string(::getpid()) + ")";
  CHECK_THROWS_WITH_AS(OutputSet(root, "calibrate"), doctest::Contains(expected.c_str()),
                       InputError);
  OutputSet other(root, "ingest");  // a different stage of the same folder
  WriteFileAtomic(first.File("f"), "1");
  first.Publish(Sample());
  CHECK(fs::exists(root + "/calibrate/f"));
}

TEST_CASE("a file, or a folder that is not a set, where the stage's folder goes is refused") {
  testing::TempDir dir("set_foreign");
  const std::string root = dir.File("out");
  fs::create_directories(root);
  WriteFileAtomic(root + "/ingest", "a user's file");
  CHECK_THROWS_WITH_AS(OutputSet(root, "ingest"), doctest::Contains("a file that is not a folder"),
                       InputError);
  CHECK(fs::is_regular_file(root + "/ingest"));  // untouched, no lock or staging left
  fs::create_directories(root + "/calibrate");
  WriteFileAtomic(root + "/calibrate/notes.txt", "a user's folder");
  CHECK_THROWS_WITH_AS(OutputSet(root, "calibrate"), doctest::Contains("not an output set"),
                       InputError);
  CHECK(Names(root) == std::vector<std::string>{"calibrate", "ingest"});
  // an empty folder, or a published set, is replaced as before
  fs::create_directories(root + "/simulate");
  {
    OutputSet s(root, "simulate");
    WriteFileAtomic(s.File("f"), "1");
    s.Publish(Sample());
  }
  {
    OutputSet s(root, "simulate");
    WriteFileAtomic(s.File("g"), "2");
    s.Publish(Sample());
  }
  CHECK(fs::exists(root + "/simulate/g"));
  CHECK_FALSE(fs::exists(root + "/simulate/f"));
}

TEST_CASE("what a killed run left (staging folders, a lock file) is cleaned by the next run") {
  testing::TempDir dir("set_stale");
  const std::string root = dir.File("out");
  EnsureDirectory(root + "/.ingest.staging.99999/episodes");
  WriteFileAtomic(root + "/.ingest.staging.99999/episodes/half.csv", "1,");
  EnsureDirectory(root + "/.ingest.staging.99998.old");
  WriteFileAtomic(root + "/.ingest.lock", "99999");  // a lock file whose process is gone
  EnsureDirectory(root + "/.calibrate.staging.5");   // another stage's: not ours to remove
  {
    OutputSet set(root, "ingest");
    WriteFileAtomic(set.File("a"), "1");
    set.Publish(Sample());
  }
  CHECK(Names(root) == std::vector<std::string>{".calibrate.staging.5", "ingest"});
}

TEST_CASE(
    "bad output folders are refused with their path; a run that fails removes the root it "
    "made") {
  testing::TempDir dir("set_bad");
  CHECK_THROWS_WITH_AS(OutputSet("", "ingest"), doctest::Contains("-o: expected an output folder"),
                       InputError);
  const std::string file = dir.Write("file", "x");
  CHECK_THROWS_WITH_AS(OutputSet(file, "ingest"), doctest::Contains("a file that is not a folder"),
                       InputError);
  { OutputSet set(dir.File("fresh"), "ingest"); }
  CHECK_FALSE(fs::exists(dir.File("fresh")));
}

TEST_CASE("manifests: round trip, tampered digests and malformed fields are refused") {
  testing::TempDir dir("manifest");
  Manifest m = Sample();
  m.stage = "calibrate";
  m.files = {{"calibration.json", DigestOf("{}")}};
  const std::string good = dir.Write("good.json", ManifestToJson(m).dump());
  const Manifest back = ReadManifest(good);
  CHECK(back.SetDigest() == m.SetDigest());
  CHECK(back.inputs == m.inputs);
  nlohmann::json j = ManifestToJson(m);
  j["files"]["calibration.json"] = DigestOf("changed");
  CHECK_THROWS_WITH_AS(ReadManifest(dir.Write("tampered.json", j.dump())),
                       doctest::Contains("set_digest: expected the digest of the listed files"),
                       InputError);
  j = ManifestToJson(m);
  j["schema"] = "nextbatch.manifest/9";
  CHECK_THROWS_WITH_AS(ReadManifest(dir.Write("schema.json", j.dump())),
                       doctest::Contains("schema: expected \"nextbatch.manifest/1\""), InputError);
  j = ManifestToJson(m);
  j["inputs"]["study:x"] = 3;
  CHECK_THROWS_WITH_AS(ReadManifest(dir.Write("input.json", j.dump())),
                       doctest::Contains("inputs.study:x: expected a digest"), InputError);
  j = ManifestToJson(m);
  j["extra"] = 1;
  CHECK_THROWS_WITH_AS(ReadManifest(dir.Write("extra.json", j.dump())), doctest::Contains("extra"),
                       InputError);
  CHECK_THROWS_AS(ReadManifest(dir.Write("cut.json", ManifestToJson(m).dump().substr(0, 40))),
                  InputError);
}

TEST_CASE("changed inputs are said in words, options count only when both sides have them") {
  const std::map<std::string, std::string> then = {{"study:calibration", "1"},
                                                   {"file:model", "2"},
                                                   {"upstream:ingest", "3"},
                                                   {"option:episodes", "4"}};
  CHECK(ChangedInputs(then, then).empty());
  auto now = then;
  now["study:calibration"] = "9";
  now.erase("upstream:ingest");
  now["option:episodes"] = "5";
  now["file:log a.csv"] = "6";
  const std::vector<std::string> expected = {
      "input file log a.csv was not an input then", "option episodes changed",
      "study section 'calibration' changed", "upstream set 'ingest' is gone"};
  CHECK(ChangedInputs(then, now) == expected);
  now = then;
  now.erase("option:episodes");
  CHECK(ChangedInputs(then, now).empty());
}

}  // namespace
}  // namespace nextbatch
