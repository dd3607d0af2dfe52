"""Shape operations: reshape, permute, expand, squeeze, cat, stack, split, flip.

Reshapes, permutations, expansions and basic slicing return views sharing the
input's memory (as PyTorch's views), and share its version counter, so an
in-place change through either is seen by backward's saved-value check.
"""
from __future__ import annotations

import math

import numpy as np

from .._shapes import normalize_dim, normalize_dims
from ..arrays import namespace, namespace_of
from ..graph import apply
from ..tensor import Tensor, tensor_arg
from ._args import method
from ._registry import Op

RESHAPE = Op("reshape", lambda x, shape: x.reshape(shape),
             lambda g, out, x, shape: g.reshape(x.shape), meta=True)
PERMUTE = Op("permute", lambda x, axes: x.transpose(axes),
             lambda g, out, x, axes: g.transpose(_inverse(axes)))
EXPAND = Op("expand", lambda x, shape: namespace(x).broadcast_to(x, shape),
            lambda g, out, x, shape: g, broadcasts=True)


def _cat_vjp(i, g, out, inputs, dim, bounds):
    index = (slice(None),) * dim + (slice(bounds[i], bounds[i + 1]),)
    return g[index]


CAT = Op("cat", lambda *xs, dim, bounds: namespace_of(*xs).concatenate(xs, axis=dim), _cat_vjp,
         variadic=True)
STACK = Op("stack", lambda *xs, dim: namespace_of(*xs).stack(xs, axis=dim),
           lambda i, g, out, inputs, dim: g[(slice(None),) * dim + (i,)], variadic=True)


def _inverse(axes: tuple) -> tuple:
    """The permutation that undoes ``axes``: where each dim went."""
    return tuple(sorted(range(len(axes)), key=axes.__getitem__))


def mark_view(out: Tensor, base: Tensor) -> Tensor:
    """Record that ``out`` shares ``base``'s memory: same version counter, base kept."""
    if out._data.base is not None:
        out._base = base._base if base._base is not None else base
        out._base_history = out._base.grad_fn
        out._vc = base._version_counter()
    return out


def not_a_view(out: Tensor) -> Tensor:
    """Make the result of a composite op a tensor of its own, not a view, as PyTorch's op
    writing into new memory would give.

    Composites such as linear on 3-D input, conv or max-pool end with a reshape or a
    permute of an intermediate that only they hold and whose array no backward rule
    saved, so an in-place change of the result (allowed for a non-view while recording)
    cannot corrupt anything backward reads.
    """
    out._base = None
    out._vc = None
    return out


def _shape_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def _resolved_shape(shape: tuple, size: int) -> tuple | None:
    """``shape`` with its one -1 (if any) replaced by what makes ``size`` elements; None
    when no such shape exists (two -1s, a size that does not divide or does not match)."""
    if any(n < -1 for n in shape) or shape.count(-1) > 1:
        return None
    known = math.prod(n for n in shape if n != -1)
    if -1 in shape:
        if known == 0 or size % known:
            return None
        return tuple(size // known if n == -1 else n for n in shape)
    return shape if known == size else None


def _reshape(name: str, x: Tensor, shape: tuple) -> Tensor:
    target = _resolved_shape(shape, x._data.size)
    if target is None:
        raise ValueError(f"{name}: cannot reshape a tensor of shape {x.shape} "
                         f"({x._data.size} elements) to {shape}")
    if target == x._data.shape:
        return x
    return mark_view(apply(RESHAPE, (x,), {"shape": target}), x)


@method("reshape", "view")
def reshape(x, *shape, **kwargs):
    """The same elements in a new shape (one dim may be -1).  The gradient is reshaped back.

    The shape may be given as ints, as one tuple, or as ``shape=`` (as torch.reshape).
    """
    x = tensor_arg(x)
    if "shape" in kwargs:
        shape = (kwargs.pop("shape"),)
    if kwargs or not shape:
        raise TypeError(f"reshape: expected a shape, got {shape} and {sorted(kwargs)}")
    return _reshape("reshape", x, _shape_args(shape))


view = reshape


@method()
def permute(x, *dims):
    """Reorder the dimensions: output dim i is input dim ``dims[i]``."""
    x = tensor_arg(x)
    dims = _shape_args(dims)
    if len(dims) != x._data.ndim:
        raise ValueError(f"permute: got {len(dims)} dims {dims} for a tensor with {x.ndim} dims")
    axes = tuple(normalize_dim("permute", d, x._data.ndim) for d in dims)
    if sorted(axes) != list(range(x._data.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims")
    if axes == tuple(range(x._data.ndim)):
        return x
    return mark_view(apply(PERMUTE, (x,), {"axes": axes}), x)


@method()
def transpose(x, *dims):
    """With two ints ``d0, d1``: swap those dims (PyTorch).  With one tuple, or
    none: NumPy's meaning (a permutation; none reverses all dims)."""
    x = tensor_arg(x)
    if len(dims) == 2 and not isinstance(dims[0], (tuple, list)):
        nd = x._data.ndim
        d0, d1 = normalize_dim("transpose", dims[0], nd), normalize_dim("transpose", dims[1], nd)
        axes = list(range(nd))
        if nd:  # a 0-d tensor's only dims are 0 and -1: nothing to swap
            axes[d0], axes[d1] = axes[d1], axes[d0]
        return permute(x, axes)
    if not dims or dims == (None,):
        return permute(x, tuple(reversed(range(x._data.ndim))))
    return permute(x, _shape_args(dims))


@method()
def swapaxes(x, axis0: int, axis1: int):
    """Swap two dimensions (NumPy's name for ``transpose(d0, d1)``)."""
    return transpose(x, axis0, axis1)


method("T")(property(lambda self: transpose(self), doc="All dims reversed (``x.transpose()``)."))
method("mT")(property(lambda self: transpose(self, -2, -1), doc="The last two dims swapped."))


@method()
def squeeze(x, dim=None):
    """Remove size-1 dims (all, or those in ``dim``); a named dim whose size is not 1
    is left as it is (as PyTorch)."""
    x = tensor_arg(x)
    if dim is None:
        dims = {i for i, n in enumerate(x._data.shape) if n == 1}
    else:
        dims = {d for d in normalize_dims("squeeze", dim, x._data.ndim)
                if x._data.ndim and x._data.shape[d] == 1}
    return _reshape("squeeze", x, tuple(n for i, n in enumerate(x._data.shape) if i not in dims))


@method()
def unsqueeze(x, dim: int):
    """Insert a size-1 dim at ``dim`` (in [-ndim-1, ndim])."""
    x = tensor_arg(x)
    d = normalize_dim("unsqueeze", dim, x._data.ndim + 1)
    shape = x._data.shape
    return _reshape("unsqueeze", x, shape[:d] + (1,) + shape[d:])


@method()
def flatten(x, start_dim: int = 0, end_dim: int = -1):
    """Merge dims ``start_dim..end_dim`` into one."""
    x = tensor_arg(x)
    if x._data.ndim == 0:
        return _reshape("flatten", x, (1,))
    s = normalize_dim("flatten", start_dim, x._data.ndim)
    e = normalize_dim("flatten", end_dim, x._data.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x._data.shape
    merged = int(np.prod(shape[s:e + 1], dtype=np.int64))
    return _reshape("flatten", x, shape[:s] + (merged,) + shape[e + 1:])


@method()
def expand(x, *shape):
    """Broadcast to ``shape`` without copying (-1 keeps a dim; new dims go in front).
    The gradient is summed back over the broadcast dims."""
    x = tensor_arg(x)
    shape = _shape_args(shape)
    lead = len(shape) - x._data.ndim
    if lead < 0:
        raise ValueError(f"expand: cannot expand shape {x.shape} to fewer dims {shape}")
    target = tuple(x._data.shape[i - lead] if n == -1 and i >= lead else n
                   for i, n in enumerate(shape))
    for i, n in enumerate(x._data.shape):
        if n != 1 and n != target[lead + i]:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {shape}")
    if target == x._data.shape:
        return x
    return mark_view(apply(EXPAND, (x,), {"shape": target}), x)


@method()
def broadcast_to(x, shape):
    """NumPy's name for ``expand``."""
    return expand(x, tuple(shape))


@method()
def expand_as(x, other):
    return expand(x, other.shape)


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along ``dim``; the gradient is sliced back to each input."""
    tensors = [tensor_arg(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    first = tensors[0]
    d = normalize_dim("cat", dim, first._data.ndim)
    for t in tensors[1:]:
        if t._data.ndim != first._data.ndim or any(
            a != b
            for i, (a, b) in enumerate(zip(t._data.shape, first._data.shape, strict=True)) if i != d
        ):
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise ValueError(f"cat: shapes {shapes} differ outside dim {dim}")
    dtype = np.result_type(*[t._data.dtype for t in tensors])
    tensors = [t.astype(dtype) for t in tensors]
    bounds = tuple(np.cumsum([0] + [t._data.shape[d] for t in tensors]).tolist())
    return apply(CAT, tuple(tensors), {"dim": d, "bounds": bounds})


concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim ``dim``; input i's gradient is the slice
    i of g along that dim (a view, no copy)."""
    tensors = [tensor_arg(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    d = normalize_dim("stack", dim, tensors[0]._data.ndim + 1)
    dtype = np.result_type(*[t._data.dtype for t in tensors])
    return apply(STACK, tuple(t.astype(dtype) for t in tensors), {"dim": d})


@method()
def split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """Split along ``dim`` into chunks of ``split_size`` (the last may be smaller), or
    into pieces of the listed sizes (as ``torch.split``)."""
    x = tensor_arg(x)
    d = normalize_dim("split", dim, x._data.ndim)
    n = x._data.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) or [0]  # as torch
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to dim {dim}'s size {n}")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(x[(slice(None),) * d + (slice(start, start + size),)])
        start += size
    return tuple(pieces)


@method()
def chunk(x, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of size ceil(n / chunks) along ``dim`` (as torch.chunk)."""
    x = tensor_arg(x)
    d = normalize_dim("chunk", dim, x._data.ndim)
    n = x._data.shape[d]
    if n == 0:  # torch.chunk gives ``chunks`` empty pieces
        return split(x, [0] * chunks, d)
    return split(x, max(-(-n // chunks), 1), d)


@method()
def unbind(x, dim: int = 0) -> tuple:
    """The slices along ``dim``, each without that dim."""
    x = tensor_arg(x)
    d = normalize_dim("unbind", dim, x._data.ndim)
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x._data.shape[d]))


@method()
def flip(x, dims) -> Tensor:
    """Reverse the order of elements along ``dims`` (a view with negative strides)."""
    x = tensor_arg(x)
    dims = normalize_dims("flip", dims, x._data.ndim)
    return x[tuple(slice(None, None, -1) if d in dims else slice(None) for d in range(x.ndim))]
