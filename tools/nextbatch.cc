// The nextbatch command: parse the arguments, call the pipeline, print. Exit codes: 0 done, 1
// failed while running (or finished with warnings under --strict), 2 bad usage or bad input,
// 130 / 143 stopped by SIGINT / SIGTERM (nothing published; simulate, plan and campaign resume
// with --resume).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/interrupt.h"
#include "engine/parallel.h"
#include "engine/progress.h"
#include "engine/study.h"
#include "pipeline/campaign.h"
#include "pipeline/pipeline.h"

namespace {

using nextbatch::StageId;

struct Verb {
  const char* name;
  StageId stage;
  const char* help;
};

struct Args {
  std::string study;
  std::string out = "out";
  int threads = -1;
  bool threads_given = false;
  bool quiet = false;
  bool strict = false;
  bool use_stale = false;
  bool formal_posterior = false;
  bool resume = false;
  bool episodes_given = false;
  std::string dataset, calibration, episodes, warm_start;
  std::string from;      // plan: the first stage to redo
  std::string previous;  // plan: an earlier plan set to check the collected batch against
  double window = 0;     // replay: window length (s), when window_given
  bool window_given = false;
  // campaign
  std::string reality, strategies;
  int rounds = 0, seeds = 0;  // 0: the study's campaign section
  double budget = 0.0;        // with budget_given; else the study's campaign (or planner) section
  bool budget_given = false;
};

// Splits "a,b,c" into ids (empty pieces are kept so that Validate can name them).
std::vector<std::string> SplitIds(const std::string& list) {
  std::vector<std::string> ids;
  if (list.empty()) return ids;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = list.find(',', start);
    ids.push_back(list.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

// `plan`: every stage that applies, reusing the current sets; prints each stage's warnings as
// that stage's verb would, then the plan's summary.
int RunAll(const nextbatch::Study& study, const nextbatch::PipelineOptions& options,
           const Args& args) {
  std::optional<StageId> from;
  if (!args.from.empty()) from = nextbatch::ParseStage(args.from, "--from");
  const std::vector<StageId> stages = nextbatch::StagesOf(study, StageId::kPlan);
  if (stages.empty() || stages.back() != StageId::kPlan) {
    throw nextbatch::InputError(study.path +
                                ": expected scenarios and task sections (what to plan over), got "
                                "none");
  }
  const std::vector<nextbatch::StageReport> reports =
      nextbatch::RunPipeline(study, options, StageId::kPlan, from);
  int warnings = 0;
  for (const nextbatch::StageReport& r : reports) {
    if (!args.quiet) {
      if (r.reused) {
        std::printf("%s: reused %s (current)\n", r.stage.c_str(), r.dir.c_str());
      } else if (r.stage != "plan") {
        std::printf("%s", r.text.c_str());
      }
    }
    std::fflush(stdout);  // each stage's lines before its warnings, also when both are piped
    for (const auto& n : r.notes)
      std::fprintf(stderr, "nextbatch %s: %s\n", r.stage.c_str(), n.c_str());
    for (const auto& w : r.warnings) {
      std::fprintf(stderr, "nextbatch %s: warning: %s\n", r.stage.c_str(), w.c_str());
    }
    warnings += static_cast<int>(r.warnings.size());
    if (r.exit_code != 0) {
      std::fprintf(stderr, "nextbatch %s: %s\n", r.stage.c_str(), r.message.c_str());
      return r.exit_code;
    }
  }
  if (!args.quiet) {
    const nextbatch::StageReport& plan = reports.back();
    std::printf("%s", plan.text.c_str());
    std::printf(
        "wrote %s%s\n", plan.dir.c_str(),
        warnings == 0 ? "" : (" (" + std::to_string(warnings) + " warning(s), see above)").c_str());
  }
  return 0;
}

int Run(const Verb& verb, const Args& args) {
  const nextbatch::Study study = nextbatch::Study::Load(args.study);
  nextbatch::PipelineOptions options;
  options.out = args.out;
  options.threads =
      args.threads_given ? nextbatch::ResolveThreads(args.threads, "-j/--threads") : -1;
  options.quiet = args.quiet;
  options.strict = args.strict;
  options.use_stale = args.use_stale;
  options.formal_posterior = args.formal_posterior;
  options.resume = args.resume;
  options.dataset = args.dataset;
  options.calibration = args.calibration;
  options.episodes = SplitIds(args.episodes);
  if (args.episodes_given && options.episodes.empty()) options.episodes = {""};  // said, empty
  if (args.window_given) options.replay_window = args.window;
  options.warm_start = args.warm_start;
  options.previous = args.previous;
  if (verb.stage == StageId::kPlan) return RunAll(study, options, args);
  const nextbatch::StageReport r = nextbatch::RunStage(verb.stage, study, options);
  for (const auto& n : r.notes) std::fprintf(stderr, "nextbatch %s: %s\n", verb.name, n.c_str());
  if (!args.quiet) std::printf("%s", r.text.c_str());
  for (const auto& w : r.warnings) {
    std::fprintf(stderr, "nextbatch %s: warning: %s\n", verb.name, w.c_str());
  }
  if (r.exit_code != 0) {
    std::fprintf(stderr, "nextbatch %s: %s\n", verb.name, r.message.c_str());
    return r.exit_code;
  }
  if (!args.quiet) {
    std::printf(
        "wrote %s%s\n", r.dir.c_str(),
        r.warnings.empty()
            ? ""
            : (" (" + std::to_string(r.warnings.size()) + " warning(s), see above)").c_str());
  }
  return 0;
}

// `campaign`: the study's campaign section, the command's overrides, the loop; prints the
// episodes-to-target table.
int RunCampaignVerb(const Args& args) {
  const nextbatch::Study study = nextbatch::Study::Load(args.study);
  nextbatch::CampaignOptions options = nextbatch::ReadCampaignOptions(study);
  options.reality = args.reality;
  options.out = args.out;
  options.quiet = args.quiet;
  options.resume = args.resume;
  if (args.threads_given) options.threads = nextbatch::ResolveThreads(args.threads, "-j/--threads");
  if (args.rounds != 0) options.rounds = args.rounds;
  if (args.seeds != 0) options.seeds = args.seeds;
  if (args.budget_given) {
    options.budget_seconds = args.budget;
    options.budget_source = "--budget";
  }
  if (!args.strategies.empty()) options.strategies = SplitIds(args.strategies);
  if (std::string e = options.Validate(); !e.empty()) throw nextbatch::InputError(e);
  const nextbatch::CampaignResult r = nextbatch::RunCampaign(study, options);
  if (!args.quiet) {
    std::printf("%s", r.text.c_str());
    std::printf("wrote %s (%.0f s)\n", args.out.c_str(), r.seconds);
  }
  return 0;
}

// The command that continues a stopped campaign: its inputs and the overrides given (they change
// the rounds), with --resume.
std::string CampaignResumeCommand(const Args& args) {
  std::string c =
      "nextbatch campaign " + args.study + " --reality " + args.reality + " -o " + args.out;
  if (args.rounds != 0) c += " --rounds " + std::to_string(args.rounds);
  if (args.seeds != 0) c += " --seeds " + std::to_string(args.seeds);
  if (args.budget_given) c += " --budget " + nextbatch::FormatNumber(args.budget);
  if (!args.strategies.empty()) c += " --strategies " + args.strategies;
  if (args.threads_given) c += " -j " + std::to_string(args.threads);
  return c + " --resume";
}

}  // namespace

int main(int argc, char** argv) {
  const Verb verbs[] = {
      {"ingest", StageId::kIngest, "read the study's logs into clean episodes: OUT/ingest/"},
      {"calibrate", StageId::kCalibrate,
       "fit the study's parameters to the ingested episodes: OUT/calibrate/"},
      {"replay", StageId::kReplay,
       "score the calibration on logged episodes by open-loop replay, with its predictive band: "
       "OUT/replay/"},
      {"simulate", StageId::kSimulate,
       "simulate candidate scenarios under the posterior: OUT/simulate/"},
      {"plan", StageId::kPlan,
       "run every stage that applies (reusing current sets) and plan the next batch: OUT/plan/"},
  };
  CLI::App app{"nextbatch: plans the next batch of real-robot data collection"};
  app.require_subcommand(1);
  Args args;
  const Verb* chosen = nullptr;
  for (const Verb& v : verbs) {
    CLI::App* sub = app.add_subcommand(v.name, v.help);
    sub->add_option("study", args.study, "the study file (JSON)")->required();
    sub->add_option("-o,--out", args.out, "output folder: each stage writes OUT/<stage>/")
        ->capture_default_str();
    CLI::Option* threads = sub->add_option(
        "-j,--threads", args.threads,
        "threads (default: the study's, else every CPU); 0: every CPU; capped at the CPUs usable");
    sub->add_flag("-q,--quiet", args.quiet, "print nothing but warnings and errors");
    sub->add_flag("--strict", args.strict,
                  "fail (exit 1, nothing published) when the stage finishes with warnings");
    if (v.stage != StageId::kIngest) {
      sub->add_flag("--use-stale", args.use_stale,
                    "read an upstream set even when the study changed since it was made");
    }
    CLI::Option* episodes = nullptr;
    if (v.stage == StageId::kCalibrate) {
      sub->add_option("--dataset", args.dataset, "the ingest set to read (default OUT/ingest)");
      episodes = sub->add_option(
          "--episodes", args.episodes,
          "fit only these episodes: comma-separated ids, or key=value conditions on "
          "their metadata (kp=8,trajectory=sin_sin; a key again adds a value: "
          "kp=8,kp=32); in place of the study's calibration.episodes");
      sub->add_option("--warm-start", args.warm_start,
                      "start from this calibration.json's values (parameters both have), in "
                      "place of the study's calibration.warm_start");
    }
    CLI::Option* window = nullptr;
    if (v.stage == StageId::kReplay) {
      sub->add_option("--dataset", args.dataset, "the ingest set to read (default OUT/ingest)");
      episodes = sub->add_option(
          "--episodes", args.episodes,
          "replay only these episodes (comma-separated ids), e.g. those not fitted");
      window =
          sub->add_option("--window", args.window,
                          "window length in seconds (default: the study's replay.window_seconds, "
                          "else 0.3)");
    }
    if (v.stage == StageId::kSimulate || v.stage == StageId::kPlan || v.stage == StageId::kReplay) {
      sub->add_option("--calibration", args.calibration,
                      "the calibrate set to read (default OUT/calibrate)");
      sub->add_flag("--formal-posterior", args.formal_posterior,
                    "sample the calibration's formal covariance instead of its honest one");
      if (v.stage != StageId::kReplay) {
        sub->add_flag("--resume", args.resume,
                      "continue the simulation an interrupted or killed run left "
                      "(OUT/.simulate.resume), when made from the same inputs");
      }
    }
    if (v.stage == StageId::kPlan) {
      sub->add_option("--from", args.from,
                      "redo this stage and every one after it, even when current "
                      "(ingest, calibrate, simulate, plan)");
      sub->add_option("--previous", args.previous,
                      "an earlier plan set (its folder, e.g. out_old/plan, or its plan.json): "
                      "check the batch collected since against what it expected");
    }
    sub->callback([&chosen, &v, &args, threads, window, episodes] {
      chosen = &v;
      args.threads_given = threads->count() > 0;
      args.window_given = window != nullptr && window->count() > 0;
      args.episodes_given = episodes != nullptr && episodes->count() > 0;
    });
  }
  bool campaign = false;
  {
    CLI::App* sub = app.add_subcommand(
        "campaign",
        "dry-run the planning loop against a hidden world or an archive of recorded episodes, "
        "comparing the planner with its "
        "baselines: OUT/rounds.csv, summary.csv, campaign.json, plots");
    sub->add_option("study", args.study, "the study file (JSON)")->required();
    sub->add_option("--reality", args.reality,
                    "the hidden world (nextbatch.world/1) or archive (nextbatch.archive/1) file")
        ->required();
    sub->add_option("-o,--out", args.out, "output folder")->capture_default_str();
    CLI::Option* threads = sub->add_option(
        "-j,--threads", args.threads,
        "threads of each stage and of the world (default: the study's, else every CPU)");
    sub->add_option("--rounds", args.rounds,
                    "batches per strategy and seed (default: campaign.rounds, else 3)");
    sub->add_option("--seeds", args.seeds,
                    "repetitions per strategy (default: campaign.seeds, else 10)");
    CLI::Option* budget =
        sub->add_option("--budget", args.budget,
                        "robot seconds per batch (default: campaign.budget_seconds, else "
                        "planner.budget_seconds)");
    sub->add_option("--strategies", args.strategies,
                    "comma-separated: planner, planner:<rule>, coverage, uncertainty, random, "
                    "lhs, grid (default: campaign.strategies, else all but planner:<rule>)");
    sub->add_flag("-q,--quiet", args.quiet, "print nothing but warnings and errors");
    sub->add_flag("--resume", args.resume,
                  "also continue the simulation of the round an interrupted or killed run was "
                  "in, from its checkpoint, when made from the same inputs (finished rounds' sets "
                  "are reused by any rerun into OUT while their inputs are unchanged)");
    sub->callback([&campaign, &args, threads, budget] {
      campaign = true;
      args.threads_given = threads->count() > 0;
      args.budget_given = budget->count() > 0;
    });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  nextbatch::InstallInterruptHandlers();
  try {
    // A bad value fails here, before any work, not when the first long stage starts.
    nextbatch::ProgressModeFromEnvironment();
  } catch (const nextbatch::InputError& e) {
    std::fprintf(stderr, "nextbatch: %s\n", e.what());
    return 2;
  }
  if (campaign) {
    try {
      if (args.budget_given && !(std::isfinite(args.budget) && args.budget > 0))
        throw nextbatch::InputError("--budget: expected a number of seconds > 0, got " +
                                    nextbatch::FormatNumber(args.budget));
      if (args.rounds < 0 || args.seeds < 0)
        throw nextbatch::InputError(std::string(args.rounds < 0 ? "--rounds" : "--seeds") +
                                    ": expected a count >= 1, got " +
                                    std::to_string(args.rounds < 0 ? args.rounds : args.seeds));
      return RunCampaignVerb(args);
    } catch (const nextbatch::Interrupted& e) {
      std::fprintf(stderr,
                   "nextbatch campaign: interrupted (%s): %s; the finished rounds' sets stay under "
                   "%s/runs, the summary files were not written; continue with `%s`\n",
                   nextbatch::SignalName(e.signal()).c_str(), e.what(), args.out.c_str(),
                   CampaignResumeCommand(args).c_str());
      return e.exit_code();
    } catch (const nextbatch::InputError& e) {
      std::fprintf(stderr, "nextbatch campaign: %s\n", e.what());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nextbatch campaign: failed: %s\n", e.what());
      return 1;
    }
  }
  try {
    return Run(*chosen, args);
  } catch (const nextbatch::Interrupted& e) {
    const bool resumable = chosen->stage == StageId::kSimulate || chosen->stage == StageId::kPlan;
    std::fprintf(stderr,
                 "nextbatch %s: interrupted (%s): %s; nothing was published; %s `nextbatch %s %s "
                 "-o %s%s`\n",
                 chosen->name, nextbatch::SignalName(e.signal()).c_str(), e.what(),
                 resumable ? "continue with" : "run it again with", chosen->name,
                 args.study.c_str(), args.out.c_str(), resumable ? " --resume" : "");
    return e.exit_code();
  } catch (const nextbatch::InputError& e) {
    std::fprintf(stderr, "nextbatch %s: %s\n", chosen->name, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nextbatch %s: failed: %s\n", chosen->name, e.what());
    return 1;
  }
}
