"""graphgrad's engine: a reverse-mode Tensor on NumPy, its primitive ops and backward.

Users import it through the torch-shaped root, which re-exports every public name
here (``__all__`` below)::

    import graphgrad as gg
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2 * x
"""
from types import ModuleType as _ModuleType

import numpy as _np

from . import ops as _ops  # noqa: F401  (attaches the operations to Tensor)
from . import pinning as _pinning  # noqa: F401  (attaches pin_memory and is_pinned)
from ._numpy_warnings import ignore_float_warnings as _ignore_float_warnings
from .anomaly import detect_anomaly, set_detect_anomaly
from .creation import (
    arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
    ones_like, tensor, zeros, zeros_like,
)
from .devices import device
from .engine import backward, grad
from .function import Function, FunctionCtx
from . import functional  # jacobian, hessian, vjp, jvp, hvp, vhp (torch.autograd.functional)
from . import linalg  # graphgrad.linalg (torch.linalg)
from .matrix_functions import (
    cholesky, cholesky_inverse, cholesky_solve, det, inverse, logdet, matrix_exp, matrix_power,
    pinverse, qr, slogdet, svd,
)
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ops.conversion import narrow
from .ops.diagonal import diag, diag_embed, diagonal, trace
from .ops.elementwise import (
    abs, add, astype, clamp, clamped_log, clip, clone, cos, div, eq, erf, exp, ge, gelu, gt,
    isfinite, isnan, le, leaky_relu, log, logical_and, logical_not, logical_or, logical_xor, lt,
    maximum, minimum, mul, ne, neg, pow, relu, rsqrt, sigmoid, sign, sin, sqrt, square, sub, tanh,
    where,
)
from .ops.blas import (
    addbmm, addmm, addmv, addr, baddbmm, cartesian_prod, cross, kron, meshgrid, tensordot,
)
from .ops.binary import (
    addcdiv, addcmul, arctan2, atan2, float_power, hypot, lerp, logaddexp, logaddexp2,
    true_divide, xlogy,
)
from .ops.pointwise import (
    acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctanh, asin, asinh, atan, atanh,
    ceil, cosh, exp2, expm1, fix, floor, frac, heaviside, log1p, log2, log10, reciprocal, round,
    sgn, signbit, sinc, sinh, tan, trunc,
)
from .ops.special import digamma, erfc, erfinv, lgamma, polygamma
from .ops.index import gather, getitem, index_select, masked_fill, take_along_dim
from .ops.counting import (
    argwhere, bincount, bucketize, count_nonzero, histc, nonzero, searchsorted, unique,
    unique_consecutive,
)
from .ops.linalg import bmm, dot, einsum, linear, matmul, mm, outer
from .ops.reduce import (
    amax, amin, argmax, argmin, logsumexp, log_softmax, max, mean, min, prod, softmax, std, sum,
    var,
)
from .ops.shape import (
    broadcast_to, cat, chunk, concatenate, expand, flatten, flip, permute, reshape, split,
    squeeze, stack, swapaxes, transpose, unbind, unsqueeze, view,
)
from .ops.movement import (
    fliplr, flipud, moveaxis, movedim, repeat_interleave, rot90, select, unflatten,
)
from .ops.padding import pad
from .ops.rearrange import roll, tile, tril, triu
from .ops.remainder import floor_divide, fmod, remainder
from .ops.scan import cummax, cummin, cumprod, cumsum, logcumsumexp
from .ops.scatter import (
    index_add, index_copy, index_fill, index_put, masked_scatter, masked_select, put, scatter,
    scatter_add, scatter_reduce, take,
)
from .ops.order_stats import (
    aminmax, kthvalue, median, mode, nanmedian, nanquantile, quantile,
)
from .ops.sort import argsort, msort, sort, topk
from .ops.statistics import cdist, dist, nanmean, nansum, norm, std_mean, var_mean
from .ops.truth import all, allclose, any, equal, isclose
from .random import (
    Generator, bernoulli, get_rng_state, initial_seed, manual_seed, multinomial, normal, rand,
    rand_like, randint, randint_like, randn, randn_like, randperm, seed, set_rng_state,
)
from .tensor import Size, Tensor, get_default_dtype, is_tensor, numel, set_default_dtype

float32 = _np.float32
float64 = _np.float64
float16 = _np.float16
int64 = _np.int64
int32 = _np.int32
int8 = _np.int8
uint8 = _np.uint8
bool_ = _np.bool_
long = int64
double = float64
float = float32
bool = _np.bool_
pi, e, inf, nan = _np.pi, _np.e, _np.inf, _np.nan

_ignore_float_warnings()  # ops on inf, nan and zero are silent, as PyTorch's

# What ``graphgrad`` re-exports: every public name above except the submodules.
__all__ = [name for name, value in globals().items()
           if not name.startswith("_") and not isinstance(value, _ModuleType)]

# A process setting of the engine, not part of the tensor API: not re-exported.
from ._memory import keep_freed_memory  # noqa: E402
