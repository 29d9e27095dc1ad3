// thread_pool.hpp — the threads under parallel_for (loops.hpp): a few persistent workers that
// help the calling thread through the chunks of one job, without a barrier at the end.
//
// Why not an OpenMP region per op: a region ends with a barrier, so the calling thread waits
// for every thread of the team, including one that the OS has not scheduled yet. On a machine
// that other programs share, that wait is a scheduler time slice (milliseconds) for an op of
// microseconds, and two threads ran a training step several times slower than one.
//
// Here the calling thread takes chunks too, and returns as soon as every chunk is done: a
// worker that wakes late finds nothing left and goes back to sleep. What remains is a worker
// descheduled in the middle of a chunk it took; when the caller waits for one longer than it
// worked itself, the pool runs the next jobs serially for a few milliseconds (longer after each
// such stall in a row), then tries threads again; so it does when the workers keep missing
// jobs altogether. Workers spin a little after a job (the next op usually follows soon, and
// waking a sleeping thread is slow), yielding their core now and then, then sleep.
//
// The thread count is OpenMP's (omp_set_num_threads, which --threads sets), read on the
// calling thread; the pool starts workers as a job first needs them.
#pragma once

#include <cstdint>

namespace tensor::cpu {

// One job's work: chunk(context, index) for index in [0, chunks).
using ChunkFunction = void (*)(const void* context, std::int64_t index);

// Runs chunk(context, i) for every i in [0, chunks) on the calling thread and up to
// threads - 1 workers, each taking the next chunk left; returns when all are done.
void run_chunks(std::int64_t chunks, int threads, ChunkFunction chunk, const void* context);

// True inside a job or an OpenMP parallel region: a nested parallel_for then runs serially.
bool in_parallel_region();

// The threads an op may use now: OpenMP's thread count, or 1 inside a parallel region.
int available_threads();

}  // namespace tensor::cpu
