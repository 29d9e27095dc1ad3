"""torch_models.py — the bench's models written out in PyTorch, layer by layer, to match ours.

The architecture of nn/transformer.hpp (GPT, and Transformer with norm_first = true):

    learned token and position embeddings (nn.Embedding, N(0, 1) init)
    pre-LN blocks:    x = x + attention(LayerNorm(x))
                      x = x + Linear-GELU-Linear(LayerNorm(x))          (biases, exact GELU)
    decoder blocks:   causal self-attention, then cross-attention over the encoder's output,
                      then the feed-forward, each pre-LN with a residual
    a final LayerNorm after each stack, an untied bias-free output head

Attention has biased q/k/v/out projections (4 E^2 + 4 E parameters), initialised as ours:
Xavier-uniform q, k and v weights (each [E, E] block on its own), zero biases, out_proj with
nn.Linear's init. How PyTorch computes it is a choice (ATTENTION_IMPLS); the bench times each
and keeps the fastest, so the comparison is with PyTorch at its best:

    packed-sdpa   one Linear [3E, E] for q, k, v (for cross-attention: q from its rows [0, E),
                  k and v from rows [E, 3E)), then torch 1.13's F._scaled_dot_product_attention
    packed        the same projection, then q k^T, softmax and weights @ v written out
    separate      four nn.Linear (as ours), attention written out
    mha           nn.MultiheadAttention(batch_first=True) (the packed in_proj_weight)

All four have the same parameters and compute the same function.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ATTENTION_IMPLS = ("packed-sdpa", "packed", "separate", "mha")
HAVE_SDPA = hasattr(F, "_scaled_dot_product_attention")
if not HAVE_SDPA:
    ATTENTION_IMPLS = tuple(impl for impl in ATTENTION_IMPLS if impl != "packed-sdpa")


def _xavier_blocks_(weight, blocks):
    """Xavier-uniform on each of `blocks` row blocks of weight on its own (ours: separate
    [E, E] projections; PyTorch's own init would treat the packed [3E, E] as one matrix)."""
    with torch.no_grad():
        for block in weight.chunk(blocks, 0):
            nn.init.xavier_uniform_(block)


class Attention(nn.Module):
    def __init__(self, d_model, nhead, impl):
        super().__init__()
        if impl not in ATTENTION_IMPLS:
            raise ValueError(f"attention impl {impl!r} is not one of {ATTENTION_IMPLS}")
        self.d_model, self.nhead, self.impl = d_model, nhead, impl
        self.head_dim = d_model // nhead
        self._masks = {}
        if impl == "mha":
            self.mha = nn.MultiheadAttention(d_model, nhead, batch_first=True)
            _xavier_blocks_(self.mha.in_proj_weight, 3)
            nn.init.zeros_(self.mha.in_proj_bias)
            nn.init.zeros_(self.mha.out_proj.bias)
            return
        if impl.startswith("packed"):
            self.in_proj = nn.Linear(d_model, 3 * d_model)
            _xavier_blocks_(self.in_proj.weight, 3)
            nn.init.zeros_(self.in_proj.bias)
        else:
            self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d_model, d_model) for _ in range(3))
            for proj in (self.q_proj, self.k_proj, self.v_proj):
                nn.init.xavier_uniform_(proj.weight)
                nn.init.zeros_(proj.bias)
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.zeros_(self.out_proj.bias)

    def _causal(self, tq, tk, blocked):
        """[tq, tk] bool mask, cached: True where key j > query i (blocked) or its negation."""
        key = (tq, tk, blocked)
        if key not in self._masks:
            mask = torch.ones(tq, tk, dtype=torch.bool).triu(1)
            self._masks[key] = mask if blocked else ~mask
        return self._masks[key]

    def forward(self, x, memory=None, causal=False):
        """x [B, Tq, E] attends over itself (memory None) or over memory [B, Tk, E]."""
        source = x if memory is None else memory
        B, Tq, E = x.shape
        Tk = source.shape[1]
        if self.impl == "mha":
            mask = self._causal(Tq, Tk, True) if causal else None
            return self.mha(x, source, source, attn_mask=mask, need_weights=False)[0]
        if self.impl.startswith("packed"):
            if memory is None:
                q, k, v = self.in_proj(x).chunk(3, -1)
            else:
                w, b = self.in_proj.weight, self.in_proj.bias
                q = F.linear(x, w[:E], b[:E])
                k, v = F.linear(source, w[E:], b[E:]).chunk(2, -1)
        else:
            q, k, v = self.q_proj(x), self.k_proj(source), self.v_proj(source)
        H, D = self.nhead, self.head_dim
        q = q.view(B, Tq, H, D).transpose(1, 2)
        k = k.view(B, Tk, H, D).transpose(1, 2)
        v = v.view(B, Tk, H, D).transpose(1, 2)
        if self.impl == "packed-sdpa":
            out, _ = F._scaled_dot_product_attention(q, k, v, None, 0.0, False, causal)
        else:
            scores = torch.matmul(q * (1.0 / math.sqrt(D)), k.transpose(-2, -1))
            if causal:
                scores = scores.masked_fill(self._causal(Tq, Tk, True), float("-inf"))
            out = torch.matmul(scores.softmax(-1), v)
        return self.out_proj(out.transpose(1, 2).reshape(B, Tq, E))


class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.linear2(F.gelu(self.linear1(x)))


class EncoderBlock(nn.Module):
    """Pre-LN self-attention + feed-forward (with causal=True, a GPT block)."""

    def __init__(self, d_model, nhead, d_ff, impl):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_attn = Attention(d_model, nhead, impl)
        self.ff = FeedForward(d_model, d_ff)

    def forward(self, x, causal=False):
        x = x + self.self_attn(self.norm1(x), causal=causal)
        return x + self.ff(self.norm2(x))


class DecoderBlock(nn.Module):
    def __init__(self, d_model, nhead, d_ff, impl):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attn = Attention(d_model, nhead, impl)
        self.cross_attn = Attention(d_model, nhead, impl)
        self.ff = FeedForward(d_model, d_ff)

    def forward(self, x, memory):
        x = x + self.self_attn(self.norm1(x), causal=True)
        x = x + self.cross_attn(self.norm2(x), memory)
        return x + self.ff(self.norm3(x))


class GPT(nn.Module):
    """Decoder-only: ids [B, T] -> logits [B, T, vocab]."""

    def __init__(self, vocab, context, d_model, nhead, num_layers, d_ff, impl):
        super().__init__()
        self.tok_embed = nn.Embedding(vocab, d_model)
        self.pos_embed = nn.Embedding(context, d_model)
        self.layers = nn.ModuleList(EncoderBlock(d_model, nhead, d_ff, impl)
                                    for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, ids):
        h = self.tok_embed(ids) + self.pos_embed.weight[: ids.shape[1]]
        for layer in self.layers:
            h = layer(h, causal=True)
        return self.head(self.norm(h))


class Seq2Seq(nn.Module):
    """Encoder-decoder: src [B, S], tgt [B, T] -> logits [B, T, tgt_vocab]."""

    def __init__(self, src_vocab, tgt_vocab, max_len, d_model, nhead, num_encoder_layers,
                 num_decoder_layers, d_ff, impl):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
        self.src_pos = nn.Embedding(max_len, d_model)
        self.tgt_pos = nn.Embedding(max_len, d_model)
        self.encoder = nn.ModuleList(EncoderBlock(d_model, nhead, d_ff, impl)
                                     for _ in range(num_encoder_layers))
        self.encoder_norm = nn.LayerNorm(d_model)
        self.decoder = nn.ModuleList(DecoderBlock(d_model, nhead, d_ff, impl)
                                     for _ in range(num_decoder_layers))
        self.decoder_norm = nn.LayerNorm(d_model)
        self.output = nn.Linear(d_model, tgt_vocab, bias=False)

    def encode(self, src):
        h = self.src_embed(src) + self.src_pos.weight[: src.shape[1]]
        for layer in self.encoder:
            h = layer(h)
        return self.encoder_norm(h)

    def decode(self, tgt, memory):
        h = self.tgt_embed(tgt) + self.tgt_pos.weight[: tgt.shape[1]]
        for layer in self.decoder:
            h = layer(h, memory)
        return self.output(self.decoder_norm(h))

    def forward(self, src, tgt):
        return self.decode(tgt, self.encode(src))


def num_parameters(model):
    return sum(p.numel() for p in model.parameters())
