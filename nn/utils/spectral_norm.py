"""Spectral normalisation through a forward pre-hook: the older
``torch.nn.utils.spectral_norm`` (PyTorch suggests ``parametrizations.spectral_norm``;
both are in use), and the power iteration both forms share.

W_SN = W / sigma(W), sigma the largest singular value of W seen as a matrix
(``dim`` first, the other dims flattened), estimated by power iteration with
persistent vectors u and v: each training call runs ``n_power_iterations`` steps
v <- normalize(W^T u), u <- normalize(W v) without recording, then
sigma = u^T W v, through which the gradient flows (u and v are constants).
"""
from __future__ import annotations

import numpy as np

from graphgrad.autograd import Tensor, no_grad
from graphgrad.autograd.arrays import namespace
from graphgrad.autograd.random import generator

from .._hooks import remove_weight_hook
from ..module import Module
from ..modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from ..parameter import Parameter

__all__ = ["spectral_norm", "remove_spectral_norm", "weight_matrix", "normalize_into",
           "default_dim"]


def default_dim(module: Module) -> int:
    """The output dim of a weight: 1 for transposed convolutions, else 0."""
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0


def weight_matrix(weight: Tensor, dim: int) -> Tensor:
    """``weight`` as a matrix with ``dim`` as its rows and the other dims flattened."""
    if dim != 0:
        weight = weight.permute(dim, *[d for d in range(weight.ndim) if d != dim])
    return weight.reshape(weight.shape[0], -1)


def normalize_into(target: Tensor, values: np.ndarray, eps: float) -> None:
    """target <- values / max(||values||, eps), in place (a buffer keeps its identity)."""
    with no_grad():
        target.copy_(values / max(float(namespace(values).linalg.norm(values)), eps))


def random_unit(size: int, weight: Tensor, eps: float) -> Tensor:
    """A random unit vector of ``size`` with ``weight``'s dtype, drawn on its device."""
    values = generator(weight.device).standard_normal(size)
    norm = float(namespace(values).linalg.norm(values))
    return Tensor._make((values / max(norm, eps)).astype(weight.dtype))


class SpectralNorm:
    """The forward pre-hook that sets ``module.<name>`` to W / sigma(W) before every call,
    W = ``<name>_orig``, with buffers ``<name>_u`` and ``<name>_v``."""

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.dim = name, dim
        self.n_power_iterations, self.eps = n_power_iterations, eps

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = weight_matrix(weight, self.dim)
        if do_power_iteration:
            for _ in range(self.n_power_iterations):
                normalize_into(v, matrix._data.T @ u._data, self.eps)
                normalize_into(u, matrix._data @ v._data, self.eps)
            u, v = u.clone(), v.clone()  # later steps change the buffers in place
        sigma = (u * (matrix @ v)).sum()
        return weight / sigma

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module, module.training))

    def remove(self, module: Module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    """Rescale the parameter ``name`` by its spectral norm before every forward call (see
    the module docstring).  The parameter moves to ``<name>_orig``; buffers ``<name>_u``
    and ``<name>_v`` (random unit vectors at first) hold the power iteration's state.
    In evaluation mode no iteration runs: the stored u and v give sigma."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter "
                               f"{name}")
    fn = SpectralNorm(name, n_power_iterations, default_dim(module) if dim is None else dim,
                      eps)
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None or "
                         f"absent in {module._get_name()}")
    rows, cols = weight_matrix(weight, fn.dim).shape
    u, v = random_unit(rows, weight, eps), random_unit(cols, weight, eps)
    delattr(module, name)
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``spectral_norm``: ``name`` is a plain parameter holding W / sigma(W)."""
    return remove_weight_hook(module, SpectralNorm, name, "spectral_norm")
