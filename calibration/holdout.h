// Time splits of logged episodes for predictive checks: fit a model on the early part of each
// run and judge it on the rest, which it has never seen.
#ifndef NEXTBATCH_CALIBRATION_HOLDOUT_H_
#define NEXTBATCH_CALIBRATION_HOLDOUT_H_

#include <vector>

#include "engine/episode.h"

namespace nextbatch {

// The samples of `e` with begin <= time < end (every channel, metadata kept). Throws InputError
// when fewer than two samples remain.
Episode SliceEpisode(const Episode& e, double begin, double end);

struct TimeSplit {
  std::vector<Episode> fit;   // the first `fraction` of each episode's duration
  std::vector<Episode> test;  // the rest
};

// Cuts every episode at time[0] + fraction * duration; fraction in (0, 1).
TimeSplit SplitByTime(const std::vector<Episode>& episodes, double fraction);

}  // namespace nextbatch

#endif  // NEXTBATCH_CALIBRATION_HOLDOUT_H_
