// The one parallel-for of nextbatch (OpenMP, static schedule, serial fallback).
#ifndef NEXTBATCH_ENGINE_PARALLEL_H_
#define NEXTBATCH_ENGINE_PARALLEL_H_

#include <functional>

namespace nextbatch {

// Threads to use: `requested` when > 0, else what OpenMP offers (OMP_NUM_THREADS or the cores).
int ResolveThreads(int requested);

// Calls fn(index, thread) for every index in [0, n), thread in [0, ResolveThreads(num_threads)).
// The schedule is static: index i always runs on the same thread for the same n and thread
// count, so per-thread workspaces see a reproducible sequence. An exception thrown by fn is
// caught inside the parallel region; after the loop the one of the lowest index is rethrown.
void ParallelFor(int n, int num_threads, const std::function<void(int index, int thread)>& fn);

}  // namespace nextbatch

#endif  // NEXTBATCH_ENGINE_PARALLEL_H_
