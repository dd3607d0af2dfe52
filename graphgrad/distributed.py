"""``graphgrad.distributed``, as ``torch.distributed`` where no distributed backend exists.

graphgrad runs in one process: it has no process groups and no collective communication
(no NCCL, Gloo or MPI).  ``is_available()``, ``is_initialized()`` and the per-backend
``is_nccl_available()`` / ``is_gloo_available()`` / ``is_mpi_available()`` are False; they are
the guards that PyTorch scripts put around distributed code, e.g.

    import graphgrad.distributed as dist
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0

Every other function (``init_process_group``, ``get_rank``, ``get_world_size``,
``barrier``, ``all_reduce``, ...) raises a RuntimeError saying so, rather than pretending
to be rank 0 of a world of one: a script that reaches them unguarded meant to run
distributed, and silently training alone would hide that.  Any other ``torch.distributed``
name raises AttributeError with the same explanation.
"""
from __future__ import annotations


def _no_backend(where: str) -> RuntimeError:
    return RuntimeError(
        f"{where}: graphgrad runs in one process and has no distributed backend (no process "
        "groups, no collectives); guard distributed code with "
        "graphgrad.distributed.is_available(), which is False")


def is_available() -> bool:
    """False: graphgrad has no distributed backend."""
    return False


def is_initialized() -> bool:
    """False: no process group can exist."""
    return False


def is_nccl_available() -> bool:
    """False: graphgrad has no NCCL backend."""
    return False


def is_gloo_available() -> bool:
    """False: graphgrad has no Gloo backend."""
    return False


def is_mpi_available() -> bool:
    """False: graphgrad has no MPI backend."""
    return False


def _unsupported(name: str):
    def refuse(*args, **kwargs):
        raise _no_backend(f"graphgrad.distributed.{name}")

    refuse.__name__ = refuse.__qualname__ = name
    refuse.__doc__ = f"Raises RuntimeError: graphgrad has no distributed backend ({name})."
    return refuse


init_process_group = _unsupported("init_process_group")
destroy_process_group = _unsupported("destroy_process_group")
new_group = _unsupported("new_group")
get_rank = _unsupported("get_rank")
get_world_size = _unsupported("get_world_size")
get_backend = _unsupported("get_backend")
barrier = _unsupported("barrier")
all_reduce = _unsupported("all_reduce")
all_gather = _unsupported("all_gather")
all_gather_object = _unsupported("all_gather_object")
broadcast = _unsupported("broadcast")
broadcast_object_list = _unsupported("broadcast_object_list")
reduce = _unsupported("reduce")
reduce_scatter = _unsupported("reduce_scatter")
gather = _unsupported("gather")
scatter = _unsupported("scatter")
send = _unsupported("send")
recv = _unsupported("recv")


def __getattr__(name: str):
    # Names such as ReduceOp or all_to_all: say why they are missing, not just that they are.
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"module 'graphgrad.distributed' has no attribute {name!r}: graphgrad "
                         "runs in one process and has no distributed backend")
