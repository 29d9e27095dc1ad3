// parallel_for and the thread pool under it (tensor/cpu/loops.hpp, thread_pool.hpp): every item
// runs exactly once, the chunks are the contiguous ranges parallel_chunks promises (each of at
// least `grain` items, no more than the threads), nested loops run serially inside a chunk, and
// thousands of jobs in a row, or jobs started from two threads at once, still cover every item
// once. Each check counts visits item by item, so a lost, doubled or misplaced item fails it.
// A loop too small to split runs on the calling thread alone, and a worker asleep between jobs
// is woken for the next one, however soon after it fell asleep the job comes.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tensor/cpu/loops.hpp"
#include "tests/helpers.hpp"

using namespace tensor::cpu;

namespace {

// Sets OpenMP's thread count (the pool's) for the scope.
struct ThreadCount {
  explicit ThreadCount(int threads) : before(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ThreadCount() { omp_set_num_threads(before); }
  int before;
};

// Visits of every item of [0, n) by parallel_for(n, grain).
std::vector<int> visits(std::int64_t n, std::int64_t grain) {
  std::vector<std::atomic<int>> counts(n);
  parallel_for(n, grain, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) counts[i].fetch_add(1);
  });
  std::vector<int> result(n);
  for (std::int64_t i = 0; i < n; ++i) result[i] = counts[i].load();
  return result;
}

}  // namespace

TEST_CASE("parallel_for visits every item once, whatever the size, grain and threads") {
  for (int threads : {1, 2, 3, 4}) {
    ThreadCount scope(threads);
    for (std::int64_t n : {0, 1, 2, 5, 63, 64, 65, 1000, 4097})
      for (std::int64_t grain : {1, 2, 16, 1000, 1 << 20}) {
        CAPTURE(threads);
        CAPTURE(n);
        CAPTURE(grain);
        CHECK(visits(n, grain) == std::vector<int>(n, 1));
      }
  }
}

TEST_CASE("parallel_for_chunks: contiguous ranges in order, at least a grain each, a few per thread") {
  for (int threads : {1, 2, 4}) {
    ThreadCount scope(threads);
    for (std::int64_t n : {1, 7, 100, 1001})
      for (std::int64_t grain : {1, 3, 50, 600}) {
        CAPTURE(threads);
        CAPTURE(n);
        CAPTURE(grain);
        const std::int64_t chunks = parallel_chunks(n, grain);
        // The promise: one chunk (serial) when two of a grain each do not fit, else up to
        // kChunksPerThread per thread as long as each gets a grain.
        const std::int64_t expected =
            threads <= 1 || n < 2 * grain
                ? 1
                : std::min<std::int64_t>(kChunksPerThread * threads, n / grain);
        CHECK(chunks == expected);
        std::vector<std::int64_t> begins(chunks, -1), ends(chunks, -1);
        std::atomic<int> calls{0};
        parallel_for_chunks(n, grain, [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
          begins[chunk] = begin;
          ends[chunk] = end;
          calls.fetch_add(1);
        });
        CHECK(calls.load() == chunks);
        CHECK(begins[0] == 0);
        CHECK(ends[chunks - 1] == n);
        for (std::int64_t c = 0; c < chunks; ++c) {
          if (c > 0) CHECK(begins[c] == ends[c - 1]);
          if (chunks > 1) CHECK(ends[c] - begins[c] >= grain);
        }
      }
  }
}

TEST_CASE("parallel_for nested in a chunk runs serially and still visits everything once") {
  ThreadCount scope(4);
  const std::int64_t outer = 8, inner = 5000;
  std::vector<std::atomic<int>> counts(outer * inner);
  std::atomic<int> nested_chunks{0};
  parallel_for(outer, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t o = begin; o < end; ++o) {
      CHECK(parallel_chunks(inner, 1) == 1);  // inside a job: serial
      parallel_for_chunks(inner, 1, [&](std::int64_t chunk, std::int64_t b, std::int64_t e) {
        nested_chunks.fetch_add(1);
        CHECK(chunk == 0);
        for (std::int64_t i = b; i < e; ++i) counts[o * inner + i].fetch_add(1);
      });
    }
  });
  CHECK(nested_chunks.load() == outer);
  for (std::int64_t i = 0; i < outer * inner; ++i) REQUIRE(counts[i].load() == 1);
}

TEST_CASE("the pool survives thousands of jobs in a row and jobs from two threads at once") {
  ThreadCount scope(3);
  // Many short jobs: workers that wake late must never run a chunk of a job that has ended.
  const std::int64_t n = 3000;
  std::vector<std::int64_t> sums;
  for (int job = 0; job < 3000; ++job) {
    std::vector<std::int64_t> partial(parallel_chunks(n, 100), 0);
    parallel_for_chunks(n, 100, [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) partial[chunk] += i + job;
    });
    std::int64_t total = 0;
    for (std::int64_t p : partial) total += p;
    sums.push_back(total - (n * (n - 1) / 2 + n * job));
  }
  CHECK(sums == std::vector<std::int64_t>(sums.size(), 0));

  // Two threads of the program running loops at once: one of them gets the pool, the other
  // runs serially; both see every item once.
  std::vector<int> first, second;
  std::thread other([&] {
    omp_set_num_threads(3);  // a new thread has OpenMP's default count
    for (int r = 0; r < 200; ++r) first = visits(20000, 100);
  });
  for (int r = 0; r < 200; ++r) second = visits(20000, 100);
  other.join();
  CHECK(first == std::vector<int>(20000, 1));
  CHECK(second == std::vector<int>(20000, 1));
}

TEST_CASE("a loop of less than two grains runs in one piece on the calling thread") {
  ThreadCount scope(4);
  const std::thread::id caller = std::this_thread::get_id();
  for (std::int64_t grain : {std::int64_t{1}, std::int64_t{2}, std::int64_t{100}, kElementwiseGrain})
    for (std::int64_t n : {std::int64_t{1}, grain, 2 * grain - 1}) {
      CAPTURE(grain);
      CAPTURE(n);
      std::vector<std::thread::id> threads;  // written by the calling thread only, or the
      std::vector<std::int64_t> ranges;      // check below fails (a second call is a second chunk)
      parallel_for_chunks(n, grain, [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
        threads.push_back(std::this_thread::get_id());
        ranges.insert(ranges.end(), {chunk, begin, end});
      });
      CHECK(threads == std::vector<std::thread::id>{caller});
      CHECK(ranges == std::vector<std::int64_t>{0, 0, n});
    }
}

TEST_CASE("a worker asleep between jobs is woken for the next one") {
  // Each job has two chunks that wait for each other (up to 1 s), so it ends quickly only when
  // a worker runs one of them while the calling thread runs the other. A lost wake-up leaves
  // the calling thread to run both, one after the other, the first after its wait ran out.
  // The pauses between jobs cross the time a worker spins before it sleeps (250 us,
  // thread_pool.cpp), to catch a job published just as the worker goes to sleep.
  ThreadCount scope(2);
  // Runs one such job; true when its two chunks ran on two threads.
  auto two_threads_met = [] {
    std::atomic<int> started{0};
    std::thread::id ran_on[2];
    parallel_for_chunks(2, 1, [&](std::int64_t chunk, std::int64_t, std::int64_t) {
      ran_on[chunk] = std::this_thread::get_id();
      started.fetch_add(1);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (started.load() < 2 && std::chrono::steady_clock::now() < give_up) {
      }
    });
    return ran_on[0] != ran_on[1];
  };
  // A serial spell (thread_pool.cpp: the pool runs jobs on the calling thread for up to 200 ms
  // after it saw a worker descheduled mid-chunk, which a busy machine can cause in any job)
  // would fail a job here too: so first outlast any spell, and where a job fails, outlast one
  // and try that pause once more. A worker that is never woken fails both.
  const auto outlast_serial_spell = [] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  };
  outlast_serial_spell();
  for (int pause_us : {0, 20, 50, 100, 200, 230, 240, 250, 260, 270, 300, 500, 1000, 5000, 0}) {
    CAPTURE(pause_us);
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
    bool met = two_threads_met();
    if (!met) {
      outlast_serial_spell();
      std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
      met = two_threads_met();
    }
    CHECK(met);
  }
}
