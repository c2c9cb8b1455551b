// Budgeted batch selection: which episodes to record next within a robot-time budget.
//
// Cost of one more episode of item i: its episode_seconds, plus its setup's change cost when that
// setup is not yet in the batch (charged once, when the setup first enters).
//
// Method: cost-benefit greedy (each step adds the affordable episode of largest gain / cost) run
// lazily (Minoux's accelerated greedy: a stale gain is an upper bound of the current one for a
// submodular gain, so only the top of a priority queue is re-evaluated), compared at the end with
// the best single affordable episode; the better of the two is returned. For a monotone submodular
// gain and modular costs this keeps the (1 - 1/e)/2 guarantee (Khuller, Moss and Naor 1999;
// Leskovec et al. 2007), where plain greedy alone has no constant-factor guarantee. Shared setup
// costs make the cost submodular rather than modular; the bound is then not proven, and the tests
// measure the ratio against brute force on small pools.
//
// Lazy and plain greedy pick the same batch: the queue is ordered by (bound desc, item asc), the
// same tie rule plain greedy applies, and an item whose setup enters the batch is re-queued with
// its cheaper cost.
#ifndef NEXTBATCH_PLANNERS_SELECTION_H_
#define NEXTBATCH_PLANNERS_SELECTION_H_

#include <string>
#include <vector>

#include "planners/gain.h"

namespace nextbatch {

struct SelectionItem {
  double episode_seconds = 0.0;  // robot time of one episode, > 0
  int setup = -1;                // index into setup_seconds; -1: no setup to change
  int max_repeats = 1;           // episodes of this item the batch may hold, >= 1
  int pinned = 0;                // episodes always in the batch (charged first), <= max_repeats
  bool excluded = false;         // never selected (pinned items cannot be excluded)
};

struct SelectionOptions {
  double budget_seconds = 3600.0;  // robot time of the whole batch, setup changes included
  bool lazy = true;                // false: plain greedy (every gain re-evaluated every step)
  bool best_single = true;         // compare with the best single affordable episode
  // Greedy ranks episodes by gain / cost^cost_exponent: 1 is cost-benefit (the guarantee above),
  // 0 ranks by gain alone (the budget still binds), values between trade the two off.
  double cost_exponent = 1.0;

  // Empty when valid, else "selection.field: expected X, got Y".
  std::string Validate() const;
};

struct Selection {
  std::vector<int> picks;     // episodes in the order chosen (item indices), pinned ones first
  std::vector<double> gains;  // the marginal gain of each pick (0 for pinned ones)
  std::vector<int> repeats;   // per item, episodes in the batch
  double value = 0.0;         // gain of the batch beyond the pinned episodes
  double greedy_value = 0.0;  // the greedy batch's value
  double single_value = 0.0;  // the best single episode's value (0 without one)
  bool single_won = false;    // the batch is pinned + that single episode
  double seconds = 0.0;       // robot time of the batch, setup changes included
  double pinned_seconds = 0.0;
  long evaluations = 0;  // Gain calls
};

// Throws InputError on invalid options or items, a setup index out of range, pinned episodes
// that exceed the budget, or a budget smaller than the cheapest selectable episode with its setup.
// `gain` is left holding the returned batch.
Selection SelectBatch(GainFunction& gain, const std::vector<SelectionItem>& items,
                      const std::vector<double>& setup_seconds, const SelectionOptions& options);

// Robot time of a batch given as repeats per item: episodes plus each distinct setup once.
double BatchSeconds(const std::vector<SelectionItem>& items,
                    const std::vector<double>& setup_seconds, const std::vector<int>& repeats);

}  // namespace nextbatch

#endif  // NEXTBATCH_PLANNERS_SELECTION_H_
