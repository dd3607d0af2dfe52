"""The convolution and pooling layers: parameters, initialisation, repr, PyTorch parity."""
from __future__ import annotations

import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.testing import gradcheck

RNG = np.random.default_rng(0)

LAYERS = [
    ("Conv1d", (3, 4, 3), {}, (2, 3, 9)),
    ("Conv1d", (4, 4, 3), dict(stride=2, padding=1, groups=2, bias=False), (2, 4, 9)),
    ("Conv2d", (3, 5, 3), {}, (2, 3, 7, 6)),
    ("Conv2d", (3, 6, (3, 2)), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2)), (2, 3, 7, 8)),
    ("Conv2d", (4, 4, 3), dict(padding="same", groups=4, bias=False), (1, 4, 6, 5)),
    ("Conv2d", (2, 3, 3), dict(padding="valid"), (1, 2, 5, 5)),
    ("Conv2d", (2, 3, 3), dict(padding=1, padding_mode="reflect"), (1, 2, 5, 5)),
    ("Conv2d", (2, 3, 3), dict(padding=(1, 2), padding_mode="replicate"), (1, 2, 5, 5)),
    ("Conv2d", (2, 3, 4), dict(padding="same", padding_mode="circular"), (1, 2, 5, 5)),
    ("Conv3d", (2, 2, 2), dict(padding=1), (1, 2, 3, 4, 3)),
    ("ConvTranspose1d", (3, 2, 3), dict(stride=2), (2, 3, 4)),
    ("ConvTranspose2d", (4, 2, 3), dict(stride=2, padding=1, output_padding=1), (2, 4, 3, 4)),
    ("ConvTranspose2d", (4, 6, 2), dict(stride=2, groups=2, bias=False, dilation=2), (1, 4, 3, 3)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (2, 3, 8)),
    ("MaxPool2d", (2,), {}, (2, 3, 6, 6)),
    ("MaxPool2d", ((3, 2),), dict(stride=2, padding=1, dilation=1, ceil_mode=True), (2, 3, 7, 6)),
    ("AvgPool1d", (2,), {}, (2, 3, 8)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 7, 6)),
    ("AvgPool2d", (2,), dict(ceil_mode=True, divisor_override=3), (2, 3, 5, 5)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((3, 4),), {}, (2, 3, 7, 9)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 5, 5)),
]
IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(LAYERS)]


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS, ids=IDS)
def test_same_outputs_and_gradients_as_torch(name, args, kwargs, shape):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    state = {k: v.detach().numpy().astype(np.float64) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)
    theirs.double()
    data = RNG.standard_normal(shape)
    x, tx = gg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    for p in ours.parameters():
        p.data = p.data.astype(np.float64)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = RNG.standard_normal(ty.shape)
    y.backward(gg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    for (key, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=key)


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS, ids=IDS)
def test_repr_and_parameters_match_torch(name, args, kwargs, shape):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert all(p.dtype == np.float32 for p in ours.parameters())


@pytest.mark.parametrize("name,args,kwargs,shape", [layer for layer in LAYERS
                                                    if "Conv" in layer[0]][:6])
def test_gradcheck_input_and_parameters(name, args, kwargs, shape):
    layer = getattr(nn, name)(*args, **kwargs)
    names = [key for key, _ in layer.named_parameters()]
    params = [gg.tensor(p.numpy(), dtype=np.float64, requires_grad=True) for p in
              layer.parameters()]
    x = gg.tensor(RNG.standard_normal(shape), requires_grad=True)

    def fn(x, *ps):  # the layer's forward with the given (float64) parameters
        for key, p in zip(names, ps, strict=True):
            layer._parameters[key] = p
        return layer(x)

    assert gradcheck(fn, (x, *params))


@pytest.mark.parametrize("layer,fan_in", [
    (lambda: nn.Conv2d(8, 16, 3), 8 * 9),
    (lambda: nn.Conv2d(8, 16, (3, 5), groups=4), 2 * 15),
    (lambda: nn.Conv1d(6, 4, 5), 30),
    (lambda: nn.ConvTranspose2d(8, 16, 3), 16 * 9),
    (lambda: nn.ConvTranspose2d(8, 16, 3, groups=2), 8 * 9),
])
def test_default_init_is_pytorchs(layer, fan_in):
    # kaiming_uniform(a=sqrt(5)) gives U(-b, b) with b = gain * sqrt(3 / fan_in), gain =
    # sqrt(2 / (1 + 5)): exactly 1/sqrt(fan_in), the bias bound too.
    gg.manual_seed(0)
    module = layer()
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(module.weight.numpy()).max() <= bound
    assert np.abs(module.weight.numpy()).max() > 0.9 * bound  # fills the range
    assert np.abs(module.bias.numpy()).max() <= bound
    gg.manual_seed(0)
    again = layer()
    np.testing.assert_array_equal(again.weight.numpy(), module.weight.numpy())


def test_conv_transpose_output_size():
    torch = pytest.importorskip("torch")
    up, tup = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), \
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = gg.randn(1, 2, 4, 5)
    for size in [(7, 9), (8, 10), (1, 3, 8, 9)]:
        assert up(x, output_size=size).shape == \
            tuple(tup(torch.tensor(x.numpy()), output_size=size).shape)
    with pytest.raises(ValueError, match=r"requested output size \(9, 9\)"):
        up(x, output_size=(9, 9))


def test_small_cnn_state_dict_keys_are_pytorchs():
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(16, 10),
    )
    assert list(model.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "4.weight", "8.weight", "8.bias",
    ]
    assert model(gg.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("make,shape,pattern", [
    (lambda: nn.Conv2d(3, 8, 3), (3, 8, 8), r"Conv2d\(3, 8, kernel_size=\(3, 3\).*\): "
     r"expected 4D input \(N, C, H, W\), got 3D input of shape \(3, 8, 8\)"),
    (lambda: nn.Conv2d(3, 8, 3), (1, 4, 8, 8), r"Conv2d\(3, 8.*\): expected input with "
     r"in_channels = 3 at dim 1, got input of shape \(1, 4, 8, 8\)"),
    (lambda: nn.Conv2d(3, 8, 5), (1, 3, 4, 4), r"conv2d: the kernel \(size 5x5.*larger than "
     r"the padded input \(4x4\); input shape \(1, 3, 4, 4\)"),
    (lambda: nn.ConvTranspose2d(3, 8, 3), (1, 2, 4, 4), r"ConvTranspose2d\(3, 8.*in_channels "
     r"= 3 at dim 1"),
    (lambda: nn.MaxPool2d(2), (8, 8), r"MaxPool2d\(kernel_size=2.*\): expected 3D or 4D input"),
])
def test_bad_input_raises_naming_the_layer(make, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()(gg.randn(*shape))


@pytest.mark.parametrize("make,pattern", [
    (lambda: nn.Conv2d(3, 8, 3, groups=2), r"Conv2d: in_channels \(3\) and out_channels \(8\) "
     r"must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(3, 8, 3, stride=2, padding="same"), r"Conv2d: padding='same'"),
    (lambda: nn.Conv2d(3, 8, 3, padding_mode="mirror"), r"Conv2d: padding_mode must be"),
    (lambda: nn.ConvTranspose2d(3, 8, 3, padding_mode="reflect"), r"only 'zeros'"),
])
def test_bad_constructor_arguments(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_a_small_cnn_learns_to_tell_vertical_from_horizontal_edges():
    gg.manual_seed(0)
    rng = np.random.default_rng(0)
    images = np.zeros((32, 1, 8, 8), dtype=np.float32)
    labels = rng.integers(0, 2, 32)
    for img, label, pos in zip(images, labels, rng.integers(1, 7, 32), strict=True):
        if label:
            img[0, :, pos:] = 1.0
        else:
            img[0, pos:, :] = 1.0
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 2))
    x, y = gg.tensor(images), gg.tensor(labels)
    losses = []
    for _ in range(60):
        loss = nn.functional.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()
        with gg.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize("cls", [nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                                 nn.ConvTranspose2d, nn.ConvTranspose3d])
def test_conv_modules_take_device_and_dtype_like_pytorch(cls):
    """PyTorch's keyword arguments device (accepted; everything runs on the CPU) and dtype."""
    layer = cls(2, 4, 3, device="cpu", dtype=np.float64)
    assert layer.weight.dtype == np.float64
