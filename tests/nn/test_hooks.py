"""Module hooks as PyTorch's: forward (pre-)hooks with kwargs, prepend and always_call,
full backward (pre-)hooks (what they see, what replacing gradients does, the order across
nested modules, double backward), state_dict and load_state_dict hooks, and
get_parameter / get_buffer / get_submodule."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn
from graphgrad.testing import gradcheck, gradgradcheck


def _arrays(values) -> list:
    return [None if v is None else np.array(v.detach().numpy()) for v in values]


class Scaled(nn.Module):
    """A module with tensor, number and constant-tensor inputs and two tensor outputs;
    defined for graphgrad and torch alike (``lib`` is either)."""

    def __init__(self, lib):
        super().__init__()
        self.lin = lib.nn.Linear(3, 2).double()

    def forward(self, a, k, b):
        return self.lin(a) * b, (a * a).sum() * k


def _torch_scaled(torch):
    class TorchScaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2).double()

        forward = Scaled.forward

    return TorchScaled()


def _same_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _backward_log(module, lib, replace_input=False, replace_output=False):
    """Run ``module`` with recording full backward hooks and return (log, a.grad, weight
    grad)."""
    log = []

    def pre(mod, grad_output):
        log.append(("pre", _arrays(grad_output)))
        return (grad_output[0] * 3.0, grad_output[1]) if replace_output else None

    def full(mod, grad_input, grad_output):
        log.append(("full", _arrays(grad_input), _arrays(grad_output)))
        return (grad_input[0] - 1.0, None, None) if replace_input else None

    module.register_full_backward_pre_hook(pre)
    module.register_full_backward_hook(full)
    rng = np.random.default_rng(0)
    a = lib.tensor(rng.normal(size=(4, 3)), requires_grad=True)
    b = lib.tensor(rng.normal(size=(4, 2)))
    out, total = module(a, 2.5, b)
    upstream = lib.tensor(rng.normal(size=(4, 2)))
    ((out * upstream).sum() + 0.5 * total).backward()
    return log, a.grad.numpy(), module.lin.weight.grad.numpy()


@pytest.mark.parametrize("replace_input, replace_output", [(False, False), (True, False),
                                                           (False, True), (True, True)])
def test_full_backward_hooks_see_and_replace_what_torchs_do(replace_input, replace_output):
    torch = pytest.importorskip("torch")
    theirs, ours = _torch_scaled(torch), Scaled(gg)
    _same_weights(ours, theirs)
    t_log, t_grad, t_wgrad = _backward_log(theirs, torch, replace_input, replace_output)
    log, grad, wgrad = _backward_log(ours, gg, replace_input, replace_output)
    assert [entry[0] for entry in log] == [entry[0] for entry in t_log] == ["pre", "full"]
    for entry, t_entry in zip(log, t_log, strict=True):
        for values, t_values in zip(entry[1:], t_entry[1:], strict=True):
            assert [v is None for v in values] == [v is None for v in t_values]
            for v, t in zip(values, t_values, strict=True):
                if v is not None:
                    np.testing.assert_allclose(v, t, atol=1e-12)
    np.testing.assert_allclose(grad, t_grad, atol=1e-12)
    np.testing.assert_allclose(wgrad, t_wgrad, atol=1e-12)


def test_full_backward_hook_order_across_nested_modules_is_torchs():
    torch = pytest.importorskip("torch")

    def build(lib, log):
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
        for name, module in [("model", model), *model.named_children()]:
            module.register_full_backward_pre_hook(lambda m, go, n=name: log.append(("pre", n)))
            module.register_full_backward_hook(lambda m, gi, go, n=name: log.append(("full", n)))
        return model

    t_log, log = [], []
    t_model, model = build(torch, t_log), build(gg, log)
    x = np.ones((2, 3))
    t_model(torch.tensor(x, dtype=torch.float32, requires_grad=True)).sum().backward()
    model(gg.tensor(x, dtype=gg.float32, requires_grad=True)).sum().backward()
    assert log == t_log


def test_full_backward_hook_without_inputs_requiring_grad_fires_from_the_outputs():
    torch = pytest.importorskip("torch")
    seen = {}
    for lib in (torch, gg):
        emb = lib.nn.Embedding(5, 3)
        calls = []
        emb.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go[0].shape)))
        with pytest.warns(UserWarning, match="no inputs require gradients"):
            emb(lib.tensor([[1, 2], [4, 4]])).sum().backward()
        seen[lib.__name__] = [(gi, tuple(shape)) for gi, shape in calls]
    assert seen["graphgrad"] == seen["torch"] == [((None,), (2, 2, 3))]
    emb = nn.Embedding(5, 3)
    emb.register_full_backward_hook(lambda m, gi, go: (gg.ones(2),))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="should always return None"):
            emb(gg.tensor([1, 2])).sum().backward()


def test_backward_hook_returning_the_wrong_count_raises_and_handles_remove():
    lin = nn.Linear(3, 2)
    handle = lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    x = gg.randn(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of "
                                           "grad_input, got 2, but expected 1"):
        lin(x).sum().backward()
    handle.remove()
    pre = lin.register_full_backward_pre_hook(lambda m, go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match="Backward pre hook returned an invalid number of "
                                           "grad_output, got 2, but expected 1"):
        lin(x).sum().backward()
    pre.remove()
    assert not lin._backward_hooks and not lin._backward_pre_hooks
    lin(x).sum().backward()  # no hooks left: plain backward


def test_backward_hooks_keep_gradients_exact_to_second_order():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    calls = []
    model[0].register_full_backward_hook(lambda m, gi, go: calls.append(len(gi)))
    model.register_full_backward_pre_hook(lambda m, go: calls.append(len(go)))
    x = gg.randn(2, 3, dtype=gg.float64, requires_grad=True)
    assert gradcheck(model, [x])
    assert gradgradcheck(model, [x])
    assert calls  # the hooks ran


def test_a_hook_that_scales_grad_output_scales_first_and_second_derivatives():
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    x = gg.randn(2, 3, dtype=gg.float64, requires_grad=True)

    def derivatives():
        (g,) = gg.autograd.grad(model(x).sum(), [x], create_graph=True)
        (gg_,) = gg.autograd.grad((g * g).sum(), [x])
        return g.detach().numpy().copy(), gg_.numpy().copy()

    plain = derivatives()
    model.register_full_backward_pre_hook(lambda m, go: (go[0] * 2.0,))
    scaled = derivatives()
    np.testing.assert_allclose(scaled[0], 2 * plain[0], rtol=1e-12)
    np.testing.assert_allclose(scaled[1], 4 * plain[1], rtol=1e-12)


def test_forward_pre_hook_with_kwargs_and_prepend_match_torch():
    torch = pytest.importorskip("torch")
    logs = {}
    for lib in (torch, gg):
        class Affine(lib.nn.Module):
            def forward(self, x, scale=1.0, shift=0.0):
                return x * scale + shift

        m, log = Affine(), []
        m.register_forward_pre_hook(lambda mod, args: log.append("plain"))
        m.register_forward_pre_hook(
            lambda mod, args, kwargs: (log.append(("kw", sorted(kwargs))) or
                                       ((args[0] + 1,), {**kwargs, "shift": 10.0})),
            with_kwargs=True)
        m.register_forward_pre_hook(lambda mod, args: log.append("first"), prepend=True)
        out = m(lib.tensor([1.0, 2.0]), scale=3.0)
        m.register_forward_hook(lambda mod, args, kwargs, out: (log.append(("fwd", kwargs))
                                                                or out * 2), with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append("fwd-first"), prepend=True)
        out2 = m(lib.tensor([1.0, 2.0]), scale=3.0)
        logs[lib.__name__] = (log, out.tolist(), out2.tolist())
    assert logs["graphgrad"] == logs["torch"]
    m = nn.Identity()
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple of "
                                           r"\(new_args, new_kwargs\)"):
        m(gg.ones(2))


def test_always_call_forward_hooks_run_when_forward_raises():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("Broken: bad input")

    m, log = Broken(), []
    m.register_forward_hook(lambda mod, args, out: log.append("normal"))
    m.register_forward_hook(lambda mod, args, out: log.append(("always", out)), always_call=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: log.append(("kw", kwargs)),
                            with_kwargs=True, always_call=True)
    with pytest.raises(ValueError, match="Broken: bad input"):
        m(gg.ones(1), )
    assert log == [("always", None), ("kw", {})]

    def failing(mod, args, out):
        raise KeyError("in the hook")

    m.register_forward_hook(failing, always_call=True)
    with pytest.warns(UserWarning, match="always_call=True.*raised an exception that was "
                                         "silenced.*in the hook"):
        with pytest.raises(ValueError, match="Broken"):
            m(gg.ones(1))
    ok, calls = nn.Identity(), []
    ok.register_forward_hook(lambda mod, args, out: calls.append(1), always_call=True)
    ok(gg.ones(1))
    assert calls == [1]  # called once, not again after a successful forward


# --------------------------------------------------------------- state dict
def test_state_dict_hooks_run_per_module_as_torchs():
    torch = pytest.importorskip("torch")
    logs = {}
    for lib in (torch, gg):
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.Linear(2, 1)))
        log = []
        for module in model.modules():
            module.register_state_dict_pre_hook(
                lambda m, prefix, keep_vars: log.append(("pre", prefix, keep_vars)))
            module.register_state_dict_post_hook(
                lambda m, sd, prefix, meta: log.append(("post", prefix, len(sd), meta)))
        state = model.state_dict(keep_vars=True)
        logs[lib.__name__] = (log, list(state), dict(state._metadata))
    assert logs["graphgrad"] == logs["torch"]


def test_state_dict_post_hooks_change_it_in_place_and_old_hooks_may_replace_it():
    lin = nn.Linear(2, 1)
    lin.register_state_dict_post_hook(lambda m, sd, prefix, meta: sd.pop(prefix + "bias"))
    with pytest.raises(RuntimeError, match="state_dict post-hook must return None"):
        lin.state_dict()
    lin = nn.Linear(2, 1)

    def drop_bias(m, sd, prefix, meta):
        del sd[prefix + "bias"]

    lin.register_state_dict_post_hook(drop_bias)
    assert list(lin.state_dict()) == ["weight"]
    assert list(nn.Sequential(lin).state_dict()) == ["0.weight"]
    old = nn.Linear(2, 1)
    old._register_state_dict_hook(lambda m, sd, prefix, meta: {"only": 1})
    assert old.state_dict() == {"only": 1}
    with pytest.raises(RuntimeError, match="previously registered via "
                                           "register_state_dict_post_hook"):
        old._register_state_dict_hook(drop_bias)
    with pytest.warns(FutureWarning, match="Positional args"):
        assert list(nn.Linear(2, 1).state_dict(None, "p.")) == ["p.weight", "p.bias"]


def test_load_state_dict_pre_hooks_rename_old_keys_per_module():
    torch = pytest.importorskip("torch")
    results = {}
    for lib in (torch, gg):
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Linear(2, 1))
        log = []

        def rename(module, state, prefix, meta, strict, missing, unexpected, errors, log=log):
            log.append((prefix, sorted(state)))
            if prefix + "w" in state:
                state[prefix + "weight"] = state.pop(prefix + "w")

        model[1].register_load_state_dict_pre_hook(rename)
        model._register_load_state_dict_pre_hook(
            lambda state, prefix, *rest, log=log: log.append(("root", prefix)))
        state = {"0.weight": np.ones((2, 2)), "0.bias": np.zeros(2), "1.w": np.full((1, 2), 3.0),
                 "1.bias": np.ones(1)}
        if lib is torch:
            state = {k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()}
        result = model.load_state_dict(state)
        results[lib.__name__] = (log, model[1].weight.tolist(), repr(result))
    assert results["graphgrad"] == results["torch"]


def test_load_state_dict_post_hooks_may_clear_the_missing_keys():
    torch = pytest.importorskip("torch")
    for lib in (torch, gg):
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Linear(2, 1))
        order = []
        for name, module in [("root", model), ("0", model[0]), ("1", model[1])]:
            module.register_load_state_dict_post_hook(
                lambda m, keys, n=name: order.append((n, list(keys.missing_keys))))

        def forgive(module, keys):
            keys.missing_keys.clear()

        model.register_load_state_dict_post_hook(forgive)
        state = {"0.weight": np.ones((2, 2)), "1.weight": np.ones((1, 2)),
                 "1.bias": np.ones(1)}
        if lib is torch:
            state = {k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()}
        result = model.load_state_dict(state)
        assert order == [("0", ["0.bias"]), ("1", ["0.bias"]), ("root", ["0.bias"])], lib
        assert result.missing_keys == [] and model[1].bias.tolist() == [1.0]
    lin = nn.Linear(2, 1)
    lin.register_load_state_dict_post_hook(lambda m, keys: keys)
    with pytest.raises(RuntimeError, match="not expected to return new values"):
        lin.load_state_dict(lin.state_dict())


def test_strict_errors_after_post_hooks_still_name_every_key():
    model = nn.Sequential(nn.Linear(2, 2))
    model.register_load_state_dict_post_hook(lambda m, keys: None)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "0.bias"'):
        model.load_state_dict({"0.weight": np.ones((2, 2))})
    np.testing.assert_array_equal(model[0].weight.numpy(), 1.0)  # copied first, as PyTorch
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        model.load_state_dict({"0.weight": np.ones((3, 2)), "0.bias": np.ones(2)})


# ------------------------------------------------------------------ lookups
def test_get_parameter_buffer_and_submodule():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.BatchNorm1d(3)))
    assert model.get_parameter("0.weight") is model[0].weight
    assert model.get_buffer("1.0.running_mean") is model[1][0].running_mean
    assert model.get_submodule("1.0") is model[1][0]
    assert model.get_submodule("") is model
    with pytest.raises(AttributeError, match=r"Linear has no attribute 'weights'.*'0.weights'"):
        model.get_parameter("0.weights")
    with pytest.raises(AttributeError, match=r"'running_mean' is not an nn.Parameter"):
        model.get_parameter("1.0.running_mean")
    with pytest.raises(AttributeError, match=r"'weight' is not a buffer"):
        model.get_buffer("0.weight")
    with pytest.raises(AttributeError, match=r"Sequential has no submodule '2'"):
        model.get_buffer("2.running_mean")
