"""Optimizer state_dict: a round trip (in memory and through gg.save/gg.load) resumes
training bit for bit."""
import os
import tempfile

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


def test_load_state_dict_accepts_tensors_and_casts_dtype():
    params = make_params(np.float32)
    opt = make_opt("Adam", {}, params)
    grads(0, params)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0] = {k: (gg.tensor(v.astype(np.float64)) if isinstance(v, np.ndarray)
                          else np.asarray(float(v))) for k, v in sd["state"][0].items()}
    opt2 = make_opt("Adam", {}, make_params(np.float32))
    opt2.load_state_dict(sd)
    state = opt2.state[opt2.param_groups[0]["params"][0]]
    assert state["step"] == 1 and isinstance(state["step"], int)
    assert state["exp_avg"].dtype == np.float32


def test_state_dict_is_a_snapshot():
    params = make_params(np.float64)
    opt = make_opt("SGD", dict(lr=0.1, momentum=0.9), params)
    grads(0, params)
    opt.step()
    sd = opt.state_dict()
    buf = sd["state"][0]["momentum_buffer"].copy()
    grads(1, params)
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], buf)


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
        "state": {i: {k: torch.tensor(float(v)) if k == "step" else torch.from_numpy(v)
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
