// measure.hpp — timing and memory measurements (tutorials 05, 15, 22, 23), and the thread
// count of the tutorials that run on one thread by default.
#pragma once

#include <functional>
#include <string>

#include "tutorials/common/tutorial.hpp"

namespace tutorial {

// The models of tutorials 16 and 22 are small, and on every core they measured slower than on
// one (16: 1.03x, 22: 1.06x the wall time at load average 1.4 on 2 cores), even with the
// library's thread pool, which splits an op only when each thread gets enough work. So unless
// --threads asks for more, use one thread. Call after the flags are parsed; prints the choice.
void one_thread_unless_asked(const Options& options);

// The fastest of `repeats` runs of f, in wall-clock seconds.
double best_seconds(int repeats, const std::function<void()>& f);
// The fastest of `repeats` runs of f, in CPU seconds of the calling thread. Unlike a wall clock
// it does not count the time the thread waits while other programs run, so a single-threaded
// timing stays meaningful on a busy machine (it misses work done on other threads).
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
