// thread_pool.cpp — see thread_pool.hpp for why; here is how.
//
// One job at a time: a loop nested in a chunk runs serially, and a job started by a second
// thread of the program while one runs is run serially by that thread. A job is published in
// one atomic word, `state_`:
//
//   bits 63..32  the job's number (generation), bits 31..16  its chunk count,
//   bits 15..0   the next chunk nobody has claimed yet
//
// A participant claims a chunk with a compare-and-swap that also checks the generation, so a
// worker that wakes after its job ended (and maybe after the next one began) can never claim a
// chunk of a job it has not seen begin, nor call a job's function after the job returned: the
// caller only returns once every chunk is claimed and finished, and nothing is claimable after.
#include "tensor/cpu/thread_pool.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tensor::cpu {
namespace {

thread_local bool inside_job = false;

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// The caller spins this many pauses (tens of microseconds) waiting for a worker's last chunk
// before it yields its core to it.
constexpr int kSpinPauses = 2000;

// A worker spins this long for the next job before it sleeps. Ops follow each other within
// microseconds in a training step, but small ones (run serially) can keep the next parallel op
// away for longer, and a sleeping worker is dear: on the 2-core virtual machine here, waking
// it took the caller a 34 us system call (median; 5 us at best) and the worker 75 us to get
// going, longer than many whole jobs. So the spin outlasts a wake-up several times over.
constexpr std::chrono::microseconds kWorkerSpin{250};

// Two signs that the machine has more runnable threads than cores, so that threads cost more
// than they save:
//  - a stall: the caller waited for a worker longer than it worked itself, and longer than a
//    worker takes to wake up (tens of microseconds; a scheduler time slice is milliseconds): the
//    worker was descheduled mid-chunk;
//  - absent workers: the caller ran every chunk of its last jobs itself, together longer than a
//    worker takes to wake up. A woken worker that the OS does not get to run in time helps no
//    job, but each job still pays to wake it, and when it does run, the CPU time it takes
//    (waking, looking for chunks, spinning) is time the caller may have needed: with 2 cores
//    and other programs busy, tutorials that do little but small ops ran up to 1.36x slower on
//    every core than on one, the caller running 97% of all chunks itself.
// The pool then runs jobs serially for a while, twice as long after each such sign in a row (up
// to the maximum), and tries threads again.
using Clock = std::chrono::steady_clock;
constexpr Clock::duration kNoticeableWait = std::chrono::microseconds(500);
constexpr Clock::duration kFirstSerialSpell = std::chrono::milliseconds(2);
constexpr Clock::duration kLongestSerialSpell = std::chrono::milliseconds(200);

class Pool {
 public:
  static Pool& instance() {
    // Never destroyed: workers are detached and the process ends with them; a forked child
    // (tutorial::peak_memory_growth) has none of them, so its caller runs every chunk itself.
    static Pool* pool = new Pool;
    return *pool;
  }

  // One job at a time: run() between a successful try_begin() and end(), unless the pool is
  // in a serial spell (see kNoticeableWait).
  bool try_begin() {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;
    if (Clock::now() < serial_until_) {
      end();
      return false;
    }
    return true;
  }
  void end() { busy_.store(false, std::memory_order_release); }

  void run(std::int64_t chunks, int threads, ChunkFunction chunk, const void* context) {
    start_workers(threads - 1);
    participants_.store(threads, std::memory_order_relaxed);
    chunk_ = chunk;
    context_ = context;
    done_.store(0, std::memory_order_relaxed);
    const std::uint64_t generation = (state_.load(std::memory_order_relaxed) >> 32) + 1;
    state_.store(generation << 32 | std::uint64_t(chunks) << 16, std::memory_order_seq_cst);
    // Wake the workers that went to sleep since the last wake-up, once: one that is woken but
    // not yet running needs no second system call.
    if (sleepers_.exchange(0, std::memory_order_seq_cst) > 0) {
      wake_.fetch_add(1, std::memory_order_seq_cst);
      wake_.notify_all();
    }
    // The caller works too, then waits only for chunks that others have claimed.
    const Clock::time_point start = Clock::now();
    inside_job = true;
    const std::int64_t caller_chunks = work_on(generation);
    inside_job = false;
    const Clock::time_point worked = Clock::now();
    for (int spins = 0; done_.load(std::memory_order_acquire) < chunks; ++spins) {
      if (spins < kSpinPauses)
        cpu_relax();
      else
        std::this_thread::yield();  // a worker mid-chunk was descheduled: let it run
    }
    const Clock::duration waited = Clock::now() - worked;
    const bool stalled = waited > kNoticeableWait && waited > worked - start;
    if (caller_chunks < chunks) {
      unhelped_work_ = Clock::duration::zero();
    } else {
      unhelped_work_ += worked - start;
    }
    if (stalled || unhelped_work_ > kNoticeableWait) {
      serial_spell_ = std::clamp(2 * serial_spell_, kFirstSerialSpell, kLongestSerialSpell);
      serial_until_ = Clock::now() + serial_spell_;
      unhelped_work_ = Clock::duration::zero();
    } else if (caller_chunks < chunks) {
      serial_spell_ = Clock::duration::zero();  // a worker helped: the next sign starts short
    }
  }

 private:
  // Claims and runs chunks of job `generation` while there are any; returns how many it ran.
  std::int64_t work_on(std::uint64_t generation) {
    std::int64_t ran = 0;
    std::uint64_t state = state_.load(std::memory_order_acquire);
    while (true) {
      const std::uint64_t chunks = (state >> 16) & 0xffff, next = state & 0xffff;
      if ((state >> 32) != generation || next >= chunks) return ran;
      if (!state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire))
        continue;  // `state` now holds the current value: look again
      // The chunk is ours, so the job cannot end before it is done: chunk_ and context_ are
      // still this job's.
      chunk_(context_, std::int64_t(next));
      ++ran;
      done_.fetch_add(1, std::memory_order_acq_rel);
      state = state_.load(std::memory_order_acquire);
    }
  }

  // `seen`: the last job number before the worker started, so that it takes part in the job
  // that started it, however late the OS gets it going.
  void worker_loop(int index, std::uint64_t seen) {
    inside_job = true;  // a worker only ever runs chunks: anything nested in them is serial
    while (true) {
      std::uint64_t generation = state_.load(std::memory_order_acquire) >> 32;
      const Clock::time_point spin_until = Clock::now() + kWorkerSpin;
      for (int spins = 1; generation == seen; ++spins) {
        cpu_relax();
        generation = state_.load(std::memory_order_acquire) >> 32;
        if (spins % 256 == 0) {  // every few microseconds
          if (Clock::now() > spin_until) break;
          // Where the OS put this worker on the calling thread's core (the other cores being
          // busy), spinning would hold the caller off for the whole spin after every job:
          // let it have the core. On a core of its own this returns at once.
          std::this_thread::yield();
        }
      }
      if (generation == seen) {  // no job came: sleep until one does
        // The next job's caller resets sleepers_ when it wakes us; if it published its job
        // before we counted ourselves in, we see the job here and do not sleep (the count
        // stays, and only costs that caller's successor one needless wake-up).
        const std::uint32_t ticket = wake_.load(std::memory_order_seq_cst);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        if ((state_.load(std::memory_order_seq_cst) >> 32) == seen) wake_.wait(ticket);
        continue;
      }
      seen = generation;
      // Workers beyond this job's thread count sit it out (the count may be of a newer job
      // already: then the claims fail, and the next round of this loop sees that job).
      if (index < participants_.load(std::memory_order_relaxed)) work_on(generation);
    }
  }

  void start_workers(int wanted) {
    if (int(workers_started_) >= wanted) return;
    std::lock_guard<std::mutex> lock(start_mutex_);
    while (int(workers_started_) < wanted) {
      const int index = int(workers_started_) + 1;
      // Called before run() publishes its job: the job number now is the one before it.
      std::thread(&Pool::worker_loop, this, index, state_.load(std::memory_order_acquire) >> 32)
          .detach();
      ++workers_started_;
    }
  }

  std::atomic<std::uint64_t> state_{0};
  std::atomic<std::int64_t> done_{0};
  std::atomic<std::uint32_t> wake_{0};  // bumped to wake sleeping workers
  std::atomic<int> sleepers_{0};  // workers gone to sleep since the last wake-up
  std::atomic<int> participants_{0};  // the caller and workers 1 .. participants_ - 1
  ChunkFunction chunk_ = nullptr;
  const void* context_ = nullptr;
  std::atomic<int> workers_started_{0};
  std::atomic<bool> busy_{false};
  // The serial spell (read and written only by the thread holding busy_).
  Clock::duration serial_spell_{};
  Clock::duration unhelped_work_{};  // the caller's work in its last jobs that no worker joined
  Clock::time_point serial_until_{};
  std::mutex start_mutex_;
};

}  // namespace

void run_chunks(std::int64_t chunks, int threads, ChunkFunction chunk, const void* context) {
  // Serially: one chunk; inside a job; more chunks than the state word counts (far more than
  // the threads of any machine); or while another thread of the program runs a job (the pool
  // runs one at a time).
  Pool& pool = Pool::instance();
  if (chunks <= 1 || threads <= 1 || chunks > 0xffff || in_parallel_region() ||
      !pool.try_begin()) {
    for (std::int64_t i = 0; i < chunks; ++i) chunk(context, i);
    return;
  }
  pool.run(chunks, threads, chunk, context);
  pool.end();
}

bool in_parallel_region() {
  return inside_job || omp_in_parallel();
}

int available_threads() {
  return in_parallel_region() ? 1 : omp_get_max_threads();
}

}  // namespace tensor::cpu
