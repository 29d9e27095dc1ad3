# Reference solution of python/stubs/masked_scaled_attention.py: -inf where blocked BEFORE the
# softmax; a row with every key blocked has max -inf, so it is shifted by 0 instead and divided
# only where its sum is positive: weights 0, out 0.
import numpy as np


def masked_scaled_attention(q, k, v, mask):
    scores = np.where(mask, -np.inf, q @ k.swapaxes(-2, -1) / np.sqrt(q.shape[-1]))  # [B, Tq, Tk]
    row_max = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(row_max), row_max, 0))
    total = e.sum(axis=-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return weights @ v  # [B, Tq, Dv]
