"""Factories (autograd/creation.py): every signature form, dtype defaults as PyTorch's
(checked against torch where it is installed), devices, layouts, out=, and memory
sharing of as_tensor / from_numpy."""
from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

SIZED = {"zeros": gg.zeros, "ones": gg.ones, "empty": gg.empty, "rand": gg.rand,
         "randn": gg.randn}
SIZE_FORMS = [
    ((2, 3), {}), (((2, 3),), {}), (([2, 3],), {}), ((gg.Size((2, 3)),), {}),
    ((), {"size": (2, 3)}), ((np.int64(2), 3), {}), ((gg.tensor(2), 3), {}),
]


@pytest.mark.parametrize("name", SIZED)
@pytest.mark.parametrize("args, kwargs", SIZE_FORMS)
def test_size_forms(name, args, kwargs):
    t = SIZED[name](*args, **kwargs)
    assert isinstance(t, gg.Tensor) and t.shape == (2, 3) and isinstance(t.shape, gg.Size)


@pytest.mark.parametrize("name", SIZED)
def test_zero_dim_and_empty_sizes(name):
    make = SIZED[name]
    assert make().shape == make(()).shape == make([]).shape == ()
    assert make(0, 3).shape == (0, 3)


@pytest.mark.parametrize("name", SIZED)
@pytest.mark.parametrize("args, kwargs, error, match", [
    ((2.5,), {}, TypeError, "tuple of ints"),
    ((True, 2), {}, TypeError, "tuple of ints"),
    (((2, "a"),), {}, TypeError, "tuple of ints"),
    ((2, -1), {}, ValueError, r"negative dimension in size \(2, -1\)"),
    ((2,), {"size": (3,)}, TypeError, "both"),
])
def test_bad_sizes_name_the_factory(name, args, kwargs, error, match):
    with pytest.raises(error, match=f"{name}.*{match}"):
        SIZED[name](*args, **kwargs)


def test_constant_values():
    np.testing.assert_array_equal(gg.zeros(2, 2).numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(gg.ones(3, dtype=gg.int64).numpy(), [1, 1, 1])
    np.testing.assert_array_equal(gg.full((2,), 1.5, dtype=gg.int64).numpy(), [1, 1])
    np.testing.assert_array_equal(gg.full([2, 1], gg.tensor(2.5)).numpy(), [[2.5], [2.5]])
    np.testing.assert_array_equal(gg.eye(2, 3).numpy(), np.eye(2, 3))
    assert gg.eye(3, 0).shape == (3, 0)
    like = gg.ones(2, 3, dtype=gg.float64)
    for make, value in ((gg.zeros_like, 0), (gg.ones_like, 1)):
        out = make(like)
        assert out.shape == (2, 3) and out.dtype == np.float64 and (out.numpy() == value).all()
    np.testing.assert_array_equal(gg.full_like(gg.ones(2, dtype=gg.int64), 2.7).numpy(), [2, 2])
    assert gg.empty_like(like, dtype=gg.int32).dtype == np.int32


def test_full_and_likes_reject_what_torch_rejects():
    with pytest.raises(TypeError, match="full: size must be a tuple of ints"):
        gg.full(2, 1.0)
    with pytest.raises(TypeError, match="full: fill_value must be a number"):
        gg.full((2,), "a")
    with pytest.raises(TypeError, match="zeros_like: input must be a Tensor"):
        gg.zeros_like(np.zeros(2))
    with pytest.raises(ValueError, match="eye: n must be greater or equal to 0, got -1"):
        gg.eye(-1)


# ------------------------------------------------------------ dtype defaults
def _dtype_name(t) -> str:
    return str(t.dtype).removeprefix("torch.")


# (id, call with a module m that is graphgrad or torch, the dtype both give)
DTYPE_CASES = [
    ("zeros", lambda m: m.zeros(2), "float32"),
    ("ones int64", lambda m: m.ones(2, dtype=m.int64), "int64"),
    ("empty float64", lambda m: m.empty(2, dtype=m.float64), "float64"),
    ("full bool", lambda m: m.full((2,), True), "bool"),
    ("full int", lambda m: m.full((2,), 3), "int64"),
    ("full float", lambda m: m.full((2,), 1.5), "float32"),
    ("full numpy int32", lambda m: m.full((2,), np.int32(1)), "int64"),
    ("full numpy float64", lambda m: m.full((2,), np.float64(1.5)), "float32"),
    ("arange int", lambda m: m.arange(5), "int64"),
    ("arange float step", lambda m: m.arange(0, 1, 0.25), "float32"),
    ("arange float end", lambda m: m.arange(2.5), "float32"),
    ("arange float64", lambda m: m.arange(3, dtype=m.float64), "float64"),
    ("linspace ints", lambda m: m.linspace(0, 10, 5), "float32"),
    ("linspace int64", lambda m: m.linspace(0, 10, 4, dtype=m.int64), "int64"),
    ("eye", lambda m: m.eye(2, 3), "float32"),
    ("eye bool", lambda m: m.eye(2, dtype=m.bool), "bool"),
    ("tensor ints", lambda m: m.tensor([1, 2]), "int64"),
    ("tensor floats", lambda m: m.tensor([1.0, 2]), "float32"),
    ("tensor float64 array", lambda m: m.tensor(np.zeros(2)), "float64"),
    ("tensor bools", lambda m: m.tensor([True]), "bool"),
    ("as_tensor list", lambda m: m.as_tensor([1, 2.0]), "float32"),
    ("as_tensor float64 array", lambda m: m.as_tensor(np.zeros(2)), "float64"),
    ("as_tensor cast", lambda m: m.as_tensor(np.zeros(2), dtype=m.float32), "float32"),
    ("from_numpy int32", lambda m: m.from_numpy(np.zeros(2, np.int32)), "int32"),
    ("zeros_like int", lambda m: m.zeros_like(m.ones(2, dtype=m.int64)), "int64"),
    ("ones_like dtype", lambda m: m.ones_like(m.ones(2, dtype=m.int64), dtype=m.float64),
     "float64"),
    ("full_like int", lambda m: m.full_like(m.ones(2, dtype=m.int64), 2.7), "int64"),
    ("rand", lambda m: m.rand(2, 3), "float32"),
    ("randn float64", lambda m: m.randn(2, dtype=m.float64), "float64"),
    ("randint", lambda m: m.randint(0, 5, (3,)), "int64"),
    ("randint float32", lambda m: m.randint(5, (3,), dtype=m.float32), "float32"),
    ("randperm", lambda m: m.randperm(4), "int64"),
    ("randperm float32", lambda m: m.randperm(4, dtype=m.float32), "float32"),
    ("rand_like", lambda m: m.rand_like(m.ones(2, dtype=m.float64)), "float64"),
    ("randn_like", lambda m: m.randn_like(m.ones(2)), "float32"),
    ("randint_like", lambda m: m.randint_like(m.ones(2), 5), "float32"),
    ("randint_like low high", lambda m: m.randint_like(m.ones(2, dtype=m.int64), 2, 5),
     "int64"),
    ("multinomial", lambda m: m.multinomial(m.tensor([1.0, 2.0]), 2), "int64"),
    ("normal floats", lambda m: m.normal(0.0, 1.0, (2, 3)), "float32"),
    ("normal ints and size", lambda m: m.normal(0, 1, (2,)), "float32"),
    ("normal mean tensor", lambda m: m.normal(m.zeros(2, 3, dtype=m.float64), m.ones(3)),
     "float64"),
    ("normal std tensor", lambda m: m.normal(0.0, m.ones(3)), "float32"),
    ("normal mean only", lambda m: m.normal(m.zeros(2, 3)), "float32"),
    ("bernoulli", lambda m: m.bernoulli(m.full((4,), 0.5, dtype=m.float64)), "float64"),
    ("bernoulli p", lambda m: m.bernoulli(m.zeros(4), 0.5), "float32"),
]
_IDS = [case[0] for case in DTYPE_CASES]


@pytest.mark.parametrize("name, call, dtype", DTYPE_CASES, ids=_IDS)
def test_dtype_defaults(name, call, dtype):
    assert np.dtype(call(gg).dtype).name == dtype


@pytest.mark.parametrize("name, call, dtype", DTYPE_CASES, ids=_IDS)
def test_dtype_defaults_and_shapes_are_torchs(name, call, dtype):
    torch = pytest.importorskip("torch")
    theirs = call(torch)
    assert _dtype_name(theirs) == dtype
    assert tuple(call(gg).shape) == tuple(theirs.shape)


def test_default_dtype_is_used_by_float_factories():
    previous = gg.get_default_dtype()
    gg.set_default_dtype(gg.float64)
    try:
        made = [gg.zeros(2), gg.full((2,), 0.5), gg.arange(0.5, 2), gg.linspace(0, 1, 3),
                gg.eye(2), gg.rand(2), gg.randn(2), gg.normal(0.0, 1.0, (2,)), gg.tensor([1.5])]
        assert all(t.dtype == np.float64 for t in made)
        assert gg.arange(3).dtype == np.int64 and gg.full((1,), 2).dtype == np.int64
    finally:
        gg.set_default_dtype(previous)


# ------------------------------------------------- device, grad, layout, out
FACTORIES = {
    "tensor": lambda **kw: gg.tensor([1.0], **kw),
    "as_tensor": lambda **kw: gg.as_tensor([1.0], **kw),
    "zeros": lambda **kw: gg.zeros(2, **kw),
    "ones": lambda **kw: gg.ones(2, **kw),
    "empty": lambda **kw: gg.empty(2, **kw),
    "full": lambda **kw: gg.full((2,), 1.0, **kw),
    "arange": lambda **kw: gg.arange(0.0, 3.0, **kw),
    "linspace": lambda **kw: gg.linspace(0, 1, 3, **kw),
    "eye": lambda **kw: gg.eye(2, **kw),
    "zeros_like": lambda **kw: gg.zeros_like(gg.ones(2), **kw),
    "ones_like": lambda **kw: gg.ones_like(gg.ones(2), **kw),
    "empty_like": lambda **kw: gg.empty_like(gg.ones(2), **kw),
    "full_like": lambda **kw: gg.full_like(gg.ones(2), 3.0, **kw),
    "rand": lambda **kw: gg.rand(2, **kw),
    "randn": lambda **kw: gg.randn(2, **kw),
    "randint": lambda **kw: gg.randint(0, 3, (2,), **kw),
    "randperm": lambda **kw: gg.randperm(3, **kw),
    "rand_like": lambda **kw: gg.rand_like(gg.ones(2), **kw),
    "randn_like": lambda **kw: gg.randn_like(gg.ones(2), **kw),
    "randint_like": lambda **kw: gg.randint_like(gg.ones(2), 4, **kw),
    "normal": lambda **kw: gg.normal(0.0, 1.0, (2,), **kw),
}


@pytest.mark.parametrize("name", FACTORIES)
def test_devices(name):
    for device in (None, "cpu", gg.device("cpu")):
        assert FACTORIES[name](device=device).device == gg.device("cpu")
    with pytest.raises(RuntimeError, match=f"{name}: device 'cuda:1' is not available"):
        FACTORIES[name](device="cuda:1")


@pytest.mark.parametrize("name", [n for n in FACTORIES if n not in ("as_tensor", "tensor")])
def test_layouts(name):
    assert FACTORIES[name](layout="strided").shape == FACTORIES[name](layout=None).shape
    with pytest.raises(ValueError, match=f"{name}: only the dense .strided. layout"):
        FACTORIES[name](layout="sparse_coo")


@pytest.mark.parametrize("name", [n for n in FACTORIES if n not in ("as_tensor", "randint",
                                                                     "randperm")])
def test_requires_grad_makes_a_leaf(name):
    t = FACTORIES[name](requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.dtype == gg.get_default_dtype()
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.full(t.shape, 2.0))


@pytest.mark.parametrize("make", [
    lambda: gg.zeros(2, dtype=gg.int64, requires_grad=True),
    lambda: gg.randint(0, 3, (2,), requires_grad=True),
    lambda: gg.randperm(3, requires_grad=True),
    lambda: gg.full((2,), 1, requires_grad=True),
    lambda: gg.tensor([1, 2], requires_grad=True),
])
def test_integer_factories_cannot_require_grad(make):
    with pytest.raises(TypeError, match="floating point"):
        make()


def test_float_dtypes_are_required_where_torch_requires_them():
    for make in (lambda: gg.rand(2, dtype=gg.int64), lambda: gg.randn(2, dtype=gg.int64),
                 lambda: gg.normal(0.0, 1.0, (2,), dtype=gg.int64),
                 lambda: gg.rand_like(gg.ones(2, dtype=gg.int64))):
        with pytest.raises(TypeError, match="floating point dtype, got int64"):
            make()
    with pytest.raises(TypeError, match="arange: bool"):
        gg.arange(3, dtype=gg.bool)


def test_out_writes_into_the_given_tensor():
    out = gg.empty(2, 3)
    before = out._version
    result = gg.zeros(2, 3, out=out)
    assert result is out and (out.numpy() == 0).all() and out._version == before + 1
    ints = gg.empty(3, dtype=gg.int64)
    assert gg.arange(3, out=ints) is ints and ints.tolist() == [0, 1, 2]
    assert gg.ones(2, out=gg.empty(2, dtype=gg.int64)).dtype == np.int64  # out's dtype
    with pytest.raises(TypeError, match="ones: expected the out tensor to have dtype float64"):
        gg.ones(2, dtype=gg.float64, out=gg.empty(2))
    with pytest.raises(RuntimeError, match="zeros: out= does not support automatic"):
        gg.zeros(2, out=gg.empty(2, requires_grad=True))
    with pytest.raises(TypeError, match="zeros: out must be a Tensor, got ndarray"):
        gg.zeros(2, out=np.zeros(2))
    small = gg.empty(1)
    with pytest.warns(UserWarning, match="rand: an out tensor of shape .1,. was resized"):
        assert gg.rand(4, out=small).shape == (4,)


# ------------------------------------------------------------- from data
def test_tensor_copies_and_takes_keywords_only():
    a = np.zeros(2)
    t = gg.tensor(a, dtype=gg.float32, requires_grad=True, pin_memory=False)
    a[0] = 1.0
    assert t.tolist() == [0.0, 0.0] and t.dtype == np.float32 and t.requires_grad
    with pytest.raises(TypeError):
        gg.tensor([1.0], True)  # requires_grad is keyword-only, as torch's


def test_as_tensor_shares_or_returns_the_same_tensor():
    t = gg.ones(3)
    assert gg.as_tensor(t) is t and gg.as_tensor(t, dtype=gg.float32) is t
    a = np.zeros(3)
    shared = gg.as_tensor(a)
    a[1] = 5.0
    assert shared.numpy()[1] == 5.0
    copied = gg.as_tensor(a, dtype=gg.float32)
    a[2] = 7.0
    assert copied.numpy()[2] == 0.0
    listed = gg.as_tensor([1, 2])
    assert listed.dtype == np.int64


def test_as_tensor_dtype_change_is_differentiable():
    x = gg.ones(3, requires_grad=True)
    y = gg.as_tensor(x, dtype=gg.float64)
    assert y.dtype == np.float64 and y.grad_fn is not None
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])
    assert x.grad.dtype == np.float32


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(4.0)
    t = gg.from_numpy(a)
    assert t.dtype == np.float64
    t.add_(1.0)  # an in-place op on the tensor writes into the array
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0, 4.0])
    a[0] = -1.0
    assert t.tolist()[0] == -1.0
    with pytest.raises(TypeError, match=r"from_numpy: expected np.ndarray \(got list\)"):
        gg.from_numpy([1.0])
    with pytest.raises(TypeError, match="from_numpy: can't convert an array of dtype <U1"):
        gg.from_numpy(np.array(["a"]))


# ---------------------------------------------------------------- ranges
@pytest.mark.parametrize("args, kwargs, expected", [
    ((5,), {}, [0, 1, 2, 3, 4]),
    ((2, 8, 3), {}, [2, 5]),
    ((1, 2.5, 0.5), {}, [1.0, 1.5, 2.0]),
    ((5, 0, -2), {}, [5, 3, 1]),
    ((0,), {}, []),
    ((-1.5, 3), {"dtype": np.int64}, [-1, 0, 1, 2]),  # an integer dtype truncates first
    ((5, 0.5, -1.5), {"dtype": np.int64}, [5, 4, 3, 2, 1]),
    ((gg.tensor(3),), {}, [0, 1, 2]),
])
def test_arange_values(args, kwargs, expected):
    np.testing.assert_allclose(gg.arange(*args, **kwargs).numpy(), expected)


@pytest.mark.parametrize("args, match", [
    ((0, 1, 0), "step must be nonzero"),
    ((0, 2.5, 0.5, np.int64), "step must be nonzero"),
    ((0, 1, -1), "inconsistent with step sign"),
    ((0, float("inf")), "unsupported range"),
])
def test_arange_errors(args, match):
    *args, dtype = args if len(args) == 4 else (*args, None)
    with pytest.raises(ValueError, match=f"arange: .*{match}"):
        gg.arange(*args, dtype=dtype)


def test_arange_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for _ in range(40):
        start, end = np.round(rng.uniform(-50, 50, 2), 2).tolist()
        step = float(np.round(rng.uniform(0.1, 7), 2)) * (1 if end >= start else -1)
        for dtype, tdtype, rtol in ((np.float32, torch.float32, 1e-6),
                                    (np.float64, torch.float64, 1e-13),
                                    (np.int64, torch.int64, 0)):
            try:
                theirs = torch.arange(start, end, step, dtype=tdtype).numpy()
            except (RuntimeError, ValueError):  # a step that truncates to 0
                with pytest.raises(ValueError, match="arange: step must be nonzero"):
                    gg.arange(start, end, step, dtype=dtype)
                continue
            ours = gg.arange(start, end, step, dtype=dtype).numpy()
            assert ours.shape == theirs.shape, (start, end, step, dtype)
            # PyTorch adds float32 multiples of the step within a vector: near 0, an error
            # of the size of the other values' rounding
            np.testing.assert_allclose(ours, theirs, rtol=rtol,
                                       atol=rtol * max(1, abs(start), abs(end)))


def test_linspace_values_and_errors():
    np.testing.assert_allclose(gg.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    assert gg.linspace(3, 7, 1).tolist() == [3.0] and gg.linspace(0, 1, 0).shape == (0,)
    assert gg.linspace(0, 10, 4, dtype=gg.int64).tolist() == [0, 3, 6, 10]
    with pytest.raises(ValueError, match="linspace: number of steps must be non-negative"):
        gg.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="linspace: steps must be an int"):
        gg.linspace(0, 1, 2.0)


def test_linspace_matches_torch_bit_for_bit():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for _ in range(60):
        start, end = np.round(rng.uniform(-100, 100, 2), rng.integers(0, 4)).tolist()
        steps = int(rng.integers(0, 30))
        for dtype, tdtype in ((np.float32, torch.float32), (np.int64, torch.int64)):
            ours = gg.linspace(start, end, steps, dtype=dtype).numpy()
            theirs = torch.linspace(start, end, steps, dtype=tdtype).numpy()
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{start, end, steps, dtype}")
        ours = gg.linspace(start, end, steps, dtype=np.float64).numpy()
        theirs = torch.linspace(start, end, steps, dtype=torch.float64).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=1e-13)


# ----------------------------------------------------------- random draws
DRAWS = {  # each takes generator= and draws from the project generator without it
    "rand": lambda g: gg.rand(3, 2, generator=g),
    "randn": lambda g: gg.randn(4, generator=g),
    "randint": lambda g: gg.randint(2, 9, (5,), generator=g),
    "randperm": lambda g: gg.randperm(6, generator=g),
    "rand_like": lambda g: gg.rand_like(gg.ones(3), generator=g),
    "randn_like": lambda g: gg.randn_like(gg.ones(3), generator=g),
    "randint_like": lambda g: gg.randint_like(gg.ones(3), 7, generator=g),
    "multinomial": lambda g: gg.multinomial(gg.tensor([1.0, 2.0, 3.0]), 2, generator=g),
    "multinomial replacement": lambda g: gg.tensor([[1.0, 2.0], [3.0, 0.5]]).multinomial(
        4, True, generator=g),
    "normal floats": lambda g: gg.normal(1.0, 2.0, (3,), generator=g),
    "normal tensors": lambda g: gg.normal(gg.zeros(3), gg.ones(2, 1), generator=g),
    "bernoulli": lambda g: gg.bernoulli(gg.full((5,), 0.5), generator=g),
    "bernoulli p": lambda g: gg.ones(5).bernoulli(0.3, generator=g),
    "normal_": lambda g: gg.empty(4).normal_(1.0, 3.0, generator=g),
    "uniform_": lambda g: gg.empty(4).uniform_(-2.0, 5.0, generator=g),
    "exponential_": lambda g: gg.empty(4).exponential_(2.0, generator=g),
    "bernoulli_": lambda g: gg.empty(4).bernoulli_(0.4, generator=g),
    "random_": lambda g: gg.empty(4).random_(0, 1000, generator=g),
}


@pytest.mark.parametrize("name", DRAWS)
def test_manual_seed_reproduces_draws(name):
    gg.manual_seed(123)
    first = DRAWS[name](None).numpy().copy()
    second = DRAWS[name](None).numpy().copy()
    gg.manual_seed(123)
    np.testing.assert_array_equal(DRAWS[name](None).numpy(), first)
    assert not np.array_equal(first, second) or name == "multinomial"  # the stream moves on


@pytest.mark.parametrize("name", DRAWS)
def test_a_generator_draws_on_its_own(name):
    state = gg.get_rng_state()
    mine = DRAWS[name](gg.Generator().manual_seed(5)).numpy().copy()
    assert gg.get_rng_state() == state  # the project's stream is untouched
    np.testing.assert_array_equal(DRAWS[name](gg.Generator().manual_seed(5)).numpy(), mine)
    with pytest.raises(TypeError, match="generator: expected a graphgrad Generator"):
        DRAWS[name](42)


@pytest.mark.parametrize("draw", [
    lambda: gg.normal(0.0, 1.0, ()), lambda: gg.rand(()), lambda: gg.randint(3, ()),
    lambda: gg.normal(gg.tensor(0.0), 1.0), lambda: gg.bernoulli(gg.tensor(0.5)),
    lambda: gg.tensor(1.0).random_(), lambda: gg.randint_like(gg.tensor(1.0), 3),
])
def test_zero_dim_draws_hold_arrays(draw):
    t = draw()
    assert t.shape == () and type(t.numpy()) is np.ndarray


def test_rand_randn_moments():
    gg.manual_seed(0)
    u = gg.rand(100_000, dtype=gg.float64).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    z = gg.randn(100_000, dtype=gg.float64).numpy()
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01


@pytest.mark.parametrize("args, kwargs, low, high", [
    ((7, (2000,)), {}, 0, 7),
    ((-3, 4, (2000,)), {}, -3, 4),
    ((5,), {"size": (2000,)}, 0, 5),
    ((), {"low": 2, "high": 6, "size": (2000,)}, 2, 6),
    ((1, (2000,)), {"dtype": gg.int8}, 0, 1),
    ((0, 256, (2000,)), {"dtype": gg.uint8}, 0, 256),
])
def test_randint_forms_and_ranges(args, kwargs, low, high):
    gg.manual_seed(1)
    values = gg.randint(*args, **kwargs).numpy()
    assert values.shape == (2000,)
    np.testing.assert_array_equal(np.unique(values), np.arange(low, high))  # all, and only


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((5,), {}, TypeError, r"randint\(high, size\)"),
    ((1, 2, 3), {}, TypeError, r"randint\(low, high, size\)"),
    ((2.5, (2,)), {}, TypeError, "high must be an int, got 2.5"),
    ((3, 2, (2,)), {}, ValueError, "from=3 >= to=2"),
    ((0, 300, (2,)), {"dtype": gg.uint8}, ValueError, r"range \[0, 300\) does not fit"),
    ((-1, 1, (2,)), {"dtype": gg.bool}, ValueError, "does not fit dtype bool"),
])
def test_randint_errors(args, kwargs, error, match):
    with pytest.raises(error, match=f"randint: .*{match}"):
        gg.randint(*args, **kwargs)


@pytest.mark.parametrize("n", [0, 1, 10])
def test_randperm_is_a_permutation(n):
    p = gg.randperm(n)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(n))
    with pytest.raises(ValueError, match="randperm: n must be non-negative, got -1"):
        gg.randperm(-1)


def _chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


CHI2_999_DF3 = 16.27  # the 99.9% quantile of chi-square with 3 degrees of freedom
WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0])  # unnormalised: p = [0.1, 0.2, 0.3, 0.4]


def test_multinomial_with_replacement_follows_the_weights():
    gg.manual_seed(2)
    draws = gg.multinomial(gg.tensor(WEIGHTS), 20_000, replacement=True).numpy()
    counts = np.bincount(draws, minlength=4)
    p = WEIGHTS / WEIGHTS.sum()
    assert _chi_square(counts, p) < CHI2_999_DF3
    assert _chi_square(counts, np.full(4, 0.25)) > 100 * CHI2_999_DF3  # the test has power


def test_multinomial_without_replacement_draws_in_sequence():
    gg.manual_seed(3)
    rows = gg.tensor(np.tile(WEIGHTS, (8000, 1)))
    draws = gg.multinomial(rows, 2).numpy()
    assert draws.shape == (8000, 2) and (draws[:, 0] != draws[:, 1]).all()
    p = WEIGHTS / WEIGHTS.sum()
    assert _chi_square(np.bincount(draws[:, 0], minlength=4), p) < CHI2_999_DF3
    # The second draw excludes the first: P(second = j) = sum_{i != j} p_i p_j / (1 - p_i).
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j)
                       for j in range(4)])
    assert _chi_square(np.bincount(draws[:, 1], minlength=4), second) < CHI2_999_DF3
    assert _chi_square(np.bincount(draws[:, 1], minlength=4), p) > 10 * CHI2_999_DF3


def test_multinomial_zero_weights():
    gg.manual_seed(4)
    w = gg.tensor([[0.0, 1.0, 0.0, 2.0], [5.0, 0.0, 0.0, 0.0]])
    with_replacement = w.multinomial(500, replacement=True).numpy()
    assert set(with_replacement[0]) == {1, 3} and set(with_replacement[1]) == {0}
    everything = gg.multinomial(w, 4).numpy()  # zero weights come last, in index order
    assert sorted(everything[0, :2]) == [1, 3] and everything[0, 2:].tolist() == [0, 2]
    assert everything[1].tolist() == [0, 1, 2, 3]
    assert gg.multinomial(gg.ones(0, 3), 2).shape == (0, 2)


@pytest.mark.parametrize("weights, num_samples, replacement, error, match", [
    ([1.0, -2.0], 1, False, ValueError, "inf, nan or an element < 0"),
    ([1.0, np.inf], 1, False, ValueError, "inf, nan or an element < 0"),
    ([1.0, np.nan], 1, True, ValueError, "inf, nan or an element < 0"),
    ([[1.0, 1.0], [0.0, 0.0]], 1, False, ValueError, r"sum of probabilities <= 0\) in row 1"),
    ([1.0, 0.0, 1.0], 4, False, ValueError, "cannot sample 4 > 3 categories without"),
    ([1.0, 2.0], 0, True, ValueError, "num_samples = 0 <= 0"),
    ([[[1.0]]], 1, True, ValueError, r"1-D or 2-D, got shape \(1, 1, 1\)"),
    (np.array([1, 2]), 1, True, TypeError, "only floating point weights"),
])
def test_multinomial_errors(weights, num_samples, replacement, error, match):
    with pytest.raises(error, match=f"multinomial: .*{match}"):
        gg.multinomial(gg.tensor(weights), num_samples, replacement)


def test_normal_forms_and_moments():
    gg.manual_seed(5)
    x = gg.normal(2.0, 3.0, (200_000,), dtype=gg.float64).numpy()
    assert abs(x.mean() - 2) < 0.03 and abs(x.std() - 3) < 0.03
    mean = gg.tensor([[-10.0], [10.0]], dtype=gg.float64)
    std = gg.tensor(np.full(50_000, 0.5))
    y = gg.normal(mean, std).numpy()  # broadcast: (2, 50000)
    assert y.shape == (2, 50_000) and y.dtype == np.float64
    np.testing.assert_allclose(y.mean(axis=1), [-10, 10], atol=0.01)
    np.testing.assert_allclose(y.std(axis=1), [0.5, 0.5], atol=0.01)
    assert gg.normal(mean).shape == (2, 1) and gg.normal(1.0, std).shape == (50_000,)
    assert (gg.normal(mean, 0.0).numpy() == mean.numpy()).all()


@pytest.mark.parametrize("call, error, match", [
    (lambda: gg.normal(0.0, 1.0), TypeError, "give the size"),
    (lambda: gg.normal(gg.zeros(2), 1.0, (2,)), TypeError, "size, dtype, device"),
    (lambda: gg.normal(gg.zeros(2), requires_grad=True), TypeError, "size, dtype, device"),
    (lambda: gg.normal(0.0, -1.0, (2,)), ValueError, "std >= 0.0, got std -1.0"),
    (lambda: gg.normal(gg.zeros(2), gg.tensor([1.0, -1.0])), ValueError, "all elements"),
    (lambda: gg.normal(gg.zeros(2, dtype=gg.int64)), TypeError, "floating point"),
    (lambda: gg.normal(gg.zeros(2, 3), gg.ones(4)), ValueError, "broadcast"),
])
def test_normal_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("sample", [
    lambda m, s: gg.normal(m, s),
    lambda m, s: gg.normal(m),
    lambda m, s: gg.normal(1.0, s),
    lambda m, s: gg.bernoulli(gg.sigmoid(m)),
    lambda m, s: m.clone().normal_(),
    lambda m, s: (m * 1).uniform_(),
    lambda m, s: (m * 1).bernoulli_(0.5),
])
def test_draws_have_a_zero_gradient_as_torchs(sample):
    m = gg.zeros(2, 3, requires_grad=True, dtype=gg.float64)
    s = gg.ones(3, requires_grad=True, dtype=gg.float64)
    out = sample(m, s)
    assert out.requires_grad and out.grad_fn is not None
    upstream = gg.tensor(np.random.default_rng(0).standard_normal(out.shape))
    grads = gg.autograd.grad(out, [m, s], grad_outputs=upstream, allow_unused=True,
                             create_graph=True)
    assert any(g is not None for g in grads)
    for g, leaf in zip(grads, (m, s), strict=True):
        assert g is None or (g.shape == leaf.shape and (g.numpy() == 0).all())


def test_bernoulli_moments_and_forms():
    gg.manual_seed(6)
    p = gg.tensor(np.linspace(0, 1, 5)).reshape(5, 1).expand(5, 20_000)
    b = gg.bernoulli(p).numpy()
    assert b.dtype == np.float64 and set(np.unique(b)) <= {0.0, 1.0}
    np.testing.assert_allclose(b.mean(axis=1), np.linspace(0, 1, 5), atol=0.01)
    assert b[0].sum() == 0 and b[-1].all()
    q = gg.zeros(40_000).bernoulli(0.25).numpy()  # p given: input only sets shape and dtype
    assert abs(q.mean() - 0.25) < 0.01
    assert gg.Tensor.bernoulli is gg.bernoulli and gg.Tensor.multinomial is gg.multinomial
    with pytest.raises(ValueError, match=r"bernoulli: expects p to be in \[0, 1\]"):
        gg.bernoulli(gg.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"bernoulli: expects p to be in \[0, 1\]"):
        gg.bernoulli(gg.zeros(2), 1.3)
    with pytest.raises(TypeError, match="bernoulli: expected a floating point input"):
        gg.bernoulli(gg.ones(2, dtype=gg.int64))


# -------------------------------------------------------- in-place fillers
def test_fillers_moments_and_ranges():
    gg.manual_seed(7)
    x = gg.empty(100_000, dtype=gg.float64)
    assert x.normal_(1.0, 2.0) is x
    assert abs(x.numpy().mean() - 1) < 0.03 and abs(x.numpy().std() - 2) < 0.03
    u = x.uniform_(-2.0, 3.0).numpy()
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.03
    e = x.exponential_(4.0).numpy()
    assert e.min() >= 0 and abs(e.mean() - 0.25) < 0.005
    ints = gg.zeros(20_000, dtype=gg.int64)
    assert abs(ints.bernoulli_(0.3).numpy().mean() - 0.3) < 0.01
    flags = gg.zeros(4, dtype=gg.bool).bernoulli_(gg.tensor([0.0, 1.0, 0.0, 1.0]))
    assert flags.tolist() == [False, True, False, True]


@pytest.mark.parametrize("dtype, args, low, high", [
    (gg.float32, (5,), 0, 5),
    (gg.float32, (-3, 2), -3, 2),
    (gg.int64, (), 0, 2**63 - 1),
    (gg.uint8, (), 0, 255),
    (gg.bool, (), 0, 1),
    (gg.float32, (), 0, 2**24),
    (gg.float64, (), 0, 2**53),
])
def test_random_ranges(dtype, args, low, high):
    gg.manual_seed(8)
    values = gg.zeros(5000, dtype=dtype).random_(*args).numpy()
    assert values.min() >= low and values.max() <= high
    if high - low < 300:  # small ranges: every value [low, high - 1 or high] shows up
        top = high if not args else high - 1
        np.testing.assert_array_equal(np.unique(values.astype(np.int64)), np.arange(low, top + 1))
    else:  # large ones: spread over the range
        assert values.astype(np.float64).max() > high / 2


@pytest.mark.parametrize("call, error, match", [
    (lambda: gg.empty(2, dtype=gg.int64).normal_(), TypeError, "normal_: not supported .* int64"),
    (lambda: gg.empty(2, dtype=gg.int64).uniform_(), TypeError, "uniform_: not supported"),
    (lambda: gg.empty(2).normal_(0.0, -1.0), ValueError, "normal_: expects std >= 0.0"),
    (lambda: gg.empty(2).uniform_(2.0, 1.0), ValueError, "from=2.0 > to=1.0"),
    (lambda: gg.empty(2).exponential_(0.0), ValueError, "exponential_: expects lambd > 0.0"),
    (lambda: gg.empty(2).bernoulli_(1.5), ValueError, r"bernoulli_: expects p to be in \[0, 1\]"),
    (lambda: gg.empty(3).bernoulli_(gg.full((2,), 0.5)), ValueError, "cannot be broadcast"),
    (lambda: gg.empty(3).bernoulli_(gg.full((2, 3), 0.5)), ValueError, "does not broadcast"),
    (lambda: gg.empty(2).random_(5, 2), ValueError, "random_: expects 'from' to be less"),
    (lambda: gg.empty(2, dtype=gg.uint8).random_(300), ValueError, "does not fit dtype uint8"),
    (lambda: gg.zeros(2, requires_grad=True).normal_(), RuntimeError, "normal_: a leaf tensor"),
])
def test_filler_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_fillers_change_a_leaf_under_no_grad_and_bump_its_version():
    w = gg.zeros(3, requires_grad=True)
    with gg.no_grad():
        w.uniform_(1.0, 2.0)
    assert w.requires_grad and w.is_leaf and w._version == 1
    assert ((w.numpy() >= 1) & (w.numpy() < 2)).all()
