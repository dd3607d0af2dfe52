"""The main process side of multi-process loading: start workers, hand them index
batches, and give the batches back in the sampler's order.

Task k (the k-th batch of the epoch) goes to the next worker in turn that still has data,
so worker w loads batches w, w + n, w + 2n, ... while all n are busy.  At most
``prefetch_factor * num_workers`` tasks are in flight; results that arrive early wait in
a buffer until every earlier batch has been handed out.  Workers stop when the epoch
ends (or, with ``persistent_workers``, when the iterator is garbage collected), when the
loop is left early and the iterator collected, or when a worker dies.
"""
from __future__ import annotations

import itertools
import multiprocessing
import queue

from ._pin import pin_batch
from ._worker import IterableEnd, NewEpoch, WorkerError, unpack, worker_loop

_CHECK_S = 5.0  # how long to wait for a result before checking the workers are alive
_JOIN_S = 5.0  # how long a worker may take to finish its current batch at shutdown


def default_context():
    """fork where the platform has it (fast, and lambdas and local classes need no
    pickling), else the platform's default start method."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


class MultiProcessIter:
    """Iterates one epoch (or, with persistent workers, one epoch after another through
    ``reset``) over batches loaded by ``loader.num_workers`` worker processes."""

    def __init__(self, loader, epoch, base_seed: int) -> None:
        self._persistent = loader.persistent_workers
        self._timeout = loader.timeout
        self._length = loader._length_fn()
        self._pin, self._pin_device = loader._pin, loader.pin_memory_device
        n = self._num_workers = loader.num_workers
        self._max_in_flight = loader.prefetch_factor * n
        ctx = loader.multiprocessing_context or default_context()
        self._result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        self._index_queues, self._workers = [], []
        self._shut = False  # from here on, __del__ stops whatever workers were started
        for worker_id in range(n):
            index_queue = ctx.Queue()
            # Queued indices are worthless if the main process exits: never wait on them.
            index_queue.cancel_join_thread()
            worker = ctx.Process(target=worker_loop, daemon=True, args=(
                loader._is_iterable, loader.dataset, index_queue, self._result_queue,
                self._done_event, loader._auto_collation, loader.collate_fn,
                loader.drop_last, base_seed + worker_id, loader.worker_init_fn,
                worker_id, n))
            worker.start()
            self._index_queues.append(index_queue)
            self._workers.append(worker)
        self._start_epoch(epoch)

    def _start_epoch(self, epoch) -> None:
        self._epoch = epoch
        self._indices = epoch.indices()
        self._active = [True] * self._num_workers  # False once an iterable copy ran dry
        self._turn = itertools.cycle(range(self._num_workers))
        self._sent = self._next = 0  # tasks sent; the task whose batch is due next
        self._worker_of: dict[int, int] = {}  # task -> worker, until handed out or skipped
        self._buffer: dict = {}  # results that arrived before their turn
        self._refill()

    def reset(self, epoch) -> None:
        """Start the next epoch on the same (persistent) workers, after discarding the
        results of the previous epoch that are still on their way."""
        for index_queue in self._index_queues:
            index_queue.put(NewEpoch())
        echoed = 0
        while echoed < self._num_workers:
            echoed += isinstance(self._receive()[1], NewEpoch)
        self._start_epoch(epoch)

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return self._length()

    def _in_flight(self) -> int:
        """Tasks sent and not yet handed out, except those that will bring no batch."""
        return sum(1 for task, w in self._worker_of.items()
                   if self._active[w] or task in self._buffer)

    def _refill(self) -> None:
        """Send index batches to the workers in turn (skipping those that ran dry) until
        ``prefetch_factor * num_workers`` are in flight or the sampler is exhausted."""
        while self._in_flight() < self._max_in_flight and any(self._active):
            index = next(self._indices, StopIteration)
            if index is StopIteration:
                return
            worker = next(w for w in self._turn if self._active[w])
            self._index_queues[worker].put((self._sent, index))
            self._worker_of[self._sent] = worker
            self._sent += 1

    def _receive(self):
        """The next ``(task, data)`` any worker sends; raises if a worker died or (with a
        ``timeout``) nothing came in time."""
        wait = self._timeout if self._timeout > 0 else _CHECK_S
        while True:
            try:
                return unpack(self._result_queue.get(timeout=wait))
            except queue.Empty:
                dead = [str(w.pid) for w in self._workers if not w.is_alive()]
                if dead:
                    self._shutdown()
                    raise RuntimeError(f"DataLoader worker (pid(s) {', '.join(dead)}) exited "
                                       "unexpectedly") from None
                if self._timeout > 0:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} "
                                       "seconds") from None

    @property
    def running(self) -> bool:
        """Whether the workers are up (False once shut down, e.g. after one died)."""
        return not self._shut

    def __next__(self):
        if self._shut:
            raise StopIteration
        while True:
            # A task sent to a worker that has since run dry will bring no batch: skip it.
            while self._next < self._sent and self._next not in self._buffer \
                    and not self._active[self._worker_of[self._next]]:
                del self._worker_of[self._next]
                self._next += 1
            self._refill()
            if self._next == self._sent:  # nothing left in flight: the epoch is over
                self._epoch.finish()
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            if self._next in self._buffer:
                data = self._buffer.pop(self._next)
                del self._worker_of[self._next]
                self._next += 1
                self._refill()  # keep the workers busy while the caller uses this batch
                self._epoch.advance()
                if isinstance(data, WorkerError):
                    data.reraise()
                return pin_batch(data, self._pin_device) if self._pin else data
            task, data = self._receive()
            if isinstance(data, IterableEnd):
                self._active[data.worker_id] = False
            else:
                self._buffer[task] = data

    def _shutdown(self) -> None:
        """Stop the workers: ask each to exit, wait a little, terminate the stragglers."""
        if getattr(self, "_shut", True):
            return
        self._shut = True
        self._done_event.set()
        for worker, index_queue in zip(self._workers, self._index_queues, strict=True):
            if worker.is_alive():
                index_queue.put(None)
        for worker in self._workers:
            worker.join(_JOIN_S)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for q in (*self._index_queues, self._result_queue):
            q.close()

    def __del__(self) -> None:
        self._shutdown()
