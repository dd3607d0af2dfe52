"""Optimizers step for step: against the course's formulas written out in NumPy, and
against PyTorch's implementations, over 100 steps of a small least-squares problem."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim

STEPS = 100


def problem(dtype=np.float64, seed=0):
    """A small linear least-squares problem: 0.5 * mean ||X W + b - Y||^2.

    Hyperparameters below keep the runs away from the regime where sign-like
    updates (RMSprop/Adam at the minimum) amplify last-bit differences chaotically.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((16, 4)).astype(dtype)
    Y = rng.standard_normal((16, 3)).astype(dtype)
    W0 = (0.5 * rng.standard_normal((4, 3))).astype(dtype)
    b0 = (0.5 * rng.standard_normal(3)).astype(dtype)
    return X, Y, W0, b0


def numpy_grads(X, Y, W, b):
    r = (X @ W + b - Y) / len(X)
    return X.T @ r, r.sum(0)


def ours_loss(X, Y, params):
    W, b = params
    r = gg.tensor(X) @ W + b - gg.tensor(Y)
    return 0.5 * (r * r).sum() / len(X)


def run_ours(make_opt, dtype=np.float64, steps=STEPS):
    X, Y, W0, b0 = problem(dtype)
    params = [gg.tensor(W0, requires_grad=True), gg.tensor(b0, requires_grad=True)]
    opt = make_opt(params)
    for _ in range(steps):
        opt.zero_grad()
        ours_loss(X, Y, params).backward()
        opt.step()
    return [p.numpy() for p in params]


# ------------------------------------------------------- the course's formulas
def course_run(update, dtype=np.float64):
    """Gradient descent where ``update(t, name, w, g, state)`` returns the new w."""
    X, Y, W, b = problem(dtype)
    state = {"W": {}, "b": {}}
    for t in range(1, STEPS + 1):
        gW, gb = numpy_grads(X, Y, W, b)
        W = update(t, W, gW, state["W"])
        b = update(t, b, gb, state["b"])
    return [W, b]


def course_gd(lr):
    return lambda t, w, g, s: w - lr * g


def course_momentum(lr, beta):
    def update(t, w, g, s):
        # The course's v = beta v + (1 - beta) g; PyTorch (and graphgrad) start v at the
        # first gradient, which is this recurrence from v_0 = g_1.
        v = s.get("v", g)
        s["v"] = beta * v + (1 - beta) * g
        return w - lr * s["v"]
    return update


def course_rmsprop(lr, beta2, eps):
    def update(t, w, g, s):
        s["S"] = beta2 * s.get("S", 0.0) + (1 - beta2) * g**2
        return w - lr * g / (np.sqrt(s["S"]) + eps)
    return update


def course_adam(lr, beta1, beta2, eps):
    def update(t, w, g, s):
        s["V"] = beta1 * s.get("V", 0.0) + (1 - beta1) * g
        s["S"] = beta2 * s.get("S", 0.0) + (1 - beta2) * g**2
        v_hat = s["V"] / (1 - beta1**t)
        s_hat = s["S"] / (1 - beta2**t)
        return w - lr * v_hat / (np.sqrt(s_hat) + eps)
    return update


@pytest.mark.parametrize("name, make_opt, update", [
    ("gd", lambda p: optim.SGD(p, lr=0.1), course_gd(0.1)),
    ("momentum", lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.9),
     course_momentum(0.1, 0.9)),
    ("rmsprop", lambda p: optim.RMSprop(p, lr=0.005, alpha=0.99, eps=1e-8),
     course_rmsprop(0.005, 0.99, 1e-8)),
    ("adam", lambda p: optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
     course_adam(0.01, 0.9, 0.999, 1e-8)),
    ("adam-fast", lambda p: optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6),
     course_adam(0.05, 0.8, 0.99, 1e-6)),
])
def test_matches_course_formulas(name, make_opt, update):
    ours = run_ours(make_opt)
    expected = course_run(update)
    for got, want in zip(ours, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)
    # and it actually optimised something
    X, Y, W0, b0 = problem()
    assert not np.allclose(ours[0], W0)


# ------------------------------------------------------------ against PyTorch
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.99, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1, eps=1e-6)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.3, 0.8), eps=1e-6, amsgrad=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
]


def run_torch(torch, name, kwargs, dtype=np.float64, steps=STEPS):
    X, Y, W0, b0 = problem(dtype)
    X, Y = torch.from_numpy(X), torch.from_numpy(Y)
    params = [torch.tensor(W0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    opt = getattr(torch.optim, name)(params, foreach=False, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        r = X @ params[0] + params[1] - Y
        (0.5 * (r * r).sum() / len(X)).backward()
        opt.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=[f"{n}-{kw}" for n, kw in CONFIGS])
def test_matches_torch_float64(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_ours(lambda p: getattr(optim, name)(p, **kwargs))
    theirs = run_torch(torch, name, kwargs)
    for got, want in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name, kwargs", CONFIGS[::3], ids=[f"{n}-{kw}" for n, kw in CONFIGS[::3]])
def test_matches_torch_float32(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = run_ours(lambda p: getattr(optim, name)(p, **kwargs), dtype=np.float32)
    theirs = run_torch(torch, name, kwargs, dtype=np.float32)
    for got, want in zip(ours, theirs, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)


def test_param_groups_match_torch():
    torch = pytest.importorskip("torch")
    X, Y, W0, b0 = problem()
    params = [gg.tensor(W0, requires_grad=True), gg.tensor(b0, requires_grad=True)]
    tparams = [torch.tensor(W0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    opt = optim.Adam([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.1}], lr=0.01)
    topt = torch.optim.Adam([{"params": [tparams[0]]}, {"params": [tparams[1]], "lr": 0.1}],
                            lr=0.01)
    for _ in range(50):
        opt.zero_grad()
        ours_loss(X, Y, params).backward()
        opt.step()
        topt.zero_grad()
        r = torch.from_numpy(X) @ tparams[0] + tparams[1] - torch.from_numpy(Y)
        (0.5 * (r * r).sum() / len(X)).backward()
        topt.step()
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-9, atol=1e-11)


def test_state_dict_layout_matches_torch():
    torch = pytest.importorskip("torch")
    X, Y, W0, b0 = problem()
    params = [gg.tensor(W0, requires_grad=True), gg.tensor(b0, requires_grad=True)]
    tparams = [torch.tensor(W0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    opt = optim.Adam([{"params": [params[1]]}, {"params": [params[0]], "lr": 0.1}], amsgrad=True)
    topt = torch.optim.Adam([{"params": [tparams[1]]}, {"params": [tparams[0]], "lr": 0.1}],
                            amsgrad=True)
    for p in params:
        p.grad = gg.ones_like(p)
    for p in tparams:
        p.grad = torch.ones_like(p)
    opt.step()
    topt.step()
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert list(sd["state"]) == list(tsd["state"]) == [0, 1]
    for i in (0, 1):
        assert set(sd["state"][i]) == set(tsd["state"][i])
        for k, v in sd["state"][i].items():
            np.testing.assert_allclose(np.asarray(v), tsd["state"][i][k].numpy())
    for g, tg in zip(sd["param_groups"], tsd["param_groups"], strict=True):
        assert g["params"] == tg["params"]
        assert set(g) <= set(tg)
        assert all(g[k] == tg[k] for k in g)


# ------------------------------------------------------------------- behaviour
def leaf(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return gg.tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("cls, kwargs, name", [
    (optim.SGD, dict(lr=-0.1), "lr"),
    (optim.SGD, dict(lr=float("nan")), "lr"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), "momentum"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
    (optim.SGD, dict(lr=0.1, dampening=1.5), "dampening"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "nesterov"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (optim.RMSprop, dict(lr=-1.0), "lr"),
    (optim.RMSprop, dict(alpha=1.5), "alpha"),
    (optim.RMSprop, dict(alpha=-0.1), "alpha"),
    (optim.RMSprop, dict(eps=-1e-8), "eps"),
    (optim.RMSprop, dict(momentum=-0.1), "momentum"),
    (optim.RMSprop, dict(weight_decay=-0.1), "weight_decay"),
    (optim.Adam, dict(lr=-1e-3), "lr"),
    (optim.Adam, dict(betas=(1.0, 0.999)), "betas[0]"),
    (optim.Adam, dict(betas=(-0.1, 0.999)), "betas[0]"),
    (optim.Adam, dict(betas=(0.9, 1.0)), "betas[1]"),
    (optim.Adam, dict(betas=(0.9, 0.99, 0.9)), "betas"),
    (optim.Adam, dict(eps=-1.0), "eps"),
    (optim.Adam, dict(weight_decay=-0.01), "weight_decay"),
    (optim.AdamW, dict(betas=(0.9, 1.5)), "betas[1]"),
    (optim.AdamW, dict(weight_decay=-0.01), "weight_decay"),
])
def test_invalid_hyperparameters_raise(cls, kwargs, name):
    with pytest.raises(ValueError, match=name.replace("[", r"\[").replace("]", r"\]")):
        cls([leaf(3)], **kwargs)
    if "nesterov" not in kwargs:  # also when the bad value comes in through a group
        opt = cls([leaf(3)])
        with pytest.raises(ValueError, match=name.split("[")[0]):
            opt.add_param_group({"params": [leaf(2)], **kwargs})


def test_non_number_hyperparameter_raises_type_error():
    with pytest.raises(TypeError, match="lr"):
        optim.SGD([leaf(3)], lr=None)
    with pytest.raises(TypeError, match="eps"):
        optim.Adam([leaf(3)], eps="1e-8")


def test_bad_params_argument():
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(leaf(3), lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.zeros(3)], lr=0.1)
    x = leaf(3)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([x, x], lr=0.1)
    opt = optim.SGD([x], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        opt.add_param_group({"params": x})
    with pytest.raises(TypeError, match="set"):
        optim.SGD({x}, lr=0.1)


def test_add_param_group_uses_defaults_and_group_values():
    a, b = leaf(3), leaf(2, seed=1)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    b.grad = gg.ones_like(b)
    before = b.numpy().copy()
    opt.step()
    np.testing.assert_allclose(b.numpy(), before - 0.5)
    assert a.numpy() is not None and len(opt.state) == 1  # a had no grad: untouched, no state


def test_zero_grad():
    x = leaf(3)
    opt = optim.SGD([x], lr=0.1)
    (x * x).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert x.grad is not None and np.all(x.grad.numpy() == 0)
    opt.zero_grad()
    assert x.grad is None


def test_step_with_closure_returns_loss_and_records_graph():
    x = leaf(3)
    opt = optim.Adam([x], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        calls.append(loss.requires_grad)
        loss.backward()
        return loss

    with gg.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    assert float(loss) == pytest.approx(float((np.random.default_rng(0).standard_normal(3)
                                               ** 2).sum()))


def test_dtype_kept_and_grad_not_modified():
    for dtype in (np.float32, np.float64):
        x = gg.tensor(np.ones(4, dtype=dtype), requires_grad=True)
        g = np.arange(4, dtype=dtype)
        for opt in (optim.SGD([x], lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True),
                    optim.RMSprop([x], centered=True, momentum=0.5, weight_decay=0.1),
                    optim.Adam([x], weight_decay=0.1, amsgrad=True, maximize=True),
                    optim.AdamW([x])):
            x.grad = gg.tensor(g)
            opt.step()
            opt.step()
            assert x.numpy().dtype == dtype
            np.testing.assert_array_equal(x.grad.numpy(), g)
            for state in opt.state.values():
                for k, v in state.items():
                    assert isinstance(v, gg.Tensor), k
                    assert v.dtype == (gg.float32 if k == "step" else dtype), k


def test_step_bumps_version_so_stale_graphs_raise():
    x = leaf(3)
    y = (x * x).sum()
    opt = optim.SGD([x], lr=0.1)
    x.grad = gg.ones_like(x)
    opt.step()
    with pytest.raises(RuntimeError, match="inplace"):
        y.backward()


def test_no_allocation_per_step_after_the_first():
    import tracemalloc

    params = [leaf(200, 100, seed=i) for i in range(3)]
    for p in params:
        p.grad = gg.tensor(np.random.default_rng(1).standard_normal(p.shape))
    big = params[0].numpy().nbytes
    for opt in (optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
                optim.SGD(params, lr=0.1, momentum=0.9, dampening=0.5, maximize=True),
                optim.RMSprop(params, momentum=0.9, centered=True, weight_decay=0.1),
                optim.Adam(params, amsgrad=True, weight_decay=0.1),
                optim.AdamW(params)):
        opt.step()
        tracemalloc.start()
        try:
            for _ in range(3):
                opt.step()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < big // 10, f"{type(opt).__name__} allocated {peak} bytes in a step"


def test_repr_lists_groups():
    text = repr(optim.Adam([leaf(2)], lr=0.5))
    assert text.startswith("Adam (") and "lr: 0.5" in text and "Parameter Group 0" in text


def test_module_parameters():
    gg.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    X = gg.randn(8, 4)
    before = [p.numpy().copy() for p in model.parameters()]
    for _ in range(3):
        opt.zero_grad()
        (model(X) ** 2).mean().backward()
        opt.step()
    after = list(model.parameters())
    assert all(not np.array_equal(b, p.numpy()) for b, p in zip(before, after, strict=True))
    assert len(opt.state_dict()["state"]) == 2
