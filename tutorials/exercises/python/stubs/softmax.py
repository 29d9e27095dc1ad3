# Exercise: softmax, numerically stable — in Python
# 练习：数值稳定的 softmax（Python 版）
#
# Task
#   x is a numpy float32 array [rows, cols] of scores. Return the softmax of every row, same shape:
#       out[r, c] = exp(x[r, c]) / sum_j exp(x[r, j])
#   Each row of the result is a probability distribution (entries >= 0, summing to 1).
#   It must be right for any scores: the checker feeds small ones, ones around +1000 and -1000,
#   and rows with -inf entries (masked positions: probability exactly 0).
# 任务
#   x 是形状为 [rows, cols] 的 numpy float32 数组。返回每一行的 softmax，形状不变：
#       out[r, c] = exp(x[r, c]) / sum_j exp(x[r, j])
#   结果的每一行都是概率分布（非负，和为 1）。对任何分数都必须正确：检查程序会输入较小的分数、
#   +1000 和 -1000 左右的分数，以及含 -inf 的行（被屏蔽的位置，概率恰为 0）。
#
# Check / 检查:   make exercise NAME=softmax LANG=py
#   (the same checker as the C++ exercise: it hands your function its inputs as .npy files)
# Stuck? / 卡住了？  make hint NAME=softmax
# Worked answer / 讲解:  tutorials/02_softmax.cpp, tutorials/python/02_softmax.py
import numpy as np


def softmax(x):
    # x: [rows, cols] -> softmax of each row: [rows, cols]
    out = np.zeros_like(x)
    # TODO: out[r, :] = softmax of row r, for every row r
    return out
