"""LBFGS: minimises known problems (a quadratic, Rosenbrock, least squares through
autograd), matches PyTorch's iterates, losses and evaluation counts, and resumes from
its state_dict."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad import optim

SHAPES = [(3, 2), (4,)]
RNG = np.random.default_rng(7)
M = RNG.standard_normal((10, 10))
A = M @ M.T / 10 + np.eye(10)  # symmetric positive definite
B = RNG.standard_normal(10)


def quartic(x):
    """A convex quadratic plus a small quartic: well conditioned, not quadratic."""
    f = 0.5 * x @ A @ x - B @ x + 0.05 * np.sum(x**4)
    return f, A @ x - B + 0.2 * x**3


def rosenbrock(x):
    f = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return f, g


def split(flat, like):
    out, offset = [], 0
    for a in like:
        out.append(flat[offset:offset + a.size].reshape(a.shape))
        offset += a.size
    return out


def closure_for(params, fn, set_grad, values):
    """A closure evaluating ``fn`` on the flattened parameters (NumPy) and setting the
    gradients, as a model's closure would after ``backward()``."""
    def closure():
        arrays = values()
        f, g = fn(np.concatenate([a.ravel() for a in arrays]))
        for p, gi in zip(params, split(g, arrays), strict=True):
            set_grad(p, gi)
        return f
    return closure


def ours(dtype=np.float64, seed=0, low=-1.5, high=1.5):
    rng = np.random.default_rng(seed)
    return [gg.tensor(rng.uniform(low, high, s).astype(dtype), requires_grad=True)
            for s in SHAPES]


def our_closure(params, fn):
    return closure_for(params, fn, lambda p, g: setattr(p, "grad", gg.tensor(g)),
                       lambda: [p.numpy() for p in params])


def flat(params):
    return np.concatenate([p.numpy().ravel() for p in params])


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_minimises_a_quadratic_plus_quartic(line_search_fn):
    params = ours()
    # (the default tolerance_change=1e-9 on the loss stops it near 1e-5 in the gradient)
    opt = optim.LBFGS(params, lr=1 if line_search_fn else 0.5, max_iter=20,
                      tolerance_change=1e-15, line_search_fn=line_search_fn)
    closure = our_closure(params, quartic)
    for _ in range(10):
        opt.step(closure)
    _, g = quartic(flat(params))
    assert np.abs(g).max() <= 1e-7  # tolerance_grad met: the minimum of a convex function


def test_strong_wolfe_solves_rosenbrock():
    params = ours()
    opt = optim.LBFGS(params, lr=1, max_iter=50, history_size=10, tolerance_change=1e-15,
                      line_search_fn="strong_wolfe")
    closure = our_closure(params, rosenbrock)
    for _ in range(20):
        opt.step(closure)
    np.testing.assert_allclose(flat(params), np.ones(10), atol=1e-7)


def test_least_squares_through_autograd():
    gg.manual_seed(0)
    X, w_true = gg.randn(40, 3, dtype=gg.float64), gg.tensor([1.5, -2.0, 0.5],
                                                             dtype=gg.float64)
    y = X @ w_true + 0.3
    model = gg.nn.Linear(3, 1).double()
    opt = optim.LBFGS(model.parameters(), tolerance_change=1e-15,
                      line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((model(X).squeeze(1) - y) ** 2).mean()
        loss.backward()
        return loss

    first = opt.step(closure)
    assert isinstance(first, gg.Tensor) and float(first) > 1.0  # the loss before the step
    opt.step(closure)
    np.testing.assert_allclose(model.weight.numpy().ravel(), w_true.numpy(), atol=1e-8)
    np.testing.assert_allclose(model.bias.numpy(), [0.3], atol=1e-8)


def test_tolerances_and_budgets_stop_early():
    params = ours()
    opt = optim.LBFGS(params, max_iter=100, max_eval=7)
    opt.step(our_closure(params, quartic))
    assert opt.state[params[0]]["func_evals"] == 7  # max_eval closure calls
    params = ours()
    opt = optim.LBFGS(params, max_iter=100, tolerance_grad=1e3)  # already "optimal"
    before = flat(params)
    opt.step(our_closure(params, quartic))
    np.testing.assert_array_equal(flat(params), before)
    assert opt.state[params[0]] == {"func_evals": 1, "n_iter": 0}


def test_history_is_bounded():
    params = ours()
    opt = optim.LBFGS(params, lr=0.5, max_iter=12, history_size=3)
    opt.step(our_closure(params, rosenbrock))
    state = opt.state[params[0]]
    assert len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]) == 3
    assert all(isinstance(v, gg.Tensor) and v.shape == (10,) for v in state["old_dirs"])
    assert isinstance(state["d"], gg.Tensor) and isinstance(state["prev_flat_grad"], gg.Tensor)


CONFIGS = [
    dict(lr=0.5, max_iter=4),
    dict(lr=1, max_iter=3, history_size=2),
    dict(lr=1, max_iter=5, line_search_fn="strong_wolfe"),
    dict(lr=1, max_iter=8, max_eval=6, history_size=4, line_search_fn="strong_wolfe"),
    dict(lr=0.8, max_iter=6, tolerance_change=1e-4, tolerance_grad=1e-4),
]


@pytest.mark.parametrize("kw", CONFIGS, ids=[str(kw) for kw in CONFIGS])
def test_matches_torch_step_for_step(kw):
    torch = pytest.importorskip("torch")
    params = ours()
    tparams = [torch.tensor(p.numpy(), requires_grad=True) for p in params]
    opt, topt = optim.LBFGS(params, **kw), torch.optim.LBFGS(tparams, **kw)
    closure = our_closure(params, quartic)
    tclosure = closure_for(tparams, quartic,
                           lambda p, g: setattr(p, "grad", torch.from_numpy(g.copy())),
                           lambda: [p.detach().numpy() for p in tparams])
    for step in range(50):
        loss, tloss = opt.step(closure), topt.step(tclosure)
        np.testing.assert_allclose(loss, tloss, rtol=1e-10, err_msg=f"step {step}")
        np.testing.assert_allclose(flat(params), np.concatenate(
            [p.detach().numpy().ravel() for p in tparams]), rtol=1e-9, atol=1e-11,
            err_msg=f"step {step}")
        state, tstate = opt.state[params[0]], topt.state[tparams[0]]
        assert (state["func_evals"], state["n_iter"]) == (tstate["func_evals"],
                                                         tstate["n_iter"])
    assert sorted(state) == sorted(tstate)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_state_dict_resumes_identically(line_search_fn, tmp_path):
    kw = dict(lr=0.5, max_iter=3, history_size=4, line_search_fn=line_search_fn)
    full = ours(np.float32)
    opt = optim.LBFGS(full, **kw)
    for _ in range(6):
        opt.step(our_closure(full, rosenbrock))

    part = ours(np.float32)
    opt = optim.LBFGS(part, **kw)
    for _ in range(3):
        opt.step(our_closure(part, rosenbrock))
    gg.save({"opt": opt.state_dict(), "params": [p.numpy() for p in part]}, tmp_path / "c")
    opt.step(our_closure(part, rosenbrock))  # the checkpoint must not follow

    ckpt = gg.load(tmp_path / "c")
    resumed = ours(np.float32, seed=4)
    for p, saved in zip(resumed, ckpt["params"], strict=True):
        p.data[...] = saved
    opt = optim.LBFGS(resumed, **dict(kw, lr=0.1))
    opt.load_state_dict(ckpt["opt"])
    for _ in range(3):
        opt.step(our_closure(resumed, rosenbrock))
    np.testing.assert_array_equal(flat(full), flat(resumed))


def test_errors():
    params = ours()
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": params[:1]}, {"params": params[1:]}])
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS(params, line_search_fn="armijo")
    with pytest.raises(ValueError, match="history_size"):
        optim.LBFGS(params, history_size=0)
    with pytest.raises(ValueError, match="lr"):
        optim.LBFGS(params, lr=-1.0)
    with pytest.raises(TypeError, match="needs a closure"):
        optim.LBFGS(params).step(None)
    opt = optim.LBFGS(params)
    opt.step(our_closure(params, quartic))
    sd = opt.state_dict()
    sd["state"][0]["d"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"state 'd' of parameter 0 must hold flat vectors of "
                                         r"the 10 parameter values"):
        optim.LBFGS(ours()).load_state_dict(sd)
    sd = opt.state_dict()
    sd["state"][0]["momentum"] = 1.0
    with pytest.raises(ValueError, match="LBFGS keeps no state of that name"):
        optim.LBFGS(ours()).load_state_dict(sd)
    sd = opt.state_dict()
    sd["state"][0]["n_iter"] = -1
    with pytest.raises(ValueError, match="'n_iter' of parameter 0 must be a non-negative"):
        optim.LBFGS(ours()).load_state_dict(sd)
