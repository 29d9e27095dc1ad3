# 09_positional_encoding — the whiteboard version of tutorials/09_positional_encoding.cpp
#   注意力模型中的“位置编码”是什么意思？
#   What is positional encoding, why does a Transformer need it, and how does the sinusoidal one
#   work?
# Attention is a weighted sum over a SET: shuffle the tokens and the outputs shuffle with them, so
# "dog bites man" and "man bites dog" look alike. Adding a position-dependent vector fixes that:
#   PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i), w_i = 10000^(-2i / E),
# fast pairs first, slow last. Moving k positions rotates each (sin, cos) pair by the angle k w_i,
# the same rotation at every p, so PE(p) . PE(q) = sum_i cos((p - q) w_i) depends on p - q only.
import numpy as np

from twin_check import Saved, report


def sinusoidal_positional_encoding(length, dim):
    position = np.arange(length)[:, None]  # [T, 1]
    frequency = 10000.0 ** (-np.arange(0, dim, 2) / dim)  # [E/2]: w_i
    pe = np.zeros((length, dim))
    pe[:, 0::2] = np.sin(position * frequency)  # even columns: sin
    pe[:, 1::2] = np.cos(position * frequency)  # odd columns: cos
    return pe


if __name__ == "__main__":
    saved = Saved("09_positional_encoding")
    theirs = saved["pe"]  # [T, E] float32, as the library stores it
    pe = sinusoidal_positional_encoding(*theirs.shape)
    T, E = pe.shape
    frequency = 10000.0 ** (-np.arange(0, E, 2) / E)
    offsets = np.arange(T)[:, None] - np.arange(T)[None, :]  # p - q
    dot_by_offset = np.cos(offsets[..., None] * frequency).sum(-1)  # [T, T]
    report("09_positional_encoding", [
        ("PE table (float32 in the C++ program)", pe, theirs, 1e-6),
        ("PE(p) . PE(q) = sum_i cos((p - q) w_i), from its table",
         theirs.astype(np.float64) @ theirs.T.astype(np.float64), dot_by_offset, 1e-4 * E),
    ])
