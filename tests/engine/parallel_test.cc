#include "engine/parallel.h"

#include <doctest/doctest.h>
#include <sched.h>

#include <atomic>
#include <climits>
#include <vector>

#include "engine/interrupt.h"
#include "tests/fixtures/errors.h"

namespace nextbatch {
namespace {

TEST_CASE("the usable CPUs are those of the affinity mask") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof(set), &set) == 0);
  CHECK(UsableCpus() == CPU_COUNT(&set));
  CHECK(UsableCpus() >= 1);
}

TEST_CASE("thread counts: 0 is all usable CPUs, large ones are capped, negative ones refused") {
  const int usable = UsableCpus();
  CHECK(ResolveThreads(1, "-j") == 1);
  CHECK(ResolveThreads(usable, "-j") == usable);
  CHECK(ResolveThreads(usable + 1, "-j") == usable);
  CHECK(ResolveThreads(100000, "-j") == usable);
  CHECK(ResolveThreads(INT_MAX, "-j") == usable);
  const int all = ResolveThreads(0, "-j");
  CHECK(all >= 1);
  CHECK(all <= usable);
  testing::CheckError([] { ResolveThreads(-1, "-j/--threads"); },
                      {"-j/--threads", "expected 0 (all the usable CPUs) or a count >= 1", "-1"});
  testing::CheckError([] { ResolveThreads(INT_MIN, "study.json: threads"); },
                      {"study.json: threads", "-2147483648"});
  // The unchecked form never throws and never exceeds the CPUs.
  CHECK(ResolveThreads(-5) == all);
  CHECK(ResolveThreads(1 << 30) == usable);
}

TEST_CASE("ParallelFor with a huge thread count visits every index once on capped threads") {
  for (int requested : {100000, INT_MAX, -3, 0}) {
    const int n = 1000;
    std::vector<std::atomic<int>> visits(n);
    std::atomic<int> max_thread{0};
    ParallelFor(n, requested, [&](int i, int t) {
      ++visits[i];
      int seen = max_thread.load();
      while (t > seen && !max_thread.compare_exchange_weak(seen, t)) {
      }
    });
    for (int i = 0; i < n; ++i) CHECK(visits[i] == 1);
    CHECK(max_thread.load() < UsableCpus());
  }
}

TEST_CASE("StoppableParallelFor skips what a stop leaves unbegun and throws Interrupted") {
  ClearInterrupt();
  SUBCASE("no stop: every index once, nothing thrown") {
    std::vector<std::atomic<int>> visits(200);
    StoppableParallelFor(200, 2, "x", [&](int i, int) { ++visits[i]; });
    for (auto& v : visits) CHECK(v == 1);
  }
  SUBCASE("one thread: the indices after the stop are not run") {
    std::vector<int> ran;
    try {
      StoppableParallelFor(100, 1, "stopped at 10", [&](int i, int) {
        ran.push_back(i);
        if (i == 10) RequestInterrupt(2);
      });
      FAIL("no Interrupted thrown");
    } catch (const Interrupted& e) {
      CHECK(e.signal() == 2);
      CHECK(std::string(e.what()) == "stopped at 10");
    }
    CHECK(ran.size() == 11);
    CHECK(ran.back() == 10);
  }
  SUBCASE("two threads: each thread stops within one index of the request") {
    std::atomic<int> ran{0};
    CHECK_THROWS_AS(StoppableParallelFor(10000, 2, "x",
                                         [&](int i, int) {
                                           ++ran;
                                           if (i == 0) RequestInterrupt(15);
                                         }),
                    Interrupted);
    // index 0 stops thread 0 at once; the other thread finishes at most the index it was in
    CHECK(ran.load() < 10000 / 2 + 2);
  }
  SUBCASE("an exception of the loop body comes before the stop") {
    CHECK_THROWS_AS(StoppableParallelFor(50, 1, "x",
                                         [&](int i, int) {
                                           if (i == 3) {
                                             RequestInterrupt(2);
                                             throw std::runtime_error("body");
                                           }
                                         }),
                    std::runtime_error);
  }
  ClearInterrupt();
}

}  // namespace
}  // namespace nextbatch
