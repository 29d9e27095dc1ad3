// exercise_check.hpp — what every exercise checker shares: random inputs, the library's answer
// as plain values, and the comparison that prints PASS or the first wrong value with its index,
// the expected and the computed value, and a hint.
//
// A checker (tutorials/exercises/checkers/<name>.cpp) is a main() that calls
//
//   int main(int argc, char** argv) {
//     return exercise_check::run(argc, argv, "softmax", [] {
//       ... build inputs, call the learner's function, work out the answer ...
//       exercise_check::expect_close(test_case, output, got);  // throws on the first wrong value
//     });
//   }
//
// and prints, e.g.
//
//   FAIL softmax: first wrong value at index [0, 0] (flat 0): expected 0.0320586, got 0.25
//     case:   1 of 3, small scores: x [2, 5] uniform in [-3, 3)
//     output: out [2, 5], tolerance 1e-05 + 0.0001 * |expected|
//     mistake: softmax over the wrong axis (columns instead of rows)
//     hint:   each row must sum to 1, ...
//
// The "mistake:" line appears when the learner's values match a known wrong answer; the tests
// (tests/exercises/) feed each checker such wrong answers (mistakes/) and expect that line.
// Anything else that goes wrong (the learner's code throws, a checker is misused) prints one line
// "error: ..." and exits 1 (2 for a usage error), never a signal or std::terminate.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace exercise_check {

using Shape = std::vector<std::int64_t>;

// A typical wrong answer: its name (the diagnosis, printed as "mistake: <name>"), the hint to
// give, and the values it computes (worked out by the checker from the same inputs).
struct Mistake {
  std::string name;
  std::string hint;
  std::vector<double> values;
};

// One output of the learner's function next to the library's answer.
struct Output {
  std::string name;              // printed in the message: "out", "dx", "finished"
  Shape shape;                   // the output's shape, for the [i, j] index of a wrong value
  std::vector<double> expected;  // the library's values, row-major
  std::string hint;              // for wrong values that match no known mistake
  // Typical wrong answers, checked in order: the first one that matches gives the hint.
  std::vector<Mistake> mistakes = {};
  double rtol = 1e-4, atol = 1e-5;  // |got - expected| <= atol + rtol * |expected|
};

// The test case being checked: its number, how many there are, and what it feeds.
struct Case {
  int number = 1, count = 1;
  std::string description;
};

// Returns when every value of `got` is within tolerance of `output.expected` (nan matches
// only nan, an infinity only itself); otherwise throws, and run() prints the first wrong value.
void expect_close(const Case& test_case, const Output& output, const std::vector<double>& got);
void expect_close(const Case& test_case, const Output& output, const std::vector<float>& got);
void expect_close(const Case& test_case, const Output& output,
                  const std::vector<std::int64_t>& got);
void expect_close(const Case& test_case, const Output& output, const std::vector<bool>& got);

// Runs the checks: prints "PASS <exercise>: N cases, M values checked" and returns 0, or prints
// the first failure and returns 1, or "error: ..." (the learner's code threw) and returns 1. The
// checker takes no arguments but --help: any other is a usage error (exit 2). Use it as main's
// return value.
int run(int argc, char** argv, const std::string& exercise, const std::function<void()>& checks);

// ---- inputs ------------------------------------------------------------------------------------
// The checkers need nothing from the library (only greedy_step, which decodes with a Transformer,
// links it), so a learner's first `make exercise` compiles three small files and no library.
// A seeded random source (splitmix64): the same numbers every run, on every machine.
class Generator {
 public:
  explicit Generator(std::uint64_t seed) : state_(seed) {}
  double uniform();  // in [0, 1)
  double normal();   // standard normal (Box-Muller)

 private:
  std::uint64_t state_;
};
// Values of `shape` uniform in [low, high) / normal(mean, std), drawn from `gen`, row-major.
std::vector<float> uniform_values(const Shape& shape, double low, double high, Generator& gen);
std::vector<float> normal_values(const Shape& shape, double mean, double std, Generator& gen);
std::string shape_text(const Shape& shape);  // "[2, 3, 4]"

// ---- plain-loop references in float64, for checkers that work their answer out themselves ----
// Softmax of each row of x [rows, cols]; -inf entries get 0; a row of only -inf gives zeros (this
// library's convention for a fully masked query).
std::vector<double> softmax_rows(std::vector<double> x, int rows, int cols);
// One sequence's attention: out [Tq, Dv] = softmax(scale * q k^T, blocked(i, j) -> -inf) v, with
// q [Tq, D], k [Tk, D], v [Tk, Dv] row-major; a query whose every key is blocked gets out 0.
// `blocked` may be empty (nothing blocked).
std::vector<double> attention_rows(const std::vector<double>& q, const std::vector<double>& k,
                                   const std::vector<double>& v, int Tq, int Tk, int D, int Dv,
                                   double scale,
                                   const std::function<bool(int i, int j)>& blocked = {});
std::vector<double> as_doubles(const std::vector<float>& values);
// x [rows, cols] -> x^T [cols, rows]
std::vector<double> transposed(const std::vector<double>& x, int rows, int cols);

}  // namespace exercise_check
