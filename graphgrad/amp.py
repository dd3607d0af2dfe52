"""``graphgrad.amp``, as ``torch.amp``: automatic mixed precision, which graphgrad does not do.

``autocast(device_type, dtype=None, enabled=True, cache_enabled=None)`` is a context
manager and decorator that changes nothing.  PyTorch's autocast runs chosen ops in a
lower precision (float16 on CUDA; bfloat16 by default on the CPU) to save time and
memory on hardware built for it.  graphgrad computes every op in its inputs' own dtype:
on the CPU the block runs in float32 exactly as without autocast (graphgrad has no
bfloat16), and for any other device type, which graphgrad lacks, autocast warns and
disables itself, as PyTorch's does when CUDA is absent.

``GradScaler(device="cuda", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
growth_interval=2000, enabled=True)`` scales a loss before backward so that small float16
gradients do not underflow, then unscales the gradients before the optimizer step.

- For ``"cuda"`` (the default) or any other device graphgrad lacks, it warns and
  disables itself, as PyTorch's does when CUDA is absent.  A disabled scaler (also
  ``enabled=False``) is a pass-through: ``scale(x)`` returns ``x`` itself, ``step(opt)``
  calls ``opt.step()``, ``unscale_``, ``update`` and ``load_state_dict`` do nothing,
  ``get_scale()`` is 1.0 and ``state_dict()`` is ``{}``.
- For ``"cpu"`` it works as PyTorch's CPU scaler, step for step: ``scale`` multiplies by
  the scale ``s`` (a float32 value); ``unscale_(opt)`` multiplies every gradient of
  ``opt`` by ``1/s`` and records whether any is inf or NaN; ``step(opt)`` unscales if
  not yet done and calls ``opt.step()`` only when all gradients are finite; ``update()``
  multiplies ``s`` by ``backoff_factor`` after a skipped step, and by ``growth_factor``
  after ``growth_interval`` consecutive good steps.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable

import numpy as np

from graphgrad.autograd import Tensor
from graphgrad.autograd.devices import device as _device


class autocast:  # noqa: N801  (torch's spelling)
    """``with autocast("cpu"):`` / ``@autocast("cpu")``: a region where PyTorch would use
    lower precision; graphgrad runs it unchanged (see the module docstring).

    ``device_type`` must name a device type (``"cpu"``, ``"cuda"``, ...); for anything
    but ``"cpu"`` an enabled autocast warns that graphgrad lacks that device and
    disables itself.  ``dtype`` is stored (``fast_dtype``) and never used.
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise TypeError(f"autocast: expected a device type string such as 'cpu' or 'cuda', "
                            f"got {type(device_type).__name__}")
        _device(device_type)  # raises for an unknown device type
        self.device = device_type
        self.fast_dtype = dtype
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        if self._enabled and device_type != "cpu":
            warnings.warn(f"graphgrad.amp.autocast: device_type {device_type!r} was asked for, "
                          "but graphgrad computes with NumPy on the CPU only; autocast is "
                          "disabled", UserWarning, stacklevel=2)
            self._enabled = False

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def __call__(self, func):
        """Used as a decorator: ``func`` runs inside this (inert) autocast region."""

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return wrapper


class GradScaler:
    """Loss scaling for mixed precision: a pass-through unless ``device="cpu"`` (see the
    module docstring for both behaviours)."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled and device != "cpu":
            warnings.warn(f"graphgrad.amp.GradScaler: gradient scaling on device {device!r} was "
                          "asked for, but graphgrad computes with NumPy on the CPU only; the "
                          "scaler is disabled (scale() returns its input, step() calls "
                          "optimizer.step())", UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError(f"GradScaler: growth_factor must be > 1.0, got {growth_factor}")
            if backoff_factor >= 1.0:
                raise ValueError(f"GradScaler: backoff_factor must be < 1.0, got {backoff_factor}")
        self._init_scale = init_scale
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._init_growth_tracker = 0
        # As PyTorch: the scale and the count of good steps start at the first scale() call.
        self._scale: np.float32 | None = None
        self._growth_tracker = 0
        # id(optimizer) -> {"stage": "ready" | "unscaled" | "stepped", "found_inf": bool | None}
        self._optimizer_states: dict[int, dict] = {}

    # ------------------------------------------------------------ scaling
    def scale(self, outputs):
        """``outputs * s`` for a Tensor, or a list/tuple/iterable of them (same container
        type); ``outputs`` itself when disabled.  The product keeps each output's dtype."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = np.float32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker
        factor = float(self._scale)  # a Python float: the product keeps the output's dtype

        def apply(value):
            if isinstance(value, Tensor):
                return value * factor
            if isinstance(value, (list, tuple)):
                return type(value)(apply(v) for v in value)
            if isinstance(value, Iterable):
                return map(apply, value)
            raise ValueError(f"GradScaler.scale: outputs must be a Tensor or an iterable of "
                             f"Tensors, got {type(value).__name__}")

        return apply(outputs)

    def _check_started(self, where: str) -> None:
        if self._scale is None:
            raise RuntimeError(f"GradScaler.{where}: called before any scale(); call "
                               "scaler.scale(loss).backward() earlier in the iteration")

    def unscale_(self, optimizer) -> None:
        """Multiplies the gradients of ``optimizer``'s parameters by ``1/s`` in place and
        records whether any is inf or NaN.  At most once per optimizer between updates,
        and before ``step``.  Float16 gradients are refused, as PyTorch refuses them."""
        if not self._enabled:
            return
        self._check_started("unscale_")
        state = self._optimizer_states.setdefault(id(optimizer), {"stage": "ready"})
        if state["stage"] == "unscaled":
            raise RuntimeError("GradScaler.unscale_: already called for this optimizer since "
                               "the last update()")
        if state["stage"] == "stepped":
            raise RuntimeError("GradScaler.unscale_: called after step() for this optimizer; "
                               "call it before step()")
        inverse = float(np.float32(1.0 / np.float64(self._scale)))
        found_inf = None  # stays None when no parameter has a gradient: nothing was checked
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad._data
                if grad.dtype == np.float16:
                    raise ValueError("GradScaler.unscale_: refusing to unscale float16 "
                                     "gradients; keep the parameters in float32")
                found_inf = bool(found_inf) or not bool(np.isfinite(grad).all())
                grad *= inverse
        state.update(stage="unscaled", found_inf=found_inf)

    def step(self, optimizer, *args, **kwargs):
        """Unscales ``optimizer``'s gradients (unless ``unscale_`` did) and calls
        ``optimizer.step(*args, **kwargs)`` when they are all finite, returning what it
        returns (None when the step is skipped).  Disabled: just ``optimizer.step``."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("GradScaler.step: a closure is not supported while the scaler "
                               "is enabled (as in PyTorch)")
        self._check_started("step")
        state = self._optimizer_states.setdefault(id(optimizer), {"stage": "ready"})
        if state["stage"] == "stepped":
            raise RuntimeError("GradScaler.step: already called for this optimizer since the "
                               "last update()")
        if state["stage"] == "ready":
            self.unscale_(optimizer)
        if state["found_inf"] is None:
            raise RuntimeError("GradScaler.step: no inf checks were recorded for this optimizer: "
                               "none of its parameters has a gradient")
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = "stepped"
        return result

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Ends the iteration: sets ``s = new_scale`` when given, otherwise backs off
        (``s *= backoff_factor``, count reset) if any optimizer met an inf/NaN gradient,
        or counts a good step and grows ``s *= growth_factor`` (count reset) when the
        count reaches ``growth_interval`` and the grown scale is finite."""
        if not self._enabled:
            return
        self._check_started("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                if new_scale.numel() != 1 or new_scale.requires_grad:
                    raise ValueError("GradScaler.update: new_scale must be a float or a "
                                     "one-element Tensor that does not require grad")
                new_scale = new_scale.item()
            self._scale = np.float32(new_scale)
        else:
            checked = [s for s in self._optimizer_states.values()
                       if s.get("found_inf") is not None]
            if not checked:
                raise RuntimeError("GradScaler.update: no inf checks were recorded; call "
                                   "scaler.step(optimizer) (or unscale_) before update()")
            if any(s["found_inf"] for s in checked):
                self._scale = np.float32(np.float64(self._scale) * self._backoff_factor)
                self._growth_tracker = 0
            elif self._growth_tracker + 1 == self._growth_interval:
                grown = np.float32(np.float64(self._scale) * self._growth_factor)
                if np.isfinite(grown):
                    self._scale = grown
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
        self._optimizer_states = {}

    # ------------------------------------------------------------ settings and state
    def is_enabled(self) -> bool:
        """Whether the scaler scales (False after it disabled itself for a missing device)."""
        return self._enabled

    def get_scale(self) -> float:
        """The current scale ``s`` (``init_scale`` before the first ``scale``); 1.0 when
        disabled."""
        if not self._enabled:
            return 1.0
        return float(self._init_scale if self._scale is None else self._scale)

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def state_dict(self) -> dict:
        """PyTorch's keys (``scale``, ``growth_factor``, ``backoff_factor``,
        ``growth_interval``, ``_growth_tracker``); ``{}`` when disabled."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores a ``state_dict()``; does nothing when disabled.  An empty dict (from a
        disabled scaler) is refused by an enabled one, as PyTorch refuses it."""
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError("GradScaler.load_state_dict: the state dict is empty, probably "
                               "saved from a disabled GradScaler")
        self._init_scale = state_dict["scale"]
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._scale is not None:
            self._scale = np.float32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker
