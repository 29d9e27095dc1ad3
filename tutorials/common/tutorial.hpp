// tutorial.hpp — what every tutorial program shares: the common flags, section headings, and
// self-checks that make the program exit non-zero when a result disagrees with its independent
// computation.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace tutorial {

struct Options {
  std::uint64_t seed = 0;
  std::string out = "out";  // where pictures and files go
  bool quick = false;       // a run of a few seconds (used by CI)
  int threads = 0;          // 0 = one per core
  std::string device = "cpu";
};

// Adds --seed, --out, --quick and --threads (and --device when with_device) to `app`.
void add_common_flags(CLI::App& app, Options& options, bool with_device = false);
// Applies --threads and creates the --out directory. Call after parsing.
void apply(const Options& options);

// Prints a heading: "\n== 2. The backward pass ==".
void section(const std::string& title);

// Collects self-checks. Each check prints one line, "  [ok] ..." or "  [FAILED] ...", and the
// program's exit code reports whether all passed.
class Checks {
 public:
  bool check(bool passed, const std::string& what);
  // |got - expected| <= tolerance, printing both numbers.
  bool close(double got, double expected, double tolerance, const std::string& what);
  int failures() const { return failures_; }
  // Prints the tally and returns the exit code for main (0 when every check passed).
  int finish() const;

 private:
  int passed_ = 0, failures_ = 0;
};

}  // namespace tutorial
