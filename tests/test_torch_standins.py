"""The stand-ins for what a NumPy CPU engine lacks (CUDA, backends, accelerators, AMP,
distributed, ONNX) and the small torch-level utilities (TensorBoard writer, thread
counts, bfloat16, inference_mode): the import lines of real PyTorch scripts work, the
flags they set are accepted, and what cannot work says why."""
import struct
import sys
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import graphgrad as gg
import graphgrad.nn as nn
from graphgrad._dtypes import bfloat16
from graphgrad._modes import inference_mode


def _blas_thread_counts():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


# ---------------------------------------------------------------- import lines of scripts
def test_import_lines_of_real_scripts():
    import graphgrad.backends.cudnn as cudnn
    import graphgrad.distributed as dist
    from graphgrad.amp import GradScaler, autocast
    from graphgrad.cuda.amp import GradScaler as CudaGradScaler
    from graphgrad.nn.parallel import DataParallel
    from graphgrad.nn.parallel import DistributedDataParallel as DDP
    from graphgrad.utils.tensorboard import SummaryWriter

    assert cudnn is gg.backends.cudnn and dist is gg.distributed
    assert issubclass(CudaGradScaler, GradScaler) and callable(autocast)
    assert issubclass(DataParallel, nn.Module) and issubclass(DDP, nn.Module)
    assert SummaryWriter.__module__ == "graphgrad.utils.tensorboard.writer"


# ---------------------------------------------------------------- cuda
def test_cuda_reports_no_device_and_accepts_seeding():
    import graphgrad.cuda as cuda

    assert cuda.is_available() is False and cuda.device_count() == 0
    assert cuda.is_initialized() is False and cuda.is_bf16_supported() is False
    cuda.manual_seed(0)
    cuda.manual_seed_all(123)
    cuda.empty_cache()
    with pytest.raises(ValueError):
        cuda.manual_seed("not a seed")


@pytest.mark.parametrize("call", ["synchronize", "current_device", "get_device_name",
                                  "get_device_capability", "set_device"])
def test_cuda_calls_that_need_a_device_raise_naming_it(call):
    import graphgrad.cuda as cuda

    args = (0,) if call == "set_device" else ()
    with pytest.raises(RuntimeError, match=rf"graphgrad\.cuda\.{call}: graphgrad has no CUDA"):
        getattr(cuda, call)(*args)


def test_cuda_matches_torch_without_cuda():
    torch = pytest.importorskip("torch")
    import graphgrad.cuda as cuda

    assert cuda.is_available() == torch.cuda.is_available()
    assert cuda.device_count() == torch.cuda.device_count()


# ---------------------------------------------------------------- backends
def test_backend_flags_are_settable_with_torch_defaults(monkeypatch):
    import graphgrad.backends as backends
    import graphgrad.backends.cudnn as cudnn

    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32) == (
        True, False, False, True)
    assert backends.cuda.matmul.allow_tf32 is False
    for name in ("benchmark", "deterministic", "allow_tf32", "enabled"):
        monkeypatch.setattr(cudnn, name, not getattr(cudnn, name))
    monkeypatch.setattr(backends.cuda.matmul, "allow_tf32", True)
    monkeypatch.setattr(backends.mkldnn, "enabled", False)
    assert cudnn.benchmark is True and backends.cuda.matmul.allow_tf32 is True
    with pytest.raises(AttributeError):
        backends.cuda.matmul.allow_tf23 = True  # a misspelt flag is refused, as in PyTorch
    assert cudnn.is_available() is False and cudnn.version() is None
    assert backends.cuda.is_built() is False
    assert backends.mps.is_available() is False and backends.mps.is_built() is False
    assert backends.mkldnn.is_available() is False


def test_backend_flag_defaults_equal_torch():
    torch = pytest.importorskip("torch")
    import graphgrad.backends as backends

    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    for name in ("allow_tf32", "allow_fp16_reduced_precision_reduction",
                 "allow_bf16_reduced_precision_reduction"):
        assert getattr(backends.cuda.matmul, name) == getattr(torch.backends.cuda.matmul, name)


# ---------------------------------------------------------------- accelerator
def test_accelerator_reports_none():
    import graphgrad.accelerator as accelerator

    assert accelerator.is_available() is False and accelerator.device_count() == 0
    assert accelerator.current_accelerator() is None
    assert accelerator.current_accelerator(check_available=True) is None
    for call in ("current_device_index", "synchronize"):
        with pytest.raises(RuntimeError, match=rf"accelerator\.{call}: no accelerator"):
            getattr(accelerator, call)()


# ---------------------------------------------------------------- autocast
def test_autocast_on_cpu_changes_nothing():
    from graphgrad.amp import autocast

    a, b = gg.randn(3, 4), gg.randn(4, 2)
    expected = (a @ b).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on the CPU
        with autocast("cpu") as region:
            inside = a @ b
        assert region.device == "cpu"

        @autocast("cpu", dtype=bfloat16)
        def product(x, y):
            return x @ y

        decorated = product(a, b)
    for out in (inside, decorated):
        assert out.dtype == np.float32 and np.array_equal(out.numpy(), expected)


def test_autocast_for_a_missing_device_warns_and_disables():
    from graphgrad.amp import autocast

    with pytest.warns(UserWarning, match="device_type 'cuda'.*autocast is disabled"):
        region = autocast("cuda", dtype=gg.float16)
    assert region._enabled is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        autocast("cuda", enabled=False)  # explicitly disabled: nothing to warn about
    with pytest.raises(RuntimeError, match="device"):
        autocast("gpu")
    with pytest.raises(TypeError, match="autocast: expected a device type string"):
        autocast(0)


def test_cuda_amp_aliases_warn_as_deprecated():
    from graphgrad.cuda import amp as cuda_amp

    with pytest.warns(FutureWarning, match="graphgrad.cuda.amp.autocast.*deprecated"):
        with pytest.warns(UserWarning, match="autocast is disabled"):
            cuda_amp.autocast()
    with pytest.warns(FutureWarning, match="graphgrad.cuda.amp.GradScaler.*deprecated"):
        with pytest.warns(UserWarning, match="scaler is disabled"):
            scaler = cuda_amp.GradScaler()
    assert scaler.is_enabled() is False


# ---------------------------------------------------------------- GradScaler
def _model_and_optimizer():
    gg.manual_seed(0)
    model = nn.Linear(3, 2)
    return model, gg.optim.SGD(model.parameters(), lr=0.1)


def test_disabled_grad_scaler_is_a_pass_through():
    from graphgrad.amp import GradScaler

    with pytest.warns(UserWarning, match="gradient scaling on device 'cuda'.*disabled"):
        scaler = GradScaler()
    model, opt = _model_and_optimizer()
    reference, ref_opt = _model_and_optimizer()
    x = gg.randn(4, 3)
    loss = model(x).pow(2).sum()
    assert scaler.scale(loss) is loss
    pair = [loss, loss]
    assert scaler.scale(pair) is pair
    loss.backward()
    reference(x).pow(2).sum().backward()
    scaler.unscale_(opt)
    assert scaler.step(opt) is None
    scaler.update()
    ref_opt.step()
    assert np.array_equal(model.weight.numpy(), reference.weight.numpy())
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    scaler.load_state_dict({"scale": 8.0})  # ignored when disabled
    assert scaler.get_scale() == 1.0 and not scaler.is_enabled()


def test_disabled_grad_scaler_equals_torch():
    torch = pytest.importorskip("torch")
    from graphgrad.amp import GradScaler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = GradScaler("cuda"), torch.amp.GradScaler("cuda")
    quiet_ours, quiet_theirs = GradScaler(enabled=False), torch.amp.GradScaler(enabled=False)
    for a, b in ((ours, theirs), (quiet_ours, quiet_theirs)):
        assert a.is_enabled() == b.is_enabled() is False
        assert a.get_scale() == b.get_scale() and a.state_dict() == b.state_dict()


def _scaler_run(lib, scaler, steps):
    """SGD on one parameter with GradScaler; step 2's loss has an infinite gradient."""
    p = lib.nn.Parameter(lib.tensor([1.0, -2.0, 0.5]))
    opt = lib.optim.SGD([p], lr=0.1)
    trace = []
    for step in range(steps):
        opt.zero_grad()
        factor = lib.tensor([float("inf") if step == 2 else 1.0, 2.0, 3.0])
        scaler.scale((p * p * factor).sum()).backward()
        if step == 1:
            scaler.unscale_(opt)
            trace.append(p.grad.numpy().copy())  # unscaled gradients, as a script clips them
        scaler.step(opt)
        scaler.update()
        trace.append((scaler.get_scale(), p.detach().numpy().copy()))
    return trace, scaler.state_dict()


def test_cpu_grad_scaler_equals_torch_step_for_step():
    torch = pytest.importorskip("torch")
    from graphgrad.amp import GradScaler

    kwargs = dict(init_scale=1024.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = _scaler_run(gg, GradScaler("cpu", **kwargs), 7)
    theirs = _scaler_run(torch, torch.amp.GradScaler("cpu", **kwargs), 7)
    assert ours[1] == theirs[1]
    for mine, reference in zip(ours[0], theirs[0], strict=True):
        if isinstance(mine, tuple):
            assert mine[0] == reference[0]
            np.testing.assert_allclose(mine[1], reference[1], rtol=1e-6)
        else:
            np.testing.assert_allclose(mine, reference, rtol=1e-6)
    scales = [item[0] for item in ours[0] if isinstance(item, tuple)]
    assert scales == [1024.0, 4096.0, 1024.0, 1024.0, 4096.0, 4096.0, 16384.0]


def test_cpu_grad_scaler_state_and_misuse():
    from graphgrad.amp import GradScaler

    scaler = GradScaler("cpu", init_scale=8.0)
    assert scaler.get_scale() == 8.0 and scaler.is_enabled()
    model, opt = _model_and_optimizer()
    with pytest.raises(RuntimeError, match="GradScaler.unscale_: called before any scale"):
        scaler.unscale_(opt)
    loss = model(gg.ones(1, 3)).sum()
    scaled = scaler.scale(loss)
    assert scaled.item() == pytest.approx(8.0 * loss.item())
    with pytest.raises(ValueError, match="outputs must be a Tensor"):
        scaler.scale(3.0)
    scaled.backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already called for this optimizer"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step: already called"):
        scaler.step(opt)
    scaler.update(new_scale=2.0)
    assert scaler.get_scale() == 2.0
    state = scaler.state_dict()
    other = GradScaler("cpu")
    other.load_state_dict(state)
    assert other.state_dict() == state
    with pytest.raises(RuntimeError, match="state dict is empty"):
        other.load_state_dict({})
    with pytest.raises(ValueError, match="growth_factor must be > 1.0"):
        GradScaler("cpu", growth_factor=1.0)


# ---------------------------------------------------------------- distributed
@pytest.mark.parametrize("call", ["init_process_group", "get_rank", "get_world_size", "barrier",
                                  "all_reduce", "destroy_process_group", "broadcast"])
def test_distributed_calls_raise_saying_one_process(call):
    import graphgrad.distributed as dist

    with pytest.raises(RuntimeError, match=rf"distributed\.{call}: graphgrad runs in one "
                                           "process and has no distributed backend"):
        getattr(dist, call)(gg.ones(2)) if call in ("all_reduce", "broadcast") else (
            getattr(dist, call)())


def test_distributed_guards_and_missing_names():
    import graphgrad.distributed as dist

    assert dist.is_available() is False and dist.is_initialized() is False
    assert not (dist.is_nccl_available() or dist.is_gloo_available() or dist.is_mpi_available())
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    assert rank == 0
    with pytest.raises(AttributeError, match="'ReduceOp'.*no distributed backend"):
        dist.ReduceOp  # noqa: B018
    assert not hasattr(dist, "__wrapped__")


# ---------------------------------------------------------------- nn.parallel
def test_data_parallel_runs_the_module():
    from graphgrad.nn.parallel import DataParallel

    module = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    wrapped = DataParallel(module, device_ids=[0, 1], output_device=0, dim=0)
    assert wrapped.module is module and wrapped.device_ids == []
    x = gg.randn(5, 3)
    out = wrapped(x)
    assert np.array_equal(out.numpy(), module(x).numpy())
    out.sum().backward()
    assert module[0].weight.grad is not None
    keys = list(wrapped.state_dict())
    assert keys == ["module." + key for key in module.state_dict()]
    assert [name for name, _ in wrapped.named_parameters()] == keys
    plain = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    DataParallel(plain).load_state_dict(wrapped.state_dict())
    assert np.array_equal(plain(x).numpy(), out.numpy())


def test_data_parallel_keys_equal_torch():
    torch = pytest.importorskip("torch")
    from graphgrad.nn.parallel import DataParallel

    ours = DataParallel(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
    theirs = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 4),
                                                       torch.nn.BatchNorm1d(4)))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.device_ids == theirs.device_ids
    ours.load_state_dict({k: gg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})


def test_distributed_data_parallel_cannot_be_built():
    from graphgrad.nn.parallel import DistributedDataParallel as DDP

    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="DistributedDataParallel: graphgrad runs in one "
                                           "process"):
        DDP(model, device_ids=[0])
    assert not isinstance(model, DDP)


# ---------------------------------------------------------------- onnx
def test_onnx_export_says_why_not(tmp_path):
    import graphgrad.onnx

    with pytest.raises(NotImplementedError, match=r"ONNX export is not supported by "
                                                  r"graphgrad.*traced graph.*state_dict"):
        graphgrad.onnx.export(nn.Linear(2, 2), (gg.ones(1, 2),), str(tmp_path / "m.onnx"),
                              input_names=["x"], opset_version=17)
    assert graphgrad.onnx.is_in_onnx_export() is False
    assert not (tmp_path / "m.onnx").exists()


# ---------------------------------------------------------------- tensorboard
def test_tensorboard_import_without_tensorboardx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # makes the import fail
    for name in ("graphgrad.utils.tensorboard", "graphgrad.utils.tensorboard.writer"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ImportError, match=r"tensorboardX.*pip install graphgrad\[tensorboard\]"):
        from graphgrad.utils.tensorboard import SummaryWriter  # noqa: F401


def _read_events(folder):
    """Every Event in the TFRecord files under ``folder``: records are a little-endian
    uint64 length, a 4-byte checksum, the serialized Event, and another checksum."""
    from tensorboardX.proto.event_pb2 import Event

    events = []
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            events.append(Event.FromString(data[at + 12:at + 12 + length]))
            at += 12 + length + 4
    return [value for event in events for value in event.summary.value], events


def test_summary_writer_writes_readable_event_files(tmp_path):
    pytest.importorskip("tensorboardX")
    from graphgrad.utils.tensorboard import SummaryWriter

    loss = gg.tensor(0.25, requires_grad=True) * 2
    with SummaryWriter(log_dir=str(tmp_path), comment="ignored with log_dir") as writer:
        assert writer.get_logdir() == str(tmp_path)
        writer.add_scalar("train/loss", loss, global_step=3)
        writer.add_scalar("train/lr", 0.1, global_step=3)
        writer.add_scalars("acc", {"train": gg.tensor(0.75), "val": 0.5}, global_step=1)
        writer.add_histogram("weights", gg.randn(100), global_step=2)
        writer.add_image("digit", gg.rand(1, 8, 8), global_step=0)
        writer.add_text("note", "hello graphgrad", global_step=0)
        writer.flush()
        with pytest.raises(NotImplementedError, match="add_graph: graphgrad cannot trace"):
            writer.add_graph(nn.Linear(2, 2), gg.ones(1, 2))
    values, events = _read_events(tmp_path)
    by_tag = {value.tag: value for value in values}
    assert by_tag["train/loss"].simple_value == 0.5
    assert by_tag["train/lr"].simple_value == pytest.approx(0.1)
    assert by_tag["acc"].simple_value in (0.75, 0.5)  # one run folder per key
    assert sorted(v.simple_value for v in values if v.tag == "acc") == [0.5, 0.75]
    assert by_tag["weights"].histo.num == 100
    assert by_tag["digit"].image.height == 8 and by_tag["digit"].image.width == 8
    assert by_tag["digit"].image.encoded_image_string.startswith(b"\x89PNG")
    assert b"hello graphgrad" in by_tag["note/text_summary"].tensor.string_val[0]
    steps = {event.step for event in events if event.summary.value}
    assert steps == {0, 1, 2, 3}


# ---------------------------------------------------------------- threads
def test_set_num_threads_sets_the_blas_pool():
    from graphgrad.threads import get_num_threads, set_num_threads

    with threadpool_limits(limits=None, user_api="blas"):  # restores the counts on exit
        set_num_threads(1)
        assert get_num_threads() == 1
        assert all(count == 1 for count in _blas_thread_counts())
        set_num_threads(2)
        assert get_num_threads() == (2 if _blas_thread_counts() else 1)
    for bad, error in ((0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="set_num_threads: expected"):
            set_num_threads(bad)


def test_interop_threads_are_stored(monkeypatch):
    import graphgrad.threads as threads

    monkeypatch.setattr(threads, "_interop_threads", threads._interop_threads)
    assert threads.get_num_interop_threads() == 1
    threads.set_num_interop_threads(4)
    assert threads.get_num_interop_threads() == 4
    with pytest.raises(ValueError, match="set_num_interop_threads: expected a positive"):
        threads.set_num_interop_threads(0)


# ---------------------------------------------------------------- bfloat16
def test_bfloat16_parses_but_cannot_compute():
    import copy

    assert repr(bfloat16) == "graphgrad.bfloat16" and copy.deepcopy(bfloat16) is bfloat16
    assert bfloat16 != gg.float32 and bfloat16 == bfloat16
    config = {"dtype": bfloat16}  # naming it in a script or config works
    message = r"graphgrad has no bfloat16: NumPy has no such dtype.*use float32"
    for make in (lambda: gg.zeros(2, dtype=config["dtype"]),
                 lambda: gg.tensor([1.0], dtype=bfloat16),
                 lambda: gg.randn(2, dtype=bfloat16),
                 lambda: gg.ones(2).to(bfloat16),
                 lambda: nn.Linear(2, 2).to(bfloat16),
                 lambda: np.dtype(bfloat16)):
        with pytest.raises(TypeError, match=message):
            make()


# ---------------------------------------------------------------- inference_mode
def test_inference_mode_as_context_and_decorator():
    x = gg.ones(2, requires_grad=True)
    with inference_mode() as entered:
        y = x * 2
        assert not gg.is_grad_enabled()
    assert entered is None and not y.requires_grad and gg.is_grad_enabled()
    with gg.no_grad(), inference_mode(False):
        assert gg.is_grad_enabled() and (x * 2).requires_grad  # as PyTorch's mode=False
    assert gg.is_grad_enabled()

    @inference_mode
    def bare():
        return (x * 2).requires_grad

    @inference_mode()
    def called():
        return (x * 2).requires_grad

    assert bare() is False and called() is False and gg.is_grad_enabled()
    with pytest.raises(KeyError):
        with inference_mode():
            raise KeyError("inside")
    assert gg.is_grad_enabled()


def test_inference_mode_wraps_generator_functions():
    x = gg.ones(2, requires_grad=True)

    @inference_mode()
    def batches():
        received = yield (x * 2).requires_grad
        try:
            yield received, gg.is_grad_enabled()
        except ValueError as error:
            yield f"caught {error}", gg.is_grad_enabled()
        return "done"

    gen = batches()
    assert gg.is_grad_enabled()  # creating the generator changes nothing
    assert next(gen) is False
    assert gg.is_grad_enabled()  # the caller's code between resumptions records
    assert gen.send("hello") == ("hello", False)
    assert gen.throw(ValueError("boom")) == ("caught boom", False)
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done" and gg.is_grad_enabled()
    assert list(batches()) == [False, (None, False)]
    early = batches()
    next(early)
    early.close()
    assert gg.is_grad_enabled()


def test_inference_mode_equals_torch_grad_state():
    torch = pytest.importorskip("torch")
    for mode in (True, False):
        with torch.no_grad(), torch.inference_mode(mode):
            expected = torch.is_grad_enabled()
        with gg.no_grad(), inference_mode(mode):
            assert gg.is_grad_enabled() == expected
