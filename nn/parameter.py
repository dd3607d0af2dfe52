"""``Parameter``: a Tensor that a Module registers as one of its learnable weights."""
from __future__ import annotations

from graphgrad.autograd import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad and is registered when assigned to a Module.

    ``Parameter(data=None, requires_grad=True)`` copies ``data`` (a Tensor, array
    or nested list; an empty float32 tensor when None) and keeps its dtype.  Only
    floating point data can require grad.  Operations on a Parameter return plain
    Tensors.

        >>> w = nn.Parameter(np.zeros((2, 3)))
        >>> w.requires_grad, w.shape
        (True, (2, 3))
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        if data is None:
            data = Tensor([])
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
