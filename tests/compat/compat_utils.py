"""Helpers of the conformance tests: the module sets the scripts receive (graphgrad's as
a ported script imports them, PyTorch's for the comparison) and the comparisons.

A script body is written once, as a function of the torch-like modules; the test calls it
with graphgrad's and, where PyTorch is installed, with PyTorch's, after copying the
graphgrad model's state into the PyTorch model through NumPy so both start identical."""
from __future__ import annotations

import numpy as np


def to_numpy(t) -> np.ndarray:
    """A copy of a graphgrad or PyTorch tensor (or anything array-like) as a NumPy array."""
    if hasattr(t, "detach"):
        t = t.detach()
    if hasattr(t, "cpu"):
        t = t.cpu()
    return np.array(t.numpy() if hasattr(t, "numpy") else t)


def convert(obj, dst_torch):
    """``obj`` (nested dicts, lists and tuples) with every tensor or NumPy array made a
    ``dst_torch`` tensor; anything else kept."""
    if hasattr(obj, "numpy") or isinstance(obj, np.ndarray):
        return dst_torch.from_numpy(to_numpy(obj))
    if isinstance(obj, dict):
        return type(obj)((k, convert(v, dst_torch)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(convert(v, dst_torch) for v in obj)
    return obj


def assert_same_state(a_module, b_module, rtol=1e-5, atol=1e-6) -> None:
    """The two modules' state_dicts have the same keys and values within float32 tolerances."""
    a, b = a_module.state_dict(), b_module.state_dict()
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_allclose(to_numpy(a[k]), to_numpy(b[k]), rtol=rtol, atol=atol,
                                   err_msg=k)


def assert_falls(losses, factor=1.0) -> None:
    """The mean of the last quarter of ``losses`` is below ``factor`` times the first one."""
    losses = [float(v) for v in losses]
    tail = losses[-max(1, len(losses) // 4):]
    assert np.all(np.isfinite(losses)), losses
    assert np.mean(tail) < factor * losses[0], losses
