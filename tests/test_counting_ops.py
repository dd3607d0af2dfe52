"""The operations without a gradient of issue 15: nonzero, argwhere, count_nonzero, unique,
unique_consecutive, bincount, histc, searchsorted, bucketize, all, any, isclose, allclose
and equal.  Known values, edge cases (0-d, size-0, NaN, ties), errors naming the op, no
graph recorded, and comparisons with PyTorch on hypothesis inputs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import graphgrad as gg

nan, inf = float("nan"), float("inf")
NAMES = ("nonzero", "argwhere", "count_nonzero", "unique", "unique_consecutive", "bincount",
         "histc", "searchsorted", "bucketize", "all", "any", "isclose", "allclose", "equal")


def _np(result):
    if isinstance(result, tuple):
        return [_np(r) for r in result]
    return result.numpy() if hasattr(result, "numpy") else result


def _same(ours, theirs):
    ours, theirs = _np(ours), _np(theirs)
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs, strict=True):
            _same(o, t)
        return
    if isinstance(theirs, bool):
        assert ours is theirs
        return
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (ours, theirs)
    np.testing.assert_array_equal(ours, theirs)


def _both(name, *args, **kwargs):
    """Call ``name`` on graphgrad and on PyTorch (Tensors converted) and compare."""
    torch = pytest.importorskip("torch")

    def convert(module, a):
        return module.tensor(a) if isinstance(a, np.ndarray) else a

    ours = getattr(gg, name)(*(convert(gg, a) for a in args),
                             **{k: convert(gg, v) for k, v in kwargs.items()})
    theirs = getattr(torch, name)(*(convert(torch, a) for a in args),
                                  **{k: convert(torch, v) for k, v in kwargs.items()})
    _same(ours, theirs)


# ------------------------------------------------------------ known values
def test_known_values():
    x = gg.tensor([[0, 1], [2, 0]])
    assert gg.nonzero(x).tolist() == [[0, 1], [1, 0]]
    assert [t.tolist() for t in gg.nonzero(x, as_tuple=True)] == [[0, 1], [1, 0]]
    assert gg.argwhere(x).tolist() == [[0, 1], [1, 0]]
    assert gg.count_nonzero(x).item() == 2 and gg.count_nonzero(x, dim=1).tolist() == [1, 1]
    values, inverse, counts = gg.unique(gg.tensor([3, 1, 2, 3, 1]), return_inverse=True,
                                        return_counts=True)
    assert values.tolist() == [1, 2, 3] and inverse.tolist() == [2, 0, 1, 2, 0]
    assert counts.tolist() == [2, 1, 2]
    values, counts = gg.unique_consecutive(gg.tensor([1, 1, 2, 2, 3, 1, 1]), return_counts=True)
    assert values.tolist() == [1, 2, 3, 1] and counts.tolist() == [2, 2, 1, 2]
    values, counts = gg.unique(gg.tensor([nan, 1.0, nan]), return_counts=True)
    np.testing.assert_array_equal(values.numpy(), [1.0, nan, nan])  # NaNs stay apart
    assert counts.tolist() == [1, 1, 1]
    assert gg.bincount(gg.tensor([0, 1, 1, 3]), minlength=6).tolist() == [1, 2, 0, 1, 0, 0]
    assert gg.bincount(gg.tensor([0, 1, 1]), gg.tensor([0.5, 1.0, 2.0])).tolist() == [0.5, 3.0]
    # edges 0, 1, 2, 3: 1.0 sits on an edge and counts above it, 3 (max) in the last bin
    assert gg.histc(gg.tensor([0.0, 1.0, 1.5, 3.0, 4.0]), bins=3, min=0, max=3).tolist() \
        == [1.0, 2.0, 1.0]
    seq = gg.tensor([1.0, 3.0, 5.0])
    assert gg.searchsorted(seq, gg.tensor([3.0, 4.0, 0.0, 9.0])).tolist() == [1, 2, 0, 3]
    assert gg.searchsorted(seq, gg.tensor([3.0, 4.0]), right=True).tolist() == [2, 2]
    assert gg.bucketize(gg.tensor([3.0, 4.0]), seq).tolist() == [1, 2]
    assert gg.all(gg.tensor([1.0, 2.0])).item() is True
    assert gg.any(gg.tensor([[0, 0], [0, 1]]), dim=1).tolist() == [False, True]
    assert gg.isclose(gg.tensor([1.0, nan, inf]), gg.tensor([1.0 + 1e-6, nan, inf])).tolist() \
        == [True, False, True]
    assert gg.allclose(gg.tensor([1.0, 2.0]), gg.tensor([1.0, 2.0 + 1e-9])) is True
    assert gg.equal(gg.tensor([1.0, 2.0]), gg.tensor([1.0, 2.0])) is True
    assert gg.equal(gg.tensor([1.0]), gg.tensor([[1.0]])) is False


def test_no_graph_and_methods():
    x = gg.tensor([[0.0, 1.5], [2.0, 2.0]], requires_grad=True)
    w = gg.tensor([0.5, 1.0], requires_grad=True)
    results = [gg.nonzero(x), gg.argwhere(x), gg.count_nonzero(x),
               *gg.unique(x, return_counts=True), gg.unique_consecutive(x),
               gg.bincount(gg.tensor([0, 1]), w), gg.histc(x, 4), gg.searchsorted(x, x),
               gg.bucketize(x, w), gg.all(x), gg.any(x), gg.isclose(x, x)]
    for r in results:
        assert not r.requires_grad and r.grad_fn is None
    for name in NAMES:  # methods where PyTorch has them
        functions_only = name in ("searchsorted", "bucketize")
        assert hasattr(gg.Tensor, name) is not functions_only, name
        assert functions_only or getattr(gg.Tensor, name) is getattr(gg, name), name


def test_zero_dim_and_empty_inputs():
    assert gg.nonzero(gg.tensor(5.0)).shape == (1, 0) and gg.nonzero(gg.tensor(0.0)).shape == (0, 0)
    assert [t.tolist() for t in gg.nonzero(gg.tensor(5.0), as_tuple=True)] == [[0]]
    assert gg.nonzero(gg.zeros(0, 3)).shape == (0, 2)
    values, inverse, counts = gg.unique(gg.tensor(3.0), return_inverse=True, return_counts=True)
    assert values.tolist() == [3.0] and inverse.shape == () and counts.tolist() == [1]
    values, inverse = gg.unique(gg.zeros(0, 3), dim=0, return_inverse=True)
    assert values.shape == (0, 3) and inverse.shape == (0,)
    assert gg.bincount(gg.tensor([], dtype=gg.int64)).shape == (0,)
    assert gg.histc(gg.zeros(0), bins=4).tolist() == [0.0] * 4
    assert gg.all(gg.zeros(0)).item() is True and gg.any(gg.zeros(0)).item() is False
    assert gg.count_nonzero(gg.zeros(2, 0), dim=1).tolist() == [0, 0]
    assert gg.searchsorted(gg.tensor([1.0, 2.0]), 1.5).shape == ()


@pytest.mark.parametrize("call, error, match", [
    (lambda: gg.count_nonzero(gg.ones(2), 1), IndexError, "count_nonzero: dim 1 is out of range"),
    (lambda: gg.unique(gg.zeros(2, 0), dim=0), ValueError,
     r"unique: the slices along dim 0 are empty \(shape \(2, 0\)\)"),
    (lambda: gg.unique(gg.tensor(1.0), dim=0), IndexError, "unique: dim 0 given for a 0-d"),
    (lambda: gg.unique_consecutive(gg.ones(2), dim=1), IndexError,
     "unique_consecutive: dim 1 is out of range"),
    (lambda: gg.bincount(gg.tensor([-1, 1])), ValueError,
     r"bincount: expected a 1-D tensor of non-negative integers, got shape \(2,\) of int64 "
     r"\(min -1\)"),
    (lambda: gg.bincount(gg.tensor([1.0])), ValueError, "bincount: .* of float32"),
    (lambda: gg.bincount(gg.tensor([[1]])), ValueError, r"bincount: .*shape \(1, 1\)"),
    (lambda: gg.bincount(gg.tensor([1, 2]), gg.tensor([1.0])), ValueError,
     r"bincount: weights of shape \(1,\) must be 1-D and match the input's shape \(2,\)"),
    (lambda: gg.bincount(gg.tensor([1]), minlength=-1), ValueError, "minlength must be >= 0"),
    (lambda: gg.histc(gg.tensor([1, 2])), TypeError, "histc: expected a floating point input"),
    (lambda: gg.histc(gg.ones(2), bins=0), ValueError, "histc: bins must be > 0, got 0"),
    (lambda: gg.histc(gg.ones(2), 2, 3, 1), ValueError, "histc: max must be larger than min"),
    (lambda: gg.histc(gg.tensor([1.0, nan])), ValueError, r"histc: the range \[.*\] is not"),
    (lambda: gg.searchsorted(gg.ones(3), gg.ones(2), side="foo"), ValueError,
     "searchsorted: side must be 'left' or 'right', got 'foo'"),
    (lambda: gg.searchsorted(gg.ones(3), gg.ones(2), side="left", right=True), ValueError,
     "searchsorted: side 'left' and right=True contradict"),
    (lambda: gg.searchsorted(gg.ones(2, 3), gg.ones(1, 3)), ValueError,
     r"searchsorted: the leading dims of sorted_sequence \(2, 3\) and of the values \(1, 3\)"),
    (lambda: gg.searchsorted(gg.ones(3), gg.ones(2), sorter=gg.tensor([0, 1])), ValueError,
     r"searchsorted: sorter of shape \(2,\) must match"),
    (lambda: gg.bucketize(gg.ones(2), gg.ones(1, 2)), ValueError,
     r"bucketize: boundaries must be 1-D, got shape \(1, 2\)"),
    (lambda: gg.all(gg.ones(2), dim=2), IndexError, "all: dim 2 is out of range"),
    (lambda: gg.isclose(gg.ones(2), gg.ones(3)), ValueError,
     r"isclose: shapes \(2,\) and \(3,\) cannot be broadcast"),
    (lambda: gg.isclose(gg.ones(2), gg.tensor([1, 1])), TypeError,
     "isclose: the dtypes float32 and int64 must match"),
    (lambda: gg.allclose(gg.ones(2), 1.0), TypeError, "allclose: other must be a Tensor"),
    (lambda: gg.isclose(gg.ones(2), gg.ones(2), rtol=-1), ValueError,
     "isclose: rtol and atol must be >= 0"),
])
def test_errors_name_the_op_and_the_values(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ----------------------------------------------------------- against PyTorch
def _small_ints(shape):
    return hnp.arrays(np.int64, shape, elements=st.integers(-2, 2))


@settings(max_examples=20)
@given(a=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                  max_side=4),
                    elements=st.sampled_from([0.0, 1.0, -2.0, 2.0, nan])),
       data=st.data())
def test_match_torch_on_floats_with_ties_zeros_and_nan(a, data):
    pytest.importorskip("torch")
    _both("nonzero", a)
    _both("nonzero", a, as_tuple=True)
    _both("argwhere", a)
    _both("count_nonzero", a)
    _both("all", a)
    _both("any", a)
    for flags in ({}, {"return_inverse": True}, {"return_counts": True},
                  {"return_inverse": True, "return_counts": True}):
        _both("unique_consecutive", a, **flags)
        # PyTorch's order among NaNs (each its own value) is its sort's: no inverse there
        if not (flags.get("return_inverse") and np.isnan(a).any()):
            _both("unique", a, **flags)
    if a.ndim:
        dim = data.draw(st.integers(-a.ndim, a.ndim - 1), label="dim")
        _both("count_nonzero", a, dim=dim)
        _both("all", a, dim=dim, keepdim=True)
        _both("any", a, dim=dim)
        other = data.draw(hnp.arrays(np.float64, a.shape[-1:], elements=st.sampled_from(
            [0.0, 1.0 + 1e-7, -2.0, 2.5, nan, inf])), label="other")
        for equal_nan in (False, True):
            _both("isclose", a, other, equal_nan=equal_nan)
            _both("allclose", a, other, equal_nan=equal_nan)
        _both("equal", a, a.copy())
        _both("equal", a, other)


@settings(max_examples=20)
@given(a=hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                                max_side=4), elements=st.integers(-1, 2)),
       data=st.data())
def test_unique_along_a_dim_matches_torch(a, data):
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1), label="dim")
    rest = a.shape[:dim % a.ndim] + a.shape[dim % a.ndim + 1:]
    if 0 in rest:
        return  # PyTorch refuses too (test_errors_name_the_op_and_the_values)
    for flags in ({}, {"return_inverse": True, "return_counts": True}):
        _both("unique", a, dim=dim, **flags)
        _both("unique_consecutive", a, dim=dim, **flags)


@settings(max_examples=20)
@given(a=hnp.arrays(np.int64, st.integers(0, 8), elements=st.integers(0, 6)),
       minlength=st.integers(0, 9), data=st.data())
def test_bincount_matches_torch(a, minlength, data):
    _both("bincount", a, minlength=minlength)
    for dtype in (np.float32, np.float64, np.int64):
        w = data.draw(hnp.arrays(dtype, a.shape, elements=st.integers(-3, 3)), label="weights")
        _both("bincount", a, w, minlength=minlength)


@settings(max_examples=60)  # cheap, and float32 bins sit close to PyTorch's rounding
@given(a=hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0,
                                                  max_side=6),
                    elements=st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 1))),
       bins=st.integers(1, 7), bounds=st.sampled_from([(0, 0), (-1, 2), (0, 3), (-2.5, 2.5)]))
def test_histc_matches_torch(a, bins, bounds):
    _both("histc", a, bins=bins, min=bounds[0], max=bounds[1])
    _both("histc", a.astype(np.float32), bins=bins, min=bounds[0], max=bounds[1])


@settings(max_examples=20)
@given(seq=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                                    max_side=5),
                      elements=st.integers(-3, 3).map(float)),
       data=st.data())
def test_searchsorted_and_bucketize_match_torch(seq, data):
    seq = np.sort(seq, axis=-1)  # ties likely: left and right differ
    count = data.draw(st.integers(0, 4), label="count")
    values = data.draw(hnp.arrays(np.float64, seq.shape[:-1] + (count,),
                                  elements=st.sampled_from([-4.0, -1.0, 0.0, 0.5, 2.0, 3.0, 9.0])),
                       label="values")
    for kwargs in ({}, {"right": True}, {"side": "right"}, {"side": "left"},
                   {"out_int32": True}):
        _both("searchsorted", seq, values, **kwargs)
    shuffle = np.argsort(data.draw(hnp.arrays(np.float64, seq.shape,
                                              elements=st.floats(0, 1), unique=True)), -1)
    unsorted = np.take_along_axis(seq, shuffle, -1)
    _both("searchsorted", unsorted, values, sorter=np.argsort(unsorted, -1, kind="stable"))
    if seq.ndim == 1:
        _both("searchsorted", seq, 0.5)
        for right in (False, True):
            _both("bucketize", values, seq, right=right)
            _both("bucketize", 2.0, seq, right=right)
