"""In-place operations with PyTorch's rules.

An in-place change is allowed unless it would make backward wrong:
- a leaf that requires grad cannot be changed while grad mode is on;
- a view of a tensor in the graph cannot be changed while recording (clone it);
- every change bumps the tensor's version counter, so a node that saved the old
  value raises "modified by an inplace operation" at backward.
When recording, the change is the out-of-place op applied to a snapshot of the
old value, and the tensor takes over the result's history.
"""
from __future__ import annotations

import numpy as np

from ..arrays import namespace
from ..grad_mode import STATE
from ..graph import builtin_error, on_one_device
from ..tensor import Tensor, unwrap
from ._args import binary_operands, method
from .elementwise import ADD, DIV, MUL, SUB, add, clip, div, mul, scaled, sub


def modify_inplace(name: str, x: Tensor, others: tuple, recorded, direct) -> Tensor:
    """Change ``x``'s values in place.

    ``direct(array)`` writes into x's array when no graph is recorded;
    ``recorded(old)`` returns the new value as an out-of-place op on a snapshot
    ``old`` of x when one is.
    """
    recording = STATE.grad_enabled and (
        x.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)
    )
    if not recording:
        try:
            direct(x._data)
        except (TypeError, ValueError) as err:
            raise builtin_error(err)(
                f"{name}: {err} (tensor of shape {x.shape}, dtype {x.dtype})") from None
        x._bump_version()
        return x
    if x.requires_grad and x.grad_fn is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad is being used in an in-place operation; "
            f"wrap the change in `with no_grad():` (e.g. for an update) or clone() it first"
        )
    if x._base is not None:
        raise RuntimeError(
            f"{name}: in-place change of a view ({x.shape}) while recording a graph is not "
            f"supported; clone() the view or change the base tensor instead"
        )
    # The snapshot keeps x's memory order (a convolution's output is a view of (C, *S, N)
    # memory): the copy is then a straight one, and the gradients the recorded op's
    # rules compute from it keep the order the rest of backward works in.
    old = Tensor._make(x._data.copy(order="K"), x.requires_grad, x.grad_fn)
    result = recorded(old)
    if result.shape != x.shape:
        raise RuntimeError(f"{name}: the result's shape {result.shape} does not match the "
                           f"tensor's shape {x.shape}")
    if not np.can_cast(result.dtype, x.dtype, "same_kind"):
        raise TypeError(f"{name}: result dtype {result.dtype} can't be cast to {x.dtype}")
    x._data[...] = result._data
    x._bump_version()
    _move_retain_grad(x.grad_fn, result.grad_fn)
    x.grad_fn = result.grad_fn
    x.requires_grad = result.requires_grad
    return x


def _move_retain_grad(old_node, new_node) -> None:
    """``retain_grad`` follows the tensor to its new history (other hooks stay, as PyTorch)."""
    if old_node is None or old_node.hooks is None or new_node is None:
        return
    moving = [h for h in old_node.hooks if getattr(h, "_retains_grad", False)]
    if moving:
        old_node.hooks = [h for h in old_node.hooks if h not in moving] or None
        new_node.hooks = (new_node.hooks or []) + moving


def _arith_inplace(name: str, fn, op, ufunc: str):
    def inplace(x, y, **kwargs):
        _, y_op = binary_operands(x, scaled(y, kwargs.get("alpha", 1)))
        _, y_op = on_one_device(op, (x, y_op))  # (a 0-d CPU tensor joins x's device)
        raw = unwrap(y_op)

        def direct(data):
            shape = np.broadcast_shapes(data.shape, getattr(raw, "shape", ()))
            if shape != data.shape:
                raise ValueError(f"output with shape {data.shape} doesn't match the broadcast "
                                 f"shape {shape}")
            getattr(namespace(data), ufunc)(data, raw, out=data, casting="same_kind")

        return modify_inplace(name, x, (y_op,), recorded=lambda old: fn(old, y_op), direct=direct)

    inplace.__name__ = name
    inplace.__doc__ = f"In-place ``{fn.__name__}``; returns self."
    return inplace


add_ = method("add_", "__iadd__")(_arith_inplace("add_", add, ADD, "add"))
sub_ = method("sub_", "__isub__")(_arith_inplace("sub_", sub, SUB, "subtract"))
mul_ = method("mul_", "__imul__")(_arith_inplace("mul_", mul, MUL, "multiply"))
div_ = method("div_", "__itruediv__")(_arith_inplace("div_", div, DIV, "true_divide"))


@method()
def fill_(x: Tensor, value) -> Tensor:
    """Set every element to ``value`` in place."""
    x[...] = value
    return x


@method()
def zero_(x: Tensor) -> Tensor:
    """Set every element to 0 in place."""
    return fill_(x, 0)


@method()
def copy_(x: Tensor, src) -> Tensor:
    """Copy ``src`` (broadcast to x's shape) into x in place; the gradient flows to src.
    A tensor on another device is moved to x's first (differentiably), as PyTorch's."""
    if isinstance(src, Tensor):
        src = src.to(x.device)
    x[...] = src
    return x


@method("clamp_", "clip_")
def clamp_(x: Tensor, min=None, max=None) -> Tensor:
    """Clamp in place to [min, max]."""
    return modify_inplace(
        "clamp_", x, (min, max),
        recorded=lambda old: clip(old, min, max),
        direct=lambda data: namespace(data).clip(data, unwrap(min), unwrap(max), out=data),
    )


def inplace_form(fn, name: str | None = None):
    """Attach ``fn``'s in-place method ``Tensor.<fn>_`` (``x.exp_()``, ``x.lerp_(end, w)``):
    ``fn(x, *args)`` written into x with the rules above; returns x."""
    name = name or fn.__name__ + "_"

    def inplace(x, *args, **kwargs):
        others = args + tuple(kwargs.values())
        return modify_inplace(
            name, x, others,
            recorded=lambda old: fn(old, *args, **kwargs),
            direct=lambda data: namespace(data).copyto(
                data, unwrap(fn(Tensor._make(data), *args, **kwargs)), casting="same_kind"),
        )

    inplace.__name__ = name
    inplace.__doc__ = f"In-place ``{fn.__name__}``; returns self."
    return method(name)(inplace)
