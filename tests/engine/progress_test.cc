#include "engine/progress.h"

#include <doctest/doctest.h>

#include <sstream>

#include "engine/error.h"
#include "engine/parallel.h"

namespace nextbatch {
namespace {

TEST_CASE("durations are whole seconds rounded up, then minutes, then hours") {
  CHECK(FormatDuration(0) == "0 s");
  CHECK(FormatDuration(-3) == "0 s");
  CHECK(FormatDuration(0.2) == "1 s");
  CHECK(FormatDuration(59) == "59 s");
  CHECK(FormatDuration(59.5) == "1m 00s");
  CHECK(FormatDuration(65) == "1m 05s");
  CHECK(FormatDuration(3599) == "59m 59s");
  CHECK(FormatDuration(3600) == "1h 00m");
  CHECK(FormatDuration(7625) == "2h 07m");
}

TEST_CASE("the eta extrapolates the rate so far") {
  CHECK(FormatProgress("simulate", 0, 200, 3.0) == "simulate: 0/200 (eta ?)");
  CHECK(FormatProgress("simulate", 5, 200, 0.0) == "simulate: 5/200 (eta ?)");
  // 50 items in 10 s: 150 more take 30 s.
  CHECK(FormatProgress("simulate", 50, 200, 10.0) == "simulate: 50/200 (eta 30 s)");
  CHECK(FormatProgress("fit", 1, 3, 40.0) == "fit: 1/3 (eta 1m 20s)");
  CHECK(FormatProgress("simulate", 200, 200, 14.2) == "simulate: 200/200 (took 15 s)");
  CHECK(FormatProgress("empty", 0, 0, 0.0) == "empty: 0/0 (took 0 s)");
  CHECK(FormatProgress("fit", 10, 50, 5.0, "cost 3") == "fit: 10/50 (eta 20 s) cost 3");
}

struct FakeClock {
  double now = 0.0;
};

ProgressOptions Options(FakeClock* clock, std::ostream* out, int terminal) {
  ProgressOptions o;
  o.clock = [clock] { return clock->now; };
  o.out = out;
  o.terminal = terminal;
  return o;
}

TEST_CASE("a terminal gets at most one line per interval, rewritten in place, and a last one") {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress p("simulate", 100, Options(&clock, &out, 1));
    CHECK(p.enabled());
    // Every 0.1 s one more item: lines at t = 0, 0.3, 0.6, 0.9 (0.25 s apart at least), then
    // the last one at t = 9.9 regardless of the interval.
    for (int i = 0; i < 100; ++i) {
      p.Update(i);
      clock.now += 0.1;
    }
    p.Update(100);
  }
  const std::string s = out.str();
  const std::string expected_start =
      "\rsimulate: 0/100 (eta ?)\033[K\rsimulate: 3/100 (eta 10 s)\033[K"
      "\rsimulate: 6/100 (eta 10 s)\033[K";
  CHECK(s.substr(0, expected_start.size()) == expected_start);
  long lines = 0;
  for (char c : s) lines += c == '\r';
  // 0.3 s apart (0.1 s ticks, 0.25 s interval): items 0, 3, ..., 99 give 34 lines, plus the last.
  CHECK(lines == 35);
  const std::string expected_end = "\rsimulate: 100/100 (took 10 s)\033[K\n";
  CHECK(s.substr(s.size() - expected_end.size()) == expected_end);
  CHECK(s.find('\n') == s.size() - 1);  // one line, ended once
}

TEST_CASE("nothing is written when stderr is not a terminal") {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress p("simulate", 10, Options(&clock, &out, 0));
    CHECK_FALSE(p.enabled());
    for (int i = 0; i <= 10; ++i) {
      p.Update(i);
      clock.now += 1.0;
    }
  }
  CHECK(out.str().empty());
}

TEST_CASE("whole lines, one per line interval and the last, for a log file") {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress p("simulate", 100, Options(&clock, &out, 2));
    CHECK(p.enabled());
    // One item a second; the line interval is 30 s: lines at 0, 30, 60 and 90 s, then the last.
    for (int i = 0; i < 100; ++i) {
      clock.now = i;
      p.Update(i);
    }
    clock.now = 100;
    p.Update(100);
  }
  CHECK(out.str() ==
        "simulate: 0/100 (eta ?)\n"
        "simulate: 30/100 (eta 1m 10s)\n"
        "simulate: 60/100 (eta 40 s)\n"
        "simulate: 90/100 (eta 10 s)\n"
        "simulate: 100/100 (took 1m 40s)\n");
}

TEST_CASE("the environment chooses the mode, and a value it does not know is refused") {
  CHECK(ProgressModeFromEnvironment(nullptr, true) == 1);
  CHECK(ProgressModeFromEnvironment(nullptr, false) == 0);
  CHECK(ProgressModeFromEnvironment("", false) == 0);
  CHECK(ProgressModeFromEnvironment("auto", true) == 1);
  CHECK(ProgressModeFromEnvironment("lines", false) == 2);
  CHECK(ProgressModeFromEnvironment("lines", true) == 2);
  CHECK(ProgressModeFromEnvironment("off", true) == 0);
  CHECK_THROWS_WITH_AS(ProgressModeFromEnvironment("Lines", false),
                       "environment variable NEXTBATCH_PROGRESS: expected \"auto\", \"lines\" or "
                       "\"off\", got \"Lines\"",
                       InputError);
}

TEST_CASE("a stage stopped early still ends its line") {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress p("calibrate", 10, Options(&clock, &out, 1));
    p.Update(3);
  }
  CHECK(out.str() == "\rcalibrate: 3/10 (eta ?)\033[K\n");
}

TEST_CASE("updates from a parallel loop write whole lines") {
  FakeClock clock;
  std::ostringstream out;
  {
    ProgressOptions o = Options(&clock, &out, 1);
    o.min_interval = 0.0;
    Progress p("batch", 64, o);
    ParallelFor(64, 2, [&](int i, int) { p.Update(i); });
    p.Update(64);
  }
  const std::string s = out.str();
  CHECK(s.back() == '\n');
  // Every line starts with \r and ends with the erase sequence: no interleaved fragments.
  std::size_t pos = 0;
  long lines = 0;
  while (pos < s.size() - 1) {
    REQUIRE(s[pos] == '\r');
    const std::size_t end = s.find("\033[K", pos);
    REQUIRE(end != std::string::npos);
    CHECK(s.compare(pos + 1, 6, "batch:") == 0);
    pos = end + 3;
    ++lines;
  }
  CHECK(lines == 65);
}

TEST_CASE("bad options and counts are refused") {
  ProgressOptions o;
  o.min_interval = -1;
  CHECK_THROWS_WITH_AS(Progress("x", 1, o),
                       "progress.min_interval: expected a finite number >= 0, got -1.000000",
                       InputError);
  o = ProgressOptions();
  o.terminal = 3;
  CHECK_THROWS_AS(Progress("x", 1, o), InputError);
  o = ProgressOptions();
  o.line_interval = -1;
  CHECK_THROWS_AS(Progress("x", 1, o), InputError);
  CHECK_THROWS_WITH_AS(Progress("x", -1), "progress: x: total: expected >= 0, got -1", InputError);
  ProgressOptions quiet;
  quiet.terminal = 0;
  Progress p("x", 5, quiet);
  CHECK_THROWS_AS(p.Update(6), LogicError);
  CHECK_THROWS_AS(p.Update(-1), LogicError);
}

}  // namespace
}  // namespace nextbatch
