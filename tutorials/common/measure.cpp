// measure.cpp — see measure.hpp.
#include "tutorials/common/measure.hpp"

#include <omp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace tutorial {

double best_seconds(int repeats, const std::function<void()>& f) {
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

double best_thread_cpu_seconds(int repeats, const std::function<void()>& f) {
  auto thread_cpu_seconds = [] {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return double(now.tv_sec) + 1e-9 * double(now.tv_nsec);
  };
  // Restores the thread count however f leaves (a check that throws, say).
  struct OneThread {
    const int before = omp_get_max_threads();
    OneThread() { omp_set_num_threads(1); }
    ~OneThread() { omp_set_num_threads(before); }
  } one_thread;
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    double start = thread_cpu_seconds();
    f();
    best = std::min(best, thread_cpu_seconds() - start);
  }
  return best;
}

namespace {
// A line "Name:   1234 kB" of /proc/self/status, in bytes (-1 when missing).
double status_bytes(const char* name) {
  std::FILE* file = std::fopen("/proc/self/status", "r");
  if (file == nullptr) return -1;
  char line[256];
  double kib = -1;
  const std::size_t length = std::strlen(name);
  while (std::fgets(line, sizeof line, file))
    if (std::strncmp(line, name, length) == 0 && line[length] == ':')
      kib = std::atof(line + length + 1);
  std::fclose(file);
  return kib < 0 ? -1 : kib * 1024;
}
}  // namespace

double peak_memory_growth(const std::function<std::function<void()>()>& setup) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("peak_memory_growth: pipe failed");
  std::fflush(stdout);  // or the child would print the parent's buffered output again
  pid_t child = fork();
  if (child < 0) throw std::runtime_error("peak_memory_growth: fork failed");
  if (child == 0) {
    close(fds[0]);
    omp_set_num_threads(1);
    std::function<void()> work = setup();
    double before = std::max(status_bytes("VmRSS"), status_bytes("VmHWM"));
    work();
    double growth = status_bytes("VmHWM") - before;
    ssize_t written = write(fds[1], &growth, sizeof growth);
    _exit(written == sizeof growth ? 0 : 1);  // no destructors, no atexit handlers
  }
  close(fds[1]);
  double growth = -1;
  ssize_t got = read(fds[0], &growth, sizeof growth);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (got != sizeof growth || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("peak_memory_growth: the measuring child process failed");
  return growth;
}

std::string human_bytes(double bytes) {
  char text[32];
  if (std::fabs(bytes) >= 1 << 30)
    std::snprintf(text, sizeof text, "%.2f GiB", bytes / (1 << 30));
  else if (std::fabs(bytes) >= 1 << 20)
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1 << 20));
  else
    std::snprintf(text, sizeof text, "%.1f KiB", bytes / (1 << 10));
  return text;
}

}  // namespace tutorial
