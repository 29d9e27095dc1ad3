# 04_scaled_attention — the whiteboard version of tutorials/04_scaled_attention.cpp
#   注意力模型中的“缩放点积注意力”是什么？为什么要除以 √d_k？
#   What is scaled dot-product attention? Why divide by sqrt(d_k)?
# q.k sums d_k products: for unit-variance entries its variance is d_k, so raw scores grow like
# sqrt(d_k), softmax turns one-hot and its gradient vanishes. Dividing by sqrt(d_k) brings the
# variance back to 1 whatever d_k is.
import numpy as np

from twin_check import Saved, report


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def scaled_dot_product_attention(q, k, v):
    d_k = q.shape[-1]
    scores = q @ k.swapaxes(-2, -1) / np.sqrt(d_k)  # [..., Tq, Tk], variance ~1
    weights = softmax(scores)
    return weights @ v, weights


if __name__ == "__main__":
    saved = Saved("04_scaled_attention")
    output, weights = scaled_dot_product_attention(saved["q"], saved["k"], saved["v"])
    # Why: the variance of q.k for random unit-variance vectors is d_k (here for d_k = 256).
    rng = np.random.default_rng(0)
    raw = (rng.standard_normal((4096, 256)) * rng.standard_normal((4096, 256))).sum(-1)
    print(f"  var(q.k) at d_k = 256: {raw.var():.0f} (closed form 256); "
          f"after / sqrt(d_k): {(raw / 16).var():.2f}")
    report("04_scaled_attention", [
        ("weights = softmax(Q K^T / sqrt(d_k))", weights, saved["weights"], 1e-14),
        ("output = weights V", output, saved["output"], 1e-12),
    ])
