# 16_rnn_attention — the whiteboard version of tutorials/16_rnn_attention.cpp
#   如何在循环神经网络（RNN）中实现注意力机制？
#   How is attention implemented in a recurrent neural network (RNN)?
# Bahdanau attention: a bidirectional GRU encoder leaves one state h_j per source position; before
# emitting token t the decoder scores every h_j against its previous state s,
#   e_j = v^T tanh(W_s s + W_h h_j),  a = softmax(e),  c = sum_j a_j h_j,
# and feeds c, next to the previous token, into its GRU step. Without attention the decoder gets one
# fixed vector for the whole source. Weights: the trained C++ model's, with its parameter names.
import numpy as np

from twin_check import Saved, report


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gru_cell(w, name, x, h):  # torch.nn.GRUCell's equations; gates in (r, z, n) blocks of rows
    ir, iz, i_n = np.split(x @ w[f"{name}.input.weight"].T + w[f"{name}.input.bias"], 3, -1)
    hr, hz, h_n = np.split(h @ w[f"{name}.hidden.weight"].T + w[f"{name}.hidden.bias"], 3, -1)
    r, z = sigmoid(ir + hr), sigmoid(iz + hz)
    return (1 - z) * np.tanh(i_n + r * h_n) + z * h


def encode(w, src):  # src [B, S] -> states [B, S, 2H], summary [B, 2H]
    x = w["src_embed.weight"][src]  # [B, S, E]
    B, S, _ = x.shape
    zeros = np.zeros((B, w["forward_gru.hidden.weight"].shape[1]))
    fwd, bwd, h = [], [None] * S, zeros
    for j in range(S):
        h = gru_cell(w, "forward_gru", x[:, j], h)
        fwd.append(h)
    h = zeros
    for j in reversed(range(S)):
        h = bwd[j] = gru_cell(w, "backward_gru", x[:, j], h)
    states = np.concatenate([np.stack(fwd, 1), np.stack(bwd, 1)], -1)
    return states, np.concatenate([fwd[-1], bwd[0]], -1)


def decode_step(w, previous, state, states):  # previous [B], state [B, H], states [B, S, 2H]
    embedded = w["tgt_embed.weight"][previous]  # [B, E]
    hidden = np.tanh((state @ w["attention.w_q.weight"].T)[:, None, :]  # [B, S, H]
                     + states @ w["attention.w_k.weight"].T)
    scores = (hidden @ w["attention.v.weight"].T)[..., 0]  # [B, S]: e_j = v^T tanh(W_s s + W_h h_j)
    a = np.exp(scores - scores.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    context = (a[:, :, None] * states).sum(1)  # [B, 2H] = sum_j a_j h_j
    new_state = gru_cell(w, "decoder_gru", np.concatenate([embedded, context], -1), state)
    features = np.concatenate([new_state, context, embedded], -1)
    return features @ w["output.weight"].T + w["output.bias"], new_state


def teacher_forced_logits(w, src, tgt_in):  # [B, T, V]
    states, summary = encode(w, src)
    state = np.tanh(summary @ w["init.weight"].T + w["init.bias"])
    logits = []
    for t in range(tgt_in.shape[1]):
        step_logits, state = decode_step(w, tgt_in[:, t], state, states)
        logits.append(step_logits)
    return np.stack(logits, 1)


if __name__ == "__main__":
    saved = Saved("16_rnn_attention")
    w = {name: saved[name].astype(np.float64) for name in saved.names()
         if name not in ("src", "tgt_in", "logits")}  # the weights
    logits = teacher_forced_logits(w, saved["src"], saved["tgt_in"])
    report("16_rnn_attention", [  # the C++ model runs in float32
        ("teacher-forced logits of the held-out batch", logits, saved["logits"], 1e-5),
        ("greedy tokens (argmax)", logits.argmax(-1), saved["logits"].argmax(-1), 0),
    ])
