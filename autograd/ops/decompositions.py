"""The primitives of ``graphgrad.linalg``: inverse, solvers, determinants and the
matrix decompositions, each a LAPACK forward over batches of matrices ``(..., m, n)``
(``xp.linalg`` of the input's array module: NumPy's, or CuPy's on a GPU) and its
vector-Jacobian rule.

The rules are the standard results of matrix calculus (Giles, "An extended
collection of matrix derivative results", 2008; Townsend, "Differentiating the
singular value decomposition", 2016), written with ``@``, ``.swapaxes`` and the
Ops of this module, so that ``create_graph=True`` differentiates them again.
``A^T`` is ``swapaxes(-1, -2)``; ``Ā`` is the gradient of the loss with respect to A.

Several outputs (eigenvalues and eigenvectors, U, S and Vh, Q and R, sign and
log|det|) come out of one op as one array, each output flattened along the last
dim (``pack``); the public functions cut it into the outputs with differentiable
slices (``unpack``), so a rule gets one gradient holding all of theirs, zero for
an output that was not used.

Degenerate inputs, as PyTorch: a singular matrix in ``inv``/``solve`` and a
matrix that is not positive-definite in ``cholesky`` raise ``LinAlgError``
(a RuntimeError) naming the op and the batch element (on a GPU too: ``lapack`` asks
CuPy to check cuSOLVER's status, which waits for the device, as PyTorch's checks do);
a matrix holding NaN or infinity gives NaN (``lapack``); ``det``
of an exactly singular matrix has gradient 0.  The rules of ``eigh`` and ``svd`` divide by the
differences of eigenvalues (of squared singular values): with repeated ones the
gradient of the eigenvectors (singular vectors) is inf or nan, as PyTorch's,
while a loss that uses only the eigenvalues (singular values) gets a finite
gradient (its rule skips those terms when their upstream gradient is zero).
"""
from __future__ import annotations

import math

import numpy as np

from ..arrays import namespace, raising_linalg
from ..tensor import Tensor, unwrap
from ._registry import Op
from .padding import PAD
from .shape import CAT


class LinAlgError(RuntimeError):
    """A matrix that an operation cannot handle: singular for ``inv`` and ``solve``,
    not positive-definite for ``cholesky`` (``torch.linalg.LinAlgError``)."""


def mT(x):
    """The last two dims swapped (array or Tensor)."""
    return x.swapaxes(-1, -2)


def xp_of(x):
    """The array module of ``x``'s data (an array or a Tensor)."""
    return namespace(unwrap(x))


def _first_failure(name: str, a, attempt, problem: str):
    """Raise LinAlgError naming the first batch element of ``a`` on which ``attempt``
    (a LAPACK routine) fails; called after it failed on the whole batch."""
    flat = a.reshape((-1,) + a.shape[-2:])
    where = ""
    for k, matrix in enumerate(flat):
        try:
            attempt(matrix)
        except np.linalg.LinAlgError:
            where = f" (batch element {k})" if a.ndim > 2 else ""
            break
    raise LinAlgError(f"{name}{where}: {problem}")


def lapack(name: str, routine, core: int, attempt=None, problem: str = "LAPACK failed"):
    """The forward of an op calling ``routine`` (LAPACK, through the array module) on a
    batch of matrices (its first argument; its result has ``core`` dims after the batch
    dims).  Matrices holding NaN or infinity give NaN results (PyTorch computes through
    them; LAPACK may refuse): they are replaced by the identity for the call.  A failure
    on the others (``attempt(matrix, **params)``, by default ``routine``, tells which)
    raises LinAlgError naming the batch element."""

    def forward(a, *args, **params):
        xp = namespace(a)
        bad = ~xp.isfinite(a).all(axis=(-2, -1))
        if bad.any():
            a = xp.where(bad[..., None, None], xp.eye(*a.shape[-2:], dtype=a.dtype), a)
        # NumPy's linalg is Python code, outside the warning filter; CuPy's checks for
        # failures only when asked.
        with np.errstate(all="ignore"), raising_linalg(a):
            try:
                out = routine(a, *args, **params)
            except np.linalg.LinAlgError:
                _first_failure(name, a, lambda m: (attempt or routine)(m, **params), problem)
        if bad.any():
            out = xp.array(out)
            out[xp.broadcast_to(bad, out.shape[:out.ndim - core])] = np.nan
        return out

    return forward


def xp_linalg(name: str):
    """``xp.linalg.<name>`` of the array module of the first argument."""

    def call(a, *args, **params):
        return getattr(namespace(a).linalg, name)(a, *args, **params)

    return call


_inv, _solve = xp_linalg("inv"), xp_linalg("solve")
_SINGULAR = "the matrix is singular (a zero pivot), so it cannot be inverted"


# ------------------------------------------------------------------ pack and unpack
def pack(batch: tuple, *parts):
    """Arrays with the batch dims ``batch`` in front, as one array (*batch, total)."""
    return namespace(parts[0]).concatenate(
        [p.reshape(batch + (math.prod(p.shape[len(batch):]),)) for p in parts], axis=-1)


def unpack(packed, shapes: tuple) -> list:
    """The parts of ``packed`` (array or Tensor), of shapes (*batch, *shape) for each
    ``shape`` in ``shapes``: differentiable slices."""
    batch = packed.shape[:-1]
    parts, start = [], 0
    for shape in shapes:
        stop = start + math.prod(shape)
        parts.append(packed[..., start:stop].reshape(batch + tuple(shape)))
        start = stop
    return parts


# ------------------------------------------------------------------- inverse, solve
# C = A^{-1}: dC = -C dA C, so Ā = -C^T Ḡ C^T.
INV = Op("linalg.inv", lapack("linalg.inv", _inv, 2, problem=_SINGULAR),
         lambda g, out, a: -(mT(out) @ g @ mT(out)), saves="out")


def _solve_da(g, out, a, b):
    """X = A^{-1} B: B̄ = A^{-T} Ḡ and Ā = -B̄ X^T."""
    return -(SOLVE(mT(a), g) @ mT(out))


SOLVE = Op("linalg.solve", lapack("linalg.solve", _solve, 2, _inv, _SINGULAR),
           _solve_da, lambda g, out, a, b: SOLVE(mT(a), g),
           saves=("x out", "x"), broadcasts=True)


def _triangle(xp, n: int, upper: bool, unitriangular: bool, dtype):
    """The 0/1 mask of the entries a triangular solve reads (an ``xp`` array)."""
    mask = xp.tri(n, k=-1 if unitriangular else 0, dtype=dtype)
    return mask.T if upper else mask


def _triangular(a, upper: bool, unitriangular: bool):
    xp, n = namespace(a), a.shape[-1]
    t = a * _triangle(xp, n, upper, unitriangular, a.dtype)
    return t + xp.eye(n, dtype=a.dtype) if unitriangular else t


def _solve_triangular_forward(a, b, upper, unitriangular):
    return _solve(_triangular(a, upper, unitriangular), b)


def _solve_triangular_da(g, out, a, b, upper, unitriangular):
    """As solve's, restricted to the triangle that is read."""
    gb = SOLVE_TRIANGULAR(mT(a), g, upper=not upper, unitriangular=unitriangular)
    mask = _triangle(xp_of(a), a.shape[-1], upper, unitriangular, unwrap(a).dtype)
    return -(gb @ mT(out)) * mask


SOLVE_TRIANGULAR = Op(
    "linalg.solve_triangular",
    lapack("linalg.solve_triangular", _solve_triangular_forward, 2,
           lambda m, upper, unitriangular: _inv(_triangular(m, upper, unitriangular)),
           "the triangular matrix has a zero on its diagonal"), _solve_triangular_da,
    lambda g, out, a, b, upper, unitriangular: SOLVE_TRIANGULAR(
        mT(a), g, upper=not upper, unitriangular=unitriangular),
    saves=("x out", "x"), broadcasts=True)


# ----------------------------------------------------------------- determinants
def _nonsingular(a, singular):
    """``a`` with the matrices flagged in ``singular`` (batch shape) replaced by the
    identity, so that they can be inverted."""
    if not singular.any():
        return a
    flag = singular[..., None, None].astype(unwrap(a).dtype)
    return a * (1 - flag) + xp_of(a).eye(a.shape[-1], dtype=flag.dtype) * flag


def _det_vjp(g, out, a):
    """d det A = det A tr(A^{-1} dA), so Ā = ḡ det(A) A^{-T}; 0 where det A is exactly 0
    (PyTorch's choice: a singular matrix has gradient 0, not its adjugate)."""
    inverse = INV(_nonsingular(a, unwrap(out) == 0))
    return (g * out)[..., None, None] * mT(inverse)


DET = Op("linalg.det", lapack("linalg.det", xp_linalg("det"), 0), _det_vjp, saves="x out")


def _slogdet_forward(a):
    sign, logabsdet = namespace(a).linalg.slogdet(a)
    return namespace(a).stack([sign, logabsdet], axis=-1)


def _slogdet_vjp(g, out, a):
    """(sign, log|det A|) packed along the last dim; sign has no gradient and
    d log|det A| = tr(A^{-1} dA): Ā = ḡ A^{-T}.  A singular matrix (log|det| = -inf)
    gets NaN (PyTorch gives infinities of the adjugate's signs)."""
    singular = unwrap(out)[..., 0] == 0
    scale = xp_of(out).where(singular, np.nan, 1.0).astype(unwrap(out).dtype)
    return (g[..., 1] * scale)[..., None, None] * mT(INV(_nonsingular(a, singular)))


SLOGDET = Op("linalg.slogdet", lapack("linalg.slogdet", _slogdet_forward, 1), _slogdet_vjp,
             saves="x out")


# ------------------------------------------------------------------------ cholesky
def _cholesky_vjp(g, out, a):
    """A = L L^T.  With Φ(X) the lower triangle of X with its diagonal halved,
    L^{-1} dA L^{-T} = X + X^T for X = L^{-1} dL (lower), so dL = L Φ(L^{-1} dA L^{-T})
    and Ā = L^{-T} Φ(L^T tril(L̄)) L^{-1}, symmetrized (A is assumed symmetric; only
    its lower triangle is read)."""
    xp, n, dtype = xp_of(out), out.shape[-1], unwrap(out).dtype
    lower = xp.tri(n, dtype=dtype)
    phi = lower - 0.5 * xp.eye(n, dtype=dtype)
    c = (mT(out) @ (g * lower)) * phi
    lt = mT(out)
    left = SOLVE_TRIANGULAR(lt, c, upper=True, unitriangular=False)  # L^{-T} Φ
    s = mT(SOLVE_TRIANGULAR(lt, mT(left), upper=True, unitriangular=False))  # ... L^{-1}
    return 0.5 * (s + mT(s))


CHOLESKY = Op("linalg.cholesky", lapack("linalg.cholesky", xp_linalg("cholesky"), 2,
                                        problem="the matrix is not positive-definite"),
              _cholesky_vjp, saves="out")


# --------------------------------------------------------------------------- eigh
def _eigh_forward(a, UPLO):
    values, vectors = namespace(a).linalg.eigh(a, UPLO=UPLO)
    return pack(a.shape[:-2], values, vectors)


def _gaps(values):
    """E[i, j] = values[j] - values[i] off the diagonal, inf on it (so X / E has a zero
    diagonal)."""
    xp, n = xp_of(values), values.shape[-1]
    diagonal = xp.where(xp.eye(n, dtype=bool), np.inf, 0.0).astype(unwrap(values).dtype)
    return values[..., None, :] - values[..., :, None] + diagonal


def _eigh_vjp(g, out, a, UPLO):
    """A = V diag(λ) V^T: dλ = diag(V^T dA V) and dV = V (F ∘ (V^T dA V)) with
    F[i, j] = 1 / (λ_j - λ_i) off the diagonal, so Ā = V (diag(λ̄) + F ∘ (V^T V̄)) V^T,
    symmetrized (A is assumed symmetric, as PyTorch).  The F term is left out when V̄
    is zero (only eigenvalues used)."""
    n = a.shape[-1]
    values, vectors = unpack(out, ((n,), (n, n)))
    g_values, g_vectors = unpack(g, ((n,), (n, n)))
    inner = g_values[..., None] * xp_of(out).eye(n, dtype=a.dtype)
    if _nonzero(g_vectors):
        inner = inner + (mT(vectors) @ g_vectors) / _gaps(values)
    grad = vectors @ inner @ mT(vectors)
    return 0.5 * (grad + mT(grad))


EIGH = Op("linalg.eigh", lapack("linalg.eigh", _eigh_forward, 1), _eigh_vjp, saves="out", meta=True)


# ---------------------------------------------------------------------------- svd
def svd_shapes(m: int, n: int, full_matrices: bool) -> tuple:
    k = min(m, n)
    return ((m, m if full_matrices else k), (k,), (n if full_matrices else k, n))


def _svd_forward(a, full_matrices):
    u, s, vh = namespace(a).linalg.svd(a, full_matrices=full_matrices)
    return pack(a.shape[:-2], u, s, vh)


def _svd_vjp(g, out, a, full_matrices):
    """A = U diag(S) V^T (Townsend 2016), with F[i, j] = 1 / (s_j² - s_i²) off the
    diagonal:  Ā = U [(F ∘ (U^T Ū - Ū^T U)) S + diag(S̄) + S (F ∘ (V^T V̄ - V̄^T V))] V^T
    + (I - U U^T) Ū S^{-1} V^T + U S^{-1} V̄^T (I - V V^T), the last two terms only
    for non-square A.  With ``full_matrices`` the extra columns of U (rows of Vh) are
    not unique and their gradient is ignored (as PyTorch).  The F terms are left out
    when Ū and V̄ are zero and constant (only singular values used)."""
    m, n = a.shape[-2:]
    k = min(m, n)
    shapes = svd_shapes(m, n, full_matrices)
    u, s, vh = unpack(out, shapes)
    gu, gs, gvh = unpack(g, shapes)
    u, gu, v, gv = u[..., :k], gu[..., :k], mT(vh[..., :k, :]), mT(gvh[..., :k, :])
    inner = gs[..., None] * xp_of(out).eye(k, dtype=a.dtype)
    u_used, v_used = _used(gu), _used(gv)
    if u_used or v_used:
        gaps = _gaps(s * s)
        if u_used:
            ugu = mT(u) @ gu
            inner = inner + ((ugu - mT(ugu)) / gaps) * s[..., None, :]
        if v_used:
            vgv = mT(v) @ gv
            inner = inner + s[..., :, None] * ((vgv - mT(vgv)) / gaps)
    grad = u @ inner @ mT(v)
    if u_used and m > k:
        grad = grad + (gu - u @ (mT(u) @ gu)) / s[..., None, :] @ mT(v)
    if v_used and n > k:
        grad = grad + u @ mT((gv - v @ (mT(v) @ gv)) / s[..., None, :])
    return grad


def _used(g) -> bool:
    """Whether an output's gradient takes part: when it is not zero, and also while
    recording when it depends on what is being differentiated (zero only at this point:
    leaving it out would drop its terms from the second derivative)."""
    return _nonzero(g) or (isinstance(g, Tensor) and g.requires_grad)


def _nonzero(g) -> bool:
    """Whether ``g`` (an array or a Tensor) holds a value other than zero."""
    return bool(xp_of(g).any(unwrap(g)))


SVD = Op("linalg.svd", lapack("linalg.svd", _svd_forward, 1), _svd_vjp, saves="out", meta=True)
# Values only, without gradient (matrix_rank, lstsq's fields).
singular_values = lapack("linalg.svdvals",
                         lambda a: namespace(a).linalg.svd(a, compute_uv=False), 1)
eigenvalues = lapack("linalg.eigvalsh", xp_linalg("eigvalsh"), 1)


# ----------------------------------------------------------------------------- qr
def qr_shapes(m: int, n: int, mode: str) -> tuple:
    k = m if mode == "complete" else min(m, n)
    return ((m, k), (k, n)) if mode != "r" else ((k, n),)


def _qr_forward(a, mode):
    qr = namespace(a).linalg.qr(a, mode=mode)
    return pack(a.shape[:-2], *((qr,) if mode == "r" else qr))


def _qr_square_vjp(gq, gr, q, r):
    """A = Q R with A m x n, m >= n: with M = R R̄^T - Q̄^T Q and copyltu(M) the symmetric
    matrix of M's lower triangle, Ā = (Q̄ + Q copyltu(M)) R^{-T}."""
    xp, n, dtype = xp_of(r), r.shape[-1], unwrap(r).dtype
    m_ = r @ mT(gr) - mT(gq) @ q
    lower = m_ * xp.tri(n, dtype=dtype)
    copyltu = lower + mT(lower * (1 - xp.eye(n, dtype=dtype)))
    b = gq + q @ copyltu
    return mT(SOLVE_TRIANGULAR(r, mT(b), upper=True, unitriangular=False))


def _qr_vjp(g, out, a, mode):
    """m >= n as ``_qr_square_vjp``.  m < n: A = [X | Y] with X square, R = [U | V]:
    Ȳ = Q V̄ and X̄ is the square case with Q̄ + Y V̄^T for Q̄ (Y = Q V)."""
    m, n = a.shape[-2:]
    if mode == "r":
        raise RuntimeError("linalg.qr: the derivative depends on Q, which mode='r' does not "
                           "compute; use mode='reduced' to differentiate through qr")
    if mode == "complete" and m > n:
        raise RuntimeError(f"linalg.qr: not differentiable with mode='complete' and more rows "
                           f"than columns (input of shape {a.shape})")
    q, r = unpack(out, qr_shapes(m, n, mode))
    gq, gr = unpack(g, qr_shapes(m, n, mode))
    if m >= n:
        return _qr_square_vjp(gq, gr, q, r)
    gv = gr[..., m:]
    y = q @ r[..., m:]
    gx = _qr_square_vjp(gq + y @ mT(gv), gr[..., :m], q, r[..., :m])
    return _cat_last(gx, q @ gv)


def _cat_last(x, y):
    """[x | y] along the last dim, for arrays and Tensors (through the cat Op)."""
    return CAT(x, y, dim=x.ndim - 1, bounds=(0, x.shape[-1], x.shape[-1] + y.shape[-1]))


QR = Op("linalg.qr", lapack("linalg.qr", _qr_forward, 1), _qr_vjp, saves="out", meta=True)


# --------------------------------------------------------------------- matrix_exp
def _expm(a):
    """exp(A) by scaling and squaring: the Taylor series of degree 18 of A / 2^s, with
    ||A / 2^s||_1 <= 1/2 (truncation below 1e-22 relative), squared s times."""
    if a.size == 0:
        return a.copy()
    xp = namespace(a)
    norm = float(xp.abs(a).sum(axis=-2).max())
    s = max(0, int(np.ceil(np.log2(norm / 0.5)))) if norm > 0.5 else 0
    x = a / 2.0 ** s
    eye = xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    result, term = eye.copy(), eye
    for k in range(1, 19):
        term = term @ x / k
        result = result + term
    for _ in range(s):
        result = result @ result
    return result.astype(a.dtype, copy=False)


def _matrix_exp_vjp(g, out, a):
    """d exp(A) in direction E is the upper right block of exp([[A, E], [0, A]])
    (Mathias 1996), so Ā is the upper right block of exp([[A^T, Ḡ], [0, A^T]])."""
    n = a.shape[-1]
    at = mT(a)
    widths = ((0, 0),) * (a.ndim - 2)
    block = (PAD(at, widths=widths + ((0, n), (0, n)), value=0.0)
             + PAD(g, widths=widths + ((0, n), (n, 0)), value=0.0)
             + PAD(at, widths=widths + ((n, 0), (n, 0)), value=0.0))
    return MATRIX_EXP(block)[..., :n, n:]


MATRIX_EXP = Op("linalg.matrix_exp", lapack("linalg.matrix_exp", _expm, 2), _matrix_exp_vjp,
                saves="x")
