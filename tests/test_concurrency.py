"""Threads: grad mode, anomaly mode and module scopes are per thread, as PyTorch's, so
threads that train, evaluate under no_grad and run backward at once never disturb each
other's recording; decorated generator functions keep their mode per resumption."""
import threading

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn as nn
import graphgrad.nn.functional as F


def _run_threads(*targets):
    errors = []

    def guarded(target):
        try:
            target()
        except BaseException as error:  # noqa: BLE001  (reported by the main thread)
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_training_threads_record_every_step_while_others_evaluate():
    steps = 150
    unrecorded = []
    barrier = threading.Barrier(2)

    def train(seed, evaluate):
        rng = np.random.default_rng(seed)
        model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
        opt = gg.optim.SGD(model.parameters(), lr=0.01)
        x = gg.tensor(rng.normal(size=(32, 8)))
        y = gg.tensor(rng.normal(size=(32, 1)))
        barrier.wait()
        for _ in range(steps):
            loss = F.mse_loss(model(x), y)
            if loss.grad_fn is None:
                unrecorded.append(seed)
                continue
            opt.zero_grad()
            loss.backward()
            opt.step()
            if evaluate:
                with gg.no_grad():
                    assert model(x).grad_fn is None
        assert gg.is_grad_enabled()

    _run_threads(lambda: train(0, evaluate=True), lambda: train(1, evaluate=False))
    assert unrecorded == []
    assert gg.is_grad_enabled()


def test_interleaved_no_grad_blocks_restore_each_threads_mode():
    switch = [threading.Event(), threading.Event()]
    seen = {}

    def first():
        with gg.no_grad():
            switch[0].set()
            switch[1].wait(10)
        seen["first"] = gg.is_grad_enabled()

    def second():
        switch[0].wait(10)
        seen["second inside"] = gg.is_grad_enabled()  # first's no_grad is not ours
        with gg.no_grad():
            switch[1].set()
        seen["second"] = gg.is_grad_enabled()

    for _ in range(50):
        for event in switch:
            event.clear()
        _run_threads(first, second)
        assert seen == {"first": True, "second inside": True, "second": True}
    assert gg.is_grad_enabled()


def test_forward_records_while_another_thread_runs_backward():
    stop = threading.Event()
    unrecorded = []

    def backward_loop():
        w = gg.randn(64, 64, requires_grad=True)
        while not stop.is_set():
            (w @ w).tanh().sum().backward()

    def forward_loop():
        x = gg.randn(16, requires_grad=True)
        for _ in range(3000):
            if (x * 2).grad_fn is None:
                unrecorded.append(1)
        stop.set()

    _run_threads(backward_loop, forward_loop)
    assert unrecorded == []


def test_a_new_thread_starts_with_recording_on_and_anomaly_off():
    seen = {}

    def probe():
        seen["grad"] = gg.is_grad_enabled()
        seen["anomaly"] = gg.autograd.grad_mode.STATE.anomaly
        seen["scope"] = gg.autograd.grad_mode.STATE.scope

    with gg.no_grad(), gg.autograd.detect_anomaly():
        _run_threads(probe)
    assert seen == {"grad": True, "anomaly": False, "scope": None}


@pytest.mark.parametrize("make", [gg.no_grad, lambda: gg.no_grad,
                                  lambda: gg.set_grad_enabled(False), gg.inference_mode])
def test_decorated_generators_compute_without_a_graph(make):
    x = gg.ones(3, requires_grad=True)

    @make()
    def doubled(n):
        for _ in range(n):
            received = yield x * 2
            assert received is None

    outputs = []
    for y in doubled(3):
        outputs.append(y)
        assert gg.is_grad_enabled()  # the caller's mode between resumptions
        assert (x * 1).requires_grad
    assert len(outputs) == 3 and not any(y.requires_grad for y in outputs)


def test_enable_grad_generator_inside_no_grad():
    x = gg.ones(2, requires_grad=True)

    @gg.enable_grad()
    def gen():
        yield x * 2

    with gg.no_grad():
        (y,) = list(gen())
        assert not gg.is_grad_enabled()
    assert y.requires_grad
