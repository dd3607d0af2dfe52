"""Jacobians, Hessians and their products with vectors, as ``torch.autograd.functional``.

Everything here is built from ``grad`` (with ``create_graph`` where a result must itself
be differentiated); there are no gradient rules of its own.  For ``f: inputs -> outputs``
with Jacobian ``J[i, j] = d out_i / d x_j`` (inputs and outputs flattened):

- ``vjp(f, x, v) = v^T J``: one backward pass seeded with ``v``.
- ``jvp(f, x, v) = J v`` by the double-vjp construction: for a seed ``u`` the backward
  pass gives ``g(u) = J^T u``, which is linear in ``u``; the vjp of ``u -> g(u)`` with
  cotangent ``v`` is ``(J^T)^T v = J v``.  The value of ``u`` does not matter (zeros).
- ``jacobian(f, x)``: one backward pass per output element, seeded with a one-hot
  vector; the block for output ``i`` and input ``j`` has shape
  ``out_i.shape + x_j.shape``.
- For a scalar ``f`` with Hessian ``H[i, j] = d^2 f / dx_i dx_j``: ``hessian`` is the
  Jacobian of the gradient, ``vhp(f, x, v) = v^T H`` (the backward pass of the gradient,
  seeded with ``v``) and ``hvp(f, x, v) = H v`` (the double-vjp construction applied
  to the gradient).  ``hvp == vhp`` when ``f`` is twice continuously differentiable,
  and ``vhp`` costs one backward pass less.

Each function takes a Tensor or a tuple of Tensors and answers in the same structure.
The function is called on fresh Tensor objects standing for the inputs, so a tensor the
function captures from outside is a constant, not an input.  With ``create_graph=True``
the results are differentiable (also with respect to inputs that require grad); with
``strict=True`` an output that does not depend on an input raises instead of giving the
mathematically right zeros.  ``vectorize`` is accepted and gives the same values (there
is no batched backward to vectorize with).
"""
from __future__ import annotations

from .arrays import namespace
from .creation import zeros, zeros_like
from .engine import grad
from .grad_mode import enable_grad
from .ops.shape import stack
from .tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

_STRATEGIES = ("forward-mode", "reverse-mode")


def _as_tuple(value, what: str, caller: str) -> tuple[bool, tuple]:
    """``(was_a_tuple, value as a tuple of Tensors)``; a list is refused as PyTorch does."""
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for k, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = f"element {k} of the {what}" if is_tuple else f"the {what}"
            raise TypeError(f"{caller}: {where} must be a Tensor (the {what} may be a Tensor "
                            f"or a tuple of Tensors), got {type(item).__name__}")
    return is_tuple, items


def _fresh_inputs(inputs: tuple, create_graph: bool) -> tuple:
    """New Tensor objects to call the function on: a differentiable copy of an input that
    requires grad when the results must flow back to it, else a detached leaf."""
    return tuple(x.clone() if create_graph and x.requires_grad else x.detach().requires_grad_()
                 for x in inputs)


def _vector(v, refs: tuple, refs_tuple: bool, create_graph: bool, caller: str, what: str):
    """``v`` as a tuple matching ``refs`` in length and shapes (None stays None: allowed
    only for one single-element ``refs``)."""
    if v is None:
        if len(refs) != 1 or refs[0].numel() != 1:
            raise RuntimeError(f"{caller}: v may be omitted only when the {what} is a single "
                               f"Tensor with one element")
        return None
    _, v = _as_tuple(v, "v", caller)
    if len(v) != len(refs):
        raise RuntimeError(f"{caller}: v has {len(v)} Tensors but the {what} has {len(refs)}")
    for k, (a, ref) in enumerate(zip(v, refs, strict=True)):
        if a.shape != ref.shape:
            entry = f"entry {k} of v" if refs_tuple else "v"
            raise RuntimeError(f"{caller}: {entry} has shape {tuple(a.shape)} but the {what} "
                               f"has shape {tuple(ref.shape)}")
    return tuple(a if create_graph and a.requires_grad else a.detach() for a in v)


def _call(func, inputs: tuple, caller: str, strict: bool) -> tuple[bool, tuple]:
    """Call ``func`` on ``inputs``; with ``strict``, every output must require grad."""
    is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the function", caller)
    if strict:
        for k, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(f"{caller}: output {k} of the function does not require "
                                   f"grad, so it does not depend on the inputs (strict=True)")
    return is_tuple, outputs


def _scalar_output(outputs: tuple, is_tuple: bool, caller: str) -> None:
    if is_tuple:
        raise RuntimeError(f"{caller}: the function must return a single Tensor, not a tuple")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"{caller}: the function must return a Tensor with one element, "
                           f"got shape {tuple(outputs[0].shape)}")


def _grads(outputs, inputs, seeds, create_graph: bool) -> tuple:
    """``grad`` of the outputs that require grad (the others contribute nothing), with
    None for an input that no output reaches."""
    seeds = (None,) * len(outputs) if seeds is None else seeds
    pairs = [(o, s) for o, s in zip(outputs, seeds, strict=True)
             if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], list(inputs), [s for _, s in pairs],
                retain_graph=True, create_graph=create_graph, allow_unused=True)


def _check(grads, strict: bool, create_graph: bool, absent: str, constant: str) -> None:
    """With ``strict``, raise ``absent`` (formatted with the index ``k``) for a result
    that is None (nothing depends on that input), and, with ``create_graph``, raise
    ``constant`` for one that does not require grad (it cannot be differentiated)."""
    if not strict:
        return
    for k, g in enumerate(grads):
        if g is None:
            raise RuntimeError(absent.format(k=k) + " (strict=True)")
        if create_graph and not g.requires_grad:
            raise RuntimeError(constant.format(k=k) + ", so it cannot be differentiated "
                               "further (strict=True)")


def _zeros_for_none(grads, refs) -> tuple:
    return tuple(zeros_like(r) if g is None else g for g, r in zip(grads, refs, strict=True))


def _finish(results, is_tuple: bool, create_graph: bool):
    """Detach unless ``create_graph``; unwrap the tuple unless the user gave one."""
    if not create_graph:
        results = tuple(r.detach() for r in results)
    return results if is_tuple else results[0]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product, one Tensor per input with
    the input's shape.  ``v`` matches the outputs (optional for one single-element output).
    """
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _fresh_inputs(inputs, create_graph)
        outputs_tuple, outputs = _call(func, inputs, "vjp", strict)
        v = _vector(v, outputs, outputs_tuple, create_graph, "vjp", "output")
        result = _grads(outputs, inputs, v, create_graph)
        _check(result, strict, create_graph, "vjp: the outputs do not depend on input {k}",
               "vjp: the vjp for input {k} does not depend on the inputs")
    result = _zeros_for_none(result, inputs)
    return (_finish(outputs, outputs_tuple, create_graph),
            _finish(result, inputs_tuple, create_graph))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product, one Tensor per output with the
    output's shape, by the double-vjp construction (module docstring).  ``v`` matches the
    inputs (optional for one single-element input).
    """
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _fresh_inputs(inputs, create_graph)
        v = _vector(v, inputs, inputs_tuple, create_graph, "jvp", "input")
        outputs_tuple, outputs = _call(func, inputs, "jvp", strict)
        seeds = tuple(zeros_like(out, requires_grad=True) for out in outputs)
        transposed = _grads(outputs, inputs, seeds, create_graph=True)  # J^T u, linear in u
        _check(transposed, strict, False, "jvp: the outputs do not depend on input {k}", "")
        result = _grads(transposed, seeds, v, create_graph)
        _check(result, strict, create_graph, "jvp: output {k} does not depend on the inputs",
               "jvp: the jvp for output {k} does not depend on the inputs")
    result = _zeros_for_none(result, outputs)
    return (_finish(outputs, outputs_tuple, create_graph),
            _finish(result, outputs_tuple, create_graph))


def _jacobian_blocks(out: Tensor, k: int, inputs: tuple, create_graph: bool, strict: bool):
    """d out / d x_j for each input: one backward pass per element of ``out``, seeded with
    the one-hot vector of that element; the rows stacked to ``out.shape + x_j.shape``."""
    rows = [[] for _ in inputs]
    flat_seed = namespace(out._data).zeros(out.numel(), dtype=out.dtype)
    for e in range(out.numel()):
        flat_seed[e] = 1
        seed = Tensor(flat_seed.reshape(out.shape))
        flat_seed[e] = 0
        grads = _grads((out,), inputs, (seed,), create_graph)
        _check(grads, strict, create_graph, f"jacobian: output {k} does not depend on input {{k}}",
               f"jacobian: the derivative of output {k} with respect to input {{k}} is constant")
        for row, g in zip(rows, _zeros_for_none(grads, inputs), strict=True):
            row.append(g)
    return tuple(stack(row).reshape(out.shape + x.shape) if row  # no rows: out is empty
                 else zeros(out.shape + x.shape, dtype=x.dtype, device=x.device)
                 for row, x in zip(rows, inputs, strict=True))


def _check_strategy(strategy, caller: str, name: str) -> None:
    """An unknown strategy is a ValueError (PyTorch raises AssertionError for it)."""
    if strategy not in _STRATEGIES:
        raise ValueError(f"{caller}: {name} must be 'forward-mode' or 'reverse-mode', "
                         f"got {strategy!r}")


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: block ``[i][j]`` is d out_i / d x_j with
    shape ``out_i.shape + x_j.shape`` and ``x_j``'s dtype.  A single Tensor for one input
    and one output, a tuple when one side is a tuple, a tuple of tuples (indexed by output,
    then input) when both are.

    ``strategy="forward-mode"`` is accepted only with ``vectorize=True`` (and neither
    ``strict`` nor ``create_graph``), as in PyTorch; every strategy computes the same
    values by reverse mode here.
    """
    _check_strategy(strategy, "jacobian", "strategy")
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError("jacobian: strategy='forward-mode' does not support "
                                      "create_graph=True; use strategy='reverse-mode'")
        if strict:
            raise RuntimeError("jacobian: strategy='forward-mode' does not support "
                               "strict=True; use strategy='reverse-mode'")
        if not vectorize:
            raise NotImplementedError("jacobian: strategy='forward-mode' needs "
                                      "vectorize=True")
    elif vectorize and strict:
        raise RuntimeError("jacobian: strict=True and vectorize=True cannot be used together")
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _fresh_inputs(inputs, create_graph)
        outputs_tuple, outputs = _call(func, inputs, "jacobian", strict)
        blocks = tuple(_finish(_jacobian_blocks(out, k, inputs, create_graph, strict),
                               inputs_tuple, create_graph)
                       for k, out in enumerate(outputs))
    return blocks if outputs_tuple else blocks[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of the scalar ``func`` at ``inputs``: the Jacobian of its gradient.
    Block ``[i][j]`` is d^2 f / dx_i dx_j with shape ``x_i.shape + x_j.shape``; a single
    Tensor for one input, a tuple of tuples for a tuple of inputs.
    ``outer_jacobian_strategy`` is passed to ``jacobian`` as its ``strategy``.
    """
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    _check_strategy(outer_jacobian_strategy, "hessian", "outer_jacobian_strategy")

    def scalar(*xs):
        is_tuple, outputs = _call(func, xs, "hessian", strict)
        _scalar_output(outputs, is_tuple, "hessian")
        return outputs[0].reshape(())

    def gradient(*xs):
        g = jacobian(scalar, xs, create_graph=True)
        if strict:
            for k, gk in enumerate(g):
                if not gk.requires_grad:
                    raise RuntimeError(f"hessian: the gradient with respect to input {k} does "
                                       f"not depend on the inputs, so the function is not "
                                       f"twice differentiable in them (strict=True)")
        return g

    blocks = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                      vectorize=vectorize, strategy=outer_jacobian_strategy)
    return blocks if inputs_tuple else blocks[0][0]


def _gradient(func, inputs, v, create_graph: bool, strict: bool, caller: str):
    """Shared start of vhp and hvp: fresh inputs, checked ``v``, the scalar output and its
    differentiable gradient."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", caller)
    inputs = _fresh_inputs(inputs, create_graph)
    v = _vector(v, inputs, inputs_tuple, create_graph, caller, "input")
    outputs_tuple, outputs = _call(func, inputs, caller, strict)
    _scalar_output(outputs, outputs_tuple, caller)
    gradient = _grads(outputs, inputs, None, create_graph=True)
    _check(gradient, strict, True, f"{caller}: the output does not depend on input {{k}}",
           f"{caller}: the gradient with respect to input {{k}} does not depend on the inputs")
    return inputs_tuple, inputs, v, outputs, gradient


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar ``func``: one Tensor per input with its shape.
    """
    with enable_grad():
        inputs_tuple, inputs, v, outputs, gradient = _gradient(
            func, inputs, v, create_graph, strict, "vhp")
        result = _grads(gradient, inputs, v, create_graph)
        _check(result, strict, create_graph, "vhp: the gradient does not depend on input {k}",
               "vhp: the vhp for input {k} does not depend on the inputs")
    result = _zeros_for_none(result, inputs)
    return (_finish(outputs, False, create_graph),
            _finish(result, inputs_tuple, create_graph))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` for a scalar ``func``, by the double-vjp construction applied
    to the gradient (one backward pass more than ``vhp``, equal to it when the Hessian is
    symmetric)."""
    with enable_grad():
        inputs_tuple, inputs, v, outputs, gradient = _gradient(
            func, inputs, v, create_graph, strict, "hvp")
        seeds = tuple(zeros_like(x, requires_grad=True) for x in inputs)
        transposed = _grads(gradient, inputs, seeds, create_graph=True)  # H^T u
        result = _grads(transposed, seeds, v, create_graph)
        _check(result, strict, create_graph, "hvp: the gradient does not depend on input {k}",
               "hvp: the hvp for input {k} does not depend on the inputs")
    result = _zeros_for_none(result, inputs)
    return (_finish(outputs, False, create_graph),
            _finish(result, inputs_tuple, create_graph))
