#include "engine/parallel.h"

#include <sched.h>

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/interrupt.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nextbatch {

int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  // No affinity mask (or more CPUs than cpu_set_t holds): what the system reports.
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int ResolveThreads(int requested, const std::string& where) {
  if (requested < 0) {
    ThrowExpected(where, "0 (all the usable CPUs) or a count >= 1", std::to_string(requested));
  }
  return ResolveThreads(requested);
}

int ResolveThreads(int requested) {
  const int usable = UsableCpus();
  if (requested > 0) return std::min(requested, usable);
#ifdef _OPENMP
  return std::max(1, std::min(usable, omp_get_max_threads()));
#else
  return 1;
#endif
}

void ParallelFor(int n, int num_threads, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  const int threads = ResolveThreads(num_threads);
  std::vector<std::exception_ptr> errors(threads);
  std::vector<int> error_index(threads, n);
  if (threads == 1) {
    for (int i = 0; i < n; ++i) fn(i, 0);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int i = 0; i < n; ++i) {
    const int t = omp_get_thread_num();
    if (errors[t]) continue;
    try {
      fn(i, t);
    } catch (...) {
      errors[t] = std::current_exception();
      error_index[t] = i;
    }
  }
#else
  for (int i = 0; i < n; ++i) fn(i, 0);
#endif
  int first = -1;
  for (int t = 0; t < threads; ++t) {
    if (errors[t] && (first < 0 || error_index[t] < error_index[first])) first = t;
  }
  if (first >= 0) std::rethrow_exception(errors[first]);
}

void StoppableParallelFor(int n, int num_threads, const std::string& what,
                          const std::function<void(int, int)>& fn) {
  // InterruptSignal reads an atomic the handler sets: polling it per index costs nothing next
  // to the work of an index.
  ParallelFor(n, num_threads, [&](int index, int thread) {
    if (InterruptSignal() == 0) fn(index, thread);
  });
  ThrowIfInterrupted(what);
}

}  // namespace nextbatch
