"""Small torch names scripts use: // and %, fmod, repeat/tile, initial_seed/seed,
compile, matmul precision and deterministic-algorithm settings, is_tensor, numel,
constants, and NumPy errors re-raised with the op's name."""
import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn as nn


def test_floor_divide_and_remainder_follow_python():
    x = gg.tensor([5.0, -3.0, 7.5], requires_grad=True)
    np.testing.assert_array_equal((x // 2).numpy(), [2.0, -2.0, 3.0])
    np.testing.assert_array_equal((x % 2).numpy(), [1.0, 1.0, 1.5])
    np.testing.assert_array_equal((7 // gg.tensor([2, -2])).numpy(), [3, -4])
    np.testing.assert_array_equal((7 % gg.tensor([2, -2])).numpy(), [1, -1])
    np.testing.assert_array_equal(gg.fmod(x, 2).numpy(), [1.0, -1.0, 1.5])
    assert not (x // 2).requires_grad
    y = gg.tensor([2.0, 2.0, 2.0], requires_grad=True)
    (x % y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [-2.0, 2.0, -3.0])  # -floor(x / y)


def test_remainder_and_fmod_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-5, 5, 20), rng.choice([-1.7, 1.3, 2.2], 20)
    for ours, theirs in ((gg.remainder, torch.remainder), (gg.fmod, torch.fmod)):
        x, y = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
        tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        ours(x, y).sum().backward()
        theirs(tx, ty).sum().backward()
        np.testing.assert_allclose(ours(x, y).numpy(), theirs(tx, ty).detach().numpy())
        np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())


@pytest.mark.parametrize(("shape", "reps"), [((2, 3), (2, 2)), ((3,), (2, 2, 1)), ((), (3,)),
                                             ((2, 1, 3), (1, 0, 2))])
def test_repeat_against_numpy_tile_and_gradient(shape, reps):
    a = np.random.default_rng(1).normal(size=shape)
    x = gg.tensor(a, requires_grad=True)
    y = x.repeat(*reps)
    np.testing.assert_array_equal(y.numpy(), np.tile(a, reps))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(shape, np.prod(reps)))
    assert x.repeat(reps).shape == y.shape
    with pytest.raises(ValueError, match="repeat: give one non-negative count per dim"):
        gg.zeros(2, 2).repeat(2)


def test_initial_seed_and_seed():
    gg.manual_seed(1234)
    assert gg.initial_seed() == 1234
    new = gg.seed()
    assert gg.initial_seed() == new and isinstance(new, int)
    gg.manual_seed(0)


def test_compile_returns_a_module_that_runs_the_model():
    model = nn.Linear(3, 2)
    compiled = gg.compile(model, mode="reduce-overhead")
    x = gg.randn(4, 3)
    np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())
    assert list(compiled.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    assert compiled.in_features == 3 and compiled._orig_mod is model

    def f(t):
        return t * 2

    assert gg.compile(f) is f and gg.compile()(f) is f


def test_settings_are_kept_and_reported():
    assert gg.get_float32_matmul_precision() == "highest"
    try:
        gg.set_float32_matmul_precision("high")
        assert gg.get_float32_matmul_precision() == "high"
        with pytest.raises(ValueError, match="set_float32_matmul_precision"):
            gg.set_float32_matmul_precision("fast")
        gg.use_deterministic_algorithms(True, warn_only=True)
        assert gg.are_deterministic_algorithms_enabled()
        assert gg.is_deterministic_algorithms_warn_only_enabled()
    finally:
        gg.set_float32_matmul_precision("highest")
        gg.use_deterministic_algorithms(False)


def test_small_names():
    assert gg.is_tensor(gg.ones(1)) and not gg.is_tensor(np.ones(1))
    assert gg.numel(gg.ones(2, 3)) == 6
    assert gg.pi == np.pi and gg.e == np.e and gg.inf == np.inf and np.isnan(gg.nan)


def test_numpy_errors_keep_a_builtin_type_and_name_the_op():
    with pytest.raises(TypeError, match="add_: Cannot cast"):
        gg.tensor([1, 2]).add_(gg.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match=r"add: operands could not be broadcast"):
        gg.tensor([1.0, 2.0]) + gg.zeros(3)
