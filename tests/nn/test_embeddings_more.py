"""EmbeddingBag and F.embedding_bag (modes, offsets, padding, per-sample weights, max_norm),
Embedding's scale_grad_by_freq and from_pretrained, ParameterList and ParameterDict: values
and gradients equal PyTorch's in float64, gradient checks, and errors naming the layer."""
from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.testing import gradcheck, gradgradcheck

INPUT = np.array([1, 2, 4, 4, 3, 5, 0, 1])
OFFSETS = np.array([0, 2, 2, 5])  # bags [1, 2], [], [4, 4, 3], [5, 0, 1]


def _compare(torch, weight, input, kwargs, psw=None):
    """Run F.embedding_bag in both libraries; compare outputs and the gradients of the
    weight (and of per_sample_weights)."""
    w, t_w = gg.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    ours_kw = {k: gg.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    theirs_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                 for k, v in kwargs.items()}
    if psw is not None:
        ours_kw["per_sample_weights"] = gg.tensor(psw, requires_grad=True)
        theirs_kw["per_sample_weights"] = torch.tensor(psw, requires_grad=True)
    out = F.embedding_bag(gg.tensor(input), w, **ours_kw)
    t_out = torch.nn.functional.embedding_bag(torch.tensor(input), t_w, **theirs_kw)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    upstream = np.random.default_rng(1).normal(size=tuple(t_out.shape))
    out.backward(gg.tensor(upstream))
    t_out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(w.grad.numpy(), t_w.grad.numpy(), rtol=1e-12, atol=1e-12)
    if psw is not None:
        np.testing.assert_allclose(ours_kw["per_sample_weights"].grad.numpy(),
                                   theirs_kw["per_sample_weights"].grad.numpy(), atol=1e-12)


BAG_CASES = {
    "offsets": (INPUT, {"offsets": OFFSETS}),
    "offsets-padding": (INPUT, {"offsets": OFFSETS, "padding_idx": 4}),
    "include_last_offset": (INPUT, {"offsets": np.r_[OFFSETS, 8], "include_last_offset": True}),
    "2d": (INPUT.reshape(2, 4), {}),
    "2d-padding": (INPUT.reshape(4, 2), {"padding_idx": 1}),
    "all-empty-but-one": (INPUT[:3], {"offsets": np.array([0, 0, 0])}),
}


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("case", list(BAG_CASES))
def test_embedding_bag_matches_torch(case, mode):
    torch = pytest.importorskip("torch")
    input, kwargs = BAG_CASES[case]
    weight = np.random.default_rng(0).normal(size=(6, 3))
    _compare(torch, weight, input, {**kwargs, "mode": mode})


@pytest.mark.parametrize("input, kwargs", [
    (INPUT, {"offsets": OFFSETS, "padding_idx": 2}), (INPUT.reshape(4, 2), {})])
def test_embedding_bag_per_sample_weights_match_torch(input, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    _compare(torch, rng.normal(size=(6, 3)), input, {**kwargs, "mode": "sum"},
             psw=rng.normal(size=input.shape))


@settings(max_examples=25, deadline=None)
@given(data=st.data(), mode=st.sampled_from(["sum", "mean", "max"]),
       rows=st.integers(1, 7), dim=st.integers(1, 4), padding=st.booleans())
def test_embedding_bag_matches_torch_on_random_bags(data, mode, rows, dim, padding):
    torch = pytest.importorskip("torch")
    lengths = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=5))
    seed = data.draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    input = rng.integers(0, rows, sum(lengths))
    offsets = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
    kwargs = {"offsets": offsets, "mode": mode}
    if padding:
        kwargs["padding_idx"] = int(rng.integers(0, rows))
    psw = rng.normal(size=input.shape) if mode == "sum" and data.draw(st.booleans()) else None
    _compare(torch, rng.normal(size=(rows, dim)), input, kwargs, psw)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_gradcheck_and_gradgradcheck(mode):
    rng = np.random.default_rng(3)
    weight = gg.tensor(rng.normal(size=(6, 3)), requires_grad=True)
    args = [weight]
    if mode == "sum":
        args.append(gg.tensor(rng.normal(size=8), requires_grad=True))

    def bag(w, psw=None):
        return F.embedding_bag(gg.tensor(INPUT), w, gg.tensor(OFFSETS), mode=mode,
                               per_sample_weights=psw, padding_idx=0)

    assert gradcheck(bag, args)
    assert gradgradcheck(bag, args)


def test_scale_grad_by_freq_divides_each_rows_gradient_by_its_count():
    """Embedding against PyTorch; EmbeddingBag against the counts themselves, since
    PyTorch 2.13's CPU embedding_bag divides by the wrong count when repeated and single
    indices mix (pytorch/pytorch#190063, fixed upstream by #190264)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    weight, idx = rng.normal(size=(6, 3)), np.array([[1, 2, 2], [2, 0, 1]])
    upstream = rng.normal(size=(2, 3, 3))
    for padding_idx in (None, 2):
        w, t_w = gg.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
        F.embedding(gg.tensor(idx), w, padding_idx, scale_grad_by_freq=True).backward(
            gg.tensor(upstream))
        torch.nn.functional.embedding(torch.tensor(idx), t_w, padding_idx,
                                      scale_grad_by_freq=True).backward(torch.tensor(upstream))
        np.testing.assert_allclose(w.grad.numpy(), t_w.grad.numpy(), atol=1e-12)
    counts = np.bincount(INPUT, minlength=6)
    for mode in ("sum", "mean"):
        w = gg.tensor(weight, requires_grad=True)
        out = F.embedding_bag(gg.tensor(INPUT), w, gg.tensor(OFFSETS), mode=mode,
                              scale_grad_by_freq=True)
        up = rng.normal(size=out.shape)
        out.backward(gg.tensor(up))
        plain = gg.tensor(weight, requires_grad=True)
        F.embedding_bag(gg.tensor(INPUT), plain, gg.tensor(OFFSETS), mode=mode).backward(
            gg.tensor(up))
        expected = plain.grad.numpy() / np.maximum(counts, 1)[:, None]
        np.testing.assert_allclose(w.grad.numpy(), expected, atol=1e-12)
        np.testing.assert_array_equal(out.numpy(), F.embedding_bag(
            gg.tensor(INPUT), plain, gg.tensor(OFFSETS), mode=mode).numpy())


def test_embedding_bag_max_norm_renormalises_the_looked_up_rows_in_place_as_torch():
    torch = pytest.importorskip("torch")
    weight = np.random.default_rng(5).normal(size=(6, 3)) * 2
    bag = nn.EmbeddingBag.from_pretrained(gg.tensor(weight), max_norm=1.0, norm_type=1.0)
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(weight), max_norm=1.0,
                                                   norm_type=1.0)
    out = bag(gg.tensor(INPUT[:5]), gg.tensor(OFFSETS[:2]))
    t_out = theirs(torch.tensor(INPUT[:5]), torch.tensor(OFFSETS[:2]))
    np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bag.weight.numpy(), theirs.weight.numpy(), rtol=1e-12)
    assert np.abs(bag.weight.numpy()[[1, 2, 3, 4]]).sum(1).max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(bag.weight.numpy()[5], weight[5])  # not looked up


# -------------------------------------------------------------------- modules
def test_embedding_bag_module_repr_state_and_init_match_torch():
    torch = pytest.importorskip("torch")
    for kwargs in ({}, {"mode": "sum", "padding_idx": -1}, {"max_norm": 1.0, "norm_type": 1.0,
                                                          "scale_grad_by_freq": True,
                                                          "mode": "max"}):
        ours, theirs = nn.EmbeddingBag(5, 3, **kwargs), torch.nn.EmbeddingBag(5, 3, **kwargs)
        assert repr(ours) == repr(theirs)
        assert ours.padding_idx == theirs.padding_idx
        assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    bag = nn.EmbeddingBag(5, 3, padding_idx=2)
    np.testing.assert_array_equal(bag.weight.numpy()[2], 0.0)
    assert repr(nn.Embedding(5, 3, padding_idx=1, max_norm=1.0, norm_type=1.0,
                             scale_grad_by_freq=True, sparse=True)) == repr(
        torch.nn.Embedding(5, 3, padding_idx=1, max_norm=1.0, norm_type=1.0,
                           scale_grad_by_freq=True, sparse=True))


def test_embedding_bag_module_forward_equals_the_function():
    bag = nn.EmbeddingBag(6, 3, mode="sum", include_last_offset=True, padding_idx=0)
    psw = gg.randn(8)
    expected = F.embedding_bag(gg.tensor(INPUT), bag.weight, gg.tensor(np.r_[OFFSETS, 8]),
                               mode="sum", per_sample_weights=psw, include_last_offset=True,
                               padding_idx=0)
    np.testing.assert_array_equal(
        bag(gg.tensor(INPUT), gg.tensor(np.r_[OFFSETS, 8]), psw).numpy(), expected.numpy())


@pytest.mark.parametrize("cls", [nn.Embedding, nn.EmbeddingBag])
def test_from_pretrained_freezes_and_keeps_the_values(cls):
    weight = np.arange(12.0).reshape(4, 3)
    frozen = cls.from_pretrained(gg.tensor(weight), padding_idx=1)
    assert not frozen.weight.requires_grad and frozen.padding_idx == 1
    np.testing.assert_array_equal(frozen.weight.numpy(), weight)  # the padding row too
    trainable = cls.from_pretrained(gg.tensor(weight), freeze=False)
    assert trainable.weight.requires_grad
    with pytest.raises(ValueError, match=rf"{cls.__name__}.from_pretrained: embeddings must be "
                                         r"2-D, got shape \(3,\)"):
        cls.from_pretrained(gg.ones(3))


@pytest.mark.parametrize("call, error, match", [
    (lambda w: F.embedding_bag(gg.tensor([1, 2]), w, gg.tensor([1])), ValueError,
     "offsets\\[0\\] has to be 0"),
    (lambda w: F.embedding_bag(gg.tensor([1, 2, 3]), w, gg.tensor([0, 2, 1])), ValueError,
     r"non-decreasing .* length 3, got \[0, 2, 1\]"),
    (lambda w: F.embedding_bag(gg.tensor([1, 2]), w, gg.tensor([0, 3])), ValueError,
     "at most the input length 2"),
    (lambda w: F.embedding_bag(gg.tensor([1, 2]), w, gg.tensor([0, 1]),
                               include_last_offset=True), ValueError,
     r"last offset should be the size of the input, 2, got offsets \[0, 1\]"),
    (lambda w: F.embedding_bag(gg.tensor([[1, 2]]), w, gg.tensor([0])), ValueError,
     r"if input is 2D \(shape \(1, 2\)\), then offsets has to be None"),
    (lambda w: F.embedding_bag(gg.tensor([1, 2]), w), ValueError, "offsets has to be a 1D"),
    (lambda w: F.embedding_bag(gg.tensor([[[1]]]), w), ValueError,
     r"input has to be 1D or 2D, got shape \(1, 1, 1\)"),
    (lambda w: F.embedding_bag(gg.tensor([1, 9]), w, gg.tensor([0])), IndexError,
     "embedding_bag: index 9 is out of range for 5 embeddings"),
    (lambda w: F.embedding_bag(gg.tensor([1.0]), w, gg.tensor([0])), TypeError,
     "embedding_bag: expected integer indices"),
    (lambda w: F.embedding_bag(gg.tensor([1, 2]), w, gg.tensor([0]), mode="mean",
                               per_sample_weights=gg.ones(2)), ValueError,
     "per_sample_weights is only supported for mode='sum'"),
    (lambda w: F.embedding_bag(gg.tensor([1, 2]), w, gg.tensor([0]), mode="sum",
                               per_sample_weights=gg.ones(3)), ValueError,
     r"per_sample_weights \(shape \(3,\)\) must have the same shape as the input \(\(2,\)\)"),
    (lambda w: F.embedding_bag(gg.tensor([1]), w, gg.tensor([0]), mode="max",
                               scale_grad_by_freq=True), ValueError, "max mode does not support"),
    (lambda w: F.embedding_bag(gg.tensor([1]), w, gg.tensor([0]), mode="median"), ValueError,
     "mode has to be one of sum, mean or max"),
    (lambda w: F.embedding_bag(gg.tensor([1]), w[0], gg.tensor([0])), ValueError,
     r"weight has to be a 2D Tensor, got shape \(3,\)"),
    (lambda w: nn.EmbeddingBag(5, 3, mode="median"), ValueError, "EmbeddingBag: mode"),
    (lambda w: nn.EmbeddingBag(5, 3, padding_idx=5), ValueError,
     "EmbeddingBag: padding_idx 5 must be within num_embeddings = 5"),
    (lambda w: nn.EmbeddingBag(5, 3, _weight=gg.ones(4, 3)), ValueError,
     r"EmbeddingBag: _weight of shape \(4, 3\) does not match \(5, 3\)"),
])
def test_embedding_bag_errors_name_the_function_and_values(call, error, match):
    with pytest.raises(error, match=match):
        call(gg.randn(5, 3))


# ----------------------------------------------------------------- containers
def test_parameter_list_registers_wraps_and_slices_as_torch():
    torch = pytest.importorskip("torch")
    values = [np.ones((2, 3)), np.zeros(4)]
    ours = nn.ParameterList([gg.tensor(v, dtype=gg.float32) for v in values])
    theirs = torch.nn.ParameterList([torch.tensor(v, dtype=torch.float32) for v in values])
    assert all(isinstance(p, nn.Parameter) for p in ours)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1"]
    ours.append(nn.Parameter(gg.ones(1)))
    ours += [gg.ones(2, 2)]
    ours.append("not a tensor")
    theirs.append(torch.nn.Parameter(torch.ones(1)))
    theirs += [torch.ones(2, 2)]
    theirs.append("not a tensor")
    assert len(ours) == len(theirs) == 5
    assert repr(ours) == repr(theirs).replace("torch.float32", "float32")
    sliced = ours[1:4:2]
    assert isinstance(sliced, nn.ParameterList) and len(sliced) == 2
    assert sliced[0] is ours[1] and ours[-1] == "not a tensor"
    assert [p.shape for p in nn.Sequential().parameters()] == []
    ours[0] = gg.zeros(2, 3)
    assert isinstance(ours[0], nn.Parameter) and ours._parameters["0"] is ours[0]
    with pytest.raises(IndexError, match="ParameterList: index 5 is out of range"):
        ours[5]
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an "
                                        "iterable, but got Tensor"):
        ours.extend(gg.ones(2))
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        ours(gg.ones(1))


def test_parameter_list_trains_and_loads_a_torch_state_dict():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(3, 2)) for _ in range(3)])
    ours = nn.ParameterList([nn.Parameter(gg.zeros(3, 2)) for _ in range(3)])
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.numpy(), t.detach().numpy())
    optimizer = gg.optim.SGD(ours.parameters(), lr=0.1)
    sum((p * p).sum() for p in ours).backward()
    optimizer.step()
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].detach().numpy() * 0.8, rtol=1e-6)


def test_parameter_dict_behaves_as_torchs():
    torch = pytest.importorskip("torch")
    ours = nn.ParameterDict({"b": gg.ones(2), "a": nn.Parameter(gg.zeros(3))})
    theirs = torch.nn.ParameterDict({"b": torch.ones(2), "a": torch.nn.Parameter(torch.zeros(3))})
    assert list(ours) == list(theirs) == ["a", "b"]  # a plain dict is taken sorted
    ours.update([("z", gg.ones(1)), ("c", gg.ones(1))])
    theirs.update([("z", torch.ones(1)), ("c", torch.ones(1))])
    assert list(ours.keys()) == list(theirs.keys()) == ["a", "b", "z", "c"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert isinstance(ours["z"], nn.Parameter)
    ours["note"] = "text"
    theirs["note"] = "text"
    assert repr(ours) == repr(theirs).replace("torch.FloatTensor", "float32")
    assert ours.pop("note") == "text" and "note" not in ours
    assert ours.popitem()[0] == "c"
    assert ours.get("missing", 7) == 7 and ours.setdefault("d", gg.ones(2)) is ours["d"]
    merged = ours | nn.ParameterDict({"e": gg.ones(1)})
    assert list(merged) == ["a", "b", "z", "d", "e"] and merged["a"] is ours["a"]
    copied = ours.copy()
    assert list(copied) == list(ours) and copied["a"] is ours["a"]
    assert list(ours.fromkeys(["x", "y"], gg.ones(1))) == ["x", "y"]
    del ours["a"]
    assert "a" not in dict(ours.named_parameters())
    ours.clear()
    assert len(ours) == 0 and list(ours.parameters()) == []
    with pytest.raises(TypeError, match="cannot be used as a key as it is not a string"):
        ours[3] = gg.ones(1)
    with pytest.raises(ValueError, match="element #0 should be a \\(key, value\\) pair"):
        ours.update([("a", gg.ones(1), 3)])
    with pytest.raises(RuntimeError, match="ParameterDict should not be called"):
        ours(gg.ones(1))
