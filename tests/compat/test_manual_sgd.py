"""Hand-written SGD, as tutorials and older scripts write it: updates through ``.data``
(``p.data -= lr * p.grad``, ``p.data.add_(p.grad, alpha=-lr)``) or in place under
``no_grad``, gradients cleared with ``p.grad.zero_()``, ``p.grad = None`` or
``model.zero_grad()``.  Run with ``import graphgrad as torch``; compared with PyTorch."""
import math

import numpy as np
import pytest
from compat_utils import assert_falls, assert_same_state, to_numpy

import graphgrad as torch
import graphgrad.nn as nn
import graphgrad.nn.functional as F


# ------------------------------------------------------------- scripts (written once)
def fit_line_by_hand(torch, x_np, y_np, steps=60, lr=0.1):
    """Linear regression with bare tensors and ``.data`` updates."""
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    w = torch.zeros(x.size(1), 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    losses = []
    for t in range(steps):
        y_pred = x.mm(w) + b
        loss = (y_pred - y).pow(2).mean()
        losses.append(loss.item())
        if t % 20 == 19:
            print(t, loss.item())
        loss.backward()
        w.data -= lr * w.grad
        b.data -= lr * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return losses, w.detach(), b.detach()


def build_polynomial(torch, nn):
    """A third-order polynomial in sin(x)'s fit: features x, x^2, x^3 and nn.Sequential."""
    x = torch.linspace(-math.pi, math.pi, 200)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1))
    return model, xx, y


def train_polynomial(torch, nn, model, xx, y, steps=300, learning_rate=1e-5):
    """Summed MSE, model.zero_grad() and an in-place update under no_grad."""
    loss_fn = nn.MSELoss(reduction="sum")
    losses = []
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        if t % 50 == 49:
            print(t, loss.item())
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad
    return losses


def build_classifier(nn, F, n_in, n_hidden, n_classes):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(n_in, n_hidden)
            self.fc2 = nn.Linear(n_hidden, n_classes)

        def forward(self, x):
            x = F.relu(self.fc1(x))
            return self.fc2(x)

    return Net()


def train_classifier(torch, F, model, x_np, y_np, epochs=30, lr=0.5, batch_size=16):
    """Mini-batches by slicing, p.data.add_(p.grad, alpha=-lr) and p.grad = None."""
    x = torch.tensor(x_np)
    y = torch.tensor(y_np, dtype=torch.long)
    losses = []
    for epoch in range(epochs):
        running = 0.0
        for i in range(0, x.size(0), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
                p.grad = None
            running += loss.item() * xb.size(0)
        losses.append(running / x.size(0))
        print(f"epoch {epoch}: loss {losses[-1]:.4f}")
    return losses


# ------------------------------------------------------------- data
def _regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.5], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    return x, y


def _blobs():
    rng = np.random.default_rng(1)
    centres = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, size=96)
    x = (centres[labels] + 0.6 * rng.normal(size=(96, 2))).astype(np.float32)
    return x, labels


# ------------------------------------------------------------- tests
def test_linear_regression_with_data_updates_and_grad_zero():
    x, y = _regression_data()
    losses, w, b = fit_line_by_hand(torch, x, y)
    assert_falls(losses, factor=0.01)
    assert w.requires_grad is False and w.shape == (3, 1)
    np.testing.assert_allclose(w.numpy().ravel(), [1.5, -2.0, 0.5], atol=0.05)

    torch_ref = pytest.importorskip("torch")
    ref_losses, ref_w, ref_b = fit_line_by_hand(torch_ref, x, y)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(w.numpy(), ref_w.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.numpy(), ref_b.numpy(), rtol=1e-5, atol=1e-6)


def test_polynomial_fit_with_in_place_updates_under_no_grad():
    model, xx, y = build_polynomial(torch, nn)
    assert xx.shape == (200, 3) and xx.dtype == torch.float32
    start = {k: to_numpy(v) for k, v in model.state_dict().items()}
    losses = train_polynomial(torch, nn, model, xx, y)
    assert_falls(losses, factor=0.5)
    assert all(p.grad is not None for p in model.parameters())

    torch_ref = pytest.importorskip("torch")
    ref_model, ref_xx, ref_y = build_polynomial(torch_ref, torch_ref.nn)
    ref_model.load_state_dict({k: torch_ref.from_numpy(v) for k, v in start.items()})
    ref_losses = train_polynomial(torch_ref, torch_ref.nn, ref_model, ref_xx, ref_y)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4)
    assert_same_state(model, ref_model, rtol=1e-4, atol=1e-6)


def test_classifier_with_add_alpha_and_grad_set_to_none():
    x, labels = _blobs()
    model = build_classifier(nn, F, 2, 16, 3)
    start = {k: to_numpy(v) for k, v in model.state_dict().items()}
    losses = train_classifier(torch, F, model, x, labels)
    assert_falls(losses, factor=0.3)
    assert all(p.grad is None for p in model.parameters())

    torch_ref = pytest.importorskip("torch")
    ref_model = build_classifier(torch_ref.nn, torch_ref.nn.functional, 2, 16, 3)
    ref_model.load_state_dict({k: torch_ref.from_numpy(v) for k, v in start.items()})
    ref_losses = train_classifier(torch_ref, torch_ref.nn.functional, ref_model, x, labels)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4, atol=1e-6)
    assert_same_state(model, ref_model, rtol=1e-4, atol=1e-5)


def train_shuffled(torch, F, model, x_np, y_np, epochs=20, lr=0.3, batch_size=16):
    """Mini-batches from a fresh torch.randperm each epoch, SGD through p.data."""
    x = torch.tensor(x_np)
    y = torch.tensor(y_np, dtype=torch.long)
    losses, orders = [], []
    for epoch in range(epochs):
        permutation = torch.randperm(x.size(0))
        orders.append(permutation.tolist())
        running = 0.0
        for i in range(0, x.size(0), batch_size):
            indices = permutation[i:i + batch_size]
            batch_x, batch_y = x[indices], y[indices]
            loss = F.cross_entropy(model(batch_x), batch_y)
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= lr * p.grad.data
            running += loss.item() * len(indices)
        losses.append(running / x.size(0))
        if epoch % 5 == 0:
            print(f"Epoch [{epoch + 1}/{epochs}], Loss: {losses[-1]:.4f}")
    return losses, orders


def test_shuffled_minibatches_from_randperm():
    x, labels = _blobs()
    torch.manual_seed(0)
    model = build_classifier(nn, F, 2, 16, 3)
    start = {k: to_numpy(v) for k, v in model.state_dict().items()}
    losses, orders = train_shuffled(torch, F, model, x, labels)
    assert_falls(losses, factor=0.3)
    assert all(sorted(order) == list(range(len(x))) for order in orders)
    assert len({tuple(order) for order in orders}) == len(orders)
    torch.manual_seed(0)
    model = build_classifier(nn, F, 2, 16, 3)
    assert train_shuffled(torch, F, model, x, labels) == (losses, orders)  # seeded: repeatable

    # PyTorch draws other permutations: the same start reaches about the same loss
    torch_ref = pytest.importorskip("torch")
    torch_ref.manual_seed(0)  # its permutations then are the same in every run of the suite
    ref_model = build_classifier(torch_ref.nn, torch_ref.nn.functional, 2, 16, 3)
    ref_model.load_state_dict({k: torch_ref.from_numpy(v) for k, v in start.items()})
    ref_losses, ref_orders = train_shuffled(torch_ref, torch_ref.nn.functional, ref_model, x,
                                            labels)
    assert ref_orders != orders
    np.testing.assert_allclose(losses[0], ref_losses[0], rtol=0.1)
    np.testing.assert_allclose(np.mean(losses[-5:]), np.mean(ref_losses[-5:]), rtol=0.15)
