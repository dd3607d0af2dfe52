"""sort / argsort / topk and roll / tril / triu: the conventions the op registry
(tests/opinfo.py: forward, gradcheck, gradgradcheck) does not reach — ties, NaN, 0-d
tensors, errors, the result types — and forward comparisons with PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

TIES = np.array([[3.0, 1.0, 3.0, 2.0, 1.0, 3.0], [0.0, 0.0, -1.0, 5.0, 5.0, 0.0]])


def test_results_are_namedtuples_and_methods_are_the_functions():
    x = gg.tensor([2.0, 1.0])
    s, t = gg.sort(x), gg.topk(x, 1)
    assert type(s).__name__ == "sort" and s._fields == ("values", "indices")
    assert type(t).__name__ == "topk" and t._fields == ("values", "indices")
    values, indices = s
    assert values.tolist() == [1.0, 2.0] and indices.tolist() == [1, 0]
    assert indices.dtype == np.int64 and not indices.requires_grad
    for name in ("sort", "argsort", "topk", "roll", "tril", "triu"):
        assert getattr(gg.Tensor, name) is getattr(gg, name)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_keeps_ties_in_order_of_position(descending, dim):
    values, indices = gg.sort(gg.tensor(TIES), dim=dim, descending=descending)
    key = -TIES if descending else TIES
    order = np.argsort(key, axis=dim, kind="stable")
    np.testing.assert_array_equal(indices.numpy(), order)
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(TIES, order, dim))
    np.testing.assert_array_equal(gg.argsort(gg.tensor(TIES), dim, descending).numpy(), order)


def test_nan_sorts_as_the_largest():
    x = gg.tensor([1.0, np.nan, -2.0, np.nan, 3.0])
    assert gg.sort(x).indices.tolist() == [2, 0, 4, 1, 3]
    assert gg.sort(x, descending=True).indices.tolist() == [1, 3, 4, 0, 2]
    assert gg.topk(x, 2).indices.tolist() == [1, 3]
    assert gg.topk(x, 2, largest=False).indices.tolist() == [2, 0]


@pytest.mark.parametrize("largest", [True, False])
def test_topk_takes_the_lowest_indices_among_ties(largest):
    values, indices = gg.topk(gg.tensor(TIES), 2, largest=largest)
    expected = [[0, 2], [3, 4]] if largest else [[1, 4], [2, 0]]
    assert indices.tolist() == expected
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(TIES, indices.numpy(), 1))
    # sorted=False returns the same (PyTorch leaves that order open)
    same = gg.topk(gg.tensor(TIES), 2, largest=largest, sorted=False)
    assert same.indices.tolist() == expected


def test_gradients_go_to_the_chosen_elements_among_ties():
    x = gg.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    values, _ = gg.topk(x, 2)
    values.backward(gg.tensor([10.0, 20.0]))
    assert x.grad.tolist() == [0.0, 10.0, 20.0, 0.0]
    y = gg.tensor([2.0, 1.0, 2.0], requires_grad=True)
    gg.sort(y, descending=True).values.backward(gg.tensor([1.0, 2.0, 3.0]))
    assert y.grad.tolist() == [1.0, 3.0, 2.0]


def test_zero_dim_tensors():
    x = gg.tensor(5.0, requires_grad=True)
    values, indices = gg.sort(x)
    assert values.shape == () and values.item() == 5.0 and indices.item() == 0
    for k in (0, 1):
        values, indices = gg.topk(x, k)
        assert values.shape == indices.shape == () and indices.item() == 0
    assert gg.argsort(x).shape == ()
    assert gg.roll(x, 3).item() == 5.0 and gg.roll(x, 1, 0).item() == 5.0
    gg.topk(x, 1).values.backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize("call, error, match", [
    (lambda x: gg.topk(x, 4), ValueError, r"topk: k = 4 is out of range for dim 1 of size 3 "
                                         r"\(input shape \(2, 3\)\)"),
    (lambda x: gg.topk(x, -1, dim=0), ValueError, "k = -1 is out of range for dim 0 of size 2"),
    (lambda x: gg.topk(x, 1.5), TypeError, "topk: k must be an int, got 1.5"),
    (lambda x: gg.topk(x, 1, dim=2), IndexError, "topk: dim 2 is out of range"),
    (lambda x: gg.sort(x, dim=-3), IndexError, "sort: dim -3 is out of range"),
    (lambda x: gg.argsort(x, dim=5), IndexError, "argsort: dim 5 is out of range"),
    (lambda x: gg.tril(x[0]), ValueError, r"tril: .*at least 2 dimensions, got shape \(3,\)"),
    (lambda x: gg.triu(gg.tensor(1.0)), ValueError, r"triu: .*got shape \(\)"),
    (lambda x: gg.roll(x, (1, 2)), ValueError, r"roll: shifts \(1, 2\) and dims must align"),
    (lambda x: gg.roll(x, (1, 2), 0), ValueError, r"shifts \(1, 2\) and dims \(0,\) must"),
    (lambda x: gg.roll(x, (), ()), ValueError, "roll: shifts .* must align"),
    (lambda x: gg.roll(x, 1, 2), IndexError, "roll: dim 2 is out of range"),
])
def test_errors_name_the_op_and_the_values(call, error, match):
    with pytest.raises(error, match=match):
        call(gg.ones(2, 3))


@pytest.mark.parametrize("diagonal", range(-4, 5))
def test_tril_triu_keep_dtype_and_batch(diagonal):
    ints = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    for op, ref in ((gg.tril, np.tril), (gg.triu, np.triu)):
        out = op(gg.tensor(ints), diagonal)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out.numpy(), ref(ints, diagonal))
        flags = op(gg.tensor(ints % 2 == 0), diagonal=diagonal)
        assert flags.dtype == np.bool_
        np.testing.assert_array_equal(flags.numpy(), ref(ints % 2 == 0, diagonal))


def test_results_are_new_tensors_that_can_change_in_place():
    x = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for out in (gg.roll(x, 0, 1), gg.roll(x, 1, 1), gg.roll(x, 2), gg.tril(x), gg.sort(x)[0]):
        assert not np.shares_memory(out.numpy(), x.numpy())
        out.mul_(2.0)  # allowed while recording: not a view
        out.sum().backward()
    # 2 from each of the five, but tril passes nothing above the diagonal
    np.testing.assert_array_equal(x.grad.numpy(), [[10, 8, 8], [10, 10, 8]])


# ------------------------------------------------------- against PyTorch
def _data():
    rng = np.random.default_rng(0)
    return [rng.integers(-2, 3, size=shape).astype(np.float32)  # small integers: many ties
            for shape in ((7,), (3, 5), (2, 3, 4), (4, 0))]


def test_sort_and_argsort_match_torch_stable():
    torch = pytest.importorskip("torch")
    for a in _data():
        for dim in range(-a.ndim, a.ndim):
            for descending in (False, True):
                ours = gg.sort(gg.tensor(a), dim, descending)
                theirs = torch.sort(torch.tensor(a), dim=dim, descending=descending, stable=True)
                np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
                np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
                np.testing.assert_array_equal(
                    gg.argsort(gg.tensor(a), dim, descending).numpy(),
                    torch.argsort(torch.tensor(a), dim=dim, descending=descending,
                                  stable=True).numpy())


def test_topk_matches_torch():
    torch = pytest.importorskip("torch")
    for a in _data():
        for dim in range(a.ndim):
            for k in range(a.shape[dim] + 1):
                for largest in (True, False):
                    ours = gg.topk(gg.tensor(a), k, dim, largest)
                    theirs = torch.topk(torch.tensor(a), k, dim, largest)
                    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
                    assert ours.indices.shape == tuple(theirs.indices.shape)


def test_argmax_argmin_of_a_0d_tensor_along_dim_0_or_minus_1():
    torch = pytest.importorskip("torch")
    for name in ("argmax", "argmin"):
        for dim in (0, -1):
            for keepdim in (False, True):
                ours = getattr(gg, name)(gg.tensor(3.0), dim, keepdim)
                theirs = getattr(torch, name)(torch.tensor(3.0), dim, keepdim)
                assert ours.shape == tuple(theirs.shape) and ours.item() == theirs.item() == 0
        with pytest.raises(IndexError, match=f"{name}: dim 1 is out of range"):
            getattr(gg, name)(gg.tensor(3.0), 1)


@pytest.mark.parametrize("shifts, dims", [
    (1, None), (-7, None), ((3,), None), (1, 0), (-1, -1), (5, 1), ((1, -2), (0, 1)),
    ((1, 1), (1, 1)), ((2, 1, 3), (0, 2, 1)), (0, 0),
])
def test_roll_matches_torch(shifts, dims):
    torch = pytest.importorskip("torch")
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(gg.roll(gg.tensor(a), shifts, dims).numpy(),
                                  torch.roll(torch.tensor(a), shifts, dims).numpy())
    empty = np.zeros((0, 3))
    assert gg.roll(gg.tensor(empty), 1, 0).shape == torch.roll(torch.tensor(empty), 1, 0).shape


def test_tril_triu_match_torch():
    torch = pytest.importorskip("torch")
    for shape in ((3, 4), (4, 3), (2, 3, 5), (0, 3), (3, 0)):
        a = np.arange(float(np.prod(shape))).reshape(shape) + 1
        for diagonal in range(-4, 5):
            for ours, theirs in ((gg.tril, torch.tril), (gg.triu, torch.triu)):
                np.testing.assert_array_equal(ours(gg.tensor(a), diagonal).numpy(),
                                              theirs(torch.tensor(a), diagonal).numpy())
