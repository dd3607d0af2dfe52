"""Optimizer state_dict: a round trip (in memory and through gg.save/gg.load) resumes
training bit for bit."""
import os
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad import optim

CONFIGS = st.sampled_from([
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.9, maximize=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
])


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    return [gg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def make_opt(name, kwargs, params):
    # two groups, so the index layout across groups is exercised
    return getattr(optim, name)([{"params": params[:2]}, {"params": params[2:], "lr": 0.02}],
                                **kwargs)


def grads(step, params):
    rng = np.random.default_rng(1000 + step)
    for p in params:
        p.grad = gg.tensor(rng.standard_normal(p.shape).astype(p.dtype))


def train(opt, params, start, stop):
    for step in range(start, stop):
        grads(step, params)
        opt.step()


@given(config=CONFIGS, before=st.integers(0, 6), after=st.integers(1, 6),
       dtype=st.sampled_from([np.float32, np.float64]), through_file=st.booleans())
def test_state_dict_round_trip_resumes_identically(config, before, after, dtype, through_file):
    name, kwargs = config
    params = make_params(dtype)
    opt = make_opt(name, kwargs, params)
    train(opt, params, 0, before + after)

    params2 = make_params(dtype)
    opt2 = make_opt(name, kwargs, params2)
    train(opt2, params2, 0, before)
    snapshot = [p.numpy().copy() for p in params2]
    sd = opt2.state_dict()
    if through_file:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "opt.ckpt")
            gg.save({"opt": sd, "params": snapshot}, path)
            loaded = gg.load(path)
        sd, snapshot = loaded["opt"], loaded["params"]
    train(opt2, params2, before, before + 3)  # diverge: the state_dict must not follow

    params3 = make_params(dtype, seed=5)
    for p, saved in zip(params3, snapshot, strict=True):
        p.data[...] = saved
    opt3 = make_opt(name, dict(kwargs, lr=0.5), params3)  # hyperparameters come from sd
    opt3.load_state_dict(sd)
    train(opt3, params3, before, before + after)
    for p, q in zip(params, params3, strict=True):
        assert p.numpy().dtype == q.numpy().dtype
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_load_state_dict_checks_structure():
    params = make_params(np.float64)
    opt = make_opt("Adam", {}, params)
    grads(0, params)
    opt.step()
    sd = opt.state_dict()
    other = optim.Adam(params)  # one group instead of two
    with pytest.raises(ValueError, match="groups"):
        other.load_state_dict(sd)
    fewer = optim.Adam([{"params": params[:1]}, {"params": params[2:]}])
    with pytest.raises(ValueError, match="group 0"):
        fewer.load_state_dict(sd)
    bad = opt.state_dict()
    bad["state"][0]["exp_avg"] = np.zeros((5, 5))
    with pytest.raises(ValueError, match="exp_avg"):
        make_opt("Adam", {}, make_params(np.float64)).load_state_dict(bad)
    with pytest.raises(ValueError, match="state"):
        opt.load_state_dict({"param_groups": sd["param_groups"]})


def test_load_state_dict_accepts_tensors_arrays_numbers_and_casts_dtype():
    params = make_params(np.float32)
    opt = make_opt("Adam", {}, params)
    grads(0, params)
    opt.step()
    sd = opt.state_dict()
    s0, s1 = sd["state"][0], sd["state"][1]
    sd["state"][0] = {"step": np.asarray(1.0), "exp_avg": gg.tensor(s0["exp_avg"].numpy(),
                                                                  dtype=gg.float64),
                      "exp_avg_sq": s0["exp_avg_sq"].numpy().astype(np.float64)}
    sd["state"][1] = dict(s1, step=1)
    opt2 = make_opt("Adam", {}, make_params(np.float32))
    opt2.load_state_dict(sd)
    for i in (0, 1):
        state = opt2.state[opt2._indexed_params()[i]]
        assert isinstance(state["step"], gg.Tensor) and state["step"].shape == ()
        assert state["step"].dtype == gg.float32 and float(state["step"]) == 1.0
        for k in ("exp_avg", "exp_avg_sq"):
            assert isinstance(state[k], gg.Tensor) and state[k].dtype == gg.float32
    np.testing.assert_array_equal(opt2.state[opt2._indexed_params()[0]]["exp_avg"].numpy(),
                                  s0["exp_avg"].numpy())


def test_state_dict_is_a_snapshot():
    params = make_params(np.float64)
    opt = make_opt("SGD", dict(lr=0.1, momentum=0.9), params)
    grads(0, params)
    opt.step()
    sd = opt.state_dict()
    buf = sd["state"][0]["momentum_buffer"].numpy().copy()
    grads(1, params)
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"].numpy(), buf)
    assert not np.array_equal(opt.state[params[0]]["momentum_buffer"].numpy(), buf)


def test_state_dict_loads_into_torch_layout():
    """A graphgrad optimizer state_dict, converted to tensors, loads into PyTorch's."""
    torch = pytest.importorskip("torch")
    params = make_params(np.float64)
    opt = make_opt("Adam", dict(amsgrad=True), params)
    train(opt, params, 0, 3)
    sd = opt.state_dict()
    tparams = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    topt = torch.optim.Adam([{"params": tparams[:2]}, {"params": tparams[2:], "lr": 0.02}],
                            amsgrad=True, foreach=False)
    topt.load_state_dict({
        "state": {i: {k: torch.tensor(float(v)) if k == "step" else torch.from_numpy(v.numpy())
                      for k, v in s.items()} for i, s in sd["state"].items()},
        "param_groups": [dict(g) for g in sd["param_groups"]],
    })
    for step in range(3, 6):
        grads(step, params)
        opt.step()
        for p, tp in zip(params, tparams, strict=True):
            tp.grad = torch.from_numpy(p.grad.numpy().copy())
        topt.step()
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-14)


# ------------------------------------------------- bad gradients and bad state
@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps), lambda ps: optim.RMSprop(ps)])
def test_a_wrong_gradient_raises_before_anything_changes(make):
    good, bad = gg.ones(3, requires_grad=True), gg.ones(2, 2, requires_grad=True)
    opt = make([{"params": [good]}, {"params": [bad]}])
    good.grad, bad.grad = gg.ones(3), gg.ones(4)
    with pytest.raises(ValueError, match=r"\.step: the gradient of a parameter of shape "
                                         r"\(2, 2\) \(float32\) in parameter group 1 has shape"):
        opt.step()
    assert not opt.state[good] and np.all(good.numpy() == 1)  # nothing was updated
    bad.grad = gg.ones(2, 2, dtype=gg.int64)
    with pytest.raises(ValueError, match="has dtype int64"):
        opt.step()


@pytest.mark.parametrize("step", [-5, 2.5, float("nan"), "3", [1]])
def test_load_state_dict_rejects_a_bad_step(step):
    p = gg.ones(2, requires_grad=True)
    opt = optim.Adam([p])
    p.grad = gg.ones(2)
    opt.step()
    state = opt.state_dict()
    state["state"][0]["step"] = step
    fresh = optim.Adam([p])
    with pytest.raises(ValueError, match="state 'step' of parameter 0 must be a non-negative"):
        fresh.load_state_dict(state)
    assert not fresh.state


def test_load_state_dict_rejects_state_that_is_not_an_array():
    p = gg.ones(2, requires_grad=True)
    opt = optim.Adam([p])
    p.grad = gg.ones(2)
    opt.step()
    state = opt.state_dict()
    state["state"][0]["exp_avg"] = "zeros"
    with pytest.raises(ValueError, match="state 'exp_avg' of parameter 0 must be an array"):
        optim.Adam([p]).load_state_dict(state)
    state["state"][0]["exp_avg"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(3,\)"):
        optim.Adam([p]).load_state_dict(state)
    state["state"][0]["exp_avg"] = gg.tensor(2.0)  # a float step as PyTorch saves it is fine
    state["state"][0]["exp_avg"] = np.zeros(2)
    state["state"][0]["step"] = gg.tensor(1.0)
    optim.Adam([p]).load_state_dict(state)


def test_scheduler_stepping_before_the_optimizer_warns_once():
    p = gg.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\) was called before "
                                         r"optimizer.step\(\)"):
        sched.step()
    opt2 = optim.SGD([p], lr=0.1)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=1)
    p.grad = gg.ones(2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_module_load_state_dict_names_a_value_that_is_not_an_array():
    model = gg.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="parameter named 'weight': expected a Tensor or an "
                                           "array of numbers from the checkpoint, got str"):
        model.load_state_dict({"weight": "abc", "bias": gg.zeros(2)})
