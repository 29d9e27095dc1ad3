# mistake: softmax over the wrong axis (over the queries)
# A wrong answer the checker must name: each key's column of scores normalised instead of each row.
import numpy as np


def dot_product_attention(q, k, v):
    scores = q @ k.swapaxes(-2, -1)
    e = np.exp(scores - scores.max(axis=-2, keepdims=True))
    return (e / e.sum(axis=-2, keepdims=True)) @ v
