# 06_attention_masks — the whiteboard version of tutorials/06_attention_masks.cpp
#   如何在Transformer模型中实现注意力遮挡（Attention Mask）？
#   How do padding and causal masks work?
# A mask goes on the SCORES, as -inf before the softmax, so a blocked pair gets weight exactly 0
# and each row still sums to 1. Zeroing the weights after the softmax instead leaves rows that no
# longer sum to 1 and lets the future still move the normaliser. A padding mask is [B, 1, Tk], a
# causal mask [T, T] (np.triu(..., 1)); OR them to combine. (The article's answer also lists
# positional encoding, which masks nothing.) A query with no key left gets zeros here;
# torch.softmax gives nan, and -1e9 instead of -inf gives a uniform row over padding and future.
import numpy as np

from twin_check import Saved, report


def masked_softmax(scores, blocked):
    scores = np.where(blocked, -np.inf, scores)
    row_max = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(row_max), row_max, 0.0))  # exp(-inf) = 0
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)  # fully masked row: 0


def causal_mask(t):  # True above the diagonal: key j > query i is the future
    return np.triu(np.ones((t, t), dtype=bool), k=1)


def padding_mask(lengths, t):  # [B, 1, Tk]: True on the padded keys
    return (np.arange(t)[None, :] >= np.asarray(lengths)[:, None])[:, None, :]


def masked_attention(q, k, v, blocked):
    scores = q @ k.swapaxes(-2, -1) / np.sqrt(q.shape[-1])  # [..., Tq, Tk]
    weights = masked_softmax(scores, blocked)
    return weights @ v, weights


if __name__ == "__main__":
    saved = Saved("06_attention_masks")
    mask = saved["mask"]
    if mask.dtype != bool:  # an additive float mask: -inf (or a large negative) blocks
        mask = mask < -1e30
    combined = padding_mask([2, 4], 4) | causal_mask(4)
    print(f"  padding [2, 1, 4] | causal [4, 4] -> {list(combined.shape)}; "
          f"first sequence, query 3 sees keys {np.flatnonzero(~combined[0, 3]).tolist()}")
    output, weights = masked_attention(saved["q"], saved["k"], saved["v"], mask)
    report("06_attention_masks", [
        ("weights = softmax(scores with -inf where masked)", weights, saved["weights"], 1e-14),
        ("output = weights V", output, saved["output"], 1e-12),
    ])
