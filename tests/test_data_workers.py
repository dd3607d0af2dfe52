"""DataLoader worker processes: the same batches as without workers, worker_init_fn and
get_worker_info, per-worker seeds, iterable datasets split by worker, prefetch bounds,
persistent workers, errors from workers, timeouts, and no process left behind."""
import gc
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.utils.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    TensorDataset,
    get_worker_info,
)
from graphgrad.utils.data import _multiprocessing as loader_processes


def rows(n=23):
    return TensorDataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n))


def alive(pids) -> list:
    """The pids that are still running processes (not exited, not zombies)."""
    running = []
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(") ")[1][0] != "Z":
            running.append(pid)
    return running


@pytest.fixture(autouse=True)
def no_workers_left_behind():
    yield
    gc.collect()
    assert multiprocessing.active_children() == []


class WhoLoads(Dataset):
    """Each sample says which process loaded it, with what worker info."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "pid": os.getpid(), "id": info.id, "num_workers": info.num_workers,
                "seed": info.seed, "tag": getattr(info.dataset, "tag", ""),
                "draw": float(gg.rand(1).item()), "np_draw": float(np.random.rand())}


@pytest.mark.parametrize("common, workers_only", [
    (dict(batch_size=4, shuffle=True), {}),
    (dict(batch_size=5, shuffle=True, drop_last=True), {}),
    (dict(batch_size=None, shuffle=True), {}),
    (dict(batch_size=3), dict(persistent_workers=True)),
    (dict(batch_size=2, shuffle=True), dict(prefetch_factor=1, persistent_workers=True)),
])
def test_workers_give_the_batches_of_no_workers(common, workers_only):
    def run(**kwargs):
        gg.manual_seed(11)
        loader = DataLoader(rows(), **common, **kwargs)
        epochs = [[[np.asarray(t).tolist() for t in b] for b in loader] for _ in range(2)]
        return epochs, gg.get_rng_state()

    without, state = run()
    with_workers, state_with = run(num_workers=2, **workers_only)
    assert with_workers == without
    assert state_with == state  # the project generator advanced the same way
    assert (without[0] != without[1]) == common.get("shuffle", False)


def test_worker_info_init_fn_and_seeds():
    def init(worker_id):
        get_worker_info().dataset.tag = f"init {worker_id}"

    gg.manual_seed(0)
    loader = DataLoader(WhoLoads(), batch_size=2, num_workers=2, worker_init_fn=init)
    samples = [b for b in loader]
    assert [s["i"].tolist() for s in samples] == [[2 * k, 2 * k + 1] for k in range(6)]
    for k, s in enumerate(samples):  # batch k from worker k % 2
        assert s["id"].tolist() == [k % 2] * 2 and s["num_workers"].tolist() == [2, 2]
        assert s["tag"] == [f"init {k % 2}"] * 2
    pids = {s["pid"][0].item() for s in samples}
    assert len(pids) == 2 and os.getpid() not in pids
    seeds = {s["id"][0].item(): s["seed"][0].item() for s in samples}
    assert seeds[1] == seeds[0] + 1  # base seed + worker id
    draws = [d for s in samples for d in s["draw"].tolist() + s["np_draw"].tolist()]
    assert len(set(draws)) == len(draws)  # each worker has its own random streams
    assert get_worker_info() is None

    gg.manual_seed(0)
    again = list(DataLoader(WhoLoads(), batch_size=2, num_workers=2, worker_init_fn=init))
    assert [s["draw"].tolist() for s in again] == [s["draw"].tolist() for s in samples]


class Counting(IterableDataset):
    """range(n), each worker taking every num_workers-th item when ``split``."""

    def __init__(self, n, split=True):
        self.n, self.split = n, split

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.split:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_with_workers():
    split = [b.tolist() for b in DataLoader(Counting(11), batch_size=2, num_workers=2)]
    # Worker 0 has 0 2 4 6 8 10, worker 1 has 1 3 5 7 9; their batches alternate.
    assert split == [[0, 2], [1, 3], [4, 6], [5, 7], [8, 10], [9]]
    copies = [b.tolist() for b in DataLoader(Counting(3, split=False), batch_size=2,
                                             num_workers=2)]
    assert copies == [[0, 1], [0, 1], [2], [2]]  # each worker iterates its own copy
    dropped = [b.tolist() for b in DataLoader(Counting(11), batch_size=2, num_workers=2,
                                              drop_last=True)]
    assert dropped == [[0, 2], [1, 3], [4, 6], [5, 7], [8, 10]]
    single = list(DataLoader(Counting(5), batch_size=None, num_workers=2))
    assert single == [0, 1, 2, 3, 4]


@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes")
def test_iterable_dataset_with_workers_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader as TorchLoader
    from torch.utils.data import IterableDataset as TorchIterable
    from torch.utils.data import get_worker_info as torch_worker_info

    class TorchCounting(TorchIterable):
        def __iter__(self):
            info = torch_worker_info()
            return iter(range(info.id, 13, info.num_workers))

    for size in (2, 3):
        theirs = [b.tolist() for b in TorchLoader(TorchCounting(), batch_size=size,
                                                  num_workers=3)]
        ours = [b.tolist() for b in DataLoader(Counting(13), batch_size=size, num_workers=3)]
        assert ours == theirs
    del torch


def test_persistent_workers_live_across_epochs_and_go_with_the_loader():
    loader = DataLoader(WhoLoads(), batch_size=3, num_workers=2, persistent_workers=True)
    first = {p for b in loader for p in b["pid"].tolist()}
    it = iter(loader)
    next(it)  # leave an epoch half-read: the next one must not see its batches
    second = [b["i"].tolist() for b in loader]
    assert second == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    third = {p for b in loader for p in b["pid"].tolist()}
    assert first == third and len(first) == 2 and set(alive(first)) == first
    del loader, it
    gc.collect()
    assert alive(first) == []


def test_breaking_out_early_leaves_no_process():
    loader = DataLoader(WhoLoads(), batch_size=2, num_workers=2)
    for batch in loader:
        pids = batch["pid"].tolist()
        break
    assert alive(pids) == [] and multiprocessing.active_children() == []
    it = iter(loader)
    pids = next(it)["pid"].tolist()
    del it  # an abandoned iterator stops its workers when collected
    assert alive(pids) == []


def test_prefetch_factor_bounds_the_batches_in_flight():
    loaded = multiprocessing.get_context("fork").Value("i", 0)

    class Tally(Dataset):
        def __len__(self):
            return 20

        def __getitem__(self, i):
            with loaded.get_lock():
                loaded.value += 1
            return i

    it = iter(DataLoader(Tally(), batch_size=1, num_workers=2, prefetch_factor=1))
    assert next(it).tolist() == [0]
    time.sleep(0.3)  # time enough for the workers to run far ahead, were they allowed to
    assert loaded.value <= 3  # the one handed out and 1 * 2 in flight
    assert [b.item() for b in it] == list(range(1, 20))


class Broken(Dataset):
    def __init__(self, error):
        self.error = error

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 7:
            raise self.error
        return i


def test_worker_error_names_the_worker_and_the_index():
    loader = DataLoader(Broken(ValueError("bad sample")), batch_size=2, num_workers=2)
    it = iter(loader)
    assert [next(it).tolist() for _ in range(3)] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ValueError, match=r"(?s)in DataLoader worker process 1.*ValueError: "
                                         r"bad sample \(while loading index 7 of Broken\)"):
        next(it)
    assert next(it).tolist() == [8, 9]  # the loader goes on, as PyTorch's
    with pytest.raises(KeyError, match=r"(?s)worker process 1.*index 7") as info:
        list(DataLoader(Broken(KeyError("gone")), batch_size=2, num_workers=2))
    assert "\\n" not in str(info.value)  # a KeyError's message stays readable

    class Local(Exception):  # a local class: its instances cannot be pickled
        pass

    with pytest.raises(RuntimeError, match=r"(?s)^Caught Local in DataLoader worker process 1"
                                           r".*Local: xy \(while loading index 7"):
        list(DataLoader(Broken(Local("xy")), batch_size=2, num_workers=2))


def test_exception_cycles_do_not_keep_workers_waiting():
    """An iterator kept in a reference cycle (here through a stored exception) is shut down
    by the garbage collector, which may have stopped its queues' threads first."""
    loader = DataLoader(Broken(ValueError("bad")), batch_size=2, num_workers=2)
    try:
        list(loader)
    except ValueError as err:
        kept = [err]
        kept.append(kept)  # a cycle through the exception and its traceback
    del kept
    start = time.perf_counter()
    gc.collect()
    assert multiprocessing.active_children() == []
    assert time.perf_counter() - start < 2  # not the 5 s wait for a worker that never hears


def test_unpicklable_batch_and_init_errors_come_back():
    with pytest.raises(Exception, match=r"(?s)worker process 0.*pickle"):
        next(iter(DataLoader(rows(), batch_size=2, num_workers=2,
                             collate_fn=lambda samples: lambda: samples)))

    def init(worker_id):
        raise OSError(f"no setup for worker {worker_id}")

    with pytest.raises(OSError, match="no setup for worker 0"):
        list(DataLoader(rows(), batch_size=2, num_workers=2, worker_init_fn=init))


def test_timeout_and_a_dead_worker(monkeypatch):
    class Slow(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            time.sleep(0.6)
            return i

    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.1 seconds"):
        next(iter(DataLoader(Slow(), num_workers=1, timeout=0.1)))

    class Dies(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            os._exit(3)

    monkeypatch.setattr(loader_processes, "_CHECK_S", 0.1)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           "unexpectedly"):
        list(DataLoader(Dies(), num_workers=1))


def test_persistent_workers_are_replaced_after_one_dies(monkeypatch):
    monkeypatch.setattr(loader_processes, "_CHECK_S", 0.1)
    loader = DataLoader(WhoLoads(), batch_size=4, num_workers=2, persistent_workers=True)
    pids = {p for b in loader for p in b["pid"].tolist()}
    os.kill(min(pids), signal.SIGKILL)
    with pytest.raises(RuntimeError, match=f"pid\\(s\\) {min(pids)}\\) exited unexpectedly"):
        list(loader)
    assert list(iter(loader._iterator)) == []  # a shut-down iterator has nothing more
    fresh = [b for b in loader]  # new workers
    assert [b["i"].tolist() for b in fresh] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert not pids & {p for b in fresh for p in b["pid"].tolist()}
    del loader


def test_resume_mid_epoch_with_workers():
    def make():
        return DataLoader(rows(), batch_size=4, shuffle=True, num_workers=2)

    gg.manual_seed(5)
    full = [y.tolist() for _, y in make()]
    gg.manual_seed(5)
    loader = make()
    it = iter(loader)
    seen = [next(it)[1].tolist() for _ in range(3)]
    state = loader.state_dict()
    assert state["position"] == 3  # batches handed out, not those prefetched
    del it
    other = make()
    other.load_state_dict(state)
    assert seen + [y.tolist() for _, y in other] == full


def test_spawn_context():
    loader = DataLoader(rows(8), batch_size=3, num_workers=2, multiprocessing_context="spawn")
    assert [y.tolist() for _, y in loader] == [[0, 1, 2], [3, 4, 5], [6, 7]]


def test_too_many_workers_warns():
    with pytest.warns(UserWarning, match="worker processes"):
        DataLoader(rows(), num_workers=(os.cpu_count() or 1) + 64)
