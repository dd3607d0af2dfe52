"""``graphgrad.utils.tensorboard``, as ``torch.utils.tensorboard``: TensorBoard logging.

    from graphgrad.utils.tensorboard import SummaryWriter
    writer = SummaryWriter()                 # ./runs/<date>_<host>
    writer.add_scalar("loss", loss, step)    # Tensors are accepted wherever PyTorch takes them

Event files are written by the ``tensorboardX`` library, an optional extra:
``pip install graphgrad[tensorboard]``.
"""
from .writer import SummaryWriter
