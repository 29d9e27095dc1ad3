#include "tutorials/common/tutorial.hpp"

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

namespace tutorial {

void add_common_flags(CLI::App& app, Options& options, bool with_device) {
  app.add_option("--seed", options.seed, "random seed")->capture_default_str();
  app.add_option("--out", options.out, "directory for pictures and files")->capture_default_str();
  app.add_flag("--quick", options.quick, "a short run (a few seconds), as CI does");
  app.add_option("--threads", options.threads, "CPU threads (0 = one per core)")
      ->capture_default_str();
  if (with_device)
    app.add_option("--device", options.device, "cpu, cuda or cuda-sim")->capture_default_str();
}

void apply(const Options& options) {
  if (options.threads > 0) omp_set_num_threads(options.threads);
  std::filesystem::create_directories(options.out);
}

void section(const std::string& title) { std::printf("\n== %s ==\n", title.c_str()); }

bool Checks::check(bool passed, const std::string& what) {
  std::printf("  [%s] %s\n", passed ? "ok" : "FAILED", what.c_str());
  (passed ? passed_ : failures_)++;
  return passed;
}

bool Checks::close(double got, double expected, double tolerance, const std::string& what) {
  bool passed = std::fabs(got - expected) <= tolerance;
  char detail[160];
  std::snprintf(detail, sizeof detail, " (got %.10g, expected %.10g, tolerance %.1e)", got,
                expected, tolerance);
  return check(passed, what + detail);
}

int Checks::finish() const {
  std::printf("\n%d checks passed, %d failed\n", passed_, failures_);
  return failures_ == 0 ? 0 : 1;
}

}  // namespace tutorial
