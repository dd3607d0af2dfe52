"""``graphgrad.backends``, as ``torch.backends``: flags of libraries graphgrad does not use.

PyTorch scripts set switches such as ``torch.backends.cudnn.benchmark = True`` or
``torch.backends.cuda.matmul.allow_tf32 = True``.  graphgrad computes with NumPy on the
CPU, through neither cuDNN, cuBLAS, MPS nor oneDNN (mkldnn), so these are plain
attributes that scripts may read and set and that change nothing; each library's
``is_available()`` is False.

    import graphgrad.backends.cudnn as cudnn
    cudnn.benchmark = True          # accepted; no effect in graphgrad
"""
from . import cuda, cudnn, mkldnn, mps
