"""Quickstart: logistic regression trained with graphgrad's autograd.

Two Gaussian blobs in 2-D, a single neuron p = sigmoid(x . w + b), the
cross-entropy loss, and plain gradient descent: every gradient comes from
``loss.backward()``.
"""
import numpy as np

import graphgrad as gg


def main(steps: int = 200, lr: float = 0.5) -> float:
    gg.manual_seed(0)
    n = 200
    labels = (np.arange(n) % 2).astype(np.float32)
    points = gg.randn(n, 2) + gg.tensor(np.where(labels[:, None] > 0, 1.5, -1.5))
    y = gg.tensor(labels)
    w = gg.zeros(2, requires_grad=True)
    b = gg.zeros(1, requires_grad=True)
    for step in range(steps + 1):
        p = (points @ w + b).sigmoid()
        loss = -(y * (p + 1e-7).log() + (1 - y) * (1 - p + 1e-7).log()).mean()
        loss.backward()
        with gg.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = b.grad = None
        if step % 40 == 0:
            accuracy = float(((p.numpy() > 0.5) == (labels > 0.5)).mean())
            print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}")
    return loss.item()


if __name__ == "__main__":
    main()
