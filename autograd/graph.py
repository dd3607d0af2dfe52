"""The recorded graph: ``apply`` runs an op and records a ``Node``; ``topological_order``
lists the nodes in the order backward visits them.

``apply(op, inputs, params)`` runs the op's NumPy forward on the inputs' arrays and,
when grad mode is on and some input requires grad, records a Node: which op ran,
where each input's gradient goes, what the rules will read.  The output Tensor
points to it (``out.grad_fn``), and the Node to its inputs' Nodes (``node.next``),
so the graph is the chain of references from the output back to the leaves.
"""
from __future__ import annotations

import traceback
from typing import NamedTuple

import numpy as np

from .anomaly import TRACES
from .arrays import is_array, namespace
from .grad_mode import STATE
from .tensor import Tensor, _init

EMPTY: dict = {}  # shared "no parameters"; never mutated
_new = object.__new__


class Node:
    """One recorded operation.

    ``next[i]`` says where the gradient of input i goes: the input's own Node, the
    input itself when it is a leaf that requires grad, or None.  ``shapes[i]`` is
    input i's shape (None for a Python number); its dtype is that of what ``next[i]``
    holds (``input_meta``); ``out_shape`` and ``out_dtype`` describe the output.
    ``saved`` holds the inputs the rules read (others are None) and ``out`` the output
    array when the rules reuse it; ``versions`` are the saved tensors' version
    counters at save time, checked before the rules run (None: all were 0), and
    ``out_vc`` the output's counter.  ``released``: backward freed what was saved.
    ``hooks``: functions called with the output's gradient.  ``scope`` is the Module
    call that was running when the node was recorded (where it was recorded, under
    ``detect_anomaly``, is in ``anomaly.TRACES``).
    """

    __slots__ = (
        "op", "next", "saved", "versions", "out", "out_vc", "params", "shapes", "out_shape",
        "out_dtype", "hooks", "released", "scope", "__weakref__",
    )

    def __repr__(self) -> str:
        return f"<{self.op.name} node>"


class InputMeta(NamedTuple):
    """What the rules of an op with ``meta=True`` get for an input: its shape and dtype."""

    shape: tuple
    dtype: np.dtype | None

    @property
    def ndim(self) -> int:
        return len(self.shape)


def input_meta(node: Node, i: int) -> InputMeta | None:
    """Input i's shape and dtype when ``node`` was recorded (None for a Python number).
    The dtype is its producer's: the node that made it, or the leaf itself (None for a
    constant, which has neither; no rule reads it)."""
    shape = node.shapes[i]
    if shape is None:
        return None
    source = node.next[i]
    dtype = None if source is None else \
        source.out_dtype if type(source) is Node else source._data.dtype
    return InputMeta(shape, dtype)


def apply(op, inputs: tuple, params: dict = EMPTY) -> Tensor:
    """Run ``op`` on ``inputs`` (Tensors, or raw constants such as Python scalars).

    Returns the output Tensor, with a Node recorded when grad mode is on and an
    input requires grad.  NumPy errors in the forward are re-raised naming the op
    and the input shapes.  (The hottest function of the engine: kept flat, with
    ``unwrap`` spelled out.)
    """
    try:  # (a plain call when there are no params: ``**{}`` would cost a dict per op)
        n = len(inputs)
        if n == 1:
            x = inputs[0]._data
            data = op.forward(x, **params) if params else op.forward(x)
        elif n == 2:
            x, y = inputs
            x = x._data if isinstance(x, Tensor) else x
            y = y._data if isinstance(y, Tensor) else y
            if type(x) is not type(y) and isinstance(inputs[0], Tensor) \
                    and isinstance(inputs[1], Tensor):
                inputs = on_one_device(op, inputs)
                x, y = inputs[0]._data, inputs[1]._data
            data = op.forward(x, y, **params) if params else op.forward(x, y)
        else:
            inputs = on_one_device(op, inputs)
            data = op.forward(*[x._data if isinstance(x, Tensor) else x for x in inputs], **params)
    except (ValueError, IndexError, TypeError) as err:
        raise _forward_error(op, inputs, err) from None
    if type(data) is not np.ndarray and not is_array(data):  # NumPy gives scalars for 0-d
        data = np.asarray(data)
    out = _init(_new(Tensor), data)  # Tensor._make(data), one call fewer
    if STATE.grad_enabled and op.vjps is not None:
        for x in inputs:
            if isinstance(x, Tensor) and x.requires_grad:
                out.grad_fn = _record(op, inputs, out, params)
                out.requires_grad = True
                break
    if STATE.anomaly:
        _check_forward_anomaly(op, out)
    return out


def on_one_device(op, inputs: tuple) -> tuple:
    """``inputs``, checked to be on one device.  As in PyTorch, a 0-d CPU tensor may join
    another device's tensors in an elementwise op: it is moved there (differentiably);
    tensors on two devices otherwise raise."""
    kind = None
    for x in inputs:
        if isinstance(x, Tensor):
            if kind is None:
                kind = type(x._data)
            elif type(x._data) is not kind:
                return _gather_scalars(op, inputs)
    return inputs


def _gather_scalars(op, inputs: tuple) -> tuple:
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    devices = list(dict.fromkeys(
        x.device for x in tensors if x.ndim or x.device.type != "cpu" or not op.broadcasts))
    if len(devices) > 1:
        raise RuntimeError(f"{op.name}: expected all tensors to be on the same device, but found "
                           f"at least two devices, {devices[0]} and {devices[1]}!")
    if not devices or devices[0].type == "cpu":
        return inputs
    from .ops.conversion import move

    return tuple(move(x, devices[0]) if isinstance(x, Tensor) else x for x in inputs)


def _edge(op, x):
    """Where input ``x``'s gradient goes: its node, itself (a leaf), or nowhere."""
    if isinstance(x, Tensor) and x.requires_grad:
        if x._base is not None and x._base.grad_fn is not x._base_history:
            _raise_stale_view(op, x)
        return x.grad_fn or x
    return None


def _record(op, inputs: tuple, out: Tensor, params: dict) -> Node:
    """The Node of ``op`` applied to ``inputs``, giving ``out``: where the gradients go,
    the shapes, and what the rules that will run read (saved, with their versions)."""
    node = _new(Node)
    node.op = op
    node.params = params
    node.hooks = None
    node.released = False
    node.scope = STATE.scope
    data = out._data
    node.out_shape = shape = data.shape
    node.out_dtype = data.dtype
    # An input of the output's shape (most inputs) shares its shape tuple: a long graph of
    # small ops would otherwise hold one more tuple per node.
    n = len(inputs)
    if n == 1:
        x = inputs[0]  # x requires grad, or no node would be recorded
        node.next = edges = (_edge(op, x),)
        a = x._data.shape
        node.shapes = (shape if a == shape else a,)
    elif n == 2:
        x, y = inputs
        node.next = edges = (_edge(op, x), _edge(op, y))
        a = x._data.shape if isinstance(x, Tensor) else None
        b = y._data.shape if isinstance(y, Tensor) else None
        node.shapes = (shape if a == shape else a, shape if b == shape else b)
    else:
        node.next = edges = tuple([_edge(op, x) for x in inputs])
        node.shapes = tuple([x._data.shape if isinstance(x, Tensor) else None for x in inputs])
    if op.per_rule is None:
        save, save_out = op.save, op.save_out
    elif n == 2:  # keep only what the rules that will run read
        save, save_out = op.per_rule[(edges[0] is not None, edges[1] is not None)]
    else:
        save, save_out = op.per_rule[tuple([e is not None for e in edges])]
    node.versions = None  # None: every saved tensor was at version 0
    if save is None:
        node.saved = None
    else:
        if save is True or len(save) == 1:
            saved = inputs
        elif len(save) == 2:
            saved = (inputs[0] if save[0] else None, inputs[1] if save[1] else None)
        else:
            saved = tuple([x if keep else None for x, keep in zip(inputs, save, strict=False)])
        node.saved = saved
        for x in saved:
            if isinstance(x, Tensor) and x._vc is not None:
                node.versions = tuple([_version(t) for t in saved])
                break
    if save_out:
        node.out = data
        out._vc = node.out_vc = [0]
    else:
        node.out = None
        node.out_vc = None
    return node


def _version(x) -> int:
    return x._vc[0] if isinstance(x, Tensor) and x._vc is not None else 0


# ------------------------------------------------------------------ the order
def count_consumers(roots: list) -> dict:
    """{node: how many nodes reachable from ``roots`` (Nodes) consume its output}."""
    deps = dict.fromkeys(roots, 0)
    stack = list(deps)
    while stack:
        node = stack.pop()
        for child in node.next:
            if type(child) is Node:
                if child in deps:
                    deps[child] += 1
                else:
                    deps[child] = 1
                    stack.append(child)
    return deps


def topological_order(roots: list) -> list:
    """The nodes reachable from ``roots`` (Nodes), each after every node that consumes
    its output: the order backward runs them in, so that a node runs once all of its
    gradient has arrived (Kahn's algorithm: a node is ready when its count of
    consumers not yet run drops to zero; the last one made ready runs first)."""
    deps = count_consumers(roots)
    ready = [node for node, count in deps.items() if count == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for child in node.next:
            if type(child) is Node:
                left = deps[child] - 1
                deps[child] = left
                if left == 0:
                    ready.append(child)
    return order


# --------------------------------------------------------------------- errors
def _forward_error(op, inputs, err: Exception) -> Exception:
    shapes = ", ".join(str(x.shape) if isinstance(x, Tensor) else repr(x) for x in inputs)
    message = str(err)
    if message.startswith(f"{op.name}:"):
        return builtin_error(err)(message)
    return builtin_error(err)(f"{op.name}: {message} (inputs: {shapes})")


def builtin_error(err: Exception) -> type:
    """The built-in class of ``err`` to re-raise it with a new message: NumPy's own
    subclasses (such as its casting errors) take other constructor arguments."""
    return next(kind for kind in (IndexError, TypeError, ValueError) if isinstance(err, kind))


def _raise_stale_view(op, view: Tensor) -> None:
    """A view taken before its base was changed in place while recording: its graph
    still leads to the base's old value, so its gradient would be silently wrong
    (PyTorch rewrites the view's history; graphgrad asks for the view to be retaken)."""
    raise RuntimeError(
        f"{op.name}: an input of shape {view.shape} is a view of a tensor that was changed "
        f"in place after the view was taken; take the view again after the change (or "
        f"clone it before) so that its gradient follows the new value")


def _check_forward_anomaly(op, out: Tensor) -> None:
    """Raise if ``out`` holds a NaN or Inf; remember where its node was recorded."""
    if out.grad_fn is not None:
        TRACES[out.grad_fn] = traceback.format_stack(limit=12)[:-2]
    data = out._data
    if data.dtype.kind == "f" and not namespace(data).isfinite(data).all():
        where = "".join(traceback.format_stack(limit=8)[:-3])
        raise FloatingPointError(
            f"anomaly: {op.name} produced {nonfinite_kind(data)} in its output of shape "
            f"{data.shape}.\nCreated at (most recent call last):\n{where}"
        )


def nonfinite_kind(a) -> str:
    return "NaN" if namespace(a).isnan(a).any() else "Inf"
