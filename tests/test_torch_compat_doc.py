"""docs/torch-compat.md stays true: its generated tables equal what
docs/tools/compat_table.py makes of the installed torch and graphgrad, and the
behaviours its text describes are still graphgrad's.

When a table test fails, regenerate the tables:
    .venv/bin/python docs/tools/compat_table.py --write
When a statement test fails, graphgrad changed: rewrite that statement in the page
(and its entry in STATEMENTS below).
"""
import importlib.util
import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn as nn

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "torch-compat.md"
REGENERATE = ".venv/bin/python docs/tools/compat_table.py --write"


@pytest.fixture(scope="module")
def generator():
    path = ROOT / "docs" / "tools" / "compat_table.py"
    spec = importlib.util.spec_from_file_location("compat_table", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # typing.NamedTuple looks its module up here
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.fixture(scope="module")
def blocks(generator):
    return generator.generate()


def test_every_table_is_marked_once(generator, blocks):
    page = PAGE.read_text()
    for key in blocks:
        assert page.count(generator.marker(key, "begin")) == 1, key
        assert page.count(generator.marker(key, "end")) == 1, key
    assert sorted(generator.embedded(page)) == sorted(blocks)


def test_tables_are_up_to_date(generator, blocks):
    embedded = generator.embedded(PAGE.read_text())
    stale = [key for key in blocks if embedded.get(key) != blocks[key]]
    assert not stale, f"docs/torch-compat.md: tables out of date: {stale}; run {REGENERATE}"


def test_a_removed_name_changes_its_table(generator, blocks, monkeypatch):
    # The tables follow the code: without F.relu, relu leaves the present list.
    monkeypatch.delattr(gg.nn.functional, "relu")
    changed = generator.generate()["torch.nn.functional"]
    assert changed != blocks["torch.nn.functional"]
    assert "`relu`" in changed.split("<details>")[1]


def test_rewrite_replaces_only_the_marked_text(generator, blocks):
    page = PAGE.read_text()
    assert generator.rewrite(page, blocks) == page
    doubled = page + "\n" + generator.marker("summary", "begin") + "\nx\n" \
        + generator.marker("summary", "end") + "\n"
    with pytest.raises(SystemExit, match="exactly one"):
        generator.rewrite(doubled, blocks)


# ---------------------------------------------------------------- the page's statements
def _raises(error, call) -> bool:
    try:
        call()
    except error:
        return True
    return False


def _view_change_while_recording():
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (w * 2)[:2].mul_(3)


def _use_a_view_of_a_changed_base() -> None:
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = w * 2
    v = a[:2]
    a.mul_(3)
    v.sum()


def _torch_checkpoint() -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    buffer.seek(0)
    return buffer


def _weights_cross_both_ways() -> bool:
    ours, theirs = nn.LSTM(3, 4), torch.nn.LSTM(3, 4)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    back = torch.nn.LSTM(3, 4)
    back.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    return all(np.array_equal(a.numpy(), b.numpy())
               for a, b in zip(theirs.state_dict().values(), back.state_dict().values(),
                               strict=True))


def _gpu_checkpoint_loads_on_the_cpu() -> bool:
    from graphgrad.testing.strict_arrays import strict_cuda

    buffer = io.BytesIO()
    with strict_cuda():
        gg.save({"w": gg.ones(2, device="cuda")}, buffer)
        numpy_raises = _raises(TypeError, lambda: gg.ones(2, device="cuda").numpy())
    buffer.seek(0)
    return numpy_raises and gg.load(buffer)["w"].device == gg.device("cpu")


def _without_a_backend_cuda_is_unavailable() -> bool:
    from device_under_test import no_cuda

    with no_cuda():
        return not gg.cuda.is_available() and gg.cuda.device_count() == 0


def _pin_memory_warns() -> bool:
    from graphgrad.utils.data import DataLoader, TensorDataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(DataLoader(TensorDataset(gg.ones(4, 2)), batch_size=2, pin_memory=True))
    return any("pin_memory" in str(w.message) for w in caught)


def _singular_det_has_zero_gradient() -> bool:
    a = gg.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)
    gg.linalg.det(a).backward()
    return not a.grad.numpy().any()


def _seeded_draws_differ() -> bool:
    gg.manual_seed(0)
    torch.manual_seed(0)
    return not np.allclose(gg.randn(3).numpy(), torch.randn(3).numpy())


def _autocast_keeps_float32() -> bool:
    with gg.autocast("cpu"):
        return (gg.ones(2, 2) @ gg.ones(2, 2)).dtype == gg.float32


x23 = gg.arange(6.0).reshape(2, 3)

# (words of the page, whitespace-normalised; a check that they are still true)
STATEMENTS = [
    ("`t.dtype == gg.float32` is True, but `t.dtype is gg.float32` is False",
     lambda: x23.dtype == gg.float32 and x23.dtype is not gg.float32),
    ("NumPy's other real dtypes work when given as NumPy dtypes (`dtype=numpy.int16`)",
     lambda: gg.zeros(2, dtype=np.int16).dtype == np.int16),
    ("Complex data is refused (`gg.tensor` raises TypeError)",
     lambda: _raises(TypeError, lambda: gg.tensor(np.ones(2, dtype=np.complex64)))),
    ("but every use as a dtype (`gg.zeros(2, dtype=gg.bfloat16)`, `t.to(gg.bfloat16)`, "
     "`model.to(gg.bfloat16)`) raises a TypeError",
     lambda: all(_raises(TypeError, call) for call in (
         lambda: gg.zeros(2, dtype=gg.bfloat16), lambda: x23.to(gg.bfloat16),
         lambda: nn.Linear(1, 1).to(gg.bfloat16)))),
    ("an integer tensor with a float32 tensor or a Python float gives float32, integer `/` "
     "integer gives float32, a 0-d float64 tensor does not turn a float32 tensor into "
     "float64, uint8 with int8 gives int16",
     lambda: (gg.tensor([1]) + gg.ones(1)).dtype == gg.float32
     and (gg.tensor([1]) * 1.5).dtype == gg.float32
     and (gg.tensor([3]) / gg.tensor([2])).dtype == gg.float32
     and (gg.ones(1) + gg.tensor(1.0, dtype=gg.float64)).dtype == gg.float32
     and (gg.tensor([1], dtype=gg.uint8) + gg.tensor([1], dtype=gg.int8)).dtype == np.int16),
    ("graphgrad promotes to float64 and carries on, and `mean` of an integer tensor returns "
     "float32 where PyTorch raises",
     lambda: (gg.ones(2, 2) @ gg.ones(2, 2, dtype=gg.float64)).dtype == gg.float64
     and nn.Linear(2, 2)(gg.ones(1, 2, dtype=gg.float64)).dtype == gg.float64
     and gg.tensor([1, 2]).mean().dtype == gg.float32),
    ("the same seed gives the same run bit for bit, but not the numbers PyTorch draws",
     _seeded_draws_differ),
    ("`gg.get_rng_state()` returns a dict", lambda: isinstance(gg.get_rng_state(), dict)),
    ("PyTorch's `.pt`/`.pth` files (zip and legacy) are read by `gg.load` without PyTorch",
     lambda: gg.load(_torch_checkpoint())["w"].tolist() == [1.0, 1.0]),
    ("keys and shapes are the same, so `model.load_state_dict({k: v.numpy() for k, v in "
     "torch_model.state_dict().items()})` loads a PyTorch model's weights",
     _weights_cross_both_ways),
    ("Saving a whole `Module` raises and points to `state_dict()`",
     lambda: _raises(TypeError, lambda: gg.save(nn.Linear(1, 1), io.BytesIO()))),
    ("`gg.compile(model)` returns a wrapper that calls the model unchanged",
     lambda: list(gg.compile(nn.Linear(1, 1)).state_dict()) == ["_orig_mod.weight",
                                                                 "_orig_mod.bias"]),
    ("shapes print as plain tuples, `(2, 3)`", lambda: repr(x23.shape) == "(2, 3)"),
    ("`gg.Tensor([1, 2])` is an int64 tensor (PyTorch's legacy constructor gives float32)",
     lambda: gg.Tensor([1, 2]).dtype == gg.int64 and gg.Tensor(2, 3).shape == (2, 3)),
    ("A helper that scripts often call and is missing for now (AttributeError): "
     "`set_printoptions`",
     lambda: not hasattr(gg, "set_printoptions") and hasattr(gg, "allclose")),
    ("(there is no `is_inference()`)", lambda: not hasattr(gg.Tensor, "is_inference")),
    ("`t.numpy()` of a tensor that requires grad returns its array",
     lambda: isinstance(gg.ones(2, requires_grad=True).numpy(), np.ndarray)),
    ("`np.exp(t)` and `np.sum(t)` raise TypeError",
     lambda: _raises(TypeError, lambda: np.exp(x23))
     and _raises(TypeError, lambda: np.sum(x23))),
    ("While a graph is being recorded, an in-place change of a view raises",
     lambda: _raises(RuntimeError, _view_change_while_recording)),
    ("(`v = a[:2]; a.mul_(3)`) raises when it is next used in a recorded operation",
     lambda: _raises(RuntimeError, _use_a_view_of_a_changed_base)),
    ("(a transposed tensor flattened, `x.t().view(-1)`) returns a copy",
     lambda: not np.shares_memory(x23.t().view(-1).numpy(), x23.numpy())),
    ("`//` (`floor_divide`) is piecewise constant and its result does not require grad",
     lambda: not (gg.ones(2, requires_grad=True) // 2).requires_grad),
    ("Memory-layout methods (`stride`, `storage`, `data_ptr`, `is_contiguous`) are missing",
     lambda: not any(hasattr(x23, n) for n in ("stride", "storage", "data_ptr",
                                               "is_contiguous"))),
    ("`gradcheck` and `gradgradcheck` live in `graphgrad.testing`, not `graphgrad.autograd`",
     lambda: callable(gg.testing.gradcheck) and not hasattr(gg.autograd, "gradcheck")),
    ("computing `jvp` and `hvp` by the double-vjp construction",
     lambda: callable(gg.autograd.functional.jacobian)),
    ("Module hooks are PyTorch's: forward (pre) hooks with `with_kwargs`, full backward",
     lambda: hasattr(nn.Module, "register_full_backward_hook")
     and hasattr(nn.Module, "register_state_dict_pre_hook")),
    ("`nn.utils.rnn` has the packed sequences (`pack_padded_sequence`,",
     lambda: hasattr(nn.utils.rnn, "pack_padded_sequence")),
    ("`capturable=True` and `differentiable=True` raise",
     lambda: _raises(NotImplementedError, lambda: gg.optim.Adam(
         nn.Linear(1, 1).parameters(), differentiable=True))),
    ("`pin_memory=True` warns that it has no effect", _pin_memory_warns),
    ("`t.numpy()` of a GPU tensor raises: `t.cpu().numpy()`. Without CuPy or a GPU, "
     "`gg.cuda.is_available()` is False", _without_a_backend_cuda_is_unavailable),
    ("a checkpoint saved on a GPU loads on the CPU by default", _gpu_checkpoint_loads_on_the_cpu),
    ("Complex matrices are not supported.", lambda: _raises(
        TypeError, lambda: gg.linalg.inv(np.eye(2) * 1j))),
    ("`det` of an exactly singular matrix has gradient 0", _singular_det_has_zero_gradient),
    ("`autocast(\"cpu\")` changes nothing", _autocast_keeps_float32),
]


@pytest.mark.parametrize("words, holds", STATEMENTS, ids=[s[0][:40] for s in STATEMENTS])
def test_statement_of_the_page_holds(words, holds):
    text = " ".join(PAGE.read_text().split())
    assert words in text, f"docs/torch-compat.md no longer says: {words!r}; update STATEMENTS"
    assert holds(), f"docs/torch-compat.md says {words!r}, which is no longer true: update it"
