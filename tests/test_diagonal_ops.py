"""The diagonal family (diagonal, diag, diag_embed, trace) and the ops that move slices
(movedim, select, unflatten, Tensor.unfold, fliplr, flipud, rot90, repeat_interleave,
narrow): values, gradients and second derivatives against PyTorch on the registry's
hypothesis samples (tests/opinfo.py), Tensor.unfold (a method only, so not in the
registry) checked here, diagonal's view semantics, known values and errors."""
from __future__ import annotations

import numpy as np
import pytest
from against_torch import against_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from opinfo import GRAD, OPS

import graphgrad as gg
from graphgrad.testing import gradcheck, gradgradcheck
from graphgrad.testing.strategies import shapes

# How PyTorch spells each call of the registry's ``op(*tensors, **kwargs)``.
_TORCH_CALLS = {
    "diagonal": lambda t, x, **kw: t.diagonal(x, **kw),
    "diag": lambda t, x, **kw: t.diag(x, **kw),
    "diag_embed": lambda t, x, **kw: t.diag_embed(x, **kw),
    "trace": lambda t, x: t.trace(x),
    "movedim": lambda t, x, source, destination: t.movedim(x, source, destination),
    "select": lambda t, x, dim, index: t.select(x, dim, index),
    "unflatten": lambda t, x, dim, sizes: t.unflatten(x, dim, sizes),
    "fliplr": lambda t, x: t.fliplr(x),
    "flipud": lambda t, x: t.flipud(x),
    "rot90": lambda t, x, k=1, dims=(0, 1): t.rot90(x, k, dims),
    "repeat_interleave": lambda t, x, repeats, **kw: t.repeat_interleave(  # (torch's fails on
        x.reshape(-1) if x.ndim == 0 else x,  # a 0-d input with a dim; ours takes it as 1-D)
        repeats if isinstance(repeats, int) else t.tensor(repeats), **kw),
    "narrow": lambda t, x, dim, start, length: t.narrow(x, dim, start, length),
}


@pytest.mark.parametrize("name", sorted(_TORCH_CALLS))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_values_and_two_orders_of_gradients_match_torch(name, data):
    torch = pytest.importorskip("torch")
    info = OPS[name]
    sample = data.draw(info.samples(np.float64, GRAD), label="sample")
    against_torch(lambda *ours: info.op(*ours, **sample.kwargs),
                  lambda *theirs: _TORCH_CALLS[name](torch, *theirs, **sample.kwargs),
                  sample.arrays)


@st.composite
def _unfold_case(draw):
    shape = draw(shapes(0, 3, 1, 4))
    dim = draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    n = shape[dim] if shape else 1
    return shape, dim, draw(st.integers(0, n)), draw(st.integers(1, 3))


@settings(max_examples=25, deadline=None)
@given(case=_unfold_case())
def test_tensor_unfold_matches_torch_and_passes_gradchecks(case):
    shape, dim, size, step = case
    x = np.random.default_rng(0).standard_normal(shape)
    gradcheck(lambda t: t.unfold(dim, size, step), (gg.tensor(x, requires_grad=True),))
    gradgradcheck(lambda t: t.unfold(dim, size, step), (gg.tensor(x, requires_grad=True),))
    against_torch(lambda t: t.unfold(dim, size, step),
                  lambda t: t.unfold(dim, size, step), (x,))


# ------------------------------------------------------------------ known values
def test_diagonal_known_values_and_negative_dims():
    x = gg.arange(24.0).reshape(2, 3, 4)
    assert gg.diagonal(x[0]).tolist() == [0.0, 5.0, 10.0]
    assert gg.diagonal(x[0], 1).tolist() == [1.0, 6.0, 11.0]
    assert gg.diagonal(x[0], -1).tolist() == [4.0, 9.0]
    assert gg.diagonal(x[0], 5).shape == (0,)
    assert gg.diagonal(x, 0, -1, -2).tolist() == [[0.0, 5.0, 10.0], [12.0, 17.0, 22.0]]
    assert gg.diagonal(x, 0, 0, 2).shape == (3, 2)
    assert gg.trace(x[1]).item() == 12.0 + 17.0 + 22.0


def test_diagonal_is_a_view_as_torch():
    x = gg.zeros(3, 4)
    d = x.diagonal(1)
    with gg.no_grad():
        d.fill_(1.0)
    assert x.tolist() == [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    x[0, 1] = 5.0
    assert d[0].item() == 5.0
    assert d._version == x._version


def test_diag_and_diag_embed_known_values():
    v = gg.tensor([1.0, 2.0])
    assert gg.diag(v).tolist() == [[1, 0], [0, 2]]
    assert gg.diag(v, -1).tolist() == [[0, 0, 0], [1, 0, 0], [0, 2, 0]]
    m = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    d = gg.diag(m)
    assert d.tolist() == [1.0, 4.0]
    d[0] = 9.0  # a copy, as torch.diag's
    assert m[0, 0].item() == 1.0
    embedded = gg.diag_embed(gg.tensor([[1.0, 2.0], [3.0, 4.0]]), offset=1, dim1=0, dim2=2)
    assert embedded.shape == (3, 2, 3)
    assert embedded[:, 1].tolist() == [[0, 3, 0], [0, 0, 4], [0, 0, 0]]


def test_gradients_of_the_diagonal_family():
    x = gg.arange(6.0).reshape(2, 3).requires_grad_()
    gg.trace(x).backward()
    assert x.grad.tolist() == [[1, 0, 0], [0, 1, 0]]
    x.grad = None
    x.diagonal(1).backward(gg.tensor([5.0, 7.0]))
    assert x.grad.tolist() == [[0, 5, 0], [0, 0, 7]]


def test_movement_known_values():
    x = gg.arange(6.0).reshape(2, 3)
    assert gg.rot90(x).tolist() == [[2, 5], [1, 4], [0, 3]]
    assert gg.rot90(x, -1).tolist() == gg.rot90(x, 3).tolist() == [[3, 0], [4, 1], [5, 2]]
    assert gg.rot90(x, 2).tolist() == [[5, 4, 3], [2, 1, 0]]
    assert gg.fliplr(x).tolist() == [[2, 1, 0], [5, 4, 3]]
    assert gg.flipud(x).tolist() == [[3, 4, 5], [0, 1, 2]]
    assert gg.movedim(gg.zeros(2, 3, 4), (0, 1), (2, 0)).shape == (3, 4, 2)
    assert gg.moveaxis is gg.movedim
    assert gg.select(x, 1, -1).tolist() == [2.0, 5.0]
    assert gg.unflatten(gg.zeros(2, 6), -1, (3, -1)).shape == (2, 3, 2)
    assert x.unfold(1, 2, 1).tolist() == [[[0, 1], [1, 2]], [[3, 4], [4, 5]]]
    assert gg.repeat_interleave(x, 2, 0).tolist() == [[0, 1, 2]] * 2 + [[3, 4, 5]] * 2
    assert gg.repeat_interleave(x, gg.tensor([0, 2, 1]), 1).tolist() == [[1, 1, 2], [4, 4, 5]]
    assert gg.repeat_interleave(gg.tensor([1.0, 2.0]), 2).tolist() == [1, 1, 2, 2]
    assert gg.repeat_interleave(gg.tensor([2, 0, 1])).tolist() == [0, 0, 2]
    assert gg.narrow(x, -1, -2, 2).tolist() == [[1, 2], [4, 5]]


def test_repeat_interleave_gradient_sums_the_copies():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    gg.repeat_interleave(x, gg.tensor([3, 1])).backward(gg.tensor([1.0, 2.0, 3.0, 4.0]))
    assert x.grad.tolist() == [6.0, 4.0]


def test_methods_are_the_functions():
    for name in _TORCH_CALLS:
        assert getattr(gg.Tensor, name) is getattr(gg, name)
    assert gg.Tensor.moveaxis is gg.movedim


def test_size_zero_inputs():
    assert gg.diagonal(gg.zeros(0, 3)).shape == (0,)
    assert gg.trace(gg.zeros(0, 0)).item() == 0.0
    assert gg.diag_embed(gg.zeros(2, 0)).shape == (2, 0, 0)
    assert gg.zeros(0, 4).unfold(1, 2, 2).shape == (0, 2, 2)
    assert gg.repeat_interleave(gg.zeros(0, 2), 3, 0).shape == (0, 2)
    assert gg.rot90(gg.zeros(0, 2)).shape == (2, 0)


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, error, match", [
    (lambda x: gg.diagonal(x[0]), RuntimeError,
     r"diagonal: expected a tensor with at least 2 dims, got shape \(4,\)"),
    (lambda x: gg.diagonal(x, 0, 1, -1), RuntimeError,
     r"diagonal: dim1 and dim2 cannot be the same dim, got 1 and -1"),
    (lambda x: gg.diagonal(x, 0, 0, 2), IndexError, r"diagonal: dim 2 is out of range"),
    (lambda x: gg.diag(x.reshape(1, 3, 4)), RuntimeError,
     r"diag: expected a 1-D or 2-D tensor, got shape \(1, 3, 4\)"),
    (lambda x: gg.diag_embed(x[0, 0]), RuntimeError, r"diag_embed: expected a tensor with"),
    (lambda x: gg.trace(x[0]), RuntimeError, r"trace: expected a matrix, got shape \(4,\)"),
    (lambda x: gg.movedim(x, (0, 0), (0, 1)), ValueError, r"movedim: repeated dim in \(0, 0\)"),
    (lambda x: gg.movedim(x, (0, 1), 0), ValueError,
     r"movedim: source \(0, 1\) and destination 0 must have the same number of dims"),
    (lambda x: gg.select(x, 0, 3), IndexError,
     r"select: index 3 is out of range for dim 0 of size 3 \(shape \(3, 4\)\)"),
    (lambda x: gg.unflatten(x, 1, (3, -1)), RuntimeError,
     r"unflatten: sizes \(3, -1\) do not multiply to dim 1's size 4"),
    (lambda x: x.unfold(1, 5, 1), RuntimeError,
     r"unfold: size 5 must be in \[0, 4\] \(dim 1 of shape \(3, 4\)\) and step 1 positive"),
    (lambda x: gg.fliplr(x[0]), RuntimeError, r"fliplr: expected a tensor with at least 2"),
    (lambda x: gg.rot90(x, 1, (0, 0)), ValueError, r"rot90: repeated dim"),
    (lambda x: gg.repeat_interleave(x, gg.tensor([1, 2]), 0), RuntimeError,
     r"repeat_interleave: repeats must be a non-negative int or 1-D integer tensor of 1 or 3"),
    (lambda x: gg.repeat_interleave(x, 2, 0, output_size=5), RuntimeError,
     r"repeat_interleave: output_size 5 is not the total of the repeats, 6"),
])
def test_errors_name_the_op_and_the_shapes(call, error, match):
    x = gg.zeros(3, 4)
    with pytest.raises(error, match=match):
        call(x)
