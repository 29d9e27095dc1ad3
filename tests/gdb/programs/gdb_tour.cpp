// gdb_tour.cpp — the program that tests/gdb/test_gdb_session.cpp runs under gdb (with
// tests/gdb/session.gdb): tensors of several shapes, dtypes, views and devices for the
// pretty-printers, then a tiny attention trained for three backward passes for
// `attn-break-backward`. Every tensor is first printed by the library itself, so the test can
// hold what gdb shows against what the program prints.
//
// Build and run it under gdb (from the repository root):
//   make BUILD=debug build/debug/tests/gdb/gdb_tour
//   gdb -nx -batch -x tests/gdb/session.gdb build/debug/tests/gdb/gdb_tour
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/autograd.hpp"

using namespace autograd;

namespace {

// gdb's session breaks here, then goes `up` to main to print its tensors.
[[gnu::noinline]] void stop_here() { asm volatile(""); }

void show(const char* label, const Tensor& t) {
  std::printf("%s = %s\n", label, t.to_string().c_str());
}

// Rows of numbers that are exact in binary (halves and quarters), so that a plain loop and the
// engine's matmul give bit-identical gradients.
Tensor quarters(std::int64_t rows, std::int64_t cols, double start, const char* name) {
  std::vector<double> values;
  for (std::int64_t i = 0; i < rows * cols; ++i) values.push_back(start + 0.25 * ((i * 7) % 11) - 1.0);
  return from_vector(values, {rows, cols}).set_name(name);
}

}  // namespace

int main() {
  // ---- tensors for the printers ---------------------------------------------------------------
  Tensor square = (arange(0.0, 9.0, 1.0, DType::Float32) * 1.5 - 2.25).reshape({3, 3});  // [3, 3]
  Tensor cube = (arange(0.0, 24.0, 1.0, DType::Float64) * 0.125).reshape({2, 3, 4});    // [2, 3, 4]
  Tensor transposed = square.transpose(0, 1);               // [3, 3], strides [1, 3]
  Tensor sliced = cube.slice(2, 1, 4, 2).select(0, 1);      // [3, 2], offset 13, strides [4, 2]
  Tensor big = (arange(0.0, 10000.0, 1.0, DType::Float32) * 0.01 + 1.0).reshape({100, 100});  // [100, 100]
  Tensor ids = arange(10).reshape({2, 5}) * 100 - 300;      // [2, 5] int64
  Tensor mask = gt(arange(3).reshape({1, 3}), arange(3).reshape({3, 1}));  // [3, 3] bool, causal
  Tensor tiny = from_vector(std::vector<double>{1e-6, 0.5, 300.0, -2.0});  // scientific
  Tensor weird = from_vector(std::vector<float>{0.0f / 0.0f, 1.0f / 0.0f, -0.5f});
  Tensor sim = square.to(Device::parse("cuda-sim"));        // simulator memory: host memory
  Tensor weight = quarters(2, 3, 0.0, "weight").requires_grad_();
  Tensor zero_d = scalar(-0.125, DType::Float64);           // [] : one number, no brackets
  Tensor empty = zeros({2, 0});                              // [2, 0]: no numbers at all

  show("square", square);
  show("cube", cube);
  show("transposed", transposed);
  show("sliced", sliced);
  show("big", big);
  show("ids", ids);
  show("mask", mask);
  show("tiny", tiny);
  show("weird", weird);
  show("sim", sim);
  show("weight", weight);
  show("zero_d", zero_d);
  show("empty", empty);
  stop_here();

  // ---- a tiny attention and three backward passes ---------------------------------------------
  // Legend: T tokens (3), D head dim (4). float64, exact inputs.
  Tensor q = quarters(3, 4, 0.5, "q").requires_grad_();   // [T, D]
  Tensor k = quarters(3, 4, -0.25, "k").requires_grad_(); // [T, D]
  Tensor v = quarters(3, 4, 0.75, "v").requires_grad_();  // [T, D]
  for (int step = 1; step <= 3; ++step) {
    Tensor scores = (matmul(q, k.transpose(0, 1)) * 0.5).set_name("scores");  // [T, T]
    Tensor weights = softmax(scores, -1).set_name("weights");                   // [T, T]
    Tensor out = matmul(weights, v).set_name("out");                            // [T, D]
    Tensor upstream = quarters(3, 4, 0.25 * step, "upstream");                  // dL/dout [T, D]
    Tensor loss = sum(out * upstream).set_name("loss");                         // []
    // What softmax's backward receives, dL/dweights = upstream v^T, by a plain loop.
    std::vector<double> g = upstream.to_vector<double>(), vv = v.to_vector<double>();
    std::vector<double> expected(9, 0.0);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        for (int d = 0; d < 4; ++d) expected[i * 3 + j] += g[i * 4 + d] * vv[j * 4 + d];
    std::printf("step %d: softmax's incoming gradient should be %s\n", step,
                from_vector(expected, {3, 3}).to_string().c_str());
    loss.backward();
  }
  std::printf("gdb_tour: done\n");
  return 0;
}
