# mistake: mask applied after softmax (zeroed, not renormalised)
# A wrong answer the checker must name: softmax over all keys, then the future's weights zeroed.
import numpy as np


def causal_attention(q, k, v):
    T = q.shape[1]
    scores = q @ k.swapaxes(-2, -1) / np.sqrt(q.shape[-1])
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = e / e.sum(axis=-1, keepdims=True)
    return np.where(np.triu(np.ones((T, T), dtype=bool), k=1), 0, weights) @ v
