// Exercise: round a float to IEEE half precision (fp16)
// 练习：把 float 舍入为 IEEE 半精度（fp16）
//
// Task
//   Return the 16 bits of the fp16 value nearest to x. fp16 is 1 sign bit, 5 exponent bits
//   (bias 15) and 10 fraction bits:
//     - exponent field 1..30: value = (1 + fraction / 1024) * 2^(exponent - 15), so the
//       largest finite value is 65504 (0x7BFF) and the smallest normal one 2^-14 (0x0400);
//     - exponent field 0: value = fraction * 2^-24 (subnormals; 0x0001 is 2^-24);
//     - exponent field 31: inf (fraction 0) or NaN.
//   Rules, as a GPU converts (IEEE 754 round to nearest, ties to even):
//     - the nearest representable value; when x lies exactly halfway between two, the one whose
//       last fraction bit is 0;
//     - a value that rounds above 65504 becomes inf (0x7C00, with the sign);
//     - values too small for the smallest subnormal round to 0, the sign kept (-0 is 0x8000);
//     - inf stays inf; any NaN gives 0x7E00 (with the sign bit of x).
//   Work on the bits of x (std::memcpy into a std::uint32_t: 1 sign, 8 exponent bits with bias
//   127, 23 fraction bits); no _Float16, no library conversion.
// 任务
//   返回离 x 最近的 fp16 值的 16 位编码。fp16 有 1 位符号、5 位指数（偏置 15）、10 位尾数：
//     - 指数域 1..30：值 = (1 + 尾数 / 1024) * 2^(指数 - 15)，最大有限值 65504（0x7BFF），
//       最小正规数 2^-14（0x0400）；
//     - 指数域 0：值 = 尾数 * 2^-24（次正规数；0x0001 是 2^-24）；
//     - 指数域 31：inf（尾数为 0）或 NaN。
//   规则与 GPU 的转换相同（IEEE 754 就近舍入，平局取偶）：
//     - 取最近的可表示值；x 恰好在两个值正中间时，取尾数最后一位为 0 的那个；
//     - 舍入后大于 65504 的值变为 inf（0x7C00，保留符号）；
//     - 小到连最小次正规数都表示不了的值舍入为 0，保留符号（-0 是 0x8000）；
//     - inf 仍为 inf；任何 NaN 都给出 0x7E00（带 x 的符号位）。
//   在 x 的比特上操作（用 std::memcpy 放进 std::uint32_t：1 位符号、8 位指数（偏置 127）、
//   23 位尾数）；不用 _Float16，也不用库里的转换。
//
// Check / 检查:   make exercise NAME=fp16_round
//
// Stuck? / 卡住了？  make hint NAME=fp16_round   (again for the next hint: a nudge first,
//   nearly the answer last)
// Worked answer / 讲解:  tutorial 28_mixed_precision (fp16 decoded from its bits; which values
//   round to 0 or inf), and tensor::math::round_to_format in tensor/scalar_math.hpp
#include <cstdint>
#include <cstring>

namespace exercise {

// x -> the bits of the nearest fp16 value
std::uint16_t fp16_round(float x) {
  std::uint16_t half_bits = 0;
  // TODO: take x apart, round its significand to fp16's, put the bits together
  return half_bits;
}

}  // namespace exercise
