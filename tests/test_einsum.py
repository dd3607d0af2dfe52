"""einsum with labels repeated inside an operand (diagonals, traces) and with ``...``:
every case against PyTorch (values, first and second derivatives) and central
differences (gradcheck, gradgradcheck), known values, and errors naming the subscripts.
The registry entry (tests/opinfo.py) draws these cases too, on hypothesis shapes."""
from __future__ import annotations

import numpy as np
import pytest
from against_torch import against_torch

import graphgrad as gg
from graphgrad.testing import gradcheck, gradgradcheck

# subscripts: operand shapes (size-1 dims broadcast, in "..." and in labelled dims)
CASES = {
    "ii->i": [(3, 3)], "ii": [(3, 3)], "ii->": [(2, 2)], "bii->bi": [(2, 3, 3)],
    "iii->i": [(2, 2, 2)], "iij->ij": [(2, 2, 3)], "ij,jj->i": [(2, 3), (3, 3)],
    "ii,i->i": [(3, 3), (3,)], "i,ii->": [(3,), (3, 3)], "ii,jj->ij": [(2, 2), (3, 3)],
    "...ii->...i": [(2, 1, 3, 3)], "i...i->...": [(3, 2, 3)],
    "bij,bjj->bi": [(2, 3, 4), (1, 4, 4)], "...ij,...jk->...ik": [(2, 1, 2, 3), (4, 3, 2)],
    "ij,jk": [(2, 1), (3, 4)], "...i,i...->...": [(2, 3), (3, 2)],
}


def _inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("subscripts", sorted(CASES))
def test_matches_pytorch_to_second_order(subscripts):
    torch = pytest.importorskip("torch")
    against_torch(lambda *xs: gg.einsum(subscripts, *xs),
                  lambda *xs: torch.einsum(subscripts, *xs), _inputs(CASES[subscripts]),
                  rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("subscripts", sorted(CASES))
def test_gradients_against_central_differences(subscripts):
    xs = [gg.tensor(a, requires_grad=True) for a in _inputs(CASES[subscripts], seed=1)]
    assert gradcheck(lambda *t: gg.einsum(subscripts, *t), xs)
    assert gradgradcheck(lambda *t: gg.einsum(subscripts, *t), xs)


def test_known_values():
    a = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert gg.einsum("ii->i", a).tolist() == [1.0, 4.0]
    trace = gg.einsum("ii", a)
    assert trace.item() == 5.0
    trace.backward()  # the gradient of a trace: the identity, written onto the diagonal
    assert a.grad.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    b = gg.tensor(np.arange(8.0).reshape(2, 2, 2))
    assert gg.einsum("bii->bi", b).tolist() == [[0.0, 3.0], [4.0, 7.0]]
    assert gg.einsum("iii->i", b).tolist() == [0.0, 7.0]
    assert gg.einsum("...ii->...", b).tolist() == [3.0, 11.0]


def test_size_zero():
    e = gg.zeros((0, 0), requires_grad=True)
    out = gg.einsum("ii->i", e)
    assert out.shape == (0,)
    gg.einsum("ii", e).backward()
    assert e.grad.shape == (0, 0)


@pytest.mark.parametrize("subscripts, shapes, match", [
    ("ii->i", [(2, 3)], r"label 'i' repeats in an operand of shape \(2, 3\) with sizes 2 and 3"),
    ("ij,jk->ik", [(2, 3), (4, 2)], r"label 'j' of 'ij,jk->ik' has sizes 3 and 4"),
    ("ij->ii", [(2, 2)], "output label 'i' repeats"),
    ("ij->k", [(2, 2)], "output label 'k' of 'ij->k' names no input dim"),
    ("ij,jk", [(2, 2)], "names 2 operands, got 1"),
    ("ijk", [(2, 2)], "has 2 dims but its subscripts name 3"),
])
def test_errors_name_the_subscripts(subscripts, shapes, match):
    with pytest.raises(ValueError, match=match):
        gg.einsum(subscripts, *[gg.ones(s) for s in shapes])
