"""The primitive operation record: a NumPy forward plus one vector-Jacobian rule per input.

A rule has the signature ``rule(g, out, x, y, ..., **params)``: ``g`` is the
gradient of the loss with respect to the output, ``out`` the forward output
(None unless ``save_out``), ``x, y, ...`` the inputs that ``saves`` names (None
for the others) and ``params`` the op's keyword parameters.  It returns the
gradient for one input.  Rules are written with operators, the methods that
NumPy arrays and Tensors share (``.T``, ``.reshape``, ``.sum(axis=, keepdims=)``,
``.transpose(axes)``, ``.swapaxes``) and calls to other ``Op`` objects, which
dispatch on their arguments: on arrays they compute directly, on Tensors they
record.  So the same rule serves first-order backward (arrays, no graph) and
``create_graph=True`` (Tensors, differentiable).
"""
from __future__ import annotations

from ..engine import apply
from ..tensor import Tensor

_INPUT_NAMES = ("x", "y")


class Op:
    """A primitive operation.

    ``saves``: which inputs the rules read, as names ("x", "y") or "inputs" for
    all; ``save_out``: whether the rules read the output; ``broadcasts``: the
    inputs broadcast against each other, so the engine sums gradients back to
    each input's shape; ``variadic``: any number of inputs and one rule
    ``rule(i, g, out, inputs, **params)`` that gets them as one sequence (unpacking
    them for each input would make backward quadratic in their number); ``vjps=None`` marks a
    non-differentiable op (comparisons, argmax).
    """

    __slots__ = ("name", "forward", "vjps", "save", "save_out", "broadcasts", "variadic",
                 "unsaved")

    def __init__(self, name: str, forward, *vjps, saves: str = "", broadcasts: bool = False,
                 variadic: bool = False, differentiable: bool = True) -> None:
        self.name = name
        self.forward = forward
        self.broadcasts = broadcasts
        self.variadic = variadic
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
        # What the rules get in place of inputs when none are saved (None for variadic ops).
        self.unsaved = None if variadic else (None,) * max(len(vjps), 1)
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
