"""``map_location``: where ``load`` puts the tensors it reads, in each of PyTorch's forms."""
from __future__ import annotations

from graphgrad.autograd.arrays import to_device
from graphgrad.autograd.devices import check_device, device
from graphgrad.autograd.tensor import Tensor


class Placement:
    """``map_location`` as PyTorch reads it, for tensors saved at a location such as
    ``"cpu"`` or ``"cuda:0"`` (graphgrad's own files say ``"cpu"`` for every tensor):

    - None: each tensor goes where it was saved, so a location no backend serves raises;
    - a str or ``gg.device``: everything goes there (checked once, now);
    - a dict: a saved location found among its keys goes to the value, others stay;
    - a callable ``fn(tensor, location)``, given the tensor read on the CPU: its result
      is the Tensor to use, or None to put the tensor where it was saved.
    """

    def __init__(self, map_location) -> None:
        self.table = self.call = self.fixed = None
        if map_location is None:
            return
        if isinstance(map_location, (str, device)):
            self.fixed = check_device("load", map_location)
        elif isinstance(map_location, dict):
            self.table = map_location
        elif callable(map_location):
            self.call = map_location
        else:
            raise TypeError("load: map_location must be None, a str, a gg.device, a dict or a "
                            f"callable, got {type(map_location).__name__}")

    def check(self, location: str) -> None:
        """Raise if tensors saved at ``location`` would go to a device graphgrad lacks."""
        if self.call is None:  # a callable decides tensor by tensor
            self._target(location)

    def _target(self, location: str) -> device:
        """The (checked) device that tensors saved at ``location`` go to."""
        if self.fixed is not None:
            return self.fixed
        return check_device("load", location if self.table is None
                            else self.table.get(location, location))

    def apply(self, t: Tensor, location: str) -> Tensor:
        """The Tensor to hand back for ``t`` (read on the CPU), saved at ``location``."""
        if self.call is not None:
            out = self.call(t, location)
            if out is not None:
                if not isinstance(out, Tensor):
                    raise TypeError(f"load: map_location returned a {type(out).__name__}, "
                                    "expected a Tensor or None")
                return out
        where = self._target(location) if self.call is None else check_device("load", location)
        if where.type != "cpu":
            t._data = to_device(t._data, where, "load")
        return t
