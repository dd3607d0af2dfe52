"""Scatters and indexed writes (gather, scatter, scatter_add, scatter_reduce, index_add/copy/fill/
put, masked_select/scatter, take, put): values, gradients and second derivatives against
PyTorch on the registry's hypothesis samples (tests/opinfo.py), and what the registry does
not reach: repeated indices, ties, zeros in prod, the in-place forms, errors."""
from __future__ import annotations

import numpy as np
import pytest
from against_torch import against_torch
from hypothesis import given, settings
from hypothesis import strategies as st
from opinfo import GRAD, OPS

import graphgrad as gg

# How PyTorch spells each call of the registry's ``op(*tensors, **kwargs)``.
_TORCH_CALLS = {
    "scatter": lambda t, x, *src, dim, index, value=None: (
        t.scatter(x, dim, t.tensor(index), *src) if src else
        t.scatter(x, dim, t.tensor(index), value)),
    "gather": lambda t, x, dim, index: t.gather(x, dim, t.tensor(index)),
    "scatter_add": lambda t, x, src, dim, index: t.scatter_add(x, dim, t.tensor(index), src),
    "scatter_reduce": lambda t, x, src, dim, index, **kw: t.scatter_reduce(
        x, dim, t.tensor(index), src, **kw),
    "index_add": lambda t, x, source, dim, index, alpha: t.index_add(
        x, dim, t.tensor(index), source, alpha=alpha),
    "index_copy": lambda t, x, source, dim, index: t.index_copy(x, dim, t.tensor(index), source),
    "index_fill": lambda t, x, *v, dim, index, value=None: t.index_fill(  # (torch's backward
        x, dim, t.tensor(index % x.shape[dim]), v[0] if v else value),  # fails on index < 0)
    "index_put": lambda t, x, values, indices, accumulate: t.index_put(
        x, tuple(t.tensor(i) for i in indices), values, accumulate),
    "masked_select": lambda t, x, mask: t.masked_select(x, t.tensor(mask)),
    "masked_scatter": lambda t, x, source, mask: t.masked_scatter(x, t.tensor(mask), source),
    "take": lambda t, x, index: t.take(x, t.tensor(index)),
    "put": lambda t, x, source, index, accumulate: x.put(t.tensor(index), source, accumulate),
}


def _trimmed(name, arrays, kwargs):
    """PyTorch's scatters have no gradient for a src larger than the index: cut it."""
    if name in ("scatter", "scatter_add", "scatter_reduce") and len(arrays) == 2:
        cut = tuple(slice(0, k) for k in kwargs["index"].shape)
        return (arrays[0], np.ascontiguousarray(arrays[1][cut]))
    return arrays


@pytest.mark.parametrize("name", sorted(_TORCH_CALLS))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_values_and_two_orders_of_gradients_match_torch(name, data):
    torch = pytest.importorskip("torch")
    info = OPS[name]
    sample = data.draw(info.samples(np.float64, GRAD), label="sample")
    arrays = _trimmed(name, sample.arrays, sample.kwargs)
    against_torch(lambda *ours: info.op(*ours, **sample.kwargs),
                  lambda *theirs: _TORCH_CALLS[name](torch, *theirs, **sample.kwargs),
                  arrays)


# ------------------------------------------------------------------ known values
def test_scatter_add_adds_repeated_indices():
    x = gg.zeros(3, 4)
    src = gg.ones(2, 4)
    out = gg.scatter_add(x, 0, gg.tensor([[0, 1, 2, 0], [0, 1, 0, 2]]), src)
    assert out.tolist() == [[2, 0, 1, 1], [0, 2, 0, 0], [0, 0, 1, 1]]


def test_scatter_gives_every_duplicate_source_the_gradient_as_torch():
    x = gg.zeros(3, requires_grad=True)
    src = gg.tensor([1.0, 2.0, 5.0], requires_grad=True)
    out = gg.scatter(x, 0, gg.tensor([0, 0]), src)
    assert out[0].item() in (1.0, 2.0) and out[1:].tolist() == [0.0, 0.0]
    out.backward(gg.tensor([10.0, 20.0, 30.0]))
    assert x.grad.tolist() == [0.0, 20.0, 30.0] and src.grad.tolist() == [10.0, 10.0, 0.0]


def test_scatter_value_and_legacy_reduce():
    x = gg.ones(3)
    idx = gg.tensor([0, 0, 1])
    assert gg.scatter(x, 0, idx, 2.5).tolist() == [2.5, 2.5, 1.0]
    assert gg.scatter(x, 0, idx, value=2.5).tolist() == [2.5, 2.5, 1.0]
    assert gg.scatter(x, 0, idx, 3.0, reduce="add").tolist() == [7.0, 4.0, 1.0]
    assert gg.scatter(x, 0, idx, 3.0, reduce="multiply").tolist() == [9.0, 3.0, 1.0]
    src = gg.full((3,), 2.0)
    assert gg.scatter(x, 0, idx, src, reduce="add").tolist() == [5.0, 3.0, 1.0]
    assert gg.scatter(x, 0, idx, src, reduce="multiply").tolist() == [4.0, 2.0, 1.0]


@pytest.mark.parametrize("reduce, include_self, out, gx, gsrc", [
    ("amax", True, [3.0, 5.0, 2.0], [0.0, 1 / 3, 1.0], [1 / 3, 1 / 3, 1.0, 0.0]),
    ("amin", True, [1.0, 5.0, 1.0], [1.0, 1 / 3, 0.0], [1 / 3, 1 / 3, 0.0, 1.0]),
    ("prod", True, [3.0, 125.0, 2.0], [3.0, 25.0, 1.0], [25.0, 25.0, 1.0, 2.0]),
    ("mean", True, [2.0, 5.0, 1.5], [0.5, 1 / 3, 0.5], [1 / 3, 1 / 3, 0.5, 0.5]),
    ("sum", False, [3.0, 10.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]),
    ("mean", False, [3.0, 5.0, 1.0], [0.0, 0.0, 0.0], [0.5, 0.5, 1.0, 1.0]),
])
def test_scatter_reduce_known_values_and_ties(reduce, include_self, out, gx, gsrc):
    """Ties split the gradient evenly among all equal values, the input's own included
    (the values are PyTorch 2's)."""
    x = gg.tensor([1.0, 5.0, 2.0], requires_grad=True)
    src = gg.tensor([5.0, 5.0, 3.0, 1.0], requires_grad=True)
    y = gg.scatter_reduce(x, 0, gg.tensor([1, 1, 0, 2]), src, reduce, include_self=include_self)
    np.testing.assert_allclose(y.numpy(), out)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), gx)
    np.testing.assert_allclose(src.grad.numpy(), gsrc)


def test_scatter_reduce_prod_with_zeros_as_torch():
    x = gg.tensor([0.0, 2.0, 3.0], requires_grad=True)
    src = gg.tensor([0.0, 4.0, 0.0, 5.0], requires_grad=True)
    y = gg.scatter_reduce(x, 0, gg.tensor([0, 0, 1, 2]), src, "prod")
    assert y.tolist() == [0.0, 0.0, 15.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 5.0]  # two zeros meet at 0: no gradient there
    assert src.grad.tolist() == [0.0, 0.0, 2.0, 3.0]


def test_scatter_reduce_excluded_self_takes_no_part_in_ties():
    """With include_self=False the input's value is no candidate: the one source sent to
    position 0 gets all of g.  (PyTorch 2 still counts the excluded input among the ties
    there and gives 0.5, so the gradients do not add up to g: we do not copy that.)"""
    x = gg.tensor([7.0, 0.0], requires_grad=True)
    src = gg.tensor([7.0], requires_grad=True)
    y = gg.scatter_reduce(x, 0, gg.tensor([0]), src, "amax", include_self=False)
    y.sum().backward()
    assert src.grad.tolist() == [1.0] and x.grad.tolist() == [0.0, 1.0]


def test_scatter_reduce_integer_mean_floors_as_torch():
    x = gg.tensor([-1, 2, 3])
    y = gg.scatter_reduce(x, 0, gg.tensor([0, 0]), gg.tensor([-4, 0]), "mean")
    assert y.tolist() == [-2, 2, 3] and y.dtype == np.int64
    z = gg.scatter_reduce(x, 0, gg.tensor([1]), gg.tensor([9]), "amax")
    assert z.tolist() == [-1, 9, 3]


def test_index_ops_known_values():
    x = gg.zeros(2, 3)
    src = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert gg.index_add(x, 1, gg.tensor([2, 2]), src, alpha=2).tolist() == [[0, 0, 6], [0, 0, 14]]
    assert gg.index_copy(x, 1, gg.tensor([2, 0]), src).tolist() == [[2, 0, 1], [4, 0, 3]]
    assert gg.index_fill(x, -1, gg.tensor([-1, 0]), 5.0).tolist() == [[5, 0, 5], [5, 0, 5]]
    put = gg.index_put(x, (gg.tensor([0, 0]), gg.tensor([1, 1])), gg.tensor(1.0),
                       accumulate=True)
    assert put.tolist() == [[0, 2, 0], [0, 0, 0]]
    mask = gg.tensor([True, False, True])
    assert gg.masked_select(src.reshape(-1)[:3], mask).tolist() == [1.0, 3.0]
    assert gg.masked_scatter(x, mask, gg.arange(1.0, 6.0)).tolist() == [[1, 0, 2], [3, 0, 4]]
    assert gg.take(src, gg.tensor([[0, -1]])).tolist() == [[1.0, 4.0]]
    assert gg.put(x, gg.tensor([-1, 0]), gg.tensor([7.0, 8.0])).tolist() == [[8, 0, 0],
                                                                               [0, 0, 7]]


def test_index_fill_tensor_value_counts_each_position_once_as_torch():
    x = gg.ones(3, requires_grad=True)
    v = gg.tensor(2.0, requires_grad=True)
    y = gg.index_fill(x, 0, gg.tensor([0, 0, 2]), v)
    assert y.tolist() == [2.0, 1.0, 2.0]
    (y * gg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert v.grad.item() == 4.0 and x.grad.tolist() == [0.0, 2.0, 0.0]


def test_methods_are_the_functions():
    for name in _TORCH_CALLS:
        assert getattr(gg.Tensor, name) is getattr(gg, name)


def test_size_zero_inputs():
    x = gg.zeros(0, 3, requires_grad=True)
    idx = gg.zeros((0, 3), dtype=gg.int64)
    assert gg.scatter_add(x, 0, idx, gg.zeros(0, 3)).shape == (0, 3)
    assert gg.scatter_reduce(x, 1, idx, gg.zeros(0, 3), "amax").shape == (0, 3)
    assert gg.index_add(x, 1, gg.tensor([], dtype=gg.int64), gg.zeros(0, 0)).shape == (0, 3)
    assert gg.take(x, gg.tensor([], dtype=gg.int64)).shape == (0,)
    assert gg.masked_select(x, x > 0).shape == (0,)
    y = gg.scatter_add(gg.ones(2), 0, gg.tensor([], dtype=gg.int64), gg.zeros(0))
    assert y.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("x, index, src", [
    (2.0, 0, 5.0), (2.0, [0, 0], [5.0, 3.0]), ([2.0, 4.0], 1, 5.0)])
@pytest.mark.parametrize("name", ["scatter", "scatter_add", "scatter_reduce", "gather"])
def test_zero_dim_tensors_count_as_one_element_as_torch(name, x, index, src):
    torch = pytest.importorskip("torch")
    calls = {
        "scatter": lambda t, x, src, index: t.scatter(x, 0, index, src),
        "scatter_add": lambda t, x, src, index: t.scatter_add(x, 0, index, src),
        "scatter_reduce": lambda t, x, src, index: t.scatter_reduce(x, 0, index, src, "prod"),
        "gather": lambda t, x, src, index: t.gather(x, 0, index) + src.sum(),
    }
    if name == "scatter" and np.size(index) > 1:
        return  # a repeated index keeps an unspecified write
    against_torch(lambda x, src: calls[name](gg, x, src, gg.tensor(index)),
                  lambda x, src: calls[name](torch, x, src, torch.tensor(index)),
                  (np.array(x), np.array(src)))


# ----------------------------------------------------------------- in-place forms
def test_inplace_forms_change_the_tensor_and_record_the_op():
    x = gg.zeros(2, 3)
    assert x.scatter_(1, gg.tensor([[2], [0]]), 1.0) is x
    assert x.tolist() == [[0, 0, 1], [1, 0, 0]]
    x.scatter_add_(0, gg.tensor([[1, 1, 1]]), gg.ones(1, 3))
    x.index_fill_(0, gg.tensor([0]), -1.0)
    x.masked_fill_(x > 1.5, 9.0)
    assert x.tolist() == [[-1, -1, -1], [9, 1, 1]]
    x.index_add_(1, gg.tensor([0]), gg.ones(2, 1)).put_(gg.tensor([5]), gg.tensor([4.0]))
    assert x.tolist() == [[0, -1, -1], [10, 1, 4]]
    w = gg.ones(3, requires_grad=True)
    y = w * 2
    y.scatter_reduce_(0, gg.tensor([0, 0]), w[:2] * 3, "prod")
    y.sum().backward()
    assert y.tolist() == [18.0, 2.0, 2.0]
    assert w.grad.tolist() == [2 * 9 + 6 * 3, 2 + 6 * 3, 2.0]
    leaf = gg.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="index_copy_: a leaf tensor that requires grad"):
        leaf.index_copy_(0, gg.tensor([0]), gg.ones(1))


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, error, match", [
    (lambda x: gg.scatter_add(x, 0, gg.tensor([[3]]), x), RuntimeError,
     r"scatter_add: index 3 is out of bounds for dimension 0 with size 3"),
    (lambda x: gg.scatter(x, 1, gg.tensor([[-1]]), 1.0), RuntimeError,
     r"scatter: index -1 is out of bounds for dimension 1 with size 4"),
    (lambda x: gg.scatter_add(x, 0, gg.tensor([[0, 0, 0, 0, 0]]), gg.ones(1, 5)), RuntimeError,
     r"scatter_add: expected index \(1, 5\) to be no larger than self \(3, 4\) apart from "
     r"dimension 0 and no larger than src \(1, 5\)"),
    (lambda x: gg.scatter_add(x, 0, gg.tensor([0]), x), RuntimeError,
     r"scatter_add: index \(1,\) must have as many dims as self \(3, 4\)"),
    (lambda x: gg.scatter_add(x, 0, gg.tensor([[0.0]]), x), TypeError,
     r"scatter_add: index must be an integer tensor"),
    (lambda x: gg.scatter_add(x, 0, gg.tensor([[0]]), x.astype(gg.float32)), RuntimeError,
     r"scatter_add: expected self \(float64\) and src \(float32\) to have the same dtype"),
    (lambda x: gg.scatter_reduce(x, 0, gg.tensor([[0]]), x, "max"), ValueError,
     r"scatter_reduce: reduce must be one of sum, prod, mean, amax, amin, got 'max'"),
    (lambda x: gg.scatter(x, 0, gg.tensor([[0]]), x, reduce="sum"), ValueError,
     r"scatter: reduce must be 'add' or 'multiply'"),
    (lambda x: gg.index_add(x, 0, gg.tensor([3]), x[:1]), IndexError,
     r"index_add: index 3 is out of bounds for dimension 0 with size 3"),
    (lambda x: gg.index_copy(x, 1, gg.tensor([0, 1]), x), RuntimeError,
     r"index_copy: source \(3, 4\) must be shaped like self \(3, 4\) with dim 1 of size "
     r"len\(index\) = 2, i.e. \(3, 2\)"),
    (lambda x: gg.index_fill(x, 0, gg.tensor([[0]]), 1.0), IndexError,
     r"index_fill: index must be 0-d or 1-D, got shape \(1, 1\)"),
    (lambda x: gg.index_put(x, (gg.tensor([5]),), gg.tensor(1.0, dtype=gg.float64)),
     IndexError, r"index_put: index 5 is out of bounds for dimension 0 with size 3"),
    (lambda x: gg.masked_select(x, gg.ones(3, 4)), TypeError,
     r"masked_select: mask must be a bool tensor, got dtype float32"),
    (lambda x: gg.masked_select(x, gg.ones(2, dtype=gg.bool)), ValueError,
     r"masked_select: shapes \(3, 4\) and \(2,\) cannot be broadcast together"),
    (lambda x: gg.masked_scatter(x, x > -10, x[0]), RuntimeError,
     r"masked_scatter: source \(4,\) has fewer elements than the 12 true values"),
    (lambda x: gg.take(x, gg.tensor([12])), IndexError,
     r"take: index 12 is out of range for a tensor of shape \(3, 4\) \(12 elements\)"),
    (lambda x: gg.put(x, gg.tensor([0, 1]), x[0]), RuntimeError,
     r"put: source \(4,\) and index \(2,\) must have the same number of elements"),
])
def test_errors_name_the_op_and_the_shapes(call, error, match):
    x = gg.zeros(3, 4, dtype=gg.float64)
    with pytest.raises(error, match=match):
        call(x)
