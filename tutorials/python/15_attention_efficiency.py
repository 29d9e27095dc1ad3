# 15_attention_efficiency — the whiteboard version of tutorials/15_attention_efficiency.cpp (part 2)
#   如何优化注意力机制的计算效率？
#   How can attention's computation be made efficient?
# FlashAttention's idea in numpy: never build the T x T matrix. Walk over the keys in tiles and keep,
# per query, the running max m, the running sum l of exp(s - m) and the unnormalised output acc;
# when a tile raises the max, rescale what was accumulated by exp(m_old - m_new). Memory O(T), the
# same result to rounding. The backward needs only the saved log-sum-exp (here: recomputed P):
#   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),
#   dQ = dS K / sqrt(D),  dK = dS^T Q / sqrt(D)
import numpy as np

from twin_check import Saved, report


def tiled_attention(q, k, v, tile=64):  # q, k, v [..., T, D]
    scale = 1 / np.sqrt(q.shape[-1])
    m = np.full(q.shape[:-1] + (1,), -np.inf)  # running max per query
    l = np.zeros(q.shape[:-1] + (1,))  # running sum of exp(s - m)
    acc = np.zeros(q.shape[:-1] + v.shape[-1:])  # running sum of exp(s - m) v
    for start in range(0, k.shape[-2], tile):
        s = q @ k[..., start:start + tile, :].swapaxes(-2, -1) * scale  # [..., T, tile]
        m_new = np.maximum(m, s.max(-1, keepdims=True))
        p = np.exp(s - m_new)
        correction = np.exp(m - m_new)  # rescale the old partial sums to the new max
        l = l * correction + p.sum(-1, keepdims=True)
        acc = acc * correction + p @ v[..., start:start + tile, :]
        m = m_new
    return acc / l


def attention_backward(q, k, v, d_out):  # the gradients of softmax(q k^T / sqrt(D)) v
    scale = 1 / np.sqrt(q.shape[-1])
    s = q @ k.swapaxes(-2, -1) * scale
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = p @ v
    dv = p.swapaxes(-2, -1) @ d_out
    dp = d_out @ v.swapaxes(-2, -1)
    ds = p * (dp - (d_out * out).sum(-1, keepdims=True))  # softmax's backward, row by row
    return ds @ k * scale, ds.swapaxes(-2, -1) @ q * scale, dv


if __name__ == "__main__":
    saved = Saved("15_attention_efficiency")
    q, k, v = (saved[n].astype(np.float64) for n in ("q", "k", "v"))  # float32 in the C++ program
    dq, dk, dv = attention_backward(q, k, v, saved["upstream"].astype(np.float64))
    report("15_attention_efficiency", [  # the C++ program ran in float32: tolerances to match
        ("tiled online-softmax output (tiles of 64)", tiled_attention(q, k, v), saved["output"],
         1e-5),
        ("dQ", dq, saved["dq"], 1e-5),
        ("dK", dk, saved["dk"], 1e-5),
        ("dV", dv, saved["dv"], 1e-5),
    ])
