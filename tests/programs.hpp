// programs.hpp — for the tests that run the built programs (tutorials, exercises, gdb): where
// they are, reading what they wrote, and running many of them at once.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace testing {

// The environment variable `name`, or `fallback` when it is unset or empty.
inline std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// A whole file as text ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// How many programs the tests run at the same time: ATTN_TEST_JOBS, else `fallback`. Most of a
// short run is starting the process and waiting on files, so more runs than cores still pay.
inline unsigned test_jobs(unsigned fallback) {
  int jobs = std::atoi(env_or("ATTN_TEST_JOBS", std::to_string(fallback)).c_str());
  return jobs >= 1 ? static_cast<unsigned>(jobs) : 1;
}

// Calls job(i) for every i in [0, count) on `workers` threads. A job must only run its program
// and store what it saw in its own slot; the CHECKs come afterwards, on the test's own thread
// (doctest's assertions are not thread-safe).
inline void run_concurrently(std::size_t count, unsigned workers,
                             const std::function<void(std::size_t)>& job) {
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < count; i = next++) job(i);
  };
  std::vector<std::thread> threads;
  unsigned extra = static_cast<unsigned>(std::min<std::size_t>(workers, count)) - (count > 0);
  for (unsigned t = 0; t < extra; ++t) threads.emplace_back(work);
  work();
  for (std::thread& thread : threads) thread.join();
}

}  // namespace testing
