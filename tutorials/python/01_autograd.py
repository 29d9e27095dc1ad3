# 01_autograd — the whiteboard version of tutorials/01_autograd.cpp
#   注意力模型的训练过程通常包括哪些步骤？反向传播是如何工作的？
#   How does backpropagation work? Walk through the training steps of a model.
# Forward records the graph; loss.backward() walks it from the loss back to the parameters, each op
# turning its output's gradient into its inputs' (the chain rule). A training step is: forward,
# loss, backward, update against the gradient, zero the gradients (PyTorch ADDS into .grad, so a
# missing zero_grad sums the gradients of every step so far).
# PyTorch is the answer here: autograd is the question. Without torch the same gradients come from
# the chain rule by hand, and the torch part is reported SKIPPED.
import numpy as np

from twin_check import Saved, report


def train_with_torch(inputs, params, lr, steps):
    import torch
    x1, x2, target = (torch.tensor(v, dtype=torch.float64) for v in inputs)
    w1, w2, b = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in params)
    loss = (torch.tanh(x1 * w1 + x2 * w2 + b) - target) ** 2  # forward
    loss.backward()  # backward: fills w1.grad, w2.grad, b.grad
    grads = [w1.grad.item(), w2.grad.item(), b.grad.item()]
    optimizer = torch.optim.SGD([w1, w2, b], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()  # clear the gradient accumulated by the last backward
        loss = (torch.tanh(x1 * w1 + x2 * w2 + b) - target) ** 2
        loss.backward()
        optimizer.step()  # p -= lr * p.grad
    return np.array(grads), np.array([w1.item(), w2.item(), b.item()])


def grads_by_hand(inputs, params):  # the chain rule, node by node from the loss
    (x1, x2, target), (w1, w2, b) = inputs, params
    o = np.tanh(x1 * w1 + x2 * w2 + b)
    dloss_dn = 2 * (o - target) * (1 - o * o)  # d(diff^2)/d o, then tanh' = 1 - tanh^2
    return np.array([dloss_dn * x1, dloss_dn * x2, dloss_dn])  # a mul sends the other input


def train_by_hand(inputs, params, lr, steps):
    params = np.array(params, dtype=np.float64)
    for _ in range(steps):
        params -= lr * grads_by_hand(inputs, params)
    return params


if __name__ == "__main__":
    saved = Saved("01_autograd")
    inputs, params = saved["inputs"], saved["params"]
    lr, steps = float(saved["learning_rate"][0]), int(saved["steps"][0])
    comparisons = [
        ("gradients by the chain rule by hand", grads_by_hand(inputs, params), saved["grads"],
         1e-12),
        (f"parameters after {steps} steps by hand", train_by_hand(inputs, params, lr, steps),
         saved["trained"], 1e-12)]
    try:
        import torch  # noqa: F401
    except ImportError:
        print("  SKIPPED the PyTorch answer: torch is not installed "
              "(sudo apt-get install python3-torch); checked the hand-derived one only")
    else:
        grads, trained = train_with_torch(inputs, params, lr, steps)
        comparisons += [("torch: loss.backward() gradients", grads, saved["grads"], 1e-12),
                        (f"torch: SGD parameters after {steps} steps", trained, saved["trained"],
                         1e-12)]
    report("01_autograd", comparisons)
