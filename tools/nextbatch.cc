// The nextbatch command: parse, validate, call the library.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>

#include "engine/error.h"
#include "tools/verbs.h"

namespace {

using nextbatch::tools::VerbArgs;

struct Verb {
  const char* name;
  const char* help;
  std::function<int(const VerbArgs&)> run;
};

}  // namespace

int main(int argc, char** argv) {
  const Verb verbs[] = {
      {"ingest", "read the study's logs into clean episodes: out/dataset.json",
       nextbatch::tools::RunIngest},
      {"calibrate", "fit the study's parameters to its dataset: out/calibration.json",
       nextbatch::tools::RunCalibrate},
      {"simulate", "simulate candidate scenarios under the posterior: out/candidates",
       nextbatch::tools::RunSimulate},
  };
  CLI::App app{"nextbatch: plans the next batch of real-robot data collection"};
  app.require_subcommand(1);
  VerbArgs args;
  const Verb* chosen = nullptr;
  for (const Verb& v : verbs) {
    CLI::App* sub = app.add_subcommand(v.name, v.help);
    sub->add_option("study", args.study, "the study file (JSON)")->required();
    sub->add_option("-o,--out", args.out, "output folder")->capture_default_str();
    sub->add_option("-j,--threads", args.threads, "threads (default: the study's, else all)");
    sub->add_flag("-q,--quiet", args.quiet, "print nothing but errors");
    if (std::string(v.name) == "calibrate") {
      sub->add_option("--episodes", args.episodes,
                      "fit only these episodes (comma-separated ids), e.g. the runs of one setup");
    }
    sub->callback([&chosen, &v] { chosen = &v; });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    return chosen->run(args);
  } catch (const nextbatch::InputError& e) {
    std::fprintf(stderr, "nextbatch %s: %s\n", chosen->name, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nextbatch %s: failed: %s\n", chosen->name, e.what());
    return 1;
  }
}
