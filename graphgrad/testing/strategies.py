"""Hypothesis strategies for property-testing differentiable code.

They are the strategies graphgrad's own op tests use, shipped so that a user can
property-test a custom ``gg.Function`` the same way: draw shapes (including 0-d,
size-1 and, on request, size-0 dims), mutually broadcastable shape tuples, valid
``dim`` arguments, and tensors whose values stay inside a domain and away from
the points where the function is not differentiable (kinks such as relu's 0,
ties such as max's).

A complete example, checking a custom Function against central differences::

    import numpy as np
    from hypothesis import given, strategies as st

    import graphgrad as gg
    from graphgrad.testing import broadcastable_shapes, gradcheck, shapes, tensors

    class SoftPlus(gg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return gg.Tensor(np.logaddexp(0, x._data))

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * gg.sigmoid(x)

    @given(tensors(shape=shapes(max_side=3), requires_grad=True))
    def test_softplus_gradient(x):
        assert gradcheck(SoftPlus.apply, (x,))

    @given(st.data())
    def test_mul_broadcasts(data):
        xs, ys = data.draw(broadcastable_shapes(2))
        x = data.draw(tensors(shape=xs, requires_grad=True))
        y = data.draw(tensors(shape=ys, avoid=[0.0], requires_grad=True))
        assert gradcheck(lambda a, b: a * b / b.abs(), (x, y))
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from graphgrad.autograd.tensor import Tensor

Shape = tuple[int, ...]
Avoid = Callable[[float], bool] | Iterable[float] | None

__all__ = ["arrays", "broadcastable_shapes", "shapes", "tensors", "valid_dims"]


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 5) -> SearchStrategy[Shape]:
    """Array shapes with ``min_dims..max_dims`` dims of sizes ``min_side..max_side``.

    The default includes 0-d shapes ``()`` and size-1 dims; ``min_side=0`` adds
    empty dims.  ``shapes(max_dims=2).example()`` might give ``(3, 1)``.
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(n: int = 2, min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
                         max_side: int = 5) -> SearchStrategy[tuple[Shape, ...]]:
    """Tuples of ``n`` shapes that broadcast together (NumPy rules).

    The shapes may have different ranks (``(4, 1, 3)`` with ``(3,)``), size-1
    dims that stretch, and 0-d members, e.g. ``((2, 1), (3,), ())``.
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side,
    ).map(lambda b: b.input_shapes)


@st.composite
def valid_dims(draw, ndim: int, allow_none: bool = True, allow_tuple: bool = True):
    """A valid ``dim`` argument for a tensor with ``ndim`` dims.

    None (when allowed), an int in ``[-ndim, ndim - 1]``, or a non-empty tuple of
    distinct dims in any order, each positive or negative.  For a 0-d tensor the
    valid dims are 0 and -1 (as PyTorch).
    """
    n = max(ndim, 1)
    choices = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple else [])
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    dims = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    negative = draw(st.lists(st.booleans(), min_size=len(dims), max_size=len(dims)))
    return tuple(d - n if neg else d for d, neg in zip(dims, negative, strict=True))


def _keep_away(a: np.ndarray, points: Iterable[float], margin: float, lo: float,
               hi: float) -> np.ndarray:
    """Move the values of ``a`` closer than ``margin`` to a point onto ``point +- margin``."""
    for p in points:
        above = p + margin if p + margin <= hi else p - margin
        below = p - margin if p - margin >= lo else p + margin
        close = np.abs(a - p) < margin
        a = np.where(close, np.where(a >= p, above, below), a)
    return a


def _representable(bound: float, dtype: np.dtype, up: bool) -> float:
    """The ``dtype`` value nearest ``bound`` on the inside of the range (hypothesis draws
    exactly representable floats of narrow widths)."""
    b = np.asarray(bound, dtype=dtype if dtype.itemsize < 8 else np.float64)
    if up and b < bound:
        b = np.nextafter(b, b.dtype.type(np.inf))
    elif not up and b > bound:
        b = np.nextafter(b, b.dtype.type(-np.inf))
    return float(b)


@st.composite
def _distinct(draw, shape: Shape, lo: float, hi: float) -> np.ndarray:
    # Each value gets its own cell of width (hi - lo) / n, so any two differ by at least half
    # a cell: far more than a finite-difference step, so no tie can be crossed.
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return np.zeros(shape)
    order = np.array(draw(st.permutations(range(n))), dtype=np.float64)
    jitter = draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, 0.5)))
    width = (hi - lo) / n
    return (lo + width * (order + 0.25 + jitter)).reshape(shape)


@st.composite
def arrays(draw, shape: Shape | SearchStrategy[Shape] | None = None, dtype=np.float64,
           min_value: float = -3.0, max_value: float = 3.0, avoid: Avoid = None,
           margin: float = 1e-3, distinct: bool = False) -> np.ndarray:
    """NumPy arrays of finite floats in ``[min_value, max_value]``; see ``tensors``."""
    dtype = np.dtype(dtype)
    if shape is None:
        shape = shapes()
    if isinstance(shape, SearchStrategy):
        shape = draw(shape)
    points = () if avoid is None or callable(avoid) else tuple(float(p) for p in avoid)
    if distinct:
        a = draw(_distinct(tuple(shape), min_value, max_value))
    else:
        width = 8 * min(dtype.itemsize, 8)
        elements = st.floats(_representable(min_value, dtype, up=True),
                             _representable(max_value, dtype, up=False),
                             allow_nan=False, allow_infinity=False, width=width)
        if callable(avoid):
            elements = elements.filter(lambda v: not avoid(v))
        a = draw(hnp.arrays(np.float64, tuple(shape), elements=elements))
    if points:
        a = _keep_away(a, points, margin, min_value, max_value)
    return a.astype(dtype)


@st.composite
def tensors(draw, shape: Shape | SearchStrategy[Shape] | None = None, dtype=np.float64,
            min_value: float = -3.0, max_value: float = 3.0, avoid: Avoid = None,
            margin: float = 1e-3, distinct: bool = False,
            requires_grad: bool = False) -> Tensor:
    """autograd Tensors of ``dtype`` with finite values in ``[min_value, max_value]``.

    ``shape``: a shape, a strategy of shapes (default ``shapes()``).
    ``avoid``: keep the values away from points where the function under test is
    not differentiable.  Either a list of points (values closer than ``margin``
    are moved to ``point +- margin``, e.g. ``avoid=[0.0]`` for relu and abs) or a
    predicate ``avoid(value) -> bool`` naming the values to reject.
    ``distinct``: all values at least ``(max_value - min_value) / (2 * size)``
    apart, for functions with ties (max, sort, median).

    Example: ``tensors(shape=(3, 2), min_value=0.1, requires_grad=True)`` for log.
    """
    a = draw(arrays(shape, dtype, min_value, max_value, avoid, margin, distinct))
    return Tensor(a, dtype=a.dtype, requires_grad=requires_grad)
