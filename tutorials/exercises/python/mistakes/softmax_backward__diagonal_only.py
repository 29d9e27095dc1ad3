# mistake: only the diagonal of the Jacobian
# A wrong answer the checker must name: dx = dout * out * (1 - out), as if each output depended
# only on its own input (the -out[i] out[j] terms for j != i left out).
import numpy as np


def softmax_backward(dout, out):
    return dout * out * (1 - out)
