# 03_dot_product_attention — the whiteboard version of tutorials/03_dot_product_attention.cpp
#   给定一个序列，如何实现基于dot-product attention的注意力机制？
#   Implement dot-product attention for Q, K, V.
# The article multiplies V by the weights (V on the left): that only runs when the shapes happen
# to be square, and then computes something else. The weights go on the LEFT, [Tq, Tk] x [Tk, Dv],
# and K is transposed on its last two axes (swapaxes(-2, -1), not .T, which reverses all axes of
# a batch [B, T, D]).
import numpy as np

from twin_check import Saved, report


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def dot_product_attention(q, k, v):
    scores = q @ k.swapaxes(-2, -1)  # [..., Tq, Tk]: one score per (query, key)
    weights = softmax(scores, axis=-1)  # over the keys: each query's row sums to 1
    return weights @ v, weights, scores  # [..., Tq, Dv]: row i averages V's rows


if __name__ == "__main__":
    saved = Saved("03_dot_product_attention")
    output, weights, scores = dot_product_attention(saved["q"], saved["k"], saved["v"])
    report("03_dot_product_attention", [
        ("scores = Q K^T", scores, saved["scores"], 1e-12),
        ("weights = softmax(scores)", weights, saved["weights"], 1e-14),
        ("output = weights V", output, saved["output"], 1e-12),
    ])
