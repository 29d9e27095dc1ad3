# 08_multi_head_attention — the whiteboard version of tutorials/08_multi_head_attention.cpp
#   什么是多头自注意力（Multi-Head Self-Attention）？它如何提高模型性能？
#   What is multi-head self-attention, and why use several heads?
# Project once to E = H * D, split the last axis into H heads of D, attend in each head
# separately (scale by sqrt(D), the size of what is dotted, not sqrt(E)), concatenate, and mix the
# heads with W_O. The articles' version splits E = 3 into 2 heads (impossible) and leaves out
# W_O. The weights use PyTorch's nn.MultiheadAttention layout: in_proj_weight = [W_q; W_k; W_v].
import numpy as np

from twin_check import Saved, report


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def multi_head_attention(x, heads, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                         blocked=None):
    B, T, E = x.shape
    D = E // heads
    q, k, v = np.split(x @ in_proj_weight.T + in_proj_bias, 3, axis=-1)  # [B, T, E] each
    split = lambda t: t.reshape(B, T, heads, D).transpose(0, 2, 1, 3)  # [B, H, T, D]
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.swapaxes(-2, -1) / np.sqrt(D)  # [B, H, T, T]: one map per head
    if blocked is not None:
        scores = np.where(blocked, -np.inf, scores)
    weights = softmax(scores)
    concat = (weights @ v).transpose(0, 2, 1, 3).reshape(B, T, E)  # heads side by side
    return concat @ out_proj_weight.T + out_proj_bias, weights  # W_O mixes the heads


if __name__ == "__main__":
    saved = Saved("08_multi_head_attention")
    names = saved.names()
    blocked = saved["mask"] if "mask" in names else None
    weights_saved = saved["weights"]  # [B, H, Tq, Tk]
    output, weights = multi_head_attention(
        saved["x"], weights_saved.shape[1], saved["in_proj_weight"], saved["in_proj_bias"],
        saved["out_proj_weight"], saved["out_proj_bias"], blocked)
    report("08_multi_head_attention", [
        ("per-head weights [B, H, T, T]", weights, weights_saved, 1e-12),
        ("output = concat(heads) W_O^T + b_O", output, saved["output"], 1e-12),
    ])
