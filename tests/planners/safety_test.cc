#include "planners/safety.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/error.h"
#include "engine/json_reader.h"
#include "engine/model.h"
#include "scenarios/policy.h"
#include "scenarios/task_json.h"
#include "tests/fixtures/models.h"

namespace nextbatch {
namespace {

// P(X <= k) for X ~ Binomial(n, p), summed term by term in logs.
double BinomialCdf(int k, int n, double p) {
  double sum = 0.0;
  for (int j = 0; j <= k; ++j) {
    const double log_term = std::lgamma(n + 1.0) - std::lgamma(j + 1.0) - std::lgamma(n - j + 1.0) +
                            j * std::log(p) + (n - j) * std::log1p(-p);
    sum += std::exp(log_term);
  }
  return sum;
}

// The second method: the p in (0, 1) at which P(X <= k) = alpha, by bisection (the CDF falls in p).
double BisectedBound(int k, int n, double confidence) {
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (BinomialCdf(k, n, mid) > 1.0 - confidence ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

TEST_CASE("Clopper-Pearson upper bound: k = 0 has the closed form 1 - alpha^(1/n)") {
  for (int n : {1, 3, 10, 100, 5000}) {
    for (double c : {0.9, 0.95, 0.99}) {
      CHECK(ViolationUpperBound(0, n, c) ==
            doctest::Approx(1.0 - std::pow(1.0 - c, 1.0 / n)).epsilon(1e-12));
    }
  }
  // The "rule of three": about 3 / n at 95%.
  CHECK(ViolationUpperBound(0, 1000, 0.95) == doctest::Approx(3.0 / 1000).epsilon(0.01));
  CHECK(ViolationUpperBound(7, 7, 0.95) == 1.0);
}

TEST_CASE(
    "Clopper-Pearson upper bound: tabulated values, checked by bisection on the binomial CDF") {
  // The two-sided 95% interval of 1 in 10 is [0.0025, 0.4450] (its upper end is the one-sided
  // 97.5% bound); of 5 in 20 it is [0.0866, 0.4910].
  CHECK(ViolationUpperBound(1, 10, 0.975) == doctest::Approx(0.4450).epsilon(2e-4));
  CHECK(ViolationUpperBound(5, 20, 0.975) == doctest::Approx(0.4910).epsilon(2e-4));
  for (int n : {10, 20, 57, 400}) {
    for (int k : {1, 2, n / 4, n - 1}) {
      for (double c : {0.9, 0.95, 0.975, 0.999}) {
        CHECK(ViolationUpperBound(k, n, c) ==
              doctest::Approx(BisectedBound(k, n, c)).epsilon(1e-9));
      }
    }
  }
}

TEST_CASE("safety verdict: unsafe when the bound passes the threshold, undecided near it") {
  SafetyOptions o;  // 95%, 5%
  const SafetyVerdict clean = JudgeSafety(0, 100, o);
  CHECK_FALSE(clean.unsafe);  // 0.0295 < 0.05
  const SafetyVerdict few = JudgeSafety(0, 20, o);
  CHECK(few.unsafe);  // 0.139: too few samples to call it safe
  CHECK(few.undecided);
  const SafetyVerdict bad = JudgeSafety(30, 100, o);
  CHECK(bad.unsafe);
  CHECK_FALSE(bad.undecided);
  CHECK(bad.rate == 0.3);
}

TEST_CASE("safety input is validated") {
  CHECK_THROWS_WITH_AS(ViolationUpperBound(3, 2, 0.95), "safety.violations: expected 0 .. 2, got 3",
                       InputError);
  CHECK_THROWS_AS(ViolationUpperBound(0, 0, 0.95), InputError);
  CHECK_THROWS_AS(ViolationUpperBound(0, 5, 1.0), InputError);
  SafetyOptions o;
  o.threshold = 0;
  CHECK_THROWS_WITH_AS(JudgeSafety(0, 5, o), "safety.threshold: expected a rate in (0, 1), got 0",
                       InputError);
}

TEST_CASE("Clopper-Pearson lower bound: closed forms at k = 0 and k = n, bisection between") {
  for (int n : {1, 8, 64}) {
    CHECK(ViolationLowerBound(0, n, 0.95) == 0.0);
    CHECK(ViolationLowerBound(n, n, 0.95) ==
          doctest::Approx(std::pow(0.05, 1.0 / n)).epsilon(1e-12));
  }
  // the lower bound p of k in n: P(X >= k) = alpha, i.e. P(X <= k - 1) = 1 - alpha
  for (int n : {10, 57}) {
    for (int k : {1, 3, n - 1}) {
      double lo = 0.0, hi = 1.0;
      for (int i = 0; i < 200; ++i) {
        const double mid = 0.5 * (lo + hi);
        (BinomialCdf(k - 1, n, mid) > 0.95 ? lo : hi) = mid;
      }
      CHECK(ViolationLowerBound(k, n, 0.95) == doctest::Approx(0.5 * (lo + hi)).epsilon(1e-9));
    }
  }
  SafetyOptions o;
  CHECK(JudgeSafety(0, 8, o).straddles);         // [0, 0.31]
  CHECK_FALSE(JudgeSafety(0, 59, o).straddles);  // upper 0.0495: safe
  CHECK(JudgeSafety(0, 58, o).straddles);        // upper 0.0503
  CHECK_FALSE(JudgeSafety(4, 8, o).straddles);   // lower 0.19: confidently unsafe
}

// The sequential rule's outcome for a candidate whose rollouts violate with probability p, by
// exact enumeration of the violation count after each round: the probabilities of ending safe
// (upper bound <= threshold), unsafe (lower bound > threshold) or undecided at the cap, and
// the expected number of samples.
struct SequentialOdds {
  double safe = 0, unsafe = 0, undecided = 0, mean_samples = 0;
};
SequentialOdds Enumerate(double p, int K, const SafetyOptions& o) {
  const SafetySampling rule = SafetySamplingRule(o);
  auto binomial = [p](int j, int n) {
    return std::exp(std::lgamma(n + 1.0) - std::lgamma(j + 1.0) - std::lgamma(n - j + 1.0) +
                    j * std::log(p) + (n - j) * std::log1p(-p));
  };
  SequentialOdds odds;
  std::map<int, double> dist;  // violations -> probability, at `n` samples
  for (int k = 0; k <= K; ++k) dist[k] = binomial(k, K);
  for (int n = K; !dist.empty();) {
    std::map<int, double> next;
    const int add = std::min(K, o.max_samples - n);
    for (const auto& [k, pr] : dist) {
      if (rule.more(k, n)) {
        for (int j = 0; j <= add; ++j) next[k + j] += pr * binomial(j, add);
        continue;
      }
      const SafetyVerdict v = JudgeSafety(k, n, o);
      (!v.unsafe ? odds.safe : v.straddles ? odds.undecided : odds.unsafe) += pr;
      odds.mean_samples += pr * n;
    }
    dist.swap(next);
    n += add;
  }
  return odds;
}

TEST_CASE("sequential safety rule: stops by the closed form without violations, error rates") {
  SafetyOptions o;  // 0.05 at 0.95, max 64
  const SafetySampling rule = SafetySamplingRule(o);
  CHECK(rule.max_samples == 64);
  // with no violation the upper bound 1 - alpha^(1/n) first reaches 0.05 at n >= ln(0.05) /
  // ln(0.95) = 58.4: rounds of 8 stop at 64, rounds of 10 at 60
  const int closed = static_cast<int>(std::ceil(std::log(0.05) / std::log(0.95)));
  CHECK(closed == 59);
  for (int K : {8, 10}) {
    int n = K;
    while (rule.more(0, n)) n += std::min(K, o.max_samples - n);
    CHECK(n == (closed + K - 1) / K * K);
  }
  // the enumerated odds sum to 1, and away from the threshold the rule errs at most alpha
  for (double p : {0.001, 0.01, 0.05, 0.15, 0.3}) {
    const SequentialOdds a = Enumerate(p, 8, o);
    CHECK(a.safe + a.unsafe + a.undecided == doctest::Approx(1.0).epsilon(1e-12));
    MESSAGE("p " << p << ": safe " << a.safe << ", unsafe " << a.unsafe << ", undecided "
                 << a.undecided << ", mean samples " << a.mean_samples);
  }
  // at the threshold itself the eight looks do not carry the chance of calling it safe past
  // alpha (0.0375); they do that of calling it confidently unsafe (0.095), the cautious side
  CHECK(Enumerate(0.05, 8, o).safe <= 0.05);
  CHECK(Enumerate(0.05, 8, o).unsafe == doctest::Approx(0.0952).epsilon(0.01));
  CHECK(Enumerate(0.15, 8, o).safe <= 0.05);
  CHECK(Enumerate(0.3, 8, o).safe <= 0.05);
  CHECK(Enumerate(0.001, 8, o).unsafe <= 0.05);
  CHECK(Enumerate(0.01, 8, o).unsafe <= 0.05);
}

// A task whose safety rule is violated exactly when the sampled parameter `height` (the pendulum
// body's origin height, N(0, 1) under the posterior) reaches `h`: violation probability
// 1 - Phi(h). The body's origin sits on the hinge, so its height is the parameter throughout.
struct HeightFixture {
  ModelPtr m = LoadModelString(testing::PendulumXml(0.002));
  Task task;
  std::vector<ParameterSpec> specs;
  ParameterBinding binding;
  Posterior posterior;
  explicit HeightFixture(double h)
      : task(m.get(), ReadTaskSpec(JsonReader(nlohmann::json::parse(R"({"horizon": 0.004,
            "outcome": {"success": {"quantity": {"joint": "hinge"}, "op": ">", "value": -10},
              "safety": {"quantity": {"body": "link", "field": "pos", "axis": "z"}, "op": "<",
                         "value": )" + std::to_string(h) + R"(, "when": "always"}}})"),
                                              "study.json", "task"))) {
    ParameterSpec height{"height", {"body:link.pos[2]"}};
    height.initial = 0.0;
    height.lower = -50;
    height.upper = 50;
    height.prior_mean = 0.0;
    height.prior_std = 1.0;
    specs = {height};
    binding = ParameterBinding(m.get(), specs);
    posterior = Posterior::FromSpecs(specs);
  }
};

class NoScenario : public ScenarioSource {
 public:
  int Draw(std::int64_t, int count) override { return count; }
  void Apply(int, Workspace&, State*) const override {}
  nlohmann::json Values(int) const override { return nlohmann::json::object(); }
};

// The simulation options of the height runs: 8 posterior samples, no information, the safety
// rule `o` with sequential samples.
SimulateOptions HeightOptions(int candidates, int threads, int chunk, const SafetyOptions& o,
                              std::uint64_t seed) {
  SimulateOptions s;
  s.candidates = candidates;
  s.posterior_samples = 8;
  s.chunk = chunk;
  s.num_threads = threads;
  s.seed = seed;
  s.information = false;
  s.safety = SafetySamplingRule(o);
  return s;
}

std::vector<CandidateStats> RunHeights(HeightFixture& f, int candidates, int threads, int chunk,
                                       const SafetyOptions& o, std::uint64_t seed) {
  const SimulateOptions s = HeightOptions(candidates, threads, chunk, o, seed);
  NoScenario source;
  std::vector<CandidateStats> all;
  SimulateCandidates(f.m.get(), f.task, f.binding, f.posterior, source, s,
                     [&](const std::vector<CandidateStats>& c, const ScenarioSource&) {
                       all.insert(all.end(), c.begin(), c.end());
                     });
  return all;
}

// A batched policy that commands nothing: the height fixture's verdicts depend on the sampled
// parameter alone.
class IdleBatchPolicy : public BatchPolicy {
 public:
  void Act(int batch, const double*, int, double* ctrl, int nu) override {
    std::fill(ctrl, ctrl + static_cast<std::ptrdiff_t>(batch) * nu, 0.0);
  }
};

std::vector<CandidateStats> RunHeightsBatched(HeightFixture& f, int candidates, int threads,
                                              int chunk, const SafetyOptions& o,
                                              std::uint64_t seed) {
  const SimulateOptions s = HeightOptions(candidates, threads, chunk, o, seed);
  NoScenario source;
  IdleBatchPolicy policy;
  std::vector<CandidateStats> all;
  SimulateCandidatesBatched(f.m.get(), f.task, f.binding, f.posterior, source, s, policy,
                            ObservationSpec{},
                            [&](const std::vector<CandidateStats>& c, const ScenarioSource&) {
                              all.insert(all.end(), c.begin(), c.end());
                            });
  return all;
}

TEST_CASE("simulate: sequential safety samples equal a brute-force replay and any thread count") {
  const double h = 1.6448536269514722;  // Phi(h) = 0.95: violation probability 0.05
  HeightFixture f(h);
  SafetyOptions o;
  const SafetySampling rule = SafetySamplingRule(o);
  const std::uint64_t seed = 17;
  const std::vector<CandidateStats> one = RunHeights(f, 40, 1, 7, o, seed);
  const std::vector<CandidateStats> two = RunHeights(f, 40, 2, 40, o, seed);
  // a batched policy: each round of safety samples one batch in lockstep, the same keys
  const std::vector<CandidateStats> batched_one = RunHeightsBatched(f, 40, 1, 7, o, seed);
  const std::vector<CandidateStats> batched_two = RunHeightsBatched(f, 40, 2, 40, o, seed);
  REQUIRE(one.size() == 40);
  REQUIRE(two.size() == 40);
  REQUIRE(batched_one.size() == 40);
  REQUIRE(batched_two.size() == 40);
  int extra = 0;
  for (int c = 0; c < 40; ++c) {
    CHECK(one[c].safety_rollouts == two[c].safety_rollouts);
    CHECK(one[c].safety_violations == two[c].safety_violations);
    for (const std::vector<CandidateStats>* b : {&batched_one, &batched_two}) {
      CHECK((*b)[c].index == c);
      CHECK((*b)[c].rollouts == 8);
      CHECK((*b)[c].safe == one[c].safe);
      CHECK((*b)[c].safety_rollouts == one[c].safety_rollouts);
      CHECK((*b)[c].safety_violations == one[c].safety_violations);
    }
    // brute force: the posterior draws under the documented keys, judged by h, in rounds of 8
    Eigen::VectorXd theta;
    int n = 0, k = 0;
    for (; n < 8; ++n) {
      f.posterior.Sample(seed, static_cast<std::uint64_t>(c) * 8 + n, &theta);
      k += theta[0] >= h ? 1 : 0;
    }
    CHECK(one[c].rollouts == 8);
    CHECK(8 - one[c].safe == [&] {
      int base = 0;
      for (int j = 0; j < 8; ++j) {
        f.posterior.Sample(seed, static_cast<std::uint64_t>(c) * 8 + j, &theta);
        base += theta[0] >= h ? 1 : 0;
      }
      return base;
    }());
    while (rule.more(k, n)) {
      const int add = std::min(8, o.max_samples - n);
      for (int a = 0; a < add; ++a, ++n) {
        f.posterior.Sample(seed, kSafetyKeyBase + (static_cast<std::uint64_t>(c) << 24) + (n - 8),
                           &theta);
        k += theta[0] >= h ? 1 : 0;
      }
    }
    CHECK(one[c].safety_rollouts == n);
    CHECK(one[c].safety_violations == k);
    extra += n - 8;
  }
  CHECK(extra > 0);
}

TEST_CASE("simulate: the sequential rule's decisions and samples match the enumerated odds") {
  // 600 candidates (independent draws) at three violation probabilities: the share of each
  // verdict and the mean number of samples agree with the exact enumeration within 4 standard
  // errors, and a candidate far from the threshold is misjudged at most at the stated 5 %
  SafetyOptions o;
  const int n = 600;
  const std::pair<double, int> cases[] = {
      {2.3263478740408408, -1}, {1.6448536269514722, 0}, {1.0364333894937898, 1}};
  for (const auto& [h, side] : cases) {                    // side: below, at, above the threshold
    const double p = 0.5 * std::erfc(h / std::sqrt(2.0));  // 0.01, 0.05, 0.15
    HeightFixture f(h);
    const std::vector<CandidateStats> got = RunHeights(f, n, 2, 256, o, 5);
    double safe = 0, unsafe = 0, samples = 0, samples2 = 0;
    for (const CandidateStats& c : got) {
      const SafetyVerdict v = JudgeSafety(c.safety_violations, c.safety_rollouts, o);
      safe += !v.unsafe;
      unsafe += v.unsafe && !v.straddles;
      samples += c.safety_rollouts;
      samples2 += static_cast<double>(c.safety_rollouts) * c.safety_rollouts;
    }
    safe /= n;
    unsafe /= n;
    const double mean = samples / n, sd = std::sqrt(samples2 / n - mean * mean);
    const SequentialOdds want = Enumerate(p, 8, o);
    MESSAGE("p " << p << ": safe " << safe << " (" << want.safe << "), unsafe " << unsafe << " ("
                 << want.unsafe << "), samples " << mean << " (" << want.mean_samples << ")");
    auto se = [](double q) { return std::sqrt(std::max(q * (1 - q), 1e-4) / n); };
    CHECK(std::abs(safe - want.safe) <= 4 * se(want.safe));
    CHECK(std::abs(unsafe - want.unsafe) <= 4 * se(want.unsafe));
    CHECK(std::abs(mean - want.mean_samples) <= 4 * std::max(sd, 0.5) / std::sqrt(n));
    if (side < 0) CHECK(unsafe <= 0.05 + 4 * se(0.05));
    if (side >= 0) CHECK(safe <= 0.05 + 4 * se(0.05));
  }
}

}  // namespace
}  // namespace nextbatch
