// Real-data proof of calibration: fits the DFKI pendulum to each measured run and the XL330 servo
// to its 16 logs, each on the first two thirds of every run, and replays the last third open loop
// from logged states (0.3 s windows, median over windows of the largest position error) with the
// fitted values and with the reference parameter sets, all through ComputeReplayError with the
// logged commands. Prints the tables of docs/realdata.md.
// Usage (from the repository root):
//   realdata_calibration [--dfki] [--xl330] [--only ID[,ID...]] [--reference-starts]
//                        [--threads N] [--iterations N] [--root REPO] [--dfki-study STUDY]
//                        [--xl330-study STUDY]
// --dfki-study, --xl330-study: another study (a variant), with its references.json beside it.
// --reference-starts: the DFKI fits also start from each reference set (CalibrationOptions::
// starts, kept by final cost). Environment: REALDATA_WINDOWS=1 prints every window;
// REALDATA_NO_SPREAD=1 skips the two fits to the thirds; REALDATA_SELECT_REPLAY=1 keeps the start
// whose replay of the fitted part is the smallest instead.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "calibration/calibration.h"
#include "calibration/holdout.h"
#include "engine/error.h"
#include "tests/calibration/realdata_problems.h"

namespace nb = nextbatch;

namespace {

std::string Pm(double v, double s) {
  char b[64];
  if (std::isfinite(s)) {
    std::snprintf(b, sizeof(b), "%.4g ± %.2g", v, s);
  } else {
    std::snprintf(b, sizeof(b), "%.4g ± ?", v);
  }
  return b;
}

// A variant for comparison (REALDATA_SELECT_REPLAY=1): one fit per start, the one kept whose
// open-loop replay of the fitted part itself (0.3 s windows) is the smallest; the held-out part
// plays no part.
nb::CalibrationResult FitByTrainingReplay(const nb::realdata::Problem& p,
                                          const std::vector<nb::Episode>& fit, int threads) {
  nb::CalibrationOptions o = p.options;
  o.starts.clear();
  std::vector<Eigen::VectorXd> starts = {p.binding.Initial()};
  for (const auto& start : p.options.starts) {
    starts.push_back(p.binding.Initial());
    for (const auto& [name, value] : start) starts.back()[p.binding.Find(name)] = value;
  }
  nb::CalibrationResult best;
  double best_replay = HUGE_VAL;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    std::vector<nb::ParameterSpec> specs = p.binding.specs();
    for (std::size_t j = 0; j < specs.size(); ++j) specs[j].initial = starts[k][j];
    const nb::ParameterBinding b(p.model.get(), specs);
    nb::CalibrationResult r = nb::Calibrate(p.model.get(), b, fit, o);
    const double replay = nb::realdata::Replay(p, r.value, fit, threads).median;
    std::printf("  start %zu: cost %.6g, replay of the fitted part %.4f\n", k, r.summary.final_cost,
                replay);
    if (r.summary.usable() && replay < best_replay) {
      best_replay = replay;
      best = std::move(r);
      best.summary.start = static_cast<int>(k);
    }
  }
  return best;
}

int RunDfki(const std::string& study, const std::string& only, int threads, int iterations,
            bool reference_starts) {
  nb::realdata::Problem p = nb::realdata::LoadProblem(study, threads);
  if (iterations > 0) p.options.max_iterations = iterations;
  const auto refs = nb::realdata::LoadReferences(
      (std::filesystem::path(study).parent_path() / "references.json").string(), p.binding);
  // Multi-start from the reference sets (prior knowledge a user has), chosen by the fit's cost.
  if (reference_starts) {
    for (const auto& [name, v] : refs) {
      if (v == p.binding.Initial()) continue;  // apriori: the study's initial values
      std::map<std::string, double> start;
      for (int j = 0; j < p.binding.size(); ++j) start[p.binding.spec(j).name] = v[j];
      p.options.starts.push_back(start);
    }
  }
  const int fv = p.binding.Find("Fv"), fc = p.binding.Find("Fc_level"),
            off = p.binding.Find("offset"), del = p.binding.Find("delay"),
            qo = p.binding.Find("q_offset");
  std::printf(
      "DFKI pendulum: fit on the first 2/3 of each run, replay the last 1/3 open loop (0.3 s "
      "windows, median of max |q error|, rad). std: formal (covariance); emp: half-to-half spread "
      "|a - b| / 2 of separate fits to the 1st and 2nd third\n");
  std::printf(
      "%-11s %5s %4s %7s | %-26s %-26s %-17s %-17s %-18s %-8s %-8s | %8s %8s %8s %8s | %s\n", "run",
      "fit_s", "iter", "time_s", "J (std, emp)", "m*cx (std, emp)", "Fv", "Fc_level", "offset",
      "delay", "q_offset", "fitted", "publish", "apriori", "still", "status");
  for (const nb::Episode& e : p.dataset.episodes) {
    if (!only.empty() && ("," + only + ",").find("," + e.id + ",") == std::string::npos) continue;
    const nb::TimeSplit split = nb::SplitByTime({e}, 2.0 / 3.0);
    const nb::CalibrationResult r =
        std::getenv("REALDATA_SELECT_REPLAY")
            ? FitByTrainingReplay(p, split.fit, threads)
            : nb::Calibrate(p.model.get(), p.binding, split.fit, p.options);
    // Two independent fits, to the first and the second third, measure how much the estimate
    // moves with the data: model error included, which the formal std leaves out.
    // (REALDATA_NO_SPREAD=1 skips them, for quick comparisons of variants.)
    const nb::TimeSplit halves = nb::SplitByTime(split.fit, 0.5);
    const bool spread = !std::getenv("REALDATA_NO_SPREAD");
    const nb::CalibrationResult a =
        spread ? nb::Calibrate(p.model.get(), p.binding, halves.fit, p.options) : r;
    const nb::CalibrationResult b =
        spread ? nb::Calibrate(p.model.get(), p.binding, halves.test, p.options) : r;
    std::vector<double> replay;
    std::vector<nb::ReplayError> full;
    std::vector<Eigen::VectorXd> sets = {r.value};
    for (const auto& [name, v] : refs) sets.push_back(v);
    for (const Eigen::VectorXd& v : sets) {
      full.push_back(nb::realdata::Replay(p, v, split.test, threads));
      replay.push_back(full.back().median);
    }
    // The baseline of a model that does not move, from the same start states.
    full.push_back(nb::realdata::HoldStill(p, split.test));
    replay.push_back(full.back().median);
    if (std::getenv("REALDATA_WINDOWS")) {
      for (std::size_t w = 0; w < full[0].windows.size(); ++w) {
        std::printf("  window %7.2f", full[0].windows[w].start_time);
        for (const auto& f : full) std::printf(" %9.5f", f.windows[w].max_error);
        std::printf("\n");
      }
    }
    const auto q = nb::realdata::PendulumOf(p.model.get(), p.binding, r.value, r.covariance);
    const auto qa = nb::realdata::PendulumOf(p.model.get(), p.binding, a.value, {});
    const auto qb = nb::realdata::PendulumOf(p.model.get(), p.binding, b.value, {});
    // (a formal std the covariance does not determine prints as "?")
    auto with_spread = [](double v, double formal, double spread) {
      char b[64], s[32] = "?";
      if (std::isfinite(formal)) std::snprintf(s, sizeof(s), "%.1g", formal);
      std::snprintf(b, sizeof(b), "%.4f (%s, %.2g)", v, s, spread);
      return std::string(b);
    };
    const std::string J = with_spread(q.J, q.J_std, std::abs(qa.J - qb.J) / 2);
    const std::string M = with_spread(q.mcx, q.mcx_std, std::abs(qa.mcx - qb.mcx) / 2);
    std::printf(
        "%-11s %5.1f %4d %7.1f | %-26s %-26s %-17s %-17s %-18s %-8.4f %-8.4f | %8.5f %8.5f %8.5f "
        "%8.5f | %s%s\n",
        e.id.c_str(), split.fit[0].duration(), r.summary.iterations, r.summary.total_seconds,
        J.c_str(), M.c_str(), Pm(r.value[fv], r.std[fv]).c_str(),
        Pm(r.value[fc], r.std[fc]).c_str(), Pm(r.value[off], r.std[off]).c_str(), r.value[del],
        r.value[qo], replay[0], replay[1], replay[2], replay[3],
        (std::string(nb::ToString(r.summary.status)) + ", start " + std::to_string(r.summary.start))
            .c_str(),
        replay[0] < replay[1] && replay[0] < replay[2] ? ", beats both" : ", does NOT beat both");
    std::printf("%-11s thirds: J %.4f / %.4f, m*cx %.4f / %.4f; %s, reduced chi2 %.3g; cost", "",
                qa.J, qb.J, qa.mcx, qb.mcx, r.summary.termination.c_str(), r.summary.reduced_chi2);
    for (double c : r.summary.start_costs) std::printf(" %.6g", c);
    std::printf(" (start 0: initial values)\n%-11s values:", "");
    for (int j = 0; j < p.binding.size(); ++j) {
      std::printf(" %s %s", r.names[j].c_str(), Pm(r.value[j], r.std[j]).c_str());
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  std::printf("references (same parametrisation):\n");
  for (const auto& [name, v] : refs) {
    const auto q = nb::realdata::PendulumOf(p.model.get(), p.binding, v, Eigen::MatrixXd());
    std::printf("  %-10s J %.5f  m*cx %.5f  Fv %.5f  Fc_level %.5f  offset %.5f\n", name.c_str(),
                q.J, q.mcx, v[fv], v[fc], v[off]);
  }
  return 0;
}

int RunXl330(const std::string& study, int threads, int iterations) {
  nb::realdata::Problem p = nb::realdata::LoadProblem(study, threads);
  if (iterations > 0) p.options.max_iterations = iterations;
  const auto refs = nb::realdata::LoadReferences(
      (std::filesystem::path(study).parent_path() / "references.json").string(), p.binding);
  const nb::TimeSplit split = nb::SplitByTime(p.dataset.episodes, 2.0 / 3.0);
  const nb::CalibrationResult r = nb::Calibrate(p.model.get(), p.binding, split.fit, p.options);
  std::printf(
      "\nXL330: one fit over the first 2/3 of all %zu logs (%s, %d iterations, reduced "
      "chi2 %.2f, %.1f s)\n",
      split.fit.size(), nb::ToString(r.summary.status), r.summary.iterations,
      r.summary.reduced_chi2, r.summary.total_seconds);
  std::printf("%-13s %-20s", "parameter", "fitted");
  for (const auto& [name, v] : refs) std::printf(" %-14s", name.c_str());
  std::printf("\n");
  for (int j = 0; j < p.binding.size(); ++j) {
    std::printf("%-13s %-20s", r.names[j].c_str(), Pm(r.value[j], r.std[j]).c_str());
    for (const auto& [name, v] : refs) std::printf(" %-14.6g", v[j]);
    std::printf("\n");
  }
  std::vector<std::pair<std::string, Eigen::VectorXd>> sets = {{"fitted", r.value}};
  sets.insert(sets.end(), refs.begin(), refs.end());
  std::vector<nb::ReplayError> replay;
  for (const auto& [name, v] : sets) {
    replay.push_back(nb::realdata::Replay(p, v, split.test, threads));
  }
  replay.push_back(nb::realdata::HoldStill(p, split.test));
  std::printf(
      "replay of the last 1/3 (0.3 s windows, median of max |q error|, rad; hold still: a model "
      "that does not move)\n");
  std::printf("%-16s %4s %-15s", "log", "kp", "trajectory");
  for (const auto& [name, v] : sets) std::printf(" %14s", name.c_str());
  std::printf(" %14s\n", "hold still");
  for (std::size_t e = 0; e < split.test.size(); ++e) {
    const nb::Episode& ep = split.test[e];
    std::printf("%-16s %4g %-15s", ep.id.c_str(), ep.scenario.value("kp", 0.0),
                ep.scenario.value("trajectory", std::string()).c_str());
    for (const nb::ReplayError& re : replay) {
      std::vector<double> w;
      for (const auto& win : re.windows) {
        if (win.episode == static_cast<int>(e)) w.push_back(win.max_error);
      }
      std::sort(w.begin(), w.end());
      const double med = w.empty()      ? NAN
                         : w.size() % 2 ? w[w.size() / 2]
                                        : 0.5 * (w[w.size() / 2 - 1] + w[w.size() / 2]);
      std::printf(" %14.4f", med);
    }
    std::printf("\n");
  }
  std::printf("%-36s", "all windows");
  for (const nb::ReplayError& re : replay) std::printf(" %14.4f", re.median);
  std::printf("\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = ".", only, dfki_study, xl330_study;
  int threads = 2, iterations = 0;
  bool dfki = false, xl330 = false, reference_starts = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dfki") {
      dfki = true;
    } else if (a == "--xl330") {
      xl330 = true;
    } else if (a == "--reference-starts") {
      reference_starts = true;
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--iterations" && i + 1 < argc) {
      iterations = std::atoi(argv[++i]);
    } else if (a == "--dfki-study" && i + 1 < argc) {
      dfki_study = argv[++i];
    } else if (a == "--xl330-study" && i + 1 < argc) {
      xl330_study = argv[++i];
    } else if (a == "--root" && i + 1 < argc) {
      root = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: realdata_calibration [--dfki] [--xl330] [--only ID[,ID...]] "
                   "[--reference-starts] [--threads N] [--iterations N] [--root REPO] "
                   "[--dfki-study STUDY] [--xl330-study STUDY] (references.json beside it)\n");
      return 2;
    }
  }
  if (!dfki && !xl330) dfki = xl330 = true;
  if (!std::filesystem::exists(root + "/../shared/realdata")) {
    std::printf("../shared/realdata not found next to %s: nothing to do\n", root.c_str());
    return 0;
  }
  try {
    if (dfki_study.empty()) dfki_study = root + "/examples/dfki_pendulum/calibrate.json";
    if (dfki) RunDfki(dfki_study, only, threads, iterations, reference_starts);
    if (xl330_study.empty()) xl330_study = root + "/examples/xl330/calibrate.json";
    if (xl330) RunXl330(xl330_study, threads, iterations);
  } catch (const nb::InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
