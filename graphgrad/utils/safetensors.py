"""safetensors files, as the ``safetensors`` package's PyTorch API (``safetensors.torch``)
reads and writes them, with graphgrad Tensors: ``save_file(tensors, filename,
metadata=None)``, ``load_file(filename, device="cpu")``, ``save(tensors,
metadata=None) -> bytes``, ``load(data)`` and ``safe_open(filename, framework="pt")``
(``keys()``, ``metadata()``, ``get_tensor(name)``).

``gg.save(state_dict, "w.safetensors")`` and ``gg.load("w.safetensors")`` do the same
by the file's suffix.  Needs the optional extra: ``pip install 'graphgrad[safetensors]'``.
What is read and written, and what is refused, is described in
``graphgrad.serialization._safetensors``.
"""
from graphgrad.serialization._safetensors import load, load_file, safe_open, save, save_file

__all__ = ["load", "load_file", "safe_open", "save", "save_file"]
