// The one parallel-for of nextbatch (OpenMP, static schedule, serial fallback).
#ifndef NEXTBATCH_ENGINE_PARALLEL_H_
#define NEXTBATCH_ENGINE_PARALLEL_H_

#include <functional>
#include <string>

namespace nextbatch {

// The CPUs this process may run on (its affinity mask, so taskset and container CPU sets count),
// at least 1.
int UsableCpus();

// Threads to use for a count the user gave at `where` (a flag or a study field): 0 means all the
// usable CPUs (fewer when OMP_NUM_THREADS says so), a count above the usable CPUs is capped to
// them (more threads than CPUs only cost memory: each holds a workspace). A negative count throws
// InputError "where: expected 0 (all the usable CPUs) or a count >= 1, got N".
int ResolveThreads(int requested, const std::string& where);

// The same for counts the code already checked: a count <= 0 means all the usable CPUs.
int ResolveThreads(int requested);

// Calls fn(index, thread) for every index in [0, n), thread in [0, ResolveThreads(num_threads)).
// Any num_threads is safe (capped as ResolveThreads does). The schedule is static: index i always
// runs on the same thread for the same n and thread count, so per-thread workspaces see a
// reproducible sequence. An exception thrown by fn is caught inside the parallel region; after the
// loop the one of the lowest index is rethrown.
void ParallelFor(int n, int num_threads, const std::function<void(int index, int thread)>& fn);

// ParallelFor for long loops whose partial results are discarded when the run stops: once a stop
// is asked for (engine/interrupt.h) the indices not yet begun are skipped, and after the loop
// Interrupted is thrown with `what` (an exception fn threw at a lower index comes first). So a
// signal during a chunk of minutes stops within one index per thread. Never inside a Ceres
// evaluation (an exception must not cross Ceres; the calibrate stage stops through its callback).
void StoppableParallelFor(int n, int num_threads, const std::string& what,
                          const std::function<void(int index, int thread)>& fn);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_PARALLEL_H_
