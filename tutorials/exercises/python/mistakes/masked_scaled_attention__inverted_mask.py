# mistake: mask inverted (true taken as allowed)
# A wrong answer the checker must name: the mask read as "True = keep" (the -inf where it is False).
import numpy as np


def masked_scaled_attention(q, k, v, mask):
    scores = np.where(~mask, -np.inf, q @ k.swapaxes(-2, -1) / np.sqrt(q.shape[-1]))
    row_max = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(row_max), row_max, 0))
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0) @ v
