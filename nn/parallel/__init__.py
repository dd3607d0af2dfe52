"""``nn.parallel``, as ``torch.nn.parallel`` on a machine without GPUs or a process group.

``DataParallel`` runs the wrapped module directly, as PyTorch's does when no GPU is
present; ``DistributedDataParallel`` cannot be built (graphgrad runs in one process).
"""
from .data_parallel import DataParallel
from .distributed import DistributedDataParallel
