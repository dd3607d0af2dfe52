"""L-BFGS: a quasi-Newton method that rebuilds the curvature from recent steps."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphgrad.autograd import Tensor, enable_grad
from graphgrad.autograd.arrays import is_array, namespace, to_device

from ._line_search import strong_wolfe
from .optimizer import Optimizer, check_hyper

_COUNTS = ("func_evals", "n_iter")
_VECTORS = ("d", "prev_flat_grad")
_VECTOR_LISTS = ("old_dirs", "old_stps")
_NUMBER_LISTS = ("ro", "al")
_NUMBERS = ("t", "H_diag", "prev_loss")


class LBFGS(Optimizer):
    r"""L-BFGS, as ``torch.optim.LBFGS`` (Nocedal, 1980; after minFunc).

    ``step(closure)`` runs up to ``max_iter`` iterations on the parameters seen
    as one flat vector ``x``; ``closure()`` re-evaluates the model, calls
    ``backward()`` and returns the loss (it is called several times a step).
    Each iteration, with gradient ``g``::

        y = g - g_prev,  s = t_prev * d_prev          (kept if y.s > 1e-10; the last
                                                       history_size pairs are kept)
        d = -H g        (two-loop recursion over the stored pairs (s_i, y_i), with
                         H_0 = (y.s / y.y) * I from the newest pair)
        t = lr          (min(1, 1 / sum|g|) * lr on the very first iteration)
        t = strong-Wolfe step along d   (if line_search_fn == "strong_wolfe")
        x <- x + t d

    It stops early when ``max|g| <= tolerance_grad``, when ``g.d >
    -tolerance_change`` (no descent), when the step or the change in loss falls
    below ``tolerance_change``, or after ``max_eval`` closure calls (default
    ``max_iter * 5 // 4``).  One parameter group only.  ``step`` returns the loss
    of the first closure call.  State (kept with the first parameter, as
    PyTorch's): ``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``,
    ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``, ``al``;
    the vectors are flat Tensors.  See
    https://pytorch.org/docs/stable/generated/torch.optim.LBFGS.html
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 history_size: int = 100, line_search_fn: str | None = None) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _check_group(self, group: dict) -> None:
        check_hyper("LBFGS", "lr", group["lr"])
        for key in ("max_iter", "max_eval", "history_size"):
            check_hyper("LBFGS", key, group[key], 1)
        check_hyper("LBFGS", "tolerance_grad", group["tolerance_grad"], low=-np.inf)
        check_hyper("LBFGS", "tolerance_change", group["tolerance_change"], low=-np.inf)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', "
                             f"got {group['line_search_fn']!r}")

    # ------------------------------------------------- the flat parameter vector
    def _flat_grad(self) -> np.ndarray:
        self._check_grads()
        xp = namespace(self._params[0]._data)
        return xp.concatenate([xp.zeros(p.numel(), p.dtype) if p.grad is None
                               else p.grad._data.reshape(-1) for p in self._params])

    def _add_to_params(self, t, d: np.ndarray) -> None:
        """``x <- x + t d`` over the parameters' arrays."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p._data += t * d[offset:offset + n].reshape(p.shape)
            p._bump_version()
            offset += n

    def _set_params(self, arrays: list) -> None:
        for p, a in zip(self._params, arrays, strict=True):
            p._data[...] = a
            p._bump_version()

    # ---------------------------------------------------------------- step
    def step(self, closure: Callable):  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; returns the first ``closure()`` loss."""
        if closure is None:
            raise TypeError("LBFGS.step needs a closure that re-evaluates the model and "
                            "returns the loss")
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._step_count += 1
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        def evaluate() -> float:
            with enable_grad():
                return closure()

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d = _array(state.get("d"))
        t = state.get("t")
        old_dirs = [_array(v) for v in state.get("old_dirs", [])]
        old_stps = [_array(v) for v in state.get("old_stps", [])]
        ro = list(state.get("ro", []))
        H_diag = state.get("H_diag")
        prev_flat_grad = _array(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                # two-loop recursion: d = -H g
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(d) * ro[i]
                    d += (al[i] - be_i) * old_stps[i]
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                break

            evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x_init = [p._data.copy() for p in self._params]

                def along(step, x_init=x_init, d=d):
                    self._add_to_params(step, d)
                    value = float(evaluate())
                    grad = self._flat_grad()
                    self._set_params(x_init)
                    return value, grad

                loss, flat_grad, t, evals = strong_wolfe(
                    along, t, d, loss, flat_grad, gtd, tolerance_change=tolerance_change,
                    max_ls=max_eval - current_evals)
                self._add_to_params(t, d)
                opt_cond = abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_to_params(t, d)
                opt_cond = False
                if n_iter != max_iter:  # re-evaluate, unless this was the last iteration
                    loss = float(evaluate())
                    flat_grad = self._flat_grad()
                    opt_cond = abs(flat_grad).max() <= tolerance_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=_tensor(d), t=t, old_dirs=[_tensor(v) for v in old_dirs],
                     old_stps=[_tensor(v) for v in old_stps], ro=ro, H_diag=H_diag,
                     prev_flat_grad=_tensor(prev_flat_grad), prev_loss=prev_loss)
        return orig_loss

    # ----------------------------------------------------------- state_dict
    def _load_value(self, name: str, value, p: Tensor, key):
        where = f"LBFGS.load_state_dict: state {name!r} of parameter {key}"
        numel = sum(q.numel() for q in self._params)

        def vector(v):
            a = v._data if isinstance(v, Tensor) else v
            if not is_array(a) or a.dtype.kind not in "iuf" or a.ndim != 1 \
                    or a.size != numel:
                raise ValueError(f"{where} must hold flat vectors of the {numel} parameter "
                                 f"values, got {type(v).__name__} {v!r:.80}")
            return Tensor._make(to_device(a, p.device).astype(p.dtype, copy=True))

        def number(v):
            if isinstance(v, Tensor):
                v = v._data
            if is_array(v) and v.shape == () and v.dtype.kind in "iuf":
                return v[()]  # a NumPy scalar: float32 state keeps float32 arithmetic
            if v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, bool)):
                return v
            raise ValueError(f"{where} must be a number, got {type(v).__name__} {v!r:.80}")

        if name in _COUNTS:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{where} must be a non-negative integer, got {value!r}")
            return int(value)
        if name in _VECTORS:
            return None if value is None else vector(value)
        if name in _VECTOR_LISTS + _NUMBER_LISTS and not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list, got {type(value).__name__}")
        if name in _VECTOR_LISTS:
            return [vector(v) for v in value]
        if name in _NUMBER_LISTS:
            return [number(v) for v in value]
        if name in _NUMBERS:
            return number(value)
        raise ValueError(f"{where}: LBFGS keeps no state of that name")


def _array(value):
    """The array of a state Tensor (None stays None)."""
    return None if value is None else value._data


def _tensor(array):
    return None if array is None else Tensor._make(array)
