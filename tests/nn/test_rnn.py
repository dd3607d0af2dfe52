"""Recurrent layers and cells: PyTorch parity, gradient checks, known behaviour, errors."""
from __future__ import annotations

import time

import numpy as np
import pytest
from moduleinfo import functional_call

import graphgrad as gg
from graphgrad import nn
from graphgrad.nn.utils.rnn import pad_sequence, unpad_sequence
from graphgrad.testing import gradcheck

torch = pytest.importorskip("torch")

KINDS = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {}), ("LSTM", {})]
KIND_IDS = ["rnn_tanh", "rnn_relu", "gru", "lstm"]


def _pair(cls: str, *args, **kwargs):
    """Our layer and PyTorch's (float64), with PyTorch's weights loaded into ours."""
    theirs = getattr(torch.nn, cls)(*args, **kwargs).double()
    ours = getattr(nn, cls)(*args, **kwargs).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _states(cls: str, shape: tuple, rng) -> list:
    return [rng.standard_normal(shape) for _ in range(2 if cls == "LSTM" else 1)]


def _pack(cls: str, states: list):
    if not states:
        return None
    return tuple(states) if cls == "LSTM" else states[0]


def _unpack(cls: str, out) -> list:
    output, state = out
    return [output, *(state if cls == "LSTM" else (state,))]


CONFIGS = [
    dict(num_layers=2, bidirectional=True, batch_first=False, initial=True),
    dict(num_layers=2, bidirectional=False, batch_first=True, initial=False),
    dict(num_layers=1, bidirectional=True, batch_first=True, initial=True),
    dict(num_layers=1, bidirectional=False, batch_first=False, initial=False, bias=False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in
                                                                   c.items()))
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_layer_matches_torch_outputs_and_gradients(kind, config):
    cls, extra = kind
    config = dict(config)
    initial = config.pop("initial")
    rng = np.random.default_rng(0)
    ours, theirs = _pair(cls, 3, 4, **config, **extra)
    seq, batch = 5, 2
    x = rng.standard_normal((batch, seq, 3) if config["batch_first"] else (seq, batch, 3))
    layers = config["num_layers"] * (2 if config["bidirectional"] else 1)
    h0 = _states(cls, (layers, batch, 4), rng) if initial else []

    x_ours = gg.tensor(x, requires_grad=True)
    h_ours = [gg.tensor(h, requires_grad=True) for h in h0]
    x_theirs = torch.tensor(x, requires_grad=True)
    h_theirs = [torch.tensor(h, requires_grad=True) for h in h0]
    outs_ours = _unpack(cls, ours(x_ours, _pack(cls, h_ours)))
    outs_theirs = _unpack(cls, theirs(x_theirs, _pack(cls, h_theirs)))

    upstream = [rng.standard_normal(o.shape) for o in outs_theirs]  # random, never ones
    for a, b in zip(outs_ours, outs_theirs, strict=True):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-12)
    gg.backward(outs_ours, upstream)
    torch.autograd.backward(outs_theirs, [torch.tensor(g) for g in upstream])
    np.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), atol=1e-12)
    for a, b in zip(h_ours, h_theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), atol=1e-12,
                                   err_msg=name)


CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("GRUCell", {}),
         ("LSTMCell", {}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("kind", CELLS, ids=["rnn_tanh", "rnn_relu", "gru", "lstm", "gru_nobias"])
def test_cell_matches_torch(kind):
    cls, extra = kind
    rng = np.random.default_rng(1)
    ours, theirs = _pair(cls, 3, 4, **extra)
    x = rng.standard_normal((2, 3))
    states = [rng.standard_normal((2, 4)) for _ in range(2 if cls == "LSTMCell" else 1)]
    lstm = cls == "LSTMCell"
    args_ours = [gg.tensor(a, requires_grad=True) for a in [x, *states]]
    args_theirs = [torch.tensor(a, requires_grad=True) for a in [x, *states]]
    out_ours = ours(args_ours[0], tuple(args_ours[1:]) if lstm else args_ours[1])
    out_theirs = theirs(args_theirs[0], tuple(args_theirs[1:]) if lstm else args_theirs[1])
    out_ours = list(out_ours) if lstm else [out_ours]
    out_theirs = list(out_theirs) if lstm else [out_theirs]
    upstream = [rng.standard_normal(o.shape) for o in out_theirs]
    for a, b in zip(out_ours, out_theirs, strict=True):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-12)
    gg.backward(out_ours, upstream)
    torch.autograd.backward(out_theirs, [torch.tensor(g) for g in upstream])
    for a, b in zip(args_ours, args_theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-12, err_msg=name)
    # Without a state the cell starts from zeros; unbatched inputs work too.
    zero = ours(gg.tensor(x[0]))
    expected = theirs(torch.tensor(x[0]))
    for a, b in zip(zero if lstm else [zero], expected if lstm else [expected], strict=True):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-12)


def _gradcheck_module(module: nn.Module, inputs: list, pack) -> None:
    """gradcheck with respect to every input and every parameter of ``module``."""
    names = [name for name, _ in module.named_parameters()]
    params = [p for _, p in module.named_parameters()]
    n = len(inputs)

    def fn(*args):
        out = functional_call(module, dict(zip(names, args[n:], strict=True)), pack(args[:n]))
        return tuple(o for part in out for o in (part if isinstance(part, tuple) else (part,)))

    assert gradcheck(fn, inputs + params)


GRADCHECK = [
    dict(num_layers=1, bidirectional=False, batch_first=False),
    dict(num_layers=2, bidirectional=True, batch_first=True),
]


@pytest.mark.parametrize("config", GRADCHECK, ids=["1layer-uni", "2layers-bi-batchfirst"])
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_layer_gradcheck(kind, config):
    cls, extra = kind
    gg.manual_seed(0)
    module = getattr(nn, cls)(2, 3, **config, **extra).double()
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (2, 3, 2) if config["batch_first"] else (3, 2, 2))  # seq 3, batch 2
    layers = config["num_layers"] * (2 if config["bidirectional"] else 1)
    states = [rng.uniform(-1, 1, (layers, 2, 3)) for _ in range(2 if cls == "LSTM" else 1)]
    inputs = [gg.tensor(a, requires_grad=True) for a in [x, *states]]
    if cls == "LSTM":
        _gradcheck_module(module, inputs, lambda a: [a[0], tuple(a[1:])])
    else:
        _gradcheck_module(module, inputs, lambda a: list(a))


@pytest.mark.parametrize("cls", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cell_gradcheck(cls):
    gg.manual_seed(0)
    module = getattr(nn, cls)(2, 3).double()
    rng = np.random.default_rng(3)
    arrays = [rng.uniform(-1, 1, (2, 2))] + [rng.uniform(-1, 1, (2, 3))
                                              for _ in range(2 if cls == "LSTMCell" else 1)]
    inputs = [gg.tensor(a, requires_grad=True) for a in arrays]
    if cls == "LSTMCell":
        _gradcheck_module(module, inputs, lambda a: [a[0], tuple(a[1:])])
    else:
        _gradcheck_module(module, inputs, lambda a: list(a))


@pytest.mark.slow
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_layer_gradcheck_all_configs(kind, batch_first):
    cls, extra = kind
    for num_layers in (1, 2):
        for bidirectional in (False, True):
            test_layer_gradcheck(kind, dict(num_layers=num_layers, bidirectional=bidirectional,
                                            batch_first=batch_first))


def test_state_dict_keys_and_shapes_equal_torch():
    for cls, args, kwargs in [
        ("LSTM", (3, 5, 2), {"bidirectional": True}),
        ("GRU", (3, 5, 3), {"bias": False}),
        ("RNN", (3, 5), {"nonlinearity": "relu"}),
        ("LSTMCell", (3, 5), {}),
        ("GRUCell", (3, 5), {"bias": False}),
    ]:
        ours = getattr(nn, cls)(*args, **kwargs).state_dict()
        theirs = getattr(torch.nn, cls)(*args, **kwargs).state_dict()
        assert list(ours) == list(theirs)
        assert [v.shape for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]


def test_init_is_uniform_in_plus_minus_one_over_sqrt_hidden_and_seeded():
    gg.manual_seed(3)
    lstm = nn.LSTM(8, 16, num_layers=2)
    bound = 1 / np.sqrt(16)
    for name, p in lstm.named_parameters():
        assert np.abs(p.numpy()).max() <= bound, name
        assert p.numpy().std() > bound / 4, name  # spread out, not constant
    gg.manual_seed(3)
    again = nn.LSTM(8, 16, num_layers=2)
    for p, q in zip(lstm.parameters(), again.parameters(), strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_lstm_with_open_forget_gate_and_closed_input_gate_keeps_its_cell_state():
    lstm = nn.LSTM(2, 3)
    hidden = 3
    with gg.no_grad():
        lstm.bias_ih_l0.data[:] = 0.0
        lstm.bias_ih_l0.data[:hidden] = -30.0  # input gate i ~ 0
        lstm.bias_ih_l0.data[hidden:2 * hidden] = 30.0  # forget gate f ~ 1
    c0 = np.array([[0.5, -1.0, 2.0]], dtype=np.float32)
    x = gg.tensor(np.random.default_rng(4).standard_normal((20, 1, 2)).astype(np.float32))
    _, (_, c_n) = lstm(x, (gg.zeros((1, 1, 3)), gg.tensor(c0[None])))
    np.testing.assert_allclose(c_n.numpy()[0], c0, atol=1e-6)


def test_500_step_unrolled_lstm_backpropagates():
    lstm = nn.LSTM(3, 4)
    x = gg.tensor(np.random.default_rng(5).standard_normal((500, 2, 3)).astype(np.float32),
                  requires_grad=True)
    start = time.perf_counter()
    output, (h_n, _) = lstm(x)
    (output.sum() + h_n.sum()).backward()
    assert time.perf_counter() - start < 30
    assert x.grad.shape == x.shape and np.isfinite(x.grad.numpy()).all()
    assert np.abs(x.grad.numpy()[0]).sum() > 0  # the first step still receives a gradient
    assert all(np.isfinite(p.grad.numpy()).all() for p in lstm.parameters())


def test_unbatched_input_equals_a_batch_of_one():
    for cls in ("RNN", "GRU", "LSTM"):
        layer = getattr(nn, cls)(3, 4, num_layers=2, bidirectional=True)
        x = gg.randn(5, 3)
        out, state = layer(x)
        out_b, state_b = layer(x[:, None])
        np.testing.assert_allclose(out.numpy(), out_b.numpy()[:, 0], atol=1e-6)
        for s, s_b in zip(state if cls == "LSTM" else (state,),
                          state_b if cls == "LSTM" else (state_b,), strict=True):
            assert s.shape == (4, 4)
            np.testing.assert_allclose(s.numpy(), s_b.numpy()[:, 0], atol=1e-6)


def test_dropout_between_layers_only_in_training_and_seeded():
    gru = nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = gg.randn(6, 2, 3)
    gg.manual_seed(7)
    a, _ = gru(x)
    gg.manual_seed(7)
    b, _ = gru(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    gru.eval()
    c, _ = gru(x)
    assert not np.allclose(a.numpy(), c.numpy())
    np.testing.assert_array_equal(c.numpy(), gru(x)[0].numpy())
    with pytest.warns(UserWarning, match="dropout"):
        nn.LSTM(3, 4, dropout=0.2)


def test_no_grad_forward_equals_recorded_forward():
    # Without grad the input projection is one matmul for all steps; same numbers.
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    x = gg.randn(7, 2, 3)
    recorded, (h, c) = lstm(x)
    with gg.no_grad():
        plain, (h2, c2) = lstm(x)
    for a, b in [(recorded, plain), (h, h2), (c, c2)]:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_bad_inputs_raise_naming_the_layer_and_shapes():
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM.*input_size = 3.*\(5, 2, 7\)"):
        lstm(gg.randn(5, 2, 7))
    with pytest.raises(ValueError, match=r"LSTM.*\(2, 2, 4\).*\(1, 2, 4\)"):
        lstm(gg.randn(5, 2, 3), (gg.zeros((1, 2, 4)), gg.zeros((2, 2, 4))))
    with pytest.raises(ValueError, match="pair"):
        lstm(gg.randn(5, 2, 3), gg.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match=r"GRU.*\(1, 3, 4\)"):
        nn.GRU(3, 4)(gg.randn(5, 3, 3), gg.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"RNN.*4D|RNN.*dims"):
        nn.RNN(3, 4)(gg.randn(1, 5, 2, 3))
    with pytest.raises(ValueError, match=r"GRUCell.*\(2, 3\)"):
        nn.GRUCell(3, 4)(gg.randn(2, 3), gg.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"RNNCell.*\(B, 3\)"):
        nn.RNNCell(3, 4)(gg.randn(2, 5))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"LSTM: expected a sequence of length > 0.*\(0, 2, 3\)"):
        lstm(gg.randn(0, 2, 3))
    with pytest.raises(ValueError, match=r"GRU: .*length > 0.*\(2, 0, 3\)"):
        nn.GRU(3, 4, batch_first=True)(gg.randn(2, 0, 3))


def test_flatten_parameters_is_accepted_and_changes_nothing():
    lstm = nn.LSTM(3, 4, num_layers=2)
    before = {k: v.numpy().copy() for k, v in lstm.state_dict().items()}
    lstm.flatten_parameters()  # ported PyTorch scripts call it
    after = lstm.state_dict()
    assert list(after) == list(before)
    for k, v in before.items():
        np.testing.assert_array_equal(after[k].numpy(), v)


def test_repr_as_torch():
    assert repr(nn.LSTM(10, 20, num_layers=2, batch_first=True)) == \
        repr(torch.nn.LSTM(10, 20, num_layers=2, batch_first=True))
    assert repr(nn.GRUCell(3, 4, bias=False)) == repr(torch.nn.GRUCell(3, 4, bias=False))


def test_pad_sequence_matches_torch_and_passes_gradients():
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal((n, 2)) for n in (3, 1, 2)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            seqs = [gg.tensor(a, requires_grad=True) for a in arrays]
            ours = pad_sequence(seqs, batch_first, -1.0, side)
            theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in arrays],
                                                     batch_first, -1.0, side)
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
            (ours * ours).sum().backward()
            for s in seqs:
                np.testing.assert_allclose(s.grad.numpy(), 2 * s.numpy())
    back = unpad_sequence(pad_sequence([gg.tensor(a) for a in arrays]), [3, 1, 2])
    for a, b in zip(back, arrays, strict=True):
        np.testing.assert_allclose(a.numpy(), b)


def test_cells_are_twice_differentiable():
    # The recurrence primitives' rules are written with differentiable ops, so second
    # derivatives come for free (e.g. for gradient penalties).
    from graphgrad.nn.functional.rnn import gru_cell, lstm_cell
    from graphgrad.testing import gradgradcheck

    rng = np.random.default_rng(8)
    x, h, c = (gg.tensor(rng.standard_normal(s), requires_grad=True)
               for s in [(2, 2), (2, 3), (2, 3)])
    w_ih, w_hh = (gg.tensor(rng.standard_normal(s), requires_grad=True)
                  for s in [(12, 2), (12, 3)])
    assert gradgradcheck(lambda *a: lstm_cell(a[0], (a[1], a[2]), a[3], a[4]),
                         [x, h, c, w_ih, w_hh])
    assert gradgradcheck(lambda *a: gru_cell(a[0], a[1], a[2][:9], a[3][:9]),
                         [x, h, w_ih, w_hh])
