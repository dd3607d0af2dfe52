"""optim.swa_utils: AveragedModel (SWA and EMA, with and without buffers), update_bn and
SWALR, checked against the averages they define and against PyTorch's."""
import numpy as np
import pytest

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.optim import swa_utils as swa


def make_model(nn):
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def snapshots(count=5, seed=0):
    """``count`` states of the model: parameters and BatchNorm buffers, as arrays."""
    rng = np.random.default_rng(seed)
    model = make_model(nn)
    out = []
    for k in range(count):
        state = {}
        for name, v in model.state_dict().items():
            if v.dtype == gg.int64:
                state[name] = np.array(3 * k + 1, dtype=np.int64)
            else:
                state[name] = rng.standard_normal(v.shape).astype(np.float32)
        out.append(state)
    return out


def load(model, state, tensor):
    model.load_state_dict({k: tensor(v) for k, v in state.items()})


def arrays(module):
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v)
            for k, v in module.state_dict().items()}


def test_default_average_is_the_mean_and_buffers_follow_the_model():
    model = make_model(nn)
    averaged = swa.AveragedModel(model)
    states = snapshots()
    for state in states:
        load(model, state, gg.tensor)
        averaged.update_parameters(model)
    assert averaged.n_averaged.dtype == gg.int64 and int(averaged.n_averaged) == 5
    got = arrays(averaged)
    for name, _ in model.named_parameters():
        want = np.mean([s[name] for s in states], axis=0)
        np.testing.assert_allclose(got["module." + name], want, rtol=1e-5, atol=1e-6)
    for name, _ in model.named_buffers():  # copied from the model, not averaged
        np.testing.assert_array_equal(got["module." + name], states[-1][name])
    assert list(got) == ["n_averaged"] + ["module." + k for k in model.state_dict()]
    # a separate copy: changing the model does not change the average
    before = got["module.0.weight"].copy()
    model[0].weight.data[...] = 0.0
    np.testing.assert_array_equal(averaged.module[0].weight.numpy(), before)
    x = gg.randn(5, 3)
    averaged.eval()
    np.testing.assert_array_equal(averaged(x).numpy(), averaged.module(x).numpy())


def test_ema_with_buffers_is_the_exponential_average():
    model = make_model(nn)
    decay = 0.8
    averaged = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(decay),
                                 use_buffers=True)
    states = snapshots()
    for state in states:
        load(model, state, gg.tensor)
        averaged.update_parameters(model)
    got = arrays(averaged)
    for name in states[0]:
        want = states[0][name]
        for s in states[1:]:  # an integer buffer (num_batches_tracked) truncates each time
            want = (decay * want + (1 - decay) * s[name]).astype(want.dtype)
        np.testing.assert_allclose(got["module." + name], want, rtol=1e-5, atol=1e-6,
                                   err_msg=name)


AVERAGES = {
    "swa": lambda m: dict(),
    "swa-buffers": lambda m: dict(use_buffers=True),
    "ema-multi": lambda m: dict(multi_avg_fn=m.get_ema_multi_avg_fn(0.9)),
    "swa-multi": lambda m: dict(multi_avg_fn=m.get_swa_multi_avg_fn()),
    "ema-avg_fn": lambda m: dict(avg_fn=m.get_ema_avg_fn(0.7)),
    "swa-avg_fn": lambda m: dict(avg_fn=m.get_swa_avg_fn()),
    "custom": lambda m: dict(avg_fn=lambda avg, p, n: 0.5 * avg + 0.5 * p),
}


@pytest.mark.parametrize("name", list(AVERAGES))
def test_averaged_model_matches_torch(name):
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils as tswa

    model, tmodel = make_model(nn), make_model(torch.nn)
    averaged = swa.AveragedModel(model, **AVERAGES[name](swa))
    taveraged = tswa.AveragedModel(tmodel, **AVERAGES[name](tswa))
    for state in snapshots(6):
        load(model, state, gg.tensor)
        load(tmodel, state, torch.tensor)
        averaged.update_parameters(model)
        taveraged.update_parameters(tmodel)
        ours, theirs = arrays(averaged), arrays(taveraged)
        assert list(ours) == list(theirs)
        for k, v in theirs.items():
            assert ours[k].dtype == v.dtype, k
            np.testing.assert_allclose(ours[k], v, rtol=1e-6, atol=1e-7, err_msg=k)


def batches(n=6, size=8, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((size, 3)).astype(np.float32) * 2 + 1 for _ in range(n)]


def test_update_bn_recomputes_the_statistics():
    gg.manual_seed(0)
    model = make_model(nn)
    model.eval()
    model[1].running_mean.data[...] = 5.0
    data = batches()
    loader = [(gg.tensor(x), gg.zeros(len(x))) for x in data]  # (input, target) batches
    swa.update_bn(loader, model)
    with gg.no_grad():
        hidden = [model[0](gg.tensor(x)).numpy() for x in data]
    np.testing.assert_allclose(model[1].running_mean.numpy(),
                               np.mean([h.mean(0) for h in hidden], axis=0), rtol=1e-5)
    np.testing.assert_allclose(model[1].running_var.numpy(),
                               np.mean([h.var(0, ddof=1) for h in hidden], axis=0), rtol=1e-5)
    assert model[1].momentum == 0.1 and not model.training
    assert int(model[1].num_batches_tracked) == len(data)


def test_update_bn_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils as tswa

    model, tmodel = make_model(nn), make_model(torch.nn)
    state = snapshots(1)[0]
    load(model, state, gg.tensor)
    load(tmodel, state, torch.tensor)
    swa.update_bn([gg.tensor(x) for x in batches()], model)
    tswa.update_bn([torch.tensor(x) for x in batches()], tmodel)
    for k, v in arrays(tmodel).items():
        np.testing.assert_allclose(arrays(model)[k], v, rtol=1e-5, atol=1e-6, err_msg=k)


def test_update_bn_without_batchnorm_does_not_run_the_model():
    class Refuses(nn.Module):
        def forward(self, x):
            raise AssertionError("called")

    swa.update_bn([gg.zeros(2, 3)], Refuses())


SWALRS = {
    "cos": lambda m, o: m.SWALR(o, swa_lr=0.05, anneal_epochs=5),
    "linear-groups": lambda m, o: m.SWALR(o, swa_lr=[0.02, 0.002], anneal_epochs=3,
                                          anneal_strategy="linear"),
    "instant": lambda m, o: m.SWALR(o, swa_lr=0.01, anneal_epochs=0),
}


def sgd(lib, params):
    return lib.optim.SGD([{"params": params[:1], "lr": 0.1}, {"params": params[1:],
                                                              "lr": 0.01}], momentum=0.9)


@pytest.mark.parametrize("name", list(SWALRS))
def test_swalr_matches_torch_after_another_schedule(name):
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils as tswa

    opt = sgd(gg, [gg.zeros(2, requires_grad=True), gg.zeros(1, requires_grad=True)])
    topt = sgd(torch, [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)])
    runs = []
    for lib, module, o in ((optim, swa, opt), (torch.optim, tswa, topt)):
        first = lib.lr_scheduler.CosineAnnealingLR(o, T_max=20)
        lrs = []
        for _ in range(8):
            o.step()
            first.step()
        sched = SWALRS[name](module, o)
        for _ in range(12):
            o.step()
            sched.step()
            lrs.append(sched.get_last_lr())
        runs.append(lrs)
    assert runs[0] == runs[1]


def test_swalr_linear_values_and_state_dict(tmp_path):
    opt = sgd(gg, [gg.zeros(2, requires_grad=True), gg.zeros(1, requires_grad=True)])
    sched = swa.SWALR(opt, swa_lr=0.02, anneal_epochs=4, anneal_strategy="linear")
    lrs = [sched.get_last_lr()[0]]
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    # from 0.1 to 0.02 in 4 steps, then constant
    np.testing.assert_allclose(lrs, [0.1, 0.08, 0.06, 0.04, 0.02, 0.02, 0.02], rtol=1e-12)
    gg.save(sched.state_dict(), tmp_path / "s")
    fresh = swa.SWALR(opt, swa_lr=0.5, anneal_strategy="cos")
    fresh.load_state_dict(gg.load(tmp_path / "s"))
    assert fresh.anneal_func(0.25) == 0.25  # the linear strategy came back
    assert fresh.state_dict() == sched.state_dict()


def test_errors():
    model = make_model(nn)
    with pytest.raises(ValueError, match="only one of avg_fn and multi_avg_fn"):
        swa.AveragedModel(model, avg_fn=swa.get_swa_avg_fn(),
                          multi_avg_fn=swa.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="decay"):
        swa.get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match="decay"):
        swa.get_ema_avg_fn(-0.1)
    with pytest.raises((ValueError, RuntimeError), match="cuda"):
        swa.AveragedModel(model, device="cuda")
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy"):
        swa.SWALR(opt, swa_lr=0.01, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs"):
        swa.SWALR(opt, swa_lr=0.01, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length"):
        swa.SWALR(opt, swa_lr=[0.01, 0.02])
