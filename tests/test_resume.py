"""Exact resume: a training run killed with SIGKILL and restarted from its checkpoint ends
with the same parameters, bit for bit, as a run that was never interrupted; a kill in the
middle of a save leaves the previous checkpoint loadable."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import graphgrad as gg

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

# The recipe of the README, as a script: checkpoint = params + optimizer + scheduler +
# data loader position + RNG state; a mid-epoch checkpoint every EVERY steps and one at
# the end of each epoch.  Dropout draws from the project RNG, the loader shuffles with it.
TRAIN = textwrap.dedent("""
    import os, sys
    import numpy as np
    import graphgrad as gg
    from graphgrad import optim
    from graphgrad.utils.data import DataLoader, TensorDataset

    ckpt, out, epochs, every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    gg.manual_seed(0)
    X = gg.randn(60, 5)
    Y = gg.tensor(np.sin(X.numpy() @ np.arange(1.0, 6.0, dtype=np.float32))[:, None])
    params = {
        "w1": gg.tensor(0.5 * gg.randn(5, 16).numpy(), requires_grad=True),
        "b1": gg.zeros(16, requires_grad=True),
        "w2": gg.tensor(0.5 * gg.randn(16, 1).numpy(), requires_grad=True),
        "b2": gg.zeros(1, requires_grad=True),
    }
    opt = optim.Adam(params.values(), lr=0.01)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    loader = DataLoader(TensorDataset(X, Y), batch_size=8, shuffle=True)

    start, step = 0, 0
    if os.path.exists(ckpt):
        state = gg.load(ckpt)
        for name, p in params.items():
            p.data[...] = state["params"][name].data
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        loader.load_state_dict(state["loader"])
        gg.set_rng_state(state["rng"])
        start, step = state["epoch"], state["step"]
        print("resumed", start, step, flush=True)

    def checkpoint(epoch):
        gg.save({"params": params, "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "loader": loader.state_dict(),
                 "rng": gg.get_rng_state(), "epoch": epoch, "step": step}, ckpt)

    for epoch in range(start, epochs):
        for xb, yb in loader:
            h = (xb @ params["w1"] + params["b1"]).relu()
            h = h * (gg.rand(*h.shape) > 0.2) / 0.8          # dropout
            loss = ((h @ params["w2"] + params["b2"] - yb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % every == 0:
                checkpoint(epoch)                              # mid-epoch
            print("step", step, flush=True)
        sched.step()
        checkpoint(epoch + 1)
    gg.save(params, out)
    print("done", step, flush=True)
""")

EPOCHS, EVERY = 6, 3  # 8 batches an epoch: 48 steps


def start(tmp: Path, name: str) -> subprocess.Popen:
    script = tmp / "train.py"
    script.write_text(TRAIN)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp / f"{name}.ckpt"), str(tmp / f"{name}.out"),
         str(EPOCHS), str(EVERY)], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp)


def finish(proc: subprocess.Popen) -> list[str]:
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    return out.splitlines()


def kill_after(proc: subprocess.Popen, step: int) -> None:
    for line in proc.stdout:
        if line.strip() == f"step {step}":
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def final_params(path: Path) -> dict:
    return {k: v.numpy() for k, v in gg.load(path).items()}


def assert_same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k


def test_killed_run_resumes_to_the_same_parameters(tmp_path):
    assert finish(start(tmp_path, "whole"))[-1] == f"done {EPOCHS * 8}"
    reference = final_params(tmp_path / "whole.out")

    proc = start(tmp_path, "killed")
    kill_after(proc, 13)  # mid-epoch 1, between checkpoints
    assert not (tmp_path / "killed.out").exists()
    proc = start(tmp_path, "killed")
    kill_after(proc, 30)  # killed a second time, after resuming once
    lines = finish(start(tmp_path, "killed"))
    assert lines[0].startswith("resumed") and lines[-1] == f"done {EPOCHS * 8}"
    assert_same(final_params(tmp_path / "killed.out"), reference)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [1, 3, 8, 9, 16, 24, 47])
def test_kill_at_many_points(tmp_path, kill_at):
    assert finish(start(tmp_path, "whole"))[-1] == f"done {EPOCHS * 8}"
    proc = start(tmp_path, "killed")
    kill_after(proc, kill_at)
    finish(start(tmp_path, "killed"))
    assert_same(final_params(tmp_path / "killed.out"), final_params(tmp_path / "whole.out"))


SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    import graphgrad as gg

    path = sys.argv[1]
    big = np.zeros(4_000_000)                  # 32 MB: a save takes a while
    for version in range(1, 10_000):
        big[...] = version
        print("saving", version, flush=True)
        gg.save({"version": version, "big": big, "tail": np.full(3, version)}, path)
""")


def test_kill_during_save_keeps_last_good_checkpoint(tmp_path):
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    path = tmp_path / "ckpt"

    def temporaries():
        return [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]

    interrupted_saves = 0
    for attempt in range(6):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                                text=True, env=env)
        for line in proc.stdout:
            if line.startswith("saving") and int(line.split()[1]) >= 2 + attempt % 3:
                deadline = time.monotonic() + 5
                while not temporaries() and time.monotonic() < deadline:
                    pass  # the save is writing its temporary file: kill it now
                time.sleep(0.005 * (attempt % 3))
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
        leftovers = temporaries()
        interrupted_saves += bool(leftovers)
        state = gg.load(path)  # never a half-written file
        version = state["version"]
        assert version >= 1
        assert np.all(state["big"] == version) and np.all(state["tail"] == version)
        for name in leftovers:
            os.unlink(tmp_path / name)
        if interrupted_saves >= 2:
            break
    assert interrupted_saves >= 1, "no kill landed inside a save: the test proved nothing"
