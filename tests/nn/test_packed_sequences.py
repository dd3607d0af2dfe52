"""Packed sequences as torch.nn.utils.rnn's (pack_padded_sequence, pad_packed_sequence,
pack_sequence, unpack_sequence, PackedSequence) and RNN / GRU / LSTM (with proj_size) fed
with them: outputs, final states and every gradient equal PyTorch's in float64."""
from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import graphgrad as gg
from graphgrad import nn
from graphgrad.nn.utils import rnn as R
from graphgrad.testing import gradcheck, gradgradcheck

LENGTHS = [3, 5, 1, 3]  # unsorted, with a tie


def _pair(torch, array):
    return gg.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths, enforce_sorted", [
    (LENGTHS, False), ([5, 3, 3, 1], True), ([5, 3, 3, 1], False), ([2], True)])
@pytest.mark.parametrize("total_length", [None, 7])
def test_pack_and_pad_match_torch(batch_first, lengths, enforce_sorted, total_length):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shape = (len(lengths), max(lengths), 2) if batch_first else (max(lengths), len(lengths), 2)
    x, t_x = _pair(torch, rng.normal(size=shape))
    packed = R.pack_padded_sequence(x, gg.tensor(lengths), batch_first, enforce_sorted)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(t_x, torch.tensor(lengths), batch_first,
                                                       enforce_sorted)
    np.testing.assert_array_equal(packed.data.numpy(), t_packed.data.detach().numpy())
    for ours, theirs in zip(packed[1:], t_packed[1:], strict=True):
        assert (ours is None and theirs is None) or ours.tolist() == theirs.tolist()
    assert packed.batch_sizes.dtype == np.int64
    padded, lens = R.pad_packed_sequence(packed, batch_first, -1.5, total_length)
    t_padded, t_lens = torch.nn.utils.rnn.pad_packed_sequence(t_packed, batch_first, -1.5,
                                                              total_length)
    np.testing.assert_array_equal(padded.numpy(), t_padded.detach().numpy())
    assert lens.tolist() == t_lens.tolist() == lengths and lens.dtype == np.int64
    upstream = rng.normal(size=tuple(t_padded.shape))
    padded.backward(gg.tensor(upstream))
    t_padded.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(x.grad.numpy(), t_x.grad.numpy())


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=6),
       batch_first=st.booleans(), seed=st.integers(0, 2**31))
def test_pack_pad_round_trip_on_random_lengths(lengths, batch_first, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    steps = max(lengths)
    x = rng.normal(size=(len(lengths), steps, 3) if batch_first else (steps, len(lengths), 3))
    packed = R.pack_padded_sequence(gg.tensor(x), lengths, batch_first, enforce_sorted=False)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, batch_first,
                                                       enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), t_packed.data.numpy())
    assert packed.sorted_indices.tolist() == t_packed.sorted_indices.tolist()
    padded, lens = R.pad_packed_sequence(packed, batch_first)
    mask = np.arange(steps)[None, :] < np.array(lengths)[:, None]  # (B, T)
    mask = mask if batch_first else mask.T
    np.testing.assert_array_equal(padded.numpy(), np.where(mask[..., None], x, 0.0))
    assert lens.tolist() == lengths


def test_pack_sequence_and_unpack_sequence_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(n, 2)) for n in (2, 4, 1, 4)]
    ours = [gg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    packed = R.pack_sequence(ours, enforce_sorted=False)
    t_packed = torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.numpy(), t_packed.data.detach().numpy())
    unpacked = R.unpack_sequence(packed)
    for u, a in zip(unpacked, arrays, strict=True):
        np.testing.assert_array_equal(u.numpy(), a)
    sum((u * (i + 1)).sum() for i, u in enumerate(unpacked)).backward()
    for i, x in enumerate(ours):
        np.testing.assert_array_equal(x.grad.numpy(), i + 1.0)
    with pytest.raises(ValueError, match="must be sorted in decreasing order"):
        R.pack_sequence(ours)


def test_packed_sequence_is_a_namedtuple_with_conversions():
    packed = R.pack_padded_sequence(gg.ones(3, 2, 2), [1, 3], enforce_sorted=False)
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert packed._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert batch_sizes.tolist() == [2, 1, 1] and sorted_indices.tolist() == [1, 0]
    assert unsorted_indices.tolist() == [1, 0]
    double = packed.double()
    assert double.data.dtype == np.float64 and double.batch_sizes is packed.batch_sizes
    assert packed.to(gg.float32) is packed and packed.cpu() is packed and not packed.is_cuda
    rebuilt = R.PackedSequence(data, batch_sizes, gg.tensor([1, 0]))
    assert rebuilt.unsorted_indices.tolist() == [1, 0]
    assert R.PackedSequence((data, batch_sizes)).sorted_indices is None
    assert R.invert_permutation(gg.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert R.invert_permutation(None) is None


@pytest.mark.parametrize("call, match", [
    (lambda: R.pack_padded_sequence(gg.ones(4, 2, 1), [2, 3]),
     r"must be sorted in decreasing order when `enforce_sorted` is True, got \[2, 3\]"),
    (lambda: R.pack_padded_sequence(gg.ones(4, 2, 1), [2, 0]), "greater than 0.*\\[2, 0\\]"),
    (lambda: R.pack_padded_sequence(gg.ones(4, 2, 1), [3, 2, 1]),
     r"len\(lengths\) to be equal to the batch size .*shape \(4, 2, 1\)\), got 3 lengths"),
    (lambda: R.pack_padded_sequence(gg.ones(4, 2, 1), [5, 2]),
     r"a length 5 exceeds the 4 time steps"),
    (lambda: R.pack_padded_sequence(gg.ones(4, 2, 1), [[1, 2]]), "1D list or tensor"),
    (lambda: R.pad_packed_sequence(R.pack_sequence([gg.ones(3, 1)]), total_length=2),
     "total_length=2 and max sequence length being 3"),
])
def test_packing_errors_name_the_function_and_values(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ RNNs
def _run_both(torch, cls, kwargs, lengths, with_hx, batch_first, seed=0):
    """Run our layer and torch's (same weights) on the same packed batch; compare outputs,
    final states and the gradients of the input, hx and every parameter."""
    rng = np.random.default_rng(seed)
    theirs = getattr(torch.nn, cls)(3, 4, **kwargs).double()
    ours = getattr(nn, cls)(3, 4, **kwargs).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    steps, batch = max(lengths), len(lengths)
    x, t_x = _pair(torch, rng.normal(size=(batch, steps, 3) if batch_first
                                     else (steps, batch, 3)))
    packed = R.pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(t_x, lengths, batch_first,
                                                       enforce_sorted=False)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1) * directions
    sizes = [kwargs.get("proj_size") or 4] + ([4] if cls == "LSTM" else [])
    hx = [_pair(torch, rng.normal(size=(layers, batch, n))) for n in sizes] if with_hx else []
    arg = None if not hx else tuple(h for h, _ in hx) if cls == "LSTM" else hx[0][0]
    t_arg = None if not hx else tuple(t for _, t in hx) if cls == "LSTM" else hx[0][1]
    out, states = ours(packed, arg)
    t_out, t_states = theirs(t_packed, t_arg)
    states = states if isinstance(states, tuple) else (states,)
    t_states = t_states if isinstance(t_states, tuple) else (t_states,)
    assert isinstance(out, R.PackedSequence)
    assert out.batch_sizes is packed.batch_sizes and out.sorted_indices is packed.sorted_indices
    np.testing.assert_allclose(out.data.numpy(), t_out.data.detach().numpy(), atol=1e-12)
    loss, t_loss = 0.0, 0.0
    for o, t in [(out.data, t_out.data), *zip(states, t_states, strict=True)]:
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), atol=1e-12)
        up = rng.normal(size=tuple(t.shape))
        loss, t_loss = loss + (o * gg.tensor(up)).sum(), t_loss + (t * torch.tensor(up)).sum()
    loss.backward()
    t_loss.backward()
    for ours_t, theirs_t in [(x, t_x), *hx]:
        np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), atol=1e-12)
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), atol=1e-12,
                                   err_msg=name)
    return ours, out, states


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("kwargs", [{}, {"bidirectional": True, "num_layers": 2}],
                         ids=["plain", "bidirectional-2layers"])
@pytest.mark.parametrize("with_hx", [False, True])
def test_recurrent_layers_on_packed_input_match_torch(cls, kwargs, with_hx):
    torch = pytest.importorskip("torch")
    _run_both(torch, cls, kwargs, LENGTHS, with_hx, batch_first=with_hx)


@pytest.mark.parametrize("kwargs", [{"proj_size": 2}, {"proj_size": 3, "bidirectional": True,
                                                       "num_layers": 2, "bias": False}])
def test_lstm_with_projections_on_packed_input_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    _run_both(torch, "LSTM", kwargs, LENGTHS, with_hx=True, batch_first=False)


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=5),
       cls=st.sampled_from(["RNN", "GRU", "LSTM"]), bidirectional=st.booleans(),
       with_hx=st.booleans(), seed=st.integers(0, 2**31))
def test_recurrent_layers_on_random_packed_batches_match_torch(lengths, cls, bidirectional,
                                                               with_hx, seed):
    torch = pytest.importorskip("torch")
    _run_both(torch, cls, {"bidirectional": bidirectional, "num_layers": 2}, lengths, with_hx,
              batch_first=False, seed=seed)


def test_final_states_are_each_sequences_own_last_step():
    gg.manual_seed(0)
    lstm = nn.LSTM(2, 3, bidirectional=True).double()
    x = gg.randn(5, 4, 2, dtype=gg.float64)
    out, (h_n, _) = lstm(R.pack_padded_sequence(x, LENGTHS, enforce_sorted=False))
    padded, _ = R.pad_packed_sequence(out)
    for b, n in enumerate(LENGTHS):
        np.testing.assert_allclose(h_n.numpy()[0, b], padded.numpy()[n - 1, b, :3])  # forward
        np.testing.assert_allclose(h_n.numpy()[1, b], padded.numpy()[0, b, 3:])  # reverse
        alone, (h_alone, _) = lstm(x[:n, b:b + 1])  # the sequence on its own, unpadded
        np.testing.assert_allclose(h_alone.numpy()[:, 0], h_n.numpy()[:, b], atol=1e-14)
        np.testing.assert_allclose(alone.numpy()[:, 0], padded.numpy()[:n, b], atol=1e-14)


def test_packed_lstm_gradcheck_and_gradgradcheck():
    gg.manual_seed(1)
    lstm = nn.LSTM(2, 2, bidirectional=True, proj_size=1).double()
    x = gg.randn(3, 3, 2, dtype=gg.float64, requires_grad=True)
    h0 = gg.randn(2, 3, 1, dtype=gg.float64, requires_grad=True)
    c0 = gg.randn(2, 3, 2, dtype=gg.float64, requires_grad=True)

    def run(x, h0, c0):
        out, (h, c) = lstm(R.pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False), (h0, c0))
        return out.data, h, c

    assert gradcheck(run, [x, h0, c0])
    assert gradgradcheck(run, [x, h0, c0])


def test_lstm_proj_size_layout_repr_and_unpacked_run_match_torch():
    torch = pytest.importorskip("torch")
    kwargs = {"proj_size": 2, "num_layers": 2, "bidirectional": True, "batch_first": True}
    theirs, ours = torch.nn.LSTM(3, 4, **kwargs).double(), nn.LSTM(3, 4, **kwargs).double()
    assert [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()] == \
        [(k, v.shape) for k, v in ours.state_dict().items()]
    assert repr(ours) == repr(theirs)
    assert [len(ws) for ws in ours.all_weights] == [5] * 4
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(2).normal(size=(2, 5, 3))
    out, (h, c) = ours(gg.tensor(x))
    t_out, (t_h, t_c) = theirs(torch.tensor(x))
    assert out.shape == (2, 5, 4) and h.shape == (4, 2, 2) and c.shape == (4, 2, 4)
    for o, t in ((out, t_out), (h, t_h), (c, t_c)):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), atol=1e-12)
    single, (h1, c1) = ours(gg.tensor(x[0]), (h[:, 0], c[:, 0]))  # unbatched with states
    assert single.shape == (5, 4) and h1.shape == (4, 2) and c1.shape == (4, 4)


@pytest.mark.parametrize("call, match", [
    (lambda: nn.LSTM(3, 4, proj_size=4), "LSTM: proj_size has to be smaller than hidden_size"),
    (lambda: nn.LSTM(3, 4, proj_size=-1), "LSTM: proj_size should be a positive integer"),
    (lambda: nn.RNNBase("GRU", 3, 4, proj_size=2), "proj_size argument is only supported for "
                                                   "LSTM"),
    (lambda: nn.LSTM(3, 4, proj_size=2)(gg.randn(5, 2, 3), (gg.zeros(1, 2, 4), gg.zeros(1, 2, 4))),
     r"LSTM: expected hidden state of shape \(1, 2, 2\), got \(1, 2, 4\)"),
    (lambda: nn.GRU(3, 4)(R.pack_sequence([gg.ones(2, 5)])),
     r"GRU: expected packed data of shape \(N, input_size = 3\), got \(2, 5\)"),
    (lambda: nn.LSTM(3, 4)(R.pack_sequence([gg.ones(2, 3), gg.ones(1, 3)]),
                           (gg.zeros(1, 3, 4), gg.zeros(1, 3, 4))),
     r"LSTM: expected hidden state of shape \(1, 2, 4\), got \(1, 3, 4\)"),
])
def test_recurrent_layer_errors_name_the_layer_and_shapes(call, match):
    with pytest.raises(ValueError, match=match):
        call()
