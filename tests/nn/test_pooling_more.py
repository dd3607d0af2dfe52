"""3-D, adaptive max, power-average (LP) pooling and max unpooling as PyTorch's: values,
indices and gradients in float64 on random configurations (ceil_mode,
count_include_pad, divisor_override, dilation), ties and NaN, gradcheck and
gradgradcheck, errors naming the function and the shapes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import graphgrad as gg
import graphgrad.nn as nn
import graphgrad.nn.functional as F
from graphgrad.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def distinct(shape) -> np.ndarray:
    """Values at least 0.1 apart in random order: no max ties, even after a gradcheck step."""
    return RNG.permutation(np.arange(int(np.prod(shape))) * 0.1 - 1.0).reshape(shape)


def against_torch(ours, theirs, x, indices: bool = False):
    """Values (and indices) and the input gradient for a random upstream gradient."""
    torch = pytest.importorskip("torch")
    a, b = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, y_t = ours(a), theirs(b)
    if indices:
        (y, i), (y_t, i_t) = y, y_t
        np.testing.assert_array_equal(i.numpy(), i_t.numpy())
        assert i.dtype == np.int64
    np.testing.assert_allclose(y.numpy(), y_t.detach().numpy(), rtol=1e-13, atol=1e-14)
    upstream = RNG.standard_normal(y_t.shape)
    y.backward(gg.tensor(upstream))
    y_t.backward(torch.tensor(upstream))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-13)


def window_options(draw, nd: int, sizes: tuple, dilation: bool) -> dict:
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    options = {"kernel_size": kernel, "stride": stride, "padding": padding,
               "ceil_mode": draw(st.booleans())}
    if dilation:
        options["dilation"] = tuple(draw(st.integers(1, 2)) for _ in range(nd))
        # No window of padding only: PyTorch's index for one points past the input, and its
        # backward writes there (into the next plane); ours sends such a window nothing.
        options["padding"] = tuple(0 if d > 1 else p for d, p in
                                   zip(options["dilation"], padding, strict=True))
    extent = [d * (k - 1) + 1 for k, d in zip(kernel, options.get("dilation", (1,) * nd),
                                              strict=True)]
    if any(e > n + 2 * p for e, n, p in zip(extent, sizes, options["padding"], strict=True)):
        kernel = tuple(min(k, n) for k, n in zip(kernel, sizes, strict=True))
        options.update(kernel_size=kernel, padding=tuple(k // 2 for k in kernel))
        options.pop("dilation", None)
    return options


def has_a_padding_only_window(sizes: tuple, opts: dict) -> bool:
    """Whether some window of max pooling covers no input element (PyTorch's output
    size formula, ceil_mode included): PyTorch's backward writes outside its gradient
    there, which can abort the process, so such cases are not compared with it."""
    nd = len(sizes)
    dilation = opts.get("dilation", (1,) * nd)
    for n, k, s, p, d in zip(sizes, opts["kernel_size"], opts["stride"], opts["padding"],
                             dilation, strict=True):
        span = n + 2 * p - d * (k - 1) - 1
        out = (-(-span // s) if opts["ceil_mode"] else span // s) + 1
        if opts["ceil_mode"] and (out - 1) * s >= n + p:
            out -= 1
        for o in range(out):
            if not any(0 <= o * s - p + j * d < n for j in range(k)):
                return True
    return False


# --------------------------------------------------------------------- max / avg pooling
@given(st.data(), st.integers(1, 3))
def test_max_pool_matches_torch(data, nd):
    torch = pytest.importorskip("torch")
    sizes = tuple(data.draw(st.integers(1, 5)) for _ in range(nd))
    opts = window_options(data.draw, nd, sizes, dilation=True)
    assume(not has_a_padding_only_window(sizes, opts))
    name = f"max_pool{nd}d"
    x = distinct((2, 2) + sizes)
    against_torch(lambda t: getattr(F, name)(t, return_indices=True, **opts),
                  lambda t: getattr(torch.nn.functional, name)(t, return_indices=True, **opts),
                  x, indices=True)
    with_indices = getattr(F, f"{name}_with_indices")(gg.tensor(x), **opts)
    assert len(with_indices) == 2


@given(st.data(), st.integers(1, 3))
def test_avg_pool_matches_torch(data, nd):
    torch = pytest.importorskip("torch")
    sizes = tuple(data.draw(st.integers(1, 5)) for _ in range(nd))
    opts = window_options(data.draw, nd, sizes, dilation=False)
    if nd == 3:  # PyTorch's avg_pool3d wants every dim at least the kernel, padding aside
        kernel = tuple(min(k, n) for k, n in zip(opts["kernel_size"], sizes, strict=True))
        opts.update(kernel_size=kernel, padding=tuple(min(p, k // 2) for p, k in
                                                      zip(opts["padding"], kernel, strict=True)))
    opts["count_include_pad"] = data.draw(st.booleans())
    if nd > 1 and data.draw(st.booleans()):
        opts["divisor_override"] = data.draw(st.integers(1, 4))
    name = f"avg_pool{nd}d"
    against_torch(lambda t: getattr(F, name)(t, **opts),
                  lambda t: getattr(torch.nn.functional, name)(t, **opts),
                  RNG.standard_normal((2, 2) + sizes))


def test_avg_pool3d_refuses_an_input_smaller_than_the_kernel_as_torch():
    with pytest.raises(ValueError, match=r"avg_pool3d: input of shape \(1, 1, 3, 1, 1\) is "
                                         r"smaller than the kernel \(1, 2, 1\)"):
        F.avg_pool3d(gg.randn(1, 1, 3, 1, 1), (1, 2, 1), 1, (0, 1, 0))
    assert F.avg_pool2d(gg.randn(1, 1, 1, 1), 2, 1, 1).shape == (1, 1, 2, 2)  # 2-D does not


def test_max_pool_window_of_padding_only_names_torchs_index():
    torch = pytest.importorskip("torch")
    # Width 1 padded to 3; the dilated window reads padded positions 0 and 2 only.
    x = np.array([[[[5.0], [7.0]]]])
    y, i = F.max_pool2d(gg.tensor(x), (1, 2), 1, (0, 1), (1, 2), return_indices=True)
    y_t, i_t = torch.nn.functional.max_pool2d(torch.tensor(x), (1, 2), 1, (0, 1), (1, 2),
                                              return_indices=True)
    assert y.numpy().ravel().tolist() == [-np.inf, -np.inf]
    np.testing.assert_array_equal(y.numpy(), y_t.numpy())
    np.testing.assert_array_equal(i.numpy(), i_t.numpy())  # [1, 2]: past each row's end


def test_max_pool_nan_gets_the_gradient_of_the_last_nan_as_in_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[[[np.nan, 1.0, np.nan, 3.0], [0.0, np.nan, 2.0, 1.0]]]])
    y, i = F.max_pool2d(gg.tensor(x), 2, return_indices=True)
    _, i_t = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert i.numpy().ravel().tolist() == i_t.numpy().ravel().tolist() == [5, 2]


def test_max_and_avg_pool_3d_gradcheck():
    x = gg.tensor(distinct((1, 2, 3, 3, 4)), requires_grad=True)
    assert gradcheck(lambda t: F.max_pool3d(t, 2, 1, 1, ceil_mode=True), [x])
    y = gg.tensor(RNG.standard_normal((1, 2, 3, 3, 4)), requires_grad=True)
    fn = lambda t: F.avg_pool3d(t, (2, 2, 3), 2, (1, 0, 1), True, False)  # noqa: E731
    assert gradcheck(fn, [y])
    assert gradgradcheck(fn, [y])


# --------------------------------------------------------------------- adaptive pooling
@given(st.data(), st.integers(1, 3))
def test_adaptive_max_pool_matches_torch(data, nd):
    torch = pytest.importorskip("torch")
    sizes = tuple(data.draw(st.integers(1, 7)) for _ in range(nd))
    out = tuple(data.draw(st.one_of(st.none(), st.integers(1, 8))) if nd > 1 else
                data.draw(st.integers(1, 8)) for _ in range(nd))
    name = f"adaptive_max_pool{nd}d"
    batched = data.draw(st.booleans())
    x = distinct(((2,) if batched else ()) + (3,) + sizes)
    against_torch(lambda t: getattr(F, name)(t, out, return_indices=True),
                  lambda t: getattr(torch.nn.functional, name)(t, out, return_indices=True),
                  x, indices=True)


@given(st.data(), st.integers(1, 3))
def test_adaptive_avg_pool_matches_torch(data, nd):
    torch = pytest.importorskip("torch")
    sizes = tuple(data.draw(st.integers(1, 7)) for _ in range(nd))
    out = tuple(data.draw(st.integers(1, 8)) for _ in range(nd))
    name = f"adaptive_avg_pool{nd}d"
    against_torch(lambda t: getattr(F, name)(t, out),
                  lambda t: getattr(torch.nn.functional, name)(t, out),
                  RNG.standard_normal((2, 2) + sizes))


def test_adaptive_max_pool_ties_nan_and_gradcheck():
    torch = pytest.importorskip("torch")
    x = np.array([[[1.0, 5.0, 5.0, 2.0, np.nan, 0.0, np.nan, 1.0]]])
    for t in (x, np.where(np.isnan(x), 3.0, x)):
        _, i = F.adaptive_max_pool1d(gg.tensor(t), 3, return_indices=True)
        _, i_t = torch.nn.functional.adaptive_max_pool1d(torch.tensor(t), 3, return_indices=True)
        np.testing.assert_array_equal(i.numpy(), i_t.numpy())
    a = gg.tensor(distinct((2, 2, 5, 4)), requires_grad=True)
    assert gradcheck(lambda t: F.adaptive_max_pool2d(t, (3, 3)), [a])
    assert gradgradcheck(lambda t: F.adaptive_max_pool2d(t, (3, 3)), [a])
    b = gg.tensor(RNG.standard_normal((1, 2, 3, 4, 5)), requires_grad=True)
    assert gradgradcheck(lambda t: F.adaptive_avg_pool3d(t, (2, 3, 2)), [b])


def test_adaptive_pool_errors():
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: output_size must be an int or 2 "
                                         r"ints, got \(1, 2, 3\)"):
        F.adaptive_max_pool2d(gg.randn(1, 2, 4, 4), (1, 2, 3))
    with pytest.raises(ValueError, match=r"adaptive_max_pool1d: expected non-empty spatial dims, "
                                         r"got input of shape \(2, 3, 0\)"):
        F.adaptive_max_pool1d(gg.randn(2, 3, 0), 2)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool3d: expected a 4-D or 5-D input"):
        F.adaptive_avg_pool3d(gg.randn(2, 3, 4), 2)
    with pytest.raises(ValueError, match=r"AdaptiveMaxPool2d\(output_size=2\): expected 3D or 4D "
                                         r"input"):
        nn.AdaptiveMaxPool2d(2)(gg.randn(4, 4))
    assert F.adaptive_max_pool2d(gg.randn(1, 2, 3, 3), (0, 2)).shape == (1, 2, 0, 2)


# --------------------------------------------------------------------- LP pooling
@given(st.data(), st.integers(1, 3), st.sampled_from([1.0, 2.0, 3.0, 1.5, float("inf")]))
def test_lp_pool_matches_torch(data, nd, p):
    torch = pytest.importorskip("torch")
    sizes = tuple(data.draw(st.integers(1, 5)) for _ in range(nd))
    kernel = tuple(data.draw(st.integers(1, n)) for n in sizes)
    kernel = kernel[0] if nd == 1 else kernel  # PyTorch's lp_pool1d takes an int
    stride = data.draw(st.one_of(st.none(), st.integers(1, 3)))
    ceil = data.draw(st.booleans())
    name = f"lp_pool{nd}d"
    x = RNG.uniform(0.1, 2, (2, 2) + sizes) if p == 1.5 else RNG.standard_normal((2, 2) + sizes)
    if p == float("inf"):
        x = distinct((2, 2) + sizes)
    against_torch(lambda t: getattr(F, name)(t, p, kernel, stride, ceil),
                  lambda t: getattr(torch.nn.functional, name)(t, p, kernel, stride, ceil), x)


def test_lp_pool_window_of_zeros_has_a_zero_gradient_as_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[[0.0, 0.0, 1.0, -2.0, 0.0, 0.0]]])
    against_torch(lambda t: F.lp_pool1d(t, 2, 2), lambda t: torch.nn.functional.lp_pool1d(
        t, 2, 2), x)
    a = gg.tensor(x, requires_grad=True)
    F.lp_pool1d(a, 2, 2).sum().backward()
    assert a.grad.numpy()[0, 0].tolist()[:2] == [0.0, 0.0]


def test_lp_pool_gradcheck():
    x = gg.tensor(RNG.uniform(0.2, 2, (1, 2, 4, 5)), requires_grad=True)
    fn = lambda t: F.lp_pool2d(t, 3, (2, 3), 1, ceil_mode=True)  # noqa: E731
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


# --------------------------------------------------------------------- max unpooling
@given(st.data(), st.integers(1, 3))
def test_max_unpool_inverts_max_pool_as_torch(data, nd):
    torch = pytest.importorskip("torch")
    sizes = tuple(data.draw(st.integers(2, 6)) for _ in range(nd))
    kernel = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    # Non-overlapping windows (stride >= kernel): the indices never repeat.
    stride = tuple(k + data.draw(st.integers(0, 1)) for k in kernel)
    padding = tuple(data.draw(st.integers(0, k // 2)) for k in kernel)
    x = torch.tensor(distinct((2, 3) + sizes))
    pooled, indices = getattr(torch.nn.functional, f"max_pool{nd}d")(
        x, kernel, stride, padding, return_indices=True)
    default = tuple((m - 1) * st_ + k - 2 * p for m, st_, k, p in
                    zip(pooled.shape[2:], stride, kernel, padding, strict=True))
    # The input's size lies within a stride of the default (PyTorch's rule); without it
    # the default must hold the pooled positions.
    size = sizes if default != sizes or data.draw(st.booleans()) else None
    name = f"max_unpool{nd}d"
    against_torch(lambda t: getattr(F, name)(t, gg.tensor(indices.numpy()), kernel, stride,
                                             padding, size),
                  lambda t: getattr(torch.nn.functional, name)(t, indices, kernel, stride,
                                                               padding, size),
                  pooled.numpy())


def test_max_unpool_module_round_trip_and_gradcheck():
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    x = gg.tensor(distinct((1, 2, 4, 5)))
    y, i = pool(x)
    z = unpool(y, i, output_size=x.shape)
    assert z.shape == x.shape
    kept = np.zeros((1, 2, 20), dtype=bool)  # the positions the indices name, per plane
    np.put_along_axis(kept, i.numpy().reshape(1, 2, -1), True, axis=2)
    kept = kept.reshape(x.shape)
    np.testing.assert_array_equal(z.numpy()[kept], x.numpy()[kept])
    assert kept.sum() == y.numel() and not z.numpy()[~kept].any()
    v = gg.tensor(y.numpy(), requires_grad=True)
    fn = lambda t: F.max_unpool2d(t, i, 2, output_size=(4, 5))  # noqa: E731
    assert gradcheck(fn, [v])
    assert gradgradcheck(fn, [v])


def test_max_unpool_errors():
    x, i = gg.randn(1, 1, 2, 2), gg.tensor(np.array([[[[0, 1], [2, 30]]]]))
    with pytest.raises(ValueError, match=r"max_unpool2d: found an invalid max index 30 \(output "
                                         r"planes are of size 4x4\)"):
        F.max_unpool2d(x, i, 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: invalid output_size \(7, 7\) \(dim 0 "
                                         r"must be between 2 and 6"):
        F.max_unpool2d(x, i, 2, output_size=(7, 7))
    with pytest.raises(ValueError, match=r"output_size should hold 2 or 4 sizes, got \(3,\)"):
        F.max_unpool2d(x, i, 2, output_size=(3,))
    with pytest.raises(TypeError, match="max_unpool2d: indices must be int64, got int32"):
        F.max_unpool2d(x, gg.tensor(np.zeros((1, 1, 2, 2), dtype=np.int32)), 2)
    with pytest.raises(ValueError, match=r"indices of shape \(1, 1, 2\) must have the input's "
                                         r"shape \(1, 1, 2, 2\)"):
        F.max_unpool2d(x, gg.tensor(np.zeros((1, 1, 2), dtype=np.int64)), 2)


@pytest.mark.parametrize("make", [
    lambda ns: ns.MaxPool3d((1, 2, 3), padding=(0, 1, 1), ceil_mode=True),
    lambda ns: ns.AvgPool3d(2, 1, 1, False, False, 2), lambda ns: ns.LPPool1d(2, 3),
    lambda ns: ns.LPPool2d(1.5, (2, 3), 2, True), lambda ns: ns.LPPool3d(3, 2),
    lambda ns: ns.MaxUnpool1d(3, 2, 1), lambda ns: ns.MaxUnpool2d((2, 3)),
    lambda ns: ns.MaxUnpool3d(2, padding=1), lambda ns: ns.AdaptiveMaxPool1d(3, True),
    lambda ns: ns.AdaptiveMaxPool2d((None, 2)), lambda ns: ns.AdaptiveMaxPool3d(2),
    lambda ns: ns.AdaptiveAvgPool3d((1, None, 2))])
def test_repr_matches_torch(make):
    torch = pytest.importorskip("torch")
    assert repr(make(nn)) == repr(make(torch.nn))


def test_modules_return_indices():
    y, i = nn.AdaptiveMaxPool3d(2, return_indices=True)(gg.randn(2, 4, 4, 4))
    assert y.shape == i.shape == (2, 2, 2, 2)
    y, i = nn.MaxPool3d(2, return_indices=True)(gg.randn(1, 2, 4, 4, 4))
    assert y.shape == i.shape == (1, 2, 2, 2, 2)
