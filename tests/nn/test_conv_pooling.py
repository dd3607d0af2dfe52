"""Pooling: max_pool, avg_pool, adaptive_avg_pool (1-D and 2-D).

Known behaviour (max picks the maximum and routes the gradient to it, ties to
the first), gradients against central differences (first and second order,
values kept apart so no tie sits within eps), values, gradients and indices
against PyTorch.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def distinct(*shape, requires_grad=True):
    """Float64 values at least 0.1 apart (in random order), so no max is tied within eps."""
    values = RNG.permutation(np.arange(np.prod(shape)) * 0.1 - 1.0).reshape(shape)
    return gg.tensor(values, dtype=np.float64, requires_grad=requires_grad)


# ------------------------------------------------------------- max pooling
def test_max_pool_picks_the_maximum_and_routes_the_gradient_to_it():
    x = gg.tensor([[[[1.0, 2.0, 5.0, 3.0],
                     [4.0, 0.0, 1.0, 1.0],
                     [7.0, 8.0, 2.0, 9.0],
                     [6.0, 1.0, 3.0, 4.0]]]], requires_grad=True)
    y = F.max_pool2d(x, 2)
    np.testing.assert_array_equal(y.numpy(), [[[[4, 5], [8, 9]]]])
    y.backward(gg.tensor([[[[10.0, 20.0], [30.0, 40.0]]]]))
    expected = np.zeros((4, 4))
    expected[1, 0], expected[0, 2], expected[2, 1], expected[2, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_max_pool_ties_go_to_the_first_maximum():
    x = gg.tensor(np.ones((1, 1, 2, 4)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0]])
    # Overlapping windows: a shared maximum collects the gradient of every window.
    x = gg.tensor([[[0.0, 3.0, 1.0, 3.0, 2.0]]], requires_grad=True)
    F.max_pool1d(x, 3, stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [0, 2, 0, 1, 0])


def test_max_pool_propagates_nan():
    x = gg.tensor([[[[1.0, np.nan], [3.0, 2.0]]]], requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert np.isnan(y.numpy()).all()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 1], [0, 0]])


def test_max_pool_padding_is_not_an_anomaly():
    x = gg.tensor(RNG.standard_normal((1, 1, 4, 4)), requires_grad=True)
    with gg.detect_anomaly():
        F.max_pool2d(x, 3, 2, 1).sum().backward()
    assert x.grad.shape == x.shape


def test_max_pool_window_of_padding_only_gives_minus_inf():
    # Length 1 padded to 3; the dilated window covers padded positions 0 and 2 only.
    x = gg.tensor([[[5.0]]], requires_grad=True)
    y = F.max_pool1d(x, 2, stride=1, padding=1, dilation=2)
    assert y.numpy().tolist() == [[[-np.inf]]]
    y.backward(gg.tensor([[[1.0]]]))
    assert x.grad.numpy().tolist() == [[[0.0]]]


MAX_POOL_OPTIONS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)),
    dict(kernel_size=2, dilation=2),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=2, padding=1, ceil_mode=True),
]


@pytest.mark.parametrize("options", MAX_POOL_OPTIONS, ids=str)
def test_max_pool2d_gradcheck(options):
    x = distinct(2, 2, 5, 6)
    fn = lambda x: F.max_pool2d(x, **options)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_max_pool1d_gradcheck():
    x = distinct(2, 3, 7)
    fn = lambda x: F.max_pool1d(x, 3, stride=2, padding=1)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@st.composite
def pool_configs(draw, nd: int = 2, dilation: bool = True):
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dil = tuple(draw(st.integers(1, 2)) if dilation else 1 for _ in range(nd))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    sizes = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 8))
                  for k, d, p in zip(kernel, dil, padding, strict=True))
    cfg = dict(kernel_size=kernel, stride=stride, padding=padding,
               ceil_mode=draw(st.booleans()))
    if dilation:
        cfg["dilation"] = dil
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + sizes, cfg


def _against_torch(ours, theirs, shape, ties: bool = False, drawn: bool = False):
    torch = pytest.importorskip("torch")
    data = RNG.integers(0, 4, shape).astype(np.float64) if ties else RNG.standard_normal(shape)
    x, tx = gg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    if drawn:  # a dilated window can hold only padding: PyTorch then gives -inf and an
        # arbitrary index; that degenerate case is not compared
        assume(np.isfinite((ty[0] if isinstance(ty, tuple) else ty).detach().numpy()).all())
    if isinstance(y, tuple):
        np.testing.assert_array_equal(y[1].numpy(), ty[1].numpy())
        y, ty = y[0], ty[0]
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(ty.shape)
    y.backward(gg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@given(pool_configs(), st.booleans())
def test_max_pool2d_matches_torch(config, ties):
    torch = pytest.importorskip("torch")
    shape, cfg = config
    _against_torch(lambda x: F.max_pool2d(x, **cfg, return_indices=True),
                   lambda x: torch.nn.functional.max_pool2d(x, **cfg, return_indices=True),
                   shape, ties, drawn=True)


@given(pool_configs(nd=1), st.booleans())
def test_max_pool1d_matches_torch(config, ties):
    torch = pytest.importorskip("torch")
    shape, cfg = config
    _against_torch(lambda x: F.max_pool1d(x, **cfg, return_indices=True),
                   lambda x: torch.nn.functional.max_pool1d(x, **cfg, return_indices=True),
                   shape, ties, drawn=True)


def test_max_pool_after_a_convolution():
    # A convolution's output is laid out channel-first in memory; the pooling reads it
    # without a copy and must still index it correctly.
    torch = pytest.importorskip("torch")
    x, w = RNG.standard_normal((3, 2, 8, 7)), RNG.standard_normal((4, 2, 3, 3))
    _against_torch(lambda x: F.max_pool2d(F.conv2d(x, gg.tensor(w), padding=1), 2),
                   lambda x: torch.nn.functional.max_pool2d(
                       torch.nn.functional.conv2d(x, torch.tensor(w), padding=1), 2),
                   x.shape)


# ------------------------------------------------------------- average pooling
AVG_POOL_OPTIONS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, divisor_override=3),
]


@pytest.mark.parametrize("options", AVG_POOL_OPTIONS, ids=str)
def test_avg_pool2d_gradcheck(options):
    x = gg.tensor(RNG.standard_normal((2, 2, 5, 6)), requires_grad=True)
    fn = lambda x: F.avg_pool2d(x, **options)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_avg_pool_known_values():
    x = gg.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(F.avg_pool2d(x, 2).numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    # Zero padding counts by default: the corner window holds 0 + 1 + 4 + 5 of 9 cells.
    padded = F.avg_pool2d(x, 3, stride=1, padding=1)
    assert padded.numpy()[0, 0, 0, 0] == pytest.approx(10 / 9)
    exclusive = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    assert exclusive.numpy()[0, 0, 0, 0] == pytest.approx(10 / 4)


@given(pool_configs(dilation=False), st.booleans())
def test_avg_pool2d_matches_torch(config, include_pad):
    torch = pytest.importorskip("torch")
    shape, cfg = config
    cfg["count_include_pad"] = include_pad
    _against_torch(lambda x: F.avg_pool2d(x, **cfg),
                   lambda x: torch.nn.functional.avg_pool2d(x, **cfg), shape)


@given(pool_configs(nd=1, dilation=False), st.booleans())
def test_avg_pool1d_matches_torch(config, include_pad):
    torch = pytest.importorskip("torch")
    shape, cfg = config
    cfg["count_include_pad"] = include_pad
    _against_torch(lambda x: F.avg_pool1d(x, **cfg),
                   lambda x: torch.nn.functional.avg_pool1d(x, **cfg), shape)


# ------------------------------------------------------------- adaptive
@pytest.mark.parametrize("size", [1, (2, 3), (4, None), (5, 7)])
def test_adaptive_avg_pool2d_gradcheck(size):
    x = gg.tensor(RNG.standard_normal((1, 2, 5, 7)), requires_grad=True)
    fn = lambda x: F.adaptive_avg_pool2d(x, size)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.integers(1, 9))
def test_adaptive_avg_pool2d_matches_torch(h, w, oh, ow):
    torch = pytest.importorskip("torch")
    _against_torch(lambda x: F.adaptive_avg_pool2d(x, (oh, ow)),
                   lambda x: torch.nn.functional.adaptive_avg_pool2d(x, (oh, ow)), (2, 3, h, w))


def test_adaptive_avg_pool1d_matches_torch():
    torch = pytest.importorskip("torch")
    _against_torch(lambda x: F.adaptive_avg_pool1d(x, 4),
                   lambda x: torch.nn.functional.adaptive_avg_pool1d(x, 4), (2, 3, 10))


def test_global_average_pooling():
    x = RNG.standard_normal((2, 3, 4, 5))
    y = F.adaptive_avg_pool2d(gg.tensor(x), 1)
    np.testing.assert_allclose(y.numpy(), x.mean(axis=(2, 3), keepdims=True), rtol=1e-12)


# ------------------------------------------------------------- shapes and errors
@pytest.mark.parametrize("pool", [
    lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2),
    lambda x: F.adaptive_avg_pool2d(x, 3),
])
def test_unbatched_input(pool):
    x = RNG.standard_normal((3, 6, 6))
    np.testing.assert_array_equal(pool(gg.tensor(x)).numpy(), pool(gg.tensor(x[None])).numpy()[0])


def test_max_pool_return_indices_shape():
    y, idx = F.max_pool2d(distinct(2, 3, 6, 6), 2, return_indices=True)
    assert y.shape == idx.shape == (2, 3, 3, 3)
    assert idx.dtype == np.int64


@pytest.mark.parametrize("call,pattern", [
    (lambda: F.max_pool2d(distinct(1, 8, 8), 2, padding=2),
     r"max_pool2d: padding \(2, 2\) should be at most half of the kernel size \(2, 2\)"),
    (lambda: F.max_pool2d(distinct(1, 1, 3, 3), 4),
     r"max_pool2d: the kernel \(size 4x4.*larger than the padded input \(3x3\); input shape "
     r"\(1, 1, 3, 3\)"),
    (lambda: F.avg_pool2d(distinct(4, 4), 2),
     r"avg_pool2d: expected a 3-D or 4-D input \(N, C, H, W\), got shape \(4, 4\)"),
    (lambda: F.max_pool2d(distinct(1, 1, 4, 4), 0), r"max_pool2d: kernel_size must be >= 1"),
    (lambda: F.adaptive_avg_pool2d(distinct(1, 1, 4, 4), (1, 2, 3)),
     r"adaptive_avg_pool2d: output_size must be an int or 2 ints"),
])
def test_bad_arguments_raise_naming_the_op_and_shapes(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
