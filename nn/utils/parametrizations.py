"""Ready-made parametrizations, as ``torch.nn.utils.parametrizations``: ``weight_norm``,
``spectral_norm`` and ``orthogonal`` (see ``parametrize`` for the mechanism).

Orthogonal maps, for a square or tall X (n x k, n >= k; a wide one is transposed):

- "matrix_exp": Q = exp(A)[:, :k], A = L - L^T skew-symmetric, L = tril(X) padded to
  n x n.  exp is scaling and squaring of a degree-18 Taylor polynomial (error below
  1e-16 once the scaled norm is <= 1/2), composed of matrix products, so it is
  differentiable to any order;
- "householder": Q = H_1 ... H_k I[:, :k] times the signs on X's diagonal, H_i the
  reflection I - tau_i v_i v_i^T with v_i = e_i + (column i of X below the diagonal)
  and tau_i = 2 / ||v_i||^2;
- "cayley" needs a linear solve, which graphgrad's autograd does not have yet: it
  raises NotImplementedError naming what is missing.

With ``use_trivialization`` (the default) the result is base @ Q, base an orthogonal
buffer set from the initial weight (or from any matrix assigned to the weight), so
the weight starts unchanged and Q starts at the identity.
"""
from __future__ import annotations

import math

import numpy as np

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace, to_host
from graphgrad.autograd.random import generator

from ..functional import normalize
from ..module import Module
from . import parametrize
from .spectral_norm import default_dim, normalize_into, random_unit, weight_matrix
from .weight_norm import norm_except_dim, weight_norm_from

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


# ---------------------------------------------------------------- weight norm
class _WeightNorm(Module):
    """w = g v / ||v|| from (g, v) = (original0, original1)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_norm_from(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple:
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Parametrize ``name`` as g v / ||v|| (norm over every dim but ``dim``; over all of v
    for dim = None): ``parametrizations.<name>.original0`` holds g, ``original1`` v.  A
    state dict of the older ``nn.utils.weight_norm`` (``<name>_g``, ``<name>_v``) loads
    into it."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def load_old_keys(state_dict, prefix, *unused) -> None:
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(load_old_keys)
    return module


# -------------------------------------------------------------- spectral norm
class _SpectralNorm(Module):
    """W / sigma(W) with power-iteration buffers ``_u`` (rows) and ``_v`` (columns); a
    1-D weight is just normalised."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if not -ndim <= dim < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, "
                             f"{ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim % ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            rows, cols = weight_matrix(weight, self.dim).shape
            self.register_buffer("_u", random_unit(rows, weight, eps))
            self.register_buffer("_v", random_unit(cols, weight, eps))
            self._power_method(weight_matrix(weight, self.dim), 15)

    def _power_method(self, matrix: Tensor, iterations: int) -> None:
        """u <- normalize(W v), v <- normalize(W^T u), in place, not recorded."""
        for _ in range(iterations):
            normalize_into(self._u, matrix._data @ self._v._data, self.eps)
            normalize_into(self._v, matrix._data.T @ self._u._data, self.eps)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        matrix = weight_matrix(weight, self.dim)
        if self.training:
            self._power_method(matrix, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()  # constants: later steps change the buffers
        return weight / (u * (matrix @ v)).sum()

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    """Parametrize ``name`` as W / sigma(W), sigma the spectral norm estimated by power
    iteration (``n_power_iterations`` steps per training access, none in evaluation
    mode; 15 at registration).  ``dim``: the output dim (default 0, 1 for transposed
    convolutions).  Buffers ``parametrizations.<name>.0._u`` and ``._v`` hold the
    iteration's vectors."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module._get_name()}' has no parameter or buffer with name "
                         f"'{name}'")
    dim = default_dim(module) if dim is None else dim
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


# ---------------------------------------------------------------- orthogonal
_MAPS = ("matrix_exp", "cayley", "householder")


def _matrix_exp(a: Tensor) -> Tensor:
    """exp of a batch of square matrices by scaling and squaring a Taylor polynomial."""
    norm = float(abs(a._data).sum(-2).max()) if a.numel() else 0.0  # the 1-norm
    squarings = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0
    b = a / 2.0**squarings
    eye = ag.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    result = eye
    for j in range(18, 0, -1):  # Horner: I + B (I + B/2 (I + B/3 (...)))
        result = eye + (b @ result) / j
    for _ in range(squarings):
        result = result @ result
    return result


def _householder_product(v: Tensor, tau: Tensor) -> Tensor:
    """H_1 ... H_k I[:, :k] for reflections H_i = I - tau_i v_i v_i^T, v_i column i of
    the (..., n, k) ``v``; applied right to left to the k columns."""
    n, k = v.shape[-2:]
    q = ag.eye(n, k, dtype=v.dtype, device=v.device) + ag.zeros(v.shape, dtype=v.dtype,
                                                                device=v.device)
    for i in reversed(range(k)):
        vi = v[..., :, i:i + 1]  # (..., n, 1)
        q = q - (tau[..., i:i + 1, None] * vi) @ (vi.mT @ q)
    return q


def _orthonormalize(matrix: np.ndarray) -> np.ndarray:
    """The Q of a QR decomposition, columns signed so that R's diagonal is positive."""
    q, r = np.linalg.qr(matrix)
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _is_orthogonal(q: np.ndarray) -> bool:
    n, k = q.shape[-2:]
    eps = 10.0 * n * np.finfo(q.dtype).eps
    return np.allclose(q.swapaxes(-1, -2) @ q, np.eye(k), atol=eps, rtol=1e-5)


class _Orthogonal(Module):
    """An orthogonal (or semi-orthogonal) matrix from an unconstrained one; see the module
    docstring."""

    def __init__(self, weight: Tensor, orthogonal_map: str, *,
                 use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2:]
        transposed = n < k
        if transposed:
            x, n, k = x.mT, k, n
        if self.orthogonal_map == "matrix_exp":
            lower = ag.tril(x)
            if n != k:
                lower = ag.cat([lower, ag.zeros((*x.shape[:-2], n, n - k), dtype=x.dtype,
                                                device=x.device)], -1)
            q = _matrix_exp(lower - lower.mT)[..., :k]
        else:
            below = ag.tril(x, -1)
            tau = 2.0 / (1.0 + (below * below).sum(-2))
            q = _householder_product(below + ag.eye(n, k, dtype=x.dtype, device=x.device), tau)
            # X's diagonal holds the signs; truncated to integers and not differentiated
            xp = namespace(x._data)
            q = q * xp.trunc(xp.diagonal(x._data, axis1=-2, axis2=-1))[..., None, :]
        if self._buffers.get("base") is not None:
            q = self.base @ q
        return q.mT if transposed else q

    def right_inverse(self, q: Tensor) -> Tensor:
        if q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {q.shape}.")
        n, k = q.shape[-2:]
        transpose = n < k
        # Worked out on the host (once per assignment; CuPy's QR has no raw mode), the
        # results copied back to q's device.
        on_device = namespace(q._data).asarray
        array = to_host(q._data)
        array = array.swapaxes(-1, -2) if transpose else array
        n, k = array.shape[-2:]
        if "base" not in self._buffers:
            if self.orthogonal_map != "householder":
                raise NotImplementedError("It is not possible to assign to the matrix "
                                          "exponential or the Cayley parametrizations when "
                                          "use_trivialization=False.")
            return Tensor._make(on_device(_householder_inverse(array, transpose)))
        if n == k:
            base = array.copy() if _is_orthogonal(array) else _orthonormalize(array)
        else:  # complete the k columns into an n x n orthogonal matrix
            extra = generator().normal(size=(*array.shape[:-2], n, n - k))
            base = _orthonormalize(np.concatenate([array, extra.astype(array.dtype)], -1))
        self.base = Tensor._make(on_device(base.astype(q.dtype)))
        neg_eye = np.zeros(q.shape, dtype=q.dtype)
        neg_eye[..., range(min(q.shape[-2:])), range(min(q.shape[-2:]))] = -1.0
        return Tensor._make(on_device(neg_eye))


def _householder_inverse(array: np.ndarray, transpose: bool) -> np.ndarray:
    """An X that the householder map sends to ``array`` (when it is orthogonal): LAPACK's
    reflectors below the diagonal, the signs of R on it (flipped where no reflection
    was used, which the map's tau = 2 turns into a sign change)."""
    h, tau = np.linalg.qr(array, mode="raw")
    x = h.swapaxes(-1, -2).copy()
    diagonal = np.sign(np.diagonal(x, axis1=-2, axis2=-1)).copy()
    diagonal[tau == 0] *= -1
    k = diagonal.shape[-1]
    x[..., range(k), range(k)] = diagonal
    return x.swapaxes(-1, -2) if transpose else x


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Parametrize the matrix (or batch of matrices) ``name`` to be orthogonal: Q^T Q = I
    for a tall or square one, Q Q^T = I for a wide one.  ``orthogonal_map``: "matrix_exp"
    (the default for square matrices), "householder" (the default otherwise) or
    "cayley" (not available: it needs a linear solve)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module._get_name()}' has no parameter or buffer with name "
                         f"'{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    if orthogonal_map == "cayley":
        raise NotImplementedError("orthogonal: the Cayley map (I + A/2)(I - A/2)^-1 needs a "
                                  "differentiable linear solve, which graphgrad's autograd "
                                  "does not have yet; use 'matrix_exp' or 'householder'")
    parametrize.register_parametrization(
        module, name, _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization),
        unsafe=True)
    return module
