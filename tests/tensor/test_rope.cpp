// The rotary position embedding kernel (tensor::rotary_embedding) against a plain loop written
// here with std::complex: each pair (x[2i], x[2i+1]) times e^{i (offset + t) base^(-2i/D)}.
#include <cmath>
#include <complex>

#include "tensor/nn_ops.hpp"
#include "tests/helpers.hpp"

using namespace tensor;
using testing::check_close;
using testing::error_message;
using testing::values;

namespace {

// RoPE of the row-major values of an array of `shape` ([..., T, D]), by complex multiplication.
std::vector<double> rope_by_complex_numbers(const std::vector<double>& x, const Shape& shape,
                                            std::int64_t offset, double base, double direction) {
  const std::int64_t T = shape[shape.size() - 2], D = shape.back();
  std::vector<double> y(x.size());
  for (std::size_t row = 0; row < x.size() / D; ++row) {
    const std::int64_t position = offset + std::int64_t(row) % T;
    for (std::int64_t i = 0; i < D / 2; ++i) {
      const double frequency = 1.0 / std::pow(base, double(2 * i) / double(D));
      const std::complex<double> turn = std::polar(1.0, direction * position * frequency);
      const std::complex<double> z(x[row * D + 2 * i], x[row * D + 2 * i + 1]);
      const std::complex<double> turned = z * turn;
      y[row * D + 2 * i] = turned.real();
      y[row * D + 2 * i + 1] = turned.imag();
    }
  }
  return y;
}

}  // namespace

TEST_CASE("rotary_embedding: each pair times e^{i angle}, by complex numbers, float32 and float64") {
  Generator gen(170);
  struct Case {
    Shape shape;
    std::int64_t offset;
    double base;
  };
  const Case cases[] = {{{5, 2}, 0, 10000},     {{4, 8}, 0, 10000},   {{2, 3, 7, 8}, 3, 10000},
                        {{3, 6, 16}, 1000, 10000}, {{1, 9, 10}, 2, 500}, {{2, 1, 4}, 123456, 10}};
  for (const Case& c : cases) {
    for (DType dtype : {DType::Float64, DType::Float32}) {
      CAPTURE(shape_str(c.shape));
      CAPTURE(c.offset);
      CAPTURE(dtype_name(dtype));
      Array x = uniform(c.shape, -2, 2, gen, dtype);
      const std::vector<double> in = values(x);
      const bool f32 = dtype == DType::Float32;
      Array y = rotary_embedding(x, c.offset, c.base);
      CHECK(y.shape() == x.shape());
      CHECK(y.dtype() == dtype);
      check_close(values(y), rope_by_complex_numbers(in, c.shape, c.offset, c.base, 1.0),
                  f32 ? 1e-6 : 1e-12, f32 ? 1e-6 : 1e-12);
      Array back = rotary_embedding(x, c.offset, c.base, /*inverse=*/true);
      check_close(values(back), rope_by_complex_numbers(in, c.shape, c.offset, c.base, -1.0),
                  f32 ? 1e-6 : 1e-12, f32 ? 1e-6 : 1e-12);
    }
  }
}

TEST_CASE("rotary_embedding: position 0 is the identity; inverse undoes forward; norms kept") {
  Generator gen(171);
  Array x = uniform({3, 4, 6}, -1, 1, gen, DType::Float64);
  // Row 0 at position 0 turns by angle 0 in every pair.
  Array y = rotary_embedding(x, 0);
  CHECK(values(y.select(1, 0)) == values(x.select(1, 0)));
  CHECK(values(y.select(1, 1)) != values(x.select(1, 1)));
  check_close(values(rotary_embedding(y, 0, 10000.0, true)), values(x), 1e-14, 1e-15);
  // A rotation keeps every pair's length.
  const std::vector<double> a = values(x), b = values(y);
  for (std::size_t p = 0; p < a.size(); p += 2)
    CHECK(std::hypot(b[p], b[p + 1]) == doctest::Approx(std::hypot(a[p], a[p + 1])).epsilon(1e-14));
}

TEST_CASE("rotary_embedding: transposed, sliced and expanded inputs give the contiguous result") {
  Generator gen(172);
  Array bthd = uniform({2, 5, 3, 4}, -1, 1, gen, DType::Float64);   // [B, T, H, D]
  Array transposed = bthd.transpose(1, 2);                           // [B, H, T, D], a view
  REQUIRE(!transposed.is_contiguous());
  CHECK(values(rotary_embedding(transposed, 2)) ==
        values(rotary_embedding(transposed.contiguous(), 2)));
  Array wide = uniform({3, 5, 9}, -1, 1, gen, DType::Float32);
  Array sliced = wide.slice(-1, 1, 9, 2);  // every other element of the last dim: D = 4
  CHECK(values(rotary_embedding(sliced, 1)) == values(rotary_embedding(sliced.contiguous(), 1)));
  Array one = uniform({1, 6, 4}, -1, 1, gen, DType::Float64);
  Array expanded = one.expand({3, 6, 4});  // stride 0 along dim 0
  Array y = rotary_embedding(expanded, 0);
  CHECK(y.shape() == Shape{3, 6, 4});
  for (std::int64_t b = 0; b < 3; ++b)
    CHECK(values(y.select(0, b)) == values(rotary_embedding(one, 0).select(0, 0)));
}

TEST_CASE("rotary_embedding: bad shapes and values are refused with the shape or value named") {
  Array x({2, 3, 5}, DType::Float32);
  x.fill_(1);
  CHECK(error_message([&] { rotary_embedding(x); }).find("[2, 3, 5]") != std::string::npos);
  CHECK(error_message([&] { rotary_embedding(x); }).find("even") != std::string::npos);
  Array row({4}, DType::Float32);
  CHECK(error_message([&] { rotary_embedding(row); }).find("[4]") != std::string::npos);
  Array good({2, 4}, DType::Float32);
  good.fill_(1);
  CHECK(error_message([&] { rotary_embedding(good, -1); }).find("position_offset") !=
        std::string::npos);
  CHECK(error_message([&] { rotary_embedding(good, 0, 0.0); }).find("base") != std::string::npos);
  CHECK(error_message([&] { rotary_embedding(good, 0, NAN); }).find("base") != std::string::npos);
  Array ints = zeros({2, 4}, DType::Int64);
  CHECK(error_message([&] { rotary_embedding(ints); }).find("int64") != std::string::npos);
  // Empty arrays pass through.
  CHECK(rotary_embedding(Array({0, 4}, DType::Float32)).shape() == Shape{0, 4});
}
