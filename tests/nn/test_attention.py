"""Scaled dot-product and multi-head attention: PyTorch parity, masks, gradients, errors."""
from __future__ import annotations

import numpy as np
import pytest
from moduleinfo import functional_call

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.testing import gradcheck

torch = pytest.importorskip("torch")


def _t(a, grad: bool = False):
    return torch.tensor(a, requires_grad=grad)


# ------------------------------------------------------ scaled_dot_product_attention
SDPA_MASKS = ["none", "bool", "float", "causal", "scale"]


@pytest.mark.parametrize("mask_kind", SDPA_MASKS)
def test_sdpa_matches_torch(mask_kind):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)])
    kwargs = {}
    if mask_kind == "bool":
        mask = rng.random((4, 6)) > 0.3
        mask[:, 0] = True  # every query keeps a key (torch gives NaN otherwise)
        kwargs["attn_mask"] = mask
    elif mask_kind == "float":
        kwargs["attn_mask"] = rng.standard_normal((3, 1, 6))
    elif mask_kind == "causal":
        kwargs["is_causal"] = True
    elif mask_kind == "scale":
        kwargs["scale"] = 0.3
    ours_in = [gg.tensor(a, requires_grad=True) for a in (q, k, v)]
    theirs_in = [_t(a, True) for a in (q, k, v)]
    ours = F.scaled_dot_product_attention(*ours_in, **kwargs)
    t_kwargs = {key: _t(val) if isinstance(val, np.ndarray) else val
                for key, val in kwargs.items()}
    theirs = torch.nn.functional.scaled_dot_product_attention(*theirs_in, **t_kwargs)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), atol=1e-12)
    g = rng.standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(_t(g))
    for a, b in zip(ours_in, theirs_in, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)


def test_sdpa_fully_masked_row_gives_zeros_not_nan():
    rng = np.random.default_rng(1)
    q, k, v = (gg.tensor(rng.standard_normal(s), requires_grad=True)
               for s in [(3, 4), (5, 4), (5, 2)])
    allowed = rng.random((3, 5)) > 0.4
    allowed[:, 0] = True
    allowed[1] = False  # query 1 may attend to nothing
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    np.testing.assert_array_equal(out.numpy()[1], 0.0)
    assert np.isfinite(out.numpy()).all()
    out.backward(rng.standard_normal(out.shape))
    for t in (q, k, v):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[1], 0.0)
    # A float mask of -inf behaves the same.
    out_f = F.scaled_dot_product_attention(q, k, v, attn_mask=np.where(allowed, 0.0, -np.inf))
    np.testing.assert_allclose(out_f.numpy(), out.numpy(), atol=1e-12)


def test_sdpa_causal_output_does_not_depend_on_later_inputs():
    rng = np.random.default_rng(2)
    x = gg.tensor(rng.standard_normal((2, 6, 4)), requires_grad=True)
    out = F.scaled_dot_product_attention(x, x, x, is_causal=True)
    for t in range(6):
        (grad,) = gg.grad(out[:, t].sum(), x, retain_graph=True)
        assert np.all(grad.numpy()[:, t + 1:] == 0.0)  # exactly zero, not just small
        assert np.abs(grad.numpy()[:, :t + 1]).sum() > 0


def test_sdpa_gradcheck_with_mask():
    rng = np.random.default_rng(3)
    q, k, v = (gg.tensor(rng.standard_normal(s), requires_grad=True)
               for s in [(2, 3, 2), (2, 4, 2), (2, 4, 3)])
    mask = gg.tensor(rng.standard_normal((3, 4)), requires_grad=True)  # a learned bias
    assert gradcheck(lambda *a: F.scaled_dot_product_attention(*a[:3], attn_mask=a[3]),
                     [q, k, v, mask])
    causal = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True)
    assert gradcheck(causal, [q, k, v])


def test_sdpa_bad_shapes_raise():
    q, k, v = gg.randn(2, 3, 4), gg.randn(2, 5, 4), gg.randn(2, 5, 6)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 4\).*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 4), dtype=bool))
    with pytest.raises(ValueError, match="share"):
        F.scaled_dot_product_attention(q, gg.randn(2, 5, 3), v)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: the batch dims of "
                                         r"query \(2, 3, 4\), key \(3, 5, 4\)"):
        F.scaled_dot_product_attention(q, gg.randn(3, 5, 4), gg.randn(3, 5, 6))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), dtype=bool),
                                       is_causal=True)


# ------------------------------------------------------------ MultiheadAttention
def _mha_pair(**kwargs):
    theirs = torch.nn.MultiheadAttention(8, 2, **kwargs).double()
    ours = nn.MultiheadAttention(8, 2, **kwargs).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


MHA_CASES = {
    "self": dict(kwargs={}, masks={}),
    "batch_first-bool-masks": dict(kwargs={"batch_first": True},
                                   masks={"key_padding_mask": "bool", "attn_mask": "bool"}),
    "float-masks": dict(kwargs={}, masks={"key_padding_mask": "float", "attn_mask": "float"}),
    "3d-attn-mask-per-head": dict(kwargs={}, masks={"attn_mask": "bool3d"},
                                  average=False),
    "kdim-vdim": dict(kwargs={"kdim": 5, "vdim": 3}, masks={"key_padding_mask": "bool"},
                      cross=True),
    "cross-same-dim-no-bias": dict(kwargs={"bias": False}, masks={}, cross=True),
    "bias_kv-zero_attn": dict(kwargs={"add_bias_kv": True, "add_zero_attn": True},
                              masks={"key_padding_mask": "bool", "attn_mask": "float"},
                              cross=True),
    "no-weights": dict(kwargs={"batch_first": True}, masks={"attn_mask": "bool"},
                       need_weights=False),
}


def _mha_masks(masks: dict, rng, n: int, heads: int, length: int, source: int) -> dict:
    out = {}
    kpm = masks.get("key_padding_mask")
    if kpm:
        padded = np.zeros((n, source), dtype=bool)
        padded[0, -2:] = True
        out["key_padding_mask"] = padded if kpm == "bool" else np.where(padded, -np.inf, 0.0)
    am = masks.get("attn_mask")
    if am == "bool":
        out["attn_mask"] = np.triu(np.ones((length, source), dtype=bool), 1)  # causal
    elif am == "float":
        out["attn_mask"] = rng.standard_normal((length, source))
    elif am == "bool3d":
        mask = rng.random((n * heads, length, source)) > 0.6
        mask[..., 0] = False
        out["attn_mask"] = mask
    return out


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_matches_torch(case):
    spec = MHA_CASES[case]
    kwargs = spec["kwargs"]
    rng = np.random.default_rng(4)
    ours, theirs = _mha_pair(**kwargs)
    n, length, source = 3, 4, 5 if spec.get("cross") else 4
    batch_first = kwargs.get("batch_first", False)

    def shape(seq, dim):
        return (n, seq, dim) if batch_first else (seq, n, dim)

    q = rng.standard_normal(shape(length, 8))
    k = rng.standard_normal(shape(source, kwargs.get("kdim", 8)))
    v = rng.standard_normal(shape(source, kwargs.get("vdim", 8)))
    if not spec.get("cross"):
        k = v = q
    masks = _mha_masks(spec["masks"], rng, n, 2, length, source)
    options = dict(need_weights=spec.get("need_weights", True),
                   average_attn_weights=spec.get("average", True))
    ours_q = gg.tensor(q, requires_grad=True)
    theirs_q = _t(q, True)
    if spec.get("cross"):
        ours_kv = [gg.tensor(k, requires_grad=True), gg.tensor(v, requires_grad=True)]
        theirs_kv = [_t(k, True), _t(v, True)]
    else:
        ours_kv, theirs_kv = [ours_q, ours_q], [theirs_q, theirs_q]
    out, weights = ours(ours_q, *ours_kv, **masks, **options)
    t_out, t_weights = theirs(theirs_q, *theirs_kv, **{k: _t(m) for k, m in masks.items()},
                              **options)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), atol=1e-12)
    if options["need_weights"]:
        np.testing.assert_allclose(weights.numpy(), t_weights.detach().numpy(), atol=1e-12)
    else:
        assert weights is None and t_weights is None
    g = rng.standard_normal(out.shape)
    out.backward(g)
    t_out.backward(_t(g))
    np.testing.assert_allclose(ours_q.grad.numpy(), theirs_q.grad.numpy(), atol=1e-12)
    if spec.get("cross"):
        for a, b in zip(ours_kv, theirs_kv, strict=True):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), atol=1e-12,
                                   err_msg=name)


def test_multihead_attention_unbatched_matches_torch():
    ours, theirs = _mha_pair()
    rng = np.random.default_rng(5)
    q, k = rng.standard_normal((4, 8)), rng.standard_normal((6, 8))
    kpm = np.zeros(6, dtype=bool)
    kpm[-1] = True
    out, w = ours(gg.tensor(q), gg.tensor(k), gg.tensor(k), key_padding_mask=kpm,
                  average_attn_weights=False)
    t_out, t_w = theirs(_t(q), _t(k), _t(k), key_padding_mask=_t(kpm),
                        average_attn_weights=False)
    assert out.shape == (4, 8) and w.shape == (2, 4, 6)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(w.numpy(), t_w.detach().numpy(), atol=1e-12)


def test_attention_weights_sum_to_one_over_unmasked_keys():
    mha = nn.MultiheadAttention(8, 4, batch_first=True)
    x = gg.randn(3, 5, 8)
    padded = np.zeros((3, 5), dtype=bool)
    padded[1, 3:] = True
    padded[2, 1:] = True
    _, w = mha(x, x, x, key_padding_mask=padded, average_attn_weights=False)
    assert w.shape == (3, 4, 5, 5)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-6)
    assert np.all(w.numpy()[np.broadcast_to(padded[:, None, None, :], w.shape)] == 0.0)


def test_multihead_attention_fully_masked_query_gives_zeros():
    mha = nn.MultiheadAttention(4, 2)
    x = gg.tensor(np.random.default_rng(6).standard_normal((3, 2, 4)), requires_grad=True)
    mask = np.zeros((3, 3), dtype=bool)
    mask[2] = True  # query 2 sees no key
    out, w = mha(x, x, x, attn_mask=mask)
    np.testing.assert_array_equal(w.numpy()[:, 2], 0.0)
    out.backward(np.ones(out.shape))
    assert np.isfinite(x.grad.numpy()).all()


def test_causal_mask_makes_position_t_independent_of_later_inputs():
    mha = nn.MultiheadAttention(8, 2, batch_first=True).double()
    x = gg.tensor(np.random.default_rng(7).standard_normal((2, 6, 8)), requires_grad=True)
    causal = nn.Transformer.generate_square_subsequent_mask(6, dtype=np.float64)
    out, _ = mha(x, x, x, attn_mask=causal, is_causal=True)
    for t in range(6):
        (grad,) = gg.grad(out[:, t].sum(), x, retain_graph=True)
        assert np.all(grad.numpy()[:, t + 1:] == 0.0)
        assert np.abs(grad.numpy()[:, :t + 1]).sum() > 0


def test_multihead_attention_gradcheck():
    gg.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2, kdim=3, vdim=2).double()
    rng = np.random.default_rng(8)
    inputs = [gg.tensor(rng.standard_normal(s), requires_grad=True)
              for s in [(3, 2, 4), (2, 2, 3), (2, 2, 2)]]
    names = [name for name, _ in mha.named_parameters()]
    params = list(mha.parameters())
    kpm = np.array([[False, True], [False, False]])

    def fn(*args):
        return functional_call(mha, dict(zip(names, args[3:], strict=True)), list(args[:3]) + [kpm])

    assert gradcheck(fn, inputs + params)


def test_multihead_attention_dropout_only_in_training():
    mha = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = gg.randn(4, 2, 8)
    gg.manual_seed(1)
    a, wa = mha(x, x, x)
    gg.manual_seed(1)
    b, _ = mha(x, x, x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    mha.eval()
    c, wc = mha(x, x, x)
    assert not np.allclose(a.numpy(), c.numpy())
    np.testing.assert_allclose(wc.numpy().sum(-1), 1.0, rtol=1e-6)


def test_multihead_attention_state_dict_keys_equal_torch():
    for kwargs in [{}, {"kdim": 5, "vdim": 3}, {"add_bias_kv": True}, {"bias": False}]:
        ours = nn.MultiheadAttention(8, 2, **kwargs).state_dict()
        theirs = torch.nn.MultiheadAttention(8, 2, **kwargs).state_dict()
        assert list(ours) == list(theirs)
        assert [v.shape for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]


def test_multihead_attention_init_as_torch():
    mha = nn.MultiheadAttention(16, 4)
    bound = np.sqrt(6 / (16 + 48))  # xavier_uniform on (3E, E)
    assert np.abs(mha.in_proj_weight.numpy()).max() <= bound
    assert mha.in_proj_weight.numpy().std() > bound / 3
    np.testing.assert_array_equal(mha.in_proj_bias.numpy(), 0.0)
    np.testing.assert_array_equal(mha.out_proj.bias.numpy(), 0.0)


def test_multihead_attention_bad_inputs_raise():
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2)
    x = gg.randn(4, 2, 8)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 4\)"):
        mha(x, x, x, attn_mask=np.zeros((3, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(4, 2\)"):
        mha(x, x, x, key_padding_mask=np.zeros((4, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"\(4, 2, 6\).*embed_dim 8"):
        mha(gg.randn(4, 2, 6), x, x)
    with pytest.raises(ValueError, match="is_causal"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="batch sizes"):
        mha(x, gg.randn(4, 3, 8), gg.randn(4, 3, 8))
    with pytest.raises(ValueError, match=r"key of shape \(4, 2, 6\) does not end in embed_dim = 8"):
        mha(x, gg.randn(4, 2, 6), x)
    separate = nn.MultiheadAttention(8, 2, kdim=6, vdim=7)
    with pytest.raises(ValueError, match=r"value of shape \(4, 2, 6\) does not end in vdim = 7"):
        separate(x, gg.randn(4, 2, 6), gg.randn(4, 2, 6))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 4\) should be "
                                         r"\(S,\) = \(4,\)"):  # unbatched: the user's shapes
        mha(gg.randn(5, 8), gg.randn(4, 8), gg.randn(4, 8), key_padding_mask=np.zeros((2, 4), bool))


def test_sdpa_is_twice_differentiable_with_a_fully_masked_row():
    from graphgrad.testing import gradgradcheck

    rng = np.random.default_rng(9)
    q = gg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    kv = gg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    allowed = np.array([[True, False], [True, True], [False, False]])
    assert gradgradcheck(lambda a, b: F.scaled_dot_product_attention(a, b, b, attn_mask=allowed),
                         [q, kv])
