"""Transformer layers, stacks and the positional encoding: PyTorch parity and behaviour."""
from __future__ import annotations

import math

import numpy as np
import pytest
from moduleinfo import functional_call

import graphgrad as gg
from graphgrad import nn
from graphgrad.testing import gradcheck

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch's nested-tensor notes


def _load_from_torch(ours: nn.Module, theirs) -> None:
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(state) == list(ours.state_dict())  # same keys, same order
    ours.load_state_dict(state)


def _t(a, grad: bool = False):
    return torch.tensor(a, requires_grad=grad)


def _compare_grads(ours: nn.Module, theirs) -> None:
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), atol=1e-11,
                                   err_msg=name)


LAYER_CONFIGS = [
    dict(norm_first=False, activation="relu", batch_first=False),
    dict(norm_first=True, activation="gelu", batch_first=True),
    dict(norm_first=True, activation="relu", batch_first=False),
    dict(norm_first=False, activation="gelu", batch_first=True),
]
IDS = ["post-relu", "pre-gelu-bf", "pre-relu", "post-gelu-bf"]


@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=IDS)
def test_encoder_layer_matches_torch(config):
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, **config).double().eval()
    ours = nn.TransformerEncoderLayer(8, 2, 16, **config).double().eval()
    _load_from_torch(ours, theirs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 8) if config["batch_first"] else (5, 3, 8))  # N 3, S 5
    padded = np.zeros((3, 5), dtype=bool)
    padded[1, 3:] = True
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    x_ours, x_theirs = gg.tensor(x, requires_grad=True), _t(x, True)
    y = ours(x_ours, src_mask=causal, src_key_padding_mask=padded)
    y_t = theirs(x_theirs, src_mask=_t(causal), src_key_padding_mask=_t(padded))
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    y_t.backward(_t(g))
    np.testing.assert_allclose(x_ours.grad.numpy(), x_theirs.grad.numpy(), atol=1e-11)
    _compare_grads(ours, theirs)


@pytest.mark.parametrize("config", LAYER_CONFIGS, ids=IDS)
def test_decoder_layer_matches_torch(config):
    theirs = torch.nn.TransformerDecoderLayer(8, 2, 16, **config).double().eval()
    ours = nn.TransformerDecoderLayer(8, 2, 16, **config).double().eval()
    _load_from_torch(ours, theirs)
    rng = np.random.default_rng(1)
    bf = config["batch_first"]
    tgt = rng.standard_normal((3, 4, 8) if bf else (4, 3, 8))
    memory = rng.standard_normal((3, 6, 8) if bf else (6, 3, 8))
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=np.float64).numpy()
    memory_padding = np.zeros((3, 6), dtype=bool)
    memory_padding[0, 4:] = True
    inputs = [gg.tensor(a, requires_grad=True) for a in (tgt, memory)]
    inputs_t = [_t(a, True) for a in (tgt, memory)]
    y = ours(*inputs, tgt_mask=causal, memory_key_padding_mask=memory_padding,
             tgt_is_causal=True)
    y_t = theirs(*inputs_t, tgt_mask=_t(causal), memory_key_padding_mask=_t(memory_padding),
                 tgt_is_causal=True)
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    y_t.backward(_t(g))
    for a, b in zip(inputs, inputs_t, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-11)
    _compare_grads(ours, theirs)


def test_encoder_and_decoder_stacks_match_torch():
    rng = np.random.default_rng(2)
    t_enc = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
        norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).double().eval()
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                                norm=nn.LayerNorm(8)).double().eval()
    t_dec = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), 2,
        norm=torch.nn.LayerNorm(8)).double().eval()
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), 2,
                                norm=nn.LayerNorm(8)).double().eval()
    _load_from_torch(enc, t_enc)
    _load_from_torch(dec, t_dec)
    src, tgt = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 3, 8))
    memory = enc(gg.tensor(src))
    out = dec(gg.tensor(tgt), memory, tgt_mask=np.triu(np.ones((3, 3), dtype=bool), 1))
    t_out = t_dec(_t(tgt), t_enc(_t(src)), tgt_mask=_t(np.triu(np.ones((3, 3), dtype=bool), 1)))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), atol=1e-12)


def test_stack_layers_are_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 3)
    weights = [m.linear1.weight for m in enc.layers]
    assert len({id(w) for w in weights}) == 3 and all(w is not layer.linear1.weight
                                                      for w in weights)
    np.testing.assert_array_equal(weights[0].numpy(), weights[2].numpy())  # copies of one layer
    with gg.no_grad():
        weights[0].data[:] = 0.0
    assert np.abs(weights[1].numpy()).sum() > 0
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))


def test_full_transformer_matches_torch_and_state_dict_keys():
    theirs = torch.nn.Transformer(8, 2, 2, 1, 16, dropout=0.0).double().eval()
    ours = nn.Transformer(8, 2, 2, 1, 16, dropout=0.0).double().eval()
    _load_from_torch(ours, theirs)
    rng = np.random.default_rng(3)
    src, tgt = rng.standard_normal((5, 2, 8)), rng.standard_normal((4, 2, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=np.float64)
    out = ours(gg.tensor(src), gg.tensor(tgt), tgt_mask=mask)
    t_out = theirs(_t(src), _t(tgt), tgt_mask=_t(mask.numpy()))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), atol=1e-12)
    np.testing.assert_array_equal(
        mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(4).double().numpy())


def test_layer_state_dict_keys_and_submodule_order_equal_torch():
    for cls in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        ours = getattr(nn, cls)(8, 2, 16)
        theirs = getattr(torch.nn, cls)(8, 2, 16)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]


def test_encoder_layer_gradcheck():
    gg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True).double()
    names = [name for name, _ in layer.named_parameters()]
    params = list(layer.parameters())
    x = gg.tensor(np.random.default_rng(4).standard_normal((2, 3, 4)), requires_grad=True)
    padded = np.array([[False, False, True], [False, False, False]])

    def fn(*args):
        tensors = dict(zip(names, args[1:], strict=True))
        return functional_call(layer, tensors, [args[0], None, padded])

    assert gradcheck(fn, [x] + params)


def test_training_mode_dropout_is_random_and_seeded():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3)
    x = gg.randn(5, 2, 8)
    gg.manual_seed(3)
    a = layer(x)
    gg.manual_seed(3)
    b = layer(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    c = layer.eval()(x)
    assert not np.allclose(a.numpy(), c.numpy())
    np.testing.assert_array_equal(c.numpy(), layer(x).numpy())


def test_positional_encoding_values_shapes_and_dropout():
    pos = nn.PositionalEncoding(6, dropout=0.0, max_len=50)
    pe = pos.pe.numpy()[:, 0]
    assert pos.pe.shape == (50, 1, 6) and list(pos.state_dict()) == ["pe"]
    for p in (0, 1, 7, 49):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert math.isclose(pe[p, 2 * i], math.sin(angle), abs_tol=1e-6)
            assert math.isclose(pe[p, 2 * i + 1], math.cos(angle), abs_tol=1e-6)
    x = gg.randn(10, 3, 6)
    np.testing.assert_allclose(pos(x).numpy(), x.numpy() + pe[:10, None], atol=1e-7)
    pos_bf = nn.PositionalEncoding(6, dropout=0.0, max_len=50, batch_first=True)
    xb = gg.randn(3, 10, 6)
    np.testing.assert_allclose(pos_bf(xb).numpy(), xb.numpy() + pe[None, :10], atol=1e-7)
    np.testing.assert_allclose(pos(x[:, 0]).numpy(), x.numpy()[:, 0] + pe[:10], atol=1e-7)
    odd = nn.PositionalEncoding(5, max_len=4)
    assert odd.pe.shape == (4, 1, 5)
    x.requires_grad_()
    pos(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 1.0)
    drop = nn.PositionalEncoding(6, dropout=0.5, max_len=50)
    assert not np.allclose(drop(x).numpy(), x.numpy() + pe[:10, None])
    np.testing.assert_allclose(drop.eval()(x).numpy(), x.numpy() + pe[:10, None], atol=1e-7)
    with pytest.raises(ValueError, match="max_len"):
        pos(gg.randn(51, 1, 6))
    with pytest.raises(ValueError, match="PositionalEncoding"):
        pos(gg.randn(5, 1, 7))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="divisible"):
        nn.TransformerEncoderLayer(10, 3)
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
