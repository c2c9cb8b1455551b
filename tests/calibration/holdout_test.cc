#include "calibration/holdout.h"

#include <doctest/doctest.h>

#include "engine/episode_io.h"

namespace nextbatch {
namespace {

// Every channel group holds its sample's time (times a per-group factor): a slice is right when
// each row still matches its time.
Episode Ramp(int n) {
  Episode e;
  e.id = "ramp";
  for (int i = 0; i < n; ++i) e.time.push_back(0.01 * i);
  for (int g = 0; g < kChannelGroups; ++g) {
    Channels& c = ChannelGroup(e, g);
    c.names = {std::string(ChannelGroupName(g)) + "_x"};
    c.values.resize(n, 1);
    for (int i = 0; i < n; ++i) c.values(i, 0) = (g + 1) * e.time[i];
  }
  return e;
}

TEST_CASE("a slice keeps every channel group, logged ones included, row for row with time") {
  const Episode e = Ramp(100);
  const Episode s = SliceEpisode(e, 0.2, 0.5);
  REQUIRE(s.samples() == 30);
  CHECK(s.time.front() == doctest::Approx(0.2));
  for (int g = 0; g < kChannelGroups; ++g) {
    const Channels& c = ChannelGroup(s, g);
    INFO(ChannelGroupName(g));
    REQUIRE(c.values.rows() == s.samples());
    for (int i = 0; i < s.samples(); ++i) CHECK(c.values(i, 0) == (g + 1) * s.time[i]);
  }
  // A split's two halves together hold every row of every group once.
  const TimeSplit split = SplitByTime({e}, 0.6);
  CHECK(split.fit[0].logged.values.rows() + split.test[0].logged.values.rows() == 100);
  CHECK(split.test[0].logged.values(0, 0) == 5 * split.test[0].time[0]);
}

TEST_CASE("an absent group (no rows) stays absent in a slice") {
  Episode e = Ramp(50);
  e.qvel = Channels();
  e.logged = Channels();
  const Episode s = SliceEpisode(e, 0.1, 0.3);
  CHECK(s.qvel.values.size() == 0);
  CHECK(s.logged.values.size() == 0);
  CHECK(s.qpos.values.rows() == 20);
}

}  // namespace
}  // namespace nextbatch
