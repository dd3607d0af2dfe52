"""The lines at the top of real training scripts, run with ``import graphgrad as torch``:
cuDNN flags, the distributed guard and DDP import, a TensorBoard writer whose import is
guarded by the optional dependency, seeding of CPU and CUDA, thread count, autocast and a
disabled GradScaler around the training step.  On a CPU-only NumPy engine they all take
the no-accelerator, single-process path, as PyTorch's do on such a machine; the training
then gives PyTorch's losses."""
import importlib
import importlib.util
import sys

import numpy as np
import pytest
from compat_utils import assert_falls, to_numpy

import graphgrad as torch
import graphgrad.backends.cudnn as cudnn
import graphgrad.distributed as dist
import graphgrad.nn as nn
import graphgrad.nn.functional as F
import graphgrad.utils
from graphgrad.nn.parallel import DistributedDataParallel as DDP

try:
    from graphgrad.utils.tensorboard import SummaryWriter
except ImportError:  # tensorboard logging is optional
    SummaryWriter = None


# ------------------------------------------------------------- script (written once)
def main(torch, nn, F, cudnn, dist, DDP, SummaryWriter, log_dir, x_np, y_np, init_state=None,
         steps=30):
    torch.manual_seed(0)
    torch.cuda.manual_seed_all(0)
    torch.backends.cudnn.deterministic = True
    cudnn.benchmark = True
    torch.set_num_threads(1)

    ddp = dist.is_available() and dist.is_initialized()
    if ddp:
        rank, world_size = dist.get_rank(), dist.get_world_size()
    else:
        rank, world_size = 0, 1
    master_process = rank == 0
    device = torch.device(f"cuda:{rank}" if torch.cuda.is_available() else "cpu")
    device_type = 'cuda' if 'cuda' in str(device) else 'cpu'

    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    if init_state is not None:
        model.load_state_dict(init_state)
    model.to(device)
    if ddp:
        model = DDP(model, device_ids=[rank])
    raw_model = model.module if ddp else model
    optimizer = torch.optim.Adam(raw_model.parameters(), lr=0.02)
    scaler = torch.amp.GradScaler(enabled=False)
    writer = SummaryWriter(log_dir) if SummaryWriter is not None and master_process else None

    x = torch.from_numpy(x_np).to(device)
    y = torch.from_numpy(y_np).to(device)
    losses = []
    for step in range(steps):
        with torch.autocast(device_type=device_type, enabled=False):
            loss = F.mse_loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
        if writer is not None:
            writer.add_scalar("train/loss", loss.item(), step)
    if writer is not None:
        writer.close()
    if ddp:
        dist.destroy_process_group()
    return raw_model, losses, world_size


# ------------------------------------------------------------- data and helpers
def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = np.tanh(x @ np.array([[1.0], [-0.5], [0.25], [2.0]], np.float32)).astype(np.float32)
    return x, y


@pytest.fixture
def restore_flags(monkeypatch):
    """The script sets process-wide flags; put them back afterwards."""
    modules = [cudnn]
    if importlib.util.find_spec("torch") is not None:
        modules.append(importlib.import_module("torch.backends.cudnn"))
    for module in modules:
        for flag in ("benchmark", "deterministic"):
            monkeypatch.setattr(module, flag, getattr(module, flag))
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------- tests
def test_script_preamble_runs_and_trains_as_pytorch(tmp_path, restore_flags):
    x, y = _data()
    start = {k: to_numpy(v) for k, v in nn.Sequential(
        nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1)).state_dict().items()}
    init = {k: torch.from_numpy(v) for k, v in start.items()}
    model, losses, world_size = main(torch, nn, F, cudnn, dist, DDP, SummaryWriter,
                                     str(tmp_path / "gg"), x, y, init_state=init)
    assert world_size == 1 and cudnn.benchmark and torch.backends.cudnn.deterministic
    assert torch.get_num_threads() == 1
    assert_falls(losses, factor=0.3)
    if importlib.util.find_spec("tensorboardX") is not None:
        assert SummaryWriter is not None
        assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "gg").iterdir())

    torch_ref = pytest.importorskip("torch")
    import torch.distributed as ref_dist
    import torch.nn.functional as F_ref
    from torch.nn.parallel import DistributedDataParallel as RefDDP
    try:
        from torch.utils.tensorboard import SummaryWriter as RefWriter
    except ImportError:
        RefWriter = None
    ref_init = {k: torch_ref.from_numpy(v) for k, v in start.items()}
    ref_model, ref_losses, ref_world = main(
        torch_ref, torch_ref.nn, F_ref, torch_ref.backends.cudnn, ref_dist, RefDDP, RefWriter,
        str(tmp_path / "torch"), x, y, init_state=ref_init)
    assert ref_world == world_size
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    for (name, p), (ref_name, ref_p) in zip(model.named_parameters(),
                                            ref_model.named_parameters(), strict=True):
        assert name == ref_name
        np.testing.assert_allclose(p.detach().numpy(), ref_p.detach().numpy(),
                                   rtol=1e-4, atol=1e-6)


def test_tensorboard_import_guard_without_the_dependency(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    for name in ("graphgrad.utils.tensorboard", "graphgrad.utils.tensorboard.writer"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(graphgrad.utils, "tensorboard", graphgrad.utils.tensorboard)
    try:
        from graphgrad.utils.tensorboard import SummaryWriter as Writer
    except ImportError:
        Writer = None
    writer = Writer(str(tmp_path)) if Writer is not None else None
    if writer is not None:
        writer.add_scalar("loss", 1.0, 0)
    assert writer is None


def test_matmul_precision_preamble(monkeypatch):
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    torch.backends.cuda.matmul.allow_tf32 = True  # allow tf32 on matmul
    torch.backends.cudnn.allow_tf32 = True  # allow tf32 on cudnn
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision('high')
    assert torch.get_float32_matmul_precision() == 'high'
    torch.set_float32_matmul_precision(before)


def test_deterministic_algorithms_preamble():
    torch.use_deterministic_algorithms(True)
    try:
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_compile_line():
    model = nn.Linear(4, 2)
    x = torch.randn(3, 4)
    compile_model = True
    if compile_model:
        print("compiling the model...")
        unoptimized_model = model
        model = torch.compile(model)
    np.testing.assert_array_equal(model(x).detach().numpy(),
                                  unoptimized_model(x).detach().numpy())
