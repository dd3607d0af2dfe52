"""The engine: recording operations as graph nodes, and walking the graph backward.

``apply(op, inputs, params)`` runs an operation's NumPy forward and, when some
input requires grad, records a ``Node``.  ``backward`` and ``grad`` walk the
nodes in reverse topological order without recursion, calling each op's
vector-Jacobian rules.

Two backward modes share the same rules:
- first order (the default) runs the rules on raw NumPy arrays and records nothing;
- ``create_graph=True`` runs them on Tensors with recording on, so the
  gradients are themselves differentiable (rules are written with operators and
  Tensor/ndarray methods that both kinds of value understand).
"""
from __future__ import annotations

import sys
import traceback

import numpy as np

from ._shapes import sum_to
from .grad_mode import STATE
from .tensor import Tensor, as_tensor

EMPTY: dict = {}  # shared "no parameters"; never mutated
_new = object.__new__


class Node:
    """One recorded operation.

    ``next[i]`` says where the gradient of input i goes: the input's own Node,
    the input itself when it is a leaf that requires grad, or None.  ``saved``
    holds the inputs the rules read (others are None) and ``out`` the output
    array when the rules reuse it; ``versions`` are the saved tensors' version
    counters at save time, checked before the rules run (None: all were 0).
    ``scope`` is the Module call that was running when the node was recorded.
    """

    __slots__ = (
        "op", "next", "saved", "versions", "out", "out_vc", "params", "shapes",
        "hooks", "trace", "released", "scope", "__weakref__",
    )

    def __repr__(self) -> str:
        return f"<{self.op.name} node>"


def apply(op, inputs: tuple, params: dict = EMPTY) -> Tensor:
    """Run ``op`` on ``inputs`` (Tensors, or raw constants such as Python scalars).

    Returns the output Tensor, with a Node recorded when grad mode is on and an
    input requires grad.  NumPy errors in the forward are re-raised naming the op
    and the input shapes.  (The hottest function of the engine: kept flat.)
    """
    try:
        n = len(inputs)
        if n == 1:
            data = op.forward(inputs[0]._data, **params)
        elif n == 2:
            x, y = inputs
            data = op.forward(x._data if isinstance(x, Tensor) else x,
                              y._data if isinstance(y, Tensor) else y, **params)
        else:
            data = op.forward(*[x._data if isinstance(x, Tensor) else x for x in inputs], **params)
    except (ValueError, IndexError, TypeError) as err:
        raise _forward_error(op, inputs, err) from None
    if type(data) is not np.ndarray:  # NumPy returns scalars for 0-d results
        data = np.asarray(data)
    out = _new(Tensor)
    out._data = data
    out.grad = None
    out._vc = None
    out._base = None
    out._hooks = None
    out.grad_fn = None
    out.requires_grad = False
    if STATE.grad_enabled and op.vjps is not None:
        for x in inputs:
            if isinstance(x, Tensor) and x.requires_grad:
                out.grad_fn = _record(op, inputs, out, params)
                out.requires_grad = True
                break
    if STATE.anomaly:
        _check_forward_anomaly(op, out)
    return out


def _edge(op, x):
    """Where input ``x``'s gradient goes: its node, itself (a leaf), or nowhere."""
    if isinstance(x, Tensor) and x.requires_grad:
        if x._base is not None and x._base.grad_fn is not x._base_history:
            _raise_stale_view(op, x)
        return x.grad_fn or x
    return None


def _record(op, inputs: tuple, out: Tensor, params: dict) -> Node:
    node = _new(Node)
    node.op = op
    node.params = params
    node.hooks = None
    node.released = False
    node.scope = STATE.scope
    node.trace = traceback.format_stack(limit=12)[:-2] if STATE.anomaly else None
    n = len(inputs)
    if n == 1:
        x = inputs[0]  # x requires grad, or no node would be recorded
        node.next = (_edge(op, x),)
        node.shapes = (x._data.shape,)
    elif n == 2:
        x, y = inputs
        if isinstance(x, Tensor):
            node.next = (_edge(op, x), _edge(op, y))
            node.shapes = (x._data.shape, y._data.shape if isinstance(y, Tensor) else None)
        else:
            node.next = (None, _edge(op, y))
            node.shapes = (None, y._data.shape)
    else:
        node.next = tuple([_edge(op, x) for x in inputs])
        node.shapes = tuple([x._data.shape if isinstance(x, Tensor) else None for x in inputs])
    if op.per_rule is None:
        save, save_out = op.save, op.save_out
    else:  # keep only what the rules that will run read
        save, save_out = op.per_rule[tuple([e is not None for e in node.next])]
    node.versions = None  # None: every saved tensor was at version 0
    if save is None:
        node.saved = None
    else:
        if save is True:
            saved = inputs
        elif len(save) == 1:
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
        node.out = out._data
        out._vc = node.out_vc = [0]
    else:
        node.out = None
        node.out_vc = None
    return node


def _version(x) -> int:
    return x._vc[0] if isinstance(x, Tensor) and x._vc is not None else 0


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


# ---------------------------------------------------------------- anomaly mode
def _check_forward_anomaly(op, out: Tensor) -> None:
    data = out._data
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        where = "".join(traceback.format_stack(limit=8)[:-3])
        raise FloatingPointError(
            f"anomaly: {op.name} produced {_nonfinite_kind(data)} in its output of shape "
            f"{data.shape}.\nCreated at (most recent call last):\n{where}"
        )


def _nonfinite_kind(a) -> str:
    return "NaN" if np.isnan(a).any() else "Inf"


def _check_backward_anomaly(node: Node, i: int, gi) -> None:
    if isinstance(gi, Scatter):
        gi = gi.values
    elif isinstance(gi, Product):
        gi = gi.dense()
    data = gi._data if isinstance(gi, Tensor) else np.asarray(gi)
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        trace = "".join(node.trace) if node.trace else "  (recorded outside detect_anomaly)\n"
        raise FloatingPointError(
            f"anomaly: the backward of {node.op.name} produced {_nonfinite_kind(data)} in the "
            f"gradient of input {i}.\nThe {node.op.name} was created at (most recent call "
            f"last):\n{trace}"
        )


# ------------------------------------------------------------------- backward
def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` into ``.grad`` of the graph's leaves.

    With ``inputs``, only those tensors' ``.grad`` are written.  As
    ``torch.autograd.backward``.
    """
    tensors, grads = _roots(tensors, grad_tensors, "backward", create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    targets = None if inputs is None else _as_list(inputs)
    with np.errstate(all="ignore"):  # rules on inf and nan are silent (_numpy_warnings.py)
        result = _propagate(tensors, grads, targets, retain, create_graph)
    for leaf, g in result.items():
        if isinstance(leaf, Node):  # a non-leaf named in inputs=: PyTorch stores its grad
            leaf = next(t for t in targets if t.grad_fn is leaf)
        _store_grad(leaf, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False) -> tuple:
    """Return d(outputs)/d(inputs) as a tuple of Tensors, without touching ``.grad``.

    Only the part of the graph between ``outputs`` and ``inputs`` is traversed.
    With ``create_graph=True`` the results are differentiable.  As
    ``torch.autograd.grad``.
    """
    outputs, grads = _roots(outputs, grad_outputs, "grad", create_graph)
    targets = _as_list(inputs)
    for t in targets:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("grad: every input must be a Tensor that requires grad")
    retain = create_graph if retain_graph is None else retain_graph
    with np.errstate(all="ignore"):  # rules on inf and nan are silent (_numpy_warnings.py)
        result = _propagate(outputs, grads, targets, retain, create_graph)
    out = []
    given = set()  # a target named twice gets its own copy
    for t in targets:
        g = result.get(t.grad_fn if t.grad_fn is not None else t)
        if g is not None and id(g) in given:
            g = g.clone() if isinstance(g, Tensor) else g.copy()
        given.add(id(g))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "grad: one of the differentiated tensors was not used in the graph "
                    "of the outputs (pass allow_unused=True to get None for it)"
                )
            out.append(None)
        else:
            out.append(g if isinstance(g, Tensor) else Tensor._make(_owned(g, ())))
    return tuple(out)


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _roots(tensors, grads, caller: str, create_graph: bool):
    """The root tensors and their seed gradients: arrays, or Tensors with ``create_graph``
    (so a seed that requires grad stays in the graph)."""
    tensors = _as_list(tensors)
    if grads is None:
        grads = [None] * len(tensors)
    else:
        grads = _as_list(grads)
    if len(grads) != len(tensors):
        raise ValueError(f"{caller}: got {len(tensors)} tensors but {len(grads)} gradients")
    seeds = []
    for k, (t, g) in enumerate(zip(tensors, grads, strict=False)):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(
                f"{caller}: element {k} of tensors does not require grad and does not have a "
                f"grad_fn"
            )
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(
                    f"{caller}: grad can be implicitly created only for outputs with one element; "
                    f"pass gradient= for an output of shape {t.shape}"
                )
            g = Tensor._make(np.ones_like(t._data))
        else:
            g = as_tensor(g)
            if g.shape != t.shape:
                raise RuntimeError(
                    f"{caller}: gradient has shape {g.shape} but the tensor has shape {t.shape}"
                )
            if g.dtype != t.dtype:
                g = g.astype(t.dtype)
        seeds.append(g if create_graph else g._data)
    return tensors, seeds


def _propagate(roots, grads, targets, retain_graph: bool, create_graph: bool) -> dict:
    """Send ``grads`` from ``roots`` to the leaves; return {leaf or target node: gradient}.

    Gradients are arrays in first-order mode and Tensors with ``create_graph``.
    A node runs once all its consumers have sent their share (counted first);
    with ``targets``, nodes that cannot reach a target are skipped.
    """
    raw = not create_graph
    handed = set()  # ids of arrays that are not ours to give away as a .grad
    owned = set()  # ids of buffer arrays only the engine holds: safe to add into in place
    buffers: dict = {}
    for t, g in zip(roots, grads, strict=False):
        handed.add(id(g))
        key = t.grad_fn if t.grad_fn is not None else t
        prev = buffers.get(key)
        buffers[key] = g if prev is None else prev + g

    deps = count_consumers([key for key in buffers if type(key) is Node])

    useful = None
    target_keys = None
    if targets is not None:
        target_keys = {t.grad_fn if t.grad_fn is not None else t for t in targets}
        useful = _nodes_reaching(deps, target_keys)

    captured: dict = {}
    ready = [n for n, d in deps.items() if d == 0]
    previous_mode = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            g = buffers.pop(node, None)
            if owned:
                owned.discard(id(g))  # handed to the rules, which may pass it on unchanged
            if type(g) is Product or type(g) is Scatter:
                g = g.dense()
            if node.hooks is not None and g is not None:
                g = _run_hooks(node.hooks, g, raw)
            if target_keys is not None and node in target_keys:
                captured[node] = g
            if g is None:
                continue
            if STATE.observer is not None:
                STATE.observer(node, g)
            op = node.op
            if node.released:
                raise RuntimeError(
                    f"backward: trying to backward through the graph a second time (the values "
                    f"saved by {op.name} were freed); pass retain_graph=True to the first backward"
                )
            saved = node.saved
            if saved is not None:
                _check_versions(node)
                if raw:
                    saved = [x._data if isinstance(x, Tensor) else x for x in saved]
            else:
                if node.out_vc is not None and node.out_vc[0]:
                    _check_versions(node)
                saved = op.unsaved or (None,) * len(node.next)
            out = node.out
            if out is not None and not raw:
                out = Tensor._make(out, True, node)
            params = node.params
            vjps = op.vjps
            i = -1
            for child in node.next:
                i += 1
                if child is None or (useful is not None and child not in useful):
                    continue
                try:
                    if op.variadic:
                        gi = vjps(i, g, out, saved, **params)
                    else:
                        gi = vjps[i](g, out, *saved, **params)
                except Exception as err:
                    raise RuntimeError(f"backward of {op.name} (input {i}) failed: {err}") from err
                if gi.shape != node.shapes[i]:
                    gi = _fit_shape(node, i, gi)
                if STATE.anomaly:
                    _check_backward_anomaly(node, i, gi)
                if type(gi) is not Scatter and child not in buffers:  # the common case: first
                    buffers[child] = gi  # share (a Product stays lazy, to be joined by others)
                elif raw:
                    _accumulate(buffers, owned, child, gi)
                else:
                    buffers[child] = buffers[child] + gi
                if type(child) is Node:
                    left = deps[child] - 1
                    deps[child] = left
                    if left == 0:
                        ready.append(child)
            if not retain_graph and (node.saved is not None or node.out is not None):
                node.saved = None
                node.out = None
                node.released = True
    finally:
        STATE.grad_enabled = previous_mode

    for key, g in buffers.items():  # only leaves remain
        if target_keys is None or key in target_keys:
            if type(g) is Product or type(g) is Scatter:
                g = g.dense()
            if key._hooks:
                g = _run_hooks(key._hooks, g, raw)
            if STATE.observer is not None:
                STATE.observer(key, g)
            captured[key] = _owned(g, handed) if raw else g
            if raw:
                handed.add(id(captured[key]))
    return captured


class Scatter:
    """A lazy first-order gradient: zeros of ``shape`` with ``values`` added at ``index``.

    The rules of gathering ops (indexing, slicing) return it on raw arrays, so that
    many slices of one tensor cost O(their size), not O(tensor size) each: the
    engine adds the values straight into the tensor's gradient buffer.  Scatters
    that arrive at an empty buffer are joined and made dense together; when they
    are the rows x[0], x[1], ..., x[n-1] of a tensor (a loop over a sequence), their
    values are stacked, with no zeros to fill and add into.
    """

    __slots__ = ("values", "index", "shape", "basic", "joined")

    def __init__(self, values: np.ndarray, index: tuple, shape: tuple, basic: bool) -> None:
        self.values = values
        self.index = index
        self.shape = shape
        self.basic = basic  # ints/slices only: no position repeats, so += is exact
        self.joined = None  # the Scatters joined to this one

    def join(self, other: Scatter) -> bool:
        """Take ``other`` into this sum; False when the two do not fit together."""
        if other.shape != self.shape or other.values.dtype != self.values.dtype:
            return False
        if self.joined is None:
            self.joined = []
        self.joined.append(other)
        return True

    def add_into(self, array: np.ndarray) -> None:
        for piece in (self, *self.joined) if self.joined else (self,):
            if piece.basic:
                array[piece.index] += piece.values
            else:
                add_at(array, piece.index, piece.values)

    def dense(self) -> np.ndarray:
        rows = self._whole_rows()
        if rows is not None:
            axis, values = rows
            return np.stack(values, axis=axis)
        array = np.zeros(self.shape, dtype=self.values.dtype)
        self.add_into(array)
        return array

    def _whole_rows(self) -> tuple | None:
        """(axis, the values in order) when the pieces are x[..., 0, ...], ...,
        x[..., n-1, ...] along one axis (one int in the index, the rest ``:``), each once."""
        pieces = (self, *self.joined) if self.joined else (self,)
        axis = _row_axis(self.index)
        if axis is None or len(pieces) != self.shape[axis] or len(pieces) < 2:
            return None
        n = self.shape[axis]
        row_shape = self.shape[:axis] + self.shape[axis + 1:]
        values = [None] * n
        for piece in pieces:
            if _row_axis(piece.index) != axis or piece.values.shape != row_shape:
                return None
            row = piece.index[axis] % n
            if values[row] is not None:
                return None
            values[row] = piece.values
        return axis, values


def _row_axis(index: tuple) -> int | None:
    """The position of the one int in ``index`` when every other entry is ``:``."""
    axis = None
    for k, entry in enumerate(index):
        if type(entry) is int and axis is None:
            axis = k
        elif type(entry) is not slice or entry != slice(None):
            return None
    return axis


class Product:
    """A lazy first-order gradient: the matrix a^T b, summed over the pairs (a, b) joined.

    The rules of ``matmul`` (right-hand operand) and ``linear`` (both operands)
    return it on arrays.  A weight used at many steps, like a recurrent layer's W_hh,
    gets one contribution per step; joined while they wait in its buffer, they are
    summed by one matrix product over the stacked rows, sum_k a_k^T b_k = A^T B,
    instead of a small product per step.  A node's gradient is made dense when the
    node runs, a leaf's at the end.  ``transposed``: compute it as (b^T a)^T, so that
    its transpose is C-ordered (for an operand stored transposed, ``W.T``).
    """

    __slots__ = ("a", "b", "transposed", "shape", "dtype")

    def __init__(self, a: np.ndarray, b: np.ndarray, transposed: bool = False) -> None:
        self.a = [a]
        self.b = [b]
        self.transposed = transposed
        self.shape = (a.shape[1], b.shape[1])
        self.dtype = np.result_type(a, b)

    def join(self, other: Product) -> bool:
        """Take ``other``'s pairs into this sum; False when the two do not fit together."""
        if other.transposed is not self.transposed or other.shape != self.shape or \
                other.dtype != self.dtype:
            return False
        self.a += other.a
        self.b += other.b
        return True

    def dense(self) -> np.ndarray:
        a = self.a[0] if len(self.a) == 1 else np.concatenate(self.a)
        b = self.b[0] if len(self.b) == 1 else np.concatenate(self.b)
        return (b.T @ a).T if self.transposed else a.T @ b


def add_at(array: np.ndarray, index: tuple, values) -> None:
    """``array[index] += values`` with repeated positions accumulating (``np.add.at``).

    When every dim of a contiguous ``array`` is indexed by an integer array, the
    positions are flattened first: ``np.add.at`` on one flat index is several times
    faster than on a tuple of them.
    """
    if len(index) == 1 and array.ndim == 1:  # already flat (max pooling's gather)
        np.add.at(array, index[0], values)
    elif (len(index) == array.ndim and array.flags.c_contiguous
            and all(isinstance(i, np.ndarray) for i in index)):
        arrays = np.broadcast_arrays(*index)
        flat = np.ravel_multi_index(arrays, array.shape, mode="wrap")  # wrap: negative indices
        np.add.at(array.reshape(-1), flat.reshape(-1), np.broadcast_to(values, flat.shape).ravel())
    else:
        np.add.at(array, index, values)


def _exclusive_refcounts() -> tuple:
    """What ``sys.getrefcount`` says, on this interpreter, of an array that only a dict
    entry holds (read into a local, as ``_accumulate`` does) and of an array that only
    one view holds as its base (as ``_owned`` asks).  Interpreters differ in which of
    the running frame's references they count, so the engine measures instead of
    assuming."""
    buffers = {0: np.empty(1)}
    prev = buffers.get(0)
    in_buffer = sys.getrefcount(prev)
    g = np.empty(2)[1:]
    as_base = sys.getrefcount(g.base)
    return in_buffer, as_base


_ONLY_IN_BUFFER, _ONLY_AS_BASE = _exclusive_refcounts()


def _accumulate(buffers: dict, owned: set, key, gi) -> None:
    """Add ``gi`` to the gradient buffered for ``key``, in place when the buffer is ours: an
    array the engine made (in ``owned``), or one that a rule made and nothing else holds
    (it owns its memory and only the buffer dict refers to it; a view of it, a hook or a
    saved value would add a reference)."""
    prev = buffers.get(key)
    if type(prev) is np.ndarray and prev.base is None \
            and sys.getrefcount(prev) <= _ONLY_IN_BUFFER and prev.flags.writeable:
        owned.add(id(prev))
    if type(prev) is Product or type(prev) is Scatter:
        if type(gi) is type(prev) and prev.join(gi):
            return
        prev = prev.dense()
        buffers[key] = prev
        owned.add(id(prev))
    if type(gi) is Product:
        gi = gi.dense()
    if type(gi) is Scatter:
        if prev is None:
            buffers[key] = gi  # lazy: joined by the next ones (see Scatter)
        elif id(prev) not in owned:
            dense = gi.dense()
            dense += prev
            buffers[key] = dense
            owned.add(id(dense))
        else:
            gi.add_into(prev)
    elif prev is None:
        buffers[key] = gi
    elif id(prev) in owned and prev.shape == gi.shape:
        prev += gi
    else:
        total = prev + gi
        buffers[key] = total
        if type(total) is np.ndarray:  # NumPy scalars (0-d results) cannot be updated in place
            owned.add(id(total))


def _fit_shape(node: Node, i: int, gi):
    """Sum a broadcasting op's gradient back to input i's shape; any other mismatch is a bug."""
    if node.op.broadcasts:
        return sum_to(gi, node.shapes[i])
    raise RuntimeError(
        f"backward of {node.op.name}: the rule for input {i} returned a gradient of shape "
        f"{gi.shape}, expected {node.shapes[i]}"
    )


def count_consumers(roots: list) -> dict:
    """{node: how many nodes reachable from ``roots`` (Nodes) consume its output}.

    Backward runs a node when this count drops to zero: all its gradient has arrived.
    """
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


def _nodes_reaching(deps: dict, target_keys: set) -> set:
    """``target_keys`` and the nodes (among ``deps``) with a path to one of them."""
    counts = dict(deps)
    order = [n for n, d in counts.items() if d == 0]
    i = 0
    while i < len(order):  # Kahn's order: every node after all its consumers
        for child in order[i].next:
            if type(child) is Node:
                counts[child] -= 1
                if counts[child] == 0:
                    order.append(child)
        i += 1
    useful = set(target_keys)
    for node in reversed(order):
        if any(c is not None and c in useful for c in node.next):
            useful.add(node)
    return useful


def _check_versions(node: Node) -> None:
    """Raise if a value the node saved was changed in place since it was saved."""
    if node.saved is not None:
        versions = node.versions
        for k, x in enumerate(node.saved):
            if isinstance(x, Tensor) and x._vc is not None:
                version = versions[k] if versions is not None else 0
                if x._vc[0] != version:
                    _raise_inplace(node, x, version)
    if node.out_vc is not None and node.out_vc[0] != 0:
        raise RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: the output of {node.op.name} is at version {node.out_vc[0]}; "
            f"expected version 0 instead. Use .clone() before changing it in place."
        )


def _raise_stale_view(op, view: Tensor) -> None:
    """A view taken before its base was changed in place while recording: its graph
    still leads to the base's old value, so its gradient would be silently wrong
    (PyTorch rewrites the view's history; graphgrad asks for the view to be retaken)."""
    raise RuntimeError(
        f"{op.name}: an input of shape {view.shape} is a view of a tensor that was changed "
        f"in place after the view was taken; take the view again after the change (or "
        f"clone it before) so that its gradient follows the new value")


def _raise_inplace(node: Node, x: Tensor, version: int) -> None:
    raise RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{x.dtype} {x.shape}], an input of {node.op.name}, is at version "
        f"{x._version}; expected version {version} instead. Use .clone() before changing it "
        f"in place."
    )


def _run_hooks(hooks: list, g, raw: bool):
    for hook in list(hooks):
        result = hook(Tensor._make(g) if raw else g)
        if result is not None:
            result = as_tensor(result)
            if result.shape != g.shape:
                raise RuntimeError(
                    f"hook returned a gradient of shape {result.shape}, expected {g.shape}"
                )
            g = result._data.copy() if raw else result  # the hook's tensor stays the user's
    return g


def _owned(g: np.ndarray, handed) -> np.ndarray:
    """``g`` if nothing else can hold it, else a private C-ordered copy (no two .grad share
    memory, and optimizer updates stay on contiguous arrays)."""
    if id(g) in handed or not g.flags.writeable:
        return np.array(g, order="C", copy=True)
    if g.base is None:
        return g if g.flags.owndata else np.array(g, order="C", copy=True)
    # A C-ordered view covering all of a temporary the rules made (e.g. the transpose of a
    # matmul result): when only this view refers to that temporary, it is ours to keep.
    if g.flags.c_contiguous and g.size == g.base.size \
            and sys.getrefcount(g.base) <= _ONLY_AS_BASE:
        return g
    return np.array(g, order="C", copy=True)


def _store_grad(leaf: Tensor, g, create_graph: bool) -> None:
    if isinstance(g, Tensor):
        # A differentiable copy: the same gradient Tensor may reach several leaves or be
        # the caller's seed, and no two .grad may share memory.
        g = g.clone()
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    elif leaf.grad is None:
        leaf.grad = Tensor._make(g)
    else:
        leaf.grad = Tensor._make(leaf.grad._data + g)
