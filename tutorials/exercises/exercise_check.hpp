// exercise_check.hpp — what every exercise checker shares: random inputs, the library's answer
// as plain values, and the comparison that prints PASS or the first wrong value with its index,
// the expected and the computed value, and a hint.
//
// A checker (tutorials/exercises/checkers/<name>.cpp) is a main() that calls
//
//   return exercise_check::run("softmax", [] {
//     ... build inputs, call the learner's function and the library ...
//     exercise_check::expect_close(test_case, output, got);   // throws on the first wrong value
//   });
//
// and prints, e.g.
//
//   FAIL softmax: first wrong value at index [0, 0] (flat 0): expected 0.00385543, got -nan
//     case:   2 of 3, scores around +1000 (row 0) and -1000 (row 1), row 2 small: x [3, 4]
//     output: out [3, 4], tolerance 1e-05 + 0.0001 * |expected|
//     hint:   did you subtract the row max? ...
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/array.hpp"
#include "tensor/random.hpp"

namespace exercise_check {

using Shape = std::vector<std::int64_t>;

// A typical wrong answer: the values it computes, and the hint to give when the learner's
// values match them.
struct Mistake {
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
// the first failure (or the exception the learner's code threw) and returns 1. Use it as main's
// return value.
int run(const std::string& exercise, const std::function<void()>& checks);

// ---- inputs and the library's answers as plain values ----------------------------------------
// Values of `shape` uniform in [low, high) / normal(mean, std), drawn from `gen` (seeded: the
// same every run).
std::vector<float> uniform_values(const Shape& shape, double low, double high,
                                  tensor::Generator& gen);
std::vector<float> normal_values(const Shape& shape, double mean, double std,
                                 tensor::Generator& gen);
// A float32 input as a float64 array, so the library's answer carries no rounding of its own.
tensor::Array as_array(const std::vector<float>& values, const Shape& shape);
// Every element as double, row-major.
std::vector<double> values_of(const tensor::Array& array);
std::string shape_text(const Shape& shape);  // "[2, 3, 4]"

}  // namespace exercise_check
