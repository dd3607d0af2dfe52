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


def copy_state(src_module, dst_module, dst_torch) -> None:
    """Load ``src_module``'s state_dict into ``dst_module`` (of the other library), every
    entry passing through NumPy; strict, so the two must have the same keys."""
    state = {k: dst_torch.from_numpy(to_numpy(v)) for k, v in src_module.state_dict().items()}
    dst_module.load_state_dict(state)


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
