"""Convolutions: the unfold/fold primitives, conv1d/2d/3d and the transposed convolutions.

Gradients are checked against central differences (first and second order) in
float64 on tiny shapes for every option, values and gradients against PyTorch
on many configurations, and known outputs (the course's edge filters).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad.autograd.ops import conv as windows
from graphgrad.autograd.ops.conv import _by_phase, fold, unfold, window
from graphgrad.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def rand(*shape, requires_grad=True, dtype=np.float64):
    return gg.tensor(RNG.standard_normal(shape), dtype=dtype, requires_grad=requires_grad)


# ------------------------------------------------------------- the primitives
@st.composite
def geometries(draw, max_nd: int = 2):
    """A valid Window: (N, C, *S), kernel, stride, (lo, hi) padding, dilation."""
    nd = draw(st.integers(1, max_nd))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
    sizes = tuple(
        draw(st.integers(max(1, d * (k - 1) + 1 - lo - hi), 6))
        for k, d, (lo, hi) in zip(kernel, dilation, padding, strict=True)
    )
    return window((n, c) + sizes, kernel, stride, padding, dilation)


def naive_unfold(x: np.ndarray, geom) -> np.ndarray:
    """cols[(c, j), (l, n)] = x_padded[n, c, l*s + j*d], one element at a time."""
    pad = [(0, 0), (0, 0)] + list(geom.padding)
    xp = np.pad(x, pad)
    n, c = x.shape[:2]
    cols = np.zeros((c,) + geom.kernel + geom.out + (n,))
    for ci in range(c):
        for j in np.ndindex(*geom.kernel):
            for ni in range(n):
                for ll in np.ndindex(*geom.out):
                    pos = tuple(a * s + b * d for a, b, s, d in
                                zip(ll, j, geom.stride, geom.dilation, strict=True))
                    cols[(ci,) + j + ll + (ni,)] = xp[(ni, ci) + pos]
    return cols.reshape(geom.cols_shape)


@given(geometries())
def test_unfold_matches_the_definition(geom):
    x = RNG.standard_normal(geom.shape)
    np.testing.assert_array_equal(unfold(gg.tensor(x), geom).numpy(), naive_unfold(x, geom))


@given(geometries(max_nd=3))
def test_fold_is_the_adjoint_of_unfold(geom):
    # <unfold(x), c> == <x, fold(c)> for all x, c.
    x = RNG.standard_normal(geom.shape)
    c = RNG.standard_normal(geom.cols_shape)
    lhs = np.sum(unfold(gg.tensor(x), geom).numpy() * c)
    rhs = np.sum(x * fold(gg.tensor(c), geom).numpy())
    assert math.isclose(lhs, rhs, rel_tol=1e-10, abs_tol=1e-10)


@given(geometries())
def test_unfold_and_fold_gradients(geom):
    x = rand(*geom.shape)
    c = rand(*geom.cols_shape)
    assert gradcheck(lambda x: unfold(x, geom), (x,))
    assert gradcheck(lambda c: fold(c, geom), (c,))
    assert gradgradcheck(lambda x: unfold(x, geom) ** 2, (x,))
    assert gradgradcheck(lambda c: fold(c, geom) ** 2, (c,))


@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((2, 3, 8, 8), (4, 4), (2, 2), ((1, 1), (1, 1))),  # a DCGAN layer
    ((1, 2, 7, 9), (3, 4), (2, 3), ((1, 0), (2, 1))),  # sizes that are not multiples of s
    ((2, 1, 10), (5,), (3,), ((2, 2),)),
])
def test_strided_overlapping_windows_go_through_the_phases(shape, kernel, stride, padding):
    geom = window(shape, kernel, stride, padding, (1,) * len(kernel))
    assert _by_phase(geom)
    x = RNG.standard_normal(geom.shape)
    c = RNG.standard_normal(geom.cols_shape)
    np.testing.assert_array_equal(unfold(gg.tensor(x), geom).numpy(), naive_unfold(x, geom))
    lhs = np.sum(naive_unfold(x, geom) * c)
    assert math.isclose(lhs, np.sum(x * fold(gg.tensor(c), geom).numpy()), rel_tol=1e-12)


def test_primitives_check_shapes():
    geom = window((1, 2, 5, 5), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1))
    with pytest.raises(ValueError, match=r"unfold: input of shape \(1, 3, 5, 5\)"):
        unfold(rand(1, 3, 5, 5), geom)
    with pytest.raises(ValueError, match=r"fold: columns of shape \(18, 8\).*\(18, 9\)"):
        fold(rand(18, 8), geom)


# ------------------------------------------------------------- conv gradients
CONV2D_OPTIONS = [
    dict(),
    dict(stride=2),
    dict(stride=(2, 1), padding=(1, 0)),
    dict(padding=1),
    dict(padding="same"),
    dict(padding="same", dilation=2),
    dict(padding="valid"),
    dict(dilation=(2, 1)),
    dict(groups=2),
    dict(groups=4, padding=1),  # depthwise
    dict(stride=2, padding=2, dilation=2, groups=2),
    dict(kernel=1),  # the 1x1 fast path
    dict(kernel=1, groups=2),
]


@pytest.mark.parametrize("options", CONV2D_OPTIONS, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_gradcheck(options, bias):
    options = dict(options)
    groups, kernel = options.get("groups", 1), options.pop("kernel", (3, 2))
    x = rand(2, 4, 5, 6)
    w = rand(4, 4 // groups, *np.broadcast_to(kernel, 2))
    b = rand(4) if bias else None
    inputs = (x, w, b) if bias else (x, w)
    fn = lambda x, w, b=None: F.conv2d(x, w, b, **options)
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


BY_ROWS_OPTIONS = [o for o in CONV2D_OPTIONS if "groups" not in o and "kernel" not in o] + [
    dict(padding=4),  # bands of padding only at the top and the bottom
    dict(stride=(3, 2), padding=(2, 1), dilation=(1, 2)),
]


@pytest.mark.parametrize("options", BY_ROWS_OPTIONS, ids=str)
def test_conv2d_by_rows(options, monkeypatch):
    # Large convolutions run as conv_by_rows; forced here with one output row per band.
    x, w, b = rand(2, 3, 7, 6), rand(4, 3, 3, 2), rand(4)
    fn = lambda x, w, b: F.conv2d(x, w, b, **options)
    expected = fn(x, w, b)
    expected_grads = gg.autograd.grad(expected.sum() * 1.5, (x, w, b))
    monkeypatch.setattr(windows, "BY_ROWS_MIN_BYTES", 0)
    monkeypatch.setattr(windows, "_BAND_BYTES", 1)
    y = fn(x, w, b)
    assert y.grad_fn.next[0].next[0].op is windows.CONV_BY_ROWS  # (under permute, reshape)
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
    for got, want in zip(gg.autograd.grad(y.sum() * 1.5, (x, w, b)), expected_grads, strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


DEPTHWISE_OPTIONS = [
    dict(padding=1),
    dict(stride=2, padding=(1, 0)),
    dict(dilation=(2, 1), padding=2),
    dict(padding="same", kernel=(2, 3)),  # asymmetric padding
    dict(multiplier=2, stride=(1, 2)),
]


@pytest.mark.parametrize("path", ["banded", "unfold"])
@pytest.mark.parametrize("options", DEPTHWISE_OPTIONS, ids=str)
def test_depthwise_conv2d_gradcheck_on_both_paths(options, path, monkeypatch):
    """groups = C_in runs as banded matrix products on large inputs, by unfold on small
    ones (nn.functional.conv._banded_is_cheaper): both give the same values, and
    gradients of every order."""
    import graphgrad.nn.functional.conv as conv_module

    monkeypatch.setattr(conv_module, "_banded_is_cheaper", lambda geom: path == "banded")
    options = dict(options)
    kernel, multiplier = options.pop("kernel", (3, 3)), options.pop("multiplier", 1)
    x, w, b = rand(2, 3, 6, 7), rand(3 * multiplier, 1, *kernel), rand(3 * multiplier)
    fn = lambda x, w, b: F.conv2d(x, w, b, groups=3, **options)
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))
    this_path = fn(x, w, b).numpy()
    monkeypatch.setattr(conv_module, "_banded_is_cheaper", lambda geom: path != "banded")
    np.testing.assert_allclose(this_path, fn(x, w, b).numpy(), rtol=1e-12, atol=1e-12)


def test_depthwise_conv2d_takes_the_banded_path_only_where_it_is_cheaper():
    from graphgrad.nn.functional.conv import _banded_is_cheaper

    same = ((1, 1), (1, 1))
    assert _banded_is_cheaper(window((64, 32, 28, 28), (3, 3), (1, 1), same, (1, 1)))
    assert not _banded_is_cheaper(window((32, 16, 14, 14), (3, 3), (1, 1), same, (1, 1)))  # small
    assert _banded_is_cheaper(window((64, 64, 28, 28), (3, 3), (2, 2), same, (1, 1)))
    assert not _banded_is_cheaper(window((32, 32, 28, 28), (3, 3), (2, 2), same, (1, 1)))  # strided
    assert not _banded_is_cheaper(window((2, 32, 224, 224), (3, 3), (1, 1), same, (1, 1)))  # wide


@pytest.mark.parametrize("options", [dict(), dict(stride=2, padding=1), dict(padding="same"),
                                     dict(dilation=2, groups=3)], ids=str)
def test_conv1d_gradcheck(options):
    groups = options.get("groups", 1)
    x, w, b = rand(2, 3, 7), rand(3, 3 // groups, 3), rand(3)
    fn = lambda x, w, b: F.conv1d(x, w, b, **options)
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_conv3d_gradcheck():
    x, w, b = rand(1, 2, 3, 4, 3), rand(2, 1, 2, 2, 2), rand(2)
    fn = lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=(1, 0, 1), groups=2)
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


CONV_TRANSPOSE2D_OPTIONS = [
    dict(),
    dict(stride=2),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(3, 2), output_padding=(2, 1)),
    dict(dilation=2, padding=1),
    dict(stride=1, dilation=2, output_padding=1),  # output_padding < dilation
    dict(groups=2, stride=2, output_padding=1),
    dict(groups=4, padding=1),  # depthwise
]


@pytest.mark.parametrize("options", CONV_TRANSPOSE2D_OPTIONS, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_gradcheck(options, bias):
    groups = options.get("groups", 1)
    x = rand(2, 4, 3, 4)
    w = rand(4, 4 // groups, 3, 2)
    b = rand(4) if bias else None
    inputs = (x, w, b) if bias else (x, w)
    fn = lambda x, w, b=None: F.conv_transpose2d(x, w, b, **options)
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_conv_transpose1d_gradcheck():
    x, w, b = rand(2, 2, 4), rand(2, 3, 3), rand(3)
    fn = lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1)
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_float32_in_float32_out_and_inputs_untouched():
    x, w, b = rand(2, 3, 6, 6, dtype=np.float32), rand(4, 3, 3, 3, dtype=np.float32), \
        rand(4, dtype=np.float32)
    copies = [t.numpy().copy() for t in (x, w, b)]
    y = F.conv2d(x, w, b, padding=1)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    g_copy = g.copy()
    y.backward(gg.tensor(g))
    assert y.dtype == np.float32
    for t, c in zip((x, w, b), copies, strict=True):
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape
        np.testing.assert_array_equal(t.numpy(), c)
    np.testing.assert_array_equal(g, g_copy)


# ------------------------------------------------------------- against torch
def _compare_with_torch(ours, theirs, arrays, rtol=1e-10, atol=1e-10):
    """Run ``ours`` (autograd) and ``theirs`` (torch) on float64 copies of ``arrays``
    (None entries passed through), compare outputs and input gradients under a
    random upstream gradient."""
    torch = pytest.importorskip("torch")
    mine = [None if a is None else gg.tensor(a, requires_grad=True) for a in arrays]
    ref = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*mine), theirs(*ref)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    g = RNG.standard_normal(ty.shape)
    y.backward(gg.tensor(g))
    ty.backward(torch.tensor(g))
    for a, b in zip(mine, ref, strict=True):
        if a is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)


@st.composite
def conv_configs(draw, nd: int = 2, transposed: bool = False):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    if draw(st.integers(0, 4)) == 0:  # the 1x1 fast path
        kernel, stride, padding = (1,) * nd, (1,) * nd, (0,) * nd
    if transposed:
        sizes = tuple(draw(st.integers(1, 5)) for _ in range(nd))
        output_padding = tuple(draw(st.integers(0, max(s, d) - 1))
                               for s, d in zip(stride, dilation, strict=True))
        padding = tuple(min(p, ((n - 1) * s + d * (k - 1)) // 2) for p, n, s, d, k in
                        zip(padding, sizes, stride, dilation, kernel, strict=True))
        extra = dict(output_padding=output_padding)
    else:
        sizes = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 8))
                      for k, d, p in zip(kernel, dilation, padding, strict=True))
        extra = {}
    return dict(n=draw(st.integers(1, 2)), c_in=c_in, c_out=c_out, kernel=kernel, sizes=sizes,
                stride=stride, padding=padding, dilation=dilation, groups=groups, **extra)


@given(conv_configs(), st.booleans())
def test_conv2d_matches_torch(cfg, bias):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((cfg["n"], cfg["c_in"]) + cfg["sizes"])
    w = RNG.standard_normal((cfg["c_out"], cfg["c_in"] // cfg["groups"]) + cfg["kernel"])
    b = RNG.standard_normal(cfg["c_out"]) if bias else None
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"],
              groups=cfg["groups"])
    _compare_with_torch(lambda x, w, b: F.conv2d(x, w, b, **kw),
                        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw), (x, w, b))


@given(conv_configs(nd=1))
def test_conv1d_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((cfg["n"], cfg["c_in"]) + cfg["sizes"])
    w = RNG.standard_normal((cfg["c_out"], cfg["c_in"] // cfg["groups"]) + cfg["kernel"])
    b = RNG.standard_normal(cfg["c_out"])
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"],
              groups=cfg["groups"])
    _compare_with_torch(lambda x, w, b: F.conv1d(x, w, b, **kw),
                        lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kw), (x, w, b))


@given(conv_configs(transposed=True), st.booleans())
def test_conv_transpose2d_matches_torch(cfg, bias):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((cfg["n"], cfg["c_in"]) + cfg["sizes"])
    w = RNG.standard_normal((cfg["c_in"], cfg["c_out"] // cfg["groups"]) + cfg["kernel"])
    b = RNG.standard_normal(cfg["c_out"]) if bias else None
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"],
              groups=cfg["groups"], output_padding=cfg["output_padding"])
    _compare_with_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
                        lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kw),
                        (x, w, b))


@given(conv_configs(nd=1, transposed=True))
def test_conv_transpose1d_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((cfg["n"], cfg["c_in"]) + cfg["sizes"])
    w = RNG.standard_normal((cfg["c_in"], cfg["c_out"] // cfg["groups"]) + cfg["kernel"])
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"],
              groups=cfg["groups"], output_padding=cfg["output_padding"])
    _compare_with_torch(lambda x, w: F.conv_transpose1d(x, w, **kw),
                        lambda x, w: torch.nn.functional.conv_transpose1d(x, w, **kw), (x, w))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel,dilation", [((3, 3), 1), ((4, 2), 1), ((2, 3), (2, 3))])
def test_same_padding_matches_torch(kernel, dilation):
    torch = pytest.importorskip("torch")
    x, w = RNG.standard_normal((2, 3, 7, 6)), RNG.standard_normal((2, 3) + kernel)
    _compare_with_torch(
        lambda x, w: F.conv2d(x, w, padding="same", dilation=dilation),
        lambda x, w: torch.nn.functional.conv2d(x, w, padding="same", dilation=dilation),
        (x, w))


def test_unfold_and_fold_match_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 6, 7))
    kw = dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    _compare_with_torch(lambda x: F.unfold(x, **kw),
                        lambda x: torch.nn.functional.unfold(x, **kw), (x,))
    cols = F.unfold(gg.tensor(x), **kw).numpy()
    _compare_with_torch(lambda c: F.fold(c, (6, 7), **kw),
                        lambda c: torch.nn.functional.fold(c, (6, 7), **kw), (cols,))


# ------------------------------------------------------------- known values
# The course's 6x6 examples: a bright left half (10) and a dark right half (0).
HALF_BRIGHT = np.array([[10, 10, 10, 0, 0, 0]] * 6, dtype=np.float64)
VERTICAL = np.array([[1, 0, -1]] * 3, dtype=np.float64)
SOBEL = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float64)
NUMBERS = np.array([[3, 0, 1, 2, 7, 4], [1, 5, 8, 9, 3, 1], [2, 7, 2, 5, 1, 3],
                    [0, 1, 3, 1, 7, 8], [4, 2, 1, 6, 2, 8], [2, 4, 5, 2, 3, 9]], dtype=np.float64)


def _filter(image, kernel, **kw):
    return F.conv2d(gg.tensor(image[None, None]), gg.tensor(kernel[None, None]), **kw).numpy()[0, 0]


def test_vertical_edge_filter():
    np.testing.assert_array_equal(_filter(HALF_BRIGHT, VERTICAL), [[0, 30, 30, 0]] * 4)
    # The mirrored image: a dark-to-bright edge gives negative values.
    np.testing.assert_array_equal(_filter(HALF_BRIGHT[:, ::-1].copy(), VERTICAL),
                                  [[0, -30, -30, 0]] * 4)
    # The horizontal filter finds nothing in a vertical edge.
    np.testing.assert_array_equal(_filter(HALF_BRIGHT, VERTICAL.T.copy()), np.zeros((4, 4)))


def test_vertical_edge_filter_on_the_course_numbers():
    expected = [[-5, -4, 0, 8], [-10, -2, 2, 3], [0, -2, -4, -7], [-3, -2, -3, -16]]
    np.testing.assert_array_equal(_filter(NUMBERS, VERTICAL), expected)


def test_sobel_filter():
    np.testing.assert_array_equal(_filter(HALF_BRIGHT, SOBEL), [[0, 40, 40, 0]] * 4)
    # "same" padding keeps 6x6; the zero padding makes edges at the borders too.
    same = _filter(HALF_BRIGHT, SOBEL, padding=1)
    assert same.shape == (6, 6)
    np.testing.assert_array_equal(same[1:-1, 1:-1], [[0, 40, 40, 0]] * 4)
    np.testing.assert_array_equal(same[:, 0], [-30] + [-40] * 4 + [-30])


@pytest.mark.parametrize("n,k,s,p,d", [(6, 3, 1, 0, 1), (7, 3, 2, 0, 1), (7, 3, 2, 1, 1),
                                       (28, 5, 1, 2, 1), (8, 3, 3, 1, 2), (9, 2, 2, 0, 3),
                                       (5, 5, 1, 0, 1), (1, 3, 1, 1, 1), (10, 4, 3, 2, 2)])
def test_output_size(n, k, s, p, d):
    y = F.conv2d(rand(1, 1, n, n + 1), rand(2, 1, k, k), stride=s, padding=p, dilation=d)
    expected = [(m + 2 * p - d * (k - 1) - 1) // s + 1 for m in (n, n + 1)]
    assert y.shape == (1, 2, *expected)


# ------------------------------------------------------------- adjoint
@pytest.mark.parametrize("options", [dict(), dict(stride=2), dict(stride=2, padding=1),
                                     dict(stride=3, padding=2, dilation=2),
                                     dict(stride=(2, 3), groups=2)], ids=str)
def test_transposed_convolution_is_the_gradient_of_convolution(options):
    groups = options.get("groups", 1)
    x, w = rand(2, 4, 9, 8), rand(6, 4 // groups, 3, 3, requires_grad=False)
    y = F.conv2d(x, w, **options)
    g = RNG.standard_normal(y.shape)
    (dx,) = gg.grad(y, x, gg.tensor(g))
    # The transposed conv of g has the smallest input size that the conv maps to y's
    # size; output_padding adds what the stride dropped.
    stride = options.get("stride", 1)
    stride = stride if isinstance(stride, tuple) else (stride, stride)
    base = F.conv_transpose2d(gg.tensor(g), w, **options)
    extra = tuple(a - b for a, b in zip(x.shape[2:], base.shape[2:], strict=True))
    assert all(0 <= e < s for e, s in zip(extra, stride, strict=True))
    dx_t = F.conv_transpose2d(gg.tensor(g), w, output_padding=extra, **options)
    np.testing.assert_allclose(dx_t.numpy(), dx.numpy(), rtol=1e-12, atol=1e-12)


def test_second_derivative_through_a_conv_net():
    # d/dx of ||grad_x L||^2 exists and matches central differences (create_graph
    # through conv, relu-free so it is smooth).
    x, w1, w2 = rand(1, 2, 4, 4), rand(3, 2, 3, 3), rand(3, 2, 2, 2)

    def net(x, w1, w2):
        h = F.conv2d(x, w1, padding=1).tanh()
        return F.conv_transpose2d(F.avg_pool2d(h, 2), w2, stride=2)

    assert gradgradcheck(net, (x, w1, w2))


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,pattern", [
    (lambda: F.conv2d(rand(3, 8, 8), rand(4, 3, 3, 3)),
     r"conv2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 8, 8\)"),
    (lambda: F.conv2d(rand(1, 2, 8, 8), rand(4, 3, 3, 3)),
     r"conv2d: expected input with 3 channels \(weight of shape \(4, 3, 3, 3\), groups=1\), "
     r"got 2 channels in input of shape \(1, 2, 8, 8\)"),
    (lambda: F.conv2d(rand(1, 3, 4, 4), rand(4, 3, 7, 3), padding=1),
     r"conv2d: the kernel \(size 7x3.*larger than the padded input \(6x6\); input shape "
     r"\(1, 3, 4, 4\)"),
    (lambda: F.conv2d(rand(1, 3, 5, 5), rand(4, 3, 3, 3), dilation=3),
     r"conv2d: the kernel .*dilated extent 7x7.*padded input \(5x5\)"),
    (lambda: F.conv2d(rand(1, 4, 8, 8), rand(3, 2, 3, 3), groups=2),
     r"conv2d: out_channels 3 .* divisible by groups=2"),
    (lambda: F.conv2d(rand(1, 3, 8, 8), rand(4, 3, 3, 3), rand(3)),
     r"conv2d: expected a bias of shape \(4,\), got \(3,\)"),
    (lambda: F.conv2d(rand(1, 3, 8, 8), rand(4, 3, 3)),
     r"conv2d: expected a 4-D weight"),
    (lambda: F.conv2d(rand(1, 3, 8, 8), rand(4, 3, 3, 3), stride=2, padding="same"),
     r"conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(rand(1, 3, 8, 8), rand(4, 3, 3, 3), stride=0),
     r"conv2d: stride must be >= 1"),
    (lambda: F.conv2d(rand(1, 3, 8, 8), rand(4, 3, 3, 3), padding="full"),
     r"conv2d: padding must be"),
    (lambda: F.conv1d(rand(1, 3, 8, 8), rand(4, 3, 3)),
     r"conv1d: expected a 3-D input \(N, C, L\), got shape \(1, 3, 8, 8\)"),
    (lambda: F.conv_transpose2d(rand(1, 2, 4, 4), rand(3, 2, 3, 3)),
     r"conv_transpose2d: expected input with 3 channels .* got 2 channels"),
    (lambda: F.conv_transpose2d(rand(1, 2, 4, 4), rand(2, 2, 3, 3), stride=2, output_padding=2),
     r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either stride"),
])
def test_bad_arguments_raise_naming_the_op_and_shapes(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_integer_input_raises_type_error():
    with pytest.raises(TypeError, match="conv2d: expected a floating point input"):
        F.conv2d(gg.tensor(np.ones((1, 1, 3, 3), dtype=np.int64)), rand(1, 1, 2, 2))


def test_inputs_with_any_memory_layout():
    # Strided, flipped and transposed views give the same result as contiguous copies.
    base = gg.tensor(RNG.standard_normal((6, 3, 9, 8)))
    w = gg.tensor(RNG.standard_normal((4, 3, 3, 3)))
    for view in (base[::2, :, ::-1, 1:], base.transpose(2, 3), base[:, :, 2:7, ::2]):
        assert not view.numpy().flags.c_contiguous
        copy = gg.tensor(np.ascontiguousarray(view.numpy()))
        np.testing.assert_allclose(F.conv2d(view, w, padding=1).numpy(),
                                   F.conv2d(copy, w, padding=1).numpy(), rtol=1e-12, atol=1e-12)
        for pool in (lambda t: F.max_pool2d(t, 2, padding=1), lambda t: F.avg_pool2d(t, 2)):
            np.testing.assert_array_equal(pool(view).numpy(), pool(copy).numpy())


def test_a_graph_mixing_convs_pools_and_views_matches_torch():
    # Branches that reuse x and h, views of conv outputs, and a second-order term.
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x0, w0 = RNG.standard_normal((2, 3, 6, 6)), RNG.standard_normal((3, 3, 3, 3))
    v0 = RNG.standard_normal(216)

    def run(fn, x, w, v, grad):
        h = fn.conv2d(x, w, padding=1)
        y = (fn.max_pool2d(h, 2).sum() * 2 + (h.reshape(-1) * v).sum()
             + fn.avg_pool2d(x, 3, 1, 1).pow(2).sum()
             + fn.conv_transpose2d(h, w, padding=1).tanh().sum() + (x.transpose(2, 3) * h).sum())
        (g,) = grad(fn.conv2d(x, w).pow(2).sum(), [x], create_graph=True)
        (y + (g * g).sum()).backward()
        return y.item(), x.grad, w.grad

    ours = run(F, gg.tensor(x0, requires_grad=True), gg.tensor(w0, requires_grad=True),
               gg.tensor(v0), gg.grad)
    theirs = run(tf, torch.tensor(x0, requires_grad=True),
                 torch.tensor(w0, requires_grad=True), torch.tensor(v0), torch.autograd.grad)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12)
    for a, b in zip(ours[1:], theirs[1:], strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-10)
