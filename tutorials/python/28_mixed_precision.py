# 28_mixed_precision — the whiteboard version of tutorials/28_mixed_precision.cpp
#   为什么训练用 bf16？为什么 fp16 需要损失缩放（loss scaling）？
#   Why bf16, and why does fp16 need loss scaling?
# fp16 keeps 10 significand bits and 5 exponent bits (6e-8 .. 65504); bf16 keeps 7 significand
# bits and float32's 8 exponent bits. Rounding a tiny gradient to fp16 gives 0; multiplying the
# loss by 2^k first multiplies every gradient by 2^k (exactly, in float32) and keeps it in range.
# The C++ program saved a trained model's activations and gradients with its own bf16/fp16
# roundings, and how many gradients round to 0 or inf in fp16 after scaling by 2^k. numpy rounds
# them again its own way: astype(np.float16) for fp16, and round-to-nearest-even on the upper 16
# bits of the float32 for bf16 (numpy has no bfloat16).
import numpy as np

from twin_check import Saved, report


def fp16(x):
    with np.errstate(over="ignore"):  # beyond 65504 gives inf, as it must
        return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


def bf16(x):
    # Keep the upper 16 bits of each float32, rounded to nearest, ties to even: add 0x7FFF plus the
    # lowest kept bit, then clear the low 16 bits (a carry moves into the exponent, up to inf).
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def constants():
    """[3, 4]: fp32, bf16, fp16 x largest, smallest normal, smallest subnormal, epsilon."""
    rows = []
    for info in (np.finfo(np.float32), None, np.finfo(np.float16)):
        if info is None:  # bf16: 7 significand bits, exponents -126 .. 127
            rows.append([(2 - 2.0**-7) * 2.0**127, 2.0**-126, 2.0**-133, 2.0**-7])
        else:
            rows.append([float(info.max), float(info.smallest_normal), float(info.smallest_subnormal),
                         float(info.eps)])
    return np.array(rows)


def underflow_counts(gradients, exponents):
    """For each k: how many nonzero gradients of 2^k * loss round to 0, and to inf, in fp16."""
    to_zero, to_inf = [], []
    for k in exponents:
        scaled = np.asarray(gradients, np.float32) * np.float32(2.0**k)  # exact: a power of two
        stored = fp16(scaled)
        to_zero.append(np.count_nonzero((scaled != 0) & (stored == 0)))
        to_inf.append(np.count_nonzero(np.isinf(stored)))
    return np.array(to_zero), np.array(to_inf)


if __name__ == "__main__":
    saved = Saved("28_mixed_precision")
    gradients, activations = saved["gradients"], saved["activations"]
    exponents = saved["scale_exponents"]
    to_zero, to_inf = underflow_counts(gradients, exponents)
    nonzero = np.count_nonzero(gradients)
    print(f"  {nonzero} nonzero gradients; in fp16 {to_zero[0]} round to 0 unscaled, "
          f"{to_zero[list(exponents).index(16)]} at 2^16")
    report("28_mixed_precision", [
        ("constants of fp32, bf16, fp16", constants(), saved["constants"], 0),
        ("gradients rounded to fp16 (astype float16)", fp16(gradients), saved["fp16_gradients"], 0),
        ("gradients rounded to bf16 (upper 16 bits, ties to even)", bf16(gradients), saved["bf16_gradients"], 0),
        ("activations rounded to fp16", fp16(activations), saved["fp16_activations"], 0),
        ("activations rounded to bf16", bf16(activations), saved["bf16_activations"], 0),
        ("fp16 gradients lost to 0 at each 2^k", to_zero, saved["scaled_to_zero"], 0),
        ("fp16 gradients become inf at each 2^k", to_inf, saved["scaled_to_inf"], 0),
    ])
