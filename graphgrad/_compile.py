"""``compile``, as ``torch.compile``: graphgrad runs eagerly and compiles nothing.

``compile(model)`` returns an ``OptimizedModule`` that calls the model unchanged, as
PyTorch's wrapper does (its state_dict keys carry the same ``_orig_mod.`` prefix and
other attributes are the model's), so scripts that compile, train and save work;
``compile(fn)`` returns ``fn`` itself.  Used as ``@compile`` or ``@compile(mode=...)``,
it decorates.  The options (``mode``, ``fullgraph``, ``dynamic``, ``backend``,
``options``, ``disable``) are accepted and change nothing.
"""
from __future__ import annotations

from graphgrad.nn import Module


class OptimizedModule(Module):
    """A compiled module: calls ``_orig_mod``, whose attributes it shows as its own."""

    def __init__(self, mod: Module) -> None:
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor",  # noqa: A001
            mode=None, options=None, disable: bool = False):
    if model is None:  # @compile(...)
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                  mode=mode, options=options, disable=disable)
    if isinstance(model, Module):
        return OptimizedModule(model)
    if not callable(model):
        raise TypeError(f"compile: expected a Module or a callable, got {type(model).__name__}")
    return model
