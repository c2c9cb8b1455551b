#include "calibration/holdout.h"

#include <algorithm>
#include <string>

#include "engine/episode_io.h"
#include "engine/error.h"

namespace nextbatch {
namespace {

Channels Rows(const Channels& c, int first, int count) {
  Channels out;
  out.names = c.names;
  if (c.values.rows() > 0) out.values = c.values.middleRows(first, count);
  return out;
}

}  // namespace

Episode SliceEpisode(const Episode& e, double begin, double end) {
  const auto lo = std::lower_bound(e.time.begin(), e.time.end(), begin);
  const auto hi = std::lower_bound(e.time.begin(), e.time.end(), end);
  const int first = static_cast<int>(lo - e.time.begin());
  const int count = static_cast<int>(hi - lo);
  if (count < 2) {
    ThrowExpected("episode '" + e.id + "': slice [" + std::to_string(begin) + ", " +
                      std::to_string(end) + ")",
                  "at least 2 samples", std::to_string(std::max(count, 0)));
  }
  Episode out = e;
  out.time.assign(lo, hi);
  for (int g = 0; g < kChannelGroups; ++g) {
    ChannelGroup(out, g) = Rows(ChannelGroup(e, g), first, count);
  }
  return out;
}

TimeSplit SplitByTime(const std::vector<Episode>& episodes, double fraction) {
  if (!(fraction > 0 && fraction < 1)) {
    ThrowExpected("time split fraction", "a number in (0, 1)", std::to_string(fraction));
  }
  TimeSplit s;
  for (const Episode& e : episodes) {
    if (e.time.empty()) ThrowExpected("episode '" + e.id + "'", "samples", "none");
    const double cut = e.time.front() + fraction * e.duration();
    s.fit.push_back(SliceEpisode(e, e.time.front(), cut));
    s.test.push_back(SliceEpisode(e, cut, e.time.back() + 1.0));
  }
  return s;
}

}  // namespace nextbatch
