"""Every layer of the module registry (tests/nn/moduleinfo.py) on a device: the strict
stand-in GPU (``graphgrad.testing.strict_arrays``) computes with NumPy but refuses
implicit transfers to the host, as CuPy does (or a real GPU: tests/device_under_test.py).
A layer moved there must give its CPU copy's outputs, input and parameter gradients and
buffers (bit for bit on the stand-in; within float64 rounding on a GPU).  More layers,
the functional losses, other functions and gradient clipping are checked the same way.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from device_under_test import TOLERANCE, cuda_for_tests
from moduleinfo import MODULES, Fixed, Index, ModuleInfo, as_inputs

import graphgrad as gg
from graphgrad import nn
from graphgrad.nn import functional as F


@pytest.fixture(autouse=True)
def cuda():
    with cuda_for_tests():
        yield


# Layers outside the registry (whose generic tests compare with PyTorch's repr and
# state_dict too): convolutions, recurrent layers, attention, transformers, more
# pooling, embeddings and the loss modules with weights.
EXTRA_MODULES = [
    ModuleInfo("Conv1d", (2, 3, 3), {"padding": 2, "dilation": 2}, inputs=((2, 2, 7),)),
    ModuleInfo("Conv2d", (4, 6, 3), {"groups": 2, "stride": 2, "padding": 1},
               inputs=((2, 4, 6, 5),)),
    ModuleInfo("Conv2d", (2, 3, 3), {"padding": "same", "padding_mode": "reflect"},
               inputs=((1, 2, 5, 4),), variant="reflect"),
    ModuleInfo("Conv2d", (2, 2, 3), {"padding": 1, "padding_mode": "circular", "bias": False},
               inputs=((1, 2, 4, 4),), variant="circular"),
    ModuleInfo("Conv3d", (2, 2, 2), inputs=((1, 2, 3, 4, 4),)),
    ModuleInfo("ConvTranspose1d", (2, 3, 3), {"stride": 2}, inputs=((2, 2, 4),)),
    ModuleInfo("ConvTranspose2d", (3, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1},
               inputs=((2, 3, 4, 4),)),
    ModuleInfo("MaxPool1d", (2,), {"return_indices": True, "ceil_mode": True},
               inputs=((2, 3, 7),)),
    ModuleInfo("MaxPool2d", (3,), {"stride": 2, "padding": 1, "dilation": 2},
               inputs=((2, 2, 7, 6),)),
    ModuleInfo("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False},
               inputs=((2, 2, 5, 6),)),
    ModuleInfo("AdaptiveAvgPool2d", ((2, 3),), inputs=((2, 2, 5, 7),)),
    ModuleInfo("RNN", (3, 4), {"nonlinearity": "relu", "num_layers": 2}, inputs=((5, 2, 3),)),
    ModuleInfo("GRU", (3, 4), {"batch_first": True, "bidirectional": True},
               inputs=((2, 5, 3),)),
    ModuleInfo("LSTM", (3, 4), {"num_layers": 2, "proj_size": 2}, inputs=((5, 2, 3),)),
    ModuleInfo("RNNCell", (3, 4), inputs=((2, 3),)),
    ModuleInfo("GRUCell", (3, 4), inputs=((2, 3),)),
    ModuleInfo("LSTMCell", (3, 4), inputs=((3,),)),
    ModuleInfo("MultiheadAttention", (4, 2), inputs=((3, 2, 4), (5, 2, 4), (5, 2, 4))),
    ModuleInfo("MultiheadAttention", (4, 2), {"add_bias_kv": True, "add_zero_attn": True,
                                             "kdim": 3, "vdim": 5, "batch_first": True},
               inputs=((2, 3, 4), (2, 5, 3), (2, 5, 5)), variant="extras"),
    ModuleInfo("TransformerEncoderLayer", (4, 2, 8), {"dropout": 0.0},
               inputs=((3, 2, 4),)),
    ModuleInfo("TransformerDecoderLayer", (4, 2, 8), {"dropout": 0.0, "norm_first": True},
               inputs=((3, 2, 4), (5, 2, 4))),
    ModuleInfo("PositionalEncoding", (4,), {"dropout": 0.0, "max_len": 10},
               inputs=((3, 2, 4),)),
    ModuleInfo("Embedding", (5, 3), {"max_norm": 1.0, "scale_grad_by_freq": True},
               inputs=(Index((2, 4), 5),), variant="max-norm"),
    ModuleInfo("EmbeddingBag", (6, 3), {"mode": "sum"}, inputs=(Index((7,), 6),
                                                              Fixed((0, 2, 2, 5))),
               variant="offsets"),
    ModuleInfo("CrossEntropyLoss", (), {"weight": gg.tensor([1.0, 0.5, 2.0, 1.5]),
                                        "ignore_index": 1, "label_smoothing": 0.1},
               inputs=((5, 4), Index((5,), 4))),
    ModuleInfo("NLLLoss", (), {"weight": gg.tensor([1.0, 0.5, 2.0, 1.5])},
               inputs=((2, 4, 3), Index((2, 3), 4))),
    ModuleInfo("BCEWithLogitsLoss", (), {"pos_weight": gg.tensor([1.0, 0.5, 2.0, 1.5])},
               inputs=((3, 4), (3, 4))),
    ModuleInfo("CTCLoss", (), {"reduction": "sum"},
               inputs=((6, 2, 4), Fixed(((1, 2, 3), (2, 2, 1))), Fixed((6, 5)), Fixed((3, 2)))),
]


def _cases() -> list:
    return [pytest.param(info, mode, id=f"{info.id}-{mode}")
            for info in (*MODULES, *EXTRA_MODULES) for mode in ("train", "eval")
            if not (info.random and mode == "train")]  # random draws differ per device


def _host(t) -> np.ndarray:
    assert t.device.type == "cuda", f"a result is on {t.device}, not on the device"
    return t.cpu().numpy()


def _same(device_value: np.ndarray, cpu_value: np.ndarray, what: str) -> None:
    assert device_value.dtype == cpu_value.dtype and device_value.shape == cpu_value.shape, what
    np.testing.assert_allclose(device_value, cpu_value, **TOLERANCE, equal_nan=True,
                               err_msg=f"{what} differs on the device")


def _tensors(out) -> list:
    """The Tensors of a layer's output: itself, or those in (nested) tuples (LSTM's)."""
    if isinstance(out, gg.Tensor):
        return [out]
    return [t for o in out for t in _tensors(o)]


def _backward(outputs: list, upstream: list, device: str) -> None:
    live = [(o, gg.tensor(u, device=device)) for o, u in zip(outputs, upstream, strict=True)
            if o.requires_grad]
    gg.autograd.backward([o for o, _ in live], [u for _, u in live])


@pytest.mark.parametrize(("info", "mode"), _cases())
def test_module_on_device_matches_cpu(info, mode):
    on_cpu = info.make().double().train(mode == "train")
    on_device = copy.deepcopy(on_cpu).to("cuda")
    for (name, p), q in zip(on_cpu.state_dict().items(), on_device.state_dict().values(),
                            strict=True):
        _same(_host(q), p.numpy(), f"weight {name}")
    rng = np.random.default_rng(0)
    for step in range(2):  # two steps: BatchNorm's running statistics accumulate
        arrays = info.sample_inputs(seed=step)
        cpu_in = as_inputs(info, arrays)
        device_in = [gg.tensor(a, device="cuda", requires_grad=a.dtype.kind == "f")
                     for a in arrays]
        cpu_out, device_out = _tensors(on_cpu(*cpu_in)), _tensors(on_device(*device_in))
        for k, (c, d) in enumerate(zip(cpu_out, device_out, strict=True)):
            _same(_host(d), c.numpy(), f"output {k}")
        upstream = [rng.standard_normal(c.shape) for c in cpu_out]
        _backward(cpu_out, upstream, "cpu")
        _backward(device_out, upstream, "cuda")
        for k, (c, d) in enumerate(zip(cpu_in, device_in, strict=True)):
            if c.requires_grad:
                _same(_host(d.grad), c.grad.numpy(), f"gradient of input {k}")
        device_params = dict(on_device.named_parameters())
        for name, p in on_cpu.named_parameters():
            _same(_host(device_params[name].grad), p.grad.numpy(), f"gradient of {name}")
        device_state = on_device.state_dict()
        for key, value in on_cpu.state_dict().items():
            _same(_host(device_state[key]), value.numpy(), f"state {key} after step {step}")


def _floats(rng, *shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape)


def _classes(rng, *shape, high=4):
    return rng.integers(0, high, shape)


def _signs(rng, *shape):
    return rng.choice([-1, 1], shape).astype(np.int64)


# (name, loss, its inputs: float arrays are differentiated, integer ones are targets)
LOSSES = [
    ("mse_loss", F.mse_loss, lambda r: [_floats(r, 3, 4), _floats(r, 3, 4)]),
    ("l1_loss", F.l1_loss, lambda r: [_floats(r, 3, 4), _floats(r, 3, 4)]),
    ("smooth_l1_loss", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5),
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4)]),
    ("huber_loss", lambda x, y: F.huber_loss(x, y, delta=0.7),
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4)]),
    ("binary_cross_entropy", F.binary_cross_entropy,
     lambda r: [_floats(r, 3, 4, low=0.05, high=0.95), _floats(r, 3, 4, low=0, high=1),
                _floats(r, 4, low=0.5, high=1.5)]),
    ("binary_cross_entropy_with_logits",
     lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw),
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4, low=0, high=1), _floats(r, 4, low=0.5)]),
    ("nll_loss", lambda x, t, w: F.nll_loss(x, t, w, ignore_index=1),
     lambda r: [_floats(r, 5, 4), _classes(r, 5), _floats(r, 4, low=0.5)]),
    ("nll_loss-2d", lambda x, t: F.nll_loss(x, t, reduction="none"),
     lambda r: [_floats(r, 2, 4, 3), _classes(r, 2, 3)]),
    ("cross_entropy", lambda x, t, w: F.cross_entropy(x, t, w, label_smoothing=0.1),
     lambda r: [_floats(r, 5, 4), _classes(r, 5), _floats(r, 4, low=0.5)]),
    ("cross_entropy-probs", F.cross_entropy,
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4, low=0, high=1)]),
    ("kl_div", lambda x, y: F.kl_div(x, y, reduction="batchmean"),
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4, low=0, high=1)]),
    ("poisson_nll_loss", lambda x, y: F.poisson_nll_loss(x, y, full=True),
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4, low=0, high=3)]),
    ("gaussian_nll_loss", F.gaussian_nll_loss,
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4), _floats(r, 3, 4, low=0.1)]),
    ("triplet_margin_loss", lambda a, p, n: F.triplet_margin_loss(a, p, n, swap=True),
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4), _floats(r, 3, 4)]),
    ("margin_ranking_loss", F.margin_ranking_loss,
     lambda r: [_floats(r, 4), _floats(r, 4), _signs(r, 4)]),
    ("hinge_embedding_loss", F.hinge_embedding_loss,
     lambda r: [_floats(r, 3, 4), _signs(r, 3, 4)]),
    ("soft_margin_loss", F.soft_margin_loss, lambda r: [_floats(r, 3, 4), _signs(r, 3, 4)]),
    ("multilabel_soft_margin_loss", F.multilabel_soft_margin_loss,
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4, low=0, high=1)]),
    ("multilabel_margin_loss", F.multilabel_margin_loss,
     lambda r: [_floats(r, 3, 4), np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 2, 2, 0]])]),
    ("multi_margin_loss", lambda x, t, w: F.multi_margin_loss(x, t, p=2, weight=w),
     lambda r: [_floats(r, 3, 4), _classes(r, 3), _floats(r, 4, low=0.5)]),
    ("cosine_embedding_loss", F.cosine_embedding_loss,
     lambda r: [_floats(r, 3, 4), _floats(r, 3, 4), _signs(r, 3)]),
    ("ctc_loss", lambda x, t, n, m: F.ctc_loss(F.log_softmax(x, -1), t, n, m),
     lambda r: [_floats(r, 6, 2, 4), _classes(r, 2, 3, high=3) + 1, np.array([6, 5]),
                np.array([3, 2])]),
]


# More functions, on arguments that the layers above do not reach (masks, sampling
# grids, windows of padding only, the banded depthwise convolution, packing, ...).
FUNCTIONS = [
    ("scaled_dot_product_attention-causal",
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     lambda r: [_floats(r, 2, 3, 4), _floats(r, 2, 3, 4), _floats(r, 2, 3, 5)]),
    ("scaled_dot_product_attention-mask",
     lambda q, k, v: F.scaled_dot_product_attention(
         q, k, v, attn_mask=np.array([[True, False, True], [False, False, False]])),
     lambda r: [_floats(r, 2, 2, 4), _floats(r, 2, 3, 4), _floats(r, 2, 3, 5)]),
    ("multi_head_attention-masks", lambda q, pad: _layer(
        lambda: nn.MultiheadAttention(4, 2), q.device)(
            q, q, q, key_padding_mask=pad == 1, attn_mask=np.triu(np.ones((3, 3), bool), 1))[0],
     lambda r: [_floats(r, 3, 2, 4), np.array([[0, 0, 1], [0, 1, 1]])]),
    ("grid_sample-bilinear", lambda x, g: F.grid_sample(x, g, align_corners=False),
     lambda r: [_floats(r, 2, 2, 4, 5), _floats(r, 2, 3, 2, 2, low=-1.2, high=1.2)]),
    ("grid_sample-nearest-border",
     lambda x, g: F.grid_sample(x, g, "nearest", "border", align_corners=True),
     lambda r: [_floats(r, 1, 2, 4, 5), _floats(r, 1, 3, 2, 2, low=-1.5, high=1.5)]),
    ("grid_sample-3d-reflection",
     lambda x, g: F.grid_sample(x, g, padding_mode="reflection", align_corners=False),
     lambda r: [_floats(r, 1, 2, 3, 4, 3), _floats(r, 1, 2, 2, 2, 3, low=-2.5, high=2.5)]),
    ("affine_grid", lambda theta: F.affine_grid(theta, (2, 1, 3, 4), align_corners=False),
     lambda r: [_floats(r, 2, 2, 3)]),
    ("interpolate-area", lambda x: F.interpolate(x, size=(2, 3), mode="area"),
     lambda r: [_floats(r, 1, 2, 5, 7)]),
    ("conv2d-depthwise-banded", lambda x, w: F.conv2d(x, w, padding=1, groups=2),
     lambda r: [_floats(r, 1, 2, 400, 500), _floats(r, 2, 1, 3, 3)]),
    ("max_pool2d-unpool", lambda x: F.max_unpool2d(
        *F.max_pool2d(x, 2, stride=2, padding=1, return_indices=True), 2, 2, 1, x.shape[2:]),
     lambda r: [_floats(r, 2, 2, 5, 4)]),
    ("max_pool1d-dilated-padding",
     lambda x: F.max_pool1d(x, 3, stride=1, padding=1, dilation=3, return_indices=True)[0],
     lambda r: [_floats(r, 1, 2, 5)]),
    ("embedding_bag-weights", lambda w, i, o, s: F.embedding_bag(
        i, w, o, mode="sum", per_sample_weights=s, padding_idx=2),
     lambda r: [_floats(r, 6, 3), _classes(r, 7, high=6), np.array([0, 3, 3]),
                _floats(r, 7)]),
    ("embedding_bag-max-empty", lambda w, i, o: F.embedding_bag(i, w, o, mode="max"),
     lambda r: [_floats(r, 6, 3), _classes(r, 5, high=6), np.array([0, 0, 2])]),
    ("one_hot", lambda i: F.one_hot(i, 5), lambda r: [_classes(r, 2, 3, high=5)]),
    ("normalize", lambda x: F.normalize(x, p=3.0, dim=0), lambda r: [_floats(r, 3, 4)]),
    ("packed-lstm", lambda x, n: _packed_lstm(x, n),
     lambda r: [_floats(r, 3, 4, 2), np.array([2, 4, 1])]),
    ("spectral_norm", lambda x: _parametrized(nn.utils.parametrizations.spectral_norm, x),
     lambda r: [_floats(r, 2, 3)]),
    ("weight_norm", lambda x: _parametrized(nn.utils.parametrizations.weight_norm, x),
     lambda r: [_floats(r, 2, 3)]),
    ("orthogonal", lambda x: _parametrized(nn.utils.parametrizations.orthogonal, x),
     lambda r: [_floats(r, 2, 3)]),
    ("orthogonal-householder", lambda x: _parametrized(
        lambda m: nn.utils.parametrizations.orthogonal(m, orthogonal_map="householder"), x),
     lambda r: [_floats(r, 2, 3)]),
]


def _layer(make, device) -> nn.Module:
    """A float64 layer with the same weights on every device."""
    gg.manual_seed(0)
    return make().double().to(device)


def _packed_lstm(x, lengths):
    """An LSTM over a packed batch (unsorted lengths), padded back: output and h_n."""
    lstm = _layer(lambda: nn.LSTM(2, 3), x.device)
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                               enforce_sorted=False)
    out, (h, _) = lstm(packed)
    padded, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    return padded.sum() + h.sum()


def _parametrized(parametrization, x):
    """A Linear layer's output under a weight parametrization (same weights per device)."""
    return parametrization(_layer(lambda: nn.Linear(3, 4), x.device))(x)


def _check_function(fn, arrays) -> None:
    """``fn`` on the CPU and on the device: same outputs and input gradients."""
    results = []
    for device in ("cpu", "cuda"):
        inputs = [gg.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(*inputs)
        if out.requires_grad:
            out.backward(gg.ones(out.shape, dtype=out.dtype, device=device))
        results.append([out, *(x.grad for x in inputs)])
    for k, (c, d) in enumerate(zip(*results, strict=True)):
        assert (c is None) == (d is None), f"result {k}: a gradient is missing"
        if c is not None:
            _same(_host(d), c.numpy(), f"result {k}")


@pytest.mark.parametrize(("name", "fn", "make"), [
    pytest.param(*case, id=case[0]) for case in (*LOSSES, *FUNCTIONS)])
def test_function_on_device_matches_cpu(name, fn, make):
    _check_function(fn, make(np.random.default_rng(0)))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf")])
def test_clip_grad_norm_on_device_matches_cpu(norm_type):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5), np.zeros((0, 2))]
    results = []
    for device in ("cpu", "cuda"):
        params = [nn.Parameter(gg.zeros(g.shape, dtype=gg.float64, device=device))
                  for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = gg.tensor(g, device=device)
        total = nn.utils.clip_grad_norm_(params, max_norm=0.5, norm_type=norm_type,
                                         error_if_nonfinite=True)
        results.append([total, *(p.grad for p in params)])
    assert results[0][0].item() > 0.5  # clipping happened
    for k, (c, d) in enumerate(zip(*results, strict=True)):
        _same(_host(d), c.numpy(), f"result {k}")


def test_clip_grad_value_on_device_matches_cpu():
    g = np.random.default_rng(2).standard_normal((4, 3))
    clipped = []
    for device in ("cpu", "cuda"):
        p = nn.Parameter(gg.zeros(4, 3, dtype=gg.float64, device=device))
        p.grad = gg.tensor(g, device=device)
        nn.utils.clip_grad_value_([p], 0.3)
        clipped.append(p.grad)
    _same(_host(clipped[1]), clipped[0].numpy(), "clipped gradient")


def _seed_cpu_and_device_apart() -> None:
    """Seed the CPU's source with 0, the device's with 1: draws show where they come from."""
    gg.manual_seed(0)
    gg.cuda.manual_seed(1)


@pytest.mark.parametrize(("fill", "mean", "std"), [
    (lambda t: nn.init.uniform_(t, -1.0, 3.0), 1.0, 4.0 / 12**0.5),
    (lambda t: nn.init.normal_(t, 0.5, 2.0), 0.5, 2.0),
    (lambda t: nn.init.trunc_normal_(t, 0.0, 1.0, -1.0, 1.0), 0.0, 0.5379),
    (lambda t: nn.init.trunc_normal_(t, 0.0, 1.0, 2.0, 4.0), 2.3732, 0.3398),
    (lambda t: nn.init.orthogonal_(t), 0.0, 300**-0.5),
    (lambda t: nn.init.sparse_(t, 0.5, std=2.0), 0.0, 2.0 * 0.5**0.5),
], ids=["uniform_", "normal_", "trunc_normal_", "trunc_normal_-tail", "orthogonal_", "sparse_"])
def test_init_draws_on_the_device(fill, mean, std):
    values = []
    for device in ("cuda", "cuda", "cpu"):
        _seed_cpu_and_device_apart()
        values.append(fill(gg.empty(300, 200, dtype=gg.float64, device=device)))
    assert not np.array_equal(values[2].numpy(), _host(values[0]))  # the device's own source
    values = [_host(t) for t in values[:2]]
    np.testing.assert_array_equal(values[0], values[1])  # the same seed, the same values
    assert abs(values[0].mean() - mean) < 0.05 * max(std, 0.1)
    assert abs(values[0].std() - std) < 0.05 * std


def test_layers_made_on_the_device_initialise_there():
    layer = nn.Linear(30, 20, device="cuda")
    for p in layer.parameters():
        assert p.device.type == "cuda"
        assert 0 < np.abs(_host(p)).max() <= 30**-0.5


@pytest.mark.parametrize(("make", "shape", "kept_together"), [
    (lambda: nn.Dropout(0.3), (200, 50), ()),
    (lambda: nn.Dropout2d(0.3), (100, 40, 2, 3), (2, 3)),
])
def test_dropout_draws_its_mask_on_the_device(make, shape, kept_together):
    x = gg.ones(*shape, dtype=gg.float64, device="cuda", requires_grad=True)
    outputs = []
    for _ in range(2):  # the same seed gives the same mask
        _seed_cpu_and_device_apart()
        outputs.append(make()(x))
    _seed_cpu_and_device_apart()
    assert not np.array_equal(make()(gg.ones(*shape, dtype=gg.float64)).numpy(),
                              _host(outputs[0]))  # the device's own source
    y = _host(outputs[0])
    np.testing.assert_array_equal(y, _host(outputs[1]))
    assert set(np.unique(y)) <= {0.0, 1 / 0.7}
    assert abs((y == 0).mean() - 0.3) < 0.03
    if kept_together:  # a channel is kept or dropped whole
        planes = y.reshape(*shape[:2], -1)
        assert (planes == planes[..., :1]).all()
    outputs[0].backward(gg.ones(*shape, dtype=gg.float64, device="cuda"))
    np.testing.assert_array_equal(_host(x.grad), y)  # the gradient is the scaled mask


def test_parameter_of_device_data_stays_on_the_device():
    p = nn.Parameter(gg.arange(3.0, device="cuda"))
    assert p.device.type == "cuda" and p.requires_grad
    assert repr(p) == ("Parameter containing:\n"
                       "tensor([0., 1., 2.], device='cuda:0', requires_grad=True)")
