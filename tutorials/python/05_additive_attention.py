# 05_additive_attention — the whiteboard version of tutorials/05_additive_attention.cpp
#   注意力模型有哪些常见类型？加性注意力（Additive Attention）和点积注意力相比有什么不同？
#   自注意力与卷积神经网络（CNN）和循环神经网络（RNN）相比，有哪些优势？
#   What is additive (Bahdanau) attention and how does it compare with dot-product attention?
#   And how does self-attention compare with convolution and recurrence?
# Additive attention scores each pair with a one-hidden-layer network, v^T tanh(W_q q + W_k k):
# q and k may have different sizes, and it has parameters, but it builds a [Tq, Tk, H] tensor
# where dot-product attention does one matrix product. Broadcasting does the pairs: W_q q gets a
# key axis, W_k k a query axis.
import numpy as np

from twin_check import Saved, report


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def additive_attention(q, k, v, w_q, w_k, w_v):
    # q [B, Tq, Dq], k [B, Tk, Dk], v [B, Tk, Dv]; w_q [H, Dq], w_k [H, Dk], w_v [1, H] (nn.Linear)
    hidden = np.tanh((q @ w_q.T)[:, :, None, :] + (k @ w_k.T)[:, None, :, :])  # [B, Tq, Tk, H]
    scores = (hidden @ w_v.T)[..., 0]  # [B, Tq, Tk]
    weights = softmax(scores)  # over the keys
    return weights @ v, weights  # [B, Tq, Dv]


if __name__ == "__main__":
    saved = Saved("05_additive_attention")
    output, weights = additive_attention(saved["q"], saved["k"], saved["v"], saved["w_q"],
                                         saved["w_k"], saved["w_v"])
    report("05_additive_attention", [
        ("weights = softmax(v^T tanh(W_q q + W_k k))", weights, saved["weights"], 1e-14),
        ("output = weights V", output, saved["output"], 1e-13),
    ])
