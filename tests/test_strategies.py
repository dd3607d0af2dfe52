"""The hypothesis strategies that autograd.testing ships keep their promises."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad.testing import broadcastable_shapes, shapes, tensors, valid_dims


@given(shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
def test_shapes_respect_their_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(0 <= n <= 4 for n in shape)


@given(broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shapes_):
    assert len(shapes_) == 3
    np.broadcast_shapes(*shapes_)


@given(st.data())
def test_valid_dims_are_valid(data):
    ndim = data.draw(st.integers(0, 4))
    dim = data.draw(valid_dims(ndim))
    dims = dim if isinstance(dim, tuple) else () if dim is None else (dim,)
    n = max(ndim, 1)
    assert all(-n <= d < n for d in dims)
    assert len({d % n for d in dims}) == len(dims)


@given(st.data())
def test_tensors_stay_in_domain_and_away_from_points(data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    x = data.draw(tensors(shape=shapes(max_dims=3), dtype=dtype, min_value=-1.0,
                          max_value=2.0, avoid=[0.0, 1.0], margin=0.1, requires_grad=True))
    assert isinstance(x, gg.Tensor) and x.dtype == dtype and x.requires_grad
    assert np.all((x.numpy() >= -1.0) & (x.numpy() <= 2.0))
    for p in (0.0, 1.0):
        assert np.all(np.abs(x.numpy().astype(np.float64) - p) >= 0.1 - 1e-6)


@given(tensors(shape=shapes(min_dims=1, max_dims=3), avoid=lambda v: v < 0))
def test_tensors_avoid_predicate(x):
    assert np.all(x.numpy() >= 0)


@given(tensors(shape=shapes(min_dims=1, max_dims=3), min_value=-1.0, max_value=1.0,
               distinct=True))
def test_distinct_tensors_have_no_near_ties(x):
    values = np.sort(x.numpy().reshape(-1))
    assert np.all(np.diff(values) >= 2.0 / (2 * values.size) - 1e-12)
