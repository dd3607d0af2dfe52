"""``Optimizer``: the base class of every optimizer, over parameter groups.

An optimizer holds ``param_groups`` (a list of dicts, each with its ``params``
and its own hyperparameters) and ``state`` (per parameter: moment estimates,
step counts).  ``step()`` reads each parameter's ``.grad`` and changes the
parameter's array in place with NumPy arithmetic: no graph is recorded, and
after the first step nothing is allocated (temporaries live in a per-optimizer
workspace that is reused from step to step).

State values are Tensors, as PyTorch's: ``state[p]["exp_avg"]`` has the
parameter's shape and dtype, and ``state[p]["step"]`` is a 0-d float32 Tensor
(float64 when ``gg.set_default_dtype(gg.float64)``), so scripts that log
``state["exp_avg_sq"].sqrt().mean()`` or move the state with ``.to(device)``
run unchanged.  Updates write into those Tensors' arrays in place.

``state_dict()`` uses PyTorch's layout, so checkpoints read the same way::

    {"state": {0: {"step": tensor(3.), "exp_avg": tensor([...]), ...}, 1: {...}},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1]}]}

Parameters are numbered in the order of the groups and of each group's list.

Every optimizer accepts PyTorch's implementation switches where PyTorch has them:
``foreach`` and ``fused`` change nothing here (there is one NumPy implementation;
both ``True`` together raise, as PyTorch); ``differentiable=True`` raises (updates
record no graph), and so does ``capturable=True`` (CUDA graphs; PyTorch rejects it
for CPU parameters too).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np

from graphgrad.autograd import Tensor, enable_grad, get_default_dtype
from graphgrad.autograd.arrays import is_array, namespace, to_device, to_host


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()  # a default that add_param_group must see replaced


def check_hyper(cls: str, name: str, value, low: float = 0.0, high: float | None = None,
                high_open: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``low <= value <= high`` (``< high``
    when ``high_open``).  NaN always fails; a non-number raises ``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{cls}: {name} must be a number, got {type(value).__name__} {value!r}")
    ok = value >= low
    if high is not None:
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        bound = "" if high is None else f" and {'<' if high_open else '<='} {high}"
        raise ValueError(f"{cls}: invalid {name}={value!r} (must be >= {low}{bound})")


def scalar_dtype() -> np.dtype:
    """The dtype of 0-d state such as ``step`` (as PyTorch: float64 when that is the
    default dtype, float32 otherwise)."""
    return np.dtype(np.float64) if get_default_dtype() == np.float64 else np.dtype(np.float32)


def _snapshot(value):
    """A copy of one state value: Tensors (also inside lists, as LBFGS keeps) are copied."""
    if isinstance(value, Tensor):
        return Tensor._make(value._data.copy())
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    return value


class Optimizer:
    """Base class: parameter groups, state, ``zero_grad``, ``state_dict``.

    ``Optimizer(params, defaults)``: ``params`` is an iterable of Tensors or of
    dicts (parameter groups, each with a ``"params"`` entry and optional
    hyperparameters that override ``defaults``).  Subclasses implement
    ``_update(p, g, state, group)``, which changes ``p._data`` in place given
    the gradient array ``g``; their state values are Tensors whose ``_data``
    the update changes in place.
    """

    _scalar_state: tuple[str, ...] = ()  # 0-d state other than "step" (kept in scalar_dtype)

    def __init__(self, params: Iterable, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)  # Tensor -> {name: value}
        self.param_groups: list[dict] = []
        self._work: dict = {}  # dtype -> flat scratch array, reused every step
        self._step_count = 0  # steps taken; schedulers warn when they step first
        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, "
                f"got a single {type(params).__name__}; wrap it in a list"
            )
        if isinstance(params, set):
            raise TypeError(f"{type(self).__name__}: parameters must be an ordered collection, "
                            "not a set (the order decides the state_dict indices)")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group: ``{"params": tensors, **hyperparameters}``; missing
        hyperparameters take the optimizer's defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, "
                            f"got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters must be an ordered collection, not a set "
                            "(the order decides the state_dict indices)")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (shape {p.shape})")
        group = {**param_group, "params": params}
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of "
                                 f"required optimization parameter {key}")
            group.setdefault(key, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group "
                             "(or twice in one)")
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group: dict) -> None:
        """The implementation switches every optimizer shares, then ``_check_group``."""
        name = type(self).__name__
        if group.get("differentiable"):
            raise NotImplementedError(
                f"{name}: differentiable=True is not supported: graphgrad's optimizers update "
                "the parameters' arrays in place and record no graph through the step")
        if group.get("capturable"):
            raise ValueError(f"{name}: capturable=True needs parameters on a CUDA or XLA "
                             "device (it is for CUDA graphs); graphgrad runs on the CPU, "
                             "where PyTorch rejects it too")
        if group.get("fused") and group.get("foreach"):
            raise RuntimeError(f"{name}: `fused` and `foreach` cannot be `True` together")
        self._check_group(group)

    def _check_group(self, group: dict) -> None:
        """Validate a group's hyperparameters (subclasses raise ValueError)."""

    # --------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.grad_fn is not None or p.grad.requires_grad:
                    data = p.grad._data  # leave the graph alone
                    p.grad = Tensor(namespace(data).zeros_like(data))
                else:
                    p.grad._data[...] = 0

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss.

        ``closure`` (optional) re-evaluates the model and returns the loss; it
        runs with gradient recording on, before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._check_grads()  # all of them, before any state changes
        self._step_count += 1
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                self._update(p, p.grad._data, self.state[p], group)
                # Like torch's in-place update: a graph that saved p must not reuse it.
                p._bump_version()
        return loss

    def _update(self, p: Tensor, g: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    def _check_grads(self) -> None:
        """Every gradient has its parameter's shape and a floating dtype (a wrongly shaped
        ``p.grad`` set by hand would otherwise fail halfway through an update)."""
        for i, group in enumerate(self.param_groups):
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                problem = (f"is a {type(g).__name__}, not a Tensor" if not isinstance(g, Tensor)
                           else f"has shape {g.shape}" if g.shape != p.shape
                           else f"has dtype {g.dtype}" if g.dtype.kind != "f" else None)
                if problem:
                    raise ValueError(
                        f"{type(self).__name__}.step: the gradient of a parameter of shape "
                        f"{p.shape} ({p.dtype}) in parameter group {i} {problem}")

    # ------------------------------------------------- helpers for updates
    @staticmethod
    def _zeros(x) -> Tensor:
        """A state Tensor of zeros shaped like the parameter array ``x``, on its device."""
        return Tensor._make(namespace(x).zeros_like(x))

    @staticmethod
    def _scalar(value) -> Tensor:
        """A 0-d state Tensor (``step``, NAdam's ``mu_product``) in ``scalar_dtype()``, on
        the host as PyTorch keeps them (read as Python numbers by the updates)."""
        return Tensor._make(np.array(value, dtype=scalar_dtype()))

    @staticmethod
    def _advance(state: dict) -> float:
        """Add one to ``state["step"]`` in place; returns the new count as a Python float."""
        step = state["step"]._data
        step += 1
        return float(step)

    def _scratch(self, like: np.ndarray, count: int) -> list[np.ndarray]:
        """``count`` temporary arrays shaped like ``like``, views into a workspace that
        grows to the largest parameter and is then reused (no per-step allocation); one
        workspace per dtype and kind of array (host or device)."""
        need = like.size * count
        key = (like.dtype, type(like))
        work = self._work.get(key)
        if work is None or work.size < need:
            work = self._work[key] = namespace(like).empty(need, like.dtype)
        n = like.size
        return [work[i * n:(i + 1) * n].reshape(like.shape) for i in range(count)]

    @staticmethod
    def _grad_term(p: np.ndarray, g: np.ndarray, weight_decay: float, maximize: bool,
                   out: np.ndarray) -> np.ndarray:
        """The gradient the update uses: ``(-g if maximize else g) + weight_decay * p``.

        Returns ``g`` itself when there is nothing to add (it is never written to).
        """
        xp = namespace(p)
        if weight_decay:
            xp.multiply(p, weight_decay, out=out)
            (xp.subtract if maximize else xp.add)(out, g, out=out)
            return out
        if maximize:
            return xp.negative(g, out=out)
        return g

    @staticmethod
    def _lerp_(x: np.ndarray, end: np.ndarray, weight: float, tmp: np.ndarray) -> None:
        """``x += weight * (end - x)`` in place, in the two forms PyTorch's ``lerp`` uses
        (the second keeps ``x == end`` exact when the weight is near 1)."""
        xp = namespace(x)
        xp.subtract(end, x, out=tmp)
        if abs(weight) < 0.5:
            tmp *= weight
            x += tmp
        else:
            tmp *= 1.0 - weight
            xp.subtract(end, tmp, out=x)

    # --------------------------------------------------------- state_dict
    def _indexed_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        A snapshot: the state Tensors are copies, so training on does not change it.
        """
        index = {id(p): i for i, p in enumerate(self._indexed_params())}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            if id(p) in index and values:
                state[index[id(p)]] = {k: _snapshot(v) for k, v in values.items()}
        state = dict(sorted(state.items()))
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and state saved by ``state_dict``.

        State values may be Tensors, arrays or numbers; they are copied into new
        Tensors: per-parameter state cast to the parameter's dtype and moved to its
        device (as PyTorch's), ``step``
        (a non-negative whole number) and other 0-d state to ``scalar_dtype()``.
        Raises ValueError, naming the key, if the groups don't match or a value is
        malformed; nothing changes then."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and "
                             "'param_groups'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter groups, the optimizer {len(self.param_groups)}")
        index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            ids = list(saved["params"])
            if len(ids) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(ids)} parameters in the state dict, "
                                 f"{len(group['params'])} in the optimizer")
            index.update(zip((int(k) for k in ids), group["params"], strict=True))
        state: defaultdict = defaultdict(dict)
        for key, values in state_dict["state"].items():
            if int(key) not in index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {key}, "
                                 "which no parameter group lists")
            p = index[int(key)]
            state[p] = {k: self._load_value(k, v, p, key) for k, v in values.items()}
        updated = [{**group, **{k: v for k, v in saved.items() if k != "params"}}
                   for saved, group in zip(saved_groups, self.param_groups, strict=True)]
        for group in updated:  # validate everything before changing anything
            self._validate(group)
        for group, new in zip(self.param_groups, updated, strict=True):
            group.update(new)
        self.state = state

    def _load_value(self, name: str, value, p: Tensor, key):
        where = f"{type(self).__name__}.load_state_dict: state {name!r} of parameter {key}"
        if isinstance(value, Tensor):
            value = value._data
        elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            value = np.asarray(value)
        if is_array(value) and (name == "step" or name in self._scalar_state):
            value = to_host(value)  # numbers, kept on the host
        if name == "step":
            step = np.asarray(value)
            if step.shape != () or step.dtype.kind not in "iuf" or not np.isfinite(step) \
                    or step < 0 or step != np.floor(step):
                raise ValueError(f"{where} must be a non-negative integer, got {value!r}")
            return self._scalar(step)
        if value is None:  # e.g. SGD's momentum buffer before its first step
            return None
        if not is_array(value) or value.dtype.kind not in "iuf":
            raise ValueError(f"{where} must be an array of the parameter's shape {p.shape}, "
                             f"got {type(value).__name__} {value!r:.80}")
        if name in self._scalar_state:
            if value.shape != ():
                raise ValueError(f"{where} must be a number, got shape {value.shape}")
            return self._scalar(value)
        if value.shape != p.shape:
            raise ValueError(f"{where} has shape {value.shape}, the parameter {p.shape}")
        return Tensor._make(to_device(value, p.device).astype(p.dtype, copy=True))

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])
