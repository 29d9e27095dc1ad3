# Exercise: dot-product attention — in Python
# 练习：点积注意力（Python 版）
#
# Task
#   q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv] are numpy float32 arrays (Tq may differ from Tk,
#   D from Dv). For each of the B sequences:
#       scores  = q k^T                     [Tq, Tk]   (unscaled in this exercise)
#       weights = softmax of each row        (over the keys)
#       out     = weights v                  [Tq, Dv]
#   Return out [B, Tq, Dv].
# 任务
#   q [B, Tq, D]、k [B, Tk, D]、v [B, Tk, Dv] 是 numpy float32 数组（Tq 可以不等于 Tk，D 可以不等于
#   Dv）。对每个序列：scores = q k^T（本练习不缩放），对每一行（在键上）做 softmax 得到 weights，
#   out = weights v。返回 out [B, Tq, Dv]。
#
# Check / 检查:   make exercise NAME=dot_product_attention LANG=py
# Stuck? / 卡住了？  make hint NAME=dot_product_attention
# Worked answer / 讲解:  tutorials/03_dot_product_attention.cpp, tutorials/python/03_dot_product_attention.py
import numpy as np


def dot_product_attention(q, k, v):
    # q [B, Tq, D], k [B, Tk, D], v [B, Tk, Dv] -> out [B, Tq, Dv]
    out = np.zeros(q.shape[:2] + v.shape[2:], dtype=np.float32)
    # TODO: the scores, their softmax over the keys, the weighted sum of v's rows
    return out
