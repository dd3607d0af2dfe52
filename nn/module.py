"""``Module``: the base class of layers and models, as ``torch.nn.Module``.

A Module owns three ordered registries, filled by plain attribute assignment in
``__init__``:

- ``_parameters``: ``Parameter`` values (learnable, returned by ``parameters()``);
- ``_buffers``: Tensors registered with ``register_buffer`` (state that is saved
  but not learned, e.g. BatchNorm's running statistics);
- ``_modules``: child Modules.

Names, order and ``state_dict`` keys follow PyTorch ("0.weight",
"bn.running_mean", ...), so a PyTorch ``state_dict`` converted to NumPy arrays
loads unchanged.  A Module holds no gradient code: ``forward`` composes
differentiable operations.

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(4, 8)
            self.out = nn.Linear(8, 2)

        def forward(self, x):
            return self.out(F.relu(self.hidden(x)))
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator

import numpy as np

from graphgrad.autograd import Tensor
from graphgrad.autograd.arrays import namespace, to_device
from graphgrad.autograd.devices import Device, check_device
from graphgrad.autograd.grad_mode import STATE as _STATE

from . import _state_dict
from ._hooks import ModuleHooks, RemovableHandle
from .parameter import Parameter

__all__ = ["Module", "RemovableHandle"]


_HOOK_REGISTRIES = (
    "_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
    "_backward_pre_hooks", "_state_dict_hooks", "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks",
)


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module(ModuleHooks):
    """Base class of every layer and model; see the module docstring.

    Subclasses call ``super().__init__()`` first, assign Parameters, buffers
    and sub-Modules as attributes, and define ``forward``.  Calling the module
    runs the forward pre-hooks, ``forward`` and the forward hooks.
    """

    training: bool
    # state_dict entries that a checkpoint may lack (PyTorch accepts their absence from
    # checkpoints of older versions): the module keeps its own value.
    _optional_on_load: tuple = ()
    _version: int = 1  # recorded in state_dict()._metadata, as PyTorch's

    def __init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers", set())
        setattr_(self, "_modules", {})
        for registry in _HOOK_REGISTRIES:
            setattr_(self, registry, OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        # Nodes recorded during this call are stamped with (module, outer call): autograd.viz
        # groups them by module.  A new tuple per call, so repeated calls stay distinguishable.
        outer = _STATE.scope
        _STATE.scope = (self, outer)
        try:
            if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                    or self._backward_pre_hooks):
                return self.forward(*args, **kwargs)
            return self._call_with_hooks(args, kwargs)
        finally:
            _STATE.scope = outer

    # ------------------------------------------------------------ registration
    def _check_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {what} before Module.__init__() call "
                f"(call super().__init__() first in {type(self).__name__}.__init__)"
            )

    def _check_name(self, name, kind: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f'{kind} name can\'t be empty or contain ".", got {name!r}')
        if hasattr(self, name) and not self._owns(name):
            raise KeyError(f"attribute {name!r} already exists")

    def _owns(self, name: str) -> bool:
        return name in self._parameters or name in self._buffers or name in self._modules

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (a Parameter, or None for an absent optional one) as ``name``."""
        self._check_init("parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} object to parameter {name!r} "
                f"(nn.Parameter or None required)"
            )
        self._buffers.pop(name, None)
        self._modules.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a Tensor that is part of the module's state but not learned.

        A persistent buffer is saved in ``state_dict``; a non-persistent one is not.
        """
        self._check_init("buffers")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign {type(tensor).__name__} object to buffer {name!r} "
                f"(Tensor or None required)"
            )
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module as ``name`` (also what ``self.name = module`` does)."""
        self._check_init("child modules")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init("parameters")
            self.__dict__.pop(name, None)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    f"(nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._check_init("child modules")
            self.__dict__.pop(name, None)
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = value
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} "
                    f"(nn.Module or None expected)"
                )
            self._modules[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer {name!r} "
                    f"(Tensor or None expected)"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # -------------------------------------------------------------- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every descendant, depth first, each once."""
        stack = [(prefix, self)]
        if memo is None:
            memo = set()
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield name, module
            children = [(f"{name}.{key}" if name else key, child)
                        for key, child in module._modules.items() if child is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for the direct children, each module once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True):
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) in registration order; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target: str) -> Module:
        """The descendant at the dotted path ``target`` ("" is self)."""
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(f"{module._get_name()} has no submodule {part!r} "
                                     f"(looking up {target!r})")
            module = module._modules[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target`` (e.g. "encoder.0.weight")."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute {name!r} (looking up "
                                 f"{target!r})")
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"{name!r} is not an nn.Parameter (looking up {target!r})")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target`` (e.g. "bn.running_mean")."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute {name!r} (looking up "
                                 f"{target!r})")
        if name not in module._buffers:
            raise AttributeError(f"{name!r} is not a buffer (looking up {target!r})")
        return module._buffers[name]

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every child (recursively) and then on self; returns self.

        E.g. ``model.apply(init_weights)`` to re-initialise every Linear.
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=False`` is evaluation) here and in every descendant."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout is the identity, BatchNorm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (e.g. False to freeze a backbone)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to None (default) or to zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = Tensor._make(namespace(param.grad._data).zeros_like(
                    param.grad._data))

    # ------------------------------------------------------------ dtype moves
    def to(self, *args, dtype=None, device=None, non_blocking: bool = False) -> Module:
        """Move parameters, their gradients and buffers to ``device`` and cast the
        floating point ones to ``dtype``, in place (the Parameter objects stay the same,
        as PyTorch's): ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(tensor)``.  A device no backend serves raises, naming it."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype, device = arg.dtype, arg.device
            elif isinstance(arg, (str, int, Device)):
                device = arg
            else:
                dtype = arg
        where = None if device is None else check_device("Module.to", device)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"to: nn.Module.to only accepts floating point dtypes, got "
                                f"{dtype}")
        if where is None and dtype is None:
            return self

        def convert(data):
            if where is not None:
                data = to_device(data, where, "Module.to")
            return data.astype(dtype) if dtype is not None and data.dtype.kind == "f" else data

        for module in self.modules():
            for registry in (module._parameters, module._buffers):
                for tensor in registry.values():
                    if tensor is not None:
                        tensor._data = convert(tensor._data)
                        if tensor.grad is not None:
                            tensor.grad = Tensor._make(convert(tensor.grad._data))
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def half(self) -> Module:
        return self.to(np.float16)

    def cpu(self) -> Module:
        """Move parameters and buffers to the CPU (``to("cpu")``)."""
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        """Move parameters and buffers to a CUDA device (``to("cuda")``; an int is the
        device's index); raises, naming what is missing, where no backend serves it."""
        check_device("Module.cuda", "cuda" if device is None else device)
        return self.to("cuda" if device is None else device)

    # ------------------------------------------------------------- state dict
    def state_dict(self, *args, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Every parameter and persistent buffer by its dotted name, as PyTorch orders
        them: a module's own parameters, then its buffers, then each child's.

        Values are detached Tensors sharing memory with the module's (the
        Parameters themselves with ``keep_vars=True``).  State dict pre- and
        post-hooks run around each module's part; ``_metadata`` holds each module's
        ``_version`` by prefix, as PyTorch's.
        """
        if args:  # PyTorch's deprecated positional form (destination, prefix, keep_vars)
            warnings.warn("Positional args are being deprecated, use kwargs instead.",
                          FutureWarning, stacklevel=2)
            destination = args[0]
            prefix = args[1] if len(args) > 1 else prefix
            keep_vars = args[2] if len(args) > 2 else keep_vars
        return _state_dict.save(self, destination, prefix, keep_vars)

    def _state_tensors(self, prefix: str = "") -> dict:
        """{key: the live Parameter or buffer} for every state_dict key."""
        return dict(_state_dict.save(self, None, prefix, True))

    def load_state_dict(self, state_dict, strict: bool = True) -> tuple:
        """Copy values (Tensors, NumPy arrays or numbers) into the parameters and buffers.

        The copy is in place and cast to each tensor's dtype, so optimizers keep
        their references.  A value whose shape differs raises ``RuntimeError``;
        with ``strict`` (default) so do missing and unexpected keys, every
        offending key named at once, and nothing is copied.  Returns
        ``(missing_keys, unexpected_keys)``.  As PyTorch, a batch norm's
        ``num_batches_tracked`` may be absent (older checkpoints lack it); the
        module then keeps its own.  Load pre-hooks run before each module's keys
        are matched; post-hooks run after the copy and may clear the key lists in
        place to spare the strict error (raised after the copy, as PyTorch's).
        """
        return _state_dict.load(self, state_dict, strict)

    # ------------------------------------------------------------------- repr
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its hyperparameters)."""
        return ""

    def __repr__(self) -> str:
        lines = [line for line in self.extra_repr().split("\n") if line]
        for name, module in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(module), 2))
        if not lines:
            return f"{self._get_name()}()"
        if len(lines) == 1 and not self._modules:
            return f"{self._get_name()}({lines[0]})"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"
