"""The primitive operation record: a NumPy forward plus one vector-Jacobian rule per input.

A rule has the signature ``rule(g, out, x, y, ..., **params)``: ``g`` is the
gradient of the loss with respect to the output, ``out`` the forward output
(None unless the op saves it), ``x, y, ...`` the inputs that ``saves`` names
(None for the others, or with ``meta=True`` an ``InputMeta``: the input's shape
and dtype) and ``params`` the op's keyword parameters (each name means one thing in
every op: ``shape`` is always the output's shape, ``dim``/``dims`` the dims worked
along).  It returns the gradient for one input.  Rules are written with
operators, the methods that NumPy arrays and Tensors share (``.T``, ``.reshape``,
``.sum(axis=, keepdims=)``, ``.transpose(axes)``, ``.swapaxes``) and calls to
other ``Op`` objects, which dispatch on their arguments: on arrays they compute
directly, on Tensors they record.  So the same rule serves first-order backward
(arrays, no graph) and ``create_graph=True`` (Tensors, differentiable); a rule
that has a faster way for arrays tells the modes apart by ``isinstance(g, Tensor)``
(create_graph).
"""
from __future__ import annotations

import itertools

from ..graph import apply
from ..tensor import Tensor

_INPUT_NAMES = ("x", "y", "z")


class Op:
    """A primitive operation.

    ``saves``: which inputs the rules read, as names ("x", "y", "z", "out") or
    "inputs" for all; or one such string per rule (``("y", "x")`` for x * y: x's rule
    reads y and y's rule reads x), so a node keeps, and checks for in-place changes,
    only what the rules that will run read (those of the inputs that require grad);
    ``save_out``: whether the rules read the output; ``broadcasts``: the
    inputs broadcast against each other, so the engine sums gradients back to
    each input's shape; ``variadic``: any number of inputs and one rule
    ``rule(i, g, out, inputs, **params)`` that gets them as one sequence (unpacking
    them for each input would make backward quadratic in their number); ``meta``:
    the rules read only the inputs' shapes and dtypes, and get each input as an
    ``InputMeta`` (an op with ``meta`` saves no input); ``jointly``: a variadic op whose
    one rule ``rule(g, out, inputs, needed, **params)`` returns every input's gradient
    at once (a tuple, None where ``needed[i]`` is False), for ops whose gradients share
    one computation (a recurrence through time); ``differentiable=False``
    marks an op without gradient (comparisons, argmax): its ``vjps`` is None.
    """

    __slots__ = ("name", "forward", "vjps", "save", "save_out", "broadcasts", "variadic",
                 "meta", "unsaved", "per_rule", "jointly")

    def __init__(self, name: str, forward, *vjps, saves: str = "", broadcasts: bool = False,
                 variadic: bool = False, meta: bool = False, jointly: bool = False,
                 differentiable: bool = True) -> None:
        self.name = name
        self.forward = forward
        self.broadcasts = broadcasts
        self.jointly = jointly
        variadic = self.variadic = variadic or jointly
        self.meta = meta
        self.per_rule = None
        if isinstance(saves, tuple):  # one string per rule
            self.per_rule = _per_rule_saves(name, saves)
            saves = " ".join(saves)
        names = saves.split()
        self.save_out = "out" in names
        inputs = [n for n in names if n != "out"]
        if inputs == ["inputs"]:
            self.save = True
        elif inputs:
            unknown = set(inputs) - set(_INPUT_NAMES)
            if unknown:
                raise ValueError(f"Op {name}: unknown saved names {sorted(unknown)}")
            arity = 1 if variadic else max(len(vjps), 1)
            self.save = tuple(_INPUT_NAMES[i] in inputs for i in range(arity))
        else:
            self.save = None
        if meta and (self.save is not None or self.per_rule is not None):
            raise ValueError(f"Op {name}: an op whose rules read InputMeta saves no input")
        # What the rules get in place of inputs when none are saved: Nones, or (None) what
        # the engine makes per node: one None per input (variadic), InputMetas (meta).
        self.unsaved = None if variadic or meta else (None,) * max(len(vjps), 1)
        if not differentiable:
            self.vjps = None
        elif variadic:
            (self.vjps,) = vjps
        else:
            self.vjps = vjps

    def __call__(self, *args, **params):
        """Apply to Tensors (recording) or to raw arrays (computing directly)."""
        for a in args:
            if isinstance(a, Tensor):
                return apply(self, args, params or {})
        return self.forward(*args, **params)

    def __repr__(self) -> str:
        return f"Op({self.name})"


def _per_rule_saves(name: str, saves: tuple) -> dict:
    """From one string of names per rule: {which rules run (a flag per input): (which
    inputs to save, or None; whether to save the output)}, for every subset of the
    rules and, for a variadic op with optional trailing inputs, every input count."""
    reads = []
    for names in saves:
        unknown = set(names.split()) - set(_INPUT_NAMES) - {"out"}
        if unknown:
            raise ValueError(f"Op {name}: unknown saved names {sorted(unknown)}")
        reads.append(names.split())
    table = {}
    for count in range(1, len(reads) + 1):
        for needed in itertools.product((False, True), repeat=count):
            wanted = {n for rule, run in zip(reads, needed, strict=False) if run for n in rule}
            save = tuple(_INPUT_NAMES[i] in wanted for i in range(count))
            table[needed] = (save if any(save) else None, "out" in wanted)
    return table
