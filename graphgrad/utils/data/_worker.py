"""The worker process side of multi-process loading.

Each worker waits on its own index queue for tasks ``(task_id, index)``, fetches that
batch from its copy of the dataset and puts ``(task_id, batch)`` on the result queue
shared by all workers.  What it sends back is pickled in the worker, so a batch that
cannot be pickled comes back as an error instead of being lost.  ``None`` on the index
queue (or the shutdown event) ends the worker; a ``NewEpoch`` marker restarts an iterable
dataset (persistent workers) and is echoed back so the main process knows all older
results are in.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import queue
import random
import traceback

import numpy as np

from graphgrad.autograd import random as gg_random

from ._fetch import IterableFetcher, MapFetcher

# How often an idle worker checks the shutdown event and that its parent is alive.  The
# event matters when the None sent at shutdown is lost: when the loader's iterator is
# collected as part of a reference cycle, the garbage collector may finalize its queues
# (stopping their feeder threads) before the iterator's __del__ sends the None.
_POLL_S = 0.1
_WORKER_INFO: list = [None]  # set in worker processes only


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: its ``id`` in
    ``range(num_workers)``, the ``seed`` its random sources were set to (the loader's
    base seed + id) and its copy of the ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info() -> WorkerInfo | None:
    """The ``WorkerInfo`` of the DataLoader worker process calling it; None in the main
    process.  An ``IterableDataset`` uses it to give each worker its own share of the
    stream."""
    return _WORKER_INFO[0]


@dataclasses.dataclass(frozen=True)
class IterableEnd:
    """A worker's answer to a task once its copy of an iterable dataset is exhausted."""

    worker_id: int


class NewEpoch:
    """Sent to persistent workers between epochs; each echoes it once it has it."""


class _KeyErrorMessage(str):
    """A KeyError's str() is the repr of its argument; this keeps a traceback readable."""

    def __repr__(self) -> str:
        return str(self)


class WorkerError:
    """An exception raised in a worker, carried to the main process (the exception object
    itself may not survive pickling; its type and formatted traceback do)."""

    def __init__(self, worker_id: int, err: BaseException) -> None:
        self.exc_type = type(err)
        self.message = (f"Caught {type(err).__name__} in DataLoader worker process "
                        f"{worker_id}.\nOriginal "
                        + "".join(traceback.format_exception(err)))

    def reraise(self):
        message = _KeyErrorMessage(self.message) if self.exc_type is KeyError else self.message
        try:
            err = self.exc_type(message)
        except Exception:
            err = RuntimeError(message)
        try:
            raise err
        finally:
            del err  # the frame would hold the exception that holds the frame: a cycle


def _pack(worker_id: int, task_id, data) -> bytes:
    """Pickle a result; an unpicklable one becomes a WorkerError saying why."""
    try:
        return pickle.dumps((task_id, data), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:
        if isinstance(data, WorkerError):  # its exception type is what would not pickle
            data.exc_type = RuntimeError
        else:
            data = WorkerError(worker_id, err)
        return pickle.dumps((task_id, data), protocol=pickle.HIGHEST_PROTOCOL)


def unpack(payload: bytes):
    """``(task_id, data)`` from what a worker put on the result queue."""
    return pickle.loads(payload)


def _seed_everything(seed: int) -> None:
    """Give the worker its own random streams (a forked worker inherits the parent's)."""
    gg_random.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def worker_loop(iterable: bool, dataset, index_queue, result_queue, done_event,
                auto_collation: bool, collate_fn, drop_last: bool, seed: int,
                init_fn, worker_id: int, num_workers: int) -> None:
    """Serve tasks from ``index_queue`` until ``None`` arrives, ``done_event`` is set or the
    parent dies."""
    parent = os.getppid()
    try:
        _seed_everything(seed)
        _WORKER_INFO[0] = WorkerInfo(worker_id, num_workers, seed, dataset)
        make_fetcher = IterableFetcher if iterable else MapFetcher

        def fresh():
            return make_fetcher(dataset, auto_collation, collate_fn, drop_last)

        init_error = None
        if init_fn is not None:
            try:
                init_fn(worker_id)
            except Exception as err:
                init_error = WorkerError(worker_id, err)
        fetcher, ended = fresh(), False
        while not done_event.is_set():
            try:
                task = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                if os.getppid() != parent:
                    break
                continue
            if task is None:
                break
            if isinstance(task, NewEpoch):
                fetcher, ended = fresh(), False
                result_queue.put(_pack(worker_id, None, task))
                continue
            task_id, index = task
            if init_error is not None:
                data = init_error
            elif ended:
                data = IterableEnd(worker_id)
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    ended, data = True, IterableEnd(worker_id)
                except Exception as err:
                    data = WorkerError(worker_id, err)
            result_queue.put(_pack(worker_id, task_id, data))
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group; the main process handles it
    # Results not yet flushed are of no use once the main process stops asking: do not
    # let the queue's feeder thread keep this process alive waiting for a reader.
    result_queue.cancel_join_thread()
