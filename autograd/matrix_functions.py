"""PyTorch's top-level matrix functions and Tensor methods (``torch.inverse``,
``torch.svd``, ``Tensor.det``, ...), in terms of ``graphgrad.linalg``.

Where PyTorch's top-level function is ``torch.linalg``'s under another name
(``inverse``, ``det``, ``slogdet``, ``matrix_power``, ``matrix_exp``) it is the same
function; ``cholesky``, ``svd``, ``qr`` and ``pinverse`` keep their older signatures
(``upper`` positional, ``some``, V instead of Vh, ``rcond``).
"""
from __future__ import annotations

from collections import namedtuple

from . import linalg
from .ops._args import method
from .ops.decompositions import mT, xp_of
from .tensor import Tensor, tensor_arg

SVDResult = namedtuple("svd", ["U", "S", "V"])
QRResult = namedtuple("qr", ["Q", "R"])

inverse = method("inverse")(linalg.inv)
det = method("det")(linalg.det)
slogdet = method("slogdet")(linalg.slogdet)
logdet = method("logdet")(linalg.logdet)
matrix_power = method("matrix_power")(linalg.matrix_power)
matrix_exp = method("matrix_exp")(linalg.matrix_exp)


@method("cholesky")
def cholesky(input, upper: bool = False) -> Tensor:
    """``linalg.cholesky(input, upper=upper)`` (torch.cholesky's signature)."""
    return linalg.cholesky(input, upper=upper)


@method()
def cholesky_solve(B, L, upper: bool = False) -> Tensor:
    """X with A X = B for A = L L^T (``upper``: A = U^T U) given its Cholesky factor,
    by two solves.  As PyTorch, the gradient is that of (L L^T)^{-1} B in every entry
    of L, its zero triangle included."""
    L = linalg.matrices("cholesky_solve", L)
    if upper:
        L = mT(L)
    return linalg.solve(mT(L), linalg.solve(L, B))


@method()
def cholesky_inverse(L, upper: bool = False) -> Tensor:
    """A^{-1} for A = L L^T (``upper``: U^T U) given its Cholesky factor."""
    L = linalg.matrices("cholesky_inverse", L)
    xp = xp_of(L)
    eye = xp.broadcast_to(xp.eye(L._data.shape[-1], dtype=L._data.dtype), L._data.shape)
    return cholesky_solve(Tensor._make(xp.array(eye)), L, upper)


@method()
def pinverse(input, rcond: float = 1e-15) -> Tensor:
    """``linalg.pinv(input, rtol=rcond)``."""
    return linalg.pinv(input, rtol=rcond)


@method("svd")
def svd(input, some: bool = True, compute_uv: bool = True) -> SVDResult:
    """(U, S, V) with input = U diag(S) V^T: ``linalg.svd(input, full_matrices=not some)``
    with V = Vh^T.  ``compute_uv=False``: U and V are zero matrices (m, m) and (n, n)
    and only S is differentiable."""
    A = linalg.matrices("svd", input, square=False)
    if not compute_uv:
        m, n = A._data.shape[-2:]
        zeros = lambda k: Tensor._make(xp_of(A).zeros(A._data.shape[:-2] + (k, k), A._data.dtype))
        return SVDResult(zeros(m), linalg.svdvals(A), zeros(n))
    u, s, vh = linalg.svd(A, full_matrices=not some)
    return SVDResult(u, s, mT(vh))


@method("qr")
def qr(input, some: bool = True) -> QRResult:
    """``linalg.qr(input, mode='reduced' if some else 'complete')``."""
    return QRResult(*linalg.qr(tensor_arg(input), "reduced" if some else "complete"))
