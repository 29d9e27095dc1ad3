// tutorial.hpp — what every tutorial program shares: the question it answers, its flags (checked
// where they are parsed), one way to report errors, section headings, and self-checks that make
// the program exit non-zero when a result disagrees with its independent computation.
//
// The shape of every tutorial's main:
//
//   int main(int argc, char** argv) try {
//     tutorial::Flags flags(kQuestion);                  // --help, --seed, --out, --quick, --threads
//     flags.add("--steps", steps, "training steps", tutorial::between(1, 100000));
//     flags.parse(argc, argv);                           // prints the question, makes out/NN_name/
//     flags.quick(steps, 30);                            // --quick's value, unless --steps was given
//     ...
//     tutorial::print_answer(kQuestion, "...the short answer, now with the numbers...");
//     return checks.finish();
//   } catch (...) {
//     return tutorial::report_error();                   // "error: ...", exit 2 or 1
//   }
//
// CLI11 is used only inside tutorial.cpp: it is a large header, and compiling it once instead of
// in every program is most of what keeps a first build short.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/tensor.hpp"

namespace tutorial {

// ---- the question --------------------------------------------------------------------------------

// The interview question a program answers. A program prints it first (Chinese, then English,
// then the short answer) and again at the end, with the answer backed by its numbers.
struct Question {
  std::string program;  // "12_train_transformer": the program's name and its folder in out/
  std::string chinese;  // the question as the interview articles ask it
  std::string english;
  std::string answer;   // the short answer, a few lines ('\n' between them)
  std::string article;  // the title of the interview article it comes from ("" when none)
};

// The closing lines: the question in one line, then `answer` (a few lines, with the numbers the
// program printed), under a heading "== Answer ==".
void print_answer(const Question& question, const std::string& answer);

// ---- errors --------------------------------------------------------------------------------------

// A mistake in how the program was called (a flag's value, an unusable --out): exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// For main's catch (...): prints "error: <message>" as one line on stderr and returns the exit
// code: 2 for a UsageError, 1 for any other error at run time.
int report_error();

// ---- flags ---------------------------------------------------------------------------------------

// The values a numeric flag accepts, shown in --help. Every numeric flag has one, with an upper
// bound too: a value too large to be meant (--batch 1e12) is an error, not minutes of work.
struct Range {
  double min, max;
  bool min_excluded = false;  // (min, max] instead of [min, max]
};
inline Range between(double min, double max) { return {min, max}; }
inline Range positive(double max) { return {0, max, /*min_excluded=*/true}; }  // (0, max]
inline Range probability() { return {0, 1}; }                                   // [0, 1]

// What every tutorial takes, filled by Flags::parse.
struct Options {
  std::uint64_t seed = 0;
  std::string out;       // where pictures and files go: out/<program> unless --out says otherwise
  bool quick = false;    // a run of a few seconds (CI runs every tutorial this way)
  int threads = 0;       // 0 = one per core
  std::string device = "cpu";
};

// A program's flags: a thin layer over CLI11 that checks each value where it is parsed and turns
// every mistake into a UsageError naming the flag.
class Flags {
 public:
  // Adds --seed, --out, --quick, --threads (and --device cpu|cuda|cuda-sim when with_device).
  explicit Flags(const Question& question, bool with_device = false);
  ~Flags();
  Flags(const Flags&) = delete;
  Flags& operator=(const Flags&) = delete;

  // A number in `range`.
  void add(const std::string& name, std::int64_t& value, const std::string& help, Range range);
  void add(const std::string& name, int& value, const std::string& help, Range range);
  void add(const std::string& name, double& value, const std::string& help, Range range);
  // A comma-separated list of numbers, each in `range` (e.g. --lens 16,32,64).
  void add(const std::string& name, std::vector<std::int64_t>& values, const std::string& help,
           Range range);
  // One of `choices`.
  void add(const std::string& name, std::string& value, const std::string& help,
           const std::vector<std::string>& choices);
  // Any text (a prompt, a name).
  void add_text(const std::string& name, std::string& value, const std::string& help);
  // A path to a file that must exist.
  void add_input_file(const std::string& name, std::string& value, const std::string& help);
  // A folder the program writes into: created when missing, and checked to be writable when the
  // flags are parsed, before any work starts. An empty default means "none" (an optional output,
  // like --save) unless the flag is given.
  void add_output_folder(const std::string& name, std::string& value, const std::string& help);
  // A switch: false unless given.
  void add_switch(const std::string& name, bool& value, const std::string& help);

  // Parses the command line. --help prints the flags and exits 0. Then: --threads applied, the
  // --out folder created and checked writable, and the question printed. Throws UsageError.
  void parse(int argc, char** argv);

  // After parse: whether the user gave the flag bound to `value`.
  bool given(const void* value) const;
  // Under --quick, sets a flag's variable to the quick run's value, unless the user gave that
  // flag: what a user types always wins.
  template <class T, class U>
  void quick(T& value, const U& quick_value) {
    if (options.quick && !given(&value)) value = static_cast<T>(quick_value);
  }
  // A rule between flags, checked after parse: throws UsageError(message) when it does not hold.
  static void require(bool holds, const std::string& message);

  Options options;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Question question_;
};

// ---- output --------------------------------------------------------------------------------------

// Prints a heading: "\n== 2. The backward pass ==".
void section(const std::string& title);

// <out>/<name>, the one way a tutorial names a file it writes.
std::string output_path(const Options& options, const std::string& name);
// One line after a file is written: its path, then what to look at in it.
//   picture: out/06_attention_masks/causal.png
//            look for: the upper triangle is hatched: no position sees the future
void announce_file(const std::string& path, const std::string& look_for);

// ---- checks --------------------------------------------------------------------------------------

// The one difference measure of the tutorials: tensor::max_abs_diff on the values (any device,
// any float dtype, compared in float64). Equal values, including equal infinities, differ by 0;
// a NaN on either side or opposite infinities give +inf. Throws when the shapes differ.
double max_abs_diff(const autograd::Tensor& a, const autograd::Tensor& b);

// Collects self-checks. Each check prints one line, "  [ok] ..." or "  [FAILED] ...", and the
// program's exit code reports whether all passed.
class Checks {
 public:
  bool check(bool passed, const std::string& what);
  // |got - expected| <= tolerance, printing both numbers.
  bool close(double got, double expected, double tolerance, const std::string& what);
  // max |got - expected| <= tolerance, printed as "max |diff| 3.1e-12 <= tol 1e-09".
  bool same(const autograd::Tensor& got, const autograd::Tensor& expected, double tolerance,
            const std::string& what);
  // A difference already measured (e.g. by max_abs_diff) against its tolerance, printed as above.
  bool small(double max_diff, double tolerance, const std::string& what);
  int failures() const { return failures_; }
  // Prints the tally and returns the exit code for main (0 when every check passed).
  int finish() const;

 private:
  int passed_ = 0, failures_ = 0;
};

}  // namespace tutorial
