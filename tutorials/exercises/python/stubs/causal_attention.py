# Exercise: causal self-attention (a GPT decoder's) — in Python
# 练习：因果自注意力（GPT 解码器中的）（Python 版）
#
# Task
#   q, k, v are numpy float32 arrays [B, T, D]. Position i may attend only to positions j <= i:
#       scores  = q k^T / sqrt(D)            [T, T] per sequence
#       weights = softmax of each row over the keys j <= i (the future gets weight exactly 0)
#       out     = weights v                  [T, D]
#   Return out [B, T, D].
# 任务
#   q、k、v 是 [B, T, D] 的 numpy float32 数组。位置 i 只能看位置 j <= i：scores = q k^T / sqrt(D)，
#   每一行只在 j <= i 的键上做 softmax（未来的位置权重恰为 0），out = weights v。返回 [B, T, D]。
#
# Check / 检查:   make exercise NAME=causal_attention LANG=py
# Stuck? / 卡住了？  make hint NAME=causal_attention
# Worked answer / 讲解:  tutorials/06_attention_masks.cpp, tutorials/python/06_attention_masks.py
import numpy as np


def causal_attention(q, k, v):
    # q, k, v [B, T, D] -> out [B, T, D]
    out = np.zeros_like(q)
    # TODO: scaled scores, the future masked, softmax, weights v
    return out
