"""Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD and Rprop: step for step against the
update equations of their docstrings written out in NumPy and against PyTorch's
implementations (60 steps, several parameter shapes, weight decay, maximize), state as
Tensors in PyTorch's layout, resumable from ``state_dict`` mid-run, and the switches
(foreach, fused, capturable, differentiable) PyTorch accepts."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad import optim

STEPS = 60
SHAPES = [(3, 4), (5,), (2, 3, 2), ()]


def initial(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]


def gradients(arrays, step):
    """A smooth, non-quadratic gradient field (with a little fixed noise per step), in
    NumPy, so both libraries see the same gradient function of the current values."""
    rng = np.random.default_rng(100 + step)
    out = []
    for a in arrays:
        scale = np.linspace(0.5, 2.0, a.size).reshape(a.shape)
        noise = 0.1 * rng.standard_normal(a.shape)
        out.append(np.asarray(scale * a + np.sin(3 * a) + noise, dtype=a.dtype))
    return out


def make_params(dtype, seed=0):
    return [gg.tensor(a, requires_grad=True) for a in initial(dtype, seed)]


def set_grads(params, step):
    for p, g in zip(params, gradients([p.numpy() for p in params], step), strict=True):
        p.grad = gg.tensor(g)


CONFIGS = [
    ("Adagrad", {}),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5,
                     eps=1e-6, maximize=True)),
    ("Adadelta", {}),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("Adamax", {}),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1, maximize=True)),
    ("NAdam", {}),
    ("NAdam", dict(lr=0.01, betas=(0.85, 0.99), weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", {}),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True)),
    ("ASGD", {}),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=20, weight_decay=0.1, maximize=True)),
    ("Rprop", {}),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
]
IDS = [f"{n}-{kw}" for n, kw in CONFIGS]


# ------------------------------------------------------ the docstrings' equations
def reference(name, kw, dtype=np.float64, steps=STEPS):
    """The update equations of each docstring, one parameter at a time."""
    lr = kw.get("lr", dict(Adadelta=1.0, Adamax=2e-3, NAdam=2e-3, RAdam=1e-3)
                .get(name, 1e-2))
    wd, sign = kw.get("weight_decay", 0.0), -1.0 if kw.get("maximize") else 1.0
    b1, b2 = kw.get("betas", (0.9, 0.999))
    xs, states = initial(dtype), [{} for _ in SHAPES]
    for step in range(steps):
        t = step + 1
        for i, (x, g) in enumerate(zip(xs, gradients(xs, step), strict=True)):
            s, g = states[i], sign * g
            if name == "Adagrad":
                g = g + wd * x
                s["sum"] = s.get("sum", kw.get("initial_accumulator_value", 0.0)) + g * g
                lr_t = lr / (1 + (t - 1) * kw.get("lr_decay", 0.0))
                x = x - lr_t * g / (np.sqrt(s["sum"]) + kw.get("eps", 1e-10))
            elif name == "Adadelta":
                rho, eps = kw.get("rho", 0.9), kw.get("eps", 1e-6)
                g = g + wd * x
                s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
                delta = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(s["v"] + eps) * g
                s["u"] = rho * s.get("u", 0.0) + (1 - rho) * delta * delta
                x = x - lr * delta
            elif name == "Adamax":
                g = g + wd * x
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g) + kw.get("eps", 1e-8))
                x = x - lr / (1 - b1**t) * s["m"] / s["u"]
            elif name == "NAdam":
                psi = kw.get("momentum_decay", 4e-3)
                if kw.get("decoupled_weight_decay"):
                    x = x * (1 - lr * wd)
                else:
                    g = g + wd * x
                mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
                mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
                s["P"] = np.float32(s.get("P", np.float32(1.0)) * np.float32(mu))  # 0-d f32
                p_next = float(s["P"]) * mu_next
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
                d = np.sqrt(s["v"] / (1 - b2**t)) + kw.get("eps", 1e-8)
                x = x - lr * (1 - mu) / (1 - float(s["P"])) * g / d
                x = x - lr * mu_next / (1 - p_next) * s["m"] / d
            elif name == "RAdam":
                if kw.get("decoupled_weight_decay"):
                    x = x * (1 - lr * wd)
                else:
                    g = g + wd * x
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
                m_hat = s["m"] / (1 - b1**t)
                rho_inf = 2 / (1 - b2) - 1
                rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
                if rho_t > 5:
                    r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    x = x - lr * m_hat * np.sqrt(1 - b2**t) / (np.sqrt(s["v"]) + 1e-8) * r
                else:
                    x = x - lr * m_hat
            elif name == "ASGD":
                lambd, alpha, t0 = kw.get("lambd", 1e-4), kw.get("alpha", 0.75), kw.get(
                    "t0", 1e6)
                eta, mu = float(s.get("eta", np.float32(lr))), float(s.get("mu", 1.0))
                g = g + wd * x
                x = x * (1 - lambd * eta) - eta * g
                s["ax"] = x if mu == 1 else s["ax"] + mu * (x - s["ax"])
                s["eta"] = np.float32(lr / (1 + lambd * lr * t) ** alpha)
                s["mu"] = np.float32(1 / max(1, t - t0))
            elif name == "Rprop":
                eta_minus, eta_plus = kw.get("etas", (0.5, 1.2))
                lo, hi = kw.get("step_sizes", (1e-6, 50))
                c = np.sign(g * s.get("prev", 0.0))
                size = s.get("size", np.full(x.shape, lr))
                size = np.clip(size * np.where(c > 0, eta_plus, np.where(c < 0, eta_minus, 1.0)),
                               lo, hi)
                g = np.where(c < 0, 0.0, g)
                x = x - np.sign(g) * size
                s["prev"], s["size"] = g, size
            elif name == "Adam":  # decoupled_weight_decay=True is AdamW
                x = x * (1 - lr * wd)
                s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
                x = x - lr * (s["m"] / (1 - b1**t)) / (np.sqrt(s["v"] / (1 - b2**t)) + 1e-8)
            xs[i] = np.asarray(x, dtype=dtype)
    return xs, states


def run_ours(name, kw, dtype=np.float64, steps=STEPS):
    params = make_params(dtype)
    opt = getattr(optim, name)(params, **kw)
    for step in range(steps):
        set_grads(params, step)
        opt.step()
    return params, opt


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_matches_the_docstring_equations(name, kw):
    params, opt = run_ours(name, kw)
    xs, states = reference(name, kw)
    for p, want, state, x0 in zip(params, xs, states, initial(np.float64), strict=True):
        np.testing.assert_allclose(p.numpy(), want, rtol=1e-9, atol=1e-12)
        assert not np.allclose(p.numpy(), x0)  # it moved
        if name == "ASGD":  # the average is the estimate ASGD is for
            np.testing.assert_allclose(opt.state[p]["ax"].numpy(), state["ax"], rtol=1e-9,
                                       atol=1e-12)


# ------------------------------------------------------------------ vs PyTorch
def torch_run(torch, name, kw, dtype, steps, check):
    """Both libraries step for step on the same gradient function; ``check(step, ours,
    theirs)`` after every step."""
    ours, theirs = make_params(dtype), [torch.tensor(a, requires_grad=True)
                                        for a in initial(dtype)]
    opt, topt = getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)
    for step in range(steps):
        set_grads(ours, step)
        for p, g in zip(theirs, gradients([p.detach().numpy() for p in theirs], step),
                        strict=True):
            p.grad = torch.from_numpy(g)
        opt.step()
        topt.step()
        check(step, [p.numpy() for p in ours], [p.detach().numpy() for p in theirs])
    return opt, topt


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_matches_torch_step_for_step_float64(name, kw):
    torch = pytest.importorskip("torch")

    def check(step, ours, theirs):
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13, err_msg=f"step {step}")

    opt, topt = torch_run(torch, name, kw, np.float64, STEPS, check)
    # the state too: the same keys, dtypes and values
    for p, tp in zip(opt._indexed_params(), topt.param_groups[0]["params"], strict=True):
        state, tstate = opt.state[p], topt.state[tp]
        assert list(state) == list(tstate)
        for k, v in state.items():
            assert isinstance(v, gg.Tensor) and v.shape == tuple(tstate[k].shape), k
            assert str(v.dtype) == str(tstate[k].dtype).replace("torch.", ""), k
            np.testing.assert_allclose(v.numpy(), tstate[k].numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name, kw", CONFIGS[::2], ids=IDS[::2])
def test_matches_torch_float32(name, kw):
    torch = pytest.importorskip("torch")

    def check(step, ours, theirs):
        for a, b in zip(ours, theirs, strict=True):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"step {step}")

    torch_run(torch, name, kw, np.float32, STEPS, check)


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta",
                                  "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"])
def test_defaults_and_param_group_keys_match_torch(name):
    torch = pytest.importorskip("torch")
    ours = getattr(optim, name)([gg.zeros(2, requires_grad=True)])
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)])
    assert ours.defaults == theirs.defaults
    assert ours.state_dict()["param_groups"] == theirs.state_dict()["param_groups"]


# ------------------------------------------------------------- state and resume
@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_state_dict_resumes_identically(name, kw, tmp_path):
    full, _ = run_ours(name, kw, np.float32, steps=12)

    params = make_params(np.float32)
    opt = getattr(optim, name)(params, **kw)
    for step in range(7):
        set_grads(params, step)
        opt.step()
    path = tmp_path / "ckpt"
    gg.save({"optimizer": opt.state_dict(), "params": [p.numpy() for p in params]}, path)
    for step in range(7, 9):  # train on: the checkpoint must not follow
        set_grads(params, step)
        opt.step()

    ckpt = gg.load(path)
    resumed = make_params(np.float32, seed=3)
    for p, saved in zip(resumed, ckpt["params"], strict=True):
        p.data[...] = saved
    opt2 = getattr(optim, name)(resumed, **dict(kw, lr=0.7))  # the lr comes from the file
    opt2.load_state_dict(ckpt["optimizer"])
    for step in range(7, 12):
        set_grads(resumed, step)
        opt2.step()
    for p, q in zip(full, resumed, strict=True):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


@pytest.mark.parametrize("name, kw", CONFIGS[::2], ids=IDS[::2])
def test_state_holds_tensors_with_a_float32_step(name, kw):
    params, opt = run_ours(name, kw, np.float64, steps=2)
    sd = opt.state_dict()
    for p, values in zip(params, sd["state"].values(), strict=True):
        state = opt.state[p]
        assert float(state["step"]) == 2.0 and state["step"].shape == ()
        assert state["step"].dtype == gg.float32
        for k, v in state.items():
            assert isinstance(v, gg.Tensor) and isinstance(values[k], gg.Tensor)
            assert v.shape == (() if k in ("step", "mu_product", "eta", "mu") else p.shape)
            assert not np.shares_memory(v.numpy(), values[k].numpy())  # a copy


def test_step_is_float64_when_that_is_the_default_dtype():
    before = gg.get_default_dtype()
    gg.set_default_dtype(gg.float64)
    try:
        params, opt = run_ours("NAdam", {}, np.float64, steps=1)
        state = opt.state[params[0]]
        assert state["step"].dtype == gg.float64 and state["mu_product"].dtype == gg.float64
    finally:
        gg.set_default_dtype(before)


def test_a_torch_state_dict_loads_and_continues_as_torch():
    torch = pytest.importorskip("torch")
    for name, kw in [("NAdam", dict(lr=0.01)), ("ASGD", dict(t0=3)), ("Adagrad", {})]:
        theirs = [torch.tensor(a, requires_grad=True) for a in initial(np.float64)]
        topt = getattr(torch.optim, name)(theirs, **kw)
        for step in range(5):
            for p, g in zip(theirs, gradients([p.detach().numpy() for p in theirs], step),
                            strict=True):
                p.grad = torch.from_numpy(g)
            topt.step()
        tsd = topt.state_dict()
        ours = [gg.tensor(p.detach().numpy(), requires_grad=True) for p in theirs]
        opt = getattr(optim, name)(ours, **kw)
        opt.load_state_dict({
            "state": {i: {k: gg.tensor(v.numpy()) for k, v in s.items()}
                      for i, s in tsd["state"].items()},
            "param_groups": tsd["param_groups"]})
        for step in range(5, 10):
            set_grads(ours, step)
            opt.step()
            for p, g in zip(theirs, gradients([p.detach().numpy() for p in theirs], step),
                            strict=True):
                p.grad = torch.from_numpy(g)
            topt.step()
        for p, tp in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10,
                                       atol=1e-13, err_msg=name)


@pytest.mark.parametrize("value, message", [
    (np.zeros(2), "must be a number, got shape"),
    ("one", "must be an array"),
])
def test_load_state_dict_checks_scalar_state(value, message):
    params, opt = run_ours("NAdam", {}, np.float32, steps=1)
    sd = opt.state_dict()
    sd["state"][1]["mu_product"] = value
    fresh = optim.NAdam(make_params(np.float32))
    with pytest.raises(ValueError, match=f"state 'mu_product' of parameter 1 {message}"):
        fresh.load_state_dict(sd)
    assert not fresh.state
    sd["state"][1]["mu_product"] = 0.5  # a number is fine
    fresh.load_state_dict(sd)
    assert fresh.state[fresh._indexed_params()[1]]["mu_product"].dtype == gg.float32


def test_adagrad_state_exists_from_construction_as_torch():
    p = gg.zeros(3, requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.25)
    assert float(opt.state[p]["step"]) == 0.0
    np.testing.assert_array_equal(opt.state[p]["sum"].numpy(), np.full(3, 0.25, np.float32))
    q = gg.ones(2, requires_grad=True)
    opt.add_param_group({"params": [q]})  # a later group gets its state on its first step
    q.grad = gg.ones(2)
    opt.step()
    np.testing.assert_allclose(opt.state[q]["sum"].numpy(), 1.25)


# ------------------------------------------------------------------- switches
ALL = ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
       "ASGD", "Rprop"]
FUSED = {"SGD", "Adam", "AdamW", "Adagrad"}
CAPTURABLE = {"RMSprop", "Adam", "AdamW", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD",
              "Rprop"}


@pytest.mark.parametrize("name", ALL)
def test_foreach_and_fused_change_nothing(name):
    plain, _ = run_ours(name, {}, np.float32, steps=5)
    variants = [dict(foreach=True), dict(foreach=False)]
    if name in FUSED:
        variants.append(dict(fused=True))
    for kw in variants:
        params, _ = run_ours(name, kw, np.float32, steps=5)
        for p, q in zip(plain, params, strict=True):
            np.testing.assert_array_equal(p.numpy(), q.numpy())
    if name in FUSED:
        with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True`"):
            getattr(optim, name)(make_params(np.float32), fused=True, foreach=True)
    else:
        with pytest.raises(TypeError, match="fused"):
            getattr(optim, name)(make_params(np.float32), fused=True)


@pytest.mark.parametrize("name", ALL)
def test_differentiable_and_capturable_raise_clearly(name):
    with pytest.raises(NotImplementedError, match=f"{name}: differentiable=True is not "
                                                  "supported"):
        getattr(optim, name)(make_params(np.float32), differentiable=True)
    if name in CAPTURABLE:
        with pytest.raises(ValueError, match=f"{name}: capturable=True needs parameters on a "
                                             "CUDA"):
            getattr(optim, name)(make_params(np.float32), capturable=True)
    else:
        with pytest.raises(TypeError, match="capturable"):
            getattr(optim, name)(make_params(np.float32), capturable=True)


@pytest.mark.parametrize("cls, kwargs, name", [
    (optim.Adagrad, dict(lr=-1.0), "lr"),
    (optim.Adagrad, dict(lr_decay=-0.1), "lr_decay"),
    (optim.Adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (optim.Adagrad, dict(eps=-1.0), "eps"),
    (optim.Adadelta, dict(rho=1.5), "rho"),
    (optim.Adadelta, dict(weight_decay=-1.0), "weight_decay"),
    (optim.Adamax, dict(betas=(1.0, 0.9)), r"betas\[0\]"),
    (optim.Adamax, dict(eps=-1.0), "eps"),
    (optim.NAdam, dict(momentum_decay=-1.0), "momentum_decay"),
    (optim.NAdam, dict(betas=(0.9, 1.0)), r"betas\[1\]"),
    (optim.RAdam, dict(betas=(0.9,)), "betas"),
    (optim.RAdam, dict(weight_decay=-0.1), "weight_decay"),
    (optim.ASGD, dict(lr=-0.1), "lr"),
    (optim.ASGD, dict(lambd=float("nan")), "lambd"),
    (optim.Rprop, dict(etas=(1.5, 1.2)), "etas"),
    (optim.Rprop, dict(etas=(0.5, 0.9)), "etas"),
    (optim.Rprop, dict(step_sizes=(1e-6,)), "step_sizes"),
])
def test_invalid_hyperparameters_raise(cls, kwargs, name):
    with pytest.raises(ValueError, match=f"{cls.__name__}: .*{name}"):
        cls(make_params(np.float32), **kwargs)


def test_new_optimizers_keep_dtype_and_leave_the_gradient_alone():
    for name in ["Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]:
        for dtype in (np.float32, np.float64):
            x = gg.tensor(np.linspace(-1, 1, 4).astype(dtype), requires_grad=True)
            g = np.arange(4, dtype=dtype) - 1.5
            opt = getattr(optim, name)([x], maximize=True)
            for _ in range(2):
                x.grad = gg.tensor(g)
                opt.step()
            assert x.numpy().dtype == dtype, name
            np.testing.assert_array_equal(x.grad.numpy(), g)


def test_rprop_sign_rules_by_hand():
    x = gg.tensor([0.0, 0.0, 0.0], requires_grad=True)
    opt = optim.Rprop([x], lr=0.1, etas=(0.5, 2.0), step_sizes=(0.01, 0.3))
    for g in ([1.0, -1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 1.0, -1.0]):
        x.grad = gg.tensor(g)
        opt.step()
    # coordinate 0: same sign twice: 0.1 -> 0.2 -> 0.3 (clipped); moves -0.1 -0.2 -0.3
    # coordinate 1: flip at step 2 (halved to 0.05, no move), then 0.05 again
    # coordinate 2: zero gradient at step 2 leaves the size, step 3 moves by it
    np.testing.assert_allclose(x.numpy(), [-0.6, 0.1 - 0.05, -0.1 + 0.1], atol=1e-7)
    np.testing.assert_allclose(opt.state[x]["step_size"].numpy(), [0.3, 0.05, 0.1], atol=1e-7)
