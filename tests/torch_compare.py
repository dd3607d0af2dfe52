"""One check shared by the test files that compare ops with PyTorch: values, gradients
and second derivatives in float64 (skipped by the callers where torch is missing)."""
from __future__ import annotations

import numpy as np

import graphgrad as gg


def assert_matches_torch(torch, ours_fn, theirs_fn, arrays, seed: int = 0) -> None:
    """``ours_fn(*tensors)`` against ``theirs_fn(*torch_tensors)`` on float64 copies of
    ``arrays``: the output, the vector-Jacobian product with a random upstream g, and the
    derivative of <that product, v> for a random v (second order, where it is not zero)."""
    ours = [gg.tensor(a, dtype=gg.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = ours_fn(*ours), theirs_fn(*theirs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(out.shape)
    ours_g = gg.grad(out, ours, gg.tensor(g), create_graph=True, allow_unused=True)
    theirs_g = torch.autograd.grad(ref, theirs, torch.tensor(g), create_graph=True,
                                   allow_unused=True)
    ours_g = [gg.zeros_like(x) if a is None else a for a, x in zip(ours_g, ours, strict=True)]
    theirs_g = [torch.zeros_like(x) if b is None else b for b, x in zip(theirs_g, theirs,
                                                                          strict=True)]
    for a, b in zip(ours_g, theirs_g, strict=True):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    vs = [rng.standard_normal(np.shape(a)) for a in arrays]
    ours_s = sum((a * gg.tensor(v)).sum() for a, v in zip(ours_g, vs, strict=True))
    theirs_s = sum((b * torch.tensor(v)).sum() for b, v in zip(theirs_g, vs, strict=True))
    ours_h = gg.grad(ours_s, ours, allow_unused=True) if ours_s.requires_grad else [None] * len(
        ours)
    theirs_h = torch.autograd.grad(theirs_s, theirs, allow_unused=True) \
        if theirs_s.requires_grad else [None] * len(theirs)
    for a, b, x in zip(ours_h, theirs_h, arrays, strict=True):
        a = np.zeros(np.shape(x)) if a is None else a.numpy()
        b = np.zeros(np.shape(x)) if b is None else b.detach().numpy()
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
