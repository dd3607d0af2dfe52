"""Backward: walk the recorded graph from the outputs to the leaves, calling each op's
vector-Jacobian rules.

The algorithm (``_propagate``) is the textbook one:
1. put the seed gradients of the outputs in the gradient buffers;
2. list the nodes in topological order (``graph.topological_order``): each node
   after every node that consumes its output, so its gradient is complete when
   its turn comes; with ``inputs=``, skip the nodes that cannot reach them;
3. for each node: take its gradient from the buffers, run its hooks, call the rule
   of each input that needs a gradient and add the result to that input's buffer,
   then free what the node saved (unless ``retain_graph``);
4. what is left in the buffers are the leaves' gradients.
No recursion anywhere: a chain of a million nodes is a loop of a million steps.
How the buffers sum gradients fast (lazy gradients, adding in place) is the job
of ``grad_buffers.py``.

Two backward modes share the same rules:
- first order (the default) runs the rules on raw NumPy arrays and records nothing;
- ``create_graph=True`` runs them on Tensors with recording on, so the
  gradients are themselves differentiable (rules are written with operators and
  Tensor/ndarray methods that both kinds of value understand).
"""
from __future__ import annotations

import numpy as np

from ._shapes import sum_to
from .anomaly import TRACES
from .arrays import namespace
from .grad_buffers import GradBuffers, Product, Scatter, exclusive
from .grad_mode import STATE
from .graph import Node, input_meta, nonfinite_kind, topological_order
from .tensor import Tensor, tensor_arg, unwrap


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
        g = result.get(_key(t))
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
            out.append(g if isinstance(g, Tensor) else Tensor._make(exclusive(g)))
    return tuple(out)


def _key(t: Tensor):
    """Where ``t``'s gradient is gathered: its node, or itself for a leaf."""
    return t.grad_fn if t.grad_fn is not None else t


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
            g = Tensor._make(namespace(t._data).ones_like(t._data))
        else:
            g = tensor_arg(g)
            if g.shape != t.shape:
                raise RuntimeError(
                    f"{caller}: gradient has shape {g.shape} but the tensor has shape {t.shape}"
                )
            if g.dtype != t.dtype:
                g = g.astype(t.dtype)
        seeds.append(g if create_graph else g._data)
    return tensors, seeds


def _propagate(roots, seeds, targets, retain_graph: bool, create_graph: bool) -> dict:
    """Send ``seeds`` from ``roots`` to the leaves; return {leaf or target node: gradient}.

    Gradients are arrays in first-order mode and Tensors with ``create_graph``.
    """
    raw = not create_graph
    grads = GradBuffers(raw)
    for t, g in zip(roots, seeds, strict=False):
        grads.seed(_key(t), g)
    order = topological_order([key for key in grads if type(key) is Node])
    wanted = None if targets is None else {_key(t) for t in targets}
    useful = None if targets is None else _nodes_reaching(order, wanted)
    observer, anomaly = STATE.observer, STATE.anomaly
    captured: dict = {}
    previous_mode = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    try:
        for node in order:
            g = grads.take(node)  # complete: every consumer has run
            if g is not None and node.hooks is not None:
                g = _run_hooks(node.hooks, g, raw)
            if wanted is not None and node in wanted:
                captured[node] = g
            if g is None:  # no gradient reached it (it cannot reach ``inputs``)
                continue
            if observer is not None:
                observer(node, g)
            op, rules, params = node.op, node.op.vjps, node.params
            saved, out = _rule_inputs(node, raw)
            together = _joint_gradients(node, g, out, saved, useful) if op.jointly else None
            i = -1  # a counter, not enumerate: cheaper per edge
            for child in node.next:
                i += 1
                if child is None or (useful is not None and child not in useful):
                    continue
                try:
                    if together is not None:
                        gi = together[i]
                    elif op.variadic:
                        gi = rules(i, g, out, saved, **params)
                    else:
                        gi = rules[i](g, out, *saved, **params)
                except Exception as err:
                    raise RuntimeError(f"backward of {op.name} (input {i}) failed: {err}") from err
                if gi.shape != node.shapes[i]:
                    gi = _fit_shape(node, i, gi)
                if anomaly:
                    _check_backward_anomaly(node, i, gi)
                grads.add(child, gi)
            if not retain_graph and (node.saved is not None or node.out is not None):
                node.saved = None  # free what the rules read
                node.out = None
                node.released = True
    finally:
        STATE.grad_enabled = previous_mode
    for leaf in list(grads):  # only leaves remain
        if wanted is None or leaf in wanted:
            captured[leaf] = _leaf_gradient(grads, leaf, raw, observer)
    return captured


def _leaf_gradient(grads: GradBuffers, leaf: Tensor, raw: bool, observer):
    """A leaf's complete gradient, after its hooks, ready to become its ``.grad``."""
    g = grads.take(leaf)
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, g, raw)
    if observer is not None:
        observer(leaf, g)
    return grads.hand_out(g)


def _joint_gradients(node: Node, g, out, saved, useful) -> tuple:
    """Every needed input's gradient from the one rule of a ``jointly`` op."""
    needed = tuple([c is not None and (useful is None or c in useful) for c in node.next])
    try:
        return node.op.vjps(g, out, saved, needed, **node.params)
    except Exception as err:
        raise RuntimeError(f"backward of {node.op.name} failed: {err}") from err


def _rule_inputs(node: Node, raw: bool) -> tuple:
    """(the inputs the rules get, the output they get): what the node saved, checked for
    in-place changes since, as arrays in first-order mode and as Tensors connected to the
    graph with ``create_graph``."""
    if node.released:
        raise RuntimeError(
            f"backward: trying to backward through the graph a second time (the values "
            f"saved by {node.op.name} were freed); pass retain_graph=True to the first backward"
        )
    saved = node.saved
    if saved is not None:
        _check_versions(node)
        if raw and len(saved) == 2:  # ``unwrap`` spelled out: this runs for most nodes
            x, y = saved
            saved = (x._data if isinstance(x, Tensor) else x,
                     y._data if isinstance(y, Tensor) else y)
        elif raw:
            saved = [x._data if isinstance(x, Tensor) else x for x in saved]
    else:
        if node.out_vc is not None and node.out_vc[0]:
            _check_versions(node)
        saved = node.op.unsaved or _unsaved(node)
    out = node.out
    if out is not None and not raw:
        out = Tensor._make(out, True, node)
    return saved, out


def _unsaved(node: Node) -> tuple:
    """What the rules of a variadic op or of an op with ``meta`` get for the inputs when
    the node saved none: None each, or their ``InputMeta`` (shape and dtype)."""
    if not node.op.meta:
        return (None,) * len(node.next)
    return tuple([input_meta(node, i) for i in range(len(node.next))])


def _nodes_reaching(order: list, targets: set) -> set:
    """``targets`` and the nodes (among ``order``) with a path to one of them."""
    useful = set(targets)
    for node in reversed(order):  # every node after the nodes it leads to
        if any(c is not None and c in useful for c in node.next):
            useful.add(node)
    return useful


def _fit_shape(node: Node, i: int, gi):
    """Sum a broadcasting op's gradient back to input i's shape; any other mismatch is a bug."""
    if node.op.broadcasts:
        return sum_to(gi, node.shapes[i])
    raise RuntimeError(
        f"backward of {node.op.name}: the rule for input {i} returned a gradient of shape "
        f"{gi.shape}, expected {node.shapes[i]}"
    )


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
            result = tensor_arg(result)
            if result.shape != g.shape:
                raise RuntimeError(
                    f"hook returned a gradient of shape {result.shape}, expected {g.shape}"
                )
            g = result._data.copy() if raw else result  # the hook's tensor stays the user's
    return g


def _check_backward_anomaly(node: Node, i: int, gi) -> None:
    if isinstance(gi, Scatter):
        gi = gi.values
    elif isinstance(gi, Product):
        gi = gi.dense()
    data = unwrap(gi)
    if data.dtype.kind == "f" and not namespace(data).isfinite(data).all():
        trace = TRACES.get(node)
        trace = "".join(trace) if trace else "  (recorded outside detect_anomaly)\n"
        raise FloatingPointError(
            f"anomaly: the backward of {node.op.name} produced {nonfinite_kind(data)} in the "
            f"gradient of input {i}.\nThe {node.op.name} was created at (most recent call "
            f"last):\n{trace}"
        )


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
