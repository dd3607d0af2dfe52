"""``Module.state_dict`` and ``Module.load_state_dict``, module by module as PyTorch's,
with their hooks.

Saving visits a module's own parameters, then its persistent buffers, then each
child; pre-hooks run before a module's part, post-hooks after its children's.

Loading copies the mapping once, then visits the modules depth first: each
module's load pre-hooks see (and may rename) the entries under its prefix, its
own entries are matched, and its children get the entries under their prefixes;
post-hooks run after a module's children.  Values are checked before anything is
copied: a wrong shape or type raises with nothing copied, and so do missing or
unexpected keys under ``strict`` unless a post-hook may still clear them (then
the copy comes first and the error after, as in PyTorch).
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from graphgrad.autograd import Tensor, no_grad
from graphgrad.autograd.arrays import is_array, to_device
from graphgrad.autograd.tensor import unwrap


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` did not match: (missing_keys, unexpected_keys)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


def save(module, destination, prefix: str, keep_vars: bool) -> OrderedDict:
    if destination is None:
        destination = OrderedDict()
        destination._metadata = OrderedDict()
    local_metadata = {"version": module._version}
    if hasattr(destination, "_metadata"):
        destination._metadata[prefix[:-1]] = local_metadata
    for hook in list(module._state_dict_pre_hooks.values()):
        hook(module, prefix, keep_vars)
    for name, value in _own_state(module).items():
        destination[prefix + name] = value if keep_vars else value.detach()
    for name, child in module._modules.items():
        if child is not None:
            save(child, destination, prefix + name + ".", keep_vars)
    for hook in list(module._state_dict_hooks.values()):
        result = hook(module, destination, prefix, local_metadata)
        if getattr(hook, "_from_public_api", False):
            if result is not None:
                raise RuntimeError("state_dict post-hook must return None")
        elif result is not None:
            destination = result
    return destination


def _own_state(module) -> dict:
    """The module's own non-None parameters, then its persistent buffers, by name."""
    state = {name: p for name, p in module._parameters.items() if p is not None}
    state.update((name, b) for name, b in module._buffers.items()
                 if b is not None and name not in module._non_persistent_buffers)
    return state


class _Loading:
    """The lists one ``load_state_dict`` call fills while it visits the modules."""

    def __init__(self, metadata) -> None:
        self.metadata = metadata
        self.missing: list = []
        self.unexpected: list = []
        self.errors: list = []
        self.updates: list = []  # (tensor, array) pairs to copy
        self.post_hooks: list = []  # (module, hook) in PyTorch's calling order

    def visit(self, module, state: dict, prefix: str) -> None:
        local_metadata = {} if self.metadata is None else self.metadata.get(prefix[:-1], {})
        for hook in list(module._load_state_dict_pre_hooks.values()):
            hook(state, prefix, local_metadata, True, self.missing, self.unexpected,
                 self.errors)
        own = _own_state(module)
        for name, tensor in own.items():
            key = prefix + name
            if key in state:
                self._match(key, tensor, state[key])
            elif name not in module._optional_on_load:
                self.missing.append(key)
        for key in state:
            if key.startswith(prefix):
                head, *rest = key[len(prefix):].split(".", 1)
                if (head not in module._modules) if rest else (head not in own):
                    self.unexpected.append(key)
        for name, child in module._modules.items():
            if child is not None:
                child_prefix = prefix + name + "."
                self.visit(child, {k: v for k, v in state.items() if k.startswith(child_prefix)},
                           child_prefix)
        self.post_hooks += [(module, hook) for hook in module._load_state_dict_post_hooks.values()]

    def _match(self, key: str, tensor: Tensor, value) -> None:
        try:
            data = unwrap(value)
            array = data if is_array(data) else np.asarray(data)  # a device's stays there
        except ValueError:  # a ragged list
            array = np.empty((), dtype=object)
        if array.dtype.kind not in "biuf":
            self.errors.append(f"while copying the parameter named {key!r}: expected a Tensor "
                               f"or an array of numbers from the checkpoint, got "
                               f"{type(value).__name__}.")
            return
        if tensor.ndim == 0 and array.shape == (1,):  # accepted by PyTorch too
            array = array.reshape(())
        if array.shape != tensor.shape:
            self.errors.append(f"size mismatch for {key}: copying a param with shape "
                               f"{array.shape} from checkpoint, the shape in current model is "
                               f"{tensor.shape}.")
            return
        self.updates.append((tensor, array))

    def raise_errors(self, module, strict: bool) -> None:
        errors = list(self.errors)
        if strict and self.unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in self.unexpected) + ".")
        if strict and self.missing:
            errors.insert(0, "Missing key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in self.missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {module._get_name()}:\n\t"
                               + "\n\t".join(errors))


def load(module, state_dict, strict: bool) -> IncompatibleKeys:
    if not hasattr(state_dict, "items"):
        raise TypeError(f"load_state_dict: expected a dict, got {type(state_dict).__name__}")
    metadata = getattr(state_dict, "_metadata", None)
    loading = _Loading(metadata)
    loading.visit(module, OrderedDict(state_dict), "")
    if loading.errors or not loading.post_hooks:
        loading.raise_errors(module, strict)
    with no_grad():
        for tensor, array in loading.updates:
            tensor.copy_(to_device(array, tensor.device).astype(tensor.dtype, copy=False))
    keys = IncompatibleKeys(loading.missing, loading.unexpected)
    for owner, hook in loading.post_hooks:
        if hook(owner, keys) is not None:
            raise RuntimeError("Hooks registered with ``register_load_state_dict_post_hook`` "
                               "are not expected to return new values; change "
                               "incompatible_keys in place instead.")
    loading.raise_errors(module, strict)
    return keys
