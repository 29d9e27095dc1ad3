// measure.hpp — timing and memory measurements (tutorials 05, 15, 22, 23).
#pragma once

#include <functional>
#include <string>

#include "tutorials/common/tutorial.hpp"

namespace tutorial {

// The fastest of `repeats` runs of f, in wall-clock seconds.
double best_seconds(int repeats, const std::function<void()>& f);
// The fastest of `repeats` runs of f, in CPU seconds of the calling thread, with f on one thread.
// Unlike a wall clock it does not count the time the thread waits while other programs run, so
// the timing stays meaningful on a busy machine. It would miss work done on other threads, so f
// runs with the library's thread count set to 1 (the count of --threads is restored after).
double best_thread_cpu_seconds(int repeats, const std::function<void()>& f);
// How much memory some work needs. In a fresh child process (fork): setup() runs first and
// returns the work (a closure holding what setup made, e.g. the inputs, which are not counted);
// then the work runs, and the result is how far the child's peak resident memory (VmHWM in
// /proc/self/status) rose above what it was just before, in bytes. A fresh process, because the
// library keeps freed blocks for reuse (its caching allocator): in the same process, blocks left
// by earlier work would be reused unseen. The OS's resident pages see everything. Call before
// anything has run multi-threaded (a forked child gets no OpenMP thread pool).
double peak_memory_growth(const std::function<std::function<void()>()>& setup);
std::string human_bytes(double bytes);  // "3.2 MiB" (KiB, MiB or GiB)

}  // namespace tutorial
