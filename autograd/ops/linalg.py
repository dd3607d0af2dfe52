"""Matrix products: matmul in all its 1-D / 2-D / batched / broadcast forms, and einsum.

For C = A @ B: dA = G @ B^T and dB = A^T @ G, with batch dims summed back by the
engine where they were broadcast.  1-D operands are treated as NumPy does (a
vector is a row on the left and a column on the right, and that dim is dropped).
"""
from __future__ import annotations

import math
import operator
import string

import numpy as np

from .._shapes import broadcast_shapes, sum_to
from ..arrays import namespace
from ..grad_buffers import Product
from ..graph import apply
from ..tensor import Tensor, tensor_arg, unwrap
from ._args import binary_operands, method, reflected_method
from ._registry import Op
from .shape import EXPAND, not_a_view


def _transposed_layout(a) -> bool:
    """True for a 2-D operand stored transposed (``W.T`` of a C-ordered W, as in
    linear); False when it was not saved (a hint for the gradient's memory layout)."""
    data = unwrap(a)
    if data is None:
        return False
    return data.ndim == 2 and data.flags.f_contiguous and not data.flags.c_contiguous


def _matmul_dx(g, out, x, y):
    if y.ndim == 1:
        return g * y if x.ndim == 1 else g[..., None] * y
    if x.ndim == 1:
        return MATMUL(y, g[..., None])[..., 0]
    if y.shape[-1] == 1:  # an outer product: broadcasting beats a matmul over a dim of 1
        return g * y.swapaxes(-1, -2)
    if _transposed_layout(x) and g.ndim == 2 and g.shape[1] < g.shape[0]:
        return MATMUL(y, g.swapaxes(-1, -2)).swapaxes(-1, -2)  # (y g^T)^T: laid out like x
    # (With a contraction at least as long as g's rows, as a transposed convolution's
    # kernel gradient, g y^T runs faster even counting the copy to x's layout.)
    return MATMUL(g, y.swapaxes(-1, -2))


def _matmul_dy(g, out, x, y):
    if x.ndim == 1:
        return g * x if y.ndim == 1 else x[:, None] * g[..., None, :]
    if y.ndim == 1:
        return MATMUL(x.swapaxes(-1, -2), g[..., None])[..., 0]
    if x.shape[-2] == 1:  # an outer product (a depthwise convolution's): broadcast
        return x.swapaxes(-1, -2) * g
    if not isinstance(g, Tensor) and g.ndim == 2 and x.ndim == 2:  # x^T g, lazy (Product)
        return Product(x, g, transposed=_transposed_layout(y))
    if _transposed_layout(y) and g.ndim == 2:  # (g^T x)^T: the gradient laid out like y
        return MATMUL(g.swapaxes(-1, -2), x).swapaxes(-1, -2)
    return MATMUL(x.swapaxes(-1, -2), g)


MATMUL = Op("matmul", operator.matmul, _matmul_dx, _matmul_dy, saves="x y", broadcasts=True)


@method("matmul", "__matmul__")
def matmul(x, y):
    """Matrix product with NumPy's rules for 1-D and batched operands."""
    x, y = binary_operands(x, y)
    xs, ys = np.shape(unwrap(x)), np.shape(unwrap(y))
    if not xs or not ys:
        raise ValueError(f"matmul: both operands need at least 1 dim, got shapes {xs} and {ys}")
    inner_y = ys[0] if len(ys) == 1 else ys[-2]
    if xs[-1] != inner_y:
        raise ValueError(f"matmul: shapes {xs} and {ys} are not aligned "
                         f"({xs[-1]} (dim -1) != {inner_y} (dim {0 if len(ys) == 1 else -2}))")
    try:
        np.broadcast_shapes(xs[:-2], ys[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dims of shapes {xs} and {ys} cannot be broadcast") from None
    return apply(MATMUL, (x, y))


reflected_method(matmul, "__rmatmul__")


@method()
def mm(x, y):
    """Product of two matrices: (n, k) @ (k, m) -> (n, m), no broadcasting (as torch.mm)."""
    _require_dims("mm", x, y, 2)
    return matmul(x, y)


@method()
def bmm(x, y):
    """Batched product of matrices: (b, n, k) @ (b, k, m) -> (b, n, m), no broadcasting."""
    _require_dims("bmm", x, y, 3)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: shapes {x.shape} and {y.shape}")
    return matmul(x, y)


def _require_dims(name: str, x, y, ndim: int) -> None:
    shapes = [np.shape(unwrap(t)) for t in (x, y)]
    if any(len(s) != ndim for s in shapes):
        raise ValueError(f"{name}: both operands must be {ndim}-D, got shapes {shapes[0]} and "
                         f"{shapes[1]}")


def _long_columns(weight) -> bool:
    """True for a ``weight`` stored transposed with more rows than columns: a
    convolution's im2col columns (L N, C k) against its kernel (O, C k).  Then
    dx = g W runs 10-20% faster as (W^T g^T)^T, the rows of W^T as the product's
    rows (OpenBLAS, one thread, the DCGAN's and MNIST CNN's layers); the small
    result's transposed layout costs less than that."""
    return _transposed_layout(weight) and weight.shape[0] >= weight.shape[1]


def _linear_forward(x, weight, bias=None):
    out = x @ weight.T
    if bias is not None:
        out += bias  # out is new: the bias is added in place, without another array
    return out


def _linear_vjp(i, g, out, inputs):
    x, weight = inputs[:2]
    # On arrays both products stay lazy (see Product): summed with the operand's other
    # uses by one matrix product, and laid out like the operand.
    if i == 0:  # g W = (g^T)^T W
        if not isinstance(g, Tensor):
            return Product(g.T, weight, transposed=_transposed_layout(x) or _long_columns(weight))
        return MATMUL(g, weight)
    if i == 1:  # g^T x
        if not isinstance(g, Tensor):
            return Product(g, x, transposed=_transposed_layout(weight))
        return MATMUL(g.swapaxes(-1, -2), x)
    return g  # the engine sums it over the dims the bias was broadcast along


LINEAR = Op("linear", _linear_forward, _linear_vjp, saves=("y", "x", ""), variadic=True,
            broadcasts=True)


def linear(input, weight, bias=None) -> Tensor:
    """y = x W^T + b, one primitive (PyTorch's addmm): x (*, in), W (out, in), b (out,)
    or any shape that broadcasts to the output (*, out), such as a per-row (N, out).

    dx = g W, dW = g^T x and db = g summed over the dims b was broadcast along.
    Inputs with other than two dims are flattened to (N, in) for one matrix product
    and reshaped back.
    """
    x, w = binary_operands(tensor_arg(input), tensor_arg(weight))
    if w._data.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{w.shape}")
    out_features, in_features = w._data.shape
    if x._data.ndim == 0 or x._data.shape[-1] != in_features:
        raise ValueError(f"linear: input of shape {x.shape} does not end in in_features = "
                         f"{in_features} (weight of shape {w.shape})")
    inputs = (x, w)
    if bias is not None:
        b, w = binary_operands(tensor_arg(bias), w)
        if b._data.shape != (out_features,):  # the usual bias needs no broadcast check
            out_shape = x._data.shape[:-1] + (out_features,)
            try:
                fits = broadcast_shapes("linear", b._data.shape, out_shape) == out_shape
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(f"linear: bias of shape {b.shape} does not broadcast to the "
                                 f"output shape {out_shape} (expected ({out_features},))")
        if x._data.dtype != w._data.dtype:  # the bias widened the weight: widen x too
            x = x.astype(w._data.dtype)
        if b._data.ndim > 1 and x._data.ndim != 2:  # a bias with lead dims of its own
            return linear(x, w) + b
        inputs = (x, w, b)
    if x._data.ndim == 2:
        return apply(LINEAR, inputs)
    lead = x._data.shape[:-1]
    flat = apply(LINEAR, (x.reshape(math.prod(lead), in_features), *inputs[1:]))
    return not_a_view(flat.reshape(*lead, out_features))


@method()
def dot(x, y):
    """Inner product of two 1-D tensors."""
    return matmul(x, y)


@method()
def outer(x, y):
    """Outer product x_i y_j of two 1-D tensors."""
    return x[:, None] * y[None, :]


def _einsum_vjp(i, g, out, operands, labels, out_labels):
    # d out / d operand_i: contract g with every other operand into operand i's labels
    # (each once); a label repeated in operand i (a diagonal) then writes onto that diagonal.
    others = [x for j, x in enumerate(operands) if j != i]
    other_labels = [lab for j, lab in enumerate(labels) if j != i]
    target = labels[i]
    unique = "".join(dict.fromkeys(target))
    sizes = dict(zip(target, operands[i].shape, strict=True))
    kept = "".join(c for c in unique if c in set(out_labels).union(*other_labels))
    grad = EINSUM(g, *others, labels=(out_labels, *other_labels), out_labels=kept)
    if kept != unique:  # labels summed inside operand i alone: the gradient is constant along them
        grad = grad.reshape(tuple(grad.shape[kept.index(c)] if c in kept else 1 for c in unique))
    shape = tuple(sizes[c] for c in unique)
    if grad.shape != shape:  # also "..." dims of size 1 that broadcast against other operands
        kept_shape = tuple(1 if n == 1 else m for m, n in zip(grad.shape, shape, strict=True))
        grad = sum_to(grad, kept_shape)
        grad = EXPAND(grad, shape=shape)
    if unique != target:
        grad = _onto_diagonals(grad, unique, target, sizes)
    return grad


def _onto_diagonals(grad, unique: str, target: str, sizes: dict):
    """``grad`` (labels ``unique``) placed on the diagonals of an operand labelled ``target``
    (labels repeated): each repeat gets a fresh label tied to the first by an identity
    matrix, so the result is itself an einsum (differentiable to any order)."""
    fresh = iter(c for c in string.ascii_letters if c not in target)
    xp = namespace(unwrap(grad))
    renamed, deltas, delta_labels = [], [], []
    for k, c in enumerate(target):
        if c in target[:k]:
            new = next(fresh)
            renamed.append(new)
            delta_labels.append(c + new)
            deltas.append(xp.eye(sizes[c], dtype=grad.dtype))
        else:
            renamed.append(c)
    return EINSUM(grad, *deltas, labels=(unique, *delta_labels), out_labels="".join(renamed))


def _einsum_forward(*xs, labels, out_labels):
    with np.errstate(all="ignore"):  # NumPy's einsum is Python code: outside the filter
        return namespace(xs[0]).einsum(",".join(labels) + "->" + out_labels, *xs, optimize=True)


EINSUM = Op("einsum", _einsum_forward, _einsum_vjp, saves="inputs", variadic=True)


def einsum(subscripts: str, *operands) -> Tensor:
    """Einstein summation, as ``np.einsum``/``torch.einsum``: explicit (``'ij,jk->ik'``) or
    implicit output (the labels used once, sorted), ``...`` for the dims no label names
    (broadcast between operands, size-1 dims stretching), and labels repeated inside
    one operand for its diagonals (``'ii->i'``, the trace ``'ii'``, ``'bii->bi'``).
    Each operand's gradient is itself an einsum of g with the other operands; for a
    repeated label it is written onto the diagonal (an einsum with an identity
    matrix), so every order is differentiable."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    tensors = [tensor_arg(op) for op in operands]
    dtype = np.result_type(*[t._data.dtype for t in tensors])
    tensors = [t.astype(dtype) for t in tensors]
    labels, out_labels = _parse_einsum(subscripts.replace(" ", ""),
                                       [t._data.shape for t in tensors])
    return apply(EINSUM, tuple(tensors), {"labels": labels, "out_labels": out_labels})


def _parse_einsum(subscripts: str, shapes: list) -> tuple:
    ndims = [len(shape) for shape in shapes]
    if "->" in subscripts:
        lhs, output = subscripts.split("->")
    else:
        lhs, output = subscripts, None
    inputs = lhs.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(f"einsum: {subscripts!r} names {len(inputs)} operands, got {len(ndims)}")
    used = set(subscripts)
    spare = [c for c in string.ascii_letters if c not in used]
    ell_dims = max([nd - (len(s) - 3) for s, nd in zip(inputs, ndims, strict=True) if "..." in s],
                   default=0)
    ell = "".join(spare[:ell_dims])
    expanded = []
    for s, nd in zip(inputs, ndims, strict=False):
        if "..." in s:
            k = nd - (len(s) - 3)
            s = s.replace("...", ell[ell_dims - k:] if k else "")
        if len(s) != nd:
            raise ValueError(
                f"einsum: operand {s!r} has {nd} dims but its subscripts name {len(s)}")
        expanded.append(s)
    if output is None:
        counts = {}
        for s in expanded:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        output = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        output = output.replace("...", ell)
    _check_einsum(subscripts, expanded, output, shapes)
    return tuple(expanded), output


def _check_einsum(subscripts: str, inputs: list, output: str, shapes: list) -> None:
    """Errors naming the subscripts: output labels repeated or unknown, sizes that differ
    (a label's dims must agree, except that a size 1 broadcasts against other operands)."""
    for c in output:
        if output.count(c) > 1:
            raise ValueError(f"einsum: output label {c!r} repeats in {subscripts!r}")
        if not any(c in s for s in inputs):
            raise ValueError(f"einsum: output label {c!r} of {subscripts!r} names no input dim")
    sizes = {}
    for s, shape in zip(inputs, shapes, strict=True):
        own = {}
        for c, n in zip(s, shape, strict=True):
            if own.setdefault(c, n) != n:
                raise ValueError(f"einsum: label {c!r} repeats in an operand of shape "
                                 f"{tuple(shape)} with sizes {own[c]} and {n} ({subscripts!r})")
            if n != 1 and sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: label {c!r} of {subscripts!r} has sizes {sizes[c]} "
                                 f"and {n} (shapes {[tuple(x) for x in shapes]})")
