# 07_self_attention — the whiteboard version of tutorials/07_self_attention.cpp
#   请使用 PyTorch 实现一个简单的自注意力机制。
#   Implement a simple self-attention mechanism (W_q, W_k, W_v) in a framework such as PyTorch.
# Written in numpy: it is the forward an interviewer reads (the PyTorch module is the same three
# nn.Linear and these four lines in forward). The article's two bugs, fixed:
#   keys.T on a [B, T, D] tensor reverses ALL axes ([D, T, B]): transpose the last two only;
#   no division by sqrt(D): with D = 512 the softmax rows turn nearly one-hot.
import numpy as np

from twin_check import Saved, report


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def linear(x, weight, bias):  # nn.Linear: weight is [out, in]
    return x @ weight.T + bias


def self_attention(x, w_q, b_q, w_k, b_k, w_v, b_v):
    q, k, v = linear(x, w_q, b_q), linear(x, w_k, b_k), linear(x, w_v, b_v)  # [B, T, D] each
    scores = q @ k.swapaxes(-2, -1) / np.sqrt(q.shape[-1])  # [B, T, T], not k.T
    weights = softmax(scores)
    return weights @ v, weights, (q, k, v)


if __name__ == "__main__":
    saved = Saved("07_self_attention")
    output, weights, (q, k, v) = self_attention(
        saved["x"], saved["w_q"], saved["b_q"], saved["w_k"], saved["b_k"], saved["w_v"],
        saved["b_v"])
    report("07_self_attention", [
        ("q = x W_q^T + b_q", q, saved["q"], 1e-12),
        ("k = x W_k^T + b_k", k, saved["k"], 1e-12),
        ("v = x W_v^T + b_v", v, saved["v"], 1e-12),
        ("weights = softmax(q k^T / sqrt(D))", weights, saved["weights"], 1e-12),
        ("output = weights v", output, saved["output"], 1e-12),
    ])
