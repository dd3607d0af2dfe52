"""Gradient checking against central differences, as the course teaches it.

For a function f and a random upstream gradient v (never all ones, which hides
transposition bugs on square shapes), the analytic vector-Jacobian product
g = v^T J computed by backward is compared with the numerical one

    g_num[j] = (L(x + eps e_j) - L(x - eps e_j)) / (2 eps),   L(x) = sum(v * f(x)),

in float64.  The report gives the relative difference

    ||g_num - g|| / (||g_num|| + ||g||)

which reads: about 1e-7 great, 1e-5 look again, 1e-3 or more wrong.  Inputs may live on a
device: the function runs there, and the comparison is made on host copies.
"""
from __future__ import annotations

import numpy as np

from graphgrad.autograd.arrays import to_host
from graphgrad.autograd.engine import grad
from graphgrad.autograd.grad_mode import enable_grad, no_grad
from graphgrad.autograd.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with central differences."""


def relative_difference(numerical: np.ndarray, analytic: np.ndarray) -> float:
    """||g_num - g|| / (||g_num|| + ||g||), 0 when both are zero."""
    denom = np.linalg.norm(numerical) + np.linalg.norm(analytic)
    return float(np.linalg.norm(numerical - analytic) / denom) if denom else 0.0


def verdict(rel: float) -> str:
    """The course's reading of a relative difference."""
    if rel < 1e-7 * 10:
        return "great (about 1e-7 or less)"
    if rel < 1e-5 * 10:
        return "look again (about 1e-5)"
    return "probably wrong (1e-3 or more)"


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _prepare(inputs) -> tuple:
    prepared = []
    for x in _as_tuple(inputs):
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            t = Tensor(x._data, dtype=np.float64)
            t.requires_grad_(x.requires_grad)
            prepared.append(t)
        else:
            prepared.append(x)
    return tuple(prepared)


def _differentiable_outputs(outputs) -> list:
    return [o for o in _as_tuple(outputs) if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              seed: int = 0, raise_exception: bool = True) -> bool:
    """Check ``fn``'s gradients with respect to every input that requires grad.

    Inputs are cast to float64 copies.  Returns True, or raises GradcheckError
    naming the input, the worst element and the relative difference (returns
    False instead when ``raise_exception`` is False).
    """
    inputs = _prepare(inputs)
    rng = np.random.default_rng(seed)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    outputs = _differentiable_outputs(fn(*inputs))
    vs = [rng.standard_normal(o.shape) for o in outputs]
    if any(o.requires_grad for o in outputs):
        live = [(o, v) for o, v in zip(outputs, vs, strict=False) if o.requires_grad]
        analytic = grad([o for o, _ in live], [inputs[i] for i in wrt],
                        grad_outputs=[Tensor(v, dtype=o.dtype).to(o.device) for o, v in live],
                        allow_unused=True)
    else:
        analytic = [None] * len(wrt)

    def loss() -> float:
        with no_grad():
            outs = _differentiable_outputs(fn(*inputs))
        pairs = zip(outs, vs, strict=True)
        return float(sum(np.sum(v * to_host(o._data).astype(np.float64)) for o, v in pairs))

    for k, i in enumerate(wrt):
        x = inputs[i]
        a = np.zeros(x.shape) if analytic[k] is None else \
            to_host(analytic[k]._data).astype(np.float64)
        if a.shape != x.shape:
            return _fail(raise_exception, f"gradcheck: the gradient of input {i} has shape "
                                          f"{a.shape}, expected {x.shape}")
        numerical = np.zeros(x.shape)
        flat = x._data.reshape(-1)  # a view: perturbations write through to x
        num_flat = numerical.reshape(-1)
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = loss()
            flat[j] = original - eps
            minus = loss()
            flat[j] = original
            num_flat[j] = (plus - minus) / (2 * eps)
        if not np.allclose(a, numerical, atol=atol, rtol=rtol, equal_nan=True):
            worst = int(np.argmax(np.abs(a - numerical)))
            index = np.unravel_index(worst, x.shape) if x.shape else ()
            rel = relative_difference(numerical, a)
            return _fail(
                raise_exception,
                f"gradcheck: the gradient of input {i} (shape {x.shape}) disagrees with central "
                f"differences. Worst element {tuple(int(n) for n in index)}: analytic "
                f"{a.reshape(-1)[worst]:.6g}, numerical {numerical.reshape(-1)[worst]:.6g}. "
                f"Relative difference ||g_num - g|| / (||g_num|| + ||g||) = {rel:.3g}: "
                f"{verdict(rel)}.",
            )
    return True


def _fail(raise_exception: bool, message: str) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  seed: int = 0, raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> v^T J(inputs) built with
    ``create_graph=True``, which differentiates every backward rule once more."""
    inputs = _prepare(inputs)
    rng = np.random.default_rng(seed + 1)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outputs = [o for o in _differentiable_outputs(fn(*inputs)) if o.requires_grad]
    vs = tuple(Tensor(rng.standard_normal(o.shape), dtype=np.float64).to(o.device).requires_grad_()
               for o in outputs)
    n = len(inputs)

    def first_derivatives(*args):
        xs, gs = args[:n], args[n:]
        with enable_grad():  # gradcheck evaluates its function under no_grad
            outs = [o for o in _differentiable_outputs(fn(*xs)) if o.requires_grad]
            grads = grad(outs, [xs[i] for i in wrt], grad_outputs=list(gs), create_graph=True,
                         allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + vs, eps=eps, atol=atol, rtol=rtol, seed=seed,
                     raise_exception=raise_exception)
