"""``graphgrad.onnx``, as ``torch.onnx``: graphgrad cannot export ONNX.

An ONNX export needs the model as a static graph of standard operators.  PyTorch gets one
by tracing or compiling the model; graphgrad records only a backward graph of its own
NumPy primitives, on the fly, with no traced or serialisable program format to translate.
``export`` therefore raises NotImplementedError; save the weights with
``graphgrad.save(model.state_dict(), path)`` instead (they load unchanged into the same
architecture in graphgrad or PyTorch).  ``is_in_onnx_export()`` is False, so modules that
branch on it take their ordinary path.
"""
from __future__ import annotations


def export(model, args=(), f=None, *more, **kwargs) -> None:
    """Raises NotImplementedError: graphgrad has no ONNX export (see the module docstring)."""
    raise NotImplementedError(
        "graphgrad.onnx.export: ONNX export is not supported by graphgrad: it records no "
        "traced graph of the model that could be written as ONNX; save the weights with "
        "graphgrad.save(model.state_dict(), path) instead")


def is_in_onnx_export() -> bool:
    """False: graphgrad never exports."""
    return False
