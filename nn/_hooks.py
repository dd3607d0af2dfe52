"""Hook plumbing for ``Module``: removable handles and the module backward hooks.

A module's full backward hooks see the gradients with respect to its inputs and
outputs together.  ``BackwardHook`` gets them from two identity operations
(``autograd.function.GradientCallback``: its backward lives in autograd): one
applied to the tensor inputs that require grad before ``forward`` runs, one to
the tensor outputs after.  In backward the outputs' identity runs first: it
records grad_output and calls the backward pre-hooks, which may replace it; the
inputs' identity runs once the gradient has crossed the module, calls the full
backward hooks with (grad_input, grad_output) and passes on what they return.
When no input requires grad, the full hooks are called from the outputs'
identity with grad_input all None, as PyTorch does.
"""
from __future__ import annotations

import functools
import warnings
from collections import OrderedDict
from collections.abc import Callable

from graphgrad.autograd import Tensor, is_grad_enabled, zeros
from graphgrad.autograd.function import GradientCallback

__all__ = ["RemovableHandle", "BackwardHook", "ModuleHooks", "remove_weight_hook"]


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook
    (and its flags in ``extra_dict``).  Also a context manager: removed on exit."""

    _next_id = 0

    def __init__(self, hooks: dict, *, extra_dict=None) -> None:
        self._hooks = hooks
        self._extra = ([] if extra_dict is None else
                       [extra_dict] if isinstance(extra_dict, dict) else list(extra_dict))
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        for registry in (self._hooks, *self._extra):
            registry.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def add_hook(registry: OrderedDict, hook, prepend: bool, **flags: dict) -> RemovableHandle:
    """Put ``hook`` in ``registry`` (first with ``prepend``); each ``flags`` dict whose
    keyword is true records the hook's id."""
    handle = RemovableHandle(registry, extra_dict=list(flags.values()))
    registry[handle.id] = hook
    for flag in flags.values():
        flag[handle.id] = True
    if prepend:
        registry.move_to_end(handle.id, last=False)
    return handle


def remove_weight_hook(module, kind: type, name: str, what: str):
    """Undo a weight reparametrisation done by a forward pre-hook of class ``kind`` on the
    parameter ``name`` (``what``: the function that added it, for the error): the hook's
    ``remove`` restores a plain parameter, then the hook is unregistered."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, kind) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"{what} of '{name}' not found in {module._get_name()}")


def _check_count(what: str, noun: str, result, expected: int) -> tuple:
    result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(result) != expected:
        raise RuntimeError(f"{what} returned an invalid number of {noun}, got {len(result)}, "
                           f"but expected {expected}")
    return result


class BackwardHook:
    """The full backward hooks and backward pre-hooks of one module call."""

    def __init__(self, module, hooks: list, pre_hooks: list) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = 0
        self.inputs = self.outputs = None  # see _wrap; inputs None: none requires grad

    @staticmethod
    def _wrap(values: tuple, on_grads) -> tuple:
        """``values`` with the tensors that require grad passed through one identity
        operation, and (their positions, {position: (shape, dtype)} of the other
        tensors), or None in its place when no tensor requires grad."""
        tensors = [i for i, v in enumerate(values) if isinstance(v, Tensor)]
        positions = [i for i in tensors if values[i].requires_grad]
        if not positions or not is_grad_enabled():
            return values, None
        wrapped = GradientCallback.apply(on_grads, *[values[i] for i in positions])
        wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
        out = list(values)
        for i, tensor in zip(positions, wrapped, strict=True):
            out[i] = tensor
        constants = {i: (values[i].shape, values[i].dtype) for i in tensors if i not in positions}
        return tuple(out), (positions, constants)

    @staticmethod
    def _spread(side: tuple, grads, size: int) -> tuple:
        """One entry per value: the gradient of each wrapped tensor, zeros for the other
        tensors (PyTorch's materialized gradients), None for non-tensors."""
        positions, constants = side
        full = [None] * size
        for i, g in zip(positions, grads, strict=True):
            full[i] = g
        for i, (shape, dtype) in constants.items():
            full[i] = zeros(shape, dtype=dtype)
        return tuple(full)

    def setup_input_hook(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        args, self.inputs = self._wrap(args, self._on_input_grads)
        return args

    def setup_output_hook(self, result):
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        self.n_outputs = len(outputs)
        outputs, self.outputs = self._wrap(outputs, self._on_output_grads)
        return outputs[0] if single else outputs

    def _on_output_grads(self, grads) -> tuple:
        self.grad_outputs = self._spread(self.outputs, grads, self.n_outputs)
        for hook in self.pre_hooks:
            new = hook(self.module, self.grad_outputs)
            if new is not None:
                self.grad_outputs = _check_count("Backward pre hook", "grad_output", new,
                                                 self.n_outputs)
        grad_outputs = self.grad_outputs
        if self.inputs is None:
            self._call_hooks_without_inputs()
        return tuple(grad_outputs[i] for i in self.outputs[0])

    def _call_hooks_without_inputs(self) -> None:
        warnings.warn("Full backward hook is firing when gradients are computed with respect "
                      "to module outputs since no inputs require gradients.", stacklevel=2)
        grad_inputs = (None,) * self.n_inputs
        for hook in self.hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None and not (isinstance(result, tuple)
                                           and all(r is None for r in result)):
                raise RuntimeError("Backward hook for Modules where no input requires gradient "
                                   "should always return None or None for all gradients.")
        self.grad_outputs = None

    def _on_input_grads(self, grads) -> tuple:
        if self.grad_outputs is None:  # the gradient did not come through the outputs
            return grads
        grad_inputs = self._spread(self.inputs, grads, self.n_inputs)
        for hook in self.hooks:
            new = hook(self.module, grad_inputs, self.grad_outputs)
            if new is not None:
                grad_inputs = _check_count("Backward hook", "grad_input", new, self.n_inputs)
        self.grad_outputs = None
        return tuple(grad_inputs[i] for i in self.inputs[0])


class ModuleHooks:
    """The hook registration methods of ``Module`` and the call that runs the hooks (a
    base class of ``Module``; its registries are made in ``Module.__init__``)."""

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        """``forward`` between the forward pre-hooks and hooks, with the backward hooks set
        up around it; hooks registered with ``always_call`` also run when it raises."""
        called = set()
        result = None
        try:
            for key, hook in list(self._forward_pre_hooks.items()):
                if key in self._forward_pre_hooks_with_kwargs:
                    new = hook(self, args, kwargs)
                    if new is not None:
                        if not (isinstance(new, tuple) and len(new) == 2):
                            raise RuntimeError("forward pre-hook must return None or a tuple of "
                                               f"(new_args, new_kwargs), but got {new}.")
                        args, kwargs = new
                else:
                    new = hook(self, args)
                    if new is not None:
                        args = new if isinstance(new, tuple) else (new,)
            backward_hook = None
            if self._backward_hooks or self._backward_pre_hooks:
                backward_hook = BackwardHook(self, list(self._backward_hooks.values()),
                                             list(self._backward_pre_hooks.values()))
                args = backward_hook.setup_input_hook(args)
            result = self.forward(*args, **kwargs)
            for key, hook in list(self._forward_hooks.items()):
                called.add(key)
                new = (hook(self, args, kwargs, result)
                       if key in self._forward_hooks_with_kwargs else hook(self, args, result))
                if new is not None:
                    result = new
            if backward_hook is not None:
                result = backward_hook.setup_output_hook(result)
            return result
        except Exception:
            for key, hook in list(self._forward_hooks.items()):
                if key not in self._forward_hooks_always_called or key in called:
                    continue
                try:
                    new = (hook(self, args, kwargs, result)
                           if key in self._forward_hooks_with_kwargs else hook(self, args, result))
                    result = result if new is None else new
                except Exception as err:
                    warnings.warn("module forward hook with ``always_call=True`` raised an "
                                  "exception that was silenced as another error was raised in "
                                  f"forward: {err}", stacklevel=2)
            raise

    # ------------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before ``forward``; a non-None result replaces the
        positional arguments (a single value is wrapped in a tuple).  With ``with_kwargs``
        the hook is ``hook(module, args, kwargs)`` and returns None or ``(args, kwargs)``.
        ``prepend`` runs it before the hooks already registered."""
        return add_hook(self._forward_pre_hooks, hook, prepend,
                        **({"kwargs": self._forward_pre_hooks_with_kwargs} if with_kwargs
                           else {}))

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with
        ``with_kwargs``) after ``forward``; a non-None result replaces the output.  With
        ``always_call`` it also runs when the call raises (the error is raised after)."""
        flags = {}
        if with_kwargs:
            flags["kwargs"] = self._forward_hooks_with_kwargs
        if always_call:
            flags["always"] = self._forward_hooks_always_called
        return add_hook(self._forward_hooks, hook, prepend, **flags)

    def register_full_backward_pre_hook(self, hook: Callable,
                                        prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients with respect to the module's
        outputs are known; a non-None result (a tuple, one entry per output) replaces them.
        ``grad_output`` has None for outputs that are not tensors requiring grad."""
        return add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook: Callable,
                                    prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to
        the module's positional inputs are computed; a non-None result (one entry per input)
        replaces ``grad_input``.  Entries are None for inputs that are not tensors requiring
        grad; when no input requires grad the hook fires once grad_output is known.

        The module's forward then sees its tensor inputs through an identity operation,
        and the caller gets its tensor outputs through another, so changing either in
        place is not allowed (as in PyTorch)."""
        return add_hook(self._backward_hooks, hook, prepend)

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, prefix, keep_vars)`` before this module's ``state_dict``."""
        return add_hook(self._state_dict_pre_hooks, hook, False)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata)`` after this module's
        entries (and its children's) are in ``state_dict``; it may change it in place and
        must return None."""
        hook._from_public_api = True
        return add_hook(self._state_dict_hooks, hook, False)

    def _register_state_dict_hook(self, hook: Callable) -> RemovableHandle:
        """The older post-hook: as ``register_state_dict_post_hook``, but a non-None result
        replaces the state dict (respected on the module ``state_dict`` is called on)."""
        if getattr(hook, "_from_public_api", False):
            raise RuntimeError("Cannot register the same function as the state dict post hook "
                               "that was previously registered via "
                               "register_state_dict_post_hook")
        return add_hook(self._state_dict_hooks, hook, False)

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before this module's entries are matched; it may
        rename or convert entries of ``state_dict`` in place."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def _register_load_state_dict_pre_hook(self, hook: Callable,
                                           with_module: bool = False) -> RemovableHandle:
        """As ``register_load_state_dict_pre_hook``; without ``with_module`` the hook does
        not get the module as its first argument."""
        if with_module:
            hook = functools.partial(hook, self)
        return add_hook(self._load_state_dict_pre_hooks, hook, False)

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, incompatible_keys)`` after ``load_state_dict`` matched this
        module and its children; clearing ``incompatible_keys.missing_keys`` /
        ``unexpected_keys`` in place spares the strict error.  Must return None."""
        return add_hook(self._load_state_dict_post_hooks, hook, False)

