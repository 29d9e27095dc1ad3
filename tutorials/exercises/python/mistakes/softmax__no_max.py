# mistake: no max subtracted
# A wrong answer the checker must name: the formula as written, exp overflows to inf (inf / inf
# = nan) and underflows to 0 (0 / 0 = nan) for scores around +-1000.
import numpy as np


def softmax(x):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x)
        return e / e.sum(axis=-1, keepdims=True)
