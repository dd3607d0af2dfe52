"""Products built on matmul and einsum: the BLAS-style ``beta * input + alpha * product``
family (addmm, addbmm, baddbmm, addmv, addr), tensordot, kron, cross, and the grids
meshgrid and cartesian_prod.

All are compositions of differentiable ops (matmul, einsum, mul, reshape, expand,
stack), so their gradients and higher ones need no rule of their own: for
addmm, d/dinput = beta * g, d/dmat1 = alpha * g mat2^T, d/dmat2 = alpha * mat1^T g.
With ``beta = 0`` the input is ignored, NaN and inf in it included (as PyTorch), and
its gradient is zero.
"""
from __future__ import annotations

import string

import numpy as np

from .._shapes import normalize_dim
from ..tensor import Tensor, tensor_arg
from ._args import binary_operands, method
from .elementwise import mul, sub, where
from .inplace import inplace_form
from .linalg import einsum, matmul
from .shape import expand, stack


def _require_ndim(name: str, what: str, x: Tensor, ndim: int) -> None:
    if x._data.ndim != ndim:
        raise ValueError(f"{name}: {what} must be {ndim}-D, got shape {x.shape}")


def _scaled_sum(name: str, input, product: Tensor, beta, alpha) -> Tensor:
    """beta * input + alpha * product, ``input`` broadcast to the product's shape."""
    x = tensor_arg(input)
    shape = product._data.shape
    try:
        fits = np.broadcast_shapes(x._data.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name}: input of shape {x.shape} does not broadcast to the product's "
                         f"shape {shape}")
    if alpha != 1:
        product = mul(product, alpha)
    if beta == 0:  # input ignored (its NaNs too); its gradient is zero
        x, product = binary_operands(x, product)
        return where(True, product, x)
    return product + (x if beta == 1 else mul(x, beta))


@method()
def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2): mat1 (n, m), mat2 (m, p), input broadcast to
    (n, p)."""
    a, b = tensor_arg(mat1), tensor_arg(mat2)
    _require_ndim("addmm", "mat1", a, 2)
    _require_ndim("addmm", "mat2", b, 2)
    return _scaled_sum("addmm", input, matmul(a, b), beta, alpha)


@method()
def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat @ vec): mat (n, m), vec (m,), input broadcast to (n,)."""
    a, v = tensor_arg(mat), tensor_arg(vec)
    _require_ndim("addmv", "mat", a, 2)
    _require_ndim("addmv", "vec", v, 1)
    return _scaled_sum("addmv", input, matmul(a, v), beta, alpha)


@method()
def addr(input, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2), input broadcast to (n, m)."""
    u, v = tensor_arg(vec1), tensor_arg(vec2)
    _require_ndim("addr", "vec1", u, 1)
    _require_ndim("addr", "vec2", v, 1)
    u, v = binary_operands(u, v)
    return _scaled_sum("addr", input, u[:, None] * v[None, :], beta, alpha)


def _batches(name: str, batch1, batch2) -> tuple:
    a, b = tensor_arg(batch1), tensor_arg(batch2)
    _require_ndim(name, "batch1", a, 3)
    _require_ndim(name, "batch2", b, 3)
    if a._data.shape[0] != b._data.shape[0] or a._data.shape[2] != b._data.shape[1]:
        raise ValueError(f"{name}: batch1 of shape {a.shape} and batch2 of shape {b.shape} "
                         f"do not multiply ((b, n, m) and (b, m, p))")
    return a, b


@method()
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2) per batch: (b, n, m) @ (b, m, p), input
    broadcast to (b, n, p)."""
    a, b = _batches("baddbmm", batch1, batch2)
    return _scaled_sum("baddbmm", input, matmul(a, b), beta, alpha)


@method()
def addbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * sum_b batch1[b] @ batch2[b]: the batch of products summed
    (one contraction, an einsum), input broadcast to (n, p)."""
    a, b = _batches("addbmm", batch1, batch2)
    return _scaled_sum("addbmm", input, einsum("bnm,bmp->np", a, b), beta, alpha)


def tensordot(a, b, dims=2) -> Tensor:
    """Sum of a * b over pairs of dims: the last ``dims`` dims of a with the first ``dims``
    of b (an int), or ``dims = (dims_of_a, dims_of_b)`` (two lists of the same length,
    or two ints).  The result has a's free dims, then b's.  An einsum."""
    x, y = tensor_arg(a), tensor_arg(b)
    nx, ny = x._data.ndim, y._data.ndim
    if isinstance(dims, (int, np.integer)):
        if not 0 <= dims <= min(nx, ny):
            raise ValueError(f"tensordot: dims = {dims} must be in [0, {min(nx, ny)}] for "
                             f"shapes {x.shape} and {y.shape}")
        da, db = list(range(nx - dims, nx)), list(range(dims))
    else:
        if len(dims) != 2:
            raise ValueError(f"tensordot: dims must be an int or two lists of dims, got {dims!r}")
        da, db = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in dims)
        if len(da) != len(db):
            raise ValueError(f"tensordot: dims {da} of a and {db} of b differ in number")
        da = [normalize_dim("tensordot", d, nx) for d in da]
        db = [normalize_dim("tensordot", d, ny) for d in db]
    for i, j in zip(da, db, strict=True):
        if x._data.shape[i] != y._data.shape[j]:
            raise ValueError(f"tensordot: dim {i} of a (shape {x.shape}) and dim {j} of b "
                             f"(shape {y.shape}) differ in size")
    letters = iter(string.ascii_letters)
    la = [next(letters) for _ in range(nx)]
    lb = [next(letters) for _ in range(ny)]
    for i, j in zip(da, db, strict=True):
        lb[j] = la[i]
    free = [c for k, c in enumerate(la) if k not in da] + [c for k, c in enumerate(lb)
                                                         if k not in db]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(free)}", x, y)


@method()
def kron(input, other) -> Tensor:
    """Kronecker product: the block tensor whose block i is input[i] * other, of shape
    input.shape[k] * other.shape[k] per dim (the shorter shape padded with leading 1s).
    A product of two interleaved reshapes, so d/dinput and d/dother are sums of g * the
    other operand over the blocks."""
    x, y = binary_operands(tensor_arg(input), tensor_arg(other))
    ndim = max(x._data.ndim, y._data.ndim)
    xs = (1,) * (ndim - x._data.ndim) + x._data.shape
    ys = (1,) * (ndim - y._data.ndim) + y._data.shape
    spread_x = x.reshape(tuple(n for a in xs for n in (a, 1)))
    spread_y = y.reshape(tuple(n for b in ys for n in (1, b)))
    return (spread_x * spread_y).reshape(tuple(a * b for a, b in zip(xs, ys, strict=True)))


@method()
def cross(input, other, dim=None) -> Tensor:
    """Cross product of 3-vectors along ``dim`` (broadcast together); ``dim=None`` takes
    the first dim of size 3, as ``torch.cross`` (``gg.linalg.cross`` defaults to -1)."""
    x, y = binary_operands(tensor_arg(input), tensor_arg(other))
    try:
        shape = np.broadcast_shapes(x._data.shape, y._data.shape)
    except ValueError:
        raise ValueError(f"cross: shapes {x.shape} and {y.shape} cannot be broadcast") from None
    if dim is None:
        if 3 not in shape:
            raise ValueError(f"cross: no dim of size 3 in the shapes {x.shape} and {y.shape}")
        dim = shape.index(3)
    d = normalize_dim("cross", dim, len(shape))
    sizes = [t._data.shape[d - len(shape)] if d - len(shape) >= -t._data.ndim else 1
             for t in (x, y)]
    if sizes != [3, 3]:
        raise ValueError(f"cross: dim {dim} must have size 3 in both inputs, got shapes "
                         f"{x.shape} and {y.shape}")
    x, y = expand(x, shape), expand(y, shape)
    head = (slice(None),) * d
    a = [x[head + (i,)] for i in range(3)]
    b = [y[head + (i,)] for i in range(3)]
    parts = [sub(a[(i + 1) % 3] * b[(i + 2) % 3], a[(i + 2) % 3] * b[(i + 1) % 3])
             for i in range(3)]
    return stack(parts, d)


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids: for 1-D (or 0-D) inputs of sizes n_0, ..., n_k, k + 1 tensors of
    shape (n_0, ..., n_k), the i-th varying along dim i (``indexing='ij'``, the default);
    ``'xy'`` swaps the first two dims (shape (n_1, n_0, ...)), as NumPy's default.  Each is
    an expanded view of its input: the gradient sums back over the grid."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [tensor_arg(t) for t in tensors]
    for t in ts:
        if t._data.ndim > 1:
            raise ValueError(f"meshgrid: expects 0-D or 1-D tensors, got shape {t.shape}")
    if len({t._data.dtype for t in ts}) > 1:
        raise TypeError(f"meshgrid: the tensors must have one dtype, got "
                        f"{[str(t.dtype) for t in ts]}")
    axes = list(range(len(ts)))  # the dim along which each input varies
    if indexing == "xy" and len(ts) >= 2:
        axes[0], axes[1] = 1, 0
    shape = [1] * len(ts)
    for t, axis in zip(ts, axes, strict=True):
        shape[axis] = int(t._data.size)
    grids = []
    for t, axis in zip(ts, axes, strict=True):
        along = [1] * len(ts)
        along[axis] = shape[axis]
        grids.append(expand(t.reshape(tuple(along)), tuple(shape)))
    return tuple(grids)


def cartesian_prod(*tensors) -> Tensor:
    """Every combination of one element from each 1-D tensor, as rows of an (N, k) tensor
    in the order of nested loops (the last tensor varies fastest); one tensor is returned
    as it is (1-D), as PyTorch."""
    ts = [tensor_arg(t) for t in tensors]
    for t in ts:
        if t._data.ndim != 1:
            raise ValueError(f"cartesian_prod: expects 1-D tensors, got shape {t.shape}")
    if len(ts) == 1:
        return ts[0]
    return stack([g.reshape(-1) for g in meshgrid(*ts, indexing="ij")], 1)


for _fn in (addmm, addmv, addr, baddbmm, addbmm):
    inplace_form(_fn)
