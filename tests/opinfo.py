"""The test-side op registry: one ``OpInfo`` per public differentiable op of autograd
(``OP_DB``), and one per internal primitive (``INTERNAL_DB``: the Ops that no public
function of their name calls, called directly as ``op(*tensors, **params)``).

Each entry says how to call the op, what it should compute (a float64 NumPy
reference), which input shapes and keyword arguments are valid, where the
input values may lie and which points to keep away from (kinks, ties), and
how hard to check it (second order, tolerances).  The generic tests in
``test_ops.py`` run over every entry; adding an op to autograd means adding
one entry here (``test_every_public_op_is_registered`` fails until then; for a new
``Op`` object without a public function of its name, ``test_every_op_is_registered``).

Shapes are drawn under ``Limits``: the forward test allows size-0 dims and
larger sizes, the gradient tests keep inputs small because central
differences cost two forward passes per input element.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import _recurrent_reference as recurrent
import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

import graphgrad as gg
from graphgrad.autograd.function import UNPACK
from graphgrad.autograd.ops.conv import CONV_BY_ROWS, FOLD, UNFOLD, window
from graphgrad.autograd.ops.conversion import CONTIGUOUS, TO_DEVICE
from graphgrad.autograd.ops.index import INDEX_ADD, INDEX_PUT, SCATTER_ALONG
from graphgrad.autograd.ops.recurrent import GRU_LAYER, LSTM_LAYER, RNN_LAYER
from graphgrad.autograd.ops.scan import EXP_WEIGHTED_CUMSUM, LINEAR_RECURRENCE
from graphgrad.autograd.ops.statistics import standardize
from graphgrad.autograd.random import (
    BERNOULLI,
    BERNOULLI_,
    EXPONENTIAL_,
    NORMAL,
    NORMAL_,
    RANDOM_,
    UNIFORM_,
)
from graphgrad.testing.strategies import arrays, broadcastable_shapes, shapes, valid_dims

Shape = tuple[int, ...]
Shapes = tuple[Shape, ...]
Domain = tuple[float, float]


class Limits(NamedTuple):
    """Bounds on the input shapes a test draws."""

    min_side: int
    max_side: int
    max_dims: int


FORWARD = Limits(min_side=0, max_side=4, max_dims=4)
GRAD = Limits(min_side=1, max_side=3, max_dims=3)
GRADGRAD = Limits(min_side=1, max_side=2, max_dims=3)


@dataclass(frozen=True)
class Sample:
    """One call of an op: its input arrays and keyword arguments."""

    arrays: tuple[np.ndarray, ...]
    kwargs: dict

    def tensors(self, requires_grad: bool = False) -> list[gg.Tensor]:
        """Fresh Tensors holding copies of the input arrays."""
        return [gg.Tensor(a, dtype=a.dtype, requires_grad=requires_grad) for a in self.arrays]


@dataclass(frozen=True)
class OpInfo:
    """How to test one public op.

    name: the public name (``getattr(autograd, name)``); for an internal primitive, the
        name of its ``Op``.
    op: ``op(*tensors, **kwargs)``, calling the public function (or the internal Op).
    ref: the same maths on float64 arrays; returns an array or a tuple of them.
    shapes: ``shapes(limits)`` -> a strategy of the input shapes (a tuple, one per input).
    kwargs: ``kwargs(shapes)`` -> a strategy of keyword arguments valid for those shapes.
    joint: instead of ``shapes`` and ``kwargs``, ``joint(limits)`` -> a strategy of
        (input shapes, kwargs) drawn together, for ops whose input shapes follow from
        their arguments (a scatter's input is shaped by its index).
    domain: the (low, high) range of the input values, one for all inputs or one per input.
    avoid: points where the op is not differentiable; values closer than ``margin`` are moved.
    distinct: draw all input values well apart (for ops with ties: max, maximum, ...).
    empty: the op accepts size-0 dims (tested in the forward test only).
    gradgrad: the op is twice differentiable, so gradgradcheck applies.
    fwd_tol: (rtol, atol) of the forward test in float32 (float64 uses 1e-10).
    grad_tol: extra keyword arguments of gradcheck/gradgradcheck (eps, atol, rtol).
    out_dtype: the expected output dtype given the input dtype and kwargs (default: the
        input's dtype for float outputs, the reference's dtype for the others).
    """

    name: str
    op: Callable[..., Any]
    ref: Callable[..., Any]
    shapes: Callable[[Limits], SearchStrategy[Shapes]] | None
    kwargs: Callable[[Shapes], SearchStrategy[dict]] = lambda shapes: st.just({})
    joint: Callable[[Limits], SearchStrategy[tuple[Shapes, dict]]] | None = None
    domain: Domain | tuple[Domain, ...] = (-3.0, 3.0)
    avoid: tuple[float, ...] = ()
    margin: float = 1e-3
    distinct: bool = False
    empty: bool = True
    gradgrad: bool = True
    fwd_tol: tuple[float, float] = (1e-4, 1e-4)
    grad_tol: dict = field(default_factory=dict)
    out_dtype: Callable[[np.dtype, dict], np.dtype] | None = None

    def __repr__(self) -> str:
        return f"OpInfo({self.name})"

    def domain_of(self, i: int) -> Domain:
        if isinstance(self.domain[0], tuple):
            return self.domain[i]
        return self.domain

    def samples(self, dtype, limits: Limits) -> SearchStrategy[Sample]:
        """A strategy of valid calls with inputs of ``dtype`` and shapes within ``limits``."""
        if not self.empty and limits.min_side == 0:
            limits = limits._replace(min_side=1)
        return _samples(self, np.dtype(dtype), limits)


@st.composite
def _samples(draw, info: OpInfo, dtype: np.dtype, limits: Limits) -> Sample:
    if info.joint is not None:
        input_shapes, kwargs = draw(info.joint(limits))
    else:
        input_shapes = draw(info.shapes(limits))
        kwargs = draw(info.kwargs(input_shapes))
    if info.distinct:  # one pool of distinct values, so no tie across inputs either
        sizes = [int(np.prod(s, dtype=np.int64)) for s in input_shapes]
        lo, hi = info.domain_of(0)
        pool = draw(arrays((sum(sizes),), np.float64, lo, hi, info.avoid, info.margin, True))
        parts = np.split(pool, np.cumsum(sizes)[:-1])
        values = tuple(p.reshape(s).astype(dtype) for p, s in zip(parts, input_shapes, strict=True))
    else:
        values = tuple(
            draw(arrays(s, dtype, *info.domain_of(i), info.avoid, info.margin))
            for i, s in enumerate(input_shapes)
        )
    return Sample(values, kwargs)


# ----------------------------------------------------------------- shape helpers
def same(n: int = 1, min_dims: int = 0, max_dims: int = 4):
    """``n`` inputs of one shape."""
    return lambda lim: shapes(min_dims, min(max_dims, lim.max_dims), lim.min_side,
                              lim.max_side).map(lambda s: (s,) * n)


def broadcast(n: int = 2, max_dims: int = 4):
    """``n`` mutually broadcastable inputs (different ranks, size-1 and 0-d members)."""
    return lambda lim: broadcastable_shapes(n, 0, min(max_dims, lim.max_dims), lim.min_side,
                                            lim.max_side)


def broadcast_or_one(max_dims: int = 4):
    """Two broadcastable inputs, or one input used with a Python scalar."""
    return lambda lim: st.one_of(broadcast(2, max_dims)(lim), same(1, 0, max_dims)(lim))


def _choice(**options: tuple):
    """kwargs drawn from fixed choices, whatever the shapes: ``_choice(mode=("a", "b"))``."""
    return lambda shapes_: st.fixed_dictionaries(
        {k: st.sampled_from(v) for k, v in options.items()})


def _optional(**options: tuple):
    """Like ``_choice``, but each keyword may also be left out (the op's default)."""
    return lambda shapes_: st.fixed_dictionaries(
        {}, optional={k: st.sampled_from(v) for k, v in options.items()})


def _ndim_of(shapes_: Shapes) -> int:
    return len(shapes_[0])


def _axes(dim, ndim: int) -> tuple[int, ...]:
    """A ``dim`` argument as a tuple of axes for NumPy (``()`` for a 0-d tensor)."""
    if ndim == 0 or dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return tuple(sorted(d % ndim for d in dims))


# -------------------------------------------------------- elementwise references
def _with_scalar(fn):
    """Call a binary op as ``fn(x, y)``, or with a Python scalar on either side."""

    def call(x, *rest, scalar=None, reflected=False, **kwargs):
        if rest:
            return fn(x, rest[0], **kwargs)
        return fn(scalar, x, **kwargs) if reflected else fn(x, scalar, **kwargs)

    return call


def _scalar_kwargs(values: tuple[float, ...], extra: dict | None = None,
                   reflected_values: tuple[float, ...] | None = None):
    """kwargs for ``_with_scalar`` ops: a scalar operand when there is only one input, on the
    right (from ``values``) or on the left (from ``reflected_values``, default ``values``)."""

    @st.composite
    def kwargs(draw, shapes_: Shapes) -> dict:
        drawn = draw(st.fixed_dictionaries(extra or {}))
        if len(shapes_) == 1:
            reflected = draw(st.booleans())
            scalars = reflected_values if reflected and reflected_values else values
            drawn.update(scalar=draw(st.sampled_from(scalars)), reflected=reflected)
        return drawn

    return kwargs


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu_ref(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _unary(name: str, ref, **options) -> OpInfo:
    return OpInfo(name, getattr(gg, name), ref, same(1), **options)


_CLIP_BOUNDS = (-1.0, -0.5, 0.5, 1.5)


@st.composite
def _clip_kwargs(draw, shapes_: Shapes) -> dict:
    lo = draw(st.sampled_from((None, -1.0, -0.5)))
    hi = draw(st.sampled_from((0.5, 1.5) if lo is not None else (0.5, 1.5, None)))
    if lo is None and hi is None:
        hi = 0.5
    return {"min": lo, "max": hi}


@st.composite
def _where_kwargs(draw, shapes_: Shapes) -> dict:
    result = np.broadcast_shapes(*shapes_)
    cond_shape = draw(hnp.broadcastable_shapes(result, min_dims=0, max_dims=len(result) + 1,
                                               min_side=1, max_side=3))
    return {"condition": draw(hnp.arrays(np.bool_, cond_shape))}


# -------------------------------------------------------- reduction references
@st.composite
def _reduce_kwargs(draw, shapes_: Shapes, aliases: bool = False, tuples: bool = True) -> dict:
    dim = draw(valid_dims(_ndim_of(shapes_), allow_tuple=tuples))
    keepdim = draw(st.booleans())
    if aliases and draw(st.booleans()):
        return {"axis": dim, "keepdims": keepdim}
    return {"dim": dim, "keepdim": keepdim}


def _reduction(np_fn):
    def ref(x, dim=None, keepdim=False, axis=None, keepdims=None):
        dim = axis if axis is not None else dim
        keepdim = keepdims if keepdims is not None else keepdim
        return np_fn(x, axis=_axes(dim, x.ndim), keepdims=keepdim)

    return ref


def _count(shape: Shape, dim) -> int:
    return int(np.prod([shape[a] for a in _axes(dim, len(shape))], dtype=np.int64))


@st.composite
def _var_kwargs(draw, shapes_: Shapes) -> dict:
    kwargs = draw(_reduce_kwargs(shapes_, aliases=True))
    dim = kwargs.get("dim", kwargs.get("axis"))
    count = _count(shapes_[0], dim)
    if count >= 2:  # otherwise the estimate divides by zero (nan, or inf for the gradient)
        form = draw(st.sampled_from(("default", "correction", "unbiased")))
        if form == "correction":
            kwargs["correction"] = draw(st.integers(0, min(count - 1, 2)))
        elif form == "unbiased":
            kwargs["unbiased"] = draw(st.booleans())
    elif count == 1:
        kwargs["correction"] = 0
    return kwargs


def _std_shapes(lim: Limits):
    # A single element has std 0, where sqrt has no derivative.
    return same(1)(lim).filter(lambda s: int(np.prod(s[0], dtype=np.int64)) != 1)


@st.composite
def _std_kwargs(draw, shapes_: Shapes) -> dict:
    kwargs = draw(_var_kwargs(shapes_))
    key = "dim" if "dim" in kwargs else "axis"
    if _count(shapes_[0], kwargs[key]) == 1:  # std 0 again: reduce over everything instead
        kwargs[key] = None
    return kwargs


def _var_ref(x, dim=None, keepdim=False, correction=None, unbiased=None, axis=None,
             keepdims=None):
    dim = axis if axis is not None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _axes(dim, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.sum(x, axis=axes, keepdims=True) / count
        total = np.sum((x - mean) ** 2, axis=axes, keepdims=keepdim)
        return total / (count - correction) if count - correction > 0 else total * np.nan


@st.composite
def _max_kwargs(draw, shapes_: Shapes) -> dict:
    if len(shapes_) == 2:
        return {}
    form = draw(st.sampled_from(("all", "dim", "dims")))
    if form == "all":
        return {}
    ndim = _ndim_of(shapes_)
    dim = draw(valid_dims(ndim, allow_none=False, allow_tuple=form == "dims"))
    return {"dim": dim, "keepdim": draw(st.booleans())}


def _max_min_ref(pick, arg):
    def ref(x, *other, dim=None, keepdim=False):
        if other:
            return pick(x, other[0])
        if dim is None or isinstance(dim, tuple):
            return pick.reduce(x, axis=_axes(dim, x.ndim), keepdims=keepdim)
        if x.ndim == 0:
            return x, np.zeros((), dtype=np.int64)
        return (pick.reduce(x, axis=dim, keepdims=keepdim),
                arg(x, axis=dim, keepdims=keepdim).astype(np.int64))

    return ref


def _softmax_kwargs(shapes_: Shapes):
    return valid_dims(_ndim_of(shapes_), allow_none=False, allow_tuple=False).map(
        lambda d: {"dim": d})


def _softmax_ref(x, dim):
    e = np.exp(x)
    return e / np.sum(e, axis=_axes(dim, x.ndim), keepdims=True)


def _log_softmax_ref(x, dim):
    return x - np.log(np.sum(np.exp(x), axis=_axes(dim, x.ndim), keepdims=True))


def _logsumexp_ref(x, dim=None, keepdim=False):
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(x), axis=_axes(dim, x.ndim), keepdims=keepdim))


# ---------------------------------------------------------- linalg references
@st.composite
def _matmul_shapes(draw, lim: Limits) -> Shapes:
    side = st.integers(lim.min_side, lim.max_side)
    n, k, m = draw(side), draw(side), draw(side)
    x_rank, y_rank = draw(st.sampled_from(((1, 1), (1, 2), (2, 1), (2, 2), (2, 2))))
    bx, by = draw(broadcastable_shapes(2, 0, max(lim.max_dims - 2, 0), 1, lim.max_side))
    x = bx + (n, k) if x_rank == 2 else (k,)
    y = by + (k, m) if y_rank == 2 else (k,)
    return x, y


@st.composite
def _mm_shapes(draw, lim: Limits, batched: bool = False) -> Shapes:
    """(n, k) and (k, m), with one shared batch dim b in front when ``batched`` (bmm)."""
    side = st.integers(lim.min_side, lim.max_side)
    n, k, m = draw(side), draw(side), draw(side)
    batch = (draw(side),) if batched else ()
    return batch + (n, k), batch + (k, m)


@st.composite
def _linear_shapes(draw, lim: Limits) -> Shapes:
    """x (*, in) with up to two leading dims, W (out, in) and, drawn or not, a bias: (out,)
    or one per row of the last leading dim, (N, out)."""
    side = st.integers(lim.min_side, lim.max_side)
    lead = draw(st.lists(side, min_size=0, max_size=min(2, lim.max_dims - 1)))
    n_in, n_out = draw(side), draw(side)
    shapes_ = (tuple(lead) + (n_in,), (n_out, n_in))
    bias = draw(st.sampled_from(["none", "vector", "rows"] if lead else ["none", "vector"]))
    if bias == "none":
        return shapes_
    return shapes_ + (((n_out,),) if bias == "vector" else ((lead[-1], n_out),))


def _linear_ref(x, w, b=None):
    return x @ w.T if b is None else x @ w.T + b


def _vectors(same_size: bool):
    @st.composite
    def draw_shapes(draw, lim: Limits) -> Shapes:
        side = st.integers(lim.min_side, lim.max_side)
        n = draw(side)
        return (n,), ((n,) if same_size else (draw(side),))

    return draw_shapes


# (subscripts, operand labels) pairs; "." stands for the broadcast dims of "...".
_EINSUM_CASES = (
    "ij,jk->ik", "ij,jk", "ij,ij->", "i,i", "i,j->ij", "ij->ji", "ij->", "ijk->kj", "bij,bjk->bik",
    "ij,k->k", "ij,jk,kl->il", "...ij,...jk->...ik", "...i,...i->...", "i...->...i",
    # labels repeated inside an operand: diagonals and traces
    "ii->i", "ii", "bii->bi", "iii->i", "ij,jj->i", "ii,i->i", "...ii->...i", "i...i->...",
    "bij,bjj->bi", "ii,jj->ij",
)


def _einsum_operands(subscripts: str) -> list[str]:
    return subscripts.split("->")[0].split(",")


@st.composite
def _einsum_shapes(draw, lim: Limits) -> Shapes:
    operands = _einsum_operands(draw(st.sampled_from(_EINSUM_CASES)))
    labels = sorted(set("".join(operands)) - {"."})
    sides = draw(st.lists(st.integers(lim.min_side, lim.max_side), min_size=len(labels),
                          max_size=len(labels)))
    size = dict(zip(labels, sides, strict=True))
    batch = draw(broadcastable_shapes(len(operands), 0, 2, 1, lim.max_side))
    result = []
    for operand, b in zip(operands, batch, strict=True):
        if "..." in operand:
            head, tail = operand.split("...")
            result.append(tuple(size[c] for c in head) + b + tuple(size[c] for c in tail))
        else:
            result.append(tuple(size[c] for c in operand))
    return tuple(result)


def _einsum_fits(subscripts: str, shapes_: Shapes) -> bool:
    """Whether ``subscripts`` is a valid einsum for operands of these shapes."""
    operands = _einsum_operands(subscripts)
    if len(operands) != len(shapes_):
        return False
    size: dict[str, int] = {}
    batches = []
    for operand, shape in zip(operands, shapes_, strict=True):
        head, ellipsis, tail = operand.partition("...")
        if len(head) + len(tail) > len(shape) or (not ellipsis and len(operand) != len(shape)):
            return False
        named = [*zip(head, shape[:len(head)], strict=True),
                 *zip(tail, shape[len(shape) - len(tail):], strict=True)]
        for c, n in named:
            if size.setdefault(c, n) != n:
                return False
        batches.append(shape[len(head):len(shape) - len(tail)])
    try:
        np.broadcast_shapes(*batches)
    except ValueError:
        return False
    return True


def _einsum_kwargs(shapes_: Shapes):
    return st.sampled_from([s for s in _EINSUM_CASES if _einsum_fits(s, shapes_)]).map(
        lambda s: {"subscripts": s})


# ----------------------------------------------------------- shape references
def _factor_shape(draw, size: int, ndim: int) -> Shape:
    """A random shape of ``ndim`` dims holding ``size`` elements (size > 0)."""
    dims = [1] * ndim
    n, p = size, 2
    while n > 1:
        while n % p == 0:
            dims[draw(st.integers(0, ndim - 1))] *= p
            n //= p
        p += 1
    return tuple(dims)


@st.composite
def _reshape_kwargs(draw, shapes_: Shapes, infer: bool = True) -> dict:
    shape = shapes_[0]
    size = int(np.prod(shape, dtype=np.int64))
    if size == 0:
        return {"shape": draw(st.permutations(shape).map(tuple))}
    target = list(_factor_shape(draw, size, draw(st.integers(0 if size == 1 else 1, 4))))
    if infer and target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return {"shape": tuple(target)}


def _reshape_ref(x, shape):
    return x.reshape(shape)


@st.composite
def _expand_kwargs(draw, shapes_: Shapes, infer: bool = True) -> dict:
    shape = shapes_[0]
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=4 - len(shape))))
    target = list(lead)
    for n in shape:
        options = [n] + ([1, 2, 3] if n == 1 else []) + ([-1] if infer else [])
        target.append(draw(st.sampled_from(options)))
    return {"shape": tuple(target)}


def _expand_ref(x, shape):
    lead = len(shape) - x.ndim
    full = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    return np.broadcast_to(x, full)


@st.composite
def _permutation(draw, ndim: int) -> tuple[int, ...]:
    perm = draw(st.permutations(range(ndim)))
    return tuple(d - ndim if draw(st.booleans()) else d for d in perm)


def _permute_kwargs(shapes_: Shapes):
    return _permutation(_ndim_of(shapes_)).map(lambda p: {"dims": p})


def _squeeze_kwargs(shapes_: Shapes):
    return st.fixed_dictionaries({}, optional={"dim": valid_dims(_ndim_of(shapes_))})


def _two_dims(shapes_: Shapes):
    ndim = _ndim_of(shapes_)
    one = valid_dims(ndim, allow_none=False, allow_tuple=False)
    return st.tuples(one, one)


@st.composite
def _transpose_kwargs(draw, shapes_: Shapes) -> dict:
    ndim = _ndim_of(shapes_)
    form = draw(st.sampled_from(("reverse", "swap", "permutation")))
    if form == "reverse":
        return {"dims": ()}
    if form == "swap":
        return {"dims": draw(_two_dims(shapes_))}
    return {"dims": (draw(_permutation(ndim)),)}


def _transpose_ref(x, dims):
    if not dims or x.ndim == 0:
        return x.T
    if len(dims) == 2:
        return np.swapaxes(x, *dims)
    return np.transpose(x, dims[0])


def _squeeze_ref(x, dim=None):
    if dim is None:
        return np.squeeze(x)
    axes = tuple(a for a in _axes(dim, x.ndim) if x.shape[a] == 1)
    return np.squeeze(x, axis=axes)


def _flatten_kwargs(shapes_: Shapes):
    ndim = _ndim_of(shapes_)
    dims = valid_dims(ndim, allow_none=False, allow_tuple=False)
    return st.tuples(dims, dims).filter(
        lambda se: ndim == 0 or se[0] % ndim <= se[1] % ndim).map(
        lambda se: {"start_dim": se[0], "end_dim": se[1]})


def _flatten_ref(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:])


@st.composite
def _cat_shapes(draw, lim: Limits) -> Shapes:
    base = draw(shapes(1, lim.max_dims, lim.min_side, lim.max_side))
    d = draw(st.integers(0, len(base) - 1))
    sizes = draw(st.lists(st.integers(lim.min_side, lim.max_side), min_size=1, max_size=3))
    return tuple(base[:d] + (n,) + base[d + 1:] for n in sizes)


def _cat_kwargs(shapes_: Shapes):
    ndim = _ndim_of(shapes_)
    fits = [d for d in range(ndim)
            if all(s[:d] + s[d + 1:] == shapes_[0][:d] + shapes_[0][d + 1:] for s in shapes_)]
    return st.sampled_from(fits + [d - ndim for d in fits]).map(lambda d: {"dim": d})


def _stack_shapes(lim: Limits):
    return st.integers(1, 3).flatmap(lambda n: same(n, 0, 3)(lim))


def _stack_kwargs(shapes_: Shapes):
    """A new dim's position, in [-ndim - 1, ndim] (stack, unsqueeze)."""
    ndim = _ndim_of(shapes_)
    return st.integers(-ndim - 1, ndim).map(lambda d: {"dim": d})


def _dim_kwargs(shapes_: Shapes):
    return valid_dims(_ndim_of(shapes_), allow_none=False, allow_tuple=False).map(
        lambda d: {"dim": d})


@st.composite
def _split_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    n = shape[dim]
    if n and draw(st.booleans()):  # sizes that add up to n (zeros allowed, as torch)
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        sizes = [b - a for a, b in itertools.pairwise([0, *cuts, n])]
        return {"split_size_or_sections": sizes, "dim": dim}
    return {"split_size_or_sections": draw(st.integers(1, max(n, 1) + 1)), "dim": dim}


def _split_ref(x, split_size_or_sections, dim=0):
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        sizes = sizes or [0]  # torch.split gives one empty piece of an empty dim
    else:
        sizes = split_size_or_sections
    bounds = np.cumsum([0, *sizes])
    return tuple(np.take(x, np.arange(a, b), axis=dim) for a, b in itertools.pairwise(bounds))


@st.composite
def _chunk_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    return {"chunks": draw(st.integers(1, shape[dim] + 1)), "dim": dim}


def _chunk_ref(x, chunks, dim=0):
    n = x.shape[dim]
    if n == 0:  # torch.chunk: ``chunks`` empty pieces
        return tuple(np.take(x, [], axis=dim) for _ in range(chunks))
    return _split_ref(x, -(-n // chunks), dim)


def _unbind_ref(x, dim=0):
    return tuple(np.take(x, i, axis=dim) for i in range(x.shape[dim]))


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@st.composite
def _pad_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    mode = draw(st.sampled_from(("constant", "reflect", "replicate", "circular")))
    if mode == "constant":  # any number of trailing dims
        k = draw(st.integers(1, min(len(shape), 3)))
    else:  # the last k of a (C, *S) or (N, C, *S) input, each non-empty
        k = draw(st.integers(max(len(shape) - 2, 1), min(len(shape) - 1, 3))) \
            if len(shape) > 1 else 0
        if k == 0 or 0 in shape[len(shape) - k:]:
            mode, k = "constant", draw(st.integers(1, min(len(shape), 3)))
    pad = []
    for n in reversed(shape[len(shape) - k:]):  # PyTorch order: last dim first
        if mode == "constant":
            side = st.integers(-n, 2)  # negative padding crops
        elif mode == "reflect":
            side = st.integers(0, max(n - 1, 0))
        else:
            side = st.integers(0, n if n else 0)
        lo, hi = draw(side), draw(side)
        if mode == "constant" and lo + hi < -n:
            lo, hi = -n, 0
        pad += [lo, hi]
    kwargs = {"pad": tuple(pad), "mode": mode}
    if mode == "constant":
        kwargs["value"] = draw(st.sampled_from((0.0, -1.5)))
    return kwargs


def _pad_ref(x, pad, mode="constant", value=0.0):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode != "constant":
        return np.pad(x, widths, mode=_PAD_MODES[mode])
    crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in
                 enumerate(widths))
    kept = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    return np.pad(x[crop], kept, constant_values=value)


def _flip_kwargs(shapes_: Shapes):
    return valid_dims(_ndim_of(shapes_), allow_none=False).map(lambda d: {"dims": d})


def _flip_ref(x, dims):
    return np.flip(x, axis=_axes(dims, x.ndim)) if x.ndim else x


# ----------------------------------------------------------- index references
@st.composite
def _getitem_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    kinds = ["basic"]
    if shape and all(shape):
        kinds += ["integer", "mixed", "list"]
    if shape:
        kinds += ["mask", "dim mask"]
    kind = draw(st.sampled_from(kinds))
    if kind == "basic":  # ints, slices with any step (negative too), None and Ellipsis
        index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True,
                                       allow_ellipsis=True))
    elif kind == "integer":  # an array per dim, repeats likely
        index = draw(hnp.integer_array_indices(shape))
    elif kind == "list":
        d = draw(st.integers(0, len(shape) - 1))
        picks = draw(st.lists(st.integers(-shape[d], shape[d] - 1), min_size=1, max_size=5))
        index = (slice(None),) * d + (picks,)
    elif kind == "mixed":  # slices around one integer array, as x[::-1, idx, ...]
        d = draw(st.integers(0, len(shape) - 1))
        picks = draw(hnp.arrays(np.int64, draw(hnp.array_shapes(min_dims=1, max_dims=2)),
                                elements=st.integers(-shape[d], shape[d] - 1)))
        lead = tuple(draw(st.sampled_from((slice(None), slice(None, None, -1), slice(1, None))))
                     for _ in range(d))
        index = lead + (picks,) + draw(st.sampled_from(((), (Ellipsis,))))
    elif kind == "mask":  # a mask over the leading dims
        k = draw(st.integers(1, len(shape)))
        index = draw(hnp.arrays(np.bool_, shape[:k]))
    else:  # a 1-D mask over one dim
        d = draw(st.integers(0, len(shape) - 1))
        index = (slice(None),) * d + (draw(hnp.arrays(np.bool_, shape[d])),)
    return {"index": index}


def _getitem_ref(x, index):
    if isinstance(index, tuple):
        index = tuple(np.asarray(i) if isinstance(i, list) else i for i in index)
    return x[index]


def _int_index(lo_from_n: Callable[[int], int]):
    """A strategy builder of integer index arrays with values in [lo_from_n(n), n)."""

    def build(shape: Shape, n: int):
        values = st.integers(lo_from_n(n), n - 1) if n else st.just(0)  # n == 0: no values
        return hnp.arrays(np.int64, shape, elements=values)

    return build


@st.composite
def _take_along_kwargs(draw, shapes_: Shapes, negative: bool, smaller: bool = False) -> dict:
    """An index along a dim; with ``smaller`` (gather), no larger than x elsewhere."""
    shape = shapes_[0]
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    n = shape[dim]
    k = draw(st.integers(0, 4)) if n else 0
    if smaller:
        shape = tuple(draw(st.integers(0, m)) for m in shape)
    index_shape = shape[:dim % len(shape)] + (k,) + shape[dim % len(shape) + 1:]
    index = draw(_int_index(lambda m: -m if negative else 0)(index_shape, n))
    return {"dim": dim, "index": index}


def _gather_ref(x, dim, index):
    dim %= x.ndim
    reached = tuple(slice(None) if i == dim else slice(0, k) for i, k in enumerate(index.shape))
    return np.take_along_axis(x[reached], index, dim)


@st.composite
def _index_select_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    n = shape[dim]
    index = draw(_int_index(lambda m: 0)((draw(st.integers(0, 5)) if n else 0,), n))
    return {"dim": dim, "index": index}


@st.composite
def _masked_fill_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    # The mask broadcasts *to* x: a suffix of x's shape with some sizes made 1.
    suffix = shape[draw(st.integers(0, len(shape))):]
    mask_shape = tuple(1 if draw(st.booleans()) else n for n in suffix)
    return {"mask": draw(hnp.arrays(np.bool_, mask_shape)),
            "value": draw(st.sampled_from((0.0, -2.0, 1.25)))}


# ----------------------------------------------------------- sort references
@st.composite
def _sort_kwargs(draw, shapes_: Shapes) -> dict:
    kwargs = draw(_optional(descending=(False, True), stable=(False, True))(shapes_))
    if draw(st.booleans()):
        kwargs["dim"] = draw(valid_dims(_ndim_of(shapes_), allow_none=False, allow_tuple=False))
    return kwargs


def _sort_ref(x, dim=-1, descending=False, stable=False):
    if x.ndim == 0:
        return x, np.zeros((), dtype=np.int64)
    order = np.argsort(-x if descending else x, axis=dim, kind="stable")  # distinct values
    return np.take_along_axis(x, order, dim), order.astype(np.int64)


@st.composite
def _topk_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    n = shape[dim] if shape else 1
    kwargs = {"k": draw(st.integers(0, n))}
    kwargs.update(draw(_optional(largest=(True, False), sorted=(True, False))(shapes_)))
    if dim != -1 or draw(st.booleans()):
        kwargs["dim"] = dim
    return kwargs


def _topk_ref(x, k, dim=-1, largest=True, sorted=True):
    if x.ndim == 0:
        return x, np.zeros((), dtype=np.int64)
    values, order = _sort_ref(x, dim, descending=largest)
    keep = np.arange(k)
    return np.take(values, keep, axis=dim), np.take(order, keep, axis=dim)


@st.composite
def _roll_kwargs(draw, shapes_: Shapes) -> dict:
    ndim = _ndim_of(shapes_)
    shift = st.integers(-5, 5)
    if ndim == 0 or draw(st.booleans()):  # dims=None: the flattened tensor, one shift
        return {"shifts": draw(st.one_of(shift, st.tuples(shift)))}
    dims = draw(st.lists(valid_dims(ndim, allow_none=False, allow_tuple=False), min_size=1,
                         max_size=3))
    shifts = [draw(shift) for _ in dims]
    if len(dims) == 1 and draw(st.booleans()):
        return {"shifts": shifts[0], "dims": dims[0]}
    return {"shifts": tuple(shifts), "dims": tuple(dims)}


@st.composite
def _tile_kwargs(draw, shapes_: Shapes) -> dict:
    """Counts for fewer, as many or more dims than the input has (0 and 1 included)."""
    ndim = _ndim_of(shapes_)
    count = draw(st.integers(max(ndim - 1, 0), ndim + 1))
    return {"dims": tuple(draw(st.lists(st.integers(0, 3), min_size=count, max_size=count)))}


def _roll_ref(x, shifts, dims=None):
    if x.ndim == 0:
        return x
    return np.roll(x, shifts, axis=dims)


def _diagonal_kwargs(shapes_: Shapes):
    return st.fixed_dictionaries({}, optional={"diagonal": st.integers(-3, 3)})


# ---------------------------------------------------------- scatter references
def _seeded(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _along_index(draw, shape: Shape, dim: int, unique: bool) -> np.ndarray:
    """An index for a scatter along ``dim`` into ``shape``: no larger than shape outside
    dim; with ``unique``, no position twice along a line (for ops that copy)."""
    n = shape[dim]
    sizes = [draw(st.integers(0, s)) for s in shape]
    sizes[dim] = draw(st.integers(0, n if unique else 4)) if n else 0
    rng = _seeded(draw)
    if unique:
        keys = rng.random(tuple(n if i == dim else k for i, k in enumerate(sizes)))
        order = np.argsort(keys, axis=dim)
        return np.take(order, np.arange(sizes[dim]), axis=dim).astype(np.int64)
    return rng.integers(0, max(n, 1), tuple(sizes)).astype(np.int64)


def _scatter_positions(index: np.ndarray, dim: int) -> tuple:
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


@st.composite
def _scatter_joint(draw, lim: Limits, unique: bool, values: bool = False) -> tuple:
    """Input x, an index along a dim, and src (at least the index's size in every dim);
    with ``values``, sometimes a number instead of src."""
    (shape,) = draw(same(1, min_dims=1)(lim))
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    index = _along_index(draw, shape, dim % len(shape), unique)
    if values and draw(st.booleans()):
        return (shape,), {"dim": dim, "index": index, "value": draw(st.sampled_from((0.5, -2.0)))}
    src = tuple(k + draw(st.integers(0, 1)) for k in index.shape)
    return (shape, src), {"dim": dim, "index": index}


def _scatter_ref(x, src=None, *, dim, index, value=None, reduce=None):
    out = x.copy()
    at = _scatter_positions(index, dim % x.ndim)
    picked = src[tuple(slice(0, k) for k in index.shape)] if src is not None else value
    if reduce == "sum":
        np.add.at(out, at, picked)
    else:
        out[at] = picked
    return out


_SCATTER_REDUCE = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max,
                   "amin": np.min}


def _scatter_reduce_ref(x, src, dim, index, reduce, include_self=True):
    dim %= x.ndim
    out = x.copy()
    met = {}
    for position in np.ndindex(*index.shape):
        target = list(position)
        target[dim] = index[position]
        met.setdefault(tuple(target), []).append(src[position])
    for target, values in met.items():
        own = [x[target]] if include_self else []
        out[target] = _SCATTER_REDUCE[reduce](np.array(own + values))
    return out


@st.composite
def _scatter_reduce_joint(draw, lim: Limits) -> tuple:
    input_shapes, kwargs = draw(_scatter_joint(lim, unique=False))
    kwargs["reduce"] = draw(st.sampled_from(tuple(_SCATTER_REDUCE)))
    kwargs.update(draw(_optional(include_self=(True, False))(input_shapes)))
    return input_shapes, kwargs


@st.composite
def _index_joint(draw, lim: Limits, unique: bool, negative: bool = False) -> tuple:
    """Input x, dim and a 1-D index into that dim, and the source's shape (x's with
    len(index) at dim)."""
    (shape,) = draw(same(1, min_dims=1)(lim))
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    d = dim % len(shape)
    n = shape[d]
    if unique:
        index = np.array(draw(st.permutations(range(n)))[:draw(st.integers(0, n))], np.int64)
    else:
        index = draw(_int_index(lambda m: -m if negative else 0)((draw(st.integers(0, 4))
                                                                  if n else 0,), n))
    source = shape[:d] + (index.size,) + shape[d + 1:]
    return (shape, source), {"dim": dim, "index": index}


def _index_ref(x, source=None, *, dim, index, value=None, alpha=1, add=False):
    out = x.copy()
    at = (slice(None),) * (dim % x.ndim) + (index,)
    if add:
        np.add.at(out, at, alpha * source)
    else:
        out[at] = source if source is not None else value
    return out


@st.composite
def _index_fill_joint(draw, lim: Limits) -> tuple:
    (shape, _), kwargs = draw(_index_joint(lim, unique=False, negative=True))
    if draw(st.booleans()):  # a 0-d tensor value
        return (shape, ()), kwargs
    return (shape,), {**kwargs, "value": draw(st.sampled_from((0.5, -2.0)))}


@st.composite
def _index_put_joint(draw, lim: Limits) -> tuple:
    """Integer indices into x's leading dims (distinct positions unless accumulating) and
    values broadcasting to the picked shape."""
    (shape,) = draw(same(1, min_dims=1)(lim))
    lead = draw(st.integers(1, len(shape)))
    accumulate = draw(st.booleans())
    size = math.prod(shape[:lead])
    count = draw(st.integers(0, 5 if accumulate else size)) if size else 0
    rng = _seeded(draw)
    flat = rng.integers(0, size, count) if accumulate else rng.permutation(size)[:count]
    indices = tuple(i.astype(np.int64) for i in np.unravel_index(flat, shape[:lead]))
    target = (count,) + shape[lead:]
    values = target[draw(st.integers(0, len(target))):]
    return (shape, values), {"indices": indices, "accumulate": accumulate}


def _index_put_public_ref(x, values, indices, accumulate):
    out = x.copy()
    if accumulate:
        np.add.at(out, indices, np.broadcast_to(values, out[indices].shape))
    else:
        out[indices] = values
    return out


@st.composite
def _masked_select_joint(draw, lim: Limits) -> tuple:
    x_shape, mask_shape = draw(broadcast(2)(lim))
    return (x_shape,), {"mask": draw(hnp.arrays(np.bool_, mask_shape))}


def _masked_select_ref(x, mask):
    shape = np.broadcast_shapes(x.shape, mask.shape)
    return np.broadcast_to(x, shape)[np.broadcast_to(mask, shape)]


@st.composite
def _masked_scatter_joint(draw, lim: Limits) -> tuple:
    (shape,) = draw(same(1)(lim))
    kwargs = draw(_masked_fill_kwargs((shape,)))
    count = int(np.broadcast_to(kwargs["mask"], shape).sum())
    return (shape, (count + draw(st.integers(0, 2)),)), {"mask": kwargs["mask"]}


def _masked_scatter_ref(x, source, mask):
    out = x.copy()
    where = np.broadcast_to(mask, x.shape)
    out[where] = source[:int(where.sum())]
    return out


@st.composite
def _take_joint(draw, lim: Limits) -> tuple:
    (shape,) = draw(same(1)(lim))
    n = math.prod(shape)
    index_shape = draw(shapes(0, 2, 0, 3)) if n else (0,)
    return (shape,), {"index": draw(_int_index(lambda m: -m)(index_shape, n))}


@st.composite
def _put_joint(draw, lim: Limits) -> tuple:
    (shape,) = draw(same(1)(lim))
    n = math.prod(shape)
    accumulate = draw(st.booleans())
    count = draw(st.integers(0, 5 if accumulate else n)) if n else 0
    rng = _seeded(draw)
    index = rng.integers(-n, n, count) if accumulate else rng.permutation(n)[:count] - n * (
        rng.random(count) < 0.5)
    return (shape, (count,)), {"index": index.astype(np.int64), "accumulate": accumulate}


def _put_ref(x, source, index, accumulate):
    out = x.copy().reshape(-1)
    if accumulate:
        np.add.at(out, index, source)
    else:
        out[index] = source
    return out.reshape(x.shape)


# --------------------------------------------------- diagonal and movement references
@st.composite
def _dim_pair(draw, ndim: int) -> tuple[int, int]:
    """Two distinct dims of ``ndim`` (>= 2), each positive or negative."""
    a, b = draw(st.permutations(range(ndim)))[:2]
    return a - ndim * draw(st.booleans()), b - ndim * draw(st.booleans())


@st.composite
def _diagonal_dims_kwargs(draw, shapes_: Shapes, extra: int = 0) -> dict:
    dim1, dim2 = draw(_dim_pair(_ndim_of(shapes_) + extra))
    kwargs = draw(_optional(offset=(-2, -1, 0, 1, 3))(shapes_))
    if (dim1, dim2) != ((0, 1) if not extra else (-2, -1)) or draw(st.booleans()):
        kwargs.update(dim1=dim1, dim2=dim2)
    return kwargs


def _diag_embed_ref(x, offset=0, dim1=-2, dim2=-1):
    side = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (side, side))
    rows = np.arange(x.shape[-1]) + max(-offset, 0)
    out[..., rows, rows + offset] = x
    ndim = x.ndim + 1
    return np.moveaxis(out, (-2, -1), (dim1 % ndim, dim2 % ndim))


@st.composite
def _movedim_kwargs(draw, shapes_: Shapes) -> dict:
    ndim = _ndim_of(shapes_)
    count = draw(st.integers(1, max(ndim, 1)))
    source = draw(st.permutations(range(max(ndim, 1))))[:count]
    destination = draw(st.permutations(range(max(ndim, 1))))[:count]
    if count == 1 and draw(st.booleans()):
        return {"source": source[0], "destination": -1 - destination[0] % max(ndim, 1)}
    return {"source": tuple(source), "destination": tuple(destination)}


@st.composite
def _select_joint(draw, lim: Limits) -> tuple:
    (shape,) = draw(same(1, min_dims=1)(lim))
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    shape = tuple(max(n, 1) if i == dim % len(shape) else n for i, n in enumerate(shape))
    n = shape[dim]
    return (shape,), {"dim": dim, "index": draw(st.integers(-n, n - 1))}


@st.composite
def _unflatten_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    n = shape[dim]
    sizes = list(_factor_shape(draw, n, draw(st.integers(1, 3))) if n else (0, 2))
    if n and draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return {"dim": dim, "sizes": tuple(sizes)}


def _unflatten_ref(x, dim, sizes):
    d = dim % x.ndim
    known = math.prod(s for s in sizes if s != -1)
    sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)
    return x.reshape(x.shape[:d] + sizes + x.shape[d + 1:])


@st.composite
def _rot90_kwargs(draw, shapes_: Shapes) -> dict:
    kwargs = draw(_optional(k=(-1, 0, 1, 2, 3, 5))(shapes_))
    if draw(st.booleans()):
        kwargs["dims"] = draw(_dim_pair(_ndim_of(shapes_)))
    return kwargs


@st.composite
def _repeat_interleave_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    kwargs = {}
    if draw(st.booleans()):
        kwargs["dim"] = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    n = (shape[kwargs["dim"]] if shape else 1) if "dim" in kwargs else math.prod(shape)
    if draw(st.booleans()):
        kwargs["repeats"] = draw(st.integers(0, 3))
    else:
        kwargs["repeats"] = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 3)))
    if draw(st.booleans()):
        kwargs["output_size"] = int(np.sum(np.broadcast_to(kwargs["repeats"], (n,))))
    return kwargs


def _repeat_interleave_ref(x, repeats, dim=None, output_size=None):
    return np.repeat(x.reshape(-1) if x.ndim == 0 else x, repeats, axis=dim)


@st.composite
def _narrow_kwargs(draw, shapes_: Shapes) -> dict:
    shape = shapes_[0]
    dim = draw(valid_dims(len(shape), allow_none=False, allow_tuple=False))
    n = shape[dim]
    start = draw(st.integers(-n, n)) if n else 0
    length = draw(st.integers(0, n - start % n if n and start % n else n - max(start, 0)))
    return {"dim": dim, "start": start, "length": length}


def _narrow_ref(x, dim, start, length):
    start = start + x.shape[dim] if start < 0 else start
    return np.take(x, np.arange(start, start + length), axis=dim)
# ----------------------------------------------------------- scan references
@st.composite
def _scan_kwargs(draw, shapes_: Shapes, dtypes: bool = False) -> dict:
    kwargs = {"dim": draw(valid_dims(_ndim_of(shapes_), allow_none=False, allow_tuple=False))}
    if dtypes:
        kwargs.update(draw(_optional(dtype=(np.float32, np.float64))(shapes_)))
    return kwargs


def _along_last(fn):
    """Apply ``fn`` to each line along ``dim`` (moved last; a 0-d input is one line)."""

    def ref(x, dim, **kwargs):
        lines = np.moveaxis(np.atleast_1d(x), dim, -1)
        outs = fn(lines, **kwargs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        back = tuple(np.moveaxis(o, -1, dim).reshape(x.shape) for o in outs)
        return back if len(back) > 1 else back[0]

    return ref


# cumsum and cumprod are multilinear (each input appears to the first power), so central
# differences are exact at any step: a large one keeps the float32 rounding of their
# dtype=float32 outputs (about 1e-7 of each output, divided by the step) out of the check.
_MULTILINEAR_IN_FLOAT32 = {"eps": 0.1, "atol": 1e-4, "rtol": 1e-3}


def _cumulative(ufunc):
    def lines(a, dtype=None):
        return ufunc.accumulate(a if dtype is None else a.astype(dtype), axis=-1)

    return _along_last(lines)


def _cum_extreme_ref(pick):
    """(values, indices) with indices = the argmax/argmin of each prefix (distinct values)."""

    def lines(a):
        indices = np.zeros(a.shape, dtype=np.int64)
        for i in range(a.shape[-1]):
            indices[..., i] = pick(a[..., : i + 1], axis=-1)
        return np.take_along_axis(a, indices, -1), indices

    return _along_last(lines)


def _logcumsumexp_lines(a):
    return np.log(np.cumsum(np.exp(a), axis=-1))


def _scan_dtype(dtype: np.dtype, kwargs: dict) -> np.dtype:
    return np.dtype(kwargs.get("dtype", dtype))


# ------------------------------------------------- more elementwise maths references
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _erfinv_ref(x):
    """By bisection on math.erf (independent of the Newton iteration it checks)."""
    def one(v):
        lo, hi = -6.0, 6.0
        for _ in range(80):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if math.erf(mid) < v else (lo, mid)
        return (lo + hi) / 2
    return np.vectorize(one, otypes=[np.float64])(x)


def _polygamma_ref(x, n: int = 0, shift: int = 40):
    """psi^(n)(x) from sum_{k<N} of the recurrence terms and the first terms of the
    asymptotic series at x + N (N = 40 puts its error below 1e-13); n = 0 is digamma."""
    z = x + shift
    if n == 0:
        head = -sum(1 / (x + k) for k in range(shift))
        return head + np.log(z) - 1 / (2 * z) - 1 / (12 * z**2) + 1 / (120 * z**4)
    head = sum((x + k) ** -(n + 1) for k in range(shift))
    tail = (z**-n / n + z ** -(n + 1) / 2 + (n + 1) * z ** -(n + 2) / 12
            - (n + 1) * (n + 2) * (n + 3) * z ** -(n + 4) / 720)
    return (-1) ** (n + 1) * math.factorial(n) * (head + tail)


_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])
_GAMMA_POLES = (0.0, -1.0, -2.0, -3.0)
_ROUNDING_JUMPS = tuple(np.arange(-3.0, 3.01, 0.05).round(2))  # integers, halves, tenths+0.05


@st.composite
def _lerp_shapes(draw, lim: Limits) -> Shapes:
    """input, end and a tensor weight, or input and end (the weight a number)."""
    return draw(st.one_of(broadcast(3)(lim), broadcast(2)(lim)))


def _lerp_kwargs(shapes_: Shapes):
    if len(shapes_) == 3:
        return st.just({})
    return st.fixed_dictionaries({"weight": st.sampled_from((0.25, 0.5, 1.5, -1.0))})


def _lerp(*xs, weight=None):
    return xs[0] + (xs[2] if weight is None else weight) * (xs[1] - xs[0])


@st.composite
def _clamp_joint(draw, lim: Limits) -> tuple:
    """x and one or two tensor bounds (broadcast together), which ones drawn."""
    bounds = draw(st.sampled_from((("min", "max"), ("min",), ("max",))))
    return draw(broadcast(1 + len(bounds))(lim)), {"bounds": bounds}


def _clamp_call(x, *limits, bounds):
    return gg.clamp(x, **dict(zip(bounds, limits, strict=True)))


def _clamp_ref(x, *limits, bounds):
    given = dict(zip(bounds, limits, strict=True))
    if "min" in given:
        x = np.where(x < given["min"], given["min"], x)
    if "max" in given:
        x = np.where(x > given["max"], given["max"], x)
    return x


def _addc_kwargs(shapes_: Shapes):
    return _optional(value=(0.5, -2.0))(shapes_)


MATHS_DB: tuple[OpInfo, ...] = (
    _unary("log1p", np.log1p, domain=(-0.5, 3.0)),
    _unary("expm1", np.expm1),
    _unary("log2", np.log2, domain=(0.1, 3.0)),
    _unary("log10", np.log10, domain=(0.1, 3.0)),
    _unary("exp2", np.exp2),
    _unary("sinh", np.sinh),
    _unary("cosh", np.cosh),
    _unary("tan", np.tan, domain=(-1.2, 1.2)),
    _unary("asin", np.arcsin, domain=(-0.9, 0.9)),
    _unary("acos", np.arccos, domain=(-0.9, 0.9)),
    _unary("atan", np.arctan),
    _unary("asinh", np.arcsinh),
    _unary("acosh", np.arccosh, domain=(1.1, 3.0)),
    _unary("atanh", np.arctanh, domain=(-0.9, 0.9)),
    _unary("reciprocal", np.reciprocal, avoid=(0.0,), margin=0.3),
    _unary("sinc", np.sinc, avoid=(0.0,)),  # at 0 exactly: tests/test_maths_ops.py
    _unary("erfc", _erfc),
    _unary("erfinv", _erfinv_ref, domain=(-0.9, 0.9)),
    _unary("lgamma", _lgamma, domain=(-2.9, 4.0), avoid=_GAMMA_POLES, margin=0.1),
    _unary("digamma", _polygamma_ref, domain=(-2.9, 4.0), avoid=_GAMMA_POLES, margin=0.1),
    OpInfo("polygamma", lambda x, n: gg.polygamma(n, x), _polygamma_ref, same(1),
           _choice(n=(1, 2, 3)), domain=(-2.9, 4.0), avoid=_GAMMA_POLES, margin=0.2),
    _unary("floor", np.floor, avoid=_ROUNDING_JUMPS),
    _unary("ceil", np.ceil, avoid=_ROUNDING_JUMPS),
    _unary("trunc", np.trunc, avoid=_ROUNDING_JUMPS),
    OpInfo("round", gg.round, lambda x, decimals=0: np.round(x, decimals), same(1),
           _optional(decimals=(0, 1)), avoid=_ROUNDING_JUMPS),
    _unary("frac", lambda x: x - np.trunc(x), avoid=_ROUNDING_JUMPS),
    OpInfo("atan2", gg.atan2, np.arctan2, broadcast(), avoid=(0.0,), margin=0.3),
    OpInfo("hypot", gg.hypot, np.hypot, broadcast(), avoid=(0.0,), margin=0.3),
    OpInfo("logaddexp", gg.logaddexp, np.logaddexp, broadcast()),
    OpInfo("logaddexp2", gg.logaddexp2, np.logaddexp2, broadcast()),
    OpInfo("xlogy", gg.xlogy, lambda x, y: x * np.log(y), broadcast(),
           domain=((-3.0, 3.0), (0.1, 3.0)), avoid=(0.0,)),  # x == 0: test_maths_ops.py
    OpInfo("float_power", gg.float_power, np.power, broadcast(), domain=((0.3, 2.5), (-2, 2)),
           avoid=(0.0,),  # an exponent of exactly 0: pow's convention (test_edge_gradients)
           out_dtype=lambda dtype, kwargs: np.dtype(np.float64)),
    OpInfo("lerp", lambda *xs, **kw: gg.lerp(*xs[:2], xs[2] if len(xs) == 3 else kw["weight"]),
           _lerp, _lerp_shapes, _lerp_kwargs),
    OpInfo("addcmul", gg.addcmul, lambda x, a, b, value=1: x + value * a * b, broadcast(3),
           _addc_kwargs),
    OpInfo("addcdiv", gg.addcdiv, lambda x, a, b, value=1: x + value * a / b, broadcast(3),
           _addc_kwargs, domain=((-3.0, 3.0), (-3.0, 3.0), (0.5, 3.0))),
    # tensor bounds (clip has the number bounds): min where x < min, max where it binds
    OpInfo("clamp", _clamp_call, _clamp_ref, None, joint=_clamp_joint,
           distinct=True),
)


# ------------------------------------------------- products, grids, norms references
@st.composite
def _scaled_product_shapes(draw, lim: Limits, kind: str) -> Shapes:
    """input (broadcast to the product's shape) and the two factors of addmm & co."""
    side = st.integers(lim.min_side, lim.max_side)
    b, n, m, p = draw(side), draw(side), draw(side), draw(side)
    factors, out = {
        "addmm": (((n, m), (m, p)), (n, p)), "addmv": (((n, m), (m,)), (n,)),
        "addr": (((n,), (p,)), (n, p)), "baddbmm": (((b, n, m), (b, m, p)), (b, n, p)),
        "addbmm": (((b, n, m), (b, m, p)), (n, p)),
    }[kind]
    start = draw(st.integers(0, len(out)))
    input_shape = tuple(1 if draw(st.booleans()) else k for k in out[start:])
    return (input_shape, *factors)


def _scaled_product_ref(kind: str):
    products = {"addmm": np.matmul, "addmv": np.matmul, "addr": np.outer, "baddbmm": np.matmul,
                "addbmm": lambda a, b: np.matmul(a, b).sum(0)}

    def ref(x, a, b, beta=1, alpha=1):
        return alpha * products[kind](a, b) + beta * x

    return ref


def _scaled_product(kind: str) -> OpInfo:
    return OpInfo(kind, getattr(gg, kind), _scaled_product_ref(kind),
                  lambda lim: _scaled_product_shapes(lim, kind),
                  _optional(beta=(1, 0.5, 0), alpha=(1, -2.0)))


@st.composite
def _tensordot_joint(draw, lim: Limits) -> tuple:
    side = st.integers(lim.min_side, lim.max_side)
    contracted = draw(st.lists(side, max_size=2))
    a_free = draw(st.lists(side, max_size=max(lim.max_dims - len(contracted), 0)))
    b_free = draw(st.lists(side, max_size=max(lim.max_dims - len(contracted), 0)))
    if draw(st.booleans()):  # an int: a's last dims with b's first
        return (tuple(a_free + contracted), tuple(contracted + b_free)), {"dims": len(contracted)}
    a_order = draw(st.permutations(range(len(a_free) + len(contracted))))
    b_order = draw(st.permutations(range(len(b_free) + len(contracted))))
    a_sizes, b_sizes = contracted + a_free, contracted + b_free  # contracted first, then moved
    a_shape = tuple(a_sizes[i] for i in a_order)
    b_shape = tuple(b_sizes[i] for i in b_order)
    dims_a = [list(a_order).index(k) for k in range(len(contracted))]
    dims_b = [list(b_order).index(k) for k in range(len(contracted))]
    return (a_shape, b_shape), {"dims": (dims_a, dims_b)}


@st.composite
def _cross_joint(draw, lim: Limits) -> tuple:
    (base,) = draw(same(1, 0, min(lim.max_dims, 3) - 1)(lim))
    at = draw(st.integers(0, len(base)))
    shape = base[:at] + (3,) + base[at:]
    other = tuple(1 if i != at and draw(st.booleans()) else n for i, n in enumerate(shape))
    kwargs = {"dim": at - len(shape) if draw(st.booleans()) else at}
    if 3 not in base[:at] and draw(st.booleans()):
        kwargs = {}  # dim=None: the first dim of size 3
    return (shape, other), kwargs


def _cross_ref(x, y, dim=None):
    x, y = np.broadcast_arrays(x, y)
    return np.cross(x, y, axis=list(x.shape).index(3) if dim is None else dim)


def _vector_shapes(lim: Limits):
    side = st.integers(lim.min_side, lim.max_side)
    return st.lists(st.lists(side, min_size=1, max_size=1).map(tuple), min_size=1,
                    max_size=3).map(tuple)


def _cartesian_ref(*xs):
    if len(xs) == 1:
        return xs[0]
    return np.array(list(itertools.product(*xs))).reshape(-1, len(xs))


@st.composite
def _nan_joint(draw, lim: Limits) -> tuple:
    """An input, a NaN mask that leaves a number in every reduced slice, dim and keepdim."""
    (shape,) = draw(same(1)(lim))
    kwargs = draw(_reduce_kwargs((shape,)))
    mask = draw(hnp.arrays(np.bool_, shape))
    grid = np.indices(shape)
    kept = np.ones(shape, dtype=bool)
    for d in _axes(kwargs["dim"], len(shape)):
        kept &= grid[d] == 0
    return (shape,), {"mask": mask & ~kept, **kwargs}


def _nan_call(fn):
    def call(x, mask, **kwargs):
        return fn(gg.where(mask, math.nan, x), **kwargs)
    return call


def _nan_ref(fn):
    def ref(x, mask, dim=None, keepdim=False):
        return fn(np.where(mask, np.nan, x), axis=_axes(dim, x.ndim), keepdims=keepdim)
    return ref


def _paired_ref(first):
    def ref(x, **kwargs):
        return first(x, **kwargs), _reduction(np.mean)(x, kwargs.get("dim"),
                                                       kwargs.get("keepdim", False))
    return ref


def _paired_kwargs(base):
    """var/std's kwargs in var_mean's words (dim, keepdim: no NumPy aliases)."""
    def kwargs(shapes_: Shapes):
        return base(shapes_).map(lambda kw: {{"axis": "dim", "keepdims": "keepdim"}.get(k, k): v
                                             for k, v in kw.items()})
    return kwargs


# inf/-inf: tests/test_blas_stats_ops.py (distinct values drawn evenly spaced tie in |x|)
_NORM_PS = (1, 2, 3, 1.5, "fro")


@st.composite
def _norm_kwargs(draw, shapes_: Shapes) -> dict:
    p = draw(st.sampled_from(_NORM_PS))
    kwargs = draw(_reduce_kwargs(shapes_))
    if p == "fro" and isinstance(kwargs["dim"], tuple) and len(kwargs["dim"]) > 2:
        kwargs["dim"] = kwargs["dim"][:2]
    return {"p": p, **kwargs}


def _norm_ref(x, p="fro", dim=None, keepdim=False):
    axes = _axes(dim, x.ndim)
    p = 2 if p == "fro" else p
    if p == math.inf:
        return np.max(np.abs(x), axis=axes, keepdims=keepdim)
    if p == -math.inf:
        return np.min(np.abs(x), axis=axes, keepdims=keepdim)
    return np.sum(np.abs(x) ** p, axis=axes, keepdims=keepdim) ** (1 / p)


@st.composite
def _cdist_shapes(draw, lim: Limits) -> Shapes:
    side = st.integers(lim.min_side, lim.max_side)
    batch = draw(broadcastable_shapes(2, 0, max(lim.max_dims - 2, 0), 1, lim.max_side))
    m = draw(side)
    return batch[0] + (draw(side), m), batch[1] + (draw(side), m)


def _cdist_ref(a, b, p=2.0):
    return _norm_ref(a[..., :, None, :] - b[..., None, :, :], p, -1)


BLAS_STATS_DB: tuple[OpInfo, ...] = (
    *(_scaled_product(kind) for kind in ("addmm", "addmv", "addr", "baddbmm", "addbmm")),
    OpInfo("tensordot", gg.tensordot,
           lambda a, b, dims: np.tensordot(a, b, dims if isinstance(dims, int) else
                                           (list(dims[0]), list(dims[1]))),
           None, joint=_tensordot_joint),
    OpInfo("kron", gg.kron, np.kron, lambda lim: st.tuples(same(1, 0, 3)(lim).map(
        lambda s: s[0]), same(1, 0, 3)(lim).map(lambda s: s[0]))),
    OpInfo("cross", gg.cross, _cross_ref, None, joint=_cross_joint),
    OpInfo("meshgrid", gg.meshgrid, lambda *xs, indexing: tuple(np.meshgrid(*xs,
                                                                        indexing=indexing)),
           _vector_shapes, _choice(indexing=("ij", "xy"))),
    OpInfo("cartesian_prod", gg.cartesian_prod, _cartesian_ref, _vector_shapes),
    OpInfo("nansum", _nan_call(gg.nansum), _nan_ref(np.nansum), None, joint=_nan_joint),
    OpInfo("nanmean", _nan_call(gg.nanmean), _nan_ref(np.nanmean), None, joint=_nan_joint,
           empty=False),
    OpInfo("var_mean", gg.var_mean, _paired_ref(_var_ref), same(1), _paired_kwargs(_var_kwargs),
           distinct=True),
    OpInfo("std_mean", gg.std_mean, _paired_ref(lambda x, **kw: np.sqrt(_var_ref(x, **kw))),
           _std_shapes, _paired_kwargs(_std_kwargs), distinct=True),
    OpInfo("norm", gg.norm, _norm_ref, same(1), _norm_kwargs, avoid=(0.0,), margin=0.1,
           distinct=True),
    OpInfo("dist", gg.dist, lambda x, y, p=2: _norm_ref(x - y, p), broadcast(),
           _optional(p=(1, 2, 3)), distinct=True, empty=False),
    OpInfo("cdist", gg.cdist, _cdist_ref, _cdist_shapes, _optional(p=(1.0, 2.0, 3.0)),
           distinct=True, empty=False),
)
# -------------------------------------------------- order statistic references
@st.composite
def _line_kwargs(draw, shapes_: Shapes, default_dim: bool = True) -> dict:
    """dim (left out when it may default), maybe keepdim."""
    kwargs = draw(_optional(keepdim=(False, True))(shapes_))
    if not default_dim or draw(st.booleans()):
        kwargs["dim"] = draw(valid_dims(_ndim_of(shapes_), allow_none=False, allow_tuple=False))
    return kwargs


def _picked(fn):
    """(values, indices) of ``fn(sorted line) -> sorted place`` along dim (distinct values)."""

    def ref(x, dim=-1, keepdim=False, **kwargs):
        if x.ndim == 0:
            return x, np.zeros((), dtype=np.int64)
        order = np.argsort(x, axis=dim, kind="stable")
        place = fn(x.shape[dim], **kwargs)
        indices = np.take(order, [place], axis=dim)
        values = np.take_along_axis(x, indices, dim)
        if not keepdim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return values, indices.astype(np.int64)

    return ref


def _median_ref(x, dim=None, keepdim=False):
    if dim is None:
        return np.sort(x.reshape(-1))[(x.size - 1) // 2]
    return _picked(lambda n: (n - 1) // 2)(x, dim, keepdim)


@st.composite
def _median_kwargs(draw, shapes_: Shapes) -> dict:
    if draw(st.booleans()):
        return {}
    return draw(_line_kwargs(shapes_, default_dim=False))


@st.composite
def _kthvalue_kwargs(draw, shapes_: Shapes) -> dict:
    kwargs = draw(_line_kwargs(shapes_))
    shape = shapes_[0]
    n = shape[kwargs.get("dim", -1)] if shape else 1
    return {"k": draw(st.integers(1, n)), **kwargs}


@st.composite
def _quantile_kwargs(draw, shapes_: Shapes) -> dict:
    kwargs = draw(_optional(keepdim=(False, True),
                            interpolation=("linear", "lower", "higher", "midpoint", "nearest"),
                            )(shapes_))
    if draw(st.booleans()):
        kwargs["dim"] = draw(valid_dims(_ndim_of(shapes_), allow_none=False, allow_tuple=False))
    qs = st.sampled_from((0.0, 0.1, 0.25, 0.5, 0.7, 1.0))
    kwargs["q"] = draw(st.one_of(qs, st.lists(qs, max_size=3).map(np.array)))
    return kwargs


def _quantile_call(fn):
    """q as graphgrad takes it: a float, or a tensor of the input's dtype and device."""

    def call(x, q, **kwargs):
        return fn(x, q if isinstance(q, float) else gg.tensor(q, dtype=x.dtype, device=x.device),
                  **kwargs)

    return call


def _quantile_ref(x, q, dim=None, keepdim=False, interpolation="linear"):
    if x.ndim == 0:  # one element, whatever dim and keepdim
        return np.quantile(x, q, method=interpolation)
    return np.quantile(x, q, axis=dim, keepdims=keepdim, method=interpolation)


def _aminmax_ref(x, dim=None, keepdim=False):
    axis = None if x.ndim == 0 else dim
    return np.min(x, axis=axis, keepdims=keepdim), np.max(x, axis=axis, keepdims=keepdim)


@st.composite
def _aminmax_kwargs(draw, shapes_: Shapes) -> dict:
    kwargs = draw(_optional(keepdim=(False, True))(shapes_))
    if draw(st.booleans()):
        kwargs["dim"] = draw(valid_dims(_ndim_of(shapes_), allow_none=False, allow_tuple=False))
    return kwargs


# --------------------------------------------------------- graphgrad.linalg references
# The drawn X is turned into a well-conditioned input by the op and its reference alike
# (the gradients are checked with respect to X): X + n I with X in (-0.5, 0.5)
# (eigenvalues and singular values near n) for inverses, solves and determinants;
# X X^T + I for Cholesky; X + X^T plus a diagonal of well-separated values for eigh and
# X plus such a diagonal (``_separated``) for svd, qr and the norms, so that eigenvalues
# and singular values stay far apart and from 0.  Eigenvectors and singular vectors
# are compared through sign-invariant functions (their squares, U S Vh).
_SMALL = (-0.5, 0.5)


def _like(x, a: np.ndarray):
    """The constant ``a`` beside ``x``: on x's device when x is a Tensor (the ops run on
    any device), else the NumPy array itself (the references)."""
    return gg.tensor(a, dtype=a.dtype, device=x.device) if isinstance(x, gg.Tensor) else a


def _eye(x, n: int):
    return _like(x, np.eye(n, dtype=x.dtype))


def _shifted(x):
    """X + n I: singular values within n/2 of n."""
    n = x.shape[-1]
    return x + n * _eye(x, n)


def _spd(x):
    n = x.shape[-1]
    return x @ x.swapaxes(-1, -2) + _eye(x, n)


def _separated(x):
    """X plus the diagonal 3 max(m, n) (1, 2, ..., k): singular values at least
    2 max(m, n) apart and from 0."""
    m, n = x.shape[-2:]
    k = min(m, n)
    spread = np.zeros((m, n), dtype=x.dtype)
    spread[range(k), range(k)] = 3 * max(m, n) * np.arange(1, k + 1)
    return x + _like(x, spread)


def _symmetric(x):
    return _separated(x + x.swapaxes(-1, -2))


def _eigh_outputs(values, vectors):
    return values, vectors * vectors


def _svd_outputs(u, s, vh):
    """S, the squares of the first k columns of U and rows of Vh, and U_k diag(S) Vh_k."""
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]
    return s, u * u, vh * vh, (u * s[..., None, :]) @ vh


@st.composite
def _square_shapes(draw, lim: Limits, count: int = 1) -> Shapes:
    """``count`` batches of square matrices (..., n, n) of one shape."""
    n = draw(st.integers(lim.min_side, lim.max_side))
    batch = draw(shapes(0, max(lim.max_dims - 2, 0), lim.min_side, lim.max_side))
    return (batch + (n, n),) * count


@st.composite
def _matrix_shapes(draw, lim: Limits) -> Shapes:
    side = st.integers(lim.min_side, lim.max_side)
    batch = draw(shapes(0, max(lim.max_dims - 2, 0), lim.min_side, lim.max_side))
    return (batch + (draw(side), draw(side)),)


@st.composite
def _solve_joint(draw, lim: Limits) -> tuple:
    """A (..., n, n) and B: a vector (n,) or (..., n) (left=True only), or matrices whose
    batch dims broadcast with A's ((..., n, k); (..., k, n) with left=False)."""
    side = st.integers(lim.min_side, lim.max_side)
    n, k = draw(side), draw(side)
    left = draw(st.booleans())
    batch_a, batch_b = draw(broadcastable_shapes(2, 0, max(lim.max_dims - 2, 0), lim.min_side,
                                                 lim.max_side))
    kind = draw(st.sampled_from(["matrix", "vector", "batched vector"] if left else ["matrix"]))
    if kind == "vector":
        b = (n,)
    elif kind == "batched vector":
        b = batch_a + (n,)
    else:
        b = batch_b + ((n, k) if left else (k, n))
        if b == batch_a + (n,):  # PyTorch's rule would read it as a batch of vectors
            b = batch_a + ((n, k) if left else (k, n))
    return (batch_a + (n, n), b), {"left": left}


def _solve_ref(a, b, left=True):
    a = _shifted(a)
    if b.ndim == 1 or b.shape == a.shape[:-1]:
        return np.linalg.solve(a, b[..., None])[..., 0]
    if left:
        return np.linalg.solve(a, b)
    return np.linalg.solve(a.swapaxes(-1, -2), b.swapaxes(-1, -2)).swapaxes(-1, -2)


@st.composite
def _triangular_joint(draw, lim: Limits) -> tuple:
    side = st.integers(lim.min_side, lim.max_side)
    n, k = draw(side), draw(side)
    left = draw(st.booleans())
    batch = draw(shapes(0, max(lim.max_dims - 2, 0), lim.min_side, lim.max_side))
    kwargs = {"upper": draw(st.booleans()), "left": left,
              "unitriangular": draw(st.booleans())}
    return (batch + (n, n), batch + ((n, k) if left else (k, n))), kwargs


def _solve_triangular_ref(a, b, upper, left=True, unitriangular=False):
    a = _shifted(a)
    t = np.triu(a) if upper else np.tril(a)
    if unitriangular:
        t = t - t * _eye(a, a.shape[-1]) + _eye(a, a.shape[-1])
    if left:
        return np.linalg.solve(t, b)
    return np.linalg.solve(t.swapaxes(-1, -2), b.swapaxes(-1, -2)).swapaxes(-1, -2)


def _vector_norm_ref(x, ord=2, dim=None, keepdim=False):
    axes = _axes(dim, x.ndim)
    a = np.abs(x)
    if ord == math.inf:
        return np.max(a, axis=axes, keepdims=keepdim)
    if ord == -math.inf:
        return np.min(a, axis=axes, keepdims=keepdim)
    return np.sum(a ** ord, axis=axes, keepdims=keepdim) ** (1 / ord)


def _vector_norm_kwargs(shapes_: Shapes):
    (shape,) = shapes_
    # inf/-inf: tests/test_linalg.py and tests/test_blas_stats_ops.py (the registry's
    # distinct values can still tie in |x|, -a and a, where max |x| has a kink)
    return st.fixed_dictionaries({"ord": st.sampled_from((2, 1, 3, 0.5, -1))}, optional={
        "dim": st.one_of(st.none(), valid_dims(len(shape))) if shape else st.none(),
        "keepdim": st.booleans()})


_MATRIX_ORDS = ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)


def _matrix_norm_ref(x, **kwargs):
    return _matrix_norm_plain(_separated(x), **kwargs)


def _matrix_norm_plain(x, ord="fro", dim=(-2, -1), keepdim=False):
    x = np.moveaxis(x, dim, (-2, -1))
    if ord == "fro":
        out = np.sqrt(np.sum(x * x, axis=(-2, -1)))
    elif ord in ("nuc", 2, -2):
        s = np.linalg.svd(x, compute_uv=False)
        out = s.sum(-1) if ord == "nuc" else s.max(-1, initial=0) if ord == 2 else s.min(-1)
    else:
        sums = np.abs(x).sum(-2 if ord in (1, -1) else -1)
        out = sums.max(-1, initial=0) if ord > 0 else sums.min(-1)
    return np.expand_dims(out, tuple(sorted(d % (x.ndim) for d in dim))) if keepdim else out


def _matrix_norm_kwargs(shapes_: Shapes):
    ords = _MATRIX_ORDS if all(shapes_[0][-2:]) else ("fro", "nuc", 2, 1, math.inf)
    return st.fixed_dictionaries({"ord": st.sampled_from(ords)}, optional={
        "dim": st.sampled_from(((-2, -1), (-1, -2))), "keepdim": st.booleans()})


def _linalg_norm_kwargs(shapes_: Shapes):
    (shape,) = shapes_
    options = [st.just({})]
    if shape:
        options.append(st.fixed_dictionaries(
            {"dim": st.integers(-len(shape), len(shape) - 1),
             "ord": st.sampled_from((2, 1, 3))}, optional={"keepdim": st.booleans()}))
    if len(shape) == 2:
        options.append(st.just({"ord": "fro"}))
    return st.one_of(*options)


def _linalg_norm_ref(x, ord=None, dim=None, keepdim=False):
    if ord == "fro":
        return np.sqrt(np.sum(x * x))
    return _vector_norm_ref(x, 2 if ord is None else ord, dim, keepdim)


@st.composite
def _multi_dot_shapes(draw, lim: Limits) -> Shapes:
    side = st.integers(lim.min_side, lim.max_side)
    sizes = draw(st.lists(side, min_size=3, max_size=5))
    mats = [(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
    if draw(st.booleans()):
        mats[0] = mats[0][1:]
    if draw(st.booleans()):
        mats[-1] = mats[-1][:1]
    return tuple(mats)


def _expm_series(x):
    """exp(X) as its Taylor series to degree 60 (|X| <= 4 here: the terms past it are
    below 1e-30), independent of graphgrad's scaling and squaring."""
    result = term = np.broadcast_to(np.eye(x.shape[-1]), x.shape)
    for k in range(1, 61):
        term = term @ x / k
        result = result + term
    return result


@st.composite
def _vecdot_shapes(draw, lim: Limits) -> Shapes:
    """Two broadcastable shapes of at least 1 dim each."""
    return draw(broadcastable_shapes(2, 1, min(4, lim.max_dims), lim.min_side, lim.max_side))


def _multi_dot_ref(*xs):
    return np.linalg.multi_dot(xs)


@st.composite
def _cross_shapes(draw, lim: Limits) -> Shapes:
    a, b = draw(broadcastable_shapes(2, 0, max(lim.max_dims - 1, 0), lim.min_side,
                                     lim.max_side))
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    return a + (3,), b + (3,)


def _matrix_power_kwargs(shapes_: Shapes):
    return st.fixed_dictionaries({"n": st.integers(-2, 3)})


def _matrix_power_ref(x, n):
    return np.linalg.matrix_power(_shifted(x), n)


def _qr_kwargs(shapes_: Shapes):
    m, n = shapes_[0][-2:]
    return st.fixed_dictionaries({}, optional={
        "mode": st.sampled_from(("reduced", "complete") if m <= n else ("reduced",))})


def _qr_outputs(q, r):
    """Q and R with R's diagonal made positive (the unique such QR): LAPACK's signs jump
    where a column below the diagonal is exactly zero (no reflection there)."""
    k = min(r.shape[-2:])
    diagonal = (r[..., :k, :k] * _eye(r, k)).sum(-1)
    sign = np.sign(diagonal) if isinstance(diagonal, np.ndarray) else gg.sign(diagonal)
    return q[..., :k] * sign[..., None, :], r * sign[..., :, None]


def _qr_ref(x, mode="reduced"):
    return _qr_outputs(*np.linalg.qr(_separated(x), mode=mode))


def _svd_kwargs(shapes_: Shapes):
    return st.fixed_dictionaries({}, optional={"full_matrices": st.booleans()})


@st.composite
def _lstsq_shapes(draw, lim: Limits) -> Shapes:
    """A (..., m, n) with m >= n (full column rank after ``_separated``), B (..., m, k)."""
    side = st.integers(max(lim.min_side, 1), lim.max_side)
    n, k = draw(side), draw(side)
    m = draw(st.integers(n, lim.max_side + 1))
    batch = draw(shapes(0, max(lim.max_dims - 2, 0), lim.min_side, lim.max_side))
    return batch + (m, n), batch + (m, k)


def _lstsq_ref(a, b):
    a = _separated(a)
    return np.linalg.solve(a.swapaxes(-1, -2) @ a, a.swapaxes(-1, -2) @ b)


def _cholesky_factor(x):
    """A lower-triangular factor with a diagonal near n."""
    return np.tril(_shifted(x)) if isinstance(x, np.ndarray) else gg.tril(_shifted(x))


def _flip_first_row(x):
    """A negative determinant from ``_shifted``'s positive one."""
    sign = np.ones((x.shape[-1], 1), dtype=x.dtype)
    sign[:1] = -1
    return _shifted(x) * _like(x, sign)


def _pinv_kwargs(shapes_: Shapes):
    m, n = shapes_[0][-2:]
    return st.fixed_dictionaries({}, optional={"hermitian": st.booleans()} if m == n else {})


def _pinv_input(x, hermitian=False):
    return _symmetric(x) if hermitian else _separated(x)


def _cond_ref(x, p=None):
    x = _separated(x)
    if p in (None, 2, -2):
        s = np.linalg.svd(x, compute_uv=False)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    return _matrix_norm_plain(x, p) * _matrix_norm_plain(np.linalg.inv(x), p)




# ----------------------------------------------------------------- the registry
def _float_dtype(dtype: np.dtype, kwargs: dict) -> np.dtype:
    return np.dtype(kwargs["dtype"])


OP_DB: tuple[OpInfo, ...] = (
    # ---- arithmetic (a second tensor operand, or a Python scalar on either side)
    OpInfo("add", _with_scalar(gg.add), _with_scalar(lambda x, y, alpha=1: x + alpha * y),
           broadcast_or_one(), _scalar_kwargs((2.0, -0.5), {"alpha": st.sampled_from((1, -2))})),
    OpInfo("sub", _with_scalar(gg.sub), _with_scalar(lambda x, y, alpha=1: x - alpha * y),
           broadcast_or_one(), _scalar_kwargs((2.0, -0.5), {"alpha": st.sampled_from((1, 3))})),
    OpInfo("mul", _with_scalar(gg.mul), _with_scalar(np.multiply), broadcast_or_one(),
           _scalar_kwargs((2.0, -0.5))),
    OpInfo("div", _with_scalar(gg.div), _with_scalar(np.divide), broadcast_or_one(),
           _scalar_kwargs((2.0, -0.5)), avoid=(0.0,), margin=0.5),
    OpInfo("pow", _with_scalar(gg.pow), _with_scalar(np.power), broadcast_or_one(),
           _scalar_kwargs((0.0, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, 0.5, -0.5, -1.5),
                          reflected_values=(0.0, 0.5, 2.0)),
           domain=((0.3, 2.5), (-2, 2))),
    # |x / y| stays within (2, 3) for every drawn pair and scalar: away from the jumps
    OpInfo("remainder", _with_scalar(gg.remainder), _with_scalar(np.remainder),
           broadcast_or_one(), _scalar_kwargs((1.35, 1.45), reflected_values=(8.0, 9.0)),
           domain=((3.2, 3.8), (1.3, 1.5))),
    OpInfo("fmod", _with_scalar(gg.fmod), _with_scalar(np.fmod), broadcast_or_one(),
           _scalar_kwargs((1.35, -1.45), reflected_values=(8.0, -9.0)),
           domain=((3.2, 3.8), (1.3, 1.5))),
    OpInfo("maximum", gg.maximum, np.maximum, broadcast(), distinct=True),
    OpInfo("minimum", gg.minimum, np.minimum, broadcast(), distinct=True),
    OpInfo("where", lambda x, y, condition: gg.where(condition, x, y),
           lambda x, y, condition: np.where(condition, x, y), broadcast(), _where_kwargs),
    # ---- unary math and activations
    _unary("neg", np.negative),
    _unary("exp", np.exp),
    _unary("log", np.log, domain=(0.1, 3.0)),
    _unary("clamped_log", np.log, domain=(0.1, 3.0)),  # the clamp: test_nn_losses (BCE)
    _unary("sqrt", np.sqrt, domain=(0.1, 3.0)),
    _unary("rsqrt", lambda x: 1 / np.sqrt(x), domain=(0.1, 3.0)),
    _unary("square", np.square),
    _unary("tanh", np.tanh),
    _unary("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    _unary("erf", _erf),
    _unary("sin", np.sin),
    _unary("cos", np.cos),
    _unary("abs", np.abs, avoid=(0.0,)),
    _unary("relu", lambda x: np.maximum(x, 0), avoid=(0.0,)),
    OpInfo("leaky_relu", gg.leaky_relu,
           lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x), same(1),
           _optional(negative_slope=(0.01, 0.2, 1.0, 0.0, -0.5, 1.5)), avoid=(0.0,)),
    OpInfo("gelu", gg.gelu, _gelu_ref, same(1), _choice(approximate=("none", "tanh"))),
    OpInfo("clip", gg.clip, lambda x, min=None, max=None: np.clip(x, min, max), same(1),
           _clip_kwargs, avoid=_CLIP_BOUNDS),
    OpInfo("astype", gg.astype, lambda x, dtype: x.astype(dtype), same(1),
           _choice(dtype=(np.float32, np.float64)), out_dtype=_float_dtype,
           grad_tol={"eps": 1e-3, "atol": 1e-4, "rtol": 1e-3}),  # float32 values in the loss
    _unary("clone", np.copy),
    # ---- reductions
    OpInfo("sum", gg.sum, _reduction(np.sum), same(1),
           lambda s: _reduce_kwargs(s, aliases=True)),
    OpInfo("mean", gg.mean, _reduction(np.mean), same(1),
           lambda s: _reduce_kwargs(s, aliases=True)),
    OpInfo("var", gg.var, _var_ref, same(1), _var_kwargs, distinct=True),
    OpInfo("std", gg.std, lambda x, **kw: np.sqrt(_var_ref(x, **kw)), _std_shapes, _std_kwargs,
           distinct=True),
    OpInfo("prod", gg.prod, _reduction(np.prod), same(1, 0, 3), _reduce_kwargs,
           domain=(-1.5, 1.5)),
    OpInfo("amax", gg.amax, _reduction(np.max), same(1), _reduce_kwargs, distinct=True,
           empty=False),
    OpInfo("amin", gg.amin, _reduction(np.min), same(1), _reduce_kwargs, distinct=True,
           empty=False),
    OpInfo("max", gg.max, _max_min_ref(np.maximum, np.argmax),
           lambda lim: st.one_of(same(1)(lim), broadcast(2)(lim)), _max_kwargs, distinct=True,
           empty=False),
    OpInfo("min", gg.min, _max_min_ref(np.minimum, np.argmin),
           lambda lim: st.one_of(same(1)(lim), broadcast(2)(lim)), _max_kwargs, distinct=True,
           empty=False),
    OpInfo("logsumexp", gg.logsumexp, _logsumexp_ref, same(1), _reduce_kwargs),
    OpInfo("softmax", gg.softmax, _softmax_ref, same(1), _softmax_kwargs),
    OpInfo("log_softmax", gg.log_softmax, _log_softmax_ref, same(1), _softmax_kwargs),
    # ---- linear algebra
    OpInfo("matmul", gg.matmul, np.matmul, _matmul_shapes),
    OpInfo("mm", gg.mm, np.matmul, _mm_shapes),
    OpInfo("bmm", gg.bmm, np.matmul, lambda lim: _mm_shapes(lim, batched=True)),
    OpInfo("linear", gg.linear, _linear_ref, _linear_shapes),
    OpInfo("dot", gg.dot, np.dot, _vectors(same_size=True)),
    OpInfo("outer", gg.outer, np.outer, _vectors(same_size=False)),
    OpInfo("einsum", lambda *xs, subscripts: gg.einsum(subscripts, *xs),
           lambda *xs, subscripts: np.einsum(subscripts, *xs), _einsum_shapes, _einsum_kwargs),
    # ---- graphgrad.linalg (inputs made well-conditioned from the drawn X: see _shifted)
    OpInfo("linalg.inv", lambda x: gg.linalg.inv(_shifted(x)),
           lambda x: np.linalg.inv(_shifted(x)), _square_shapes, domain=_SMALL),
    OpInfo("linalg.solve", lambda a, b, left: gg.linalg.solve(_shifted(a), b, left=left),
           _solve_ref, None, joint=_solve_joint, domain=(_SMALL, (-3.0, 3.0))),
    OpInfo("linalg.solve_triangular", lambda a, b, **kw: gg.linalg.solve_triangular(
        _shifted(a), b, **kw), _solve_triangular_ref, None, joint=_triangular_joint,
           domain=(_SMALL, (-3.0, 3.0))),
    OpInfo("linalg.det", lambda x: gg.linalg.det(_flip_first_row(x)),
           lambda x: np.linalg.det(_flip_first_row(x)), _square_shapes, domain=_SMALL),
    OpInfo("linalg.slogdet", lambda x: gg.linalg.slogdet(_flip_first_row(x)),
           lambda x: np.linalg.slogdet(_flip_first_row(x)), _square_shapes, domain=_SMALL),
    OpInfo("logdet", lambda x: gg.logdet(_shifted(x)),
           lambda x: np.linalg.slogdet(_shifted(x))[1], _square_shapes, domain=_SMALL),
    OpInfo("linalg.cholesky", lambda x, **kw: gg.linalg.cholesky(_spd(x), **kw),
           lambda x, upper=False: (lambda c: c.swapaxes(-1, -2) if upper else c)(
               np.linalg.cholesky(_spd(x))), _square_shapes, _optional(upper=(False, True)),
           domain=(-1.0, 1.0)),
    OpInfo("cholesky", lambda x, **kw: gg.cholesky(_spd(x), **kw),
           lambda x, upper=False: (lambda c: c.swapaxes(-1, -2) if upper else c)(
               np.linalg.cholesky(_spd(x))), _square_shapes, _optional(upper=(False, True)),
           domain=(-1.0, 1.0)),
    OpInfo("cholesky_solve", lambda b, x: gg.cholesky_solve(b, _cholesky_factor(x)),
           lambda b, x: np.linalg.solve(_cholesky_factor(x) @ _cholesky_factor(x).swapaxes(
               -1, -2), b), lambda lim: _square_shapes(lim, 2), domain=((-3.0, 3.0), _SMALL)),
    OpInfo("cholesky_inverse", lambda x: gg.cholesky_inverse(_cholesky_factor(x)),
           lambda x: np.linalg.inv(_cholesky_factor(x) @ _cholesky_factor(x).swapaxes(-1, -2)),
           _square_shapes, domain=_SMALL),
    OpInfo("linalg.eigh", lambda x, **kw: _eigh_outputs(*gg.linalg.eigh(_symmetric(x), **kw)),
           lambda x, UPLO="L": _eigh_outputs(*np.linalg.eigh(_symmetric(x), UPLO=UPLO)),
           _square_shapes, _optional(UPLO=("L", "U")), domain=_SMALL),
    OpInfo("linalg.eigvalsh", lambda x: gg.linalg.eigvalsh(_symmetric(x)),
           lambda x: np.linalg.eigvalsh(_symmetric(x)), _square_shapes, domain=_SMALL),
    OpInfo("linalg.svd", lambda x, **kw: _svd_outputs(*gg.linalg.svd(_separated(x), **kw)),
           lambda x, full_matrices=True: _svd_outputs(*np.linalg.svd(
               _separated(x), full_matrices=full_matrices)), _matrix_shapes, _svd_kwargs,
           domain=_SMALL),
    OpInfo("svd", lambda x, **kw: (lambda u, s, v: _svd_outputs(u, s, v.swapaxes(-1, -2)))(
        *gg.svd(_separated(x), **kw)), lambda x, some=True: _svd_outputs(*np.linalg.svd(
            _separated(x), full_matrices=not some)), _matrix_shapes, _optional(some=(True, False)),
           domain=_SMALL),
    OpInfo("linalg.svdvals", lambda x: gg.linalg.svdvals(_separated(x)),
           lambda x: np.linalg.svd(_separated(x), compute_uv=False), _matrix_shapes,
           domain=_SMALL),
    OpInfo("linalg.qr", lambda x, **kw: _qr_outputs(*gg.linalg.qr(_separated(x), **kw)), _qr_ref,
           _matrix_shapes, _qr_kwargs, domain=_SMALL),
    OpInfo("qr", lambda x, **kw: _qr_outputs(*gg.qr(_separated(x), **kw)),
           lambda x, some=True: _qr_ref(x, "reduced" if some else "complete"), _matrix_shapes,
           lambda s: _qr_kwargs(s).map(
               lambda kw: {"some": kw["mode"] == "reduced"} if kw else {}), domain=_SMALL),
    OpInfo("linalg.pinv", lambda x, **kw: gg.linalg.pinv(_pinv_input(x, **kw), **kw),
           lambda x, **kw: np.linalg.pinv(_pinv_input(x, **kw)), _matrix_shapes, _pinv_kwargs,
           domain=_SMALL),
    OpInfo("pinverse", lambda x: gg.pinverse(_separated(x)),
           lambda x: np.linalg.pinv(_separated(x)), _matrix_shapes, domain=_SMALL),
    OpInfo("linalg.lstsq", lambda a, b: gg.linalg.lstsq(_separated(a), b).solution,
           _lstsq_ref, _lstsq_shapes, domain=(_SMALL, (-3.0, 3.0)), empty=False),
    OpInfo("linalg.cond", lambda x, **kw: gg.linalg.cond(_separated(x), **kw), _cond_ref,
           _square_shapes, _optional(p=(None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf)),
           domain=_SMALL, avoid=(0.0,), empty=False),
    OpInfo("linalg.matrix_power", lambda x, n: gg.linalg.matrix_power(_shifted(x), n),
           _matrix_power_ref, _square_shapes, _matrix_power_kwargs, domain=_SMALL),
    OpInfo("linalg.matrix_exp", gg.linalg.matrix_exp,
           lambda x: _expm_series(x), _square_shapes, domain=(-1.0, 1.0)),
    OpInfo("linalg.multi_dot", lambda *xs: gg.linalg.multi_dot(xs), _multi_dot_ref,
           _multi_dot_shapes),
    OpInfo("linalg.cross", gg.linalg.cross, lambda a, b: np.cross(a, b), _cross_shapes),
    OpInfo("linalg.diagonal", gg.linalg.diagonal, lambda x, offset=0, dim1=-2, dim2=-1:
           np.diagonal(x, offset, dim1, dim2), same(1, 2),
           lambda s: _diagonal_dims_kwargs(s, extra=0).map(
               lambda kw: {"dim1": -2, "dim2": -1, **kw})),
    OpInfo("linalg.vecdot", gg.linalg.vecdot, lambda x, y: np.sum(x * y, axis=-1),
           _vecdot_shapes),
    OpInfo("linalg.vector_norm", gg.linalg.vector_norm, _vector_norm_ref, same(1),
           _vector_norm_kwargs, avoid=(0.0,), margin=0.05, distinct=True),
    OpInfo("linalg.matrix_norm", lambda x, **kw: gg.linalg.matrix_norm(_separated(x), **kw),
           _matrix_norm_ref, _square_shapes, _matrix_norm_kwargs, domain=_SMALL, avoid=(0.0,)),
    OpInfo("linalg.norm", gg.linalg.norm, _linalg_norm_ref, same(1), _linalg_norm_kwargs,
           avoid=(0.0,),
           margin=0.05),
    # ---- shapes
    OpInfo("reshape", lambda x, shape: gg.reshape(x, shape), _reshape_ref, same(1),
           _reshape_kwargs),
    OpInfo("expand", lambda x, shape: gg.expand(x, shape), _expand_ref, same(1, 0, 3),
           _expand_kwargs),
    OpInfo("broadcast_to", gg.broadcast_to, _expand_ref, same(1, 0, 3),
           lambda s: _expand_kwargs(s, infer=False)),
    # 2+ dims: on 3 dims a cyclic permutation is not its own inverse (a wrong rule shows).
    OpInfo("permute", lambda x, dims: gg.permute(x, dims), lambda x, dims: np.transpose(x, dims),
           same(1, 2), _permute_kwargs),
    OpInfo("transpose", lambda x, dims: gg.transpose(x, *dims), _transpose_ref, same(1),
           _transpose_kwargs),
    OpInfo("swapaxes", lambda x, dims: gg.swapaxes(x, *dims),
           lambda x, dims: np.swapaxes(x, *dims), same(1, 1),
           lambda s: _two_dims(s).map(lambda d: {"dims": d})),
    OpInfo("squeeze", gg.squeeze, _squeeze_ref, same(1), _squeeze_kwargs),
    OpInfo("unsqueeze", gg.unsqueeze, lambda x, dim: np.expand_dims(x, dim % (x.ndim + 1)),
           same(1, 0, 3), _stack_kwargs),
    OpInfo("flatten", gg.flatten, _flatten_ref, same(1), _flatten_kwargs),
    OpInfo("flip", gg.flip, _flip_ref, same(1), _flip_kwargs),
    OpInfo("cat", lambda *xs, dim: gg.cat(xs, dim), lambda *xs, dim: np.concatenate(xs, dim),
           _cat_shapes, _cat_kwargs),
    OpInfo("stack", lambda *xs, dim: gg.stack(xs, dim), lambda *xs, dim: np.stack(xs, dim),
           _stack_shapes, _stack_kwargs),
    OpInfo("split", gg.split, _split_ref, same(1, 1), _split_kwargs),
    OpInfo("chunk", gg.chunk, _chunk_ref, same(1, 1), _chunk_kwargs),
    OpInfo("unbind", gg.unbind, _unbind_ref, same(1, 1), _dim_kwargs),
    OpInfo("pad", gg.pad, _pad_ref, same(1, 1, 3), _pad_kwargs),
    # ---- indexing
    OpInfo("getitem", gg.getitem, _getitem_ref, same(1), _getitem_kwargs),
    OpInfo("take_along_dim", lambda x, index, dim: gg.take_along_dim(x, index, dim),
           lambda x, index, dim: np.take_along_axis(x, index, dim), same(1, 1),
           lambda s: _take_along_kwargs(s, negative=True)),
    OpInfo("gather", gg.gather, _gather_ref, same(1, 1),
           lambda s: _take_along_kwargs(s, negative=False, smaller=True)),
    OpInfo("index_select", gg.index_select, lambda x, dim, index: np.take(x, index, axis=dim),
           same(1, 1), _index_select_kwargs),
    OpInfo("masked_fill", gg.masked_fill, lambda x, mask, value: np.where(mask, value, x),
           same(1), _masked_fill_kwargs),
    # ---- scatters and indexed writes
    OpInfo("scatter", lambda x, *src, dim, index, value=None:
           gg.scatter(x, dim, index, *src, value=value), _scatter_ref, None,
           joint=lambda lim: _scatter_joint(lim, unique=True, values=True)),
    OpInfo("scatter_add", lambda x, src, dim, index: gg.scatter_add(x, dim, index, src),
           lambda x, src, dim, index: _scatter_ref(x, src, dim=dim, index=index, reduce="sum"),
           None, joint=lambda lim: _scatter_joint(lim, unique=False)),
    OpInfo("scatter_reduce", lambda x, src, dim, index, **kw: gg.scatter_reduce(
        x, dim, index, src, **kw), _scatter_reduce_ref, None, joint=_scatter_reduce_joint,
        distinct=True, domain=(0.5, 2.0)),
    OpInfo("index_add", lambda x, source, dim, index, **kw: gg.index_add(x, dim, index, source,
                                                                         **kw),
           lambda x, source, **kw: _index_ref(x, source, add=True, **kw), None,
           joint=lambda lim: _index_joint(lim, unique=False).map(
               lambda j: (j[0], {**j[1], "alpha": 2.5}))),
    OpInfo("index_copy", lambda x, source, dim, index: gg.index_copy(x, dim, index, source),
           _index_ref, None, joint=lambda lim: _index_joint(lim, unique=True)),
    OpInfo("index_fill", lambda x, *v, dim, index, value=None:
           gg.index_fill(x, dim, index, v[0] if v else value),
           lambda x, *v, dim, index, value=None: _index_ref(x, dim=dim, index=index,
                                                             value=v[0] if v else value),
           None, joint=_index_fill_joint),
    OpInfo("index_put", lambda x, values, indices, accumulate:
           gg.index_put(x, indices, values, accumulate), _index_put_public_ref, None,
           joint=_index_put_joint),
    OpInfo("masked_select", gg.masked_select, _masked_select_ref, None,
           joint=_masked_select_joint),
    OpInfo("masked_scatter", lambda x, source, mask: gg.masked_scatter(x, mask, source),
           _masked_scatter_ref, None,
           joint=_masked_scatter_joint),
    OpInfo("take", gg.take, lambda x, index: x.reshape(-1)[index], None, joint=_take_joint),
    OpInfo("put", lambda x, source, index, accumulate: gg.put(x, index, source, accumulate),
           _put_ref, None, joint=_put_joint),
    # ---- diagonals, moving slices
    OpInfo("diagonal", gg.diagonal, lambda x, offset=0, dim1=0, dim2=1:
           np.diagonal(x, offset, dim1, dim2), same(1, 2), _diagonal_dims_kwargs),
    OpInfo("diag", gg.diag, lambda x, diagonal=0: np.diag(x, diagonal),
           lambda lim: st.one_of(same(1, 1, 1)(lim), same(1, 2, 2)(lim)),
           _optional(diagonal=(-2, 0, 1, 3))),
    OpInfo("diag_embed", gg.diag_embed, _diag_embed_ref, same(1, 1, 3),
           lambda s: _diagonal_dims_kwargs(s, extra=1)),
    OpInfo("trace", gg.trace, np.trace, same(1, 2, 2)),
    OpInfo("movedim", gg.movedim, lambda x, source, destination:
           np.moveaxis(x, source, destination) if x.ndim else x, same(1), _movedim_kwargs),
    OpInfo("select", gg.select, lambda x, dim, index: np.take(x, index, axis=dim), None,
           joint=_select_joint),
    OpInfo("unflatten", gg.unflatten, _unflatten_ref, same(1, 1), _unflatten_kwargs),
    OpInfo("fliplr", gg.fliplr, np.fliplr, same(1, 2)),
    OpInfo("flipud", gg.flipud, np.flipud, same(1, 1)),
    OpInfo("rot90", gg.rot90, lambda x, k=1, dims=(0, 1): np.rot90(x, k, dims), same(1, 2),
           _rot90_kwargs),
    OpInfo("repeat_interleave", gg.repeat_interleave, _repeat_interleave_ref, same(1),
           _repeat_interleave_kwargs),
    OpInfo("narrow", gg.narrow, _narrow_ref, same(1, 1), _narrow_kwargs),
    # ---- sorting, rolling, triangles
    OpInfo("sort", gg.sort, _sort_ref, same(1), _sort_kwargs, distinct=True),
    OpInfo("topk", gg.topk, _topk_ref, same(1), _topk_kwargs, distinct=True),
    # ---- scans
    OpInfo("cumsum", gg.cumsum, _cumulative(np.add), same(1),
           lambda s: _scan_kwargs(s, dtypes=True), out_dtype=_scan_dtype,
           grad_tol=_MULTILINEAR_IN_FLOAT32),
    OpInfo("cumprod", gg.cumprod, _cumulative(np.multiply), same(1),
           lambda s: _scan_kwargs(s, dtypes=True), out_dtype=_scan_dtype, domain=(-1.5, 1.5),
           grad_tol=_MULTILINEAR_IN_FLOAT32),
    OpInfo("cummax", gg.cummax, _cum_extreme_ref(np.argmax), same(1), _scan_kwargs,
           distinct=True),
    OpInfo("cummin", gg.cummin, _cum_extreme_ref(np.argmin), same(1), _scan_kwargs,
           distinct=True),
    OpInfo("logcumsumexp", gg.logcumsumexp, _along_last(_logcumsumexp_lines), same(1),
           _scan_kwargs),
    # ---- order statistics (distinct values: ties are test_order_stats.py's)
    OpInfo("msort", gg.msort, lambda x: x if x.ndim == 0 else np.sort(x, axis=0), same(1),
           distinct=True),
    OpInfo("kthvalue", gg.kthvalue, _picked(lambda n, k: k - 1), same(1), _kthvalue_kwargs,
           distinct=True, empty=False),
    OpInfo("median", gg.median, _median_ref, same(1), _median_kwargs, distinct=True,
           empty=False),
    OpInfo("nanmedian", gg.nanmedian, _median_ref, same(1), _median_kwargs, distinct=True,
           empty=False),
    OpInfo("mode", gg.mode, _picked(lambda n: 0), same(1), _line_kwargs, distinct=True,
           empty=False),
    OpInfo("quantile", _quantile_call(gg.quantile), _quantile_ref, same(1), _quantile_kwargs,
           distinct=True, empty=False),
    OpInfo("nanquantile", _quantile_call(gg.nanquantile), _quantile_ref, same(1),
           _quantile_kwargs, distinct=True, empty=False),
    OpInfo("aminmax", gg.aminmax, _aminmax_ref, same(1), _aminmax_kwargs, distinct=True,
           empty=False),
    OpInfo("roll", gg.roll, _roll_ref, same(1), _roll_kwargs),
    OpInfo("tile", gg.tile, lambda x, dims: np.tile(x, dims), same(1, max_dims=3), _tile_kwargs),
    OpInfo("tril", gg.tril, lambda x, diagonal=0: np.tril(x, diagonal), same(1, 2),
           _diagonal_kwargs),
    OpInfo("triu", gg.triu, lambda x, diagonal=0: np.triu(x, diagonal), same(1, 2),
           _diagonal_kwargs),
    *MATHS_DB,
    *BLAS_STATS_DB,
)

OPS: dict[str, OpInfo] = {info.name: info for info in OP_DB}

# Public functions that are operations without a gradient (their outputs never require grad).
NON_DIFFERENTIABLE: dict[str, str] = {
    **{name: "comparison: a bool tensor" for name in (
        "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
        "logical_not", "isnan", "isfinite")},
    "sign": "piecewise constant",
    **{name: "piecewise constant" for name in ("sgn", "signbit", "heaviside")},
    "floor_divide": "piecewise constant",
    "argmax": "an integer index",
    "argmin": "an integer index",
    "argsort": "integer indices",
    "linalg.matrix_rank": "an integer count",
    **{name: "factory: makes a leaf" for name in (
        "arange", "as_tensor", "empty", "empty_like", "eye", "from_numpy", "full", "full_like",
        "linspace", "ones", "ones_like", "rand", "rand_like", "randint", "randint_like", "randn",
        "randn_like", "randperm", "tensor", "zeros", "zeros_like")},
    "multinomial": "random integer indices",
    **{name: "positions, counts or sets (tests/test_counting_ops.py)" for name in (
        "nonzero", "argwhere", "count_nonzero", "unique", "unique_consecutive", "bincount",
        "histc", "searchsorted", "bucketize")},
    **{name: "a truth value (tests/test_counting_ops.py)" for name in (
        "all", "any", "isclose", "allclose", "equal")},
    **{name: "a random draw: zero gradient w.r.t. its parameters (tests/test_creation.py)"
       for name in ("normal", "bernoulli")},
}

# Public callables that are not operations on tensors.  Names that do not exist (yet) are
# allowed here, so that utilities other modules add do not break the coverage test.
NOT_OPERATIONS: frozenset[str] = frozenset({
    "Tensor", "Function", "FunctionCtx", "backward", "grad", "no_grad", "enable_grad",
    "set_grad_enabled", "is_grad_enabled", "detect_anomaly", "set_detect_anomaly",
    "manual_seed", "get_rng_state", "set_rng_state",
    "Size", "device", "get_default_dtype", "set_default_dtype", "Generator", "initial_seed",
    "seed", "is_tensor", "numel", "linalg.LinAlgError",
})


# ------------------------------------------------------------ internal primitives
# The adjoints that only backward rules call (getitem_adjoint, scatter_add_along, fold), the
# op behind ``x[i] = v`` (setitem), the window primitives of conv and pooling
# (unfold), contiguous, the unpacking of a custom Function's outputs and the recorded
# random draws (their gradient is zero: the sample does not depend on the inputs).
def _call(op):
    """Call an internal Op the way the engine's own code does."""
    return lambda *tensors, **params: op(*tensors, **params)


def _plain_index(draw, shape: Shape) -> tuple:
    """An index as the public ops hand it to the primitives (after normalising): ints,
    slices, None and Ellipsis, or one integer array per dim (a mask's positions)."""
    kinds = ["basic"] + (["integer", "mask"] if shape and all(shape) else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "basic":
        index = draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True,
                                       allow_ellipsis=True))
        return index if isinstance(index, tuple) else (index,)
    if kind == "integer":  # repeats likely: they must add up
        return tuple(draw(hnp.integer_array_indices(shape)))
    return np.nonzero(draw(hnp.arrays(np.bool_, shape)))


@st.composite
def _index_add_joint(draw, lim: Limits) -> tuple:
    (shape,) = draw(same(1)(lim))
    index = _plain_index(draw, shape)
    return (np.empty(shape)[index].shape,), {"index": index, "shape": shape}


def _index_add_ref(g, index, shape):
    out = np.zeros(shape)
    if any(isinstance(i, np.ndarray) for i in index):
        np.add.at(out, index, g)
    else:  # a basic index picks each position once
        out[index] = g
    return out


@st.composite
def _index_put_joint(draw, lim: Limits) -> tuple:
    (shape,) = draw(same(1)(lim))
    index = draw(hnp.basic_indices(shape, min_dims=0, allow_ellipsis=True))  # no repeats
    index = index if isinstance(index, tuple) else (index,)
    target = np.empty(shape)[index].shape
    value = target[draw(st.integers(0, len(target))):]  # v broadcasts to x[index]
    return (shape, value), {"index": index}


def _index_put_ref(x, v, index):
    out = x.copy()
    out[index] = v
    return out


@st.composite
def _scatter_along_joint(draw, lim: Limits) -> tuple:
    (shape,) = draw(same(1, min_dims=1)(lim))
    dim = draw(st.integers(0, len(shape) - 1))
    picks = shape[:dim] + (draw(st.integers(1, 4)),) + shape[dim + 1:]
    indices = draw(_int_index(lambda n: -n)(picks, shape[dim]))
    return (picks,), {"indices": indices, "dim": dim, "shape": shape}


def _scatter_along_ref(g, indices, dim, shape):
    out = np.zeros(shape)
    for position in np.ndindex(*indices.shape):
        target = list(position)
        target[dim] = indices[position] % shape[dim]
        out[tuple(target)] += g[position]
    return out


@st.composite
def _window_joint(draw, lim: Limits, columns: bool) -> tuple:
    """An image (N, C, *S) and a window over it: kernel, stride, dilation and padding per
    spatial dim (1 or 2 of them); the input is the image, or its columns for fold."""
    nd = draw(st.integers(1, 2))
    kernel, stride, dilation, padding, sizes = [], [], [], [], []
    for _ in range(nd):
        k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        lo, hi = draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))
        least = max(d * (k - 1) + 1 - lo - hi, 1)  # at least one window
        sizes.append(draw(st.integers(least, max(least, lim.max_side + 1))))
        kernel.append(k), stride.append(s), dilation.append(d), padding.append((lo, hi))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *sizes)
    geom = window(shape, kernel, stride, padding, dilation)
    return ((geom.cols_shape if columns else shape),), {"geom": geom}


@st.composite
def _conv_by_rows_joint(draw, lim: Limits) -> tuple:
    """An image and a window over it (as unfold's), a kernel (O, C prod(k)), perhaps a
    bias (O, 1), and bands of one or two output rows."""
    (shape,), kwargs = draw(_window_joint(lim, columns=False))
    geom = kwargs["geom"]
    kernel = (draw(st.integers(1, 3)), geom.cols_shape[0])
    inputs = (shape, kernel) + (((kernel[0], 1),) if draw(st.booleans()) else ())
    return inputs, {"geom": geom, "rows": draw(st.integers(1, 2))}


def _conv_by_rows_ref(x, w, *bias, geom, rows):
    y = w @ _unfold_ref(x, geom)
    return y + bias[0] if bias else y


def _window_positions(geom):
    """(row, column, index of the padded image) of every entry of unfold's columns."""
    n, c = geom.shape[:2]
    per_channel = math.prod(geom.kernel)
    for ci in range(c):
        for j, offset in enumerate(np.ndindex(*geom.kernel)):
            for w, start in enumerate(np.ndindex(*geom.out)):
                at = tuple(li * s + ji * d for li, ji, s, d in
                           zip(start, offset, geom.stride, geom.dilation, strict=True))
                for ni in range(n):
                    yield ci * per_channel + j, w * n + ni, (ni, ci) + at


def _unfold_ref(x, geom):
    padded = np.pad(x, ((0, 0), (0, 0)) + geom.padding)
    cols = np.empty(geom.cols_shape)
    for row, col, at in _window_positions(geom):
        cols[row, col] = padded[at]
    return cols


def _fold_ref(cols, geom):
    padded = np.zeros(geom.shape[:2] + geom.padded)
    for row, col, at in _window_positions(geom):
        padded[at] += cols[row, col]
    inside = tuple(slice(lo, lo + n) for n, (lo, _) in zip(geom.shape[2:], geom.padding,
                                                          strict=True))
    return padded[(slice(None), slice(None)) + inside]


@st.composite
def _unpack_joint(draw, lim: Limits) -> tuple:
    (shape,) = draw(same(1)(lim))
    size = math.prod(shape)
    before, after = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    return ((before + size + after,),), {"start": before, "stop": before + size,
                                          "shape": shape, "dtype": np.dtype(np.float64)}


def _draw_kwargs(shapes_: Shapes):
    """A fixed sample (the draw already made) of the inputs' broadcast shape."""
    shape = np.broadcast_shapes(*shapes_)
    return st.fixed_dictionaries({"sample": arrays(shape, np.float64, -2.0, 2.0)})


def _draw_info(op) -> OpInfo:
    return OpInfo(op.name, _call(op), lambda *xs, sample: sample, broadcast(2),
                  _draw_kwargs, out_dtype=lambda dtype, kwargs: kwargs["sample"].dtype)


def _unary_internal(op, ref, **options) -> OpInfo:
    return OpInfo(op.name, _call(op), ref, same(1), **options)


def _reverse_scan_kwargs(shapes_: Shapes):
    """A dim as the public functions pass it (normalised), and a direction."""
    dims = st.integers(0, _ndim_of(shapes_) - 1)
    return st.fixed_dictionaries({"dim": dims, "reverse": st.booleans()})


def _linear_recurrence_ref(b, a, dim, reverse):
    """h_t = b_t + a_t h_{t-1} (h_{t+1} when reverse), one step at a time."""
    h, a = np.moveaxis(b.copy(), dim, 0), np.moveaxis(a, dim, 0)
    n = h.shape[0]
    for t in (reversed(range(n - 1)) if reverse else range(1, n)):
        h[t] = h[t] + a[t] * h[t + 1 if reverse else t - 1]
    return np.moveaxis(h, 0, dim)


def _exp_weighted_cumsum_ref(v, a, b, dim, reverse):
    """s_p = sum_{q <= p} v_q exp(a_q - b_p) (q >= p when reverse), summed term by term."""

    def lines(v, a, b):
        n = v.shape[-1]
        q, p = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        keep = q >= p if reverse else q <= p
        terms = v[..., :, None] * np.exp(a[..., :, None] - b[..., None, :])
        return np.where(keep, terms, 0.0).sum(axis=-2)

    moved = [np.moveaxis(np.atleast_1d(t), dim, -1) for t in (v, a, b)]
    return np.moveaxis(lines(*moved), -1, dim).reshape(v.shape)


def _standardize_kwargs(shapes_: Shapes):
    """A nonempty set of dims to standardize over, and an eps."""
    dims = st.sets(st.integers(0, _ndim_of(shapes_) - 1), min_size=1)
    return st.fixed_dictionaries({"dims": dims.map(lambda d: tuple(sorted(d))),
                                  "eps": st.sampled_from([1e-5, 0.5])})


def _standardize_ref(x, dims, eps):
    mean = x.mean(dims, keepdims=True)
    var = ((x - mean) ** 2).mean(dims, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


INTERNAL_DB: tuple[OpInfo, ...] = (
    OpInfo("getitem_adjoint", _call(INDEX_ADD), _index_add_ref, None, joint=_index_add_joint,
           empty=False),
    OpInfo("setitem", _call(INDEX_PUT), _index_put_ref, None, joint=_index_put_joint,
           empty=False),
    OpInfo("scatter_add_along", _call(SCATTER_ALONG), _scatter_along_ref, None,
           joint=_scatter_along_joint, empty=False),
    OpInfo("unfold", _call(UNFOLD), _unfold_ref, None, empty=False,
           joint=lambda lim: _window_joint(lim, columns=False)),
    OpInfo("fold", _call(FOLD), _fold_ref, None, empty=False,
           joint=lambda lim: _window_joint(lim, columns=True)),
    OpInfo("conv_by_rows", _call(CONV_BY_ROWS), _conv_by_rows_ref, None, empty=False,
           joint=_conv_by_rows_joint),
    OpInfo("unpack", _call(UNPACK), lambda p, start, stop, shape, dtype:
           p[start:stop].reshape(shape), None, joint=_unpack_joint, empty=False,
           out_dtype=lambda dtype, kwargs: kwargs["dtype"]),
    _unary_internal(CONTIGUOUS, np.copy),
    OpInfo("to_device", lambda x: TO_DEVICE(x, target=x.device, source=x.device), np.copy,
           same(1)),
    OpInfo("rnn_layer", _call(RNN_LAYER), recurrent.rnn_ref, None, joint=recurrent.rnn_joint,
           empty=False, domain=(-1.5, 1.5)),
    OpInfo("gru_layer", _call(GRU_LAYER), recurrent.gru_ref, None, joint=recurrent.gru_joint,
           empty=False, domain=(-1.5, 1.5)),
    OpInfo("lstm_layer", _call(LSTM_LAYER), recurrent.lstm_ref, None,
           joint=recurrent.lstm_joint, empty=False, domain=(-1.5, 1.5)),
    OpInfo("standardize", lambda x, dims, eps: standardize(x, dims, eps)[0], _standardize_ref,
           same(1, min_dims=1), _standardize_kwargs, distinct=True, empty=False),
    OpInfo("exp_weighted_cumsum", _call(EXP_WEIGHTED_CUMSUM), _exp_weighted_cumsum_ref,
           same(3, min_dims=1), _reverse_scan_kwargs),
    OpInfo("linear_recurrence", _call(LINEAR_RECURRENCE), _linear_recurrence_ref,
           same(2, min_dims=1), _reverse_scan_kwargs),
    *(_draw_info(op) for op in (NORMAL, BERNOULLI, NORMAL_, UNIFORM_, EXPONENTIAL_,
                                BERNOULLI_, RANDOM_)),
)
