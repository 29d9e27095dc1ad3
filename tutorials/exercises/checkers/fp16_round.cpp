// Checker of tutorials/exercises/fp16_round.cpp: exercise::fp16_round against the nearest fp16
// value found the plain way: every finite fp16 value is decoded from its bits with ldexp into a
// sorted table, x is placed between its two neighbours, and x is compared with their midpoint
// (ties to the neighbour whose bit pattern is even). No bit tricks, so it shares no mistake with
// the learner's code. Cases: hand-picked values, all 65536 fp16 values (each must come back as
// itself), every midpoint between neighbours (the ties), and random floats over 48 binades.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tutorials/exercises/exercise_check.hpp"

namespace exercise {
std::uint16_t fp16_round(float x);  // the learner's
}

using namespace exercise_check;

namespace {

// The value of a finite fp16 bit pattern (sign ignored): exponent field 0 is subnormal.
double fp16_magnitude(std::uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1F;
  const int fraction = bits & 0x3FF;
  if (exponent == 0) return std::ldexp(double(fraction), -24);
  return std::ldexp(double(1024 + fraction), exponent - 25);
}

// table[i] = the value of bit pattern i, for the finite non-negative patterns 0..0x7BFF, which
// are in increasing order.
std::vector<double> fp16_table() {
  std::vector<double> table;
  for (std::uint32_t bits = 0; bits <= 0x7BFF; ++bits)
    table.push_back(fp16_magnitude(std::uint16_t(bits)));
  return table;
}

// How an answer rounds: right, or one of the named mistakes.
enum class Rounding { Right, Truncates, TiesAway, NoSubnormals, OverflowToMax };

// The fp16 bits an answer with `rounding` gives for x.
std::uint16_t round_with(float x, Rounding rounding, const std::vector<double>& table) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return sign | 0x7E00;
  if (std::isinf(x)) return sign | 0x7C00;
  const double magnitude = std::fabs(double(x));
  if (rounding == Rounding::NoSubnormals && magnitude < std::ldexp(1.0, -14)) return sign;
  // the neighbours: table[lower] <= magnitude < table[lower + 1] (65536 past the end)
  std::size_t low = 0, high = table.size();  // binary search for the last entry <= magnitude
  while (high - low > 1) {
    const std::size_t mid = (low + high) / 2;
    if (table[mid] <= magnitude) low = mid;
    else high = mid;
  }
  const std::size_t lower = low;
  const double upper_value = lower + 1 < table.size() ? table[lower + 1] : 65536.0;
  std::size_t pattern;  // 0x7C00 stands for 65536, i.e. inf
  if (table[lower] == magnitude) {
    pattern = lower;
  } else if (rounding == Rounding::Truncates) {
    pattern = magnitude >= 65536.0 ? 0x7C00 : lower;
  } else {
    const double midpoint = (table[lower] + upper_value) / 2;  // exact in double
    bool up = magnitude > midpoint;
    if (magnitude == midpoint) up = rounding == Rounding::TiesAway ? true : (lower % 2 == 1);
    if (magnitude > 65536.0) up = true;  // far above: inf
    pattern = up ? lower + 1 : lower;  // lower + 1 == 0x7C00 past 65504: inf
  }
  if (pattern >= 0x7C00) pattern = rounding == Rounding::OverflowToMax ? 0x7BFF : 0x7C00;
  return sign | std::uint16_t(pattern);
}

float from_double(double v) { return static_cast<float>(v); }

void check_values(const Case& test_case, const std::vector<float>& xs,
                  const std::vector<double>& table) {
  auto answers = [&](Rounding rounding) {
    std::vector<double> bits;
    for (float x : xs) bits.push_back(round_with(x, rounding, table));
    return bits;
  };
  std::vector<double> got;
  for (float x : xs) got.push_back(exercise::fp16_round(x));
  Output out{.name = "bits",
             .shape = {static_cast<std::int64_t>(xs.size())},
             .expected = answers(Rounding::Right),
             .hint = "the value is the fp16 bit pattern as an integer (15360 = 0x3C00 = 1.0).\n"
                     "Compare x with the midpoint of its two fp16 neighbours; on a tie take the\n"
                     "neighbour whose last fraction bit is 0.",
             .rtol = 0,
             .atol = 0};
  out.mistakes = {
      {"low bits cut off (rounds toward zero)",
       "dropping the bits fp16 cannot hold rounds toward zero (error up to a whole step, and\n"
       "always the same way). Round to nearest: up when the dropped bits are more than half.",
       answers(Rounding::Truncates)},
      {"ties rounded away from zero, not to even",
       "exactly halfway, IEEE 754 rounds to the neighbour with an even last bit (so ties go up\n"
       "and down equally often, and sums do not drift). Up only when the kept part is odd.",
       answers(Rounding::TiesAway)},
      {"values below 2^-14 flushed to zero (no subnormals)",
       "below 2^-14 fp16 still has subnormals, multiples of 2^-24 (fraction * 2^-24 with exponent\n"
       "field 0): drop more bits instead of returning 0.",
       answers(Rounding::NoSubnormals)},
      {"overflow saturates at 65504 instead of giving inf",
       "a value that rounds above 65504 is inf in IEEE fp16 (0x7C00 with the sign): this is\n"
       "what makes a loss scale that is too large visible, as an inf gradient.",
       answers(Rounding::OverflowToMax)},
  };
  expect_close(test_case, out, got);
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv, "fp16_round", [] {
    const std::vector<double> table = fp16_table();

    // 1. Hand-picked values: ties, the largest value, overflow, subnormals, signs, specials.
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> special = {0.0f,
                                  -0.0f,
                                  1.0f,
                                  -2.0f,
                                  from_double(1 + std::ldexp(1.0, -11)),      // tie: stays 1
                                  from_double(1 + 3 * std::ldexp(1.0, -11)),  // tie: goes up
                                  from_double(1 + std::ldexp(1.0, -11) + std::ldexp(1.0, -20)),
                                  0.1f,
                                  -3.14159265f,
                                  2049.0f,
                                  65504.0f,
                                  65519.0f,
                                  65520.0f,  // tie between 65504 and 65536: inf
                                  -65520.0f,
                                  1e6f,
                                  from_double(std::ldexp(1.0, -14)),
                                  from_double(std::ldexp(1.0, -14) - std::ldexp(1.0, -25)),
                                  from_double(std::ldexp(1000.3, -24)),
                                  from_double(std::ldexp(1.0, -24)),
                                  from_double(std::ldexp(1.0, -25)),  // tie with 0: 0
                                  from_double(std::ldexp(3.0, -26)),
                                  from_double(std::ldexp(3.0, -25)),  // tie: 2^-23
                                  from_double(-std::ldexp(1.0, -26)),
                                  1e-10f,
                                  1e-40f,  // a float subnormal
                                  inf,
                                  -inf,
                                  std::numeric_limits<float>::quiet_NaN()};
    check_values({1, 4, "28 hand-picked values: ties, 65504, 65520, subnormals, -0, inf, NaN"},
                 special, table);

    // 2. Every fp16 value must come back as itself (NaN patterns as 0x7E00 with their sign).
    std::vector<float> every;
    for (std::uint32_t bits = 0; bits < 65536; ++bits) {
      const int exponent = (bits >> 10) & 0x1F;
      const double sign = (bits & 0x8000) ? -1.0 : 1.0;
      if (exponent == 31)
        every.push_back((bits & 0x3FF) ? std::copysign(std::numeric_limits<float>::quiet_NaN(),
                                                       float(sign))
                                       : float(sign) * inf);
      else
        every.push_back(from_double(sign * fp16_magnitude(std::uint16_t(bits))));
    }
    check_values({2, 4, "all 65536 fp16 bit patterns, as floats: each is its own nearest value"},
                 every, table);

    // 3. Every midpoint between two neighbouring fp16 values, both signs: all ties.
    std::vector<float> ties;
    for (std::size_t i = 0; i + 1 <= table.size(); ++i) {
      const double next = i + 1 < table.size() ? table[i + 1] : 65536.0;
      const double midpoint = (table[i] + next) / 2;  // has at most 13 significant bits: a float
      ties.push_back(from_double(midpoint));
      ties.push_back(from_double(-midpoint));
    }
    check_values({3, 4, "the 63488 midpoints between neighbouring fp16 values (ties)"}, ties,
                 table);

    // 4. Random floats over 2^-30 .. 2^18, both signs.
    Generator gen(28);
    std::vector<float> random;
    for (int i = 0; i < 20000; ++i) {
      const int exponent = -30 + int(gen.uniform() * 48);
      const double v = std::ldexp(1.0 + gen.uniform(), exponent);
      random.push_back(from_double(gen.uniform() < 0.5 ? -v : v));
    }
    check_values({4, 4, "20000 random floats, magnitudes 2^-30 .. 2^18"}, random, table);
  });
}
