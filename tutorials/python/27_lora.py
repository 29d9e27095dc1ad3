# 27_lora — the whiteboard version of tutorials/27_lora.cpp
#   LoRA 是如何只用很少的参数微调模型的？
#   How does LoRA fine-tune a model with few parameters?
# The pretrained W [out, in] stays frozen; LoRA learns A [r, in] and B [out, r] and adds their
# product, scaled by alpha / r:
#     y = x W^T + b + (alpha / r) (x A^T) B^T        r (in + out) trainable numbers, not in * out
# After training, W + (alpha / r) B A is one matrix again (merged): the same outputs at the base
# model's cost; subtracting it again gives W back.
# The C++ program saved one adapted layer of its fine-tuned model (W, b, A, B, alpha, r), a random
# input and the layer's outputs before and after merging: numpy recomputes them.
import numpy as np

from twin_check import Saved, report


def lora_forward(x, weight, bias, A, B, alpha, r):
    return x @ weight.T + bias + (alpha / r) * (x @ A.T) @ B.T  # [N, out]


def lora_merge(weight, A, B, alpha, r):
    return weight + (alpha / r) * B @ A  # [out, in]


if __name__ == "__main__":
    saved = Saved("27_lora")
    x, weight, bias, A, B = (saved[n].astype(np.float64) for n in ("x", "weight", "bias", "A", "B"))
    alpha, r = float(saved["alpha"][0]), int(saved["rank"][0])
    merged = lora_merge(weight, A, B, alpha, r)
    out_features, in_features = weight.shape
    print(f"  layer {in_features} -> {out_features}, r = {r}, alpha = {alpha:g}: "
          f"{r * (in_features + out_features)} trainable values instead of {in_features * out_features}")
    scale = max(1.0, np.abs(merged).max())  # float32 rounding in the C++ program is relative to it
    report("27_lora", [
        ("y = x W^T + b + (alpha/r) x A^T B^T", lora_forward(x, weight, bias, A, B, alpha, r),
         saved["lora_output"], 1e-5 * scale),
        ("merged W + (alpha/r) B A", merged, saved["merged_weight"], 1e-6 * scale),
        ("the merged layer's output x W'^T + b", x @ merged.T + bias, saved["merged_output"], 1e-5 * scale),
        ("unmerged: W back", weight, saved["unmerged_weight"], 1e-6 * scale),
    ])
