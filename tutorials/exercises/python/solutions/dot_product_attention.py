# Reference solution of python/stubs/dot_product_attention.py: k transposed on its LAST two axes
# (k.T would reverse all three), softmax over the keys (the last axis), the weights on the left.
import numpy as np


def dot_product_attention(q, k, v):
    scores = q @ k.swapaxes(-2, -1)  # [B, Tq, Tk]
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v  # [B, Tq, Dv]
