# mistake: softmax over the wrong axis
# A wrong answer the checker must name: each COLUMN normalised (axis=0) instead of each row.
import numpy as np


def softmax(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
