# Exercise: scaled dot-product attention with a mask — in Python
# 练习：带掩码的缩放点积注意力（Python 版）
#
# Task
#   q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv] are numpy float32 arrays, mask [B, Tq, Tk] a numpy
#   bool array, True = blocked (PyTorch's bool convention). For each sequence:
#       scores  = q k^T / sqrt(D)                   [Tq, Tk]
#       weights = softmax of each row over the keys that are not blocked (blocked: weight 0)
#       out     = weights v                         [Tq, Dv]
#   A query whose keys are ALL blocked gets weights 0 and out 0 (not nan): this library's
#   convention (PyTorch would give nan). Return out [B, Tq, Dv].
# 任务
#   q、k、v 为 numpy float32 数组，mask [B, Tq, Tk] 为布尔数组，True 表示屏蔽。scores = q k^T / sqrt(D)，
#   每一行只在未被屏蔽的键上做 softmax（被屏蔽的权重为 0），out = weights v。若某个查询的所有键
#   都被屏蔽，它的输出为 0（不是 nan）。返回 out [B, Tq, Dv]。
#
# Check / 检查:   make exercise NAME=masked_scaled_attention LANG=py
# Stuck? / 卡住了？  make hint NAME=masked_scaled_attention
# Worked answer / 讲解:  tutorials/06_attention_masks.cpp, tutorials/python/06_attention_masks.py
import numpy as np


def masked_scaled_attention(q, k, v, mask):
    # q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv], mask [B, Tq, Tk] (True = blocked) -> [B, Tq, Dv]
    out = np.zeros(q.shape[:2] + v.shape[2:], dtype=np.float32)
    # TODO: scaled scores, -inf where blocked, softmax (a fully blocked row: 0), weights v
    return out
