# 02_softmax — the whiteboard version of tutorials/02_softmax.cpp
#   softmax函数如何实现概率分布的归一化？为什么要减去最大值？它的雅可比矩阵是什么？
#   Implement softmax. Why subtract the max? What is its Jacobian?
# The article codes np.exp(x) / np.sum(np.exp(x)) literally: exp overflows to inf above 88.7
# in float32 (709.8 in float64) and inf / inf = nan. Softmax is shift-invariant, so subtract the
# row max first: every exponent is then <= 0 and the largest term is exp(0) = 1.
import numpy as np

from twin_check import Saved, report


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))  # no overflow; a -inf entry gives exactly 0
    return e / e.sum(axis=axis, keepdims=True)


def softmax_jacobian(s):  # s [n]: J[i, j] = s_i (delta_ij - s_j)
    return np.diag(s) - np.outer(s, s)


def softmax_backward(s, g):  # dx = J^T g without building J: O(n)
    return s * (g - np.dot(g, s))


def log_softmax(x):  # x - max - log sum exp(x - max): log(softmax(x)) gives -inf for tiny s
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def cross_entropy(logits, targets):  # mean over rows of -log p[target]
    return -log_softmax(logits)[np.arange(len(targets)), targets].mean()


def cross_entropy_grad(logits, targets):  # (softmax - one_hot) / N
    one_hot = np.eye(logits.shape[-1])[targets]
    return (softmax(logits) - one_hot) / len(targets)


if __name__ == "__main__":
    saved = Saved("02_softmax")
    x, g = saved["logits"], saved["upstream"]
    s = softmax(x)
    logits, targets = saved["class_logits"], saved["targets"]
    assert np.isfinite(softmax(np.array([0.0, 1000.0]))).all()  # the literal formula gives nan
    report("02_softmax", [
        ("softmax(logits)", s, saved["probs"], 1e-15),
        ("Jacobian diag(s) - s s^T vs autograd", softmax_jacobian(s), saved["jacobian"], 1e-15),
        ("dx = s * (g - g.s) vs autograd", softmax_backward(s, g), saved["dx"], 1e-15),
        ("cross_entropy", cross_entropy(logits, targets), saved["cross_entropy"], 1e-12),
        ("d cross_entropy / d logits", cross_entropy_grad(logits, targets), saved["dlogits"],
         1e-15),
    ])
