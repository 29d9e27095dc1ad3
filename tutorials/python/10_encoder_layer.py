# 10_encoder_layer — the whiteboard version of tutorials/10_encoder_layer.cpp
#   编写一个简单的 Transformer 编码器层函数。
#   Write a simple Transformer encoder layer.
# Two sublayers, each wrapped in a residual and a LayerNorm: multi-head self-attention, then a
# position-wise feed-forward network (E -> d_ff -> E with ReLU). Post-LN (the 2017 paper, PyTorch's
# default) normalises after the residual add; pre-LN normalises the sublayer's input and keeps the
# residual stream clean. Softmax is applied once, inside attention: the article's attention layer
# applies it again to weights already in [0, 1], which pulls every row toward uniform.
# The weights use nn.TransformerEncoderLayer's names (self_attn.q_proj.weight, linear1.weight, ...).
import numpy as np

from twin_check import Saved, report


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm(x, weight, bias, eps=1e-5):  # biased variance, as PyTorch
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def attention(w, prefix, x_q, x_kv, heads, blocked=None):  # nn.MultiheadAttention, eval mode
    linear = lambda x, name: x @ w[f"{prefix}.{name}.weight"].T + w[f"{prefix}.{name}.bias"]
    B, Tq, E = x_q.shape
    split = lambda t: t.reshape(B, -1, heads, E // heads).transpose(0, 2, 1, 3)  # [B, H, T, D]
    q = split(linear(x_q, "q_proj"))
    k, v = split(linear(x_kv, "k_proj")), split(linear(x_kv, "v_proj"))
    scores = q @ k.swapaxes(-2, -1) / np.sqrt(E // heads)  # [B, H, Tq, Tk]
    if blocked is not None:
        scores = np.where(blocked, -np.inf, scores)
    heads_out = softmax(scores) @ v  # softmax once
    return linear(heads_out.transpose(0, 2, 1, 3).reshape(B, Tq, E), "out_proj")


def encoder_layer(x, w, heads, norm_first):
    norm = lambda t, name: layer_norm(t, w[f"{name}.weight"], w[f"{name}.bias"])
    ffn = lambda t: np.maximum(t @ w["linear1.weight"].T + w["linear1.bias"], 0) @ \
        w["linear2.weight"].T + w["linear2.bias"]
    if norm_first:  # pre-LN: x + sublayer(LN(x))
        h = x + attention(w, "self_attn", norm(x, "norm1"), norm(x, "norm1"), heads)
        return h + ffn(norm(h, "norm2"))
    h = norm(x + attention(w, "self_attn", x, x, heads), "norm1")  # post-LN: LN(x + sublayer(x))
    return norm(h + ffn(h), "norm2")


def weights_of(saved, prefix):
    return {n[len(prefix) + 1:]: saved[n] for n in saved.names() if n.startswith(prefix + ".")}


if __name__ == "__main__":
    saved = Saved("10_encoder_layer")
    x, heads = saved["x"], int(saved["heads"][0])
    report("10_encoder_layer", [
        ("post-LN layer output", encoder_layer(x, weights_of(saved, "post"), heads, False),
         saved["post_output"], 1e-10),
        ("pre-LN layer output", encoder_layer(x, weights_of(saved, "pre"), heads, True),
         saved["pre_output"], 1e-10),
    ])
