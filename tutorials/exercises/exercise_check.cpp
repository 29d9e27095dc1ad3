// exercise_check.cpp — the comparison and the PASS / FAIL lines of the exercise checkers.
#include "tutorials/exercises/exercise_check.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <numbers>
#include <sstream>

namespace exercise_check {

namespace {

// Thrown by expect_close with the text that follows "FAIL <exercise>: ".
struct Failure {
  std::string text;
};

int values_checked = 0;  // over every expect_close that passed, for the PASS line
int cases_seen = 0;      // the largest case number checked

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

bool close(double got, double expected, double rtol, double atol) {
  if (std::isnan(expected) || std::isnan(got)) return std::isnan(expected) && std::isnan(got);
  if (std::isinf(expected) || std::isinf(got)) return got == expected;
  return std::fabs(got - expected) <= atol + rtol * std::fabs(expected);
}

// Index of the first value of `got` not within tolerance of `expected` (-1 when all are).
std::int64_t first_mismatch(const std::vector<double>& got, const std::vector<double>& expected,
                            double rtol, double atol) {
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!close(got[i], expected[i], rtol, atol)) return static_cast<std::int64_t>(i);
  return -1;
}

// Row-major multi-index of flat position `flat`: "[1, 2]".
std::string index_text(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_text(index);
}

// Indents the continuation lines of a multi-line text to sit under its first line.
std::string indented(std::string text);

// The diagnosis of a wrong answer: the stub's zeros, then a known mistake ("mistake:" and its
// hint), then the general hint.
std::string diagnosis(const Output& output, const std::vector<double>& got) {
  bool all_zero = true, expected_all_zero = true;
  for (double v : got) all_zero = all_zero && v == 0.0;
  for (double v : output.expected) expected_all_zero = expected_all_zero && v == 0.0;
  if (all_zero && !expected_all_zero)
    return "  hint:   " +
           indented("every value of " + output.name +
                    " is 0, as the stub's placeholder returns: fill in the TODO.\n" + output.hint);
  for (const Mistake& mistake : output.mistakes)
    if (mistake.values.size() == got.size() &&
        first_mismatch(got, mistake.values, output.rtol, output.atol) < 0)
      return "  mistake: " + mistake.name + "\n  hint:   " + indented(mistake.hint);
  return "  hint:   " + indented(output.hint);
}

std::string indented(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::string result;
  for (char c : text) result += c == '\n' ? std::string("\n          ") : std::string(1, c);
  return result;
}

}  // namespace

std::string shape_text(const Shape& shape) {
  std::string text = "[";
  for (std::size_t d = 0; d < shape.size(); ++d) text += (d ? ", " : "") + std::to_string(shape[d]);
  return text + "]";
}

void expect_close(const Case& test_case, const Output& output, const std::vector<double>& got) {
  cases_seen = std::max(cases_seen, test_case.number);
  std::string where = "  case:   " + std::to_string(test_case.number) + " of " +
                      std::to_string(test_case.count) + ", " + test_case.description + "\n";
  if (got.size() != output.expected.size())
    throw Failure{
        output.name + " has " + std::to_string(got.size()) + " values, expected " +
        std::to_string(output.expected.size()) + " (shape " + shape_text(output.shape) + ")\n" +
        where + "  hint:   " + indented("size the result from the shapes in the task statement.")};
  std::int64_t i = first_mismatch(got, output.expected, output.rtol, output.atol);
  if (i < 0) {
    values_checked += static_cast<int>(got.size());
    return;
  }
  std::string tolerance = output.rtol == 0 && output.atol == 0
                              ? "exact"
                              : "tolerance " + number_text(output.atol) + " + " +
                                    number_text(output.rtol) + " * |expected|";
  throw Failure{"first wrong value at index " + index_text(i, output.shape) + " (flat " +
                std::to_string(i) + "): expected " + number_text(output.expected[i]) + ", got " +
                number_text(got[i]) + "\n" + where + "  output: " + output.name + " " +
                shape_text(output.shape) + ", " + tolerance + "\n" + diagnosis(output, got)};
}

void expect_close(const Case& test_case, const Output& output, const std::vector<float>& got) {
  expect_close(test_case, output, std::vector<double>(got.begin(), got.end()));
}

void expect_close(const Case& test_case, const Output& output,
                  const std::vector<std::int64_t>& got) {
  expect_close(test_case, output, std::vector<double>(got.begin(), got.end()));
}

void expect_close(const Case& test_case, const Output& output, const std::vector<bool>& got) {
  expect_close(test_case, output, std::vector<double>(got.begin(), got.end()));
}

namespace {

// A crash in the learner's code (an index far out of range, a division by zero) cannot be
// recovered from, but it can be named: one line, then exit 1 instead of dying by the signal.
// Only async-signal-safe calls here (write, _exit). Left out under AddressSanitizer, whose own
// report names the line.
char crash_message[256];
extern "C" void on_crash(int) {
  ssize_t written = ::write(STDOUT_FILENO, crash_message, std::strlen(crash_message));
  (void)written;
  ::_exit(1);
}

void name_crashes(const std::string& exercise) {
  std::snprintf(crash_message, sizeof crash_message,
                "error: %s: your code crashed (an index out of range?); "
                "make exercise NAME=%s SAN=1 names the line\n",
                exercise.c_str(), exercise.c_str());
#if !defined(__SANITIZE_ADDRESS__)
  std::signal(SIGSEGV, on_crash);
  std::signal(SIGBUS, on_crash);
  std::signal(SIGFPE, on_crash);
#endif
}

}  // namespace

int run(int argc, char** argv, const std::string& exercise, const std::function<void()>& checks) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::printf(
          "%s: checks exercise::%s against its own computation, prints PASS or the first wrong\n"
          "value with a hint. Takes no arguments; run it as: make exercise NAME=%s\n",
          argv[0], exercise.c_str(), exercise.c_str());
      return 0;
    }
    std::printf("error: %s: unexpected argument '%s' (the checker takes none but --help)\n",
                exercise.c_str(), argv[i]);
    return 2;
  }
  name_crashes(exercise);
  try {
    checks();
  } catch (const Failure& failure) {
    std::printf("FAIL %s: %s\n", exercise.c_str(), failure.text.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::printf(
        "error: %s: your code threw in case %d: %s (an index out of range with .at(), or "
        "a size that does not follow the task's shapes?)\n",
        exercise.c_str(), cases_seen + 1, e.what());
    return 1;
  } catch (...) {
    std::printf("error: %s: your code threw something that is not a std::exception in case %d\n",
                exercise.c_str(), cases_seen + 1);
    return 1;
  }
  std::printf("PASS %s: %d cases, %d values checked\n", exercise.c_str(), cases_seen,
              values_checked);
  return 0;
}

double Generator::uniform() {
  // splitmix64: a Weyl sequence scrambled by two multiply-xorshift rounds.
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;  // the top 53 bits: a double in [0, 1)
}

double Generator::normal() {
  const double u1 = 1.0 - uniform(), u2 = uniform();  // u1 in (0, 1]: log(u1) is finite
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

namespace {
std::size_t element_count(const Shape& shape) {
  std::size_t count = 1;
  for (std::int64_t size : shape) count *= static_cast<std::size_t>(size);
  return count;
}
}  // namespace

std::vector<float> uniform_values(const Shape& shape, double low, double high, Generator& gen) {
  std::vector<float> values(element_count(shape));
  for (float& value : values) {
    value = static_cast<float>(low + (high - low) * gen.uniform());
    // Rounding to float can land on `high` itself: keep the interval half-open.
    if (value >= high) value = std::nextafter(static_cast<float>(high), static_cast<float>(low));
  }
  return values;
}

std::vector<float> normal_values(const Shape& shape, double mean, double std, Generator& gen) {
  std::vector<float> values(element_count(shape));
  for (float& value : values) value = static_cast<float>(mean + std * gen.normal());
  return values;
}

std::vector<double> as_doubles(const std::vector<float>& values) {
  return std::vector<double>(values.begin(), values.end());
}

std::vector<double> transposed(const std::vector<double>& x, int rows, int cols) {
  std::vector<double> t(x.size());
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) t[c * rows + r] = x[r * cols + c];
  return t;
}

std::vector<double> softmax_rows(std::vector<double> x, int rows, int cols) {
  for (int r = 0; r < rows; ++r) {
    double* row = &x[static_cast<std::size_t>(r) * cols];  // [cols]
    double max = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < cols; ++c) max = std::max(max, row[c]);
    if (std::isinf(max) && max < 0) {  // every entry -inf: a fully masked row is zeros
      std::fill(row, row + cols, 0.0);
      continue;
    }
    double sum = 0.0;
    for (int c = 0; c < cols; ++c) sum += row[c] = std::exp(row[c] - max);
    for (int c = 0; c < cols; ++c) row[c] /= sum;
  }
  return x;
}

std::vector<double> attention_rows(const std::vector<double>& q, const std::vector<double>& k,
                                   const std::vector<double>& v, int Tq, int Tk, int D, int Dv,
                                   double scale, const std::function<bool(int i, int j)>& blocked) {
  const double neg_inf = -std::numeric_limits<double>::infinity();
  std::vector<double> scores(static_cast<std::size_t>(Tq) * Tk);  // [Tq, Tk]
  for (int i = 0; i < Tq; ++i)
    for (int j = 0; j < Tk; ++j) {
      double dot = 0.0;
      for (int d = 0; d < D; ++d) dot += q[i * D + d] * k[j * D + d];
      scores[i * Tk + j] = blocked && blocked(i, j) ? neg_inf : scale * dot;
    }
  std::vector<double> weights = softmax_rows(scores, Tq, Tk);       // [Tq, Tk]
  std::vector<double> out(static_cast<std::size_t>(Tq) * Dv, 0.0);  // [Tq, Dv]
  for (int i = 0; i < Tq; ++i)
    for (int j = 0; j < Tk; ++j)
      for (int e = 0; e < Dv; ++e) out[i * Dv + e] += weights[i * Tk + j] * v[j * Dv + e];
  return out;
}

}  // namespace exercise_check
