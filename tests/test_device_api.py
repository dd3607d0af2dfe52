"""The device API around the ops (issue 20) on the device under test
(``tests/device_under_test.py``: the strict stand-in GPU, NumPy arrays that refuse
implicit host transfers as CuPy's, or a real GPU with GRAPHGRAD_TEST_GPU=1): factories
making their arrays on the device, one seeded random source per device, and
``graphgrad.cuda``."""
from __future__ import annotations

import numpy as np
import pytest
from device_under_test import TOLERANCE, cuda_for_tests, no_cuda

import graphgrad as gg
import graphgrad.cuda as cuda
from graphgrad.autograd.arrays import find_backend, is_device_array
from graphgrad.testing.strict_arrays import strict_cuda


@pytest.fixture(autouse=True)
def device():
    with cuda_for_tests():
        yield gg.device("cuda:0")
    gg.manual_seed(0)  # the device seeds set here do not leak into later tests


def host(t: gg.Tensor) -> np.ndarray:
    assert is_device_array(t._data), f"not on the device: {type(t._data).__name__}"
    return t.cpu().numpy()


# --------------------------------------------------------------- factories
CONSTANTS = {  # factory(device, like): the same values on every device
    "tensor": lambda d, like: gg.tensor([[1.0, 2.0]], device=d),
    "as_tensor": lambda d, like: gg.as_tensor(np.arange(3.0), device=d),
    "zeros": lambda d, like: gg.zeros(2, 3, device=d),
    "ones": lambda d, like: gg.ones((2,), dtype=gg.int64, device=d),
    "full": lambda d, like: gg.full((2, 2), 7, device=d),
    "arange int": lambda d, like: gg.arange(1, 10, 3, device=d),
    "arange float": lambda d, like: gg.arange(-1.0, 2.0, 0.3, device=d),
    "linspace": lambda d, like: gg.linspace(0, 1, 7, device=d),
    "eye": lambda d, like: gg.eye(3, 2, device=d),
    "zeros_like": lambda d, like: gg.zeros_like(like, device=d),
    "ones_like": lambda d, like: gg.ones_like(like, dtype=gg.float64, device=d),
    "full_like": lambda d, like: gg.full_like(like, 2.5, device=d),
}
SHAPED = {  # factories whose values are not compared (memory or draws)
    "empty": lambda d, like: gg.empty(2, 3, device=d),
    "empty_like": lambda d, like: gg.empty_like(like, device=d),
    "rand": lambda d, like: gg.rand(2, 3, device=d),
    "randn": lambda d, like: gg.randn(2, 3, dtype=gg.float64, device=d),
    "randint": lambda d, like: gg.randint(-3, 9, (2, 3), device=d),
    "randint uint8": lambda d, like: gg.randint(0, 200, (2, 3), dtype=gg.uint8, device=d),
    "randperm": lambda d, like: gg.randperm(6, device=d),
    "rand_like": lambda d, like: gg.rand_like(like, device=d),
    "randn_like": lambda d, like: gg.randn_like(like, device=d),
    "randint_like": lambda d, like: gg.randint_like(like, 2, 5, device=d),
    "normal": lambda d, like: gg.normal(1.0, 2.0, (2, 3), device=d),
}


@pytest.mark.parametrize("name", CONSTANTS)
def test_constant_factories_make_the_cpu_values_on_the_device(name):
    like = gg.ones(2, 3)
    on_device = CONSTANTS[name]("cuda", like)
    on_cpu = CONSTANTS[name]("cpu", like)
    assert on_device.device == gg.device("cuda:0") and on_device.is_cuda
    got = host(on_device)
    assert got.dtype == on_cpu.dtype and got.shape == on_cpu.shape
    np.testing.assert_allclose(got, on_cpu.numpy(), **TOLERANCE)


@pytest.mark.parametrize("name", SHAPED)
def test_drawing_factories_make_their_arrays_on_the_device(name):
    like = gg.ones(2, 3)
    on_device, on_cpu = SHAPED[name]("cuda", like), SHAPED[name]("cpu", like)
    got = host(on_device)
    assert got.dtype == on_cpu.dtype and got.shape == on_cpu.shape


def test_factories_make_the_array_there_not_on_the_host(monkeypatch):
    """Only ``tensor``/``as_tensor`` (host data) and ``linspace`` (long double) move an
    array; the others make it with the device's array module."""
    like = gg.ones(2, 3).cuda()
    serving = type(find_backend("cuda"))
    moved, move = [], serving.to_device
    monkeypatch.setattr(serving, "to_device",
                        lambda self, a, i: moved.append(a.shape) or move(self, a, i))
    for name, make in {**CONSTANTS, **SHAPED}.items():
        if name not in ("tensor", "as_tensor", "linspace"):
            make("cuda", like)
    assert moved == []


@pytest.mark.parametrize("name", [n for n in {**CONSTANTS, **SHAPED} if "_like" in n])
def test_like_factories_default_to_the_input_device(name):
    make = {**CONSTANTS, **SHAPED}[name]
    on_device = gg.ones(2, 3).cuda()
    assert make(None, on_device).device == gg.device("cuda:0")
    assert make("cpu", on_device).device == gg.device("cpu")
    assert make(None, gg.ones(2, 3)).device == gg.device("cpu")


def test_out_on_the_device():
    out = gg.empty(3).cuda()
    assert gg.arange(3.0, out=out) is out and out.is_cuda
    np.testing.assert_allclose(host(out), [0.0, 1.0, 2.0], **TOLERANCE)
    gg.rand(3, out=out)
    assert out.is_cuda and np.all((host(out) >= 0) & (host(out) < 1))


def test_requires_grad_on_the_device():
    t = gg.zeros(2, device="cuda", requires_grad=True)
    assert t.is_leaf and t.requires_grad and t.is_cuda


def test_a_device_that_does_not_exist_is_refused():
    with pytest.raises(RuntimeError, match="zeros: device 'cuda:1' does not exist"):
        gg.zeros(2, device="cuda:1")


# ------------------------------------------------------------ random sources
DRAWS = {  # draw(device): each draws from the device's source
    "rand": lambda d: gg.rand(3, 2, device=d),
    "randn": lambda d: gg.randn(4, device=d),
    "randint": lambda d: gg.randint(2, 9, (5,), device=d),
    "randperm": lambda d: gg.randperm(6, device=d),
    "rand_like": lambda d: gg.rand_like(gg.ones(3, device=d)),
    "normal floats": lambda d: gg.normal(1.0, 2.0, (3,), device=d),
    "normal tensors": lambda d: gg.normal(gg.zeros(3, device=d), gg.ones(2, 1, device=d)),
    "bernoulli": lambda d: gg.bernoulli(gg.full((5,), 0.5, device=d)),
    "bernoulli p": lambda d: gg.ones(5, device=d).bernoulli(gg.full((5,), 0.3, device=d)),
    "multinomial": lambda d: gg.multinomial(gg.tensor([1.0, 2.0, 3.0], device=d), 2),
    "multinomial replacement": lambda d: gg.tensor([[1.0, 2.0], [3.0, 0.5]], device=d)
    .multinomial(4, True),
    "normal_": lambda d: gg.empty(4, device=d).normal_(1.0, 3.0),
    "uniform_": lambda d: gg.empty(4, device=d).uniform_(-2.0, 5.0),
    "exponential_": lambda d: gg.empty(4, device=d).exponential_(2.0),
    "bernoulli_": lambda d: gg.empty(4, device=d).bernoulli_(0.4),
    "random_": lambda d: gg.empty(4, device=d).random_(0, 1000),
}


@pytest.mark.parametrize("name", DRAWS)
def test_manual_seed_reproduces_device_draws(name):
    gg.manual_seed(123)
    first = host(DRAWS[name]("cuda"))
    second = host(DRAWS[name]("cuda"))
    gg.manual_seed(123)
    np.testing.assert_array_equal(host(DRAWS[name]("cuda")), first)
    assert not np.array_equal(first, second) or name == "multinomial"  # the stream moves on


@pytest.mark.parametrize("name", DRAWS)
def test_device_draws_leave_the_cpu_stream_alone(name):
    gg.manual_seed(5)
    state = gg.get_rng_state()
    DRAWS[name]("cuda")
    assert gg.get_rng_state() == state


@pytest.mark.parametrize("name", DRAWS)
def test_device_draws_are_valid(name):
    gg.manual_seed(1)
    values = host(DRAWS[name]("cuda"))
    if name in ("randperm",):
        assert sorted(values.tolist()) == list(range(6))
    elif name.startswith("multinomial"):
        assert values.dtype == np.int64 and np.all((values >= 0) & (values < 3))
        if name == "multinomial":
            assert len(set(values.tolist())) == 2  # without replacement
    elif name.startswith("bernoulli"):
        assert set(np.unique(values).tolist()) <= {0.0, 1.0}
    elif name == "uniform_":
        assert np.all((values >= -2) & (values < 5))
    elif name in ("rand", "rand_like"):
        assert np.all((values >= 0) & (values < 1))
    elif name in ("exponential_",):
        assert np.all(values >= 0)
    elif name in ("randint", "random_"):
        assert np.all(values == np.floor(values)) and values.min() >= 0


def test_cuda_manual_seed_seeds_the_device_only():
    gg.manual_seed(7)
    cpu_state = gg.get_rng_state()
    cuda.manual_seed(42)
    first = host(gg.rand(5, device="cuda"))
    assert gg.get_rng_state() == cpu_state
    cuda.manual_seed(42)
    np.testing.assert_array_equal(host(gg.rand(5, device="cuda")), first)
    cuda.manual_seed_all(42)
    np.testing.assert_array_equal(host(gg.rand(5, device="cuda")), first)
    cuda.manual_seed_all(43)
    assert not np.array_equal(host(gg.rand(5, device="cuda")), first)


def test_manual_seed_seeds_every_device():
    cuda.manual_seed(42)
    gg.manual_seed(9)  # overrides the device's own seed, as torch.manual_seed
    first = host(gg.randn(5, device="cuda"))
    cuda.manual_seed(42)
    gg.manual_seed(9)
    np.testing.assert_array_equal(host(gg.randn(5, device="cuda")), first)
    cuda.manual_seed(42)
    assert not np.array_equal(host(gg.randn(5, device="cuda")), first)


def test_a_device_generator_draws_on_its_device():
    g = gg.Generator(device="cuda")
    assert g.device == gg.device("cuda:0")
    first = host(gg.rand(4, generator=g.manual_seed(3), device="cuda"))
    gg.manual_seed(0)
    state = gg.get_rng_state()
    np.testing.assert_array_equal(host(gg.rand(4, generator=g.manual_seed(3), device="cuda")),
                                  first)
    assert gg.get_rng_state() == state
    np.testing.assert_array_equal(
        host(gg.empty(4, device="cuda").uniform_(generator=g.manual_seed(3))), first)
    with pytest.raises(RuntimeError, match="expected a generator on cpu, got one on cuda:0"):
        gg.rand(4, generator=g)
    with pytest.raises(RuntimeError, match="expected a generator on cuda:0, got one on cpu"):
        gg.rand(4, generator=gg.Generator(), device="cuda")
    with pytest.raises(RuntimeError, match="Generator.get_state: only a CPU generator"):
        g.get_state()


def test_a_device_source_is_remade_from_its_seed_for_a_new_backend():
    with strict_cuda():
        gg.manual_seed(11)
        first = host(gg.rand(3, device="cuda"))
    with strict_cuda():  # another backend: its source starts again from seed 11
        np.testing.assert_array_equal(host(gg.rand(3, device="cuda")), first)


# ------------------------------------------------------------ graphgrad.cuda
def test_cuda_module_with_a_device():
    n = cuda.device_count()
    assert cuda.is_available() and n >= 1 and cuda.is_initialized()
    assert cuda.current_device() == 0
    name = cuda.get_device_name()
    assert isinstance(name, str) and name
    assert name == cuda.get_device_name(0) == cuda.get_device_name(gg.device("cuda:0"))
    major, minor = cuda.get_device_capability()
    assert isinstance(major, int) and isinstance(minor, int)
    gg.ones(2, device="cuda")
    cuda.synchronize()
    cuda.synchronize("cuda:0")
    cuda.set_device(0)
    cuda.empty_cache()
    with pytest.raises(RuntimeError, match=rf"synchronize: device cuda:{n} does not exist: "
                                           rf"there (is|are) {n} cuda device"):
        cuda.synchronize(n)
    with pytest.raises(ValueError, match="get_device_name: expected a cuda device, got cpu"):
        cuda.get_device_name("cpu")


def test_cuda_module_without_a_backend_matches_torch_without_cuda():
    with no_cuda():
        assert not cuda.is_available() and cuda.device_count() == 0
        assert not cuda.is_initialized()
        cuda.manual_seed(1)
        cuda.empty_cache()
        with pytest.raises(RuntimeError, match="synchronize: graphgrad has no CUDA backend"):
            cuda.synchronize()
