"""Resampling and padding as PyTorch's: ``interpolate`` (every mode, sizes and scale
factors drawn at random: the index maths must pick the same inputs), ``pad``'s
modes with negative pads, ``pixel_shuffle``, ``grid_sample`` (random and
pixel-lattice grids, so that coordinates fall exactly on cell borders) and
``affine_grid``; values and gradients in float64, gradcheck and gradgradcheck,
errors.  The long sweeps are marked slow."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgrad as gg
import graphgrad.nn as nn
import graphgrad.nn.functional as F
from graphgrad.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)
LINEAR_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
MODES = ["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"]


def _against_torch(ours, theirs, arrays, grad_atol=1e-12):
    """Values and gradients (random upstream) of every float input."""
    torch = pytest.importorskip("torch")
    a = [gg.tensor(x, requires_grad=True) for x in arrays]
    b = [torch.tensor(x, requires_grad=True) for x in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, y_t = ours(*a), theirs(*b)
    assert tuple(y.shape) == tuple(y_t.shape)
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    upstream = RNG.standard_normal(y_t.shape)
    y.backward(gg.tensor(upstream))
    y_t.backward(torch.tensor(upstream))
    for o, t in zip(a, b, strict=True):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-11, atol=grad_atol)


# ------------------------------------------------------------------ interpolate
def _interpolate_case(draw):
    mode = draw(st.sampled_from(MODES))
    nd = LINEAR_DIMS.get(mode) or draw(st.integers(1, 3))
    sizes = tuple(draw(st.integers(1, 8)) for _ in range(nd))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["size"] = tuple(draw(st.integers(1, 12)) for _ in range(nd))
    else:
        digits = draw(st.integers(0, 3))
        scales = tuple(round(draw(st.floats(0.3, 3.5)), digits) for _ in range(nd))
        if any(np.floor(n * s) < 1 for n, s in zip(sizes, scales, strict=True)):
            scales = tuple(max(s, 1.0) for s in scales)
        kwargs["scale_factor"] = scales
        kwargs["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    if mode in LINEAR_DIMS:
        kwargs["align_corners"] = draw(st.booleans())
    return mode, (2, 3) + sizes, kwargs


def _torch_backward_is_the_adjoint(mode, shape, kwargs) -> bool:
    """Where a scale factor is given, PyTorch's backward can differ from the adjoint of its
    forward (ours is the adjoint): nearest's backward copies or halves the index where
    the output size is the input's or twice it, also when the scale (1-D, 3-D) made its
    forward do otherwise; bicubic's backward copies the gradient when every output size
    equals the input's, while its forward interpolates with the scale."""
    scales = kwargs.get("scale_factor")
    if scales is None or kwargs.get("recompute_scale_factor"):
        return True
    outs = [int(np.floor(n * s)) for n, s in zip(shape[2:], scales, strict=True)]
    if mode == "bicubic":
        return outs != list(shape[2:]) or all(s == 1.0 for s in scales)
    if mode != "nearest" or len(shape) == 4:
        return True
    return not any(m in (n, 2 * n) and s not in (1.0, 2.0)
                   for n, m, s in zip(shape[2:], outs, scales, strict=True))


def _check_interpolate(mode, shape, kwargs):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal(shape)
    y = F.interpolate(gg.tensor(x), mode=mode, **kwargs)
    y_t = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, **kwargs)
    assert tuple(y.shape) == tuple(y_t.shape)
    np.testing.assert_allclose(y.numpy(), y_t.numpy(), rtol=1e-13, atol=1e-14)
    if _torch_backward_is_the_adjoint(mode, shape, kwargs):
        _against_torch(lambda t: F.interpolate(t, mode=mode, **kwargs),
                       lambda t: torch.nn.functional.interpolate(t, mode=mode, **kwargs), [x])


@given(st.data())
def test_interpolate_matches_torch(data):
    _check_interpolate(*_interpolate_case(data.draw))


@pytest.mark.slow
@settings(max_examples=1500)
@given(st.data())
def test_interpolate_matches_torch_long(data):
    _check_interpolate(*_interpolate_case(data.draw))


def test_nearest_with_a_scale_factor_follows_torchs_forward():
    """1-D/3-D: the scale factor decides the source (not the shortcut m = n); 2-D:
    PyTorch's kernel copies the index when m = n, whatever the scale factor."""
    x = gg.arange(4.0).reshape(1, 1, 4)
    assert F.interpolate(x, scale_factor=1.15).numpy().ravel().tolist() == [0, 0, 1, 2]
    x2 = gg.arange(4.0).reshape(1, 1, 4, 1)
    assert F.interpolate(x2, scale_factor=(1.15, 1.0)).numpy().ravel().tolist() == [0, 1, 2, 3]
    # Our gradient is the adjoint of that forward: each output's gradient goes to its source.
    a = gg.arange(4.0, requires_grad=True)
    F.interpolate(a.reshape(1, 1, 4), scale_factor=1.15).backward(gg.tensor([[[1., 2., 4., 8.]]]))
    assert a.grad.tolist() == [3.0, 4.0, 8.0, 0.0]


@pytest.mark.parametrize("mode", MODES)
def test_interpolate_gradcheck_and_gradgradcheck(mode):
    nd = LINEAR_DIMS.get(mode, 2)
    x = gg.tensor(RNG.standard_normal((1, 2) + (3,) * nd), requires_grad=True)
    kwargs = {"size": (4,) * (nd - 1) + (5,)}
    if mode in LINEAR_DIMS:
        kwargs["align_corners"] = mode == "bilinear"
    fn = lambda t: F.interpolate(t, mode=mode, **kwargs)  # noqa: E731
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


def test_interpolate_float32_keeps_its_dtype_and_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((1, 2, 5, 7)).astype(np.float32)
    # Bicubic sums 16 weighted float32 terms of size up to ~4, in another order than
    # PyTorch's: the two differ by a few float32 ulps of those terms (up to 3.6e-6 over
    # 300 random inputs), so the tolerance is 32 ulps of 1.
    ulps = 32 * np.finfo(np.float32).eps
    for mode in ("bilinear", "bicubic", "nearest"):
        y = F.interpolate(gg.tensor(x), scale_factor=1.7, mode=mode)
        y_t = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=1.7, mode=mode)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y.numpy(), y_t.numpy(), rtol=1e-5, atol=ulps)


def test_interpolate_errors():
    x = gg.randn(1, 2, 4)
    with pytest.raises(NotImplementedError, match="antialias=True is not supported"):
        F.interpolate(gg.randn(1, 2, 4, 4), size=2, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match="antialias is restricted to the bilinear and bicubic"):
        F.interpolate(x, size=2, mode="linear", antialias=True)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=2, scale_factor=2.0)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners can only be set with the interpolating"):
        F.interpolate(x, size=3, align_corners=False)
    with pytest.raises(ValueError, match=r"mode 'bilinear' needs a 4-D input, got shape "
                                         r"\(1, 2, 4\)"):
        F.interpolate(x, size=3, mode="bilinear")
    with pytest.raises(ValueError, match=r"interpolate: expected a 3-D, 4-D or 5-D input"):
        F.interpolate(gg.randn(2, 4), size=3)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.interpolate(x, size=3, mode="cubic")
    with pytest.raises(TypeError, match="size must be an int or a tuple of ints"):
        F.interpolate(x, size=(2.0,))
    with pytest.raises(ValueError, match=r"size \(2, 2\) must have one entry per spatial dim"):
        F.interpolate(x, size=(2, 2))
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful"):
        F.interpolate(x, size=3, recompute_scale_factor=True)
    with pytest.raises(ValueError, match=r"sizes should be greater than 0, got input \(4,\) and "
                                         r"output \(0,\)"):
        F.interpolate(x, scale_factor=0.1)


def test_deprecated_upsample_functions_warn():
    x = gg.randn(1, 1, 2, 2)
    with pytest.warns(UserWarning, match="upsample_nearest is deprecated"):
        assert F.upsample_nearest(x, scale_factor=2).shape == (1, 1, 4, 4)
    with pytest.warns(UserWarning, match="upsample_bilinear is deprecated"):
        y = F.upsample_bilinear(x, size=3)
    np.testing.assert_allclose(y.numpy(), F.interpolate(x, size=3, mode="bilinear",
                                                        align_corners=True).numpy())
    with pytest.warns(UserWarning, match="upsample is deprecated"):
        F.upsample(x, scale_factor=2)


@pytest.mark.parametrize("make", [
    lambda ns: ns.Upsample(scale_factor=2), lambda ns: ns.Upsample((3, 4), mode="bilinear"),
    lambda ns: ns.Upsample(scale_factor=(1.5, 2), mode="bicubic", align_corners=True),
    lambda ns: ns.UpsamplingNearest2d(size=5), lambda ns: ns.UpsamplingBilinear2d(
        scale_factor=3), lambda ns: ns.PixelShuffle(3), lambda ns: ns.PixelUnshuffle(2),
    lambda ns: ns.ZeroPad2d((1, 0, 2, 3)), lambda ns: ns.ConstantPad3d(1, -2.5),
    lambda ns: ns.CircularPad1d((2, 1)), lambda ns: ns.ReplicationPad3d(2),
    lambda ns: ns.ReflectionPad1d([1, 2])])
def test_reprs_match_torch(make):
    torch = pytest.importorskip("torch")
    assert repr(make(nn)) == repr(make(torch.nn))


# ------------------------------------------------------------------ pixel shuffle
@given(st.integers(0, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
def test_pixel_shuffle_matches_torch_and_round_trips(batch_dims, r, c, h):
    torch = pytest.importorskip("torch")
    shape = (2,) * batch_dims + (c * r * r, h, h + 1)
    x = RNG.standard_normal(shape)
    _against_torch(lambda t: F.pixel_shuffle(t, r),
                   lambda t: torch.nn.functional.pixel_shuffle(t, r), [x])
    _against_torch(lambda t: F.pixel_unshuffle(t, r),
                   lambda t: torch.nn.functional.pixel_unshuffle(t, r),
                   [RNG.standard_normal(shape[:-3] + (c, h * r, (h + 1) * r))])
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(gg.tensor(x), r), r)
                                  .numpy(), x)


def test_pixel_shuffle_errors():
    with pytest.raises(ValueError, match=r"pixel_shuffle: the 3 channels of input \(2, 3, 4, 4\) "
                                         r"are not divisible by upscale_factor\^2 = 4"):
        F.pixel_shuffle(gg.randn(2, 3, 4, 4), 2)
    with pytest.raises(ValueError, match="pixel_shuffle: expected an input of at least 3 dims"):
        F.pixel_shuffle(gg.randn(4, 4), 2)
    with pytest.raises(ValueError, match="the factor must be a positive int, got 0"):
        F.pixel_shuffle(gg.randn(2, 4, 4, 4), 0)
    with pytest.raises(ValueError, match=r"pixel_unshuffle: the height and width of input "
                                         r"\(2, 4, 3, 4\) must be divisible by downscale_factor"):
        F.pixel_unshuffle(gg.randn(2, 4, 3, 4), 2)


# ------------------------------------------------------------------ padding
def _pad_case(draw):
    """A mode, an input shape and pads that PyTorch defines: each dim keeps at least one
    position after its negative pads, reflect pads stay below the size, circular pads
    within what the negative pads keep."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(nd + draw(st.integers(1, 2))))
    pads = []
    for d in range(nd):
        n = shape[-1 - d]
        lo = draw(st.integers(1 - n, n))
        hi = draw(st.integers(1 - n + max(-lo, 0), n))
        kept = n - max(-lo, 0) - max(-hi, 0)
        if mode == "reflect":
            lo, hi = min(lo, n - 1), min(hi, n - 1)
        if mode == "circular":
            lo, hi = min(lo, kept), min(hi, kept)
        pads += [lo, hi]
    return mode, shape, pads


@given(st.data())
def test_pad_matches_torch(data):
    torch = pytest.importorskip("torch")
    mode, shape, pads = _pad_case(data.draw)
    value = 2.5 if mode == "constant" else None
    _against_torch(lambda t: F.pad(t, pads, mode, value),
                   lambda t: torch.nn.functional.pad(t, pads, mode, value),
                   [RNG.standard_normal(shape)])


def test_pad_modes_on_a_small_example():
    x = gg.tensor([[[1.0, 2.0, 3.0]]])
    assert F.pad(x, (2, 1), "reflect").tolist() == [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
    assert F.pad(x, (2, 1), "replicate").tolist() == [[[1.0, 1.0, 1.0, 2.0, 3.0, 3.0]]]
    assert F.pad(x, (2, 1), "circular").tolist() == [[[2.0, 3.0, 1.0, 2.0, 3.0, 1.0]]]
    assert F.pad(x, (-1, 2), "reflect").tolist() == [[[2.0, 3.0, 2.0, 1.0]]]
    assert F.pad(x, (1, -2), value=9.0).tolist() == [[[9.0, 1.0]]]
    g = gg.tensor([[[1.0, 2.0, 3.0]]], requires_grad=True)
    F.pad(g, (2, 2), "reflect").sum().backward()
    assert g.grad.tolist() == [[[2.0, 3.0, 2.0]]]  # every copy sends its gradient back


def test_pad_gradcheck_and_gradgradcheck():
    x = gg.tensor(RNG.standard_normal((1, 2, 3, 4)), requires_grad=True)
    for mode in ("reflect", "replicate", "circular"):
        fn = lambda t, mode=mode: F.pad(t, (2, 1, -1, 2), mode)  # noqa: E731
        assert gradcheck(fn, [x])
        assert gradgradcheck(fn, [x])


def test_pad_errors():
    x = gg.randn(1, 1, 3)
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 0\) must be smaller than dim "
                                         r"2's size 3"):
        F.pad(x, (3, 0), "reflect")
    with pytest.raises(ValueError, match=r"circular padding \(4, 0\) must not exceed dim 2's size "
                                         r"3: it would wrap around more than once"):
        F.pad(x, (4, 0), "circular")
    with pytest.raises(ValueError, match="wraps around more than the 2 positions"):
        F.pad(x, (3, -1), "circular")
    with pytest.raises(ValueError, match=r"pad: reflect padding of 2 dim\(s\) \(pad of length 4\) "
                                         r"needs a 3-D or 4-D input, got shape \(2, 3\)"):
        F.pad(gg.randn(2, 3), (1, 1, 1, 1), "reflect")
    with pytest.raises(ValueError, match="pad: mode 'replicate' takes no value"):
        F.pad(x, (1, 1), "replicate", 1.0)
    with pytest.raises(ValueError, match="pad: mode must be"):
        F.pad(x, (1, 1), "wrap")
    with pytest.raises(ValueError, match=r"pad: the pad \(1, 1, 1\) must have an even length"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match="longer than twice the number of dims"):
        F.pad(gg.randn(3), (1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: the negative pad \(-4, 1\) crops more than dim "
                                         r"2's size 3"):
        F.pad(x, (-4, 1))
    with pytest.raises(ValueError, match=r"leaves input of shape \(1, 1, 3\) with padded sizes "
                                         r"\(0,\)"):
        F.pad(x, (-2, -1), "replicate")
    with pytest.raises(ValueError, match=r"ReflectionPad2d\(\(1, 1, 1, 1\)\): expected 3D or 4D "
                                         r"input"):
        nn.ReflectionPad2d(1)(gg.randn(2, 2, 2, 2, 2))


# ------------------------------------------------------------------ grid_sample
def _grid_case(draw, lattice: bool):
    nd = draw(st.integers(2, 3))
    sizes = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    out = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    n = draw(st.integers(1, 2))
    if lattice:  # pixel centres, edges and beyond: coordinates land on cell borders
        grid = RNG.integers(-12, 13, (n,) + out + (nd,)) / RNG.integers(1, 9, (n,) + out + (nd,))
    else:
        grid = RNG.uniform(-2.5, 2.5, (n,) + out + (nd,))
    options = (draw(st.sampled_from(["bilinear", "nearest"])),
               draw(st.sampled_from(["zeros", "border", "reflection"])), draw(st.booleans()))
    return RNG.standard_normal((n, 2) + sizes), grid, options


def _check_grid_sample(draw, lattice):
    torch = pytest.importorskip("torch")
    x, grid, options = _grid_case(draw, lattice)
    _against_torch(lambda a, g: F.grid_sample(a, g, *options),
                   lambda a, g: torch.nn.functional.grid_sample(a, g, *options), [x, grid],
                   grad_atol=1e-10)


@given(st.data(), st.booleans())
def test_grid_sample_matches_torch(data, lattice):
    _check_grid_sample(data.draw, lattice)


@pytest.mark.slow
@settings(max_examples=1500)
@given(st.data(), st.booleans())
def test_grid_sample_matches_torch_long(data, lattice):
    _check_grid_sample(data.draw, lattice)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("nd", [2, 3])
def test_grid_sample_gradcheck_and_gradgradcheck(padding_mode, nd):
    x = gg.tensor(RNG.standard_normal((1, 2) + (3,) * nd), requires_grad=True)
    grid = gg.tensor(RNG.uniform(-1.4, 1.4, (1,) + (2,) * nd + (nd,)), requires_grad=True)
    fn = lambda a, g: F.grid_sample(a, g, "bilinear", padding_mode, False)  # noqa: E731
    assert gradcheck(fn, [x, grid])
    assert gradgradcheck(fn, [x, grid])


def test_grid_sample_with_an_identity_grid_returns_the_input():
    x = gg.tensor(RNG.standard_normal((2, 3, 4, 5)))
    theta = gg.tensor(np.tile([[1.0, 0, 0], [0, 1.0, 0]], (2, 1, 1)))
    for align in (False, True):
        grid = F.affine_grid(theta, x.shape, align_corners=align)
        for mode in ("bilinear", "nearest"):
            y = F.grid_sample(x, grid, mode, "zeros", align)
            np.testing.assert_allclose(y.numpy(), x.numpy(), rtol=1e-14, atol=1e-15)


def test_grid_sample_nearest_gives_the_grid_an_exact_zero_gradient():
    x = gg.tensor(RNG.standard_normal((1, 1, 3, 3)), requires_grad=True)
    grid = gg.tensor(RNG.uniform(-1, 1, (1, 2, 2, 2)), requires_grad=True)
    F.grid_sample(x, grid, "nearest", align_corners=True).sum().backward()
    assert grid.grad is not None and not grid.grad.numpy().any()
    assert x.grad.numpy().sum() == 4.0


def test_grid_sample_errors_and_warning():
    x, grid = gg.randn(1, 1, 4, 4), gg.randn(1, 3, 3, 2)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, grid)
    with pytest.raises(ValueError, match=r"grid_sample: expected a grid of shape \(1, \*S_out, "
                                         r"2\) for input of shape \(1, 1, 4, 4\), got "
                                         r"\(2, 3, 3, 2\)"):
        F.grid_sample(x, gg.randn(2, 3, 3, 2), align_corners=False)
    with pytest.raises(ValueError, match="mode must be 'bilinear', 'nearest' or 'bicubic'"):
        F.grid_sample(x, grid, "linear", align_corners=False)
    with pytest.raises(ValueError, match="padding_mode must be"):
        F.grid_sample(x, grid, padding_mode="wrap", align_corners=False)
    with pytest.raises(NotImplementedError, match="mode='bicubic' is not supported"):
        F.grid_sample(x, grid, "bicubic", align_corners=False)
    with pytest.raises(ValueError, match=r"expected a 4-D or 5-D input"):
        F.grid_sample(gg.randn(1, 1, 4), gg.randn(1, 3, 1), align_corners=False)
    with pytest.raises(ValueError, match="expected non-empty spatial dims"):
        F.grid_sample(gg.randn(1, 1, 0, 4), grid, align_corners=False)
    with pytest.raises(TypeError, match=r"input \(float32\) and grid \(float64\)"):
        F.grid_sample(x, grid.double(), align_corners=False)


# ------------------------------------------------------------------ affine_grid
@given(st.integers(2, 3), st.integers(1, 3), st.lists(st.integers(1, 6), min_size=3,
                                                       max_size=3), st.booleans())
def test_affine_grid_matches_torch(nd, n, sizes, align):
    torch = pytest.importorskip("torch")
    size = (n, 2) + tuple(sizes[:nd])
    theta = RNG.standard_normal((n, nd, nd + 1))
    _against_torch(lambda t: F.affine_grid(t, size, align),
                   lambda t: torch.nn.functional.affine_grid(t, size, align), [theta])


def test_affine_grid_gradcheck_and_errors():
    theta = gg.tensor(RNG.standard_normal((2, 2, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.affine_grid(t, (2, 1, 3, 4), False), [theta])
    with pytest.raises(ValueError, match=r"affine_grid: expected theta of shape \(N, 2, 3\) for "
                                         r"size \(2, 1, 3, 4\), got \(2, 3, 3\)"):
        F.affine_grid(gg.randn(2, 3, 3), (2, 1, 3, 4), False)
    with pytest.raises(ValueError, match=r"size must be \(N, C, H, W\) or \(N, C, D, H, W\)"):
        F.affine_grid(theta, (2, 1, 3), False)
    with pytest.raises(ValueError, match="expected a positive size"):
        F.affine_grid(theta, (2, 1, 0, 3), False)
    with pytest.raises(ValueError, match=r"holds 2 maps, size \(1, 1, 3, 4\) asks for 1"):
        F.affine_grid(theta, (1, 1, 3, 4), False)
    with pytest.raises(TypeError, match="expected a floating point theta"):
        F.affine_grid(gg.tensor(np.zeros((1, 2, 3), dtype=np.int64)), (1, 1, 2, 2), False)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(theta, (2, 1, 3, 4))
