"""The warm-up, polynomial, multiplicative, composite and cyclical schedules: the same
lr (and momentum) sequences as PyTorch's over 60 steps, values known from their
formulas, and state_dict round trips (in memory and through gg.save)."""
import math

import numpy as np
import pytest

import graphgrad as gg
from graphgrad import optim
from graphgrad.optim import lr_scheduler as S

STEPS = 60


def our_opt(cls="SGD", lrs=(0.1, 0.01)):
    kw = dict(momentum=0.9) if cls == "SGD" else {}
    return getattr(optim, cls)([{"params": [gg.zeros(2, requires_grad=True)], "lr": lr}
                                for lr in lrs], lr=lrs[0], **kw)


def torch_opt(torch, cls="SGD", lrs=(0.1, 0.01)):
    kw = dict(momentum=0.9) if cls == "SGD" else {}
    return getattr(torch.optim, cls)([{"params": [torch.zeros(2, requires_grad=True)],
                                       "lr": lr} for lr in lrs], lr=lrs[0], **kw)


class Halve:
    """A callable object: its attributes go into the state_dict."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, x):
        return self.base ** x


def sequential(m, o):
    warmup = m.LinearLR(o, start_factor=0.1, total_iters=5)
    return m.SequentialLR(o, [warmup, m.CosineAnnealingLR(o, T_max=20)], milestones=[5])


def sequential3(m, o):
    return m.SequentialLR(o, [m.ConstantLR(o, factor=0.5, total_iters=3),
                              m.ExponentialLR(o, gamma=0.9),
                              m.StepLR(o, step_size=4, gamma=0.5)], milestones=[6, 20])


def chained(m, o):
    return m.ChainedScheduler([m.ConstantLR(o, factor=0.25, total_iters=4),
                               m.ExponentialLR(o, gamma=0.95)])


# name -> (optimizer class, builder(lr_scheduler module, optimizer))
SCHEDULES = {
    "ConstantLR": ("SGD", lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4)),
    "LinearLR-warmup": ("SGD", lambda m, o: m.LinearLR(o, start_factor=0.05, total_iters=10)),
    "LinearLR-decay": ("SGD", lambda m, o: m.LinearLR(o, 1.0, 0.1, total_iters=30)),
    "PolynomialLR": ("SGD", lambda m, o: m.PolynomialLR(o, total_iters=40)),
    "PolynomialLR-2": ("SGD", lambda m, o: m.PolynomialLR(o, total_iters=25, power=2.0)),
    "MultiplicativeLR": ("SGD", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.97)),
    "MultiplicativeLR-list": ("SGD", lambda m, o: m.MultiplicativeLR(
        o, [lambda e: 0.9 if e % 2 else 1.0, lambda e: 1.0 - 0.01 * (e % 5)])),
    "SequentialLR": ("SGD", sequential),
    "SequentialLR-3": ("SGD", sequential3),
    "ChainedScheduler": ("SGD", chained),
    "CyclicLR": ("SGD", lambda m, o: m.CyclicLR(o, 0.01, 0.1, step_size_up=7)),
    "CyclicLR-triangular2": ("SGD", lambda m, o: m.CyclicLR(
        o, [0.01, 0.001], [0.2, 0.02], step_size_up=5, step_size_down=9, mode="triangular2")),
    "CyclicLR-exp_range": ("SGD", lambda m, o: m.CyclicLR(
        o, 0.01, 0.1, step_size_up=6, mode="exp_range", gamma=0.97, base_momentum=0.7,
        max_momentum=0.95)),
    "CyclicLR-scale_fn": ("SGD", lambda m, o: m.CyclicLR(
        o, 0.01, 0.1, step_size_up=4, scale_fn=Halve(), scale_mode="cycle")),
    "CyclicLR-scale_fn-iterations": ("SGD", lambda m, o: m.CyclicLR(
        o, 0.01, 0.1, step_size_up=4, scale_fn=lambda x: 1 / (1 + 0.1 * x),
        scale_mode="iterations", cycle_momentum=False)),
    "CyclicLR-Adam": ("Adam", lambda m, o: m.CyclicLR(o, 1e-4, 1e-3, step_size_up=8)),
    "CosineAnnealingWarmRestarts": ("SGD", lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=7)),
    "CosineAnnealingWarmRestarts-mult": ("SGD", lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.001)),
    "OneCycleLR": ("SGD", lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=STEPS)),
    "OneCycleLR-linear-3phase": ("SGD", lambda m, o: m.OneCycleLR(
        o, max_lr=[0.5, 0.05], epochs=6, steps_per_epoch=10, pct_start=0.25,
        anneal_strategy="linear", three_phase=True, div_factor=10.0, final_div_factor=100.0)),
    "OneCycleLR-Adam": ("Adam", lambda m, o: m.OneCycleLR(
        o, max_lr=0.01, total_steps=STEPS + 5, base_momentum=0.8, max_momentum=0.9)),
    "OneCycleLR-no-momentum": ("SGD", lambda m, o: m.OneCycleLR(
        o, max_lr=0.3, total_steps=STEPS, cycle_momentum=False, three_phase=True)),
}


def history(sched, opt, steps=STEPS):
    """lr, momentum and betas of every group after construction and after each step."""
    def snapshot():
        return [(g["lr"], g.get("momentum"), tuple(g.get("betas", ())))
                for g in opt.param_groups]
    out = [snapshot()]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(snapshot())
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
    return out


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    cls, build = SCHEDULES[name]
    opt, topt = our_opt(cls), torch_opt(torch, cls)
    ours = history(build(S, opt), opt)
    theirs = history(build(torch.optim.lr_scheduler, topt), topt)
    assert ours == theirs  # the same float arithmetic: equal, not just close


@pytest.mark.parametrize("name", ["ConstantLR", "LinearLR-warmup", "LinearLR-decay",
                                  "PolynomialLR-2"])
def test_closed_form_with_epoch_argument_matches_torch(name):
    torch = pytest.importorskip("torch")
    cls, build = SCHEDULES[name]
    opt, topt = our_opt(cls), torch_opt(torch, cls)
    ours, theirs = build(S, opt), build(torch.optim.lr_scheduler, topt)
    opt.step()
    topt.step()
    with pytest.warns(UserWarning, match="deprecated"):
        for epoch in (3, 12, 1, 40, 0):
            ours.step(epoch)
            theirs.step(epoch)
            assert ours.get_last_lr() == theirs.get_last_lr()


def test_warm_restarts_with_fractional_epochs_match_torch():
    torch = pytest.importorskip("torch")
    opt, topt = our_opt(), torch_opt(torch)
    ours = S.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2, eta_min=1e-3)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=4, T_mult=2,
                                                                  eta_min=1e-3)
    iters = 5
    for epoch in range(15):
        for i in range(iters):
            ours.step(epoch + i / iters)
            theirs.step(epoch + i / iters)
            assert ours.get_last_lr() == theirs.get_last_lr()
            assert (ours.T_cur, ours.T_i, ours.last_epoch) == (theirs.T_cur, theirs.T_i,
                                                               theirs.last_epoch)


# ------------------------------------------------------ values from the formulas
def lrs_of(sched, opt, steps=STEPS, group=0):
    return [row[group][0] for row in history(sched, opt, steps)]


def test_warmups_follow_their_closed_forms():
    opt = our_opt()
    got = lrs_of(S.LinearLR(opt, start_factor=0.2, end_factor=0.9, total_iters=8), opt, 20)
    want = [0.1 * (0.2 + 0.7 * min(e, 8) / 8) for e in range(21)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    opt = our_opt()
    got = lrs_of(S.ConstantLR(opt, factor=0.3, total_iters=4), opt, 10)
    np.testing.assert_allclose(got, [0.03] * 4 + [0.1] * 7, rtol=1e-12)
    opt = our_opt()
    got = lrs_of(S.PolynomialLR(opt, total_iters=10, power=3.0), opt, 15)
    np.testing.assert_allclose(got, [0.1 * (1 - min(e, 10) / 10) ** 3 for e in range(16)],
                               rtol=1e-9, atol=1e-15)
    opt = our_opt()
    got = lrs_of(S.MultiplicativeLR(opt, lambda e: 0.5), opt, 6)
    np.testing.assert_allclose(got, [0.1 * 0.5**e for e in range(7)], rtol=1e-12)


def test_sequential_warmup_then_cosine_values():
    opt = our_opt()
    got = lrs_of(sequential(S, opt), opt, 30)
    want = [0.1 * (0.1 + 0.9 * e / 5) for e in range(5)]
    want += [0.1 * (1 + math.cos(math.pi * e / 20)) / 2 for e in range(26)]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


def test_chained_scheduler_multiplies_the_factors():
    opt = our_opt()
    got = lrs_of(chained(S, opt), opt, 10)
    want = [0.1 * (0.25 if e < 4 else 1.0) * 0.95**e for e in range(11)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_cyclic_triangular_values_and_momentum():
    opt = our_opt()
    rows = history(S.CyclicLR(opt, 0.01, 0.11, step_size_up=4, step_size_down=6), opt, 25)
    h = [min(e % 10, 4) / 4 if e % 10 <= 4 else 1 - (e % 10 - 4) / 6 for e in range(26)]
    np.testing.assert_allclose([r[0][0] for r in rows], [0.01 + 0.1 * x for x in h],
                               rtol=1e-12)
    np.testing.assert_allclose([r[0][1] for r in rows], [0.9 - 0.1 * x for x in h],
                               rtol=1e-12)
    opt = our_opt()
    got = lrs_of(S.CyclicLR(opt, 0.0, 1.0, step_size_up=2, mode="triangular2"), opt, 12)
    assert max(got[0:4]) == pytest.approx(1.0) and max(got[4:8]) == pytest.approx(0.5)
    assert max(got[8:12]) == pytest.approx(0.25)


def test_warm_restarts_values():
    opt = our_opt()
    got = lrs_of(S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=3, eta_min=0.0), opt, 12)
    # periods 2, 6, 18: T_cur restarts at epochs 2 and 8
    t_cur = [0, 1, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4]
    t_i = [2, 2] + [6] * 6 + [18] * 5
    want = [0.1 * (1 + math.cos(math.pi * c / t)) / 2 for c, t in zip(t_cur, t_i, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_key_points(three_phase):
    opt = our_opt()
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.3,
                         three_phase=three_phase)
    rows = history(sched, opt, 99)
    lrs, moms = [r[0][0] for r in rows], [r[0][1] for r in rows]
    assert lrs[0] == pytest.approx(1.0 / 25) and moms[0] == pytest.approx(0.95)
    assert lrs[29] == pytest.approx(1.0) and moms[29] == pytest.approx(0.85)
    assert max(lrs) == pytest.approx(1.0)
    assert lrs[99] == pytest.approx(1.0 / 25 / 1e4) and moms[99] == pytest.approx(0.95)
    if three_phase:
        assert lrs[58] == pytest.approx(1.0 / 25)  # back to the start, symmetrically
    opt.step()
    sched.step()  # step 100 of 100 is the last one allowed
    opt.step()
    with pytest.raises(ValueError, match="tried to step 101 times"):
        sched.step()


def test_cycle_momentum_sets_beta1_of_adam():
    opt = our_opt("Adam")
    S.OneCycleLR(opt, max_lr=0.01, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.999)
    assert opt.param_groups[0]["max_momentum"] == 0.95


# ------------------------------------------------------------------- state_dict
def advance(sched, opt, steps):
    out = []
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append([(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups])
    return out


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("through_file", [False, True])
def test_state_dict_round_trip_resumes_identically(name, through_file, tmp_path):
    cls, build = SCHEDULES[name]
    opt = our_opt(cls)
    expected = advance(build(S, opt), opt, 25)

    opt2 = our_opt(cls)
    sched2 = build(S, opt2)
    advance(sched2, opt2, 11)
    state = {"opt": opt2.state_dict(), "sched": sched2.state_dict()}
    if through_file:
        gg.save(state, tmp_path / "s.ckpt")
        state = gg.load(tmp_path / "s.ckpt")
    advance(sched2, opt2, 3)  # the saved state must not follow

    opt3 = our_opt(cls)
    sched3 = build(S, opt3)  # the recipe: build, then load both states
    opt3.load_state_dict(state["opt"])
    sched3.load_state_dict(state["sched"])
    assert advance(sched3, opt3, 14) == expected[11:]


def test_state_dicts_hold_no_functions():
    sd = S.CyclicLR(our_opt(), 0.01, 0.1, scale_fn=lambda x: 1.0).state_dict()
    assert sd["_scale_fn_custom"] is None
    sd = S.CyclicLR(our_opt(), 0.01, 0.1, scale_fn=Halve()).state_dict()
    assert sd["_scale_fn_custom"] == {"base": 0.5}
    sd = S.MultiplicativeLR(our_opt(), Halve()).state_dict()
    assert sd["lr_lambdas"] == [{"base": 0.5}, {"base": 0.5}]
    opt = our_opt()
    sd = sequential(S, opt).state_dict()
    assert [sorted(s) for s in sd["_schedulers"]] == [
        sorted(s.state_dict()) for s in (S.LinearLR(opt), S.CosineAnnealingLR(opt, T_max=3))]


# ----------------------------------------------------------------------- errors
def test_invalid_arguments():
    opt = our_opt()
    with pytest.raises(ValueError, match="factor"):
        S.ConstantLR(opt, factor=1.5)
    with pytest.raises(ValueError, match="start_factor"):
        S.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="end_factor"):
        S.LinearLR(opt, end_factor=1.5)
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        S.MultiplicativeLR(opt, 0.9)
    with pytest.raises(ValueError, match="one milestone fewer than schedulers"):
        S.SequentialLR(opt, [S.ConstantLR(opt), S.ExponentialLR(opt, 0.9)], milestones=[])
    with pytest.raises(ValueError, match="same optimizer"):
        S.SequentialLR(opt, [S.ConstantLR(opt), S.ExponentialLR(our_opt(), 0.9)], [3])
    with pytest.raises(ValueError, match="does not support ReduceLROnPlateau"):
        S.ChainedScheduler([S.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="at least one scheduler"):
        S.ChainedScheduler([])
    with pytest.raises(ValueError, match="mode='up' is invalid"):
        S.CyclicLR(opt, 0.01, 0.1, mode="up")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        S.CyclicLR(opt, 0.01, [0.1])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.CyclicLR(optim.Adagrad([gg.zeros(1, requires_grad=True)]), 0.01, 0.1)
    with pytest.raises(ValueError, match="positive integer T_0"):
        S.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="T_mult >= 1"):
        S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=1.5)
    with pytest.raises(ValueError, match="non-negative epoch"):
        S.CosineAnnealingWarmRestarts(opt, T_0=3).step(-1)
    with pytest.raises(ValueError, match="either total_steps OR"):
        S.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="positive integer total_steps"):
        S.OneCycleLR(opt, max_lr=0.1, total_steps=0)
    with pytest.raises(ValueError, match="pct_start"):
        S.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1)
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.OneCycleLR(object(), max_lr=0.1, total_steps=10)
