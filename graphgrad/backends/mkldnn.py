"""``graphgrad.backends.mkldnn``, as ``torch.backends.mkldnn``: graphgrad does not use oneDNN.

``enabled`` is a plain attribute (PyTorch's default, True) that scripts may set without
effect; graphgrad's kernels are NumPy's (whose BLAS ``graphgrad.set_num_threads`` sets).
"""
from __future__ import annotations

enabled = True


def is_available() -> bool:
    """False: graphgrad has no oneDNN (mkldnn) kernels."""
    return False
