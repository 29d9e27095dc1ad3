// The fused Linear layer (autograd::fused_linear: forward one GEMM that adds the bias as it stores,
// backward one GEMM for dx and one for dW that sums the bias gradient while it packs g^T) and
// the GEMM epilogue under it (tensor/cpu/gemm.cpp), against independent computations:
//   - gemm + bias is bit for bit gemm followed by a separate add (a skipped bias, or one added
//     before the last K slice, changes bits); the row sums of A agree with a float64 loop to
//     one rounding (a row summed twice, or a slice missed, is off by a whole term);
//   - autograd::fused_linear against the composed matmul(x, W^T) + b: forward and dx bit for bit,
//     dW and db against float64 loops; odd sizes across the tile and block edges (MR 12, NR 32,
//     kc 256, mc 192 on avx512), 3-d and strided x, no bias, frozen inputs, one node;
//   - a float64 gradcheck, the same bits on 1 and 2 threads, and cuda-sim's composed path.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "nn/nn.hpp"
#include "tensor/cpu/gemm.hpp"
#include "tensor/nn_ops.hpp"
#include "tests/helpers.hpp"

using namespace nn;
using testing::check_gradients;
using testing::op_nodes;
using testing::values;

namespace {

double epsilon(DType dtype) {
  return dtype == DType::Float32 ? std::numeric_limits<float>::epsilon()
                                 : std::numeric_limits<double>::epsilon();
}

// Sets OpenMP's thread count (which the thread pool reads) for one scope.
struct ThreadCount {
  int saved = omp_get_max_threads();
  explicit ThreadCount(int threads) { omp_set_num_threads(threads); }
  ~ThreadCount() { omp_set_num_threads(saved); }
};

// A random [rows, cols] matrix in [-1, 1): row-major, or (transposed) a column-major view of a
// [cols, rows] array, which gemm packs the other way.
Array random_matrix(std::int64_t rows, std::int64_t cols, bool transposed, DType dtype,
                    Generator& gen) {
  if (!transposed) return tensor::uniform({rows, cols}, -1, 1, gen, dtype);
  return tensor::uniform({cols, rows}, -1, 1, gen, dtype).transpose(0, 1);
}

// A random vector of n values read with stride 3 (every third value of a [n, 3] array).
Array strided_vector(std::int64_t n, DType dtype, Generator& gen) {
  return tensor::uniform({n, 3}, -1, 1, gen, dtype).select(1, 0);
}

// CHECKs that row sums `got` [M] are sum_k a[m, k] to within one rounding to got's dtype (plus
// the float64 loop's own error): the epilogue sums in double and rounds once.
void check_row_sums(const Array& a, const Array& got) {
  const std::vector<double> av = values(a), g = values(got);
  const std::int64_t M = a.size(0), K = a.size(1);
  REQUIRE(std::int64_t(g.size()) == M);
  const double eps64 = std::numeric_limits<double>::epsilon();
  for (std::int64_t m = 0; m < M; ++m) {
    double exact = 0, abs_sum = 0;
    for (std::int64_t k = 0; k < K; ++k)
      exact += av[m * K + k], abs_sum += std::fabs(av[m * K + k]);
    const double tolerance = epsilon(got.dtype()) * std::fabs(exact) + 2 * K * eps64 * abs_sum;
    if (!(std::fabs(g[m] - exact) <= tolerance)) {
      INFO("row " << m << " of " << M << " (K = " << K << "): got " << g[m] << ", exact " << exact
                  << ", tolerance " << tolerance);
      CHECK(false);
      return;
    }
  }
}

struct GemmCase {
  std::int64_t M, N, K;
};

// M, N, K of 1, 13, 127, 300, 1000 and on either side of the tile and block edges (avx512:
// MR 12, NR 32, kc 256, mc 192; avx2 MR 6; more than one K slice above 256, more than one row
// block above 192), each size in each role somewhere.
const std::vector<GemmCase> kGemmCases = {
    {1, 1, 1},       {13, 13, 13},    {1, 300, 127},    {127, 1, 300},   {300, 127, 1},
    {13, 1000, 300}, {1000, 13, 127}, {127, 300, 1000}, {300, 1000, 13}, {12, 32, 256},
    {24, 64, 512},   {193, 33, 257},  {11, 31, 255},    {191, 65, 513},  {385, 97, 769},
};

}  // namespace

TEST_CASE("gemm's bias epilogue is bit for bit gemm then a separate add") {
  Generator gen(11);
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const GemmCase& c : kGemmCases)
      for (bool transposed_a : {false, true}) {
        INFO(tensor::dtype_name(dtype) << " M " << c.M << " N " << c.N << " K " << c.K
                                       << (transposed_a ? " a transposed" : ""));
        const Array a = random_matrix(c.M, c.K, transposed_a, dtype, gen);
        const Array b = random_matrix(c.K, c.N, !transposed_a, dtype, gen);
        const Array bias = strided_vector(c.N, dtype, gen);
        Array product({c.M, c.N}, dtype), fused({c.M, c.N}, dtype);
        tensor::cpu::gemm(a, b, product);
        tensor::cpu::gemm(a, b, fused, {.bias = bias, .a_row_sums = Array()});
        // The separate add, in the dtype (as the composed path's add kernel does it).
        const Array expected = tensor::add(product, bias);
        const std::vector<double> got = values(fused), want = values(expected);
        REQUIRE(got.size() == want.size());
        std::size_t mismatches = 0;
        for (std::size_t i = 0; i < got.size(); ++i) mismatches += got[i] != want[i];
        CHECK(mismatches == 0);
      }
}

TEST_CASE("gemm's row sums of A agree with a float64 loop, across K slices and column blocks") {
  Generator gen(12);
  std::vector<GemmCase> cases = kGemmCases;
  // N above nc (4096): two column blocks, each packing all of A; only the first may sum it.
  cases.push_back({13, 4100, 300});
  for (int threads : {1, 2}) {
    ThreadCount scope(threads);
    for (DType dtype : {DType::Float32, DType::Float64})
      for (const GemmCase& c : cases)
        for (bool transposed_a : {true, false}) {
          INFO(threads << " threads, " << tensor::dtype_name(dtype) << " M " << c.M << " N " << c.N
                       << " K " << c.K << (transposed_a ? " a transposed" : ""));
          // Row sums of A that are far from 0: a rounding error is then small next to one
          // term, so a missed or doubled slice or row cannot hide.
          const Array a = tensor::add(random_matrix(c.M, c.K, transposed_a, dtype, gen),
                                      tensor::full({}, 1.5, dtype));
          const Array b = random_matrix(c.K, c.N, false, dtype, gen);
          Array plain({c.M, c.N}, dtype), fused({c.M, c.N}, dtype);
          Array sums = tensor::full({c.M, 2}, 99.0, dtype).select(1, 1);  // strided, garbage in
          tensor::cpu::gemm(a, b, plain);
          tensor::cpu::gemm(a, b, fused, {.bias = Array(), .a_row_sums = sums});
          check_row_sums(a, sums);
          // The sums ride along: the product itself is untouched, bit for bit.
          CHECK(values(fused) == values(plain));
        }
  }
}

TEST_CASE("gemm's epilogue gives the same bits on 1 and on 2 threads") {
  Generator gen(13);
  // Row stripes (many rows), column stripes (few rows, many columns), several K slices; B
  // row-major (each thread packs it) and transposed (on 2 threads packed once, the threads
  // sharing out its panels), also in two column blocks (N > nc = 4096).
  for (const GemmCase& c :
       {GemmCase{300, 129, 700}, GemmCase{13, 1000, 600}, GemmCase{300, 4100, 600}})
    for (bool transposed_b : {false, true}) {
      INFO("M " << c.M << " N " << c.N << " K " << c.K << (transposed_b ? " b transposed" : ""));
      const Array a = random_matrix(c.M, c.K, true, DType::Float32, gen);
      const Array b = random_matrix(c.K, c.N, transposed_b, DType::Float32, gen);
      const Array bias = tensor::uniform({c.N}, -1, 1, gen);
      std::vector<double> out[2], sums[2];
      for (int threads : {1, 2}) {
        ThreadCount scope(threads);
        Array result({c.M, c.N}, DType::Float32), row_sums({c.M}, DType::Float32);
        tensor::cpu::gemm(a, b, result, {.bias = bias, .a_row_sums = row_sums});
        out[threads - 1] = values(result);
        sums[threads - 1] = values(row_sums);
      }
      CHECK(out[0] == out[1]);
      CHECK(sums[0] == sums[1]);
    }
}

TEST_CASE("gemm's epilogue: K = 0 gives the bias and zero sums; a bad bias is named") {
  const Array a({5, 0}), b({0, 40});
  const Array bias = tensor::arange(0, 40, 1, DType::Float32);
  Array out({5, 40}), sums = tensor::full({5}, 7.0);
  tensor::cpu::gemm(a, b, out, {.bias = bias, .a_row_sums = sums});
  const std::vector<double> got = values(out);
  for (std::int64_t i = 0; i < 5; ++i)
    for (std::int64_t j = 0; j < 40; ++j) CHECK(got[i * 40 + j] == double(j));
  CHECK(values(sums) == std::vector<double>(5, 0.0));
  const std::string message = testing::error_message([&] {
    tensor::cpu::gemm(Array({5, 3}), Array({3, 40}), out,
                      {.bias = tensor::zeros({39}), .a_row_sums = Array()});
  });
  CHECK(message.find("bias") != std::string::npos);
  CHECK(message.find("[39]") != std::string::npos);
}

// ---- autograd::fused_linear against the composed path ----------------------------------------

namespace {

struct LinearCase {
  Shape x_shape;         // [..., in]
  std::int64_t out = 1;  // out features
  bool bias = true;
  bool strided_x = false;  // x a view with its last two dims transposed (or a 1-d slice)
  bool x_grad = true, weight_grad = true, bias_grad = true;
  DType dtype = DType::Float32;
  std::string name() const {
    return "x " + tensor::shape_str(x_shape) + " out " + std::to_string(out) +
           (bias ? "" : " no bias") + (strided_x ? " strided" : "") + (x_grad ? "" : " x frozen") +
           (weight_grad ? "" : " W frozen") + (bias_grad ? "" : " b frozen") + " " +
           tensor::dtype_name(dtype);
  }
};

struct LinearRun {
  std::vector<double> out, dx, dweight, dbias;
  std::vector<std::string> ops;     // the op of every node of y's graph
  std::vector<double> x, upstream;  // the inputs, for the float64 references
};

// The case's x from a leaf: the leaf itself, or a strided view of it (last two dims swapped;
// for a 1-d x every other element).
Tensor as_x(const LinearCase& c, const Tensor& leaf) {
  if (!c.strided_x) return leaf;
  if (c.x_shape.size() >= 2) return leaf.transpose(-1, -2);
  return leaf.slice(0, 0, leaf.size(0), 2);
}

// y = x W^T + b, fused (autograd::fused_linear) or composed (matmul then add), then the gradients
// of sum(y * upstream), so that dL/dy = upstream.
LinearRun run_linear(const LinearCase& c, bool fused, std::uint64_t seed) {
  Generator gen(seed);
  const std::int64_t in = c.x_shape.back();
  Shape leaf_shape = c.x_shape;
  if (c.strided_x && leaf_shape.size() >= 2)
    std::swap(leaf_shape[leaf_shape.size() - 1], leaf_shape[leaf_shape.size() - 2]);
  if (c.strided_x && leaf_shape.size() == 1) leaf_shape[0] *= 2;
  Tensor x_leaf(tensor::uniform(leaf_shape, -1, 1, gen, c.dtype), c.x_grad);
  Tensor weight(tensor::uniform({c.out, in}, -1, 1, gen, c.dtype), c.weight_grad);
  Tensor bias =
      c.bias ? Tensor(tensor::uniform({c.out}, -1, 1, gen, c.dtype), c.bias_grad) : Tensor();
  const Tensor x = as_x(c, x_leaf);
  Shape out_shape = c.x_shape;
  out_shape.back() = c.out;
  const Tensor upstream(tensor::uniform(out_shape, -1, 1, gen, c.dtype));

  Tensor y;
  if (fused) {
    y = autograd::fused_linear(x, weight, bias);
  } else {
    y = autograd::matmul(x, weight.transpose(0, 1));
    if (c.bias) y = autograd::add(y, bias);
  }
  LinearRun run;
  run.out = values(y);
  run.x = values(x), run.upstream = values(upstream);
  for (const autograd::Node* node : op_nodes(y)) run.ops.push_back(node->op);
  if (y.requires_grad()) {
    autograd::sum(y * upstream).backward();
    if (c.x_grad) run.dx = values(as_x(c, x_leaf.grad()));
    if (c.weight_grad) run.dweight = values(weight.grad());
    if (c.bias && c.bias_grad) run.dbias = values(bias.grad());
  }
  return run;
}

// CHECKs dW = upstream^T x and db = the column sums of upstream (both [out, ...], over the M
// rows) against float64 loops. dW: within the GEMM's rounding bound of test_gemm.cpp,
// 2 sqrt(M) eps sum_m |g x|. db: within one rounding when the dW GEMM summed it (in double),
// else within the bound of any summation order, (M - 1) eps sum_m |g|.
void check_weight_and_bias_grads(const LinearCase& c, const LinearRun& run) {
  const std::int64_t in = c.x_shape.back(), N = c.out;
  const std::int64_t M = std::int64_t(run.x.size()) / in;
  const double eps = epsilon(c.dtype), eps64 = std::numeric_limits<double>::epsilon();
  if (!run.dweight.empty()) {
    REQUIRE(std::int64_t(run.dweight.size()) == N * in);
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t k = 0; k < in; ++k) {
        double exact = 0, abs_sum = 0;
        for (std::int64_t m = 0; m < M; ++m) {
          const double product = run.upstream[m * N + n] * run.x[m * in + k];
          exact += product, abs_sum += std::fabs(product);
        }
        const double tolerance = 2 * std::sqrt(double(M)) * eps * abs_sum;
        if (!(std::fabs(run.dweight[n * in + k] - exact) <= tolerance)) {
          INFO("dW[" << n << ", " << k << "]: got " << run.dweight[n * in + k] << ", exact "
                     << exact << ", tolerance " << tolerance);
          CHECK(false);
          return;
        }
      }
  }
  if (!run.dbias.empty()) {
    REQUIRE(std::int64_t(run.dbias.size()) == N);
    for (std::int64_t n = 0; n < N; ++n) {
      double exact = 0, abs_sum = 0;
      for (std::int64_t m = 0; m < M; ++m)
        exact += run.upstream[m * N + n], abs_sum += std::fabs(run.upstream[m * N + n]);
      const double tolerance = c.weight_grad
                                   ? eps * std::fabs(exact) + 2 * M * eps64 * abs_sum
                                   : double(std::max<std::int64_t>(M - 1, 1)) * eps * abs_sum;
      if (!(std::fabs(run.dbias[n] - exact) <= tolerance)) {
        INFO("db[" << n << "]: got " << run.dbias[n] << ", exact " << exact << ", tolerance "
                   << tolerance);
        CHECK(false);
        return;
      }
    }
  }
}

std::vector<LinearCase> linear_cases() {
  std::vector<LinearCase> cases;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    // Sizes of 1, 13, 127, 300, 1000 in each role (rows, in, out), tiny ones that take the
    // plain loop (gemm_pays_off) and ones that cross the tile and block edges.
    cases.push_back({.x_shape = {1, 1}, .out = 1, .dtype = dtype});
    cases.push_back({.x_shape = {13, 13}, .out = 13, .dtype = dtype});
    cases.push_back({.x_shape = {127, 300}, .out = 1, .dtype = dtype});
    cases.push_back({.x_shape = {300, 1}, .out = 127, .dtype = dtype});
    cases.push_back({.x_shape = {1000, 127}, .out = 13, .dtype = dtype});
    cases.push_back({.x_shape = {13, 1000}, .out = 300, .dtype = dtype});
    cases.push_back({.x_shape = {1000, 300}, .out = 127, .dtype = dtype});
    cases.push_back({.x_shape = {193, 257}, .out = 33, .dtype = dtype});
    cases.push_back({.x_shape = {1, 300}, .out = 1000, .dtype = dtype});
    // 3-d x (batch dims folded into rows) and the shape of a gpt-small layer, smaller batch.
    cases.push_back({.x_shape = {2, 150, 300}, .out = 127, .dtype = dtype});
    cases.push_back({.x_shape = {4, 64, 128}, .out = 512, .dtype = dtype});
    // 1-d x: one row.
    cases.push_back({.x_shape = {300}, .out = 127, .dtype = dtype});
    // Strided x: a transposed view (2-d and 3-d), every other element of a 1-d one.
    cases.push_back({.x_shape = {193, 257}, .out = 33, .strided_x = true, .dtype = dtype});
    cases.push_back({.x_shape = {3, 5, 257}, .out = 300, .strided_x = true, .dtype = dtype});
    cases.push_back({.x_shape = {300}, .out = 127, .strided_x = true, .dtype = dtype});
    // No bias; and each input frozen in turn (no gradient computed for it), down to the bias
    // alone needing one.
    cases.push_back({.x_shape = {127, 300}, .out = 64, .bias = false, .dtype = dtype});
    cases.push_back({.x_shape = {127, 300}, .out = 64, .x_grad = false, .dtype = dtype});
    cases.push_back({.x_shape = {127, 300}, .out = 64, .weight_grad = false, .dtype = dtype});
    cases.push_back({.x_shape = {127, 300}, .out = 64, .bias_grad = false, .dtype = dtype});
    cases.push_back(
        {.x_shape = {127, 300}, .out = 64, .x_grad = false, .weight_grad = false, .dtype = dtype});
    cases.push_back({.x_shape = {127, 300},
                     .out = 64,
                     .x_grad = false,
                     .weight_grad = false,
                     .bias_grad = false,
                     .dtype = dtype});
  }
  return cases;
}

int count(const std::vector<std::string>& ops, const std::string& op) {
  return int(std::count(ops.begin(), ops.end(), op));
}

}  // namespace

TEST_CASE("autograd::fused_linear = matmul then add: forward and dx bit for bit, dW and db exact") {
  for (const LinearCase& c : linear_cases()) {
    INFO(c.name());
    const LinearRun fused = run_linear(c, true, 21), composed = run_linear(c, false, 21);
    // The fused path really ran: one linear node, no matmul or add (a graph only exists when
    // something needs a gradient).
    const bool any_grad = c.x_grad || c.weight_grad || (c.bias && c.bias_grad);
    CHECK(count(fused.ops, "fused_linear") == (any_grad ? 1 : 0));
    CHECK(count(fused.ops, "matmul") == 0);
    CHECK(count(fused.ops, "add") == 0);
    CHECK(count(composed.ops, "fused_linear") == 0);

    CHECK(fused.out == composed.out);
    CHECK(fused.dx == composed.dx);
    CHECK(fused.dx.empty() == !c.x_grad);
    CHECK(fused.dweight.empty() == !c.weight_grad);
    CHECK(fused.dbias.empty() == !(c.bias && c.bias_grad));
    check_weight_and_bias_grads(c, fused);
    check_weight_and_bias_grads(c, composed);  // the reference checks hold for the reference
  }
}

TEST_CASE("autograd::fused_linear gives the same bits on 1 and on 2 threads") {
  // Row stripes (many rows) and column stripes (13 rows, many columns) in the forward and dx
  // GEMMs; several K slices in the dW GEMM (K = rows = 600).
  for (const LinearCase& c :
       {LinearCase{.x_shape = {600, 257}, .out = 129},
        LinearCase{.x_shape = {13, 600}, .out = 1000},
        LinearCase{.x_shape = {2, 300, 129}, .out = 300, .dtype = DType::Float64}}) {
    INFO(c.name());
    LinearRun runs[2];
    for (int threads : {1, 2}) {
      ThreadCount scope(threads);
      runs[threads - 1] = run_linear(c, true, 31);
    }
    CHECK(runs[0].out == runs[1].out);
    CHECK(runs[0].dx == runs[1].dx);
    CHECK(runs[0].dweight == runs[1].dweight);
    CHECK(runs[0].dbias == runs[1].dbias);
  }
}

TEST_CASE("autograd::fused_linear passes a float64 gradcheck, fused and on the plain-loop sizes") {
  Generator gen(41);
  auto linear_with_bias = [](const std::vector<Tensor>& in) {
    return autograd::fused_linear(in[0], in[1], in[2]);
  };
  auto linear_without_bias = [](const std::vector<Tensor>& in) {
    return autograd::fused_linear(in[0], in[1], Tensor());
  };
  // x [3, 5, 17] is 15 rows: 15 x 19 x 17 is big enough for the packed GEMM.
  check_gradients(linear_with_bias,
                  {testing::random_leaf({3, 5, 17}, gen), testing::random_leaf({19, 17}, gen),
                   testing::random_leaf({19}, gen)});
  check_gradients(linear_without_bias,
                  {testing::random_leaf({15, 17}, gen), testing::random_leaf({19, 17}, gen)});
  // Strided x: a transposed view.
  auto linear_transposed_x = [](const std::vector<Tensor>& in) {
    return autograd::fused_linear(in[0].transpose(0, 1), in[1], in[2]);
  };
  check_gradients(linear_transposed_x,
                  {testing::random_leaf({17, 15}, gen), testing::random_leaf({19, 17}, gen),
                   testing::random_leaf({19}, gen)});
  // Tiny: the plain loop and a plain add.
  check_gradients(linear_with_bias,
                  {testing::random_leaf({2, 3}, gen), testing::random_leaf({4, 3}, gen),
                   testing::random_leaf({4}, gen)});
}

TEST_CASE("nn::Linear runs the fused node; its parameters and output are those of before") {
  Generator gen(51);
  Linear layer(300, 64, true, gen);
  Tensor x(tensor::uniform({2, 7, 300}, -1, 1, gen), true);
  Tensor y = layer.forward(x);
  std::vector<std::string> ops;
  for (const autograd::Node* node : op_nodes(y)) ops.push_back(node->op);
  CHECK(count(ops, "fused_linear") == 1);
  CHECK(count(ops, "add") == 0);
  Tensor composed = autograd::add(autograd::matmul(x, layer.weight.transpose(0, 1)), layer.bias);
  CHECK(values(y) == values(composed));
  std::vector<std::string> names;
  for (const auto& [name, parameter] : layer.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"weight", "bias"});
}

TEST_CASE("autograd::fused_linear on cuda-sim takes the composed path, with the cpu's results") {
  const Device sim = Device::parse("cuda-sim");
  Generator gen(61);
  const Array x_host = tensor::uniform({2, 20, 33}, -1, 1, gen);
  const Array weight_host = tensor::uniform({40, 33}, -1, 1, gen);
  const Array bias_host = tensor::uniform({40}, -1, 1, gen);
  const Array upstream = tensor::uniform({2, 20, 40}, -1, 1, gen);
  struct Result {
    std::vector<double> y, dx, dweight, dbias;
    std::vector<std::string> ops;
  };
  auto run = [&](Device device) {
    Tensor x(x_host.to(device), true), weight(weight_host.to(device), true);
    Tensor bias(bias_host.to(device), true);
    Tensor y = autograd::fused_linear(x, weight, bias);
    Result result;
    for (const autograd::Node* node : op_nodes(y)) result.ops.push_back(node->op);
    autograd::sum(y * Tensor(upstream.to(device))).backward();
    result.y = values(y.to(tensor::kCPU));
    result.dx = values(x.grad().to(tensor::kCPU));
    result.dweight = values(weight.grad().to(tensor::kCPU));
    result.dbias = values(bias.grad().to(tensor::kCPU));
    return result;
  };
  const Result cpu = run(tensor::kCPU), on_sim = run(sim);
  CHECK(count(cpu.ops, "fused_linear") == 1);
  CHECK(count(on_sim.ops, "fused_linear") == 0);
  CHECK(count(on_sim.ops, "matmul") == 1);
  CHECK(count(on_sim.ops, "add") == 1);
  // float32 sums of up to 40 products in another order.
  testing::check_close(on_sim.y, cpu.y, 1e-5, 1e-5);
  testing::check_close(on_sim.dx, cpu.dx, 1e-5, 1e-5);
  testing::check_close(on_sim.dweight, cpu.dweight, 1e-5, 1e-5);
  testing::check_close(on_sim.dbias, cpu.dbias, 1e-5, 1e-5);
}
