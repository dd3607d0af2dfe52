"""Custom operations, PyTorch style.

    class Cube(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x

    y = Cube.apply(x)

``forward`` runs with recording off and may return one Tensor or a tuple.
``backward`` gets one gradient per output and returns one per forward argument
(None for arguments that need none).  Written with Tensor operations, it is
itself differentiable, so a Function works under ``create_graph=True``.
"""
from __future__ import annotations

import numpy as np

from .engine import apply
from .grad_mode import STATE, no_grad, set_grad_enabled
from .ops._registry import Op
from .tensor import Tensor, as_tensor


class FunctionCtx:
    """What ``forward`` hands to ``backward``: saved tensors and any attributes set on it."""

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()
        self._versions: tuple = ()
        self._cache = None

    def save_for_backward(self, *tensors) -> None:
        """Keep ``tensors`` for backward; an in-place change to one of them is an error there."""
        self._saved = tensors
        self._versions = tuple(t._version if isinstance(t, Tensor) else 0 for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        for t, v in zip(self._saved, self._versions):
            if isinstance(t, Tensor) and t._version != v:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: a tensor of shape {t.shape} saved by a custom "
                    f"Function is at version {t._version}; expected version {v} instead"
                )
        return self._saved


class Function:
    """Base class of custom differentiable operations; see the module docstring."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        with no_grad():
            result = cls.forward(ctx, *args)
        multiple = isinstance(result, (tuple, list))
        outputs = [as_tensor(o) for o in (result if multiple else (result,))]
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if not (STATE.grad_enabled and any(ctx.needs_input_grad)):
            return tuple(outputs) if multiple else outputs[0]
        shapes = [o.shape for o in outputs]
        packed = outputs[0].data if not multiple else np.concatenate(
            [o.data.reshape(-1) for o in outputs])
        op = Op(cls.__name__, lambda *arrays: packed,
                _backward_rule(cls, ctx, positions, shapes, multiple), saves="inputs",
                variadic=True)
        out = apply(op, tuple(args[i] for i in positions))
        if not multiple:
            return out
        pieces, start = [], 0
        for shape in shapes:
            n = int(np.prod(shape, dtype=np.int64))
            pieces.append(out[start:start + n].reshape(shape))
            start += n
        return tuple(pieces)


def _backward_rule(cls, ctx: FunctionCtx, positions: list, shapes: list, multiple: bool):
    """The op rule: run ``cls.backward`` once per gradient and hand out its results."""

    def rule(i, g, out, *inputs):
        if ctx._cache is None or ctx._cache[0] is not g:
            raw = not isinstance(g, Tensor)
            gt = Tensor._make(g) if raw else g
            if multiple:
                grads, start = [], 0
                for shape in shapes:
                    n = int(np.prod(shape, dtype=np.int64))
                    grads.append(gt[start:start + n].reshape(shape))
                    start += n
            else:
                grads = [gt]
            with set_grad_enabled(not raw):
                result = cls.backward(ctx, *grads)
            if not isinstance(result, (tuple, list)):
                result = (result,)
            ctx._cache = (g, result, raw)
        _, result, raw = ctx._cache
        position = positions[i]
        gi = result[position] if position < len(result) else None
        if gi is None:
            gi = np.zeros(inputs[i].shape, dtype=_dtype(g))
            return gi if raw else Tensor._make(gi)
        gi = as_tensor(gi)
        return gi.data if raw else gi

    return rule


def _dtype(g):
    return g.data.dtype if isinstance(g, Tensor) else g.dtype
