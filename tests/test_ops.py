"""Generic property tests over the op registry (``tests/opinfo.py``).

For every public differentiable op, and every internal primitive (an ``Op`` that no
public function of its name calls, as the adjoints that only rules call):
- the forward matches a float64 NumPy reference, in float64 and float32, and
  keeps the input dtype (size-0 dims included);
- gradcheck passes in float64 with a random upstream gradient, and
  gradgradcheck passes (second derivatives through ``create_graph=True``);
- backward leaves the inputs and the upstream gradient unchanged and gives each
  input a ``.grad`` of its own shape, dtype and memory.
A coverage test fails when a public function of autograd is in neither the
registry nor one of its lists of non-differentiable functions and utilities, and
another when a differentiable ``Op`` object of autograd (found by walking its
modules) has no entry of its name.
"""
from __future__ import annotations

import copy
import functools
import importlib
import inspect
import pkgutil
import types
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opinfo import (
    FORWARD,
    GRAD,
    GRADGRAD,
    INTERNAL_DB,
    NON_DIFFERENTIABLE,
    NOT_OPERATIONS,
    OP_DB,
    OpInfo,
)

import graphgrad as gg
from graphgrad.autograd.ops._registry import Op
from graphgrad.testing import gradcheck, gradgradcheck
from graphgrad.testing.strategies import broadcastable_shapes, tensors

# Second derivatives cost a backward pass per finite difference: fewer examples, same profile.
_GRADGRAD_SETTINGS = settings(max_examples=max(5, settings().max_examples // 3))

# Parametrized by name (hypothesis then reports ``name='matmul'``, not the whole entry).
OPS = {info.name: info for info in (*OP_DB, *INTERNAL_DB)}
by_op = pytest.mark.parametrize("name", list(OPS))


def _as_list(out) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _expected_dtype(info: OpInfo, dtype: np.dtype, kwargs: dict, reference: np.ndarray):
    if reference.dtype.kind != "f":
        return reference.dtype  # indices, masks
    return info.out_dtype(dtype, kwargs) if info.out_dtype else dtype


def _assert_unchanged(before, after, what: str) -> None:
    """Compare nested kwargs (arrays inside tuples and dicts) for equality."""
    if isinstance(before, np.ndarray):
        np.testing.assert_array_equal(after, before, err_msg=f"{what} was modified")
    elif isinstance(before, (tuple, list)):
        for b, a in zip(before, after, strict=True):
            _assert_unchanged(b, a, what)
    elif isinstance(before, dict):
        for key in before:
            _assert_unchanged(before[key], after[key], f"{what}[{key!r}]")


# --------------------------------------------------------------------- forward
@by_op
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@given(data=st.data())
def test_forward_matches_reference(name: str, dtype, data):
    info = OPS[name]
    sample = data.draw(info.samples(dtype, FORWARD), label="sample")
    outputs = _as_list(info.op(*sample.tensors(), **sample.kwargs))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy on empty slices
        reference = info.ref(*(a.astype(np.float64) for a in sample.arrays), **sample.kwargs)
    expected = [np.asarray(r) for r in _as_list(reference)]
    assert len(outputs) == len(expected), f"{info.name}: {len(outputs)} outputs"
    rtol, atol = (1e-10, 1e-10) if dtype == np.float64 else info.fwd_tol
    for k, (out, want) in enumerate(zip(outputs, expected, strict=True)):
        assert isinstance(out, gg.Tensor), f"{info.name}: output {k} is a {type(out).__name__}"
        assert out.shape == want.shape, f"{info.name}: output {k} shape"
        assert out.dtype == _expected_dtype(info, np.dtype(dtype), sample.kwargs, want), (
            f"{info.name}: output {k} has dtype {out.dtype} for {np.dtype(dtype)} inputs")
        np.testing.assert_allclose(out.numpy().astype(np.float64), want.astype(np.float64),
                                   rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"{info.name}: output {k}")


# ------------------------------------------------------------------- gradients
@by_op
@given(data=st.data())
def test_gradcheck(name: str, data):
    info = OPS[name]
    sample = data.draw(info.samples(np.float64, GRAD), label="sample")
    fn = functools.partial(info.op, **sample.kwargs)
    for out in _as_list(fn(*sample.tensors())):  # gradcheck would let NaN == NaN pass
        assert np.isfinite(out.numpy()).all(), f"{name}: non-finite output; fix the domain"
    assert gradcheck(fn, sample.tensors(requires_grad=True), **info.grad_tol)


@pytest.mark.parametrize("name", [name for name, info in OPS.items() if info.gradgrad])
@_GRADGRAD_SETTINGS
@given(data=st.data())
def test_gradgradcheck(name: str, data):
    info = OPS[name]
    sample = data.draw(info.samples(np.float64, GRADGRAD), label="sample")
    fn = functools.partial(info.op, **sample.kwargs)
    assert gradgradcheck(fn, sample.tensors(requires_grad=True), **info.grad_tol)


# ------------------------------------------------------------------ invariants
@by_op
@given(data=st.data())
def test_backward_invariants(name: str, data):
    info = OPS[name]
    dtype = np.dtype(data.draw(st.sampled_from([np.float32, np.float64]), label="dtype"))
    sample = data.draw(info.samples(dtype, GRAD), label="sample")
    kwargs_before = copy.deepcopy(sample.kwargs)
    xs = sample.tensors(requires_grad=True)
    outputs = [o for o in _as_list(info.op(*xs, **sample.kwargs)) if o.requires_grad]
    rng = np.random.default_rng(0)
    upstream = [gg.Tensor(rng.standard_normal(o.shape).astype(o.dtype)) for o in outputs]
    upstream_before = [u.numpy().copy() for u in upstream]

    gg.backward(outputs, upstream)

    for x, a in zip(xs, sample.arrays, strict=True):
        np.testing.assert_array_equal(x.numpy(), a, err_msg=f"{info.name} changed an input")
    for u, before in zip(upstream, upstream_before, strict=True):
        np.testing.assert_array_equal(u.numpy(), before,
                                      err_msg=f"{info.name} changed the upstream gradient")
    _assert_unchanged(kwargs_before, sample.kwargs, f"{info.name} kwargs")
    grads = []
    for i, x in enumerate(xs):
        assert x.grad is not None, f"{info.name}: input {i} got no gradient"
        assert x.grad.shape == x.shape, f"{info.name}: grad shape {x.grad.shape} != {x.shape}"
        assert x.grad.dtype == x.dtype, f"{info.name}: grad dtype {x.grad.dtype} != {x.dtype}"
        assert x.grad.grad_fn is None and not x.grad.requires_grad
        grads.append(x.grad.numpy())
    others = [x.numpy() for x in xs] + [u.numpy() for u in upstream] + [o.numpy() for o in outputs]
    for i, g in enumerate(grads):
        for other in grads[i + 1:] + others:
            assert not np.shares_memory(g, other), (
                f"{info.name}: the .grad of input {i} shares memory with another array")


# -------------------------------------------------------------------- coverage
def _public_callables() -> dict:
    """The engine's public functions and classes (what graphgrad re-exports from
    graphgrad.autograd, and graphgrad.linalg's), without dtype aliases."""
    found = {}
    for name in gg.autograd.__all__:
        obj = getattr(gg, name)
        if name.startswith("_") or isinstance(obj, types.ModuleType) or not callable(obj):
            continue
        if isinstance(obj, type) and issubclass(obj, np.generic):
            continue  # gg.float32, gg.bool, ...
        found[name] = obj
    for name in gg.linalg.__all__:  # torch.linalg's namespace, registered as "linalg.<name>"
        found[f"linalg.{name}"] = getattr(gg.linalg, name)
    return found


def test_every_public_op_is_registered():
    public = _public_callables()
    registered = {id(public[info.name]) for info in OP_DB if info.name in public}
    missing = sorted(
        name for name, obj in public.items()
        if id(obj) not in registered and name not in NON_DIFFERENTIABLE
        and name not in NOT_OPERATIONS
    )
    assert not missing, (
        f"public functions of autograd without an entry in tests/opinfo.py: {missing}. Add an "
        f"OpInfo to OP_DB, or list them in NON_DIFFERENTIABLE or NOT_OPERATIONS."
    )


def test_registry_names_are_public_and_unique():
    names = [info.name for info in OP_DB]
    internal = [info.name for info in INTERNAL_DB]
    assert len(names + internal) == len(set(names + internal)), "an op is registered twice"
    public = _public_callables()
    stale = sorted(n for n in [*names, *NON_DIFFERENTIABLE] if n not in public)
    assert not stale, f"registered names that autograd does not export: {stale}"
    assert not set(names) & set(NON_DIFFERENTIABLE)
    declared = {op.name for op in _declared_ops()}
    assert not set(internal) - declared, "internal entries name no Op of autograd"


def _declared_ops() -> list:
    """Every Op object autograd's modules hold: as module attributes, or in the closures
    of their functions (the comparisons').  Ops made per call (a custom Function's) are
    tested by test_engine_function.py."""
    found = {}
    package = gg.autograd
    names = [info.name for info in pkgutil.walk_packages(package.__path__, "graphgrad.autograd.")]
    for module in [package] + [importlib.import_module(name) for name in names]:
        for value in vars(module).values():
            held = [value]
            if inspect.isfunction(value) and value.__closure__:
                held += [cell.cell_contents for cell in value.__closure__]
            found.update((id(o), o) for o in held if type(o) is Op)
    return list(found.values())


def test_every_op_is_registered():
    """Internal primitives too: each differentiable Op has an entry of its name, a public
    op (tested through its function) or an internal one (called as the Op)."""
    ops = _declared_ops()
    assert {"getitem_adjoint", "fold", "unpack", "eq"} <= {op.name for op in ops}  # the walk works
    missing = sorted(op.name for op in ops if op.vjps is not None and op.name not in OPS)
    assert not missing, (
        f"Op objects of autograd without an entry in tests/opinfo.py: {missing}. Add an "
        f"OpInfo of that name to OP_DB (a public op) or INTERNAL_DB (called as the Op).")


def test_methods_are_the_public_functions():
    """``x.sum`` *is* ``gg.sum``: one docstring and one place to step into (docs/DESIGN.md)."""
    for info in OP_DB:
        method = getattr(gg.Tensor, info.name, None)
        assert method is None or method is getattr(gg, info.name), info.name


# ------------------------------------------------- non-differentiable functions
_NO_GRAD_OPS = {
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
    "ge": np.greater_equal, "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_xor": np.logical_xor, "logical_not": np.logical_not, "isnan": np.isnan,
    "isfinite": np.isfinite, "sign": np.sign, "argmax": np.argmax, "argmin": np.argmin,
}
_BINARY = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"}


@pytest.mark.parametrize("name", sorted(_NO_GRAD_OPS))
@settings(max_examples=10)
@given(data=st.data())
def test_non_differentiable_ops_record_no_graph(name, data):
    arity = 2 if name in _BINARY else 1
    input_shapes = data.draw(broadcastable_shapes(arity, max_dims=3), label="shapes")
    # Small integers make ties and zeros (the interesting cases for comparisons and sign).
    xs = [data.draw(tensors(shape=s, min_value=-2, max_value=2).map(
        lambda t: gg.Tensor(np.round(t.numpy()), requires_grad=True))) for s in input_shapes]
    out = getattr(gg, name)(*xs)
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.numpy(), _NO_GRAD_OPS[name](*(x.numpy() for x in xs)))


# ---------------------------------------------------------- clamped_log's clamp
def test_clamped_log_in_its_clamped_region():
    """Where log x < min the value is min, and where x < eps the derivative is 1/eps:
    PyTorch's binary cross-entropy gradient, not the derivative of the clamped value, so
    gradcheck (the registry entry) samples only where no clamp acts.  The rule's own
    derivative, the second order, is checked on both sides of eps."""
    x = np.array([1e-300, 1e-50, 1e-13, 1e-6, 0.5, 2.0])
    t = gg.tensor(x, requires_grad=True)
    y = gg.clamped_log(t)  # min = -100, eps = 1e-12
    np.testing.assert_array_equal(y.numpy(), np.maximum(np.log(x), -100.0))
    g = np.random.default_rng(0).standard_normal(x.shape)
    (gx,) = gg.grad(y, [t], gg.tensor(g))
    np.testing.assert_allclose(gx.numpy(), g / np.maximum(x, 1e-12), rtol=1e-12)
    values = gg.tensor([0.05, 0.2, 0.4, 0.6, 1.5, 3.0], requires_grad=True)  # eps = 0.5
    assert gradgradcheck(lambda v: gg.clamped_log(v, min=-1.0, eps=0.5), [values])
