"""Ops on inf, nan, zero and extreme values are silent (as PyTorch's): no NumPy
RuntimeWarning from any registered op's forward or backward, while the user's own
NumPy code keeps its warnings."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opinfo import GRAD, OP_DB

import graphgrad as gg
import graphgrad.nn.functional as F

SPECIAL = (0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300, -1e-300, 1e300, -1e300, 1.0, -1.0)


def _special_arrays(draw, shapes):
    return [np.array(draw(st.lists(st.sampled_from(SPECIAL), min_size=int(np.prod(s)),
                                   max_size=int(np.prod(s)))), dtype=np.float64).reshape(s)
            for s in shapes]


def _runtime_warnings(caught) -> list[str]:
    """The RuntimeWarnings caught, less the one ``_users_log_of_zero`` makes on purpose
    (which shows that warnings are being recorded at all)."""
    found = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught
             if issubclass(w.category, RuntimeWarning)]
    mine = [f for f in found if f.startswith(__file__)]
    assert len(mine) == 1, f"the test's own NumPy warning was not recorded: {found}"
    return [f for f in found if f not in mine]


def _users_log_of_zero() -> None:
    np.log(np.zeros(1))  # the user's own NumPy code: still warns


@pytest.mark.parametrize("name", [info.name for info in OP_DB])
@settings(max_examples=15)
@given(data=st.data())
def test_op_is_silent_on_special_values(name, data):
    info = next(i for i in OP_DB if i.name == name)
    if info.joint is not None:  # shapes drawn with the arguments they follow
        shapes, kwargs = data.draw(info.joint(GRAD), label="shapes, kwargs")
    else:
        shapes = data.draw(info.shapes(GRAD), label="shapes")
        kwargs = data.draw(info.kwargs(shapes), label="kwargs")
    arrays = _special_arrays(data.draw, shapes)
    inputs = [gg.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings(record=True) as caught:
        try:
            outputs = info.op(*inputs, **kwargs)
            outputs = outputs if isinstance(outputs, (tuple, list)) else [outputs]
            floats = [o for o in outputs if isinstance(o, gg.Tensor) and o.requires_grad]
            if floats:
                gg.autograd.backward(floats, [gg.ones_like(o) for o in floats])
        except RuntimeError as err:  # an exactly singular matrix raises, as PyTorch's, in the
            singular = gg.linalg.LinAlgError  # forward or (wrapped by the engine) in backward
            if not isinstance(err, singular) and not isinstance(err.__cause__, singular):
                raise
        _users_log_of_zero()
    assert not _runtime_warnings(caught), f"{name} on {arrays}, {kwargs}"


def test_nn_functions_are_silent_on_special_values():
    x = gg.tensor([[0.0, np.inf, -np.inf], [np.nan, 1e300, -1e300]], requires_grad=True)
    target = gg.tensor([1, 0])
    probs = gg.tensor([[0.0, 1.0, 0.5], [1.0, 0.0, 0.0]], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        losses = [F.cross_entropy(x, target), F.mse_loss(x, x.detach() * 0),
                  F.binary_cross_entropy(probs, gg.ones_like(probs)), F.softmax(x, -1).sum(),
                  F.log_softmax(x, -1).sum(), F.layer_norm(x, (3,)).sum(), F.gelu(x).sum(),
                  F.normalize(x, dim=1).sum(), x.std(), x.var(dim=0).sum()]
        sum(losses).backward()
        _users_log_of_zero()
    assert not _runtime_warnings(caught)


def test_import_installs_the_filter_for_graphgrad_only():
    """A plain script: ops on special values print nothing; the user's NumPy still warns."""
    script = ("import numpy as np, graphgrad as gg\n"
              "x = gg.tensor([0.0, np.inf], requires_grad=True)\n"
              "(x.log() * x).sum().backward()\n"
              "np.log(np.zeros(1))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "RuntimeWarning" in line]
    assert len(warned) == 1 and warned[0].startswith("<string>:4"), done.stderr
