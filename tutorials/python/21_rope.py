# 21_rope — the whiteboard version of tutorials/21_rope.cpp
#   RoPE（旋转位置编码）是如何编码相对位置的？
#   How does RoPE (rotary position embedding) encode relative position?
# Read a head's D dims as D/2 complex numbers q_i = q[2i] + i q[2i+1] and multiply number i by
# e^{i m theta_i} at position m, theta_i = base^(-2i/D). Then
#   q_m . k_n = Re[sum_i q_i conj(k_i) e^{i (m - n) theta_i}],
# a function of m - n alone: the absolute positions cancel.
import numpy as np

from twin_check import Saved, report


def rope(x, positions, base=10000.0):
    """x [T, D] (D even), row t at positions[t]: interleaved pairs turned by positions * theta."""
    D = x.shape[-1]
    theta = base ** (-np.arange(0, D, 2) / D)                  # [D/2]
    z = x[..., 0::2] + 1j * x[..., 1::2]                       # [T, D/2] complex
    z = z * np.exp(1j * positions[:, None] * theta)            # the turn
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = z.real, z.imag
    return out


if __name__ == "__main__":
    saved = Saved("21_rope")
    q, k, base = saved["q"], saved["k"], float(saved["base"][0])
    L, D = saved["q_rotated"].shape
    positions = np.arange(L, dtype=np.float64)
    q_rotated = rope(np.tile(q, (L, 1)), positions, base)      # q at every position 0..L-1
    k_rotated = rope(np.tile(k, (L, 1)), positions, base)
    # The complex form, from q and k alone: scores[m, n] depends on m - n only.
    theta = base ** (-np.arange(0, D, 2) / D)
    h = (q[0::2] + 1j * q[1::2]) * np.conj(k[0::2] + 1j * k[1::2])             # [D/2]
    distance = positions[:, None] - positions[None, :]                          # [L, L]: m - n
    by_distance = (h * np.exp(1j * distance[..., None] * theta)).sum(-1).real   # [L, L]
    report("21_rope", [
        ("q turned at positions 0..L-1", q_rotated, saved["q_rotated"], 1e-12),
        ("k turned at positions 0..L-1", k_rotated, saved["k_rotated"], 1e-12),
        ("scores q_m . k_n", q_rotated @ k_rotated.T, saved["scores"], 1e-12),
        ("scores = Re sum_i q_i conj(k_i) e^{i(m-n) theta_i}", by_distance, saved["scores"], 1e-12),
    ])
