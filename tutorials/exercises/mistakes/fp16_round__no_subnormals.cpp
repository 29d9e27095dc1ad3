// Mistake: values below 2^-14 flushed to zero (no subnormals)
// A deliberately wrong fp16_round for the tests (tests/exercises/test_exercises.cpp):
// anything under the smallest normal fp16 becomes 0.
// Its checker must fail it and print the line above.
#include <cstdint>
#include <cstring>

namespace exercise {

// x -> the bits of the nearest fp16 value
std::uint16_t fp16_round(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000);
  const int exponent_field = static_cast<int>((bits >> 23) & 0xFF);
  const std::uint32_t fraction = bits & 0x7FFFFF;
  if (exponent_field == 0xFF) return sign | (fraction != 0 ? 0x7E00 : 0x7C00);  // NaN, inf

  // x = significand * 2^(exponent - 23), the significand with its leading 1 (24 bits); a
  // subnormal float has no leading 1 and the exponent of the smallest normal one.
  const int exponent = (exponent_field != 0 ? exponent_field : 1) - 127;
  const std::uint32_t significand = exponent_field != 0 ? (fraction | 0x800000) : fraction;

  // fp16 keeps 11 significant bits (13 fewer than float) down to 2^-14; below, its subnormals
  // have a fixed step of 2^-24, so one more bit goes for every step the exponent is lower.
  const int shift = 13 + (exponent < -14 ? -14 - exponent : 0);
  if (exponent < -14) return sign;  // wrong: flushes subnormals to zero
  if (shift >= 25) return sign;  // below half the smallest subnormal (the significand < 2^24)
  std::uint32_t kept = significand >> shift;
  const std::uint32_t rest = significand & ((1u << shift) - 1);
  const std::uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (kept & 1))) ++kept;  // nearest; on a tie, the even one

  if (exponent < -14) return sign | static_cast<std::uint16_t>(kept);  // subnormal (0x400 = 2^-14)
  // Normal: kept in [0x400, 0x800]. Exponent field plus the fraction (kept without its leading
  // 1); kept == 0x800 (rounded up to the next power of two) carries into the exponent field.
  const std::uint32_t result = (static_cast<std::uint32_t>(exponent + 15) << 10) + (kept - 0x400);
  if (result >= 0x7C00) return sign | 0x7C00;  // above 65504: inf
  return sign | static_cast<std::uint16_t>(result);
}

}  // namespace exercise
