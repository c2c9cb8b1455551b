#include "engine/parallel.h"

#include <exception>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nextbatch {

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
#ifdef _OPENMP
  return omp_get_max_threads();
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

}  // namespace nextbatch
