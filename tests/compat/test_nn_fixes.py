"""Layers the conformance scripts found missing in graphgrad.nn, checked against their
definition and against PyTorch: ``nn.GroupNorm`` / ``F.group_norm`` (torchvision's
ResNet initialisation names ``nn.GroupNorm``; diffusion and detection models use it)."""
import numpy as np
import pytest
from compat_utils import to_numpy

import graphgrad as torch
import graphgrad.nn as nn
import graphgrad.nn.functional as F
from graphgrad.testing import gradcheck, gradgradcheck


def _group_norm_numpy(x, groups, weight, bias, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    out = (g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + eps)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return out.reshape(x.shape) * weight.reshape(shape) + bias.reshape(shape)


@pytest.mark.parametrize("shape, groups", [((2, 6, 3, 4), 3), ((3, 4, 5), 4), ((2, 4), 1),
                                           ((2, 8, 2, 2, 2), 2)])
def test_group_norm_forward_and_gradients(shape, groups):
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=shape)
    weight, bias = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    out = F.group_norm(torch.tensor(x), groups, torch.tensor(weight), torch.tensor(bias))
    np.testing.assert_allclose(out.numpy(), _group_norm_numpy(x, groups, weight, bias),
                               rtol=1e-10, atol=1e-12)
    args = [torch.tensor(a, requires_grad=True) for a in (x, weight, bias)]
    upstream = torch.tensor(rng.normal(size=shape))  # not all ones: hides transpositions
    fn = lambda x, w, b: F.group_norm(x, groups, w, b) * upstream
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


def test_group_norm_module_as_pytorch():
    torch.manual_seed(0)
    gn = nn.GroupNorm(2, 6)
    assert [name for name, _ in gn.named_parameters()] == ["weight", "bias"]
    assert np.all(gn.weight.numpy() == 1) and np.all(gn.bias.numpy() == 0)
    assert repr(gn) == "GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)"
    assert list(nn.GroupNorm(3, 6, affine=False).parameters()) == []
    no_bias = nn.GroupNorm(3, 6, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    np.testing.assert_allclose(no_bias(torch.randn(2, 6, 3) * 4 + 1).mean().item(), 0,
                               atol=1e-5)
    with torch.no_grad():
        gn.weight.normal_()
        gn.bias.normal_()
    x = torch.randn(4, 6, 5, 5, requires_grad=True)
    upstream = torch.randn(4, 6, 5, 5)
    out = gn(x)
    (out * upstream).sum().backward()
    gn.eval()
    np.testing.assert_array_equal(gn(x).detach().numpy(), out.detach().numpy())  # no running stats

    torch_ref = pytest.importorskip("torch")
    ref = torch_ref.nn.GroupNorm(2, 6)
    ref.load_state_dict({k: torch_ref.from_numpy(to_numpy(v)) for k, v in gn.state_dict().items()})
    ref_x = torch_ref.from_numpy(to_numpy(x)).requires_grad_()
    ref_out = ref(ref_x)
    (ref_out * torch_ref.from_numpy(to_numpy(upstream))).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), ref_x.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), ref_p in zip(gn.named_parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), ref_p.grad.numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=name)
    assert repr(gn) == repr(ref)


def test_group_norm_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible "
                                         r"by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"group_norm: the 6 channels of input \(2, 6, 3\) do "
                                         r"not split into num_groups=4"):
        F.group_norm(torch.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match="group_norm: expected an input of shape"):
        F.group_norm(torch.randn(6), 2)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.group_norm(torch.randn(1, 2, 1), 2)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 6, \*\), got \(2, 4\)"):
        nn.GroupNorm(2, 6)(torch.randn(2, 4))
