#include "planners/selection.h"

#include <cmath>
#include <limits>
#include <queue>
#include <set>

#include "engine/error.h"

namespace nextbatch {

std::string SelectionOptions::Validate() const {
  if (!(budget_seconds > 0.0) || !std::isfinite(budget_seconds))
    return Expected("selection.budget_seconds", "a positive number of seconds",
                    FormatNumber(budget_seconds));
  if (!(cost_exponent >= 0.0) || !std::isfinite(cost_exponent))
    return Expected("selection.cost_exponent", "a number >= 0", FormatNumber(cost_exponent));
  return "";
}

double BatchSeconds(const std::vector<SelectionItem>& items,
                    const std::vector<double>& setup_seconds, const std::vector<int>& repeats) {
  double seconds = 0.0;
  std::set<int> setups;
  for (size_t i = 0; i < items.size(); ++i) {
    if (repeats[i] == 0) continue;
    seconds += repeats[i] * items[i].episode_seconds;
    if (items[i].setup >= 0 && setups.insert(items[i].setup).second)
      seconds += setup_seconds[items[i].setup];
  }
  return seconds;
}

namespace {

void CheckItems(const std::vector<SelectionItem>& items, const std::vector<double>& setup_seconds,
                int gain_size) {
  if (static_cast<int>(items.size()) != gain_size)
    ThrowExpected("selection.items", std::to_string(gain_size) + " items (one per gain item)",
                  std::to_string(items.size()));
  for (size_t s = 0; s < setup_seconds.size(); ++s)
    if (!(setup_seconds[s] >= 0.0) || !std::isfinite(setup_seconds[s]))
      ThrowExpected("selection.setup_seconds[" + std::to_string(s) + "]", "a number >= 0",
                    FormatNumber(setup_seconds[s]));
  for (size_t i = 0; i < items.size(); ++i) {
    const SelectionItem& it = items[i];
    const std::string where = "selection.items[" + std::to_string(i) + "]";
    if (!(it.episode_seconds > 0.0) || !std::isfinite(it.episode_seconds))
      ThrowExpected(where + ".episode_seconds", "a positive number",
                    FormatNumber(it.episode_seconds));
    if (it.setup < -1 || it.setup >= static_cast<int>(setup_seconds.size()))
      ThrowExpected(where + ".setup",
                    "-1 or a setup index below " + std::to_string(setup_seconds.size()),
                    std::to_string(it.setup));
    if (it.max_repeats < 1)
      ThrowExpected(where + ".max_repeats", "an integer >= 1", std::to_string(it.max_repeats));
    if (it.pinned < 0 || it.pinned > it.max_repeats)
      ThrowExpected(where + ".pinned", "0 .. max_repeats (" + std::to_string(it.max_repeats) + ")",
                    std::to_string(it.pinned));
    if (it.pinned > 0 && it.excluded)
      ThrowExpected(where, "an item either pinned or excluded", "both");
  }
}

// The greedy state shared by the plain and the lazy loop.
struct Batch {
  const std::vector<SelectionItem>& items;
  const std::vector<double>& setup_seconds;
  std::vector<char> setup_in;
  std::vector<int> repeats;
  double remaining = 0.0;
  double exponent = 1.0;

  double Cost(int i) const {
    const int s = items[i].setup;
    return items[i].episode_seconds + (s >= 0 && !setup_in[s] ? setup_seconds[s] : 0.0);
  }
  // What greedy ranks by: gain per cost^exponent (a cost that falls never lowers the ratio).
  double Ratio(double gain, int i) const {
    const double c = Cost(i);
    return exponent == 1.0 ? gain / c : gain / std::pow(c, exponent);
  }
  bool Open(int i) const { return !items[i].excluded && repeats[i] < items[i].max_repeats; }
};

// Strict order of the lazy queue: larger bound first, then the lower item (plain greedy's rule).
struct Entry {
  double bound;
  int item;
  long round;   // the greedy step at which `gain` was evaluated
  int version;  // the item's version when queued; older entries are dropped
  double gain;
};
struct Lower {
  bool operator()(const Entry& a, const Entry& b) const {
    if (a.bound != b.bound) return a.bound < b.bound;
    return a.item > b.item;
  }
};

}  // namespace

Selection SelectBatch(GainFunction& gain, const std::vector<SelectionItem>& items,
                      const std::vector<double>& setup_seconds, const SelectionOptions& options) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InputError(problem);
  CheckItems(items, setup_seconds, gain.size());
  const int n = static_cast<int>(items.size());

  double cheapest = std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) {
    if (items[i].excluded) continue;
    const int s = items[i].setup;
    cheapest = std::min(cheapest, items[i].episode_seconds + (s >= 0 ? setup_seconds[s] : 0.0));
  }
  if (!(options.budget_seconds >= cheapest))
    ThrowExpected("selection.budget_seconds",
                  "at least the cheapest episode with its setup (" + FormatNumber(cheapest) + " s)",
                  FormatNumber(options.budget_seconds));

  Selection out;
  Batch batch{items,
              setup_seconds,
              std::vector<char>(setup_seconds.size(), 0),
              std::vector<int>(n, 0),
              options.budget_seconds,
              options.cost_exponent};
  gain.Reset();
  auto commit = [&](int i, double g) {
    batch.remaining -= batch.Cost(i);
    if (items[i].setup >= 0) batch.setup_in[items[i].setup] = 1;
    ++batch.repeats[i];
    gain.Commit(i);
    out.picks.push_back(i);
    out.gains.push_back(g);
  };
  for (int i = 0; i < n; ++i)
    for (int r = 0; r < items[i].pinned; ++r) commit(i, 0.0);
  out.pinned_seconds = options.budget_seconds - batch.remaining;
  if (batch.remaining < 0.0)
    ThrowExpected("selection.budget_seconds",
                  "at least the pinned episodes' " + FormatNumber(out.pinned_seconds) + " s",
                  FormatNumber(options.budget_seconds));
  const Batch pinned_state = batch;

  // The best single affordable episode, from the gains after the pinned ones.
  std::vector<double> first(n, 0.0);
  int single = -1;
  for (int i = 0; i < n; ++i) {
    if (!batch.Open(i)) continue;
    first[i] = gain.Gain(i);
    ++out.evaluations;
    if (batch.Cost(i) <= batch.remaining && (single < 0 || first[i] > first[single])) single = i;
  }

  if (!options.lazy) {
    for (;;) {
      int best = -1;
      double best_ratio = 0.0, best_gain = 0.0;
      for (int i = 0; i < n; ++i) {
        if (!batch.Open(i) || batch.Cost(i) > batch.remaining) continue;
        const double g = gain.Gain(i);
        ++out.evaluations;
        const double ratio = batch.Ratio(g, i);
        if (best < 0 || ratio > best_ratio) {
          best = i;
          best_ratio = ratio;
          best_gain = g;
        }
      }
      if (best < 0 || !(best_gain > 0.0)) break;
      commit(best, best_gain);
      out.greedy_value += best_gain;
    }
  } else {
    std::priority_queue<Entry, std::vector<Entry>, Lower> queue;
    std::vector<int> version(n, 0);
    std::vector<double> last(first);
    std::vector<std::vector<int>> members(setup_seconds.size());
    for (int i = 0; i < n; ++i)
      if (items[i].setup >= 0) members[items[i].setup].push_back(i);
    long round = 0;
    for (int i = 0; i < n; ++i)
      if (batch.Open(i)) queue.push({batch.Ratio(first[i], i), i, round, 0, first[i]});
    while (!queue.empty()) {
      const Entry top = queue.top();
      queue.pop();
      const int i = top.item;
      if (top.version != version[i]) continue;
      if (batch.Cost(i) > batch.remaining) {
        // Out for good, unless its setup enters the batch: then it is queued again below.
        continue;
      }
      if (top.round != round) {
        const double g = gain.Gain(i);
        ++out.evaluations;
        last[i] = g;
        queue.push({batch.Ratio(g, i), i, round, version[i], g});
        continue;
      }
      if (!(top.gain > 0.0)) break;
      const int s = items[i].setup;
      const bool enters = s >= 0 && !batch.setup_in[s];
      commit(i, top.gain);
      out.greedy_value += top.gain;
      ++round;
      if (batch.Open(i))
        queue.push({batch.Ratio(top.gain, i), i, round - 1, ++version[i], top.gain});
      if (enters) {
        // Cheaper now: their bounds rise, so they are queued again with the new cost.
        for (int j : members[s]) {
          if (j == i || !batch.Open(j)) continue;
          queue.push({batch.Ratio(last[j], j), j, -1, ++version[j], last[j]});
        }
      }
    }
  }

  if (options.best_single && single >= 0 && first[single] > out.greedy_value) {
    out.single_won = true;
    batch.setup_in = pinned_state.setup_in;
    batch.repeats = pinned_state.repeats;
    batch.remaining = pinned_state.remaining;
    gain.Reset();
    out.picks.resize(0);
    out.gains.resize(0);
    for (int i = 0; i < n; ++i) {
      for (int r = 0; r < items[i].pinned; ++r) {
        gain.Commit(i);
        out.picks.push_back(i);
        out.gains.push_back(0.0);
      }
    }
    batch.remaining -= batch.Cost(single);
    ++batch.repeats[single];
    gain.Commit(single);
    out.picks.push_back(single);
    out.gains.push_back(first[single]);
  }
  out.single_value = single >= 0 ? first[single] : 0.0;
  out.value = out.single_won ? out.single_value : out.greedy_value;
  out.repeats = batch.repeats;
  out.seconds = options.budget_seconds - batch.remaining;
  return out;
}

}  // namespace nextbatch
