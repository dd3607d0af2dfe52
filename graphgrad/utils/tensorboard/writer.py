"""``SummaryWriter``: TensorBoard event files through the ``tensorboardX`` library.

graphgrad does not write the event format itself: the maintained ``tensorboardX``
package does (an optional extra, ``pip install graphgrad[tensorboard]``).  This class
has PyTorch's constructor and methods, turns graphgrad Tensors into NumPy arrays, and
hands everything to tensorboardX; TensorBoard reads the files as it reads PyTorch's.
``add_graph`` raises: graphgrad has no traced graph of a model to draw (use
``graphgrad.viz.draw_graph`` for the backward graph).
"""
from __future__ import annotations

from graphgrad.autograd import Tensor

try:
    from tensorboardX import SummaryWriter as _EventWriter
except ImportError as err:
    raise ImportError(
        "graphgrad.utils.tensorboard writes event files with the tensorboardX package, "
        "which is not installed: pip install graphgrad[tensorboard]") from err


def _numpy(value):
    """A Tensor's array (no copy, outside any graph); anything else unchanged."""
    return value._data if isinstance(value, Tensor) else value


class SummaryWriter:
    """Writes TensorBoard event files into ``log_dir`` (default ``runs/<date>_<host><comment>``).

    Arguments as ``torch.utils.tensorboard.SummaryWriter``: ``purge_step`` drops events at
    or after that step left by a crashed run, ``max_queue`` and ``flush_secs`` bound how
    much is buffered before writing, ``filename_suffix`` ends the event file's name.
    Importing this module raises ImportError, naming the extra to install, when
    tensorboardX is missing (as PyTorch's does without tensorboard, so the usual
    ``try: from ... import SummaryWriter / except ImportError`` guard works).
    """

    def __init__(self, log_dir: str | None = None, comment: str = "",
                 purge_step: int | None = None, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        self._writer = _EventWriter(logdir=log_dir, comment=comment, purge_step=purge_step,
                                    max_queue=max_queue, flush_secs=flush_secs,
                                    filename_suffix=filename_suffix)
        self.log_dir = self._writer.logdir

    def get_logdir(self) -> str:
        """The directory the event files are written to."""
        return self.log_dir

    def add_scalar(self, tag: str, scalar_value, global_step: int | None = None,
                   walltime: float | None = None) -> None:
        """Logs one number (a float or a one-element Tensor) under ``tag``."""
        self._writer.add_scalar(tag, _numpy(scalar_value), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step: int | None = None,
                    walltime: float | None = None) -> None:
        """Logs several numbers as one chart: ``{"train": 0.3, "val": 0.4}`` under
        ``main_tag`` (tensorboardX writes one run folder per key, as PyTorch does)."""
        values = {key: _numpy(value) for key, value in tag_scalar_dict.items()}
        self._writer.add_scalars(main_tag, values, global_step, walltime)

    def add_histogram(self, tag: str, values, global_step: int | None = None,
                      bins: str = "tensorflow", walltime: float | None = None,
                      max_bins: int | None = None) -> None:
        """Logs the distribution of ``values`` (Tensor or array), binned by ``bins``."""
        self._writer.add_histogram(tag, _numpy(values), global_step, bins, walltime, max_bins)

    def add_image(self, tag: str, img_tensor, global_step: int | None = None,
                  walltime: float | None = None, dataformats: str = "CHW") -> None:
        """Logs one image: floats in [0, 1] or uint8, laid out as ``dataformats``."""
        self._writer.add_image(tag, _numpy(img_tensor), global_step, walltime, dataformats)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        """Logs a string (rendered as Markdown by TensorBoard)."""
        self._writer.add_text(tag, text_string, global_step, walltime)

    def add_graph(self, model, input_to_model=None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        """Raises NotImplementedError: drawing a model needs a traced graph of it, which
        graphgrad does not make; ``graphgrad.viz.draw_graph`` draws the backward graph."""
        raise NotImplementedError(
            "SummaryWriter.add_graph: graphgrad cannot trace a model into the graph format "
            "TensorBoard draws; use graphgrad.viz.draw_graph(loss) for its backward graph")

    def flush(self) -> None:
        """Writes everything buffered to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flushes and closes the event files; the writer cannot be used afterwards."""
        self._writer.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
