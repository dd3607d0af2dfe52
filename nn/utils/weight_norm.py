"""Weight normalisation through a forward pre-hook: the older ``torch.nn.utils.weight_norm``
(deprecated by PyTorch in favour of ``parametrizations.weight_norm``, still common in
scripts), and the maths both forms share.

w = g v / ||v||, the norm taken over every dim but ``dim`` (over all of v for
dim = None or -1, as PyTorch): g carries the magnitude of each slice along ``dim``,
v its direction.
"""
from __future__ import annotations

import warnings

import graphgrad.autograd as ag
from graphgrad.autograd import Tensor

from .._hooks import remove_weight_hook
from ..module import Module
from ..parameter import Parameter

__all__ = ["weight_norm", "remove_weight_norm", "norm_except_dim", "weight_norm_from"]


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of each slice of ``v`` along ``dim`` (the other dims reduced, kept
    as size 1), or of all of v (a 0-d result) for dim = -1, as PyTorch's."""
    if pow != 2:
        raise ValueError(f"norm_except_dim: only pow = 2 is supported, got {pow}")
    if dim == -1:
        return ag.sqrt((v * v).sum())
    dim %= v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    return ag.sqrt((v * v).sum(others, keepdim=True))


def weight_norm_from(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """w = v g / ||v|| (norm as ``norm_except_dim``)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and
    ``<name>_v`` before every call."""

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        return weight_norm_from(getattr(module, self.name + "_v"),
                                getattr(module, self.name + "_g"), self.dim)

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Replace the parameter ``name`` by ``name_g`` (the norms, shape 1 except along
    ``dim``) and ``name_v`` (the direction), recombined before every forward call.
    Deprecated by PyTorch: ``nn.utils.parametrizations.weight_norm`` loads these
    state dicts too."""
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                               f"{name}")
    fn = WeightNorm(name, dim)
    weight = getattr(module, name)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, fn.compute_weight(module))
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``weight_norm``: ``name`` is a plain parameter again, holding g v / ||v||."""
    return remove_weight_hook(module, WeightNorm, name, "weight_norm")
