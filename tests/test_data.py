"""autograd.numpy(): TensorDataset, DataLoader batching, seeded shuffling, collation, resume."""
from collections import namedtuple

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.utils.data import DataLoader, Dataset, TensorDataset, default_collate


def dataset(n=10):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(X, gg.tensor(y))


def test_tensor_dataset():
    ds = dataset()
    assert len(ds) == 10
    x, y = ds[3]
    assert isinstance(x, gg.Tensor) and x.shape == (3,) and y.item() == 3
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


@pytest.mark.parametrize("batch_size, drop_last, sizes", [
    (3, False, [3, 3, 3, 1]), (3, True, [3, 3, 3]), (5, False, [5, 5]), (1, False, [1] * 10),
    (20, False, [10]), (20, True, []),
])
def test_batches_in_order(batch_size, drop_last, sizes):
    loader = DataLoader(dataset(), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(sizes)
    batches = list(loader)
    assert [len(y) for _, y in batches] == sizes
    if batches:
        ys = np.concatenate([y.numpy() for _, y in batches])
        np.testing.assert_array_equal(ys, np.arange(len(ys)))
        xb, yb = batches[0]
        assert isinstance(xb, gg.Tensor) and xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb.numpy(), np.arange(10 * 3).reshape(10, 3)[:batch_size])


def test_shuffle_is_seeded_and_new_each_epoch():
    def epochs(seed, n=3):
        gg.manual_seed(seed)
        loader = DataLoader(dataset(50), batch_size=7, shuffle=True)
        return [np.concatenate([y.numpy() for _, y in loader]) for _ in range(n)]

    a, b, c = epochs(0), epochs(0), epochs(1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])  # a fresh order each epoch
    assert not np.array_equal(a[0], c[0])
    for order in a:
        np.testing.assert_array_equal(np.sort(order), np.arange(50))


def test_own_generator():
    def order(seed):
        loader = DataLoader(dataset(), batch_size=10, shuffle=True,
                            generator=np.random.default_rng(seed))
        return next(iter(loader))[1].numpy()

    np.testing.assert_array_equal(order(3), order(3))
    state = gg.get_rng_state()
    order(4)
    assert gg.get_rng_state() == state  # the project generator was not touched


def test_break_then_iterate_starts_a_new_epoch():
    loader = DataLoader(dataset(), batch_size=3)
    first = next(iter(loader))[1].numpy()
    np.testing.assert_array_equal(next(iter(loader))[1].numpy(), first)


class Samples(Dataset):
    """Samples as nested structures of numbers, arrays, Tensors and strings."""

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, i, dtype=np.float64), "t": gg.tensor([float(i)]),
                "pair": (i, float(i) / 2, i % 2 == 0), "name": f"s{i}"}


def test_default_collate_nested():
    batch = next(iter(DataLoader(Samples(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == np.float64
    assert batch["t"].shape == (3, 1) and batch["t"].dtype == np.float32
    ints, floats, bools = batch["pair"]
    assert ints.dtype == np.int64 and floats.dtype == np.float64 and bools.dtype == np.bool_
    np.testing.assert_array_equal(floats.numpy(), [0.0, 0.5, 1.0])
    assert batch["name"] == ["s0", "s1", "s2"]


def test_default_collate_lists_namedtuples_and_errors():
    P = namedtuple("P", "a b")
    out = default_collate([P(1, np.zeros(2)), P(2, np.ones(2))])
    assert isinstance(out, P) and out.a.tolist() == [1, 2] and out.b.shape == (2, 2)
    out = default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(out, list) and out[0].tolist() == [1, 3]
    with pytest.raises(TypeError, match="can't batch"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError, match=r"default_collate: .*same number of fields.*\[2, 1\]"):
        default_collate([(1, 2), (1,)])


def test_custom_collate_fn():
    loader = DataLoader(dataset(), batch_size=4, collate_fn=lambda samples: len(samples))
    assert list(loader) == [4, 4, 2]


def test_invalid_batch_size():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(dataset(), batch_size=bad)


def test_state_dict_resumes_mid_epoch():
    gg.manual_seed(7)
    loader = DataLoader(dataset(23), batch_size=4, shuffle=True)
    full = [y.numpy() for _, y in loader]

    gg.manual_seed(7)
    loader = DataLoader(dataset(23), batch_size=4, shuffle=True)
    it = iter(loader)
    seen = [next(it)[1].numpy() for _ in range(2)]
    state = loader.state_dict()
    assert state["position"] == 2

    other = DataLoader(dataset(23), batch_size=4, shuffle=True)
    other.load_state_dict(state)
    rest = [y.numpy() for _, y in other]
    for a, b in zip(full, seen + rest, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(seen + rest) == len(full)
    assert other.state_dict() == {"order": None, "position": 0}  # epoch finished


def test_load_state_dict_validates():
    loader = DataLoader(dataset(), batch_size=4)
    with pytest.raises(ValueError, match="permutation"):
        loader.load_state_dict({"order": np.arange(5), "position": 0})
    with pytest.raises(ValueError, match="permutation"):
        loader.load_state_dict({"order": np.arange(10) + 1, "position": 0})
    with pytest.raises(ValueError, match="position"):
        loader.load_state_dict({"order": np.arange(10), "position": 4})


def test_state_taken_after_the_last_batch_finishes_that_epoch():
    """A checkpoint in the loop body after the epoch's last batch resumes to an empty
    rest of epoch (not a repeat of it); after the loop, the state is 'between epochs'."""
    loader = DataLoader(dataset(8), batch_size=4, shuffle=True)
    states = [loader.state_dict() for _ in loader]
    assert states[-1]["position"] == 2 and states[-1]["order"] is not None
    other = DataLoader(dataset(8), batch_size=4, shuffle=True)
    other.load_state_dict(states[-1])
    assert list(other) == []
    assert loader.state_dict() == {"order": None, "position": 0}
