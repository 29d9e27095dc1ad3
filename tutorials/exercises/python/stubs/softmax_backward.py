# Exercise: the backward of softmax — in Python
# 练习：softmax 的反向传播（Python 版）
#
# Task
#   The forward computed out = softmax(x) row by row; out and dout = dL/dout are numpy float32
#   arrays [rows, cols]. Return dx = dL/dx [rows, cols]. Within a row the Jacobian is
#   d out[j] / d x[i] = out[j] * (delta_ij - out[i]), so
#       dx[i] = sum_j dout[j] * out[j] * (delta_ij - out[i])
#   Compute it without building the [cols, cols] Jacobian: O(cols) work per row.
# 任务
#   前向对每一行计算 out = softmax(x)；out 与 dout = dL/dout 都是 [rows, cols] 的 numpy float32
#   数组。返回 dx = dL/dx [rows, cols]。每一行内 d out[j] / d x[i] = out[j] * (delta_ij - out[i])。
#   请不要构造 [cols, cols] 的雅可比矩阵：每行 O(cols) 的计算量。
#
# Check / 检查:   make exercise NAME=softmax_backward LANG=py
# Stuck? / 卡住了？  make hint NAME=softmax_backward
# Worked answer / 讲解:  tutorials/02_softmax.cpp (section 3), tutorials/python/02_softmax.py
import numpy as np


def softmax_backward(dout, out):
    # dout, out [rows, cols] -> dx [rows, cols]
    dx = np.zeros_like(out)
    # TODO: dx for every row, from dout and out
    return dx
