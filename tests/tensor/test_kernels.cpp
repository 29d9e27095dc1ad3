// Kernels checked against plain loops written here, independently of the library.
#include <omp.h>

#include <algorithm>
#include <numeric>

#include "tensor/scalar_math.hpp"
#include "tests/helpers.hpp"

using namespace tensor;
using testing::broadcast_source;
using testing::check_close;
using testing::error_message;
using testing::unravel;
using testing::values;

namespace {

struct UnaryCase {
  UnaryOp op;
  double (*reference)(double);
  double low, high;  // input range where the op is defined
};

// The references are written out again here, in double, from their textbook definitions.
const UnaryCase kUnaryCases[] = {
    {UnaryOp::Neg, [](double x) { return -x; }, -3, 3},
    {UnaryOp::Abs, [](double x) { return x < 0 ? -x : x; }, -3, 3},
    {UnaryOp::Square, [](double x) { return x * x; }, -3, 3},
    {UnaryOp::Reciprocal, [](double x) { return 1 / x; }, 0.5, 3},
    {UnaryOp::Exp, [](double x) { return std::exp(x); }, -3, 3},
    {UnaryOp::Log, [](double x) { return std::log(x); }, 0.1, 5},
    {UnaryOp::Sqrt, [](double x) { return std::sqrt(x); }, 0, 5},
    {UnaryOp::Rsqrt, [](double x) { return 1 / std::sqrt(x); }, 0.1, 5},
    {UnaryOp::Sin, [](double x) { return std::sin(x); }, -3, 3},
    {UnaryOp::Cos, [](double x) { return std::cos(x); }, -3, 3},
    {UnaryOp::Tanh, [](double x) { return std::tanh(x); }, -3, 3},
    {UnaryOp::Sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, -8, 8},
    {UnaryOp::Erf, [](double x) { return std::erf(x); }, -3, 3},
    {UnaryOp::Relu, [](double x) { return x > 0 ? x : 0.0; }, -3, 3},
    {UnaryOp::Gelu, [](double x) { return x * 0.5 * std::erfc(-x / std::sqrt(2.0)); }, -4, 4},
    {UnaryOp::GeluTanh,
     [](double x) {
       const double pi = 3.14159265358979323846;
       return 0.5 * x * (1 + std::tanh(std::sqrt(2 / pi) * (x + 0.044715 * x * x * x)));
     },
     -4, 4},
    {UnaryOp::Silu, [](double x) { return x / (1 + std::exp(-x)); }, -6, 6},
    {UnaryOp::Sign, [](double x) { return double((x > 0) - (x < 0)); }, -3, 3},
};

}  // namespace

TEST_CASE("every unary op matches its textbook formula, packed and strided, float32 and float64") {
  Generator gen(1);
  for (const UnaryCase& c : kUnaryCases) {
    CAPTURE(op_name(c.op));
    for (DType dtype : {DType::Float32, DType::Float64}) {
      Array x = uniform({5, 7}, c.low, c.high, gen, dtype);
      std::vector<double> expected;
      for (double v : values(x)) expected.push_back(c.reference(v));
      double rtol = dtype == DType::Float32 ? 2e-6 : 1e-12;
      check_close(values(unary(c.op, x)), expected, rtol, rtol);
      // Same op through a transposed (non-contiguous) view.
      Array xt = x.t();
      std::vector<double> expected_t;
      for (double v : values(xt)) expected_t.push_back(c.reference(v));
      check_close(values(unary(c.op, xt)), expected_t, rtol, rtol);
    }
  }
}

// float32 GELU uses tensor/scalar_math.hpp's own exp and normal CDF (no libm call, so the loop
// vectorises). Checked here on a dense grid against float64 libm, written out independently.
TEST_CASE("exp_float matches exp in float64, with inf, 0, denormals and NaN at the edges") {
  double worst = 0;
  for (double x = -87.3; x <= 88.7; x += 0.00731) {
    float xf = float(x);
    double expected = std::exp(double(xf));
    worst = std::max(worst, std::abs(tensor::math::exp_float(xf) - expected) / expected);
  }
  CHECK(worst < 2e-7);  // a float ulp is 6e-8 to 1.2e-7 relative
  // Denormal results: absolute error within the denormal spacing (1.4e-45) times a few.
  for (double x = -103.9; x < -87.4; x += 0.0917) {
    float xf = float(x);
    CHECK(std::abs(tensor::math::exp_float(xf) - std::exp(double(xf))) < 6e-45);
  }
  CHECK(tensor::math::exp_float(-200.0f) == 0.0f);
  CHECK(tensor::math::exp_float(-INFINITY) == 0.0f);
  CHECK(tensor::math::exp_float(0.0f) == 1.0f);
  CHECK(std::isinf(tensor::math::exp_float(89.0f)));
  CHECK(std::isinf(tensor::math::exp_float(INFINITY)));
  CHECK(std::isfinite(tensor::math::exp_float(88.7f)));
  CHECK(std::isnan(tensor::math::exp_float(NAN)));
}

TEST_CASE("float32 GELU and its derivative match float64 erfc on [-12, 12]") {
  const double inv_sqrt_2pi = 0.3989422804014327;
  double worst_gelu_abs = 0, worst_gelu_rel = 0, worst_derivative_abs = 0;
  for (double x = -12; x <= 12; x += 0.000977) {
    float xf = float(x);
    double xd = xf;
    double cdf = 0.5 * std::erfc(-xd / std::sqrt(2.0));
    double gelu = xd * cdf;
    double derivative = cdf + xd * inv_sqrt_2pi * std::exp(-0.5 * xd * xd);
    double error = std::abs(tensor::math::gelu(xf) - gelu);
    worst_gelu_abs = std::max(worst_gelu_abs, error);
    if (std::abs(xd) <= 6 && gelu != 0) worst_gelu_rel = std::max(worst_gelu_rel, error / std::abs(gelu));
    worst_derivative_abs =
        std::max(worst_derivative_abs, std::abs(tensor::math::gelu_derivative(xf) - derivative));
  }
  CAPTURE(worst_gelu_abs);
  CAPTURE(worst_gelu_rel);
  CAPTURE(worst_derivative_abs);
  CHECK(worst_gelu_abs < 1e-6);
  CHECK(worst_gelu_rel < 5e-6);  // the tail: exp(-x^2/2) with x^2 rounded to float
  CHECK(worst_derivative_abs < 1e-6);
  CHECK(std::isnan(tensor::math::gelu(NAN)));
  CHECK(tensor::math::gelu(INFINITY) == INFINITY);
}

TEST_CASE("sigmoid does not overflow for large negative inputs") {
  Array x = from_vector(std::vector<float>{-100.f, -1000.f, 100.f});
  std::vector<double> y = values(sigmoid(x));
  CHECK(y[0] >= 0);
  CHECK(y[0] < 1e-40);
  CHECK(y[1] == 0);
  CHECK(y[2] == 1);
}

namespace {
struct BinaryCase {
  BinaryOp op;
  double (*reference)(double, double);
};
const BinaryCase kBinaryCases[] = {
    {BinaryOp::Add, [](double a, double b) { return a + b; }},
    {BinaryOp::Sub, [](double a, double b) { return a - b; }},
    {BinaryOp::Mul, [](double a, double b) { return a * b; }},
    {BinaryOp::Div, [](double a, double b) { return a / b; }},
    {BinaryOp::Pow, [](double a, double b) { return std::pow(a, b); }},
    {BinaryOp::Maximum, [](double a, double b) { return a > b ? a : b; }},
    {BinaryOp::Minimum, [](double a, double b) { return a < b ? a : b; }},
    {BinaryOp::Eq, [](double a, double b) { return double(a == b); }},
    {BinaryOp::Ne, [](double a, double b) { return double(a != b); }},
    {BinaryOp::Lt, [](double a, double b) { return double(a < b); }},
    {BinaryOp::Le, [](double a, double b) { return double(a <= b); }},
    {BinaryOp::Gt, [](double a, double b) { return double(a > b); }},
    {BinaryOp::Ge, [](double a, double b) { return double(a >= b); }},
};

// out[i] = f(a[broadcast], b[broadcast]) with a plain loop over the output's index space.
std::vector<double> broadcast_reference(const Array& a, const Array& b, const Shape& out_shape,
                                        double (*f)(double, double)) {
  std::vector<double> av = values(a), bv = values(b), out;
  for (std::int64_t i = 0; i < shape_numel(out_shape); ++i) {
    std::vector<std::int64_t> index = unravel(i, out_shape);
    out.push_back(f(av[broadcast_source(index, a.shape())], bv[broadcast_source(index, b.shape())]));
  }
  return out;
}
}  // namespace

TEST_CASE("binary ops broadcast like NumPy, on every layout") {
  Generator gen(2);
  struct ShapePair {
    Shape a, b, out;
  };
  const ShapePair pairs[] = {
      {{4, 5}, {4, 5}, {4, 5}},       {{4, 5}, {5}, {4, 5}},        {{4, 1}, {1, 5}, {4, 5}},
      {{2, 3, 4}, {3, 1}, {2, 3, 4}}, {{}, {3, 2}, {3, 2}},         {{1}, {6}, {6}},
      {{2, 1, 3}, {4, 1}, {2, 4, 3}}, {{3, 4}, {}, {3, 4}},
  };
  for (const BinaryCase& c : kBinaryCases) {
    CAPTURE(op_name(c.op));
    for (const ShapePair& p : pairs) {
      CAPTURE(shape_str(p.a));
      CAPTURE(shape_str(p.b));
      // Rounded values make ties and equalities actually occur.
      Array a = (uniform(p.a, 0.5, 3.0, gen, DType::Float64) * 2.0).to(DType::Int64).to(DType::Float64) * 0.5;
      Array b = (uniform(p.b, 0.5, 3.0, gen, DType::Float64) * 2.0).to(DType::Int64).to(DType::Float64) * 0.5;
      Array out = binary(c.op, a, b);
      CHECK(out.shape() == p.out);
      check_close(values(out), broadcast_reference(a, b, p.out, c.reference), 1e-12, 1e-12);
    }
    // Non-contiguous operands: a transposed matrix against a strided slice.
    Array a = uniform({6, 4}, 0.5, 3.0, gen, DType::Float32).t();       // [4, 6], strides [1, 4]
    Array b = uniform({4, 12}, 0.5, 3.0, gen, DType::Float32).slice(1, 0, 12, 2);  // [4, 6]
    check_close(values(binary(c.op, a, b)), broadcast_reference(a, b, {4, 6}, c.reference), 1e-6,
                1e-6);
  }
}

TEST_CASE("type promotion and result dtypes") {
  Array i = from_vector(std::vector<std::int64_t>{1, 2, 3});
  Array f = from_vector(std::vector<float>{0.5f, 0.5f, 0.5f});
  Array b = from_vector(std::vector<bool>{true, false, true});
  CHECK(add(i, f).dtype() == DType::Float32);
  CHECK(values(add(i, f)) == std::vector<double>{1.5, 2.5, 3.5});
  CHECK(add(i, i).dtype() == DType::Int64);
  CHECK(div(i, i * 2.0).dtype() == DType::Float32);  // true division
  CHECK(values(div(i, from_vector(std::vector<std::int64_t>{2, 2, 2}))) ==
        std::vector<double>{0.5, 1.0, 1.5});
  CHECK(lt(i, f).dtype() == DType::Bool);
  CHECK(add(b, b).dtype() == DType::Int64);
  CHECK(values(add(b, b)) == std::vector<double>{2, 0, 2});
  CHECK(mul(b, f).dtype() == DType::Float32);
  CHECK(values(logical_and(b, logical_not(b))) == std::vector<double>{0, 0, 0});
  CHECK((i * 2.5).dtype() == DType::Float32);  // non-integer scalar promotes an int tensor
  CHECK((i * 2.0).dtype() == DType::Int64);
  CHECK((f * 2.0).dtype() == DType::Float32);  // a double scalar never widens a float tensor
}

TEST_CASE("ops reject dtypes they cannot handle, with the fix in the message") {
  Array i = from_vector(std::vector<std::int64_t>{1, 2});
  CHECK(error_message([&] { exp(i); }) ==
        "exp: expects a float32 or float64 tensor, got int64 (convert with .to(DType::Float32))");
  Array b = from_vector(std::vector<bool>{true});
  CHECK(error_message([&] { neg(b); }).find("neg: not defined for bool") == 0);
  CHECK(error_message([&] { where(i, i, i); }) == "where: the condition must be a bool tensor, got int64");
  CHECK(error_message([&] { mean(i); }).find("mean: expects a float tensor") == 0);
}

TEST_CASE("where selects elementwise with broadcasting") {
  Array cond = from_vector(std::vector<bool>{true, false, true}, {3, 1});
  Array a = from_rows({{1, 2}, {3, 4}, {5, 6}});
  CHECK(values(where(cond, a, scalar(0))) == std::vector<double>{1, 2, 0, 0, 5, 6});
}

// ---- reductions --------------------------------------------------------------------------------

TEST_CASE("sum/mean/prod/amax/amin over any dims match plain loops") {
  Generator gen(3);
  Array x = uniform({3, 4, 5}, -2, 2, gen, DType::Float64);
  std::vector<double> v = values(x);
  auto at = [&](std::int64_t i, std::int64_t j, std::int64_t k) { return v[(i * 4 + j) * 5 + k]; };
  // Over dim 1, keepdim: result [3, 1, 5].
  std::vector<double> sum1, max1, min1, prod1;
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 5; ++k) {
      double s = 0, mx = -1e300, mn = 1e300, p = 1;
      for (int j = 0; j < 4; ++j) {
        s += at(i, j, k);
        mx = std::max(mx, at(i, j, k));
        mn = std::min(mn, at(i, j, k));
        p *= at(i, j, k);
      }
      sum1.push_back(s);
      max1.push_back(mx);
      min1.push_back(mn);
      prod1.push_back(p);
    }
  CHECK(sum(x, {1}, true).shape() == Shape{3, 1, 5});
  check_close(values(sum(x, {1}, true)), sum1, 1e-12);
  check_close(values(amax(x, {1})), max1, 0);
  check_close(values(amin(x, {-2})), min1, 0);
  check_close(values(prod(x, {1})), prod1, 1e-12);
  std::vector<double> mean1;
  for (double s : sum1) mean1.push_back(s / 4);
  check_close(values(mean(x, {1})), mean1, 1e-12);
  // Over dims {0, 2}: result [4].
  std::vector<double> sum02(4, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 5; ++k) sum02[j] += at(i, j, k);
  CHECK(sum(x, {0, 2}).shape() == Shape{4});
  check_close(values(sum(x, {2, 0})), sum02, 1e-12);
  // Over everything: 0-d.
  CHECK(sum(x).dim() == 0);
  CHECK(sum(x).item() == doctest::Approx(std::accumulate(v.begin(), v.end(), 0.0)).epsilon(1e-12));
  // Through a permuted view, the same numbers.
  check_close(values(sum(x.permute({2, 0, 1}), {2})), values(sum(x, {1}).t()), 1e-12);
}

TEST_CASE("sum over the leading dim of a wide matrix (the bias-gradient layout)") {
  Generator gen(4);
  Array x = uniform({300, 70}, -1, 1, gen, DType::Float32);
  std::vector<double> v = values(x), expected(70, 0.0);
  for (int i = 0; i < 300; ++i)
    for (int j = 0; j < 70; ++j) expected[j] += v[i * 70 + j];
  check_close(values(sum(x, {0})), expected, 1e-5, 1e-5);
}

TEST_CASE("bias-gradient sums over many narrow rows: blocks of rows, any thread count") {
  // 2053 rows of 128 (and 96 through a strided view) take the path that sums blocks of rows
  // into partial rows; every column is compared with a float64 loop, and 1 and 2 threads must
  // give the same bits (the blocks depend on the shape only).
  Generator gen(5);
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Array x = uniform({2053, 128}, -1, 1, gen, dtype);
    Array big = uniform({6, 700, 200}, -1, 1, gen, dtype);
    Array strided = big.slice(1, 0, 700, 2).slice(2, 3, 99);  // [6, 350, 96], rows not coalesced
    for (const Array& input : {x, strided}) {
      const std::int64_t width = input.size(-1), rows = input.numel() / width;
      Shape dims;
      for (std::int64_t d = 0; d + 1 < input.dim(); ++d) dims.push_back(d);
      std::vector<double> expected(width, 0.0);
      Array dense = input.contiguous();
      std::vector<double> v = values(dense);
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t j = 0; j < width; ++j) expected[j] += v[r * width + j];
      const int threads_before = omp_get_max_threads();
      omp_set_num_threads(1);
      std::vector<double> one = values(sum(input, dims));
      omp_set_num_threads(2);
      std::vector<double> two = values(sum(input, dims));
      omp_set_num_threads(threads_before);
      check_close(one, expected, dtype == DType::Float32 ? 1e-6 : 1e-12, 1e-6);
      CHECK(one == two);
    }
  }
}

TEST_CASE("a big full sum is accurate (accumulates in double)") {
  Array x = full({1 << 20}, 0.1f);
  // In float32, adding 0.1 a million times one by one drifts by ~1%; the result must not.
  CHECK(sum(x).item() == doctest::Approx(104857.6).epsilon(1e-6));
}

TEST_CASE("var with and without Bessel's correction") {
  Array x = from_rows({{1, 2, 3, 4}, {2, 2, 2, 2}}, DType::Float64);
  CHECK(values(var(x, {1})) == std::vector<double>{5.0 / 3.0, 0.0});
  CHECK(values(var(x, {1}, 0)) == std::vector<double>{1.25, 0.0});
}

TEST_CASE("argmax/argmin: first of ties, NaN wins, flattened version") {
  Array x = from_rows({{1, 5, 5, 0}, {7, 2, 7, -1}});
  CHECK(values(argmax(x, 1)) == std::vector<double>{1, 0});
  CHECK(values(argmin(x, 1)) == std::vector<double>{3, 3});
  CHECK(values(argmax(x, 0)) == std::vector<double>{1, 0, 1, 0});
  CHECK(argmax(x, 1, true).shape() == Shape{2, 1});
  CHECK(argmax(x).item() == 4);
  Array with_nan = from_vector(std::vector<float>{1, NAN, 3});
  CHECK(argmax(with_nan, 0).item() == 1);
  CHECK(std::isnan(amax(with_nan).item()));
  CHECK(error_message([] { amax(zeros({0, 3}), {0}); }).find("cannot reduce over dim 0 of size 0") !=
        std::string::npos);
  CHECK(sum(zeros({0, 3}), {0}).to_vector<double>() == std::vector<double>{0, 0, 0});
}

TEST_CASE("sum_to reverses broadcasting") {
  Array g = ones({2, 3, 4});
  CHECK(values(sum_to(g, {3, 1})) == std::vector<double>(3, 8.0));
  CHECK(sum_to(g, {4}).shape() == Shape{4});
  CHECK(values(sum_to(g, {})) == std::vector<double>{24});
}

// ---- matmul ------------------------------------------------------------------------------------

namespace {
// C = A B for row-major A [m, k], B [k, n], in double.
std::vector<double> matmul_loops(const std::vector<double>& a, const std::vector<double>& b,
                                 int m, int k, int n) {
  std::vector<double> c(m * n, 0.0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j)
      for (int p = 0; p < k; ++p) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}
}  // namespace

TEST_CASE("matmul of matrices matches a triple loop, including odd sizes and transposed operands") {
  Generator gen(5);
  for (auto [m, k, n] : {std::array{1, 1, 1}, std::array{3, 5, 2}, std::array{17, 33, 9},
                         std::array{64, 31, 70}}) {
    Array a = uniform({m, k}, -1, 1, gen);
    Array b = uniform({k, n}, -1, 1, gen);
    check_close(values(matmul(a, b)), matmul_loops(values(a), values(b), m, k, n), 1e-5, 1e-5);
    // Same product from transposed storage: A = (A^T)^T, B = (B^T)^T.
    Array at = a.t().contiguous().t(), bt = b.t().contiguous().t();
    if (m > 1 && k > 1) CHECK_FALSE(at.is_contiguous());
    check_close(values(matmul(at, bt)), matmul_loops(values(a), values(b), m, k, n), 1e-5, 1e-5);
  }
}

TEST_CASE("batched matmul with broadcast batch dims, and 1-d operands") {
  Generator gen(6);
  Array a = uniform({2, 1, 3, 4}, -1, 1, gen, DType::Float64);
  Array b = uniform({5, 4, 2}, -1, 1, gen, DType::Float64);
  Array c = matmul(a, b);
  CHECK(c.shape() == Shape{2, 5, 3, 2});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 5; ++j)
      check_close(values(c.select(0, i).select(0, j)),
                  matmul_loops(values(a.select(0, i).select(0, 0)), values(b.select(0, j)), 3, 4, 2),
                  1e-12);
  Array v = from_vector(std::vector<double>{1, 2, 3});
  Array m = from_rows({{1, 0}, {0, 1}, {1, 1}}, DType::Float64);
  CHECK(matmul(v, v).dim() == 0);
  CHECK(matmul(v, v).item() == 14);
  CHECK(values(matmul(v, m)) == std::vector<double>{4, 5});
  CHECK(values(matmul(m.t(), v)) == std::vector<double>{4, 5});
  CHECK(matmul(zeros({2, 0}), zeros({0, 3})).to_vector<double>() == std::vector<double>(6, 0.0));
}

TEST_CASE("matmul errors name the shapes") {
  CHECK(error_message([] { matmul(zeros({2, 3}), zeros({4, 5})); }) ==
        "matmul: cannot multiply [2, 3] by [4, 5] (inner sizes 3 != 4)");
  CHECK(error_message([] { matmul(zeros({2, 2, 3}), zeros({3, 3, 1})); }) ==
        "matmul: shapes [2] and [3] cannot be broadcast (dim -1: 2 vs 3)");
  CHECK(error_message([] { matmul(scalar(1), zeros({3})); }).find("at least 1 dim") != std::string::npos);
  CHECK(error_message([] { matmul(zeros({2}), zeros({2}, DType::Float32, kCPU).to(DType::Bool)); })
            .find("bool") != std::string::npos);
}

// ---- softmax -----------------------------------------------------------------------------------

TEST_CASE("softmax and log_softmax along any dim match the definition") {
  Generator gen(7);
  Array x = uniform({3, 4, 5}, -3, 3, gen, DType::Float64);
  for (std::int64_t dim : {0, 1, 2, -1}) {
    CAPTURE(dim);
    std::int64_t d = dim < 0 ? dim + 3 : dim;
    Array s = softmax(x, dim), ls = log_softmax(x, dim);
    std::vector<double> expected(60), expected_log(60);
    std::vector<double> v = values(x);
    Shape shape = x.shape();
    for (std::int64_t i = 0; i < 60; ++i) {
      std::vector<std::int64_t> index = unravel(i, shape);
      double total = 0;
      for (std::int64_t j = 0; j < shape[d]; ++j) {
        std::vector<std::int64_t> other = index;
        other[d] = j;
        total += std::exp(v[(other[0] * 4 + other[1]) * 5 + other[2]]);
      }
      expected[i] = std::exp(v[i]) / total;
      expected_log[i] = v[i] - std::log(total);
    }
    check_close(values(s), expected, 1e-12, 1e-15);
    check_close(values(ls), expected_log, 1e-12, 1e-15);
  }
}

TEST_CASE("softmax is stable for huge inputs where the naive formula overflows") {
  Array x = from_vector(std::vector<float>{1000, 1001, 1002});
  std::vector<double> s = values(softmax(x, 0));
  double e0 = 1, e1 = std::exp(1.0), e2 = std::exp(2.0), total = e0 + e1 + e2;
  check_close(s, {e0 / total, e1 / total, e2 / total}, 1e-6);
  // The naive version, exp(x) / sum(exp(x)), gives nan here (inf / inf).
  Array naive = exp(x) / sum(exp(x));
  CHECK(std::isnan(values(naive)[0]));
}

TEST_CASE("softmax backward matches the Jacobian diag(s) - s s^T") {
  Generator gen(8);
  Array x = uniform({6}, -2, 2, gen, DType::Float64);
  Array g = uniform({6}, -1, 1, gen, DType::Float64);
  Array s = softmax(x, 0);
  std::vector<double> sv = values(s), gv = values(g), expected(6, 0.0);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) expected[i] += ((i == j ? sv[i] : 0.0) - sv[i] * sv[j]) * gv[j];
  check_close(values(softmax_backward(g, s, 0)), expected, 1e-12, 1e-15);
}

TEST_CASE("cat joins along a dim and checks shapes") {
  Array a = from_rows({{1, 2}, {3, 4}}), b = from_rows({{5, 6}});
  CHECK(values(cat({a, b}, 0)) == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(values(cat({a, a}, 1)) == std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4});
  CHECK(error_message([&] { cat({a, b}, 1); }).find("cat: tensor 1 has shape [1, 2]") == 0);
}

TEST_CASE("allclose and max_abs_diff") {
  Array a = from_vector(std::vector<double>{1, 2, INFINITY});
  Array b = from_vector(std::vector<double>{1, 2.0000001, INFINITY});
  CHECK(allclose(a, b, 1e-6));
  CHECK_FALSE(allclose(a, b, 1e-9, 0));
  CHECK(max_abs_diff(a.slice(0, 0, 2), b.slice(0, 0, 2)) == doctest::Approx(1e-7));
}

TEST_CASE("max_abs_diff: one rule for infinities and NaN, never NaN itself") {
  auto diff = [](std::vector<double> x, std::vector<double> y) {
    return max_abs_diff(from_vector(x), from_vector(y));
  };
  CHECK(diff({1, INFINITY, -INFINITY}, {1.5, INFINITY, -INFINITY}) == 0.5);  // same infinities: 0
  CHECK(diff({INFINITY}, {-INFINITY}) == INFINITY);                          // opposite: inf
  CHECK(diff({INFINITY}, {1e300}) == INFINITY);
  CHECK(diff({NAN, 1}, {NAN, 1}) == INFINITY);  // NaN on both sides is still never accepted
  CHECK(diff({0, 2}, {NAN, 2}) == INFINITY);
  CHECK(diff({-3, 4}, {-1, 4.25}) == 2);
  CHECK(error_message([&] { diff({1, 2}, {1}); }).find("max_abs_diff: shapes") == 0);
}
