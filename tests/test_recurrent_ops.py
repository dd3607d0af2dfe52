"""The recurrent layer primitives (autograd/ops/recurrent.py) beside PyTorch, relu's kink,
their errors, and the engine's ``jointly`` rules that they use.

The generic checks (forward vs a float64 reference, gradcheck, gradgradcheck) are
their entries in ``opinfo.INTERNAL_DB``; the layers built on them are compared with
``torch.nn.RNN/GRU/LSTM`` in tests/nn/test_rnn.py and test_packed_sequences.py.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.autograd.ops._registry import Op
from graphgrad.autograd.ops.recurrent import gru_layer, lstm_layer, rnn_layer
from graphgrad.testing import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")


# --------------------------------------------------- the same layers in PyTorch ops
def _torch_layer(kind: str, inputs: list, reverse: bool, relu: bool = False):
    """The recurrence as a loop of PyTorch operations (PyTorch's gate conventions)."""
    xw, h, *rest = inputs
    c = rest.pop(0) if kind == "lstm" else None
    w_hh, *extra = rest
    outs = [None] * len(xw)
    for t in (range(len(xw) - 1, -1, -1) if reverse else range(len(xw))):
        if kind == "rnn":
            a = xw[t] + h @ w_hh.T
            h = torch.relu(a) if relu else torch.tanh(a)
            outs[t] = h
        elif kind == "gru":
            u = h @ w_hh.T + (extra[0] if extra else 0)
            a_r, a_z, a_n = xw[t].chunk(3, -1)
            u_r, u_z, u_n = u.chunk(3, -1)
            r, z = torch.sigmoid(a_r + u_r), torch.sigmoid(a_z + u_z)
            n = torch.tanh(a_n + r * u_n)
            h = (1 - z) * n + z * h
            outs[t] = h
        else:
            i, f, g, o = (xw[t] + h @ w_hh.T).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            if extra:
                h = h @ extra[0].T
            outs[t] = torch.cat([h, c], -1)
    return torch.stack(outs)


def _ours(kind: str, inputs: list, reverse: bool, relu: bool = False):
    if kind == "rnn":
        return rnn_layer(*inputs, "relu" if relu else "tanh", reverse=reverse)
    if kind == "gru":
        return gru_layer(*inputs, reverse=reverse)
    return lstm_layer(*inputs, reverse=reverse)


def _shapes(kind: str, steps: int, batch: int, size: int, extra: bool) -> list:
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    width = max(size - 1, 1) if kind == "lstm" and extra else size
    shapes = [(steps, batch, gates * size), (batch, width)]
    if kind == "lstm":
        shapes.append((batch, size))
    shapes.append((gates * size, width))
    if extra:  # GRU's b_hh, LSTM's projection
        shapes.append((3 * size,) if kind == "gru" else (width, size))
    return shapes


CASES = [("rnn", False, False, False), ("rnn", False, True, False), ("rnn", False, False, True),
         ("rnn", False, True, True), ("gru", False, False, False), ("gru", True, True, False),
         ("lstm", False, False, False), ("lstm", True, False, False), ("lstm", True, True, False)]


@pytest.mark.parametrize("case", CASES,
                         ids=lambda c: f"{c[0]}-extra={c[1]}-reverse={c[2]}-relu={c[3]}")
def test_values_gradients_and_second_order_match_torch(case):
    kind, extra, reverse, relu = case
    rng = np.random.default_rng(3)
    steps, batch, size = rng.integers(1, 6), rng.integers(1, 4), rng.integers(2, 5)
    arrays = [rng.standard_normal(s) * 0.8 for s in _shapes(kind, steps, batch, size, extra)]
    ours = [gg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = _ours(kind, ours, reverse, relu), _torch_layer(kind, theirs, reverse, relu)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    up = rng.standard_normal(out.shape)
    grads = gg.autograd.grad(out, ours, gg.tensor(up), create_graph=True)
    ref_grads = torch.autograd.grad(ref, theirs, torch.tensor(up), create_graph=True)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g.detach().numpy(), r.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    # second order: the gradient of <grads, v> with respect to every input
    vs = [rng.standard_normal(a.shape) for a in arrays]
    total = sum((g * gg.tensor(v)).sum() for g, v in zip(grads, vs, strict=True))
    ref_total = sum((r * torch.tensor(v)).sum() for r, v in zip(ref_grads, vs, strict=True))
    second = gg.autograd.grad(total, ours, allow_unused=True)
    ref_second = torch.autograd.grad(ref_total, theirs, allow_unused=True)
    for g, r in zip(second, ref_second, strict=True):
        expected = np.zeros_like(g.numpy()) if r is None else r.numpy()
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("reverse", [False, True])
def test_relu_rnn_gradchecks_away_from_the_kink(reverse):
    rng = np.random.default_rng(5)
    inputs = [gg.tensor(rng.standard_normal(s), requires_grad=True)
              for s in [(3, 2, 3), (2, 3), (3, 3)]]
    fn = lambda *a: rnn_layer(*a, "relu", reverse=reverse)  # noqa: E731
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_relu_rnn_passes_no_gradient_at_zero_as_torch():
    """relu'(0) = 0: a pre-activation of exactly 0 stops the gradient (as torch.relu)."""
    xw = gg.zeros((2, 1, 2), requires_grad=True)
    h0 = gg.zeros((1, 2), requires_grad=True)
    w = gg.ones((2, 2), requires_grad=True)
    rnn_layer(xw, h0, w, "relu").sum().backward()
    np.testing.assert_array_equal(xw.grad.numpy(), 0.0)
    theirs = torch.zeros((2, 1, 2), requires_grad=True)
    _torch_layer("rnn", [theirs, torch.zeros(1, 2), torch.ones(2, 2)], False, True).sum() \
        .backward()
    np.testing.assert_array_equal(theirs.grad.numpy(), xw.grad.numpy())


def test_lstm_known_values_one_step():
    """Zero state, all pre-activations 0: i = f = o = 1/2, g = 0, so c' = 0 and h' = 0; with
    g's pre-activation 1 instead, c' = tanh(1) / 2 and h' = tanh(c') / 2."""
    xw = np.zeros((1, 1, 4))
    xw[0, 0, 2] = 1.0
    out = lstm_layer(gg.tensor(xw), gg.zeros((1, 1), dtype=gg.float64),
                     gg.zeros((1, 1), dtype=gg.float64), gg.zeros((4, 1), dtype=gg.float64))
    c = np.tanh(1.0) / 2
    np.testing.assert_allclose(out.numpy(), [[[np.tanh(c) / 2, c]]], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gates_are_accurate_where_sigmoid_saturates(dtype):
    """Gates are computed as tanh(x / 2) / 2 + 1 / 2: no overflow at any x, and an
    absolute error of an ulp of 1/2 where sigmoid is tiny or near 1."""
    xw = np.array([-200.0, -30.0, 0.3, 30.0], dtype=dtype).reshape(4, 1, 1)
    out = rnn_layer(gg.tensor(xw), gg.zeros((1, 1), dtype=dtype),
                    gg.zeros((1, 1), dtype=dtype))
    np.testing.assert_allclose(out.numpy().ravel(), np.tanh(xw.astype(np.float64)).ravel(),
                               rtol=2e-7 if dtype == np.float32 else 1e-15)
    xw = np.zeros((1, 1, 4), dtype=dtype)
    xw[..., 0] = xw[..., 1] = -200.0  # i and f closed: c' = 0 whatever g is
    out = lstm_layer(gg.tensor(xw), gg.zeros((1, 1), dtype=dtype),
                     gg.ones((1, 1), dtype=dtype), gg.zeros((4, 1), dtype=dtype))
    assert np.isfinite(out.numpy()).all()
    assert abs(out.numpy()[0, 0, 1]) <= np.finfo(dtype).eps


def test_only_the_needed_gradients_are_computed():
    """A weight alone requiring grad: the rule still runs once and the states get none."""
    rng = np.random.default_rng(0)
    w = gg.tensor(rng.standard_normal((8, 2)), requires_grad=True)
    xw, h0, c0 = (gg.tensor(rng.standard_normal(s)) for s in [(3, 1, 8), (1, 2), (1, 2)])
    lstm_layer(xw, h0, c0, w).sum().backward()
    theirs = torch.tensor(w.detach().numpy(), requires_grad=True)
    _torch_layer("lstm", [torch.tensor(xw.numpy()), torch.tensor(h0.numpy()),
                          torch.tensor(c0.numpy()), theirs], False).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    assert h0.grad is None and xw.grad is None


@pytest.mark.parametrize("call, message", [
    (lambda: rnn_layer(gg.zeros((0, 1, 2)), gg.zeros((1, 2)), gg.zeros((2, 2))), "T >= 1"),
    (lambda: rnn_layer(gg.zeros((2, 1, 2)), gg.zeros((3, 2)), gg.zeros((2, 2))), "do not fit"),
    (lambda: gru_layer(gg.zeros((2, 1, 5)), gg.zeros((1, 2)), gg.zeros((6, 2))), "3 * hidden"),
    (lambda: gru_layer(gg.zeros((2, 1, 6)), gg.zeros((1, 2)), gg.zeros((6, 2)), gg.zeros(5)),
     "b_hh"),
    (lambda: lstm_layer(gg.zeros((2, 1, 8)), gg.zeros((1, 2)), gg.zeros((1, 2)),
                        gg.zeros((8, 3))), "do not fit"),
    (lambda: lstm_layer(gg.zeros((2, 1, 8)), gg.zeros((1, 1)), gg.zeros((1, 2)),
                        gg.zeros((8, 1)), gg.zeros((2, 1))), "w_hr"),
    (lambda: rnn_layer(gg.zeros((1, 1, 2)), gg.zeros((1, 2)), gg.zeros((2, 2)), "gelu"),
     "nonlinearity"),
])
def test_bad_shapes_raise_naming_the_op(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# ------------------------------------------------------------- jointly rules
def test_a_jointly_rule_runs_once_per_node_with_the_needed_inputs():
    calls = []

    def rule(g, out, inputs, needed):
        calls.append(needed)
        x, y = inputs
        return (g * y if needed[0] else None, g * x if needed[1] else None)

    product = Op("joint_mul_for_test", np.multiply, rule, saves="inputs", jointly=True)
    x, y = gg.tensor([1.0, 2.0], requires_grad=True), gg.tensor([3.0, 5.0], requires_grad=True)
    product(x, y).sum().backward()
    assert calls == [(True, True)]
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 2.0])
    (gx,) = gg.autograd.grad(product(x, y).sum(), [x])  # only x reached
    assert calls[-1] == (True, False)
    np.testing.assert_array_equal(gx.numpy(), [3.0, 5.0])
    z = gg.tensor([2.0, 2.0])  # a constant: no gradient needed
    product(x, z).sum().backward()
    assert calls[-1] == (True, False)


def test_a_failing_jointly_rule_names_its_op():
    def rule(g, out, inputs, needed):
        raise ValueError("boom")

    broken = Op("broken_joint_for_test", np.negative, rule, jointly=True)
    with pytest.raises(RuntimeError, match="backward of broken_joint_for_test failed: boom"):
        broken(gg.tensor([1.0], requires_grad=True)).sum().backward()


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("reverse", [False, True])
def test_saved_gates_and_recomputed_gates_give_one_gradient(kind, reverse):
    """The first backward reads the gates the forward kept; a second one through the
    retained graph recomputes them from the inputs and the output."""
    rng = np.random.default_rng(11)
    inputs = [gg.tensor(rng.standard_normal(s), requires_grad=True)
              for s in _shapes(kind, 4, 2, 3, extra=True)]
    out = _ours(kind, inputs, reverse)
    up = gg.tensor(rng.standard_normal(out.shape))
    first = gg.autograd.grad(out, inputs, up, retain_graph=True)
    second = gg.autograd.grad(out, inputs, up)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-13, atol=1e-15)
