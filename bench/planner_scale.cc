// Planner scale: coverage (k nearest episodes) and the selection of a 1,000-episode batch from
// 10^6 candidates with 10 factors, each figure printed beside a brute-force reference measured
// in the same run on a subset, with the ratio; peak memory from getrusage.
//
// usage: planner_scale [candidates=1000000] [episodes=200] [threads=2]
// The candidates are scenarios of the space (no simulation: the target excludes it).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/random.h"
#include "planners/coverage.h"
#include "planners/selection.h"
#include "scenarios/sampler.h"

namespace nb = nextbatch;

namespace {

// CPU seconds of the whole process (all threads): on a shared machine the wall clock also counts
// the other users' load; CPU time / threads is what an idle machine would take.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// Wall and CPU seconds since construction.
struct Timer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double cpu = CpuSeconds();
  double Wall() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  double Cpu() const { return CpuSeconds() - cpu; }
};

double PeakMegabytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // KiB on Linux
}

// Nine continuous factors (two log-scaled) and a categorical fixture whose change is a setup.
nb::ScenarioSpace Space() {
  std::vector<nb::Factor> factors;
  for (int i = 0; i < 9; ++i) {
    nb::Factor f;
    f.name = "f" + std::to_string(i);
    f.lower = i < 2 ? 0.01 : 0.0;
    f.upper = 1.0;
    f.log_scale = i < 2;
    factors.push_back(f);
  }
  nb::Factor fixture;
  fixture.name = "fixture";
  fixture.kind = nb::FactorKind::kCategorical;
  for (int l = 0; l < 5; ++l) {
    nb::Level level;
    level.name = "fixture" + std::to_string(l);
    fixture.levels.push_back(level);
  }
  fixture.tag = nb::FactorTag::kSetup;
  fixture.cost_seconds = 300;
  factors.push_back(fixture);
  return nb::ScenarioSpace(factors);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--help") {
    std::printf("usage: planner_scale [candidates=1000000] [episodes=200] [threads=2]\n");
    return 0;
  }
  const int candidates_n = argc > 1 ? std::atoi(argv[1]) : 1000000;
  const int episodes_n = argc > 2 ? std::atoi(argv[2]) : 200;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  const int k = 5, batch = 1000, fixtures = 5;
  const double episode_seconds = 30.0, setup_seconds = 300.0;

  const nb::ScenarioSpace space = Space();
  Timer t;
  nb::SamplerOptions sampler;
  sampler.seed = 1;
  sampler.n = candidates_n;
  const std::vector<nb::Scenario> candidates =
      nb::MakeSampler(space, sampler)->Draw(0, candidates_n);
  const double sampling = t.Wall(), sampling_cpu = t.Cpu();
  std::vector<nb::Scenario> episodes;
  nb::RandomStream random(2, nb::Stage::kTest, 0);
  std::vector<double> u(space.dimension());
  for (int e = 0; e < episodes_n; ++e) {
    for (double& x : u) x = random.Uniform();
    episodes.push_back(space.FromUnit(u));
  }
  std::printf("planner_scale: %d candidates, %d factors, %d episodes, %d threads\n", candidates_n,
              space.dimension(), episodes_n, threads);
  std::printf("  (wall s / CPU s; on a shared machine CPU / threads is the idle-machine time)\n");
  std::printf("  candidates sampled, Sobol (not counted)    %6.2f / %6.2f\n", sampling,
              sampling_cpu);

  // 1. Coverage: the k nearest episodes of every candidate, against brute force on a subset.
  nb::CoverageOptions coverage;
  coverage.num_threads = threads;
  const nb::FactorEmbedding embedding(space, coverage.categorical_distance);
  t = Timer();
  const nb::Neighbours tree = nb::NearestEpisodes(embedding, episodes, candidates, k, threads);
  const double knn = t.Wall(), knn_cpu = t.Cpu();

  const int subset = std::min(candidates_n, 20000);
  const int width = embedding.width();
  const std::vector<double> episode_points = embedding.EmbedAll(episodes);
  std::vector<double> query(width), distance(episodes_n);
  double max_difference = 0.0;
  t = Timer();
  for (int c = 0; c < subset; ++c) {
    embedding.Embed(candidates[c], query.data());
    for (int e = 0; e < episodes_n; ++e) {
      double sum = 0.0;
      for (int w = 0; w < width; ++w) {
        const double d = query[w] - episode_points[static_cast<size_t>(e) * width + w];
        sum += d * d;
      }
      distance[e] = sum;
    }
    std::partial_sort(distance.begin(), distance.begin() + k, distance.end());
    for (int j = 0; j < k; ++j)
      max_difference = std::max(
          max_difference,
          std::abs(std::sqrt(distance[j]) - tree.distance[static_cast<size_t>(c) * k + j]));
  }
  const double brute_per_query = t.Cpu() / subset;  // one thread
  const double tree_per_query = knn_cpu / candidates_n;
  std::printf("  kNN, k=%d, k-d tree                        %6.2f / %6.2f  %.2f CPU us/candidate\n",
              k, knn, knn_cpu, 1e6 * tree_per_query);
  std::printf(
      "    reference: brute force on %d candidates   %.2f CPU us/candidate (%.1f CPU s for "
      "all); brute / tree %.2f; largest distance difference %.1e\n",
      subset, 1e6 * brute_per_query, brute_per_query * candidates_n,
      brute_per_query / tree_per_query, max_difference);

  t = Timer();
  const nb::CoverageReport report = nb::DatasetCoverage(space, episodes, coverage);
  const double share_seconds = t.Wall(), share_seconds_cpu = t.Cpu();
  std::printf("  dataset coverage, sample %d               %6.2f / %6.2f  share %.3f within %.3f\n",
              report.sample_size, share_seconds, share_seconds_cpu, report.share, report.radius);

  // 2. Selection: a 1,000-episode batch, coverage as the gain; the budget holds 1,000 episodes
  // and every fixture's change.
  coverage.sample_size = 4096;
  t = Timer();
  const std::vector<nb::Scenario> sample = nb::CoverageSample(space, coverage);
  nb::CoverageGain gain(embedding, episodes, candidates, sample,
                        coverage.radius * embedding.Diameter(), threads);
  const double gain_seconds = t.Wall(), gain_seconds_cpu = t.Cpu();
  const int uncovered = gain.uncovered();
  std::vector<nb::SelectionItem> items(candidates_n);
  const int fixture = space.dimension() - 1;
  for (int c = 0; c < candidates_n; ++c) {
    items[c].episode_seconds = episode_seconds;
    items[c].setup = static_cast<int>(candidates[c].values[fixture]);
  }
  const std::vector<double> setups(fixtures, setup_seconds);
  nb::SelectionOptions options;
  options.budget_seconds = batch * episode_seconds + fixtures * setup_seconds;
  t = Timer();
  const nb::Selection lazy = nb::SelectBatch(gain, items, setups, options);
  const double select_seconds = t.Wall(), select_seconds_cpu = t.Cpu();
  std::printf(
      "  coverage gain built, sample %d            %6.2f / %6.2f  %d points uncovered by "
      "the episodes\n",
      coverage.sample_size, gain_seconds, gain_seconds_cpu, uncovered);
  std::printf(
      "  lazy greedy selection                      %6.2f / %6.2f  %zu episodes, %.0f s of "
      "robot time, value %.0f, %ld gain calls\n",
      select_seconds, select_seconds_cpu, lazy.picks.size(), lazy.seconds, lazy.value,
      lazy.evaluations);

  // Plain greedy on a subset: the same picks, and the time it would take.
  const int pool = std::min(candidates_n, 10000), small_batch = 100;
  const std::vector<nb::Scenario> pool_candidates(candidates.begin(), candidates.begin() + pool);
  const std::vector<nb::SelectionItem> pool_items(items.begin(), items.begin() + pool);
  nb::CoverageGain pool_gain(embedding, episodes, pool_candidates, sample,
                             coverage.radius * embedding.Diameter(), threads);
  nb::SelectionOptions pool_options;
  pool_options.budget_seconds = small_batch * episode_seconds + fixtures * setup_seconds;
  t = Timer();
  const nb::Selection pool_lazy = nb::SelectBatch(pool_gain, pool_items, setups, pool_options);
  const double pool_lazy_seconds_cpu = t.Cpu();
  pool_options.lazy = false;
  t = Timer();
  const nb::Selection pool_plain = nb::SelectBatch(pool_gain, pool_items, setups, pool_options);
  const double pool_plain_seconds_cpu = t.Cpu();
  std::printf(
      "    reference: plain greedy on %d candidates, %zu episodes: %.3f CPU s (%ld gain "
      "calls) against lazy %.3f CPU s (%ld); plain / lazy %.0fx; same picks: %s\n",
      pool, pool_plain.picks.size(), pool_plain_seconds_cpu, pool_plain.evaluations,
      pool_lazy_seconds_cpu, pool_lazy.evaluations, pool_plain_seconds_cpu / pool_lazy_seconds_cpu,
      pool_lazy.picks == pool_plain.picks ? "yes" : "NO");

  const double counted = knn + share_seconds + gain_seconds + select_seconds;
  const double counted_cpu = knn_cpu + share_seconds_cpu + gain_seconds_cpu + select_seconds_cpu;
  std::printf(
      "  counted (kNN + share + gain + selection)   %6.2f / %6.2f  CPU / %d threads = %.2f s "
      "(target < 10 s on 2 cores)\n",
      counted, counted_cpu, threads, counted_cpu / threads);
  std::printf("  peak memory                                    %.0f MB (target < 2048 MB)\n",
              PeakMegabytes());
  return pool_lazy.picks == pool_plain.picks ? 0 : 1;
}
