#include "planners/selection.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "engine/error.h"
#include "engine/random.h"
#include "planners/gain.h"
#include "planners/information.h"

namespace nextbatch {
namespace {

// A saturating weighted cover over multisets: f(n) = sum_e w_e (1 - 2^-c_e) with c_e the episodes
// of items covering e. Concave of modular, so monotone and diminishing in repeats and across
// items alike.
class SaturatingCover : public GainFunction {
 public:
  SaturatingCover(std::vector<std::vector<int>> sets, std::vector<double> weights)
      : sets_(std::move(sets)), weights_(std::move(weights)) {
    Reset();
  }
  int size() const override { return static_cast<int>(sets_.size()); }
  double Gain(int item) const override {
    double g = 0.0;
    for (int e : sets_[item]) g += weights_[e] * std::ldexp(1.0, -(count_[e] + 1));
    return g;
  }
  void Commit(int item) override {
    for (int e : sets_[item]) ++count_[e];
  }
  void Reset() override { count_.assign(weights_.size(), 0); }
  double Value() const {
    double v = 0.0;
    for (size_t e = 0; e < weights_.size(); ++e)
      v += weights_[e] * (1.0 - std::ldexp(1.0, -count_[e]));
    return v;
  }

 private:
  std::vector<std::vector<int>> sets_;
  std::vector<double> weights_;
  std::vector<int> count_;
};

struct Instance {
  std::vector<std::vector<int>> sets;
  std::vector<double> weights;
  std::vector<SelectionItem> items;
  std::vector<double> setup_seconds;
  double budget = 0.0;
};

Instance RandomInstance(std::uint64_t index, int items, int max_repeats, bool extras) {
  RandomStream r(21, Stage::kTest, index);
  Instance in;
  const int universe = 12 + static_cast<int>(r.UniformInt(20));
  for (int e = 0; e < universe; ++e) in.weights.push_back(r.Uniform(0.1, 1.0));
  const int setups = 1 + static_cast<int>(r.UniformInt(4));
  for (int s = 0; s < setups; ++s)
    in.setup_seconds.push_back(r.UniformInt(3) == 0 ? 0.0 : r.Uniform(5, 60));
  for (int i = 0; i < items; ++i) {
    std::vector<int> set;
    for (int e = 0; e < universe; ++e)
      if (r.Uniform() < 0.2) set.push_back(e);
    // Every fifth item copies an earlier one, so that ties occur.
    if (i >= 5 && i % 5 == 0) set = in.sets[r.UniformInt(i)];
    in.sets.push_back(set);
    SelectionItem it;
    it.episode_seconds = i % 5 == 0 && i >= 5 ? in.items[i - 5].episode_seconds : r.Uniform(10, 40);
    it.setup = r.UniformInt(3) == 0 ? -1 : static_cast<int>(r.UniformInt(setups));
    it.max_repeats = 1 + static_cast<int>(r.UniformInt(max_repeats));
    if (extras && r.UniformInt(8) == 0) it.excluded = true;
    if (extras && !it.excluded && r.UniformInt(12) == 0) it.pinned = 1;
    in.items.push_back(it);
  }
  in.budget = r.Uniform(80, 250);
  return in;
}

double PinnedSeconds(const Instance& in) {
  std::vector<int> pinned;
  for (const SelectionItem& it : in.items) pinned.push_back(it.pinned);
  return BatchSeconds(in.items, in.setup_seconds, pinned);
}

TEST_CASE("lazy greedy returns exactly what plain greedy returns on random instances") {
  int compared = 0, same = 0;
  long lazy_evaluations = 0, plain_evaluations = 0;
  for (std::uint64_t t = 0; t < 300; ++t) {
    const Instance in = RandomInstance(t, 20 + static_cast<int>(t % 40), 3, true);
    SelectionOptions o;
    o.budget_seconds = in.budget + PinnedSeconds(in);
    SaturatingCover f(in.sets, in.weights);
    Selection lazy, plain;
    try {
      lazy = SelectBatch(f, in.items, in.setup_seconds, o);
    } catch (const InputError&) {
      continue;  // a budget below the cheapest episode: checked elsewhere
    }
    o.lazy = false;
    plain = SelectBatch(f, in.items, in.setup_seconds, o);
    ++compared;
    same += lazy.picks == plain.picks && lazy.value == plain.value ? 1 : 0;
    CHECK(lazy.picks == plain.picks);
    CHECK(lazy.greedy_value == plain.greedy_value);
    CHECK(lazy.seconds <= o.budget_seconds);
    lazy_evaluations += lazy.evaluations;
    plain_evaluations += plain.evaluations;
  }
  CHECK(compared > 250);
  MESSAGE("lazy == plain greedy on " << same << " of " << compared << " instances; gain calls "
                                     << lazy_evaluations << " lazy, " << plain_evaluations
                                     << " plain");
}

TEST_CASE("cost exponent: 0 ranks by gain alone, 1 by gain per second, lazy == plain for any") {
  // Item 0 gains 3 for 30 s, item 1 gains 2 for 10 s; the budget pays for one of them only.
  SaturatingCover f({{0, 1}, {2}}, {1.5, 1.5, 2.0});
  std::vector<SelectionItem> items(2);
  items[0].episode_seconds = 30.0;
  items[1].episode_seconds = 10.0;
  SelectionOptions o;
  o.budget_seconds = 35.0;
  o.best_single = false;
  o.cost_exponent = 1.0;  // 3/30 < 2/10
  CHECK(SelectBatch(f, items, {}, o).picks == std::vector<int>{1});
  o.cost_exponent = 0.0;  // 3 > 2
  CHECK(SelectBatch(f, items, {}, o).picks == std::vector<int>{0});
  o.cost_exponent = 0.5;  // 3/sqrt(30) = 0.548 < 2/sqrt(10) = 0.632
  CHECK(SelectBatch(f, items, {}, o).picks == std::vector<int>{1});
  o.cost_exponent = -1.0;
  CHECK(o.Validate().find("selection.cost_exponent: expected a number >= 0") == 0);
  int compared = 0;
  for (std::uint64_t t = 0; t < 100; ++t) {
    const Instance in = RandomInstance(300 + t, 30, 3, true);
    SelectionOptions p;
    p.budget_seconds = in.budget + PinnedSeconds(in);
    p.cost_exponent = 0.25 * static_cast<double>(t % 5);
    SaturatingCover g(in.sets, in.weights);
    Selection lazy;
    try {
      lazy = SelectBatch(g, in.items, in.setup_seconds, p);
    } catch (const InputError&) {
      continue;
    }
    p.lazy = false;
    const Selection plain = SelectBatch(g, in.items, in.setup_seconds, p);
    ++compared;
    CHECK(lazy.picks == plain.picks);
    CHECK(lazy.seconds <= p.budget_seconds);
  }
  CHECK(compared > 80);
}

TEST_CASE("lazy equals plain greedy with the information gain plugged in") {
  RandomStream r(5, Stage::kTest, 0);
  auto spd = [&](int n, double shift) {
    Eigen::MatrixXd a(n, n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) a(i, j) = r.Normal();
    return Eigen::MatrixXd(a * a.transpose() / n + shift * Eigen::MatrixXd::Identity(n, n));
  };
  const Eigen::MatrixXd P = spd(4, 1.0), B = 0.05 * spd(4, 0.1);
  std::vector<Eigen::MatrixXd> single;
  std::vector<SelectionItem> items;
  for (int i = 0; i < 40; ++i) {
    Eigen::VectorXd g(4);
    for (int k = 0; k < 4; ++k) g(k) = r.Normal();
    single.push_back(g * g.transpose());
    SelectionItem it;
    it.episode_seconds = r.Uniform(10, 30);
    it.setup = i % 6;
    it.max_repeats = 4;
    items.push_back(it);
  }
  const std::vector<double> setups = {30, 0, 60, 10, 45, 5};
  InformationGain f(P, single, B);
  SelectionOptions o;
  o.budget_seconds = 400;
  const Selection lazy = SelectBatch(f, items, setups, o);
  const Eigen::MatrixXd after = f.precision();
  o.lazy = false;
  const Selection plain = SelectBatch(f, items, setups, o);
  CHECK(lazy.picks == plain.picks);
  CHECK(lazy.evaluations < plain.evaluations);
  // The value is the log-det gain of the whole batch.
  CHECK(lazy.value == doctest::Approx(LogDetGain(P, after - P)).epsilon(1e-9));
  CHECK(*std::max_element(lazy.repeats.begin(), lazy.repeats.end()) >= 1);
}

TEST_CASE("weighted gain: the weighted components plus first-episode scores, lazy == plain") {
  const Instance in = RandomInstance(77, 30, 3, false);
  SaturatingCover cover(in.sets, in.weights);
  const Eigen::MatrixXd P = Eigen::MatrixXd::Identity(2, 2);
  std::vector<Eigen::MatrixXd> single;
  std::vector<double> scores;
  RandomStream r(6, Stage::kTest, 0);
  for (int i = 0; i < 30; ++i) {
    Eigen::Vector2d g(r.Normal(), r.Normal());
    single.push_back(g * g.transpose());
    scores.push_back(r.Uniform());
  }
  InformationGain information(P, single, 0.1 * P);
  WeightedGain sum;
  CHECK(sum.Validate() == "weights: expected at least one positive weight, got none");
  sum.Add(&cover, 0.5, "coverage");
  sum.Add(&information, 2.0, "information");
  sum.SetScores(scores, 0.25, "uncertainty");
  CHECK(sum.Validate().empty());
  CHECK(sum.Gain(3) ==
        doctest::Approx(0.5 * cover.Gain(3) + 2.0 * information.Gain(3) + 0.25 * scores[3]));
  sum.Commit(3);
  CHECK(sum.ComponentGain(2, 3) == 0.0);  // the score counts once
  CHECK(sum.Gain(3) == doctest::Approx(0.5 * cover.Gain(3) + 2.0 * information.Gain(3)));
  SelectionOptions o;
  o.budget_seconds = in.budget + 100;
  const Selection lazy = SelectBatch(sum, in.items, in.setup_seconds, o);
  o.lazy = false;
  const Selection plain = SelectBatch(sum, in.items, in.setup_seconds, o);
  CHECK(lazy.picks == plain.picks);
  CHECK(lazy.picks.size() > 2);

  WeightedGain bad;
  CHECK_THROWS_WITH_AS(bad.Add(&cover, -1, "coverage"),
                       "weights.coverage: expected a number >= 0, got -1", InputError);
  bad.Add(&cover, 1, "coverage");
  CHECK_THROWS_AS(bad.SetScores({1.0, 2.0}, 1, "uncertainty"), InputError);
}

// Best value over every batch (repeats per item) that fits the budget and holds the pinned ones.
double BruteForce(const Instance& in, double budget) {
  const int n = static_cast<int>(in.items.size());
  SaturatingCover f(in.sets, in.weights);
  std::vector<int> repeats(n);
  for (int i = 0; i < n; ++i) repeats[i] = in.items[i].pinned;
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < repeats[i]; ++k) f.Commit(i);
  const double base = f.Value();
  double best = 0.0;
  std::function<void(int)> walk = [&](int i) {
    if (i == n) {
      if (BatchSeconds(in.items, in.setup_seconds, repeats) > budget) return;
      f.Reset();
      for (int j = 0; j < n; ++j)
        for (int k = 0; k < repeats[j]; ++k) f.Commit(j);
      best = std::max(best, f.Value() - base);
      return;
    }
    const int lo = in.items[i].pinned, hi = in.items[i].excluded ? lo : in.items[i].max_repeats;
    for (int k = lo; k <= hi; ++k) {
      repeats[i] = k;
      walk(i + 1);
    }
    repeats[i] = lo;
  };
  walk(0);
  return best;
}

TEST_CASE("budgeted selection stays within (1 - 1/e)/2 of brute force on small pools") {
  const double bound = (1.0 - std::exp(-1.0)) / 2.0;
  double worst = 1.0, sum = 0.0;
  int n = 0, optimal = 0;
  for (std::uint64_t t = 0; t < 150; ++t) {
    const Instance in = RandomInstance(1000 + t, 7, 2, t % 2 == 0);
    const double budget = in.budget + PinnedSeconds(in);
    SelectionOptions o;
    o.budget_seconds = budget;
    SaturatingCover f(in.sets, in.weights);
    Selection s;
    try {
      s = SelectBatch(f, in.items, in.setup_seconds, o);
    } catch (const InputError&) {
      continue;
    }
    const double best = BruteForce(in, budget);
    CHECK(s.value <= best * (1 + 1e-12));
    CHECK(BatchSeconds(in.items, in.setup_seconds, s.repeats) <= budget + 1e-9);
    if (best <= 0.0) continue;
    const double ratio = s.value / best;
    CHECK(ratio >= bound);
    worst = std::min(worst, ratio);
    sum += ratio;
    optimal += ratio > 1 - 1e-12 ? 1 : 0;
    ++n;
  }
  CHECK(n > 100);
  MESSAGE("budgeted greedy / brute force over " << n << " pools: worst " << worst << ", mean "
                                                << sum / n << ", optimal on " << optimal
                                                << "; bound " << bound);
}

TEST_CASE("pinned episodes come first and are charged first, excluded items never appear") {
  SaturatingCover f({{0}, {1}, {2}, {0, 1, 2, 3}}, {1.0, 1.0, 1.0, 1.0});
  std::vector<SelectionItem> items(4);
  for (SelectionItem& it : items) it.episode_seconds = 10;
  items[0].pinned = 1;
  items[3].excluded = true;
  SelectionOptions o;
  o.budget_seconds = 25;
  const Selection s = SelectBatch(f, items, {}, o);
  REQUIRE(s.picks.size() == 2);
  CHECK(s.picks[0] == 0);
  CHECK(s.gains[0] == 0.0);
  CHECK(s.picks[1] == 1);  // items 1 and 2 tie: the lower index
  CHECK(s.pinned_seconds == 10);
  CHECK(s.seconds == 20);
  CHECK(s.repeats == std::vector<int>{1, 1, 0, 0});
  // Pinned episodes beyond the budget are an input error.
  items[1].pinned = 1;
  items[2].pinned = 1;
  CHECK_THROWS_WITH_AS(SelectBatch(f, items, {}, o),
                       "selection.budget_seconds: expected at least the pinned episodes' 30 s, "
                       "got 25",
                       InputError);
  items[2].pinned = 0;
  items[2].excluded = true;
  items[2].pinned = 1;
  CHECK_THROWS_AS(SelectBatch(f, items, {}, o), InputError);
}

TEST_CASE("a setup's change cost is charged once, when it first enters the batch") {
  SaturatingCover f({{0}, {1}, {2}}, {1.0, 1.0, 0.9});
  std::vector<SelectionItem> items(3);
  for (SelectionItem& it : items) it.episode_seconds = 10;
  items[0].setup = 0;
  items[1].setup = 0;
  items[2].setup = 1;
  SelectionOptions o;
  o.budget_seconds = 120;  // 100 + 10 + 10: both items of setup 0, nothing else
  const Selection s = SelectBatch(f, items, {100, 100}, o);
  CHECK(s.repeats == std::vector<int>{1, 1, 0});
  CHECK(s.seconds == 120);
  CHECK(BatchSeconds(items, {100, 100}, s.repeats) == 120);
  // Item 1 on a setup of its own no longer fits after item 0.
  items[1].setup = 1;
  const Selection t = SelectBatch(f, items, {100, 100}, o);
  CHECK(t.repeats == std::vector<int>{1, 0, 0});
  CHECK(t.seconds == 110);
}

TEST_CASE("the best single episode wins where greedy's ratio misleads it") {
  // Item 0: gain 1 for 1 s; item 1: gain 10 for the whole 10 s. Greedy takes item 0 first and
  // then cannot afford item 1; the single-item check restores the guarantee.
  SaturatingCover f({{0}, {1}}, {2.0, 20.0});
  std::vector<SelectionItem> items(2);
  items[0].episode_seconds = 1;
  items[1].episode_seconds = 10;
  SelectionOptions o;
  o.budget_seconds = 10;
  const Selection s = SelectBatch(f, items, {}, o);
  CHECK(s.single_won);
  CHECK(s.picks == std::vector<int>{1});
  CHECK(s.value == 10.0);
  CHECK(s.greedy_value == 1.0);
  CHECK(f.Value() == 10.0);  // the gain holds the returned batch
  o.best_single = false;
  CHECK(SelectBatch(f, items, {}, o).picks == std::vector<int>{0});
}

TEST_CASE("a budget smaller than the cheapest episode is an input error") {
  SaturatingCover f({{0}, {1}}, {1.0, 1.0});
  std::vector<SelectionItem> items(2);
  items[0].episode_seconds = 30;
  items[0].setup = 0;
  items[1].episode_seconds = 50;
  SelectionOptions o;
  o.budget_seconds = 45;
  CHECK_THROWS_WITH_AS(SelectBatch(f, items, {20}, o),
                       "selection.budget_seconds: expected at least the cheapest episode with its "
                       "setup (50 s), got 45",
                       InputError);
  o.budget_seconds = 0;
  CHECK_THROWS_AS(SelectBatch(f, items, {20}, o), InputError);
  o.budget_seconds = 100;
  items[0].setup = 3;
  CHECK_THROWS_AS(SelectBatch(f, items, {20}, o), InputError);
}

}  // namespace
}  // namespace nextbatch
