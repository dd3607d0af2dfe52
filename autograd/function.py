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
``backward`` gets one gradient per output (zeros for outputs that got none, and
for integer outputs, which never require grad) and returns one per forward
argument (None for arguments that need none).  Written with Tensor operations,
it is itself differentiable, so a Function works under ``create_graph=True``;
a saved output is handed back connected to the graph for that, as in PyTorch.

How it is recorded: the engine's nodes have one output, so a Function is one
node whose output is its outputs flattened and concatenated; each output the
user sees is an ``unpack`` node taking its own slice of that (a copy, not a
view, so outputs are independent tensors).
"""
from __future__ import annotations

import weakref

import numpy as np

from .arrays import namespace
from .grad_mode import STATE, no_grad, set_grad_enabled
from .graph import apply
from .ops._registry import Op
from .ops.padding import PAD
from .tensor import Tensor, tensor_arg, unwrap


class FunctionCtx:
    """What ``forward`` hands to ``backward``: saved tensors and any attributes set on it."""

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()
        self._versions: tuple = ()
        self._outputs: list = []  # (slot in _saved, weakref to the returned output, version)
        self._cache = None

    def save_for_backward(self, *tensors) -> None:
        """Keep ``tensors`` for backward; an in-place change to one of them is an error there."""
        self._saved = tensors
        self._versions = tuple(t._version if isinstance(t, Tensor) else 0 for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        for t, v in zip(self._saved, self._versions, strict=False):
            if isinstance(t, Tensor) and t._version != v:
                _raise_modified(t, v)
        for _, ref, v in self._outputs:
            t = ref()
            if t is not None and t._version != v:
                _raise_modified(t, v)
        return self._saved


def _raise_modified(t: Tensor, version: int) -> None:
    raise RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: a tensor of shape {t.shape} saved by a custom Function is at "
        f"version {t._version}; expected version {version} instead"
    )


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
        outputs = [tensor_arg(o) for o in (result if multiple else (result,))]
        if not (STATE.grad_enabled and any(ctx.needs_input_grad)):
            return tuple(outputs) if multiple else outputs[0]

        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        inputs = tuple(args[i] for i in positions)
        arrays = [x._data for x in inputs]
        differentiable = [o.dtype.kind == "f" for o in outputs]
        if not any(differentiable):
            return tuple(outputs) if multiple else outputs[0]
        floats = [o for o, d in zip(outputs, differentiable, strict=False) if d]
        layout = _Layout(floats)
        packed = layout.pack(floats)
        if any(namespace(a).may_share_memory(packed, a) for a in arrays):
            packed = packed.copy()  # an output that views an input must not alias it
        # Saved outputs (by identity, not also inputs) come back from the graph in backward.
        saved_outputs = {
            k: j for k, t in enumerate(ctx._saved) for j, o in enumerate(floats)
            if t is o and not any(t is x for x in inputs)
        }
        rule = _backward_rule(cls, ctx, len(args), positions, inputs, outputs, differentiable,
                              layout, saved_outputs)
        box = [packed]  # handed over once: the graph must not keep a second copy alive
        op = Op(cls.__name__, lambda *xs: box.pop(), rule,
                saves="out" if saved_outputs else "", variadic=True)
        out = apply(op, inputs)
        if multiple or layout.needs_unpack:
            pieces = iter(layout.unpack_all(out))
            returned = [next(pieces) if d else o
                        for o, d in zip(outputs, differentiable, strict=True)]
        else:
            returned = [out]
        ret_floats = [r for r, d in zip(returned, differentiable, strict=False) if d]
        ctx._outputs = [(k, weakref.ref(ret_floats[j]), ret_floats[j]._version)
                        for k, j in saved_outputs.items()]
        return tuple(returned) if multiple else returned[0]


class _Layout:
    """Where each floating output lives in the packed (flat, common dtype) array."""

    def __init__(self, floats: list) -> None:
        self.shapes = [o.shape for o in floats]
        self.dtypes = [o.dtype for o in floats]
        self.dtype = np.result_type(*self.dtypes)
        sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.needs_unpack = len(floats) > 1 or self.dtypes[0] != self.dtype

    def pack(self, floats: list) -> np.ndarray:
        if not self.needs_unpack:
            return floats[0]._data
        xp = namespace(floats[0]._data)
        return xp.concatenate([o._data.reshape(-1).astype(self.dtype) for o in floats])

    def unpack_all(self, packed) -> list:
        """The outputs as slices of ``packed`` (a Tensor, or an array in first-order backward)."""
        if not self.needs_unpack:
            return [packed]
        return [_unpack(packed, self, k) for k in range(len(self.shapes))]

    def grads(self, g) -> list:
        """Split the packed gradient ``g`` (array or Tensor) into one per output."""
        if not self.needs_unpack:
            return [g]
        out = []
        for k, (shape, dtype) in enumerate(zip(self.shapes, self.dtypes, strict=False)):
            piece = g[self.bounds[k]:self.bounds[k + 1]].reshape(shape)
            out.append(piece.astype(dtype) if piece.dtype != dtype else piece)
        return out


def _unpack(packed, layout: _Layout, k: int):
    return UNPACK(packed, start=layout.bounds[k], stop=layout.bounds[k + 1],
                  shape=layout.shapes[k], dtype=layout.dtypes[k])


# One output of a Function: elements start..stop of the packed array p (a copy, not a
# view: ``astype`` copies), as ``shape`` and ``dtype``.  The gradient goes back to those
# positions of p, in p's dtype, zero elsewhere.
UNPACK = Op(
    "unpack", lambda p, start, stop, shape, dtype: p[start:stop].reshape(shape).astype(dtype),
    lambda g, out, p, start, stop, shape, dtype: PAD(
        g.reshape(-1).astype(p.dtype), widths=((start, p.shape[0] - stop),), value=0.0),
    meta=True,
)


def _backward_rule(cls, ctx: FunctionCtx, n_args: int, positions: list, inputs: tuple,
                   outputs: list, differentiable: list, layout: _Layout, saved_outputs: dict):
    """The op rule: run ``cls.backward`` once per gradient and hand out its results.

    It keeps shapes and dtypes only, not the inputs and outputs themselves, so the
    graph holds no more memory than what ``save_for_backward`` asked for.
    """
    input_meta = [(x.shape, x.dtype) for x in inputs]
    needed = {i for i, x in enumerate(inputs) if x.requires_grad}
    fixed_grads = [None if d else (o.shape, o.dtype)
                   for o, d in zip(outputs, differentiable, strict=True)]

    def run_backward(g, out):
        raw = not isinstance(g, Tensor)
        xp = namespace(unwrap(g))
        float_grads = iter(layout.grads(g))
        grads = []
        for meta in fixed_grads:
            if meta is None:
                piece = next(float_grads)
                grads.append(Tensor._make(piece) if raw else piece)
            else:  # integer outputs get zeros, as PyTorch's materialized gradients
                grads.append(Tensor._make(xp.zeros(meta[0], dtype=meta[1])))
        saved, versions = ctx._saved, ctx._versions
        if saved_outputs and not raw:  # hand backward outputs connected to the graph
            connected = layout.unpack_all(out)
            ctx._saved = tuple(connected[saved_outputs[k]] if k in saved_outputs else t
                               for k, t in enumerate(saved))
            ctx._versions = tuple(t._version if isinstance(t, Tensor) else 0 for t in ctx._saved)
        try:
            with set_grad_enabled(not raw):
                result = cls.backward(ctx, *grads)
        finally:
            ctx._saved, ctx._versions = saved, versions
        result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        if len(result) < n_args or any(r is not None for r in result[n_args:]):
            raise RuntimeError(
                f"{cls.__name__}.backward returned {len(result)} gradients; expected one per "
                f"forward argument ({n_args}), None for those that need none"
            )
        return result

    def rule(i, g, out, unused):
        if ctx._cache is None or ctx._cache[0] is not g:
            ctx._cache = (g, run_backward(g, out), set())
        _, result, served = ctx._cache
        served.add(i)
        if len(served) == len(needed):
            ctx._cache = None  # every input served: do not keep the gradients alive
        raw = not isinstance(g, Tensor)
        position = positions[i]
        gi = result[position]
        shape, dtype = input_meta[i]
        if gi is None:
            gi = namespace(unwrap(g)).zeros(shape, dtype=dtype)
            return gi if raw else Tensor._make(gi)
        gi = tensor_arg(gi)
        if gi.dtype != dtype and gi.dtype.kind == "f":
            gi = gi.astype(dtype)
        if not raw:
            return gi
        data = gi._data
        xp = namespace(data)
        if any(isinstance(t, Tensor) and xp.may_share_memory(data, t._data) for t in ctx._saved):
            data = data.copy()  # a saved tensor handed back as a gradient must not become a .grad
        return data

    return rule


class GradientCallback(Function):
    """The identity on its tensors, whose backward hands their gradients to
    ``on_grads(grads)`` and passes on what it returns: how a Module's backward hooks
    (nn/_hooks.py) see, and may replace, the gradients of one call."""

    @staticmethod
    def forward(ctx, on_grads, *tensors):
        ctx.on_grads = on_grads
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.on_grads(grads))
