// The CUDA kernels against the cpu kernels. Every op of the table below runs through tensor's
// ops on the cpu and on cuda-sim (and on cuda when this build has it and the machine has a GPU),
// on random inputs of sizes that are not multiples of the block sizes (1, 33, 257, 1000), in
// several layouts (packed, transposed, sliced with a step, broadcast), in every dtype the op
// supports, and the results must agree. Then autograd on cuda-sim, the dropout mask bit for bit,
// device memory, and a check that every tensor::Backend virtual was exercised.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cuda/blas_layout.hpp"
#include "cuda/cuda.hpp"
#include "tensor/nn_ops.hpp"
#include "tests/helpers.hpp"

using namespace tensor;
using testing::check_close;
using testing::error_message;
using testing::kSim;
using testing::values;

namespace {

// The devices the kernels are checked on: cuda-sim always; cuda when it is usable here. Says
// once, loudly, why cuda is skipped.
const std::vector<Device>& kernel_devices() {
  static const std::vector<Device> devices = [] {
    std::vector<Device> result{kSim};
    std::string why =
        error_message([] { Array probe({1}, DType::Float32, Device::parse("cuda")); });
    if (why.empty())
      result.push_back(Device::parse("cuda"));
    else
      MESSAGE("cuda kernels on a real GPU not tested here: " << why);
    return result;
  }();
  return devices;
}

// An input of an op: an array made on the cpu, and the view of it the op receives. The view is
// applied after the move to a device, so the device kernels see the same strides as the cpu.
struct Input {
  Array base;
  std::function<Array(const Array&)> view = [](const Array& a) { return a; };
  Array on(Device device) const { return view(base.to(device)); }
};

using MakeValues = std::function<Array(const Shape&)>;

MakeValues uniform_values(Generator& gen, DType dtype, double low = -2, double high = 2) {
  return [&gen, dtype, low, high](const Shape& shape) {
    if (dtype == DType::Int64)
      return randint(std::int64_t(low), std::int64_t(high) + 1, shape, gen);
    if (dtype == DType::Bool) return bernoulli(shape, 0.5, gen);
    return uniform(shape, low, high, gen, dtype);
  };
}

// `shape` in four layouts: packed; a transposed view (of an array with the last two dims
// swapped); every other element of the last dim (stride 2, offset 1); broadcast along dim 0
// (stride 0). Layouts that do not apply to the shape are left out.
std::vector<std::pair<std::string, Input>> layouts(const Shape& shape, const MakeValues& make) {
  std::vector<std::pair<std::string, Input>> result;
  result.push_back({"packed", Input{make(shape)}});
  if (shape.size() >= 2) {
    Shape swapped = shape;
    std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
    result.push_back({"transposed", Input{make(swapped), [](const Array& a) {
                                            return a.transpose(-1, -2);
                                          }}});
  }
  if (!shape.empty()) {
    Shape wide = shape;
    const std::int64_t n = shape.back();
    wide.back() = 2 * n + 1;
    result.push_back({"sliced", Input{make(wide), [n](const Array& a) {
                                        return a.slice(-1, 1, 2 * n + 1, 2);
                                      }}});
  }
  if (!shape.empty() && shape[0] > 1) {
    Shape narrow = shape;
    narrow[0] = 1;
    result.push_back(
        {"broadcast", Input{make(narrow), [shape](const Array& a) { return a.expand(shape); }}});
  }
  return result;
}

struct Tolerance {
  double rtol, atol;
};

Tolerance tolerance_for(DType dtype, double scale = 1) {
  if (dtype == DType::Float32) return {2e-5 * scale, 2e-6 * scale};
  if (dtype == DType::Float64) return {1e-12 * scale, 1e-13 * scale};
  return {0, 0};  // integers and bools: exactly
}

using Op = std::function<std::vector<Array>(const std::vector<Array>&)>;

// Runs `op` on the cpu views of `inputs` and on their copies on every kernel device; each result
// must have the cpu result's shape and dtype, live on the device, and agree within `tolerance`.
void check_op(const Op& op, const std::vector<Input>& inputs, Tolerance tolerance) {
  std::vector<Array> cpu_args;
  for (const Input& input : inputs) cpu_args.push_back(input.on(kCPU));
  const std::vector<Array> expected = op(cpu_args);
  for (Device device : kernel_devices()) {
    CAPTURE(device.str());
    std::vector<Array> args;
    for (const Input& input : inputs) args.push_back(input.on(device));
    const std::vector<Array> got = op(args);
    REQUIRE(got.size() == expected.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      CAPTURE(k);
      CHECK(got[k].device() == device);
      CHECK(got[k].dtype() == expected[k].dtype());
      REQUIRE(got[k].shape() == expected[k].shape());
      check_close(values(got[k]), values(expected[k]), tolerance.rtol, tolerance.atol);
    }
  }
}

Op single(std::function<Array(const std::vector<Array>&)> f) {
  return [f](const std::vector<Array>& args) { return std::vector<Array>{f(args)}; };
}

const std::vector<Shape> kElementwiseShapes = {{1}, {33}, {257}, {8, 125}, {3, 11, 7}};

struct UnaryCase {
  UnaryOp op;
  double low, high;
  std::vector<DType> dtypes;
};

const std::vector<DType> kFloats = {DType::Float32, DType::Float64};
const std::vector<DType> kNumbers = {DType::Float32, DType::Float64, DType::Int64};
const std::vector<DType> kAll = {DType::Float32, DType::Float64, DType::Int64, DType::Bool};

const UnaryCase kUnaryCases[] = {
    {UnaryOp::Neg, -3, 3, kNumbers},       {UnaryOp::Abs, -3, 3, kNumbers},
    {UnaryOp::Sign, -3, 3, kNumbers},      {UnaryOp::Square, -3, 3, kNumbers},
    {UnaryOp::Relu, -3, 3, kNumbers},      {UnaryOp::Reciprocal, 0.5, 3, kFloats},
    {UnaryOp::Exp, -3, 3, kFloats},        {UnaryOp::Log, 0.1, 5, kFloats},
    {UnaryOp::Sqrt, 0, 5, kFloats},        {UnaryOp::Rsqrt, 0.1, 5, kFloats},
    {UnaryOp::Sin, -3, 3, kFloats},        {UnaryOp::Cos, -3, 3, kFloats},
    {UnaryOp::Tanh, -3, 3, kFloats},       {UnaryOp::Sigmoid, -8, 8, kFloats},
    {UnaryOp::Erf, -3, 3, kFloats},        {UnaryOp::Gelu, -4, 4, kFloats},
    {UnaryOp::GeluTanh, -4, 4, kFloats},   {UnaryOp::Silu, -6, 6, kFloats},
    {UnaryOp::RoundToBf16, -3, 3, kFloats}, {UnaryOp::RoundToFp16, -7e4, 7e4, kFloats},
    {UnaryOp::LogicalNot, -1, 1, kAll},
};

struct BinaryCase {
  BinaryOp op;
  double a_low, a_high, b_low, b_high;
  std::vector<DType> dtypes;
};

const BinaryCase kBinaryCases[] = {
    {BinaryOp::Add, -3, 3, -3, 3, kNumbers},
    {BinaryOp::Sub, -3, 3, -3, 3, kNumbers},
    {BinaryOp::Mul, -3, 3, -3, 3, kNumbers},
    {BinaryOp::Div, -3, 3, 0.5, 3, kNumbers},  // int64: C division, and x / 0 = 0 (b from 0)
    {BinaryOp::Pow, 0.5, 2, -2, 2, kFloats},
    {BinaryOp::Maximum, -2, 2, -2, 2, kNumbers},
    {BinaryOp::Minimum, -2, 2, -2, 2, kNumbers},
    {BinaryOp::Eq, -2, 2, -2, 2, kAll},
    {BinaryOp::Ne, -2, 2, -2, 2, kAll},
    {BinaryOp::Lt, -2, 2, -2, 2, kNumbers},
    {BinaryOp::Le, -2, 2, -2, 2, kNumbers},
    {BinaryOp::Gt, -2, 2, -2, 2, kNumbers},
    {BinaryOp::Ge, -2, 2, -2, 2, kNumbers},
    {BinaryOp::LogicalAnd, -1, 1, -1, 1, kAll},
    {BinaryOp::LogicalOr, -1, 1, -1, 1, kAll},
    {BinaryOp::ReluBackward, -2, 2, -2, 2, kFloats},
    {BinaryOp::GeluBackward, -2, 2, -4, 4, kFloats},
    {BinaryOp::GeluTanhBackward, -2, 2, -4, 4, kFloats},
    {BinaryOp::SiluBackward, -2, 2, -6, 6, kFloats},
    {BinaryOp::SigmoidBackward, -2, 2, 0, 1, kFloats},
    {BinaryOp::TanhBackward, -2, 2, -1, 1, kFloats},
};


// What cuBLAS's gemmStridedBatched computes, written out on the host: for each batch,
// C = op(A) op(B), all column-major (element (i, j) of an m x n matrix at i + j * ld).
void reference_blas_gemm(const cuda::BlasGemm& p, const double* A, const double* B, double* C) {
  for (long long batch = 0; batch < p.batches; ++batch) {
    const double* a = A + batch * p.a.batch_stride;
    const double* b = B + batch * p.b.batch_stride;
    for (long long j = 0; j < p.n; ++j)
      for (long long i = 0; i < p.m; ++i) {
        double sum = 0;
        for (long long q = 0; q < p.k; ++q) {
          const double op_a = p.a.transpose ? a[q + i * p.a.ld] : a[i + q * p.a.ld];
          const double op_b = p.b.transpose ? b[j + q * p.b.ld] : b[q + j * p.b.ld];
          sum += op_a * op_b;
        }
        C[batch * p.stride_c + i + j * p.ldc] = sum;
      }
  }
}

}  // namespace

TEST_SUITE("cuda-sim") {
  TEST_CASE("cuda kernels: every unary op, every dtype, sizes 1..1000, strided and broadcast") {
    kernel_devices();  // says here, before any context is captured, whether cuda is tested too
    Generator gen(11);
    for (const UnaryCase& c : kUnaryCases) {
      CAPTURE(op_name(c.op));
      for (DType dtype : c.dtypes) {
        CAPTURE(dtype_name(dtype));
        for (const Shape& shape : kElementwiseShapes) {
          CAPTURE(shape_str(shape));
          for (const auto& [layout, input] :
               layouts(shape, uniform_values(gen, dtype, c.low, c.high))) {
            CAPTURE(layout);
            check_op(single([&](const std::vector<Array>& x) { return unary(c.op, x[0]); }),
                     {input}, tolerance_for(dtype));
          }
        }
      }
    }
  }

  TEST_CASE("cuda kernels: every binary op, every dtype, each operand strided or broadcast") {
    Generator gen(12);
    for (const BinaryCase& c : kBinaryCases) {
      CAPTURE(op_name(c.op));
      for (DType dtype : c.dtypes) {
        CAPTURE(dtype_name(dtype));
        for (const Shape& shape : kElementwiseShapes) {
          CAPTURE(shape_str(shape));
          const auto as = layouts(shape, uniform_values(gen, dtype, c.a_low, c.a_high));
          const auto bs = layouts(shape, uniform_values(gen, dtype, c.b_low, c.b_high));
          auto op = single([&](const std::vector<Array>& x) { return binary(c.op, x[0], x[1]); });
          for (std::size_t k = 0; k < as.size(); ++k) {
            CAPTURE(as[k].first);
            check_op(op, {as[k].second, bs[0].second}, tolerance_for(dtype));  // a in layout k
            check_op(op, {as[0].second, bs[k].second}, tolerance_for(dtype));  // b in layout k
          }
        }
      }
    }
  }

  TEST_CASE("cuda kernels: binary ops broadcast a row, a column and a scalar") {
    Generator gen(13);
    const Input matrix{uniform({33, 17}, -1, 1, gen)}, row{uniform({17}, -1, 1, gen)},
        column{uniform({33, 1}, -1, 1, gen)}, number{uniform({}, -1, 1, gen)};
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Mul, BinaryOp::Sub, BinaryOp::Lt}) {
      CAPTURE(op_name(op));
      auto f = single([op](const std::vector<Array>& x) { return binary(op, x[0], x[1]); });
      for (const Input* other : {&row, &column, &number}) {
        check_op(f, {matrix, *other}, tolerance_for(DType::Float32));
        check_op(f, {*other, matrix}, tolerance_for(DType::Float32));
      }
    }
    // Mixed dtypes: ops.cpp converts with copy kernels first.
    Input ints{randint(-5, 5, {33, 17}, gen)};
    check_op(single([](const std::vector<Array>& x) { return x[0] * x[1]; }), {matrix, ints},
             tolerance_for(DType::Float32));
    check_op(single([](const std::vector<Array>& x) { return x[0] / x[1]; }), {ints, row},
             tolerance_for(DType::Float32));
  }

  TEST_CASE("cuda kernels: where, with a broadcast condition and strided operands") {
    Generator gen(14);
    for (DType dtype : kAll) {
      CAPTURE(dtype_name(dtype));
      for (const Shape& shape : kElementwiseShapes) {
        CAPTURE(shape_str(shape));
        const auto conds = layouts(shape, uniform_values(gen, DType::Bool));
        const auto as = layouts(shape, uniform_values(gen, dtype));
        const Input b{uniform_values(gen, dtype)(shape)};
        for (std::size_t k = 0; k < conds.size(); ++k) {
          CAPTURE(conds[k].first);
          check_op(single([](const std::vector<Array>& x) { return where(x[0], x[1], x[2]); }),
                   {conds[k].second, as[k].second, b}, tolerance_for(dtype));
        }
      }
    }
  }

  TEST_CASE("cuda kernels: copy converts between every pair of dtypes, strided to strided") {
    Generator gen(15);
    for (DType from : kAll) {
      for (DType to : kAll) {
        CAPTURE(dtype_name(from));
        CAPTURE(dtype_name(to));
        for (const Shape& shape : {Shape{1}, Shape{257}, Shape{3, 11, 7}}) {
          for (const auto& [layout, input] : layouts(shape, uniform_values(gen, from, -3, 3))) {
            CAPTURE(layout);
            check_op(single([to](const std::vector<Array>& x) { return x[0].to(to); }), {input},
                     tolerance_for(to));
            check_op(single([](const std::vector<Array>& x) { return x[0].clone(); }), {input},
                     tolerance_for(from));
          }
        }
      }
    }
    // copy into a strided destination (copy_ writes through a transposed view), and cat.
    Input a{uniform({7, 33}, -1, 1, gen)}, b{uniform({33, 7}, -1, 1, gen)};
    check_op(single([](const std::vector<Array>& x) {
               Array out = zeros({33, 7}, DType::Float64, x[0].device());
               out.t().copy_(x[0]);
               return out;
             }),
             {a}, tolerance_for(DType::Float32));
    check_op(single([](const std::vector<Array>& x) { return cat({x[0], x[1].t(), x[0]}, 0); }),
             {a, b}, tolerance_for(DType::Float32));
  }

  TEST_CASE("cuda kernels: fill, whole arrays and strided views") {
    for (DType dtype : kAll) {
      CAPTURE(dtype_name(dtype));
      for (const Shape& shape : kElementwiseShapes) {
        check_op(single([&](const std::vector<Array>& x) {
                   Array out = full(shape, 3.0, dtype, x[0].device());
                   if (shape.back() > 2) out.slice(-1, 1, shape.back(), 2).fill_(-1);
                   return out;
                 }),
                 {Input{zeros({1})}}, tolerance_for(dtype));
      }
    }
  }

  TEST_CASE("cuda kernels: reductions over any dims, strided inputs, NaN and ties") {
    Generator gen(16);
    struct Reduction {
      const char* name;
      std::function<Array(const Array&, const std::vector<std::int64_t>&)> run;
      std::vector<DType> dtypes;
      double low, high;
    };
    const std::vector<Reduction> reductions = {
        {"sum", [](const Array& x, const auto& d) { return sum(x, d); }, kAll, -2, 2},
        {"mean", [](const Array& x, const auto& d) { return mean(x, d); }, kFloats, -2, 2},
        {"prod", [](const Array& x, const auto& d) { return prod(x, d); }, kNumbers, 0.9, 1.1},
        {"amax", [](const Array& x, const auto& d) { return amax(x, d); }, kNumbers, -5, 5},
        {"amin", [](const Array& x, const auto& d) { return amin(x, d); }, kNumbers, -5, 5},
        {"var", [](const Array& x, const auto& d) { return var(x, d); }, kFloats, -2, 2},
        {"argmax", [](const Array& x, const auto& d) { return argmax(x, d.empty() ? 0 : d[0]); },
         kAll, -3, 3},
        {"argmin", [](const Array& x, const auto& d) { return argmin(x, d.empty() ? 0 : d[0]); },
         kAll, -3, 3},
    };
    struct Case {
      Shape shape;
      std::vector<std::vector<std::int64_t>> dims;
    };
    // Block-per-output reductions run ~log2(256) barriers per block, which the simulator pays
    // for in host thread switches: the big shapes are tested in fewer layouts.
    const std::vector<Case> cases = {
        {{1}, {{}, {0}}},
        {{1000}, {{0}}},
        {{3, 100}, {{-1}, {0}}},
        {{3, 4, 33}, {{1}, {0, 2}, {2}, {}}},
    };
    for (const Reduction& r : reductions) {
      CAPTURE(r.name);
      for (DType dtype : r.dtypes) {
        CAPTURE(dtype_name(dtype));
        for (const Case& c : cases) {
          CAPTURE(shape_str(c.shape));
          // prod of many int64 in [0, 2] overflows; keep those small.
          const bool int_prod = std::string(r.name) == "prod" && dtype == DType::Int64;
          if (int_prod && c.shape.size() < 2) continue;
          const double low = int_prod ? 0 : r.low;
          for (const auto& [layout, input] :
               layouts(c.shape, uniform_values(gen, dtype, low, r.high))) {
            if (layout == "broadcast" && c.shape.size() > 2) continue;
            if (layout != "packed" && dtype != DType::Float32) continue;  // same index math
            CAPTURE(layout);
            for (const auto& dims : c.dims) {
              const bool arg = std::string(r.name).rfind("arg", 0) == 0;
              if (arg && dims.size() > 1) continue;
              CAPTURE(dims.size());
              const Tolerance tol = tolerance_for(dtype == DType::Bool ? DType::Int64 : dtype, 10);
              check_op(single([&](const std::vector<Array>& x) { return r.run(x[0], dims); }),
                       {input}, tol);
            }
          }
        }
      }
    }
    // NaN propagates through amax and wins argmax; among equal values the first index wins.
    Array with_nan = from_vector(std::vector<float>{1, 5, NAN, 5, NAN, 0}, {2, 3});
    Array ties = from_vector(std::vector<std::int64_t>{3, 7, 7, 1, 7, 2, 9, 9}, {2, 4});
    for (const Input& input : {Input{with_nan}, Input{ties}})
      for (std::int64_t dim : {0, 1}) {
        check_op(single([dim](const std::vector<Array>& x) { return amax(x[0], {dim}); }), {input},
                 {0, 0});
        check_op(single([dim](const std::vector<Array>& x) { return argmax(x[0], dim); }), {input},
                 {0, 0});
        check_op(single([dim](const std::vector<Array>& x) { return argmin(x[0], dim); }), {input},
                 {0, 0});
      }
    // A sum over an empty dim is 0.
    check_op(single([](const std::vector<Array>& x) { return sum(x[0], {1}); }),
             {Input{zeros({3, 0})}}, {0, 0});
  }

  TEST_CASE("cuda kernels: matmul, tiles not filled, transposed and sliced operands, batches") {
    Generator gen(17);
    struct Case {
      Shape a, b;
    };
    const std::vector<Case> cases = {
        {{1, 1}, {1, 1}},        {{33, 40}, {40, 17}},      {{5}, {5, 7}},
        {{7, 5}, {5}},           {{40}, {40}},              {{2, 3, 20, 17}, {17, 5}},
        {{3, 17, 9}, {3, 9, 18}}, {{4, 1, 6, 7}, {1, 3, 7, 2}},
    };
    for (DType dtype : kNumbers) {
      CAPTURE(dtype_name(dtype));
      const Tolerance tol = tolerance_for(dtype, 5);
      for (const Case& c : cases) {
        CAPTURE(shape_str(c.a));
        CAPTURE(shape_str(c.b));
        auto f = single([](const std::vector<Array>& x) { return matmul(x[0], x[1]); });
        const auto as = layouts(c.a, uniform_values(gen, dtype, -2, 2));
        const auto bs = layouts(c.b, uniform_values(gen, dtype, -2, 2));
        // float32 in every layout; float64 and int64 (same kernel, other type) packed.
        const std::size_t layouts_tested =
            dtype == DType::Float32 ? std::max(as.size(), bs.size()) : 1;
        for (std::size_t k = 0; k < layouts_tested; ++k) {
          CAPTURE(k);
          const Input& a = as[std::min(k, as.size() - 1)].second;
          const Input& b = bs[std::min(k, bs.size() - 1)].second;
          check_op(f, {a, b}, tol);
        }
      }
    }
    // Mixed dtypes promote; an empty inner dim gives zeros.
    check_op(single([](const std::vector<Array>& x) { return matmul(x[0], x[1]); }),
             {Input{uniform({4, 6}, -1, 1, gen)}, Input{randint(-3, 3, {6, 2}, gen)}},
             tolerance_for(DType::Float32));
    check_op(single([](const std::vector<Array>& x) { return matmul(x[0], x[1]); }),
             {Input{zeros({4, 0})}, Input{zeros({0, 3})}}, {0, 0});
  }

  TEST_CASE("cuBLAS layout plan: a BLAS call that computes the row-major matmul, or none") {
    // cuBLAS itself needs a GPU; the mapping of our strided row-major arrays onto its
    // column-major call is checked here, against a host version of that call.
    Generator gen(24);
    auto make = [&](const Shape& shape) { return uniform(shape, -1, 1, gen, DType::Float64); };
    struct Case {
      const char* name;
      Array a, b;
      bool plannable;
    };
    Array wide = make({9, 14});
    const std::vector<Case> cases = {
        {"packed", make({5, 7}), make({7, 4}), true},
        {"a transposed", make({7, 5}).t(), make({7, 4}), true},
        {"b transposed", make({5, 7}), make({4, 7}).t(), true},
        {"both transposed", make({7, 5}).t(), make({4, 7}).t(), true},
        {"row times column", make({1, 7}), make({7, 1}), true},
        {"column times row", make({6, 1}), make({1, 3}), true},
        {"batched", make({3, 5, 7}), make({3, 7, 4}), true},
        {"batched, b broadcast", make({2, 3, 5, 7}), make({7, 4}).expand({2, 3, 7, 4}), true},
        {"batched, transposed", make({3, 7, 5}).transpose(-2, -1), make({3, 7, 4}), true},
        {"a sliced with a step", wide.slice(1, 0, 14, 2).slice(0, 0, 5), make({7, 4}), false},
        {"row block of a wider matrix", wide.narrow(1, 2, 7).narrow(0, 1, 5), make({7, 4}), true},
        {"batch broadcast in the middle", make({4, 1, 5, 7}).expand({4, 3, 5, 7}),
         make({4, 3, 7, 2}), false},
    };
    for (const Case& c : cases) {
      CAPTURE(c.name);
      Array expected = matmul(c.a, c.b);
      cuda::BlasGemm plan;
      const bool planned = cuda::plan_blas_gemm(c.a, c.b, expected, plan);
      CHECK(planned == c.plannable);
      if (!planned) continue;
      Array got = zeros(expected.shape(), DType::Float64);
      reference_blas_gemm(plan, c.b.data<double>(), c.a.data<double>(), got.data<double>());
      check_close(values(got), values(expected), 1e-12, 1e-12);
    }
  }

  TEST_CASE("cuda kernels: softmax and log_softmax along any dim, forward and backward") {
    Generator gen(18);
    struct Case {
      Shape shape;
      std::int64_t dim;
    };
    const std::vector<Case> cases = {
        {{1}, 0}, {{4, 33}, -1}, {{3, 257}, 1}, {{2, 1000}, -1}, {{5, 7, 3}, 1}, {{6, 9}, 0}};
    for (DType dtype : kFloats) {
      CAPTURE(dtype_name(dtype));
      const Tolerance tol = tolerance_for(dtype, 5);
      for (const Case& c : cases) {
        CAPTURE(shape_str(c.shape));
        CAPTURE(c.dim);
        const auto xs = layouts(c.shape, uniform_values(gen, dtype, -5, 5));
        const Input grad{uniform(c.shape, -1, 1, gen, dtype)};
        for (const auto& [layout, input] : xs) {
          // float64 (same kernels, other type) and the longest rows: packed only.
          if (layout != "packed" && (dtype == DType::Float64 || c.shape.back() >= 1000)) continue;
          CAPTURE(layout);
          for (bool log : {false, true}) {
            if (log && layout != "packed") continue;  // the strides are the forward's
            CAPTURE(log);
            check_op([&](const std::vector<Array>& x) {
                       Array y = log ? log_softmax(x[0], c.dim) : softmax(x[0], c.dim);
                       Array dx = log ? log_softmax_backward(x[1], y, c.dim)
                                      : softmax_backward(x[1], y, c.dim);
                       return std::vector<Array>{y, dx};
                     },
                     {input, grad}, tol);
          }
        }
      }
    }
    // Huge logits (no overflow: the max is subtracted) and a fully masked row (nan on both).
    Array big = from_vector(std::vector<float>{1000, 1001, -1000, -INFINITY, -INFINITY, -INFINITY},
                            {2, 3});
    check_op(single([](const std::vector<Array>& x) { return softmax(x[0], -1); }), {Input{big}},
             tolerance_for(DType::Float32));
  }

  TEST_CASE("cuda kernels: embedding, index_select, gather and scatter_add (atomics)") {
    Generator gen(19);
    const Input ids{randint(0, 50, {4, 10}, gen)};  // 40 ids among 50: many repeats
    const Input few_ids{randint(0, 3, {33}, gen)};  // 33 ids among 3: heavy contention
    for (DType dtype : kFloats) {
      CAPTURE(dtype_name(dtype));
      const Tolerance tol = tolerance_for(dtype, 5);
      const Input weight{uniform({50, 33}, -1, 1, gen, dtype)};
      const Input grad{uniform({4, 10, 33}, -1, 1, gen, dtype)};
      const Input grad_few{uniform({33, 33}, -1, 1, gen, dtype)};
      check_op(single([](const std::vector<Array>& x) { return embedding(x[0], x[1]); }),
               {weight, ids}, tol);
      check_op(
          single([](const std::vector<Array>& x) { return embedding_backward(x[0], x[1], 50); }),
          {grad, ids}, tol);
      check_op(single([](const std::vector<Array>& x) {
                 return embedding_backward(x[0], x[1], 3);
               }),
               {grad_few, few_ids}, tol);
      check_op(single([](const std::vector<Array>& x) { return index_select(x[0], 1, x[1]); }),
               {weight, Input{randint(0, 33, {20}, gen)}}, tol);
    }
    for (DType dtype : kNumbers) {
      CAPTURE(dtype_name(dtype));
      const Input x{uniform_values(gen, dtype)({7, 33})};
      for (std::int64_t dim : {0, 1}) {
        CAPTURE(dim);
        const std::int64_t limit = dim == 0 ? 7 : 33;
        const Input index{randint(0, limit, dim == 0 ? Shape{12, 33} : Shape{7, 40}, gen)};
        const Input src{uniform_values(gen, dtype)(dim == 0 ? Shape{12, 33} : Shape{7, 40})};
        check_op(single([dim](const std::vector<Array>& a) { return gather(a[0], dim, a[1]); }),
                 {x, index}, tolerance_for(dtype));
        check_op(single([dim](const std::vector<Array>& a) {
                   return scatter_add(a[0], dim, a[1], a[2]);
                 }),
                 {x, index, src}, tolerance_for(dtype, 5));
      }
    }
  }

  TEST_CASE("cuda kernels: layer norm forward and backward, with and without affine") {
    Generator gen(20);
    for (DType dtype : kFloats) {
      CAPTURE(dtype_name(dtype));
      const Tolerance tol = tolerance_for(dtype, 20);
      for (const Shape& shape : {Shape{1, 1}, Shape{10, 33}, Shape{2, 257}, Shape{1, 1000}}) {
        CAPTURE(shape_str(shape));
        const std::int64_t C = shape.back();
        const Input x{uniform(shape, -3, 3, gen, dtype)}, grad{uniform(shape, -1, 1, gen, dtype)};
        const Input weight{uniform({C}, 0.5, 1.5, gen, dtype)};
        const Input bias{uniform({C}, -1, 1, gen, dtype)};
        for (bool affine : {true, false}) {
          CAPTURE(affine);
          check_op([affine](const std::vector<Array>& a) {
                     Array w = affine ? a[2] : Array(), b = affine ? a[3] : Array();
                     LayerNormResult r = layer_norm(a[0], w, b, 1e-5);
                     LayerNormGrads g =
                         layer_norm_backward(a[1], a[0], w, r.mean, r.rstd, affine, affine);
                     std::vector<Array> all{r.out, r.mean, r.rstd, g.x};
                     if (affine) all.insert(all.end(), {g.weight, g.bias});
                     return all;
                   },
                   {x, grad, weight, bias}, tol);
        }
      }
    }
  }

  TEST_CASE("cuda kernels: RMS norm forward and backward, with and without weight") {
    Generator gen(23);
    for (DType dtype : kFloats) {
      CAPTURE(dtype_name(dtype));
      const Tolerance tol = tolerance_for(dtype, 20);
      for (const Shape& shape : {Shape{1, 1}, Shape{10, 33}, Shape{2, 257}, Shape{1, 1000}}) {
        CAPTURE(shape_str(shape));
        const std::int64_t C = shape.back();
        const Input x{uniform(shape, -3, 3, gen, dtype)}, grad{uniform(shape, -1, 1, gen, dtype)};
        const Input weight{uniform({C}, 0.5, 1.5, gen, dtype)};
        for (bool affine : {true, false}) {
          CAPTURE(affine);
          check_op([affine](const std::vector<Array>& a) {
                     Array w = affine ? a[2] : Array();
                     RMSNormResult r = rms_norm(a[0], w, 1e-6);
                     RMSNormGrads g = rms_norm_backward(a[1], a[0], w, r.rstd, affine);
                     std::vector<Array> all{r.out, r.rstd, g.x};
                     if (affine) all.push_back(g.weight);
                     return all;
                   },
                   {x, grad, weight}, tol);
        }
      }
    }
  }

  TEST_CASE("cuda kernels: cross-entropy, ignored rows, label smoothing, forward and backward") {
    Generator gen(21);
    for (DType dtype : kFloats) {
      CAPTURE(dtype_name(dtype));
      const Tolerance tol = tolerance_for(dtype, 20);
      for (const Shape& shape : {Shape{1, 1}, Shape{9, 33}, Shape{3, 257}, Shape{1, 1000}}) {
        CAPTURE(shape_str(shape));
        const Input logits{uniform(shape, -4, 4, gen, dtype)};
        Array targets = randint(0, shape[1], {shape[0]}, gen);
        if (shape[0] > 2) targets.set({1}, -100);  // an ignored row
        const Input grad{uniform({shape[0]}, 0.5, 1.5, gen, dtype)};
        for (double smoothing : {0.0, 0.1}) {
          CAPTURE(smoothing);
          check_op([smoothing](const std::vector<Array>& a) {
                     return std::vector<Array>{
                         cross_entropy_losses(a[0], a[1], -100, smoothing),
                         cross_entropy_backward(a[0], a[1], a[2], -100, smoothing)};
                   },
                   {logits, Input{targets}, grad}, tol);
        }
      }
    }
  }

  TEST_CASE("cuda kernels: the dropout mask is the cpu's, bit for bit (Philox)") {
    for (DType dtype : kFloats) {
      for (double p : {0.1, 0.5}) {
        for (std::int64_t n : {1, 33, 1000, 4097}) {
          CAPTURE(n);
          Generator cpu_gen(7), device_gen(7);
          Array cpu_mask = dropout_mask({n}, p, cpu_gen, dtype, kCPU);
          for (Device device : kernel_devices()) {
            Generator gen(7);
            Array mask = dropout_mask({n}, p, gen, dtype, device);
            CHECK(mask.device() == device);
            CHECK(values(mask) == values(cpu_mask));
            CHECK(gen.offset() == cpu_gen.offset());
          }
        }
      }
    }
  }

  TEST_CASE("cuda kernels: Adam and AdamW steps") {
    Generator gen(22);
    for (DType dtype : kFloats) {
      for (bool decoupled : {false, true}) {
        CAPTURE(decoupled);
        const Input param{uniform({33, 9}, -1, 1, gen, dtype)};
        const Input grad{uniform({33, 9}, -1, 1, gen, dtype)};
        check_op([decoupled](const std::vector<Array>& a) {
                   Array p = a[0].clone(), m = zeros_like(p), v = zeros_like(p);
                   for (std::int64_t step = 1; step <= 3; ++step)
                     adam_step(p, a[1], m, v, 1e-2, 0.9, 0.999, 1e-8, 0.1, decoupled, step);
                   return std::vector<Array>{p, m, v};
                 },
                 {param, grad}, tolerance_for(dtype, 10));
      }
    }
  }

  TEST_CASE("cuda kernels: rotary embedding and its inverse, any layout, any position offset") {
    Generator gen(24);
    for (DType dtype : kFloats) {
      CAPTURE(dtype_name(dtype));
      // Sizes whose pair counts are not multiples of the block: 1, 33*3, 257 pairs...
      for (const Shape& shape : {Shape{1, 2}, Shape{3, 11, 6}, Shape{2, 257, 2}, Shape{2, 3, 5, 8}}) {
        CAPTURE(shape_str(shape));
        for (const auto& [layout, x] : layouts(shape, uniform_values(gen, dtype))) {
          CAPTURE(layout);
          for (std::int64_t offset : {0, 7, 100000}) {
            CAPTURE(offset);
            check_op([offset](const std::vector<Array>& a) {
                       return std::vector<Array>{rotary_embedding(a[0], offset),
                                                 rotary_embedding(a[0], offset, 500.0, true)};
                     },
                     {x}, tolerance_for(dtype, 10));
          }
        }
      }
    }
  }

  TEST_CASE("cuda kernels: fused attention equals matmul + softmax + matmul") {
    Generator gen(23);
    for (DType dtype : kFloats) {
      for (auto [Tq, Tk, D] : {std::tuple{1, 1, 1}, std::tuple{5, 33, 8}, std::tuple{9, 70, 40}}) {
        Array q = uniform({2, Tq, D}, -1, 1, gen, dtype);
        Array k = uniform({2, Tk, D}, -1, 1, gen, dtype);
        Array v = uniform({2, Tk, D + 3}, -1, 1, gen, dtype);
        const double scale = 1 / std::sqrt(double(D));
        Array expected = matmul(softmax(matmul(q, k.transpose(-2, -1)) * scale, -1), v);
        for (Device device : kernel_devices()) {
          Array got = cuda::fused_attention(q.to(device), k.to(device), v.to(device), scale);
          check_close(values(got), values(expected), tolerance_for(dtype, 10).rtol,
                      tolerance_for(dtype, 10).atol);
        }
      }
    }
    const std::string cpu_error = error_message([] {
      cuda::fused_attention(zeros({1, 2, 3}), zeros({1, 2, 3}), zeros({1, 2, 3}), 1);
    });
    CHECK(cpu_error.find("runs on cuda or cuda-sim") != std::string::npos);
  }

  TEST_CASE("cuda-sim is a device: own memory, explicit moves, clear errors") {
    Array x = from_rows({{1, 2}, {3, 4}});
    Array on_sim = x.to(kSim);
    CHECK(on_sim.device() == kSim);
    CHECK(on_sim.raw_data() != x.raw_data());
    CHECK(on_sim.to(kSim).raw_data() == on_sim.raw_data());  // already there: no copy
    CHECK(values(on_sim.to(kCPU)) == values(x));
    CHECK(on_sim.to_string().find("device=cuda-sim") != std::string::npos);
    CHECK(error_message([&] { add(x, on_sim); }).find("different devices (cpu and cuda-sim)") !=
          std::string::npos);
    CHECK(error_message([&] { check_cpu(on_sim, "npy"); }).find("got cuda-sim") !=
          std::string::npos);
    CHECK(backend(kSim).name() == "cuda-sim");
  }

  TEST_CASE("cuda without CUDA=1, or without a GPU, stops with a clear std::runtime_error") {
    std::string why;
    bool usable = false;
    try {  // any other exception type fails the test
      zeros({2}, DType::Float32, Device::parse("cuda"));
      usable = true;
    } catch (const std::runtime_error& e) {
      why = e.what();
    }
    if (usable) {
      MESSAGE("cuda is usable here: the kernels were tested on it too");
      return;
    }
    CAPTURE(why);
    // The default build has no CUDA backend; a CUDA=1 build on a machine without a GPU (or
    // without a recent enough driver) says what the CUDA runtime answered.
    CHECK((why.find("device cuda: this build has no CUDA backend") == 0 ||
           why.find("device cuda: no usable CUDA GPU (cudaGetDeviceCount: ") == 0));
    CHECK(why.find("cuda-sim") != std::string::npos);  // and what to do instead
    // Asking again gives the same answer (no half-initialised state).
    CHECK(error_message([] { Array({3}, DType::Float32, Device::parse("cuda")); }) == why);
  }

  TEST_CASE("cuda-sim memory goes through the caching allocator") {
    cuda::empty_cache(kSim);
    const cuda::MemoryStats before = cuda::memory_stats(kSim);
    {
      Array a({1000}, DType::Float32, kSim);
      CHECK(cuda::memory_stats(kSim).bytes_in_use >= before.bytes_in_use + 4000);
    }
    CHECK(cuda::memory_stats(kSim).bytes_cached >= 4000);
    {
      Array b({999}, DType::Float32, kSim);  // same size class: served from the cache
      CHECK(cuda::memory_stats(kSim).cache_hits == before.cache_hits + 1);
    }
    cuda::empty_cache(kSim);
    CHECK(cuda::memory_stats(kSim).bytes_cached == 0);
    CHECK(cuda::memory_stats(kSim).bytes_in_use == before.bytes_in_use);
    CHECK(error_message([] { cuda::memory_stats(kCPU); }).find("runs on cuda or cuda-sim") !=
          std::string::npos);
  }

  TEST_CASE("cuda-sim: the launch trace records kernels with their grid and block") {
    Array x = uniform({3, 400}, -1, 1, tensor::default_generator()).to(kSim);
    cuda::start_launch_trace();
    Array y = softmax(x, -1);
    Array z = matmul(x, x.t());
    std::vector<cuda::LaunchRecord> trace = cuda::stop_launch_trace();
    REQUIRE(trace.size() == 2);
    CHECK(trace[0].device == "cuda-sim");
    CHECK(trace[0].kernel == "softmax_rows_kernel");
    CHECK(trace[0].grid[0] == 3);
    CHECK(trace[0].block[0] == 64);  // the smallest power of two >= 400 / 8
    CHECK(trace[1].kernel == "matmul_tiled_kernel");
    CHECK(trace[1].block[0] == 16);
    CHECK(trace[1].grid[0] == 1);  // out [3, 3]: one 16x16 tile
    CHECK(trace[1].str().find("grid (1, 1, 1)  block (16, 16, 1)") != std::string::npos);
  }
}
