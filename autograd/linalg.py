"""``graphgrad.linalg``: PyTorch's ``torch.linalg`` over batches of matrices ``(..., m, n)``.

The primitives (inverse, solvers, determinants, cholesky, eigh, svd, qr, matrix_exp)
and their gradients are in ``ops/decompositions.py``; everything else here is a
composition of differentiable functions, so its gradient and higher orders come
from theirs.  Names, arguments, defaults and output named tuples are PyTorch's.
Inputs must be floating point (float32 or float64); complex matrices are not
supported.

Degenerate cases (see ``ops/decompositions.py``): ``inv``/``solve`` of a singular
matrix and ``cholesky`` of one that is not positive-definite raise ``LinAlgError``
naming the batch element; ``det`` of an exactly singular matrix has gradient 0;
eigenvector and singular-vector gradients are inf/nan at repeated eigenvalues or
singular values, while the eigenvalues' and singular values' own gradients stay
finite (as PyTorch's).
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ._shapes import normalize_dim
from .ops.blas import cross as _cross
from .ops.decompositions import (
    CHOLESKY,
    DET,
    EIGH,
    INV,
    MATRIX_EXP,
    QR,
    SLOGDET,
    SOLVE,
    SOLVE_TRIANGULAR,
    SVD,
    LinAlgError,
    eigenvalues,
    mT,
    qr_shapes,
    singular_values,
    svd_shapes,
    unpack,
    xp_of,
)
from .ops.diagonal import diagonal as _diagonal
from .ops.elementwise import ABS
from .ops.linalg import matmul
from .ops.reduce import amax, amin
from .ops.statistics import vector_norm as _vector_norm
from .tensor import Tensor, tensor_arg, unwrap

__all__ = [
    "LinAlgError", "cholesky", "cond", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv",
    "lstsq",
    "matmul", "matrix_exp", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm",
    "pinv", "qr", "slogdet", "solve", "solve_triangular", "svd", "svdvals", "vecdot",
    "vector_norm",
]

SlogdetResult = namedtuple("slogdet", ["sign", "logabsdet"])
EighResult = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("svd", ["U", "S", "Vh"])
QRResult = namedtuple("qr", ["Q", "R"])
LstsqResult = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])


# ------------------------------------------------------------------ argument checks
def matrices(name: str, A, square: bool = True) -> Tensor:
    """``A`` as a float Tensor of at least 2 dims (square ones when ``square``)."""
    A = tensor_arg(A)
    if A._data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor, got dtype {A.dtype}")
    if A._data.ndim < 2:
        raise ValueError(f"{name}: expected a tensor of matrices (at least 2 dims), got shape "
                         f"{A.shape}")
    if square and A._data.shape[-1] != A._data.shape[-2]:
        raise ValueError(f"{name}: expected batches of square matrices, got shape {A.shape}")
    return A


def _same_dtype(name: str, A: Tensor, B) -> Tensor:
    B = tensor_arg(B)
    if B._data.dtype != A._data.dtype:
        raise TypeError(f"{name}: A and B must have the same dtype, got {A.dtype} and {B.dtype}")
    return B


def _check_batches(name: str, A: Tensor, B: Tensor) -> None:
    try:
        np.broadcast_shapes(A._data.shape[:-2], B._data.shape[:-2])
    except ValueError:
        raise ValueError(f"{name}: the batch dims of A {A.shape} and B {B.shape} cannot be "
                         f"broadcast") from None


# ------------------------------------------------------------------ inverse, solve
def inv(A) -> Tensor:
    """A^{-1} for each square matrix of ``A`` (..., n, n).  Ā = -A^{-T} Ḡ A^{-T}.  A
    singular matrix raises ``LinAlgError`` naming its batch element."""
    return INV(matrices("linalg.inv", A))


def solve(A, B, *, left: bool = True) -> Tensor:
    """X with A X = B (``left=False``: X A = B), A (..., n, n), batch dims broadcast.
    B is a batch of vectors when it is 1-D or has shape A.shape[:-1] (then X is
    too; not with ``left=False``, as PyTorch), otherwise matrices (..., n, k)
    ((..., k, n) for ``left=False``).
    B̄ = A^{-T} Ḡ and Ā = -B̄ X^T.  A singular A raises ``LinAlgError``."""
    A = matrices("linalg.solve", A)
    B = _same_dtype("linalg.solve", A, B)
    n = A._data.shape[-1]
    if B._data.ndim == 1 or B._data.shape == A._data.shape[:-1]:
        if not left:
            raise ValueError(f"linalg.solve: B of shape {B.shape} is a vector, which left=False "
                             f"does not take (as PyTorch); solve(A.mT, B) solves x A = B")
        if B._data.shape[-1] != n:
            raise ValueError(f"linalg.solve: A {A.shape} and the vector B {B.shape} differ in "
                             f"size ({n} != {B._data.shape[-1]})")
        return SOLVE(A, B.unsqueeze(-1)).squeeze(-1)
    if B._data.ndim < 2:
        raise ValueError(f"linalg.solve: B must be a vector or a matrix, got shape {B.shape}")
    rows = B._data.shape[-2] if left else B._data.shape[-1]
    if rows != n:
        raise ValueError(f"linalg.solve: incompatible shapes of A {A.shape} and B {B.shape} "
                         f"for {'AX' if left else 'XA'} = B ({n} != {rows})")
    _check_batches("linalg.solve", A, B)
    return SOLVE(A, B) if left else mT(SOLVE(mT(A), mT(B)))


def solve_triangular(A, B, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """X with A X = B (``left=False``: X A = B) for triangular A (..., n, n), B
    (..., n, k) (or (..., k, n)): only the triangle that ``upper`` names is read, and
    its diagonal is taken as ones with ``unitriangular``; Ā is restricted to it."""
    A = matrices("linalg.solve_triangular", A)
    B = _same_dtype("linalg.solve_triangular", A, B)
    n = A._data.shape[-1]
    if B._data.ndim < 2 or B._data.shape[-2 if left else -1] != n:
        raise ValueError(f"linalg.solve_triangular: incompatible shapes of A {A.shape} and B "
                         f"{B.shape} for {'AX' if left else 'XA'} = B")
    _check_batches("linalg.solve_triangular", A, B)
    if left:
        return SOLVE_TRIANGULAR(A, B, upper=upper, unitriangular=unitriangular)
    return mT(SOLVE_TRIANGULAR(mT(A), mT(B), upper=not upper, unitriangular=unitriangular))


# ---------------------------------------------------------------------- determinants
def det(A) -> Tensor:
    """det A for each square matrix (..., n, n).  Ā = ḡ det(A) A^{-T}; an exactly
    singular matrix gets gradient 0 (as PyTorch)."""
    return DET(matrices("linalg.det", A))


def slogdet(A) -> SlogdetResult:
    """(sign, logabsdet): det A = sign * exp(logabsdet), sign 0 and logabsdet -inf for a
    singular matrix.  sign has no gradient; logabsdet's is ḡ A^{-T} (NaN for a
    singular matrix)."""
    A = matrices("linalg.slogdet", A)
    sign, logabsdet = unpack(SLOGDET(A), ((), ()))
    return SlogdetResult(Tensor._make(sign._data), logabsdet)


def logdet(A) -> Tensor:
    """log det A: NaN where det A < 0 and -inf where it is 0 (as ``torch.logdet``)."""
    sign, logabsdet = slogdet(A)
    return logabsdet + Tensor._make(xp_of(sign).log(sign._data))


# ------------------------------------------------------------------ factorizations
def cholesky(A, *, upper: bool = False) -> Tensor:
    """L lower-triangular with A = L L^T (``upper``: U = L^T, A = U^T U) for symmetric
    positive-definite A (..., n, n); only its lower triangle is read, and the
    gradient is symmetric (A is assumed symmetric, as PyTorch).  A matrix that is not
    positive-definite raises ``LinAlgError`` naming its batch element."""
    L = CHOLESKY(matrices("linalg.cholesky", A))
    return mT(L) if upper else L


def eigh(A, UPLO: str = "L") -> EighResult:
    """(eigenvalues, eigenvectors) of symmetric A (..., n, n), eigenvalues ascending,
    reading the lower (``UPLO='L'``) or upper (``'U'``) triangle.  The eigenvectors are
    unique up to sign only.  Their gradient divides by eigenvalue gaps: inf/nan at
    repeated eigenvalues (as PyTorch); the eigenvalues' alone is V diag(λ̄) V^T."""
    A = matrices("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    n = A._data.shape[-1]
    values, vectors = unpack(EIGH(A, UPLO=UPLO), ((n,), (n, n)))
    return EighResult(values, vectors)


def eigvalsh(A, UPLO: str = "L") -> Tensor:
    """The eigenvalues of symmetric A, ascending (``eigh``'s); gradient V diag(λ̄) V^T,
    finite at repeated eigenvalues."""
    return eigh(A, UPLO).eigenvalues


def svd(A, full_matrices: bool = True) -> SVDResult:
    """(U, S, Vh) with A = U diag(S) Vh for A (..., m, n), S descending; with
    ``full_matrices`` U is (m, m) and Vh (n, n), else (m, k) and (k, n), k = min(m, n).
    Singular vectors are unique up to sign only; their gradient divides by gaps of
    squared singular values (inf/nan at repeated ones, as PyTorch) and, for
    non-square A, by the singular values; the gradient of the extra columns that
    ``full_matrices`` adds is ignored (as PyTorch)."""
    A = matrices("linalg.svd", A, square=False)
    m, n = A._data.shape[-2:]
    u, s, vh = unpack(SVD(A, full_matrices=bool(full_matrices)),
                      svd_shapes(m, n, bool(full_matrices)))
    return SVDResult(u, s, vh)


def svdvals(A) -> Tensor:
    """The singular values of A (..., m, n), descending; gradient U diag(S̄) Vh, finite
    at repeated singular values."""
    return svd(A, full_matrices=False).S


def qr(A, mode: str = "reduced") -> QRResult:
    """(Q, R) with A = Q R, Q orthonormal columns, R upper-triangular: ``mode``
    'reduced' (Q (m, k), R (k, n)), 'complete' (Q (m, m), R (m, n)) or 'r' (R only, Q
    empty).  Differentiable for 'reduced', and for 'complete' when m <= n (PyTorch's
    conditions; backward raises otherwise)."""
    A = matrices("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m, n = A._data.shape[-2:]
    parts = unpack(QR(A, mode=mode), qr_shapes(m, n, mode))
    if mode == "r":
        return QRResult(Tensor._make(xp_of(A).zeros(0, dtype=A._data.dtype)), parts[0])
    return QRResult(*parts)


def matrix_exp(A) -> Tensor:
    """exp(A) = sum_k A^k / k! for square A (..., n, n) (scaling and squaring).  Ā is
    the upper right block of exp([[A^T, Ḡ], [0, A^T]])."""
    return MATRIX_EXP(matrices("linalg.matrix_exp", A))


# --------------------------------------------------------------------------- norms
def _unsqueeze(t: Tensor, dims: tuple) -> Tensor:
    """``t`` with a dim of size 1 inserted at each of ``dims`` (increasing)."""
    for d in dims:
        t = t.unsqueeze(d)
    return t




def _dims(name: str, x: Tensor, dim) -> tuple:
    if dim is None:
        return tuple(range(x._data.ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    found = tuple(sorted(normalize_dim(name, d, x._data.ndim) for d in dims))
    if len(set(found)) != len(found):
        raise ValueError(f"{name}: dim {dim} names a dim twice")
    return found


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """(sum |x|^ord)^{1/ord} over ``dim`` (all dims by default); ``ord`` inf / -inf: the
    largest / smallest |x| (gradient split evenly among ties, as ``amax``); 0: the
    number of non-zero elements (no gradient).  The gradient is 0 at x = 0 (as
    PyTorch)."""
    x = tensor_arg(x)
    if dtype is not None:
        x = x.astype(dtype)
    if x._data.dtype.kind != "f":
        raise TypeError(f"linalg.vector_norm: expected a floating point tensor, got dtype "
                        f"{x.dtype}")
    dims = _dims("linalg.vector_norm", x, dim)
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    if abs(ord) == math.inf and x._data.size == 0 and any(x._data.shape[d] == 0 for d in dims):
        raise ValueError(f"linalg.vector_norm: ord {ord} of an empty dim (shape {x.shape})")
    return _vector_norm(x, ord, dims, bool(keepdim))


def _to_end(A: Tensor, dims: tuple) -> Tensor:
    """A with ``dims`` (two) moved to the end, in that order."""
    rest = [d for d in range(A._data.ndim) if d not in dims]
    return A.permute(*rest, *dims)


def _restore(out: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    return _unsqueeze(out, tuple(sorted(dims))) if keepdim else out


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """The norm of each matrix over the two dims ``dim``: 'fro' (sqrt of the sum of
    squares), 'nuc' (sum of singular values), 2 / -2 (largest / smallest singular
    value), 1 / -1 (largest / smallest column sum of |A|), inf / -inf (same for
    rows).  The singular-value norms differentiate through ``svd``."""
    A = tensor_arg(A)
    if dtype is not None:
        A = A.astype(dtype)
    A = matrices("linalg.matrix_norm", A, square=False)
    if len(tuple(dim)) != 2:
        raise ValueError(f"linalg.matrix_norm: dim must name two dims, got {dim}")
    dims = tuple(normalize_dim("linalg.matrix_norm", d, A._data.ndim) for d in dim)
    if dims[0] == dims[1]:
        raise ValueError(f"linalg.matrix_norm: dim {dim} names one dim twice")
    if ord == "fro":
        return vector_norm(A, 2, dims, keepdim)
    if ord in ("nuc", 2, -2):
        values = svdvals(_to_end(A, dims))
        return _restore(_extreme("linalg.matrix_norm", values, -1, ord, A), dims, keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        summed, across = (dims[0], dims[1]) if ord in (1, -1) else (dims[1], dims[0])
        out = _extreme("linalg.matrix_norm", ABS(A).sum(summed, keepdim=True), across, ord, A)
        return out.unsqueeze(across) if keepdim else out.reshape(
            tuple(n for d, n in enumerate(A._data.shape) if d not in dims))
    raise ValueError(f"linalg.matrix_norm: ord must be 'fro', 'nuc', 2, -2, 1, -1, inf or "
                     f"-inf, got {ord!r}")


def _extreme(name: str, values: Tensor, dim: int, ord, A: Tensor) -> Tensor:
    """Over ``dim`` of non-negative ``values``: the sum for 'nuc', else the largest
    (ord > 0) or smallest (ord < 0); an empty dim gives 0 for the sum and the largest,
    and is an error for the smallest (as PyTorch)."""
    if ord == "nuc" or (ord > 0 and values._data.shape[dim] == 0):
        return values.sum(dim)
    if ord > 0:
        return amax(values, dim)
    if values._data.shape[dim] == 0:
        raise ValueError(f"{name}: ord {ord} of an empty matrix (shape {A.shape})")
    return amin(values, dim)


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``vector_norm`` or ``matrix_norm`` as PyTorch chooses: an int ``dim`` (or a 1-D
    input) is a vector norm, two dims (or a 2-D input with ``ord`` given) a matrix
    norm; with neither ``ord`` nor ``dim`` the 2-norm of all elements."""
    A = tensor_arg(A)
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A._data.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if A._data.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: with ord={ord!r} and no dim the input must be 1-D or 2-D, "
                     f"got shape {A.shape}")


# ---------------------------------------------- pseudo-inverse, least squares, rank
def _tolerance(s, shape: tuple, atol, rtol):
    """max(atol, rtol * largest singular value) per matrix (an array), with PyTorch's
    defaults: rtol = eps * max(m, n) unless only a positive atol is given (then rtol = 0)."""
    data, xp = unwrap(s), xp_of(s)
    if rtol is None:
        given = atol is not None and bool(xp.asarray(unwrap(atol) > 0).any())
        rtol = 0.0 if given else np.finfo(data.dtype).eps * max(shape[-2:])
    largest = data.max(axis=-1) if data.size else xp.zeros(data.shape[:-1])
    return xp.maximum(0.0 if atol is None else unwrap(atol), unwrap(rtol) * largest)


def pinv(A, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse V diag(1/s) U^T of A (..., m, n), singular values
    below max(atol, rtol * largest) taken as 0 (``hermitian``: from ``eigh``, the
    eigenvalues' absolute values).  Differentiates through ``svd`` (``eigh``), so
    repeated singular values give inf/nan gradients (PyTorch's own rule does not)."""
    A = matrices("linalg.pinv", A, square=hermitian)
    if hermitian:
        values, vectors = eigh(A)
        keep = (abs(values._data) > _tolerance(ABS(values), A.shape, atol, rtol)[..., None])
        keep = keep.astype(A._data.dtype)
        inverse = keep / (values * keep + (1 - keep))
        return (vectors * inverse.unsqueeze(-2)) @ mT(vectors)
    u, s, vh = svd(A, full_matrices=False)
    keep = (s._data > _tolerance(s, A.shape, atol, rtol)[..., None]).astype(A._data.dtype)
    inverse = keep / (s * keep + (1 - keep))
    return (mT(vh) * inverse.unsqueeze(-2)) @ mT(u)


def matrix_rank(A, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The number of singular values (|eigenvalues| with ``hermitian``) above
    max(atol, rtol * largest), as int64 (no gradient)."""
    A = matrices("linalg.matrix_rank", A, square=hermitian)
    data = A._data
    s = abs(eigenvalues(data)) if hermitian else singular_values(data)
    tol = _tolerance(s, data.shape, atol, rtol)
    return Tensor._make((s > tol[..., None]).sum(axis=-1).astype(np.int64))


def lstsq(A, B, rcond=None, *, driver=None) -> LstsqResult:
    """The least-squares solution X of A X ≈ B, A (..., m, n), B (..., m, k), through
    the pseudo-inverse (singular values below rcond * largest dropped; rcond defaults
    to eps * max(m, n)), so it is differentiable in A and B.  The other fields are
    PyTorch's for each ``driver``: 'gelsy' (the default): rank; 'gelsd' / 'gelss':
    residuals (|A X - B|² per column, when m > n and A has full rank), rank and
    singular values; 'gels': residuals only.  The fields not computed are empty."""
    A = matrices("linalg.lstsq", A, square=False)
    B = _same_dtype("linalg.lstsq", A, B)
    driver = "gelsy" if driver is None else driver
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise ValueError(f"linalg.lstsq: driver must be 'gels', 'gelsy', 'gelsd' or 'gelss', "
                         f"got {driver!r}")
    vector = B._data.ndim == A._data.ndim - 1
    rhs = B.unsqueeze(-1) if vector else B
    if rhs._data.ndim < 2 or rhs._data.shape[-2] != A._data.shape[-2]:
        raise ValueError(f"linalg.lstsq: A {A.shape} and B {B.shape} differ in rows")
    _check_batches("linalg.lstsq", A, rhs)
    m, n = A._data.shape[-2:]
    X = pinv(A, rtol=rcond) @ rhs
    xp = xp_of(A)
    empty = Tensor._make(xp.zeros(0, dtype=A._data.dtype))
    s = singular_values(A._data)
    rank = (s > _tolerance(s, A._data.shape, None, rcond)[..., None]).sum(axis=-1)
    residuals = empty
    if driver != "gelsy" and m > n and bool((rank == n).all()):
        residuals = ((A @ X - rhs) ** 2).sum(-2)
        residuals = residuals.squeeze(-1) if vector else residuals
    return LstsqResult(
        X.squeeze(-1) if vector else X, residuals,
        Tensor._make(rank.astype(np.int64)) if driver != "gels" else
        Tensor._make(xp.zeros(0, dtype=np.int64)),
        Tensor._make(s) if driver in ("gelsd", "gelss") else empty)


def cond(A, p=None) -> Tensor:
    """The condition number: largest over smallest singular value for ``p`` None or 2
    (smallest over largest for -2), else ``matrix_norm(A, p) * matrix_norm(inv(A), p)``
    (square A)."""
    A = matrices("linalg.cond", A, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(A)
        ratio = s[..., 0] / s[..., -1]
        return ratio if p != -2 else 1 / ratio
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


# -------------------------------------------------------------------- products
def matrix_power(A, n: int) -> Tensor:
    """A^n for square A by repeated squaring; n = 0 gives the identity, n < 0 powers of
    inv(A)."""
    A = matrices("linalg.matrix_power", A)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {n!r}")
    if n < 0:
        return matrix_power(inv(A), -n)
    if n == 0:
        xp = xp_of(A)
        eye = xp.broadcast_to(xp.eye(A._data.shape[-1], dtype=A._data.dtype), A._data.shape)
        return A * 0 + eye
    result, square = None, A
    while True:
        if n & 1:
            result = square if result is None else result @ square
        n >>= 1
        if not n:
            return result
        square = square @ square


def multi_dot(tensors) -> Tensor:
    """The product of a chain of matrices, first and last possibly 1-D (a row and a
    column vector, dropped from the result as ``matmul`` does), multiplied in the order
    that costs the fewest scalar multiplications."""
    xs = [tensor_arg(t) for t in tensors]
    if len(xs) < 2:
        raise ValueError(f"linalg.multi_dot: expected at least 2 tensors, got {len(xs)}")
    ndims = [x._data.ndim for x in xs]
    if any(d != 2 for d in ndims[1:-1]) or ndims[0] not in (1, 2) or ndims[-1] not in (1, 2):
        raise ValueError(f"linalg.multi_dot: the first and last tensors must be 1-D or 2-D and "
                         f"the others 2-D, got shapes {[x.shape for x in xs]}")
    row, col = ndims[0] == 1, ndims[-1] == 1
    mats = [xs[0].unsqueeze(0) if row else xs[0], *xs[1:-1],
            xs[-1].unsqueeze(-1) if col else xs[-1]]
    for k in range(len(mats) - 1):
        if mats[k]._data.shape[1] != mats[k + 1]._data.shape[0]:
            raise ValueError(f"linalg.multi_dot: tensors {k} and {k + 1} of shapes "
                             f"{xs[k].shape} and {xs[k + 1].shape} cannot be multiplied")
    out = _chain(mats, _chain_order([m._data.shape[0] for m in mats] + [mats[-1].shape[1]]),
                 0, len(mats) - 1)
    if row:
        out = out.squeeze(0)
    return out.squeeze(-1) if col else out


def _chain_order(sizes: list) -> dict:
    """The classic dynamic programme: split[i, j] = where to split the product of
    matrices i..j (matrix k is sizes[k] x sizes[k + 1]) at least cost."""
    count = len(sizes) - 1
    cost = {(i, i): 0 for i in range(count)}
    split = {}
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            cost[i, j], split[i, j] = min(
                (cost[i, k] + cost[k + 1, j] + sizes[i] * sizes[k + 1] * sizes[j + 1], k)
                for k in range(i, j))
    return split


def _chain(mats: list, split: dict, i: int, j: int) -> Tensor:
    if i == j:
        return mats[i]
    k = split[i, j]
    return _chain(mats, split, i, k) @ _chain(mats, split, k + 1, j)


def cross(input, other, *, dim: int = -1) -> Tensor:
    """``graphgrad.cross`` with torch.linalg's rules: ``dim`` defaults to -1 and the inputs
    must have the same number of dims (then broadcast)."""
    a, b = tensor_arg(input), tensor_arg(other)
    if a._data.ndim != b._data.ndim:
        raise ValueError(f"linalg.cross: inputs must have the same number of dims, got shapes "
                         f"{a.shape} and {b.shape}")
    return _cross(a, b, dim)


def vecdot(x, y, *, dim: int = -1) -> Tensor:
    """sum(x * y) along ``dim`` (inputs broadcast)."""
    return (tensor_arg(x) * tensor_arg(y)).sum(dim)


def diagonal(A, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """``graphgrad.diagonal`` with torch.linalg's defaults: the diagonal ``offset`` of the
    matrices over the last two dims (a view)."""
    return _diagonal(A, offset, dim1, dim2)
