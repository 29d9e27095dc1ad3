// round_to_bf16 / round_to_fp16 checked three independent ways:
//  1. hand-worked cases (ties, the largest values, overflow, subnormals, signed zero, NaN, inf);
//  2. exhaustively: every one of the 65536 fp16 and bf16 bit patterns, decoded here with ldexp
//     (not with the library's bit code), must round to itself;
//  3. random float32 and float64 values must land on the representable value nearest to them,
//     found by locating the two neighbours of x in a sorted table of every fp16 value (or, for
//     bf16, by truncating the bits) and comparing x with their midpoint, ties to the even one.
// Plus the autograd op (the backward rounds the gradient) and cuda-sim against the CPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "tests/helpers.hpp"

using namespace tensor;
using testing::error_message;

namespace {

// ---- an independent model of the two formats ---------------------------------------------------

// The value of an fp16 bit pattern, from the IEEE 754 definition: sign, 5-bit exponent with bias
// 15, 10-bit fraction; exponent 0 means subnormal (fraction * 2^-24), 31 means inf or NaN.
double fp16_bits_to_double(std::uint16_t h) {
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  const int exponent = (h >> 10) & 0x1F;
  const int fraction = h & 0x3FF;
  if (exponent == 31) return fraction ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(double(fraction), -24);
  return sign * std::ldexp(double(1024 + fraction), exponent - 25);
}

// bf16 is the top half of a float32 by definition.
float bf16_bits_to_float(std::uint16_t b) {
  const std::uint32_t bits = std::uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::uint32_t float_bits(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// Every finite non-negative fp16 value, increasing (bit patterns 0x0000..0x7BFF are in order).
const std::vector<double>& fp16_table() {
  static const std::vector<double> table = [] {
    std::vector<double> t;
    for (std::uint16_t h = 0; h <= 0x7BFF; ++h) t.push_back(fp16_bits_to_double(h));
    return t;
  }();
  return table;
}

// The fp16 value nearest to x: its two neighbours from the table, then x against their midpoint
// (exact in double: both neighbours have at most 11 significant bits). Above 65504 the upper
// neighbour is 65536, which fp16 cannot hold, so rounding up there gives inf.
double nearest_fp16(double x) {
  if (std::isnan(x) || std::isinf(x)) return x;
  const double magnitude = std::fabs(x);
  const std::vector<double>& table = fp16_table();
  auto upper_it = std::upper_bound(table.begin(), table.end(), magnitude);
  const double lower = *(upper_it - 1);
  double result;
  if (lower == magnitude) {
    result = lower;
  } else {
    const bool upper_is_inf = upper_it == table.end();
    const double upper = upper_is_inf ? 65536.0 : *upper_it;
    const double midpoint = (lower + upper) / 2;
    const bool lower_is_even = ((upper_it - 1 - table.begin()) % 2) == 0;  // index == bit pattern
    if (magnitude < midpoint) result = lower;
    else if (magnitude > midpoint) result = upper;
    else result = lower_is_even ? lower : upper;
    if (result == 65536.0) result = INFINITY;
  }
  return std::copysign(result, x);
}

// The bf16 value nearest to x (float or double): the bf16 at or below |x| by truncating the bits
// of a float at or below |x|, the next one up, and x against their midpoint.
double nearest_bf16(double x) {
  if (std::isnan(x) || std::isinf(x)) return x;
  const double magnitude = std::fabs(x);
  if (magnitude >= std::ldexp(1.0, 128)) return std::copysign(INFINITY, x);
  float below = static_cast<float>(magnitude);
  if (double(below) > magnitude) below = std::nextafter(below, 0.0f);  // float conversion rounded up
  std::uint32_t lower_bits = float_bits(below) & 0xFFFF0000u;
  const double lower = bf16_bits_to_float(std::uint16_t(lower_bits >> 16));
  double result;
  if (lower == magnitude) {
    result = lower;
  } else {
    const std::uint16_t upper_pattern = std::uint16_t((lower_bits >> 16) + 1);
    // the pattern after the largest finite bf16 (0x7F7F) is inf; the value rounding would reach
    // there is 2^128
    const double upper = upper_pattern == 0x7F80 ? std::ldexp(1.0, 128)
                                                 : double(bf16_bits_to_float(upper_pattern));
    const double midpoint = (lower + upper) / 2;
    const bool lower_is_even = ((lower_bits >> 16) & 1) == 0;
    if (magnitude < midpoint) result = lower;
    else if (magnitude > midpoint) result = upper;
    else result = lower_is_even ? lower : upper;
    if (result == std::ldexp(1.0, 128)) result = INFINITY;
  }
  return std::copysign(result, x);
}

// Same value, or both NaN; zeros must agree in sign too.
bool same_value(double got, double expected) {
  if (std::isnan(expected)) return std::isnan(got);
  return got == expected && std::signbit(got) == std::signbit(expected);
}

std::vector<double> round_values(const std::vector<double>& in, bool fp16, DType dtype,
                                 Device device = kCPU) {
  Array x = from_vector(in).to(dtype).to(device);
  Array y = fp16 ? round_to_fp16(x) : round_to_bf16(x);
  CHECK(y.dtype() == dtype);
  return y.to(kCPU).to_vector<double>();
}

double round_one(double v, bool fp16, DType dtype = DType::Float32) {
  return round_values({v}, fp16, dtype)[0];
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Random values spread over many binades (random exponent, random significand, random sign),
// plus midpoints between neighbouring representable values (exact ties), for both formats.
std::vector<double> random_values(Generator& gen, int count, int min_exp, int max_exp,
                                  bool float32) {
  Array u = rand({count, 3}, gen, DType::Float64);
  std::vector<double> r = u.to_vector<double>();
  std::vector<double> out;
  for (int i = 0; i < count; ++i) {
    const int e = min_exp + int(r[3 * i] * (max_exp - min_exp + 1));
    double v = std::ldexp(1.0 + r[3 * i + 1], e) * (r[3 * i + 2] < 0.5 ? -1 : 1);
    if (float32) v = double(float(v));
    out.push_back(v);
  }
  return out;
}

}  // namespace

TEST_SUITE("reduced precision") {
  TEST_CASE("round_to_bf16: hand-worked ties, largest value, overflow, NaN, inf, signed zero") {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      CAPTURE(dtype_name(dtype));
      auto r = [&](double v) { return round_one(v, false, dtype); };
      const double one = 1.0, p8 = std::ldexp(1.0, -8), p7 = std::ldexp(1.0, -7);
      CHECK(r(one + p8) == one);                     // tie between 1 and 1+2^-7: 1 is even
      CHECK(r(one + 3 * p8) == one + 2 * p7);        // tie between 1+2^-7 (odd) and 1+2^-6
      CHECK(r(one + p8 + std::ldexp(1.0, -20)) == one + p7);  // just above the tie
      CHECK(r(one + p8 - std::ldexp(1.0, -20)) == one);       // just below it
      CHECK(r(-(one + 3 * p8)) == -(one + 2 * p7));           // symmetric in the sign
      CHECK(r(255.5) == 256.0);                      // 8 significant bits: 255.5 ties up to 256
      CHECK(r(257.0) == 256.0);                      // 257 ties between 256 (even) and 258
      CHECK(r(259.0) == 260.0);                      // 259 ties between 258 (odd) and 260
      const double largest = std::ldexp(2.0 - p7, 127);  // 0x7F7F
      CHECK(r(largest) == largest);
      CHECK(r(std::ldexp(2.0 - 3 * std::ldexp(1.0, -9), 127)) == largest);  // below the tie
      CHECK(std::isinf(r(std::ldexp(2.0 - p8, 127))));   // the tie: 0x7F7F is odd, rounds up
      CHECK(std::isinf(r(double(std::numeric_limits<float>::max()))));
      CHECK(r(-double(std::numeric_limits<float>::max())) == -INFINITY);
      CHECK(r(INFINITY) == INFINITY);
      CHECK(r(-INFINITY) == -INFINITY);
      CHECK(std::isnan(r(kNaN)));
      const double minus_zero = r(-0.0);
      CHECK((minus_zero == 0.0 && std::signbit(minus_zero)));
      // bf16 keeps float32's subnormals, with 7 bits: 2^-133 is the smallest
      CHECK(r(std::ldexp(1.0, -133)) == std::ldexp(1.0, -133));
      CHECK(r(std::ldexp(3.0, -135)) == std::ldexp(1.0, -133));  // 0.75 * 2^-133 rounds up
    }
    // the same cases on the bits: 1 + 2^-8 is 0x3F808000 and becomes 0x3F800000
    CHECK(float_bits(float(round_one(1.00390625, false))) == 0x3F800000u);
    CHECK(float_bits(float(round_one(double(bf16_bits_to_float(0x7F7F)), false))) == 0x7F7F0000u);
  }

  TEST_CASE("round_to_fp16: hand-worked ties, 65504, overflow to inf, subnormals, signed zero") {
    for (DType dtype : {DType::Float32, DType::Float64}) {
      CAPTURE(dtype_name(dtype));
      auto r = [&](double v) { return round_one(v, true, dtype); };
      const double p11 = std::ldexp(1.0, -11), p10 = std::ldexp(1.0, -10);
      CHECK(r(1 + p11) == 1.0);                       // tie: 1 is even
      CHECK(r(1 + 3 * p11) == 1 + 2 * p10);           // tie: 1+2^-10 is odd, goes up
      CHECK(r(1 + p11 + std::ldexp(1.0, -20)) == 1 + p10);
      CHECK(r(2049.0) == 2048.0);                     // integers above 2048 step by 2
      CHECK(r(2051.0) == 2052.0);
      CHECK(r(65504.0) == 65504.0);                   // the largest fp16
      CHECK(r(65519.0) == 65504.0);                   // just below the midpoint to 65536
      CHECK(r(65520.0) == INFINITY);                  // the midpoint: 65504 is odd, goes up: inf
      CHECK(r(-65520.0) == -INFINITY);
      CHECK(r(1e6) == INFINITY);
      CHECK(r(std::ldexp(1.0, -14)) == std::ldexp(1.0, -14));   // smallest normal
      CHECK(r(std::ldexp(1.0, -24)) == std::ldexp(1.0, -24));   // smallest subnormal
      CHECK(r(std::ldexp(1.0, -25)) == 0.0);                    // tie between 0 and 2^-24: 0
      CHECK(r(std::ldexp(3.0, -26)) == std::ldexp(1.0, -24));   // 0.75 * 2^-24 rounds up
      CHECK(r(std::ldexp(3.0, -25)) == std::ldexp(1.0, -23));   // 1.5 * 2^-24: tie, 2 is even
      CHECK(r(std::ldexp(5.0, -25)) == std::ldexp(1.0, -23));   // 2.5 * 2^-24: tie, 2 is even
      CHECK(r(std::ldexp(1.0, -14) - std::ldexp(1.0, -25)) == std::ldexp(1.0, -14));  // 1023.5
      CHECK(r(std::ldexp(1000.3, -24)) == std::ldexp(1000.0, -24));
      CHECK(r(1e-10) == 0.0);
      const double tiny_negative = r(-std::ldexp(1.0, -26));
      CHECK((tiny_negative == 0.0 && std::signbit(tiny_negative)));  // -0, the sign kept
      const double minus_zero = r(-0.0);
      CHECK((minus_zero == 0.0 && std::signbit(minus_zero)));
      CHECK(r(INFINITY) == INFINITY);
      CHECK(r(-INFINITY) == -INFINITY);
      CHECK(std::isnan(r(kNaN)));
      CHECK(std::isnan(r(-kNaN)));
      CHECK(r(std::ldexp(1.0, -140)) == 0.0);           // far below: 0 (float32 subnormal input)
      CHECK(r(0.1) == 0.0999755859375);                 // 0x2E66
      CHECK(r(-3.14159265) == -3.140625);               // 0xC248
    }
  }

  TEST_CASE("round_to_fp16: every one of the 65536 fp16 values rounds to itself") {
    std::vector<double> all;
    for (std::uint32_t h = 0; h < 65536; ++h) all.push_back(fp16_bits_to_double(std::uint16_t(h)));
    for (DType dtype : {DType::Float32, DType::Float64}) {
      CAPTURE(dtype_name(dtype));
      const std::vector<double> rounded = round_values(all, true, dtype);
      int wrong = 0;
      for (std::size_t i = 0; i < all.size(); ++i)
        if (!same_value(rounded[i], all[i]) && wrong++ < 5)
          FAIL_CHECK("pattern " << i << ": " << all[i] << " became " << rounded[i]);
      CHECK(wrong == 0);
    }
  }

  TEST_CASE("round_to_bf16: every one of the 65536 bf16 values rounds to itself") {
    std::vector<double> all;
    for (std::uint32_t b = 0; b < 65536; ++b) all.push_back(bf16_bits_to_float(std::uint16_t(b)));
    for (DType dtype : {DType::Float32, DType::Float64}) {
      CAPTURE(dtype_name(dtype));
      const std::vector<double> rounded = round_values(all, false, dtype);
      int wrong = 0;
      for (std::size_t i = 0; i < all.size(); ++i)
        if (!same_value(rounded[i], all[i]) && wrong++ < 5)
          FAIL_CHECK("pattern " << i << ": " << all[i] << " became " << rounded[i]);
      CHECK(wrong == 0);
    }
  }

  TEST_CASE("random float32 and float64 values round to the nearest representable value") {
    Generator gen(18);
    for (bool fp16 : {true, false}) {
      for (DType dtype : {DType::Float32, DType::Float64}) {
        CAPTURE(fp16);
        CAPTURE(dtype_name(dtype));
        const bool float32 = dtype == DType::Float32;
        // fp16: exponents from well below the subnormals to past the overflow;
        // bf16: all of float32's range, including its subnormals and overflow
        std::vector<double> xs = fp16 ? random_values(gen, 20000, -28, 17, float32)
                                      : random_values(gen, 20000, -135, 128, float32);
        // exact ties: the midpoint above a representable value a, a + half a unit in its last
        // place, for every fourth value
        const std::size_t plain = xs.size();
        for (std::size_t i = 0; i < plain; i += 4) {
          const double a = fp16 ? nearest_fp16(xs[i]) : nearest_bf16(xs[i]);
          if (std::isinf(a)) continue;
          // the next representable value above |a|: a plus one unit in its last place
          const int kept = fp16 ? 10 : 7;
          const int min_exp = fp16 ? -14 : -126;
          int e = min_exp + 1;  // for a = 0: the subnormal step
          if (a != 0) std::frexp(std::fabs(a), &e);  // |a| = m * 2^e with m in [0.5, 1)
          const double ulp = std::ldexp(1.0, std::max(e - 1, min_exp) - kept);
          xs.push_back(std::copysign(std::fabs(a) + ulp / 2, a));
        }
        const std::vector<double> rounded = round_values(xs, fp16, dtype);
        int wrong = 0;
        for (std::size_t i = 0; i < xs.size(); ++i) {
          const double expected = fp16 ? nearest_fp16(xs[i]) : nearest_bf16(xs[i]);
          if (!same_value(rounded[i], expected) && wrong++ < 5)
            FAIL_CHECK(xs[i] << " rounded to " << rounded[i] << ", nearest is " << expected);
        }
        CHECK(wrong == 0);
      }
    }
  }

  TEST_CASE("cuda-sim rounds exactly as the CPU does") {
    Generator gen(19);
    std::vector<double> xs = random_values(gen, 300, -28, 17, true);
    for (double v : std::vector<double>{0.0, -0.0, 65504.0, 65520.0, 1.00390625, 3 * std::ldexp(1.0, -26),
                     std::ldexp(1.0, -25), INFINITY, -INFINITY, kNaN})
      xs.push_back(v);
    const Device sim = Device::parse("cuda-sim");
    for (bool fp16 : {true, false})
      for (DType dtype : {DType::Float32, DType::Float64}) {
        const std::vector<double> cpu = round_values(xs, fp16, dtype);
        const std::vector<double> on_sim = round_values(xs, fp16, dtype, sim);
        for (std::size_t i = 0; i < xs.size(); ++i) CHECK(same_value(on_sim[i], cpu[i]));
      }
  }

  TEST_CASE("round_to_bf16/fp16 take floating arrays only") {
    CHECK(error_message([] { round_to_fp16(from_vector(std::vector<std::int64_t>{1, 2})); })
              .find("round_to_fp16: expects a float32 or float64 tensor, got int64") !=
          std::string::npos);
  }

  TEST_CASE("autograd: the forward rounds, the backward rounds the incoming gradient") {
    // gradients chosen around fp16's and bf16's limits: 2^-25 (a tie to 0 in fp16), 3*2^-26,
    // 1 + 2^-11, 70000 (overflows fp16), 1 + 2^-8 (a tie in bf16)
    const std::vector<double> upstream = {std::ldexp(1.0, -25), std::ldexp(3.0, -26),
                                          1 + std::ldexp(1.0, -11), 7e4, 1 + std::ldexp(1.0, -8),
                                          -1e-30};
    const std::vector<double> inputs = {0.1, -2.0, 1 + std::ldexp(1.0, -11), 65520.0, 3.0, 1e-9};
    for (bool fp16 : {true, false}) {
      CAPTURE(fp16);
      autograd::Tensor x(from_vector(inputs).to(DType::Float32), true);
      autograd::Tensor y = fp16 ? autograd::round_to_fp16(x) : autograd::round_to_bf16(x);
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        const double expected = fp16 ? nearest_fp16(double(float(inputs[i])))
                                     : nearest_bf16(double(float(inputs[i])));
        CHECK(same_value(y.at({std::int64_t(i)}), expected));
      }
      y.backward(autograd::Tensor(from_vector(upstream).to(DType::Float32)));
      const std::vector<double> grad = x.grad().to_vector<double>();
      for (std::size_t i = 0; i < upstream.size(); ++i) {
        const double g = double(float(upstream[i]));  // the gradient arrives as float32
        CHECK(same_value(grad[i], fp16 ? nearest_fp16(g) : nearest_bf16(g)));
      }
      if (fp16) {
        CHECK(grad[0] == 0.0);                      // underflowed, as in real fp16 training
        CHECK(grad[1] == std::ldexp(1.0, -24));
        CHECK(grad[3] == INFINITY);
      }
    }
  }
}
