# 11_decoder_layer — the whiteboard version of tutorials/11_decoder_layer.cpp
#   编写一个简单的 Transformer 解码器层函数。自注意力和交叉注意力有什么区别？
#   Write a simple Transformer decoder layer. How do self- and cross-attention differ?
# Three sublayers: causal self-attention (Q, K, V all from the target y: position t sees <= t),
# cross-attention (Q from the target, K and V from the encoder's output `memory`: every source
# position visible), and the feed-forward network; each with a residual and a LayerNorm. The
# article's Transformer passes the two inputs the other way round (the source decoded under the
# causal mask, keys taken from the target): the target is what is decoded, memory what is read.
import numpy as np

from twin_check import Saved, report

encoder = __import__("10_encoder_layer")  # layer_norm, attention (nn.MultiheadAttention)
attention, layer_norm = encoder.attention, encoder.layer_norm


def decoder_layer(y, memory, w, heads, norm_first):
    T = y.shape[1]
    future = np.triu(np.ones((T, T), dtype=bool), k=1)  # key j > query i: blocked
    norm = lambda t, name: layer_norm(t, w[f"{name}.weight"], w[f"{name}.bias"])
    self_attn = lambda t: attention(w, "self_attn", t, t, heads, future)
    cross_attn = lambda t: attention(w, "multihead_attn", t, memory, heads)  # K, V from memory
    ffn = lambda t: np.maximum(t @ w["linear1.weight"].T + w["linear1.bias"], 0) @ \
        w["linear2.weight"].T + w["linear2.bias"]
    if norm_first:  # pre-LN
        h1 = y + self_attn(norm(y, "norm1"))
        h2 = h1 + cross_attn(norm(h1, "norm2"))
        return h2 + ffn(norm(h2, "norm3"))
    h1 = norm(y + self_attn(y), "norm1")  # post-LN
    h2 = norm(h1 + cross_attn(h1), "norm2")
    return norm(h2 + ffn(h2), "norm3")


if __name__ == "__main__":
    saved = Saved("11_decoder_layer")
    y, memory, heads = saved["y"], saved["memory"], int(saved["heads"][0])
    report("11_decoder_layer", [
        ("post-LN layer output", decoder_layer(y, memory, encoder.weights_of(saved, "post"), heads,
                                               False), saved["post_output"], 1e-10),
        ("pre-LN layer output", decoder_layer(y, memory, encoder.weights_of(saved, "pre"), heads,
                                              True), saved["pre_output"], 1e-10),
    ])
