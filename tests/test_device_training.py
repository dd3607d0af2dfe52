"""Training on a device (issue 20), on the device under test
(``tests/device_under_test.py``: the strict stand-in GPU, or a real one with
GRAPHGRAD_TEST_GPU=1): ``Module.to``/``cuda``/``cpu``, every optimizer's step on the
device equal to the CPU's, optimizer state on the parameter's device, and a small
training loop."""
from __future__ import annotations

import numpy as np
import pytest
from device_under_test import REAL_GPU, TOLERANCE, cuda_for_tests

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.autograd.arrays import is_device_array


@pytest.fixture(autouse=True)
def device():
    with cuda_for_tests():
        yield


def on_device(t: gg.Tensor) -> bool:
    return is_device_array(t._data)


# ------------------------------------------------------------------ Module.to
def model() -> nn.Module:
    gg.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_module_to_moves_parameters_grads_and_buffers_keeping_the_objects():
    m = model()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    params = list(m.parameters())
    params[0].grad = gg.ones(params[0].shape)
    assert m.to("cuda") is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(on_device(p) and p.is_cuda for p in m.parameters())
    assert all(on_device(b) for b in m.buffers())  # running stats and the int64 count
    assert on_device(params[0].grad)
    assert m[1].num_batches_tracked.dtype == np.int64
    assert m.cpu() is m and not any(on_device(t) for t in (*m.parameters(), *m.buffers()))
    after = {k: v.numpy() for k, v in m.state_dict().items()}
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)
    np.testing.assert_array_equal(params[0].grad.numpy(), np.ones(params[0].shape))


def test_module_to_with_device_and_dtype_and_the_other_forms():
    m = model().to("cuda", gg.float64)
    assert all(on_device(p) and p.dtype == np.float64 for p in m.parameters())
    assert m[1].num_batches_tracked.dtype == np.int64  # only floating tensors are cast
    m.cpu().cuda(0)
    assert all(on_device(p) for p in m.parameters())
    m.to(gg.zeros(1))  # a tensor's device and dtype
    assert all(not on_device(p) and p.dtype == np.float32 for p in m.parameters())
    m.to(device=gg.device("cuda:0"))
    assert all(on_device(p) for p in m.parameters())
    n = gg.cuda.device_count()
    with pytest.raises(RuntimeError, match=f"Module.cuda: device 'cuda:{n}' does not exist"):
        m.cuda(n)


def test_zero_grad_keeps_gradients_on_the_device():
    m = model().cuda()
    for p in m.parameters():
        p.grad = gg.ones(p.shape, device="cuda")
    m.zero_grad(set_to_none=False)
    assert all(on_device(p.grad) and not p.grad.cpu().numpy().any() for p in m.parameters())


# ----------------------------------------------------------------- optimizers
OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1),
    "SGD momentum nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                                  weight_decay=0.01),
    "SGD dampening maximize": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, dampening=0.3,
                                                   maximize=True),
    "Adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1),
    "Adam amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.01),
    "Adamax": lambda ps: optim.Adamax(ps, lr=0.01),
    "NAdam": lambda ps: optim.NAdam(ps, lr=0.01),
    "RAdam": lambda ps: optim.RAdam(ps, lr=0.01),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01),
    "Adadelta": lambda ps: optim.Adadelta(ps, lr=1.0, weight_decay=0.01),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.01),
    "RMSprop centered momentum": lambda ps: optim.RMSprop(ps, lr=0.01, centered=True,
                                                          momentum=0.5),
    "Rprop": lambda ps: optim.Rprop(ps, lr=0.01),
    "ASGD": lambda ps: optim.ASGD(ps, lr=0.01, t0=2),
}
STEPS = 8


def _run(make, device: str, grads: list) -> tuple[list, dict]:
    rng = np.random.default_rng(1)
    params = [gg.tensor(rng.standard_normal(s), device=device, requires_grad=True)
              for s in ((3, 2), (4,))]
    opt = make(params)
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad = gg.tensor(g, device=device)
        opt.step()
    for group_state in opt.state.values():
        for key, value in group_state.items():
            if isinstance(value, gg.Tensor) and value.dim():  # per-parameter arrays
                assert value.device == params[0].device, f"state {key} on {value.device}"
    return [p.cpu().numpy() for p in params], opt.state_dict()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_step_on_the_device_equals_the_cpu_step(name):
    rng = np.random.default_rng(2)
    grads = [[rng.standard_normal((3, 2)), rng.standard_normal(4)] for _ in range(STEPS)]
    on_cpu, _ = _run(OPTIMIZERS[name], "cpu", grads)
    on_dev, _ = _run(OPTIMIZERS[name], "cuda", grads)
    for d, c in zip(on_dev, on_cpu, strict=True):
        np.testing.assert_allclose(d, c, **TOLERANCE)


@pytest.mark.parametrize("name", ["SGD momentum nesterov", "Adam amsgrad", "ASGD"])
def test_optimizer_state_saved_on_the_cpu_loads_onto_the_device(name):
    rng = np.random.default_rng(3)
    grads = [[rng.standard_normal((3, 2)), rng.standard_normal(4)] for _ in range(2)]
    _, saved = _run(OPTIMIZERS[name], "cpu", grads)
    params = [gg.zeros(3, 2, device="cuda", requires_grad=True),
              gg.zeros(4, device="cuda", requires_grad=True)]
    opt = OPTIMIZERS[name](params)
    opt.load_state_dict(saved)
    for state in opt.state.values():
        for key, value in state.items():
            if isinstance(value, gg.Tensor):
                assert on_device(value) == (value.dim() > 0), key
    for p in params:
        p.grad = gg.ones(p.shape, device="cuda")
    opt.step()
    assert all(on_device(p) for p in params)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_on_the_device_equals_the_cpu(line_search_fn):
    """A quadratic whose closure computes loss and gradient with the array module."""
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0.5, 2.0, 5), rng.standard_normal(5)

    def run(device):
        x = gg.tensor(np.zeros(5), device=device, requires_grad=True)
        ad, bd = (gg.tensor(v, device=device)._data for v in (a, b))
        opt = optim.LBFGS([x], lr=1.0, max_iter=6, line_search_fn=line_search_fn)

        def closure():
            r = x._data - bd
            x.grad = gg.Tensor._make(ad * r)
            return float((0.5 * ad * r * r).sum())

        for _ in range(2):
            opt.step(closure)
        return x.cpu().numpy()

    np.testing.assert_allclose(run("cuda"), run("cpu"), **TOLERANCE)


def test_swa_averaged_model_on_the_device():
    from graphgrad.optim.swa_utils import AveragedModel

    m = nn.Linear(3, 2).cuda()
    swa = AveragedModel(m)
    for _ in range(3):
        for p in m.parameters():
            p._data += 1.0
        swa.update_parameters(m)
    assert all(on_device(p) for p in swa.parameters())
    np.testing.assert_allclose(swa.module.weight.cpu().numpy(),
                               m.weight.cpu().numpy() - 1.0, rtol=1e-6)


# ------------------------------------------------------------- a training loop
def _train(device: str, make_opt) -> list[float]:
    gg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1)).double().to(device)
    opt = make_opt(net.parameters())
    rng = np.random.default_rng(5)
    x = gg.tensor(rng.standard_normal((16, 3)), device=device)
    y = gg.tensor(rng.standard_normal((16, 1)), device=device)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_a_training_loop_on_the_device_gives_the_cpu_losses(opt):
    make = {"SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
            "Adam": lambda ps: optim.Adam(ps, lr=0.01)}[opt]
    np.testing.assert_allclose(_train("cuda", make), _train("cpu", make), **TOLERANCE)


def test_the_demo_trains_on_the_device():
    from graphgrad import demo
    from graphgrad.datasets import load_digits

    class Bar:
        def set_postfix_str(self, *args, **kwargs) -> None:
            pass

        def update(self) -> None:
            pass

    def epoch(device: str) -> tuple:
        gg.manual_seed(0)
        x, y = load_digits("train")
        data = gg.utils.data.TensorDataset(x[:64], y[:64])
        loader = gg.utils.data.DataLoader(data, batch_size=32, shuffle=True,
                                          pin_memory=device != "cpu")
        model = demo.DigitsCNN(dropout=0.0).to(device)
        optimizer = optim.Adam(model.parameters(), lr=3e-3)
        loss, accuracy, _ = demo.train_epoch(model, loader, optimizer, Bar(), device=device)
        return loss, accuracy, demo.evaluate(model, x[:64], y[:64], device)[1]

    on_device, on_cpu = epoch("cuda"), epoch("cpu")
    np.testing.assert_allclose(on_device[:2], on_cpu[:2], rtol=1e-5)
    # the same predictions (a GPU's float32 rounding may flip one near-tie)
    assert (on_device[2] != on_cpu[2]).sum() <= (1 if REAL_GPU else 0)


def test_the_demo_command_refuses_a_missing_device(capsys):
    from graphgrad.cli import main

    n = gg.cuda.device_count()
    assert main(["demo", "--quick", "--device", f"cuda:{n}"]) == 2
    assert f"cuda:{n}" in capsys.readouterr().err
