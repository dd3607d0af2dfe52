"""Compare a graphgrad function with PyTorch's on the same float64 inputs: every output
(values, and integer indices exactly), the gradients for a random upstream gradient, and
the second derivatives (the gradient of <first gradients, a random direction>)."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg


def _as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _assert_close(ours, theirs, what: str, rtol: float, atol: float) -> None:
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    if theirs.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=what)


def against_torch(ours, theirs, arrays, *, second_order: bool = True, indices: bool = True,
                  rtol: float = 1e-9, atol: float = 1e-10, seed: int = 0) -> None:
    """``ours(*gg_tensors)`` and ``theirs(*torch_tensors)`` agree on ``arrays`` (float64).

    ``indices=False`` skips comparing integer outputs (where PyTorch leaves the choice
    among ties open); the gradients then need inputs without ties.
    """
    torch = pytest.importorskip("torch")
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    xs = [gg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs, touts = _as_list(ours(*xs)), _as_list(theirs(*ts))
    assert len(outs) == len(touts)
    for k, (o, t) in enumerate(zip(outs, touts, strict=True)):
        if t.dtype.is_floating_point or indices:
            _assert_close(o.numpy(), t.detach().numpy(force=True), f"output {k}", rtol, atol)
    pairs = [(o, t) for o, t in zip(outs, touts, strict=True)
             if t.requires_grad and o.numel() > 0]
    if not pairs:
        return
    rng = np.random.default_rng(seed)
    ups = [rng.standard_normal(t.shape) for _, t in pairs]
    # an output PyTorch records but graphgrad knows to be constant (slogdet's sign) adds
    # nothing here: were PyTorch's gradient through it not zero, the sums would differ
    ours = [(o, u) for (o, _), u in zip(pairs, ups, strict=True) if o.requires_grad]
    grads = gg.grad([o for o, _ in ours], xs, [gg.tensor(u) for _, u in ours],
                    create_graph=second_order, allow_unused=True) if ours else [None] * len(xs)
    tgrads = torch.autograd.grad([t for _, t in pairs], ts, [torch.tensor(u) for u in ups],
                                 create_graph=second_order, allow_unused=True)
    for i, (g, t) in enumerate(zip(grads, tgrads, strict=True)):
        if t is None:
            assert g is None or not np.any(g.numpy()), f"input {i}: PyTorch has no gradient"
            continue
        got = np.zeros(arrays[i].shape) if g is None else g.numpy()
        _assert_close(got, t.detach().numpy(force=True), f"gradient of input {i}", rtol, atol)
    if not second_order:
        return
    used = [i for i, t in enumerate(tgrads) if t is not None and t.requires_grad]
    if not used:
        return
    directions = [rng.standard_normal(arrays[i].shape) for i in used]
    terms = [(grads[i] * gg.tensor(d)).sum() for i, d in zip(used, directions, strict=True)
             if grads[i] is not None]
    ours1 = gg.stack(terms).sum() if terms else None
    # a first gradient that is constant here (sign(x) of an L1 norm) has none
    ours2 = gg.grad(ours1, xs, allow_unused=True) if ours1 is not None and ours1.requires_grad \
        else [None] * len(xs)
    theirs2 = torch.autograd.grad(sum((tgrads[i] * torch.tensor(d)).sum() for i, d in
                                      zip(used, directions, strict=True)), ts,
                                  allow_unused=True)
    for i, (g, t) in enumerate(zip(ours2, theirs2, strict=True)):
        want = np.zeros(arrays[i].shape) if t is None else t.detach().numpy(force=True)
        got = np.zeros(arrays[i].shape) if g is None else g.numpy()
        _assert_close(got, want, f"second derivative for input {i}", rtol, atol)
