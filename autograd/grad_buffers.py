"""Gradient buffers: where backward sums the gradients that arrive for each node and leaf.

``GradBuffers`` is a dict {node or leaf: the sum of the gradients that have arrived
for it}; the backward loop (``engine.py``) uses four calls: ``seed`` (the roots'
gradients), ``add`` (a rule's result for an input), ``take`` (a node's complete
gradient, when it runs) and ``hand_out`` (a leaf's, to become its ``.grad``).  With
``create_graph`` the gradients are Tensors and ``add`` is the differentiable ``+``;
everything below is about the first-order case, where they are NumPy arrays and
the engine may be clever with them.

Lazy gradients.  Some rules return a description of their gradient instead of the
array, and the buffer makes it dense only when someone reads it:
- ``Scatter`` (the rule of indexing and slicing): zeros with values added at an
  index.  Added into an existing buffer in place, a slice of a tensor costs the size
  of the slice, not of the tensor: T slices of a sequence cost O(T) instead of
  O(T^2) (commit fdaf6c9).  Slices that arrive at an empty buffer are joined, and
  when they are the rows x[0], ..., x[n-1] they are stacked, with no zeros to fill
  (the LSTM benchmark step 53.7 -> 52.1 ms, commit 0a77979).
- ``Product`` (the weight rules of matmul and linear): the matrix a^T b.  A weight
  used at many steps (a recurrent layer's W_hh) gets one product per step; joined
  while they wait, they are summed by one matrix product over the stacked rows
  (one GEMM per LSTM step instead of 50, commit 85134f1).

Ownership: when may the engine add into a buffer in place (``prev += g``, no new
array), and when may it give an array away as a ``.grad``?
1. An array in ``owned`` is held by this dict alone: the engine made it (a sum, a
   lazy gradient made dense), or a rule made it and nothing else refers to it.  Only
   such a buffer is added into in place; any other buffer is replaced by a new sum.
2. "Nothing else refers to it" is read from the reference count: an array that
   owns its memory, is writeable and is referred to by the dict entry alone (a view
   of it, a hook, a value a node saved, an upstream gradient a rule passed on
   unchanged would each add a reference).  The counts that mean "alone" differ
   between interpreters, so they are measured at import (``_exclusive_refcounts``).
3. ``take`` removes a gradient from ``owned``: the node's rules may pass it on
   unchanged to several inputs, so it is no longer the dict's alone.
4. A ``.grad`` never shares memory with another ``.grad``, a seed or an input:
   ``hand_out`` gives a leaf its buffer itself only when no one else can hold it
   (not a seed or an array already handed out, listed by id in ``handed``), else a
   private C-ordered copy; a C-ordered view that covers the whole of an array held
   by nothing else (the transpose of a matrix product's result) is kept, not copied.

What each trick is worth, measured by turning it off (one BLAS thread, medians of 12
steps, with the benchmarks' models): without lazy Scatters the LSTM step takes 1.29x
as long; without lazy Products 1.01-1.02x; adding in place saves 8% where a
1000 x 1000 input is used 8 times, and nothing measurable in the model steps;
handing buffers out without a copy saves 2-3% of an MLP or CNN step.
"""
from __future__ import annotations

import sys

import numpy as np

from .arrays import is_array, namespace


class GradBuffers(dict):
    """{node or leaf: the gradient summed so far} for one backward pass."""

    __slots__ = ("raw", "handed", "owned")

    def __init__(self, raw: bool) -> None:
        super().__init__()
        self.raw = raw  # arrays (first order), not Tensors (create_graph)
        self.handed: set = set()  # ids of arrays that are not ours to give away as a .grad
        self.owned: set = set()  # ids of buffer arrays only this dict holds (rule 1)

    def seed(self, key, g) -> None:
        """Start ``key`` with a root's seed gradient (the caller's array: never ours)."""
        self.handed.add(id(g))
        prev = self.get(key)
        self[key] = g if prev is None else prev + g

    def add(self, key, g) -> None:
        """Add a rule's gradient ``g`` to what ``key`` has received."""
        if type(g) is not Scatter and key not in self:  # the common case: the first share
            self[key] = g  # kept as it is (a Product stays lazy, to be joined by others)
        elif self.raw:
            self._accumulate(key, g)
        else:
            self[key] = self[key] + g

    def take(self, key):
        """Remove and return ``key``'s complete gradient, dense (None if none arrived)."""
        g = self.pop(key, None)
        if self.owned:
            self.owned.discard(id(g))  # the rules may pass it on unchanged (rule 3)
        if type(g) is Product or type(g) is Scatter:
            g = g.dense()
        return g

    def hand_out(self, g):
        """``g`` made safe to become a leaf's ``.grad`` (rule 4)."""
        if not self.raw:
            return g
        g = exclusive(g, self.handed)
        self.handed.add(id(g))
        return g

    def _accumulate(self, key, gi) -> None:
        """Add ``gi`` to the gradient buffered for ``key``, in place when the buffer is
        ours (rules 1 and 2)."""
        prev = self.get(key)
        owned = self.owned
        if type(prev) is np.ndarray and prev.base is None \
                and sys.getrefcount(prev) <= _ONLY_IN_BUFFER and prev.flags.writeable:
            owned.add(id(prev))
        if type(prev) is Product or type(prev) is Scatter:
            if type(gi) is type(prev) and prev.join(gi):
                return
            prev = prev.dense()
            self[key] = prev
            owned.add(id(prev))
        if type(gi) is Product:
            gi = gi.dense()
        if type(gi) is Scatter:
            if prev is None:
                self[key] = gi  # lazy: joined by the next ones (see Scatter)
            elif id(prev) not in owned:
                dense = gi.dense()
                dense += prev
                self[key] = dense
                owned.add(id(dense))
            else:
                gi.add_into(prev)
        elif prev is None:
            self[key] = gi
        elif id(prev) in owned and prev.shape == gi.shape:
            prev += gi
        else:
            total = prev + gi
            self[key] = total
            if is_array(total):  # NumPy scalars (0-d results) cannot be updated
                owned.add(id(total))


def dense(g):
    """``g`` as an array: lazy gradients made dense, anything else as it is."""
    if type(g) is Product or type(g) is Scatter:
        return g.dense()
    return g


def _exclusive_refcounts() -> tuple:
    """What ``sys.getrefcount`` says, on this interpreter, of an array that only a dict
    entry holds (read into a local, as ``_accumulate`` does) and of an array that only
    one view holds as its base (as ``exclusive`` asks).  Interpreters differ in which of
    the running frame's references they count, so the engine measures instead of
    assuming."""
    buffers = {0: np.empty(1)}
    prev = buffers.get(0)
    in_buffer = sys.getrefcount(prev)
    g = np.empty(2)[1:]
    as_base = sys.getrefcount(g.base)
    return in_buffer, as_base


_ONLY_IN_BUFFER, _ONLY_AS_BASE = _exclusive_refcounts()


def exclusive(g: np.ndarray, handed=()) -> np.ndarray:
    """``g`` if nothing else can hold it, else a private C-ordered copy (no two .grad share
    memory, and optimizer updates stay on contiguous arrays)."""
    if type(g) is not np.ndarray:  # a device array: its own unless handed out or a view
        return g.copy() if id(g) in handed or g.base is not None else g
    if id(g) in handed or not g.flags.writeable:
        return np.array(g, order="C", copy=True)
    if g.base is None:
        return g if g.flags.owndata else np.array(g, order="C", copy=True)
    # A C-ordered view covering all of a temporary the rules made (e.g. the transpose of a
    # matmul result): when only this view refers to that temporary, it is ours to keep.
    if g.flags.c_contiguous and g.size == g.base.size \
            and sys.getrefcount(g.base) <= _ONLY_AS_BASE:
        return g
    return np.array(g, order="C", copy=True)


# ------------------------------------------------------------ lazy gradients
class Scatter:
    """A lazy first-order gradient: zeros of ``shape`` with ``values`` added at ``index``.

    The rules of gathering ops (indexing, slicing) return it on raw arrays, so that
    many slices of one tensor cost O(their size), not O(tensor size) each: the
    engine adds the values straight into the tensor's gradient buffer.  Scatters
    that arrive at an empty buffer are joined and made dense together; when they
    are the rows x[0], x[1], ..., x[n-1] of a tensor (a loop over a sequence), their
    values are stacked, with no zeros to fill and add into.
    """

    __slots__ = ("values", "index", "shape", "basic", "joined")

    def __init__(self, values: np.ndarray, index: tuple, shape: tuple, basic: bool) -> None:
        self.values = values
        self.index = index
        self.shape = shape
        self.basic = basic  # ints/slices only: no position repeats, so += is exact
        self.joined = None  # the Scatters joined to this one

    def join(self, other: Scatter) -> bool:
        """Take ``other`` into this sum; False when the two do not fit together."""
        if other.shape != self.shape or other.values.dtype != self.values.dtype:
            return False
        if self.joined is None:
            self.joined = []
        self.joined.append(other)
        return True

    def add_into(self, array: np.ndarray) -> None:
        for piece in (self, *self.joined) if self.joined else (self,):
            if piece.basic:
                array[piece.index] += piece.values
            else:
                add_at(array, piece.index, piece.values)

    def dense(self) -> np.ndarray:
        rows = self._whole_rows()
        if rows is not None:
            axis, values = rows
            return namespace(values[0]).stack(values, axis=axis)
        array = namespace(self.values).zeros(self.shape, dtype=self.values.dtype)
        self.add_into(array)
        return array

    def _whole_rows(self) -> tuple | None:
        """(axis, the values in order) when the pieces are x[..., 0, ...], ...,
        x[..., n-1, ...] along one axis (one int in the index, the rest ``:``), each once."""
        pieces = (self, *self.joined) if self.joined else (self,)
        axis = _row_axis(self.index)
        if axis is None or len(pieces) != self.shape[axis] or len(pieces) < 2:
            return None
        n = self.shape[axis]
        row_shape = self.shape[:axis] + self.shape[axis + 1:]
        values = [None] * n
        for piece in pieces:
            if _row_axis(piece.index) != axis or piece.values.shape != row_shape:
                return None
            row = piece.index[axis] % n
            if values[row] is not None:
                return None
            values[row] = piece.values
        return axis, values


def _row_axis(index: tuple) -> int | None:
    """The position of the one int in ``index`` when every other entry is ``:``."""
    axis = None
    for k, entry in enumerate(index):
        if type(entry) is int and axis is None:
            axis = k
        elif type(entry) is not slice or entry != slice(None):
            return None
    return axis


class Product:
    """A lazy first-order gradient: the matrix a^T b, summed over the pairs (a, b) joined.

    The rules of ``matmul`` (right-hand operand) and ``linear`` (both operands)
    return it on arrays.  A weight used at many steps, like a recurrent layer's W_hh,
    gets one contribution per step; joined while they wait in its buffer, they are
    summed by one matrix product over the stacked rows, sum_k a_k^T b_k = A^T B,
    instead of a small product per step.  A node's gradient is made dense when the
    node runs, a leaf's at the end.  ``transposed``: compute it as (b^T a)^T, so that
    its transpose is C-ordered (for an operand stored transposed, ``W.T``).
    """

    __slots__ = ("a", "b", "transposed", "shape", "dtype")

    def __init__(self, a: np.ndarray, b: np.ndarray, transposed: bool = False) -> None:
        self.a = [a]
        self.b = [b]
        self.transposed = transposed
        self.shape = (a.shape[1], b.shape[1])
        self.dtype = np.result_type(a.dtype, b.dtype)

    def join(self, other: Product) -> bool:
        """Take ``other``'s pairs into this sum; False when the two do not fit together."""
        if other.transposed is not self.transposed or other.shape != self.shape or \
                other.dtype != self.dtype:
            return False
        self.a += other.a
        self.b += other.b
        return True

    def dense(self) -> np.ndarray:
        xp = namespace(self.a[0])
        a = self.a[0] if len(self.a) == 1 else xp.concatenate(self.a)
        b = self.b[0] if len(self.b) == 1 else xp.concatenate(self.b)
        return (b.T @ a).T if self.transposed else a.T @ b


def add_at(array: np.ndarray, index: tuple, values) -> None:
    """``array[index] += values`` with repeated positions accumulating (``np.add.at``).

    When every dim of a contiguous ``array`` is indexed by an integer array, the
    positions are flattened first: ``np.add.at`` on one flat index is several times
    faster than on a tuple of them.
    """
    xp = namespace(array)
    if len(index) == 1 and array.ndim == 1:  # already flat (max pooling's gather)
        xp.add.at(array, index[0], values)
    elif (len(index) == array.ndim and array.flags.c_contiguous
            and all(is_array(i) for i in index)):
        arrays = xp.broadcast_arrays(*index)
        flat = xp.ravel_multi_index(arrays, array.shape, mode="wrap")  # wrap: negative indices
        xp.add.at(array.reshape(-1), flat.reshape(-1), xp.broadcast_to(values, flat.shape).ravel())
    else:
        xp.add.at(array, index, values)
