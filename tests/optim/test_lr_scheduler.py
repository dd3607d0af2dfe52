"""Learning-rate schedules produce PyTorch's lr sequences; their state_dicts resume them."""
import math
import os
import tempfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad import optim
from graphgrad.optim import lr_scheduler as S

EPOCHS = 40


def our_opt(lrs=(0.1, 0.01), cls=optim.SGD):
    return cls([{"params": [gg.tensor(np.zeros(2), requires_grad=True)], "lr": lr}
                for lr in lrs], lr=lrs[0], momentum=0.9)


def torch_opt(torch, lrs=(0.1, 0.01)):
    return torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr}
                            for lr in lrs], lr=lrs[0], momentum=0.9)


SCHEDULES = {
    "StepLR": (lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    "StepLR-1": (lambda m, o: m.StepLR(o, step_size=1, gamma=0.9)),
    "MultiStepLR": (lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 11], gamma=0.3)),
    "ExponentialLR": (lambda m, o: m.ExponentialLR(o, gamma=0.93)),
    "LambdaLR": (lambda m, o: m.LambdaLR(o, lambda e: 0.95 ** e + 0.01 * (e % 3))),
    "LambdaLR-list": (lambda m, o: m.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e])),
    "CosineAnnealingLR": (lambda m, o: m.CosineAnnealingLR(o, T_max=10)),
    "CosineAnnealingLR-min": (lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
}


def sequences(sched, opt, epochs=EPOCHS):
    out = [sched.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
        assert out[-1] == [g["lr"] for g in opt.param_groups]
    return out


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = our_opt(), torch_opt(torch)
    ours = sequences(SCHEDULES[name](S, ours_opt), ours_opt)
    theirs = sequences(SCHEDULES[name](torch.optim.lr_scheduler, theirs_opt), theirs_opt)
    assert ours == theirs  # the same float arithmetic: equal, not just close


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR"])
def test_closed_form_with_epoch_argument_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = our_opt(), torch_opt(torch)
    ours = SCHEDULES[name](S, ours_opt)
    theirs = SCHEDULES[name](torch.optim.lr_scheduler, theirs_opt)
    with pytest.warns(UserWarning):
        for epoch in (4, 9, 5, 20):
            ours.step(epoch)
            theirs.step(epoch)
            assert ours.get_last_lr() == theirs.get_last_lr()


def test_inverse_time_decay_is_the_course_formula():
    opt = our_opt()
    seq = sequences(S.InverseTimeDecay(opt, decay_rate=0.5), opt, 20)
    assert seq == [[lr0 / (1 + 0.5 * e) for lr0 in (0.1, 0.01)] for e in range(21)]
    opt = our_opt()
    seq = sequences(S.InverseTimeDecay(opt, decay_rate=1.0, time_interval=4), opt, 20)
    assert seq == [[lr0 / (1 + 1.0 * (e // 4)) for lr0 in (0.1, 0.01)] for e in range(21)]


def test_inverse_time_decay_equals_torch_lambda():
    torch = pytest.importorskip("torch")
    opt, topt = our_opt(), torch_opt(torch)
    ours = sequences(S.InverseTimeDecay(opt, decay_rate=0.3), opt)
    theirs = sequences(torch.optim.lr_scheduler.LambdaLR(topt, lambda e: 1 / (1 + 0.3 * e)),
                       topt)
    np.testing.assert_allclose(ours, theirs, rtol=1e-15)


METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8,
           0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7]


@pytest.mark.parametrize("kwargs", [
    dict(patience=2),
    dict(patience=0, factor=0.5, cooldown=2),
    dict(mode="max", patience=1, threshold_mode="abs", threshold=0.01),
    dict(patience=1, factor=0.1, min_lr=[1e-3, 1e-5]),
    dict(patience=1, factor=0.5, min_lr=0.02, eps=1e-3),
])
def test_reduce_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    opt, topt = our_opt(), torch_opt(torch)
    ours = S.ReduceLROnPlateau(opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    for metric in METRICS:
        opt.step()
        topt.step()
        ours.step(metric)
        theirs.step(torch.tensor(metric))
        assert ours.get_last_lr() == theirs.get_last_lr()
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]


def test_invalid_arguments():
    opt = our_opt()
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        S.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="decay_rate"):
        S.InverseTimeDecay(opt, decay_rate=-1.0)
    with pytest.raises(ValueError, match="factor"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        S.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="lr_lambdas"):
        S.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="Optimizer"):
        S.StepLR(object(), step_size=2)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(our_opt(), step_size=2, last_epoch=3)


BUILDERS = dict(SCHEDULES, **{
    "InverseTimeDecay": (lambda m, o: m.InverseTimeDecay(o, decay_rate=0.2, time_interval=2)),
    "ReduceLROnPlateau": (lambda m, o: m.ReduceLROnPlateau(o, patience=1, cooldown=1)),
})


def advance(sched, opt, start, stop):
    lrs = []
    for epoch in range(start, stop):
        opt.step()
        if isinstance(sched, S.ReduceLROnPlateau):
            sched.step(METRICS[epoch % len(METRICS)])
        else:
            sched.step()
        lrs.append(sched.get_last_lr())
    return lrs


@given(name=st.sampled_from(sorted(BUILDERS)), before=st.integers(0, 15),
       after=st.integers(1, 15), through_file=st.booleans())
def test_state_dict_round_trip_resumes_identically(name, before, after, through_file):
    opt = our_opt()
    sched = BUILDERS[name](S, opt)
    expected = advance(sched, opt, 0, before + after)

    opt2 = our_opt()
    sched2 = BUILDERS[name](S, opt2)
    advance(sched2, opt2, 0, before)
    state = {"opt": opt2.state_dict(), "sched": sched2.state_dict()}
    if through_file:
        with tempfile.TemporaryDirectory() as tmp:
            gg.save(state, os.path.join(tmp, "s.ckpt"))
            state = gg.load(os.path.join(tmp, "s.ckpt"))
    advance(sched2, opt2, before, before + 2)  # the saved state must not follow

    opt3 = our_opt()
    sched3 = BUILDERS[name](S, opt3)  # the recipe: build, then load both states
    opt3.load_state_dict(state["opt"])
    sched3.load_state_dict(state["sched"])
    assert advance(sched3, opt3, before, before + after) == expected[before:]


def test_lambda_state_dict_has_no_functions():
    opt = our_opt()
    sd = S.LambdaLR(opt, lambda e: 0.5 ** e).state_dict()
    assert sd["lr_lambdas"] == [None, None]
    assert "optimizer" not in sd
    assert math.isinf(S.ReduceLROnPlateau(opt).state_dict()["best"])
