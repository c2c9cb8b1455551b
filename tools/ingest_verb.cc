// `nextbatch ingest study.json -o out/`: reads the study's logs into clean episodes, writes each
// episode in the native format (out/episodes/<id>.csv with its .json sidecar) and the summary
// out/dataset.json ("nextbatch.dataset/1"), and prints a table of what was kept and removed.
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "engine/atomic_file.h"
#include "engine/dataset.h"
#include "engine/episode_io.h"
#include "engine/model.h"
#include "engine/study.h"
#include "tools/verbs.h"

namespace nextbatch::tools {
namespace {

// Episode ids become file names: keep letters, digits, '-', '_' and '.', replace the rest.
std::string FileStem(const std::string& id) {
  std::string s = id;
  for (char& c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) c = '_';
  }
  return s;
}

}  // namespace

int RunIngest(const VerbArgs& args) {
  Study study = Study::Load(args.study);
  if (args.threads >= 0) study.threads = args.threads;
  ModelPtr model = LoadModelFile(study.model);
  const Dataset dataset = LoadDataset(study, model.get());
  EnsureDirectory(args.out);
  const std::string episodes_dir = (std::filesystem::path(args.out) / "episodes").string();
  EnsureDirectory(episodes_dir);
  nlohmann::json summary = DatasetToJson(dataset);
  std::set<std::string> stems;
  for (std::size_t i = 0; i < dataset.episodes.size(); ++i) {
    std::string stem = FileStem(dataset.episodes[i].id);
    while (!stems.insert(stem).second) stem += "_";
    WriteEpisodeCsv(dataset.episodes[i],
                    (std::filesystem::path(episodes_dir) / (stem + ".json")).string());
    summary["episodes"][i]["file"] = "episodes/" + stem + ".json";
  }
  // Written last: its presence means every episode file is complete.
  const std::string path = (std::filesystem::path(args.out) / "dataset.json").string();
  WriteFileAtomic(path, summary.dump(1) + "\n");
  if (!args.quiet) {
    std::printf("%s", DatasetSummary(dataset).c_str());
    std::printf("wrote %s\n", path.c_str());
  }
  if (dataset.episodes.empty()) {
    std::fprintf(stderr, "nextbatch ingest: every episode was dropped (see %s)\n", path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace nextbatch::tools
