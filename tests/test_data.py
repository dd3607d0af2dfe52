"""graphgrad.utils.data as torch.utils.data: TensorDataset, DataLoader batching and argument
checks, seeded shuffling, collation (compared with torch's), datasets, errors, resume."""
from collections import namedtuple

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.utils.data import DataLoader, Dataset, Subset, TensorDataset, default_collate


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


# ------------------------------------------------------------------ module layout
def test_module_paths_and_exports():
    import graphgrad.utils.data as data
    import graphgrad.utils.data.dataloader as dataloader_module

    assert dataloader_module.DataLoader is DataLoader
    assert dataloader_module.default_collate is default_collate
    assert dataloader_module.get_worker_info is data.get_worker_info
    for name in ["DataLoader", "Dataset", "IterableDataset", "TensorDataset", "Subset",
                 "ConcatDataset", "ChainDataset", "random_split", "default_collate",
                 "default_convert", "get_worker_info", "Sampler", "SequentialSampler",
                 "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
                 "BatchSampler"]:
        assert name in data.__all__ and hasattr(data, name), name
    assert data.get_worker_info() is None  # not in a worker


# ------------------------------------------------------------------ collation
P = namedtuple("P", "a b")


class MyList(list):
    pass


def plain(x):
    """A nested batch as plain comparable values: containers by type name, tensors (of
    either library) as (dtype name, values)."""
    if hasattr(x, "tolist") and hasattr(x, "dtype") and not isinstance(x, np.ndarray):
        return ("tensor", str(x.dtype).replace("torch.", ""), x.tolist())
    if isinstance(x, np.ndarray):
        return ("ndarray", str(x.dtype), x.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: plain(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [plain(v) for v in x])
    return (type(x).__name__, x)


def nested_sample(i, tensor):
    from collections import OrderedDict, defaultdict

    extra = defaultdict(list, {"k": np.float32(i) / 4})
    return {"pair": (i, float(i) / 2, i % 2 == 0), "t": tensor([i, i + 1]),
            "f": tensor([float(i)]), "arrays": [np.full(2, i), np.arange(3.0) * i],
            "np": (np.int64(i), np.float64(i), np.bool_(i > 0)), "name": f"s{i}",
            "nt": P(np.int32(i), "x"), "od": OrderedDict(z=i, a=[i, i]), "dd": extra,
            "mine": MyList([i, 2.5])}


def test_default_collate_containers_match_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    ours = default_collate([nested_sample(i, gg.tensor) for i in range(3)])
    theirs = torch_collate([nested_sample(i, torch.tensor) for i in range(3)])
    assert plain(ours) == plain(theirs)
    assert isinstance(ours["pair"], list) and isinstance(ours["nt"], P)
    assert type(ours["od"]).__name__ == "OrderedDict" and ours["dd"].default_factory is list
    assert type(ours["mine"]) is MyList
    assert ours["pair"][1].dtype == np.float64 and ours["pair"][0].dtype == np.int64


def test_default_convert_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_convert as torch_convert

    from graphgrad.utils.data import default_convert

    def sample(tensor):
        return ((np.arange(3), 1, 2.5, "s", np.float32(2), np.array(["a", "b"])),
                {"x": np.ones((2, 2)), "t": tensor([1.0]), "nt": P(np.int8(3), [np.zeros(1)])})

    ours, theirs = default_convert(sample(gg.tensor)), torch_convert(sample(torch.tensor))
    assert plain(ours) == plain(theirs)
    array = np.arange(4)
    converted = default_convert(array)
    converted[0] = 7
    assert array[0] == 7  # an array is converted without a copy, as torch.as_tensor


def test_batch_size_none_yields_converted_samples():
    class Pairs(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.arange(2) + i, i

    batches = list(DataLoader(Pairs(), batch_size=None))
    assert len(batches) == 3 and all(isinstance(b, list) for b in batches)
    x, i = batches[2]
    assert isinstance(x, gg.Tensor) and x.tolist() == [2, 3] and i == 2 and type(i) is int
    shuffled = list(DataLoader(Pairs(), batch_size=None, shuffle=True))
    assert sorted(i for _, i in shuffled) == [0, 1, 2]


def test_collate_of_different_shapes_names_them():
    with pytest.raises(RuntimeError, match=r"default_collate: .*entry 0 has shape \(2,\) and "
                                           r"entry 2 has shape \(3,\)"):
        default_collate([np.zeros(2), np.zeros(2), np.zeros(3)])

    class Ragged(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return gg.zeros(2 + i // 2, 3), i

    with pytest.raises(RuntimeError, match=r"default_collate: .*\(2, 3\).*\(3, 3\)"):
        list(DataLoader(Ragged(), batch_size=4))
    with pytest.raises(TypeError, match="dtype <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


def test_tensor_dataset_batches_equal_the_per_sample_path():
    """The loader reads TensorDataset batches (also through Subsets) with one fancy index
    per tensor; the result must be what default_collate makes of the samples."""
    ds = TensorDataset(np.arange(30, dtype=np.float64).reshape(10, 3),
                       gg.tensor(np.arange(10) % 3 == 0), np.arange(10, dtype=np.int32))
    order = [4, 1, 7, 9]
    fast = DataLoader(Subset(ds, order), batch_size=3, collate_fn=default_collate)
    slow = DataLoader(Subset(ds, order), batch_size=3, collate_fn=lambda s: default_collate(s))
    for a, b in zip(fast, slow, strict=True):
        assert isinstance(a, list) and len(a) == 3
        for x, y in zip(a, b, strict=True):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(x.numpy(), y.numpy())


# ------------------------------------------------------------------ argument checks
class Stream(gg.utils.data.IterableDataset):
    def __init__(self, n=7):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


BAD_ARGUMENTS = [
    (dict(sampler=[0, 1], shuffle=True), ValueError, "mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), ValueError, "batch_sampler option is mutually"),
    (dict(batch_sampler=[[0]], shuffle=True), ValueError, "batch_sampler option is mutually"),
    (dict(batch_sampler=[[0]], sampler=[0]), ValueError, "batch_sampler option is mutually"),
    (dict(batch_sampler=[[0]], drop_last=True), ValueError, "batch_sampler option is mutually"),
    (dict(batch_size=None, drop_last=True), ValueError, "disables auto-batching"),
    (dict(num_workers=-1), ValueError, "num_workers"),
    (dict(timeout=-1), ValueError, "timeout"),
    (dict(prefetch_factor=2), ValueError, "prefetch_factor"),
    (dict(num_workers=1, prefetch_factor=-1), ValueError, "prefetch_factor"),
    (dict(persistent_workers=True), ValueError, "persistent_workers option needs"),
    (dict(multiprocessing_context="fork"), ValueError, "num_workers > 0"),
    (dict(num_workers=1, multiprocessing_context="nope"), ValueError, "valid start method"),
    (dict(num_workers=1, multiprocessing_context=3), TypeError, "valid context"),
    (dict(batch_size=0), ValueError, "batch_size should be a positive integer"),
    (dict(batch_size=2, drop_last=1), ValueError, "drop_last should be a boolean"),
]
ITERABLE_ARGUMENTS = [
    (dict(shuffle=True), ValueError, "expected unspecified shuffle"),
    (dict(sampler=[0]), ValueError, "expected unspecified sampler"),
    (dict(batch_sampler=[[0]]), ValueError, "expected unspecified batch_sampler"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_ARGUMENTS)
def test_argument_checks(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(dataset(), **kwargs)


@pytest.mark.parametrize("kwargs, error, message", ITERABLE_ARGUMENTS)
def test_iterable_dataset_argument_checks(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(Stream(), **kwargs)


def test_argument_checks_raise_as_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader as TorchLoader
    from torch.utils.data import IterableDataset as TorchIterable

    class TorchStream(TorchIterable):
        def __iter__(self):
            return iter(range(3))

    for kwargs, error, _ in BAD_ARGUMENTS:
        with pytest.raises(error):
            TorchLoader(torch.utils.data.TensorDataset(torch.zeros(10)), **kwargs)
    for kwargs, error, _ in ITERABLE_ARGUMENTS:
        with pytest.raises(error):
            TorchLoader(TorchStream(), **kwargs)


def test_timeout_needs_workers():
    with pytest.raises(ValueError, match="timeout option applies to worker processes"):
        DataLoader(dataset(), timeout=1)


def test_empty_dataset_with_shuffle_raises_as_torch():
    with pytest.raises(ValueError, match=r"^num_samples should be a positive integer value, "
                                         r"but got num_samples=0$"):
        DataLoader(TensorDataset(np.zeros((0, 2))), shuffle=True)
    assert list(DataLoader(TensorDataset(np.zeros((0, 2))))) == []  # no shuffle: no batches


def test_fixed_attributes_after_init():
    loader = DataLoader(dataset(), batch_size=2)
    for name in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset",
                 "persistent_workers"):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set"):
            setattr(loader, name, None)
    loader.num_workers = 0  # others may change


def test_pin_memory_is_accepted_as_a_no_op():
    with pytest.warns(UserWarning, match="pin_memory"):
        loader = DataLoader(dataset(), batch_size=4, pin_memory=True, pin_memory_device="cpu")
    assert [len(y) for _, y in loader] == [4, 4, 2]


# ------------------------------------------------------------------ samplers in the loader
def test_sampler_and_batch_sampler_arguments():
    loader = DataLoader(dataset(), sampler=[9, 0, 5], batch_size=2)
    assert [y.tolist() for _, y in loader] == [[9, 0], [5]]
    assert len(loader) == 2
    loader = DataLoader(dataset(), batch_sampler=[[3], [1, 2, 8], [0, 0]])
    assert loader.batch_size is None and loader.drop_last is False
    assert [y.tolist() for _, y in loader] == [[3], [1, 2, 8], [0, 0]]
    assert len(loader) == 3 and len(iter(loader)) == 3


def test_custom_batch_sampler_resumes_mid_epoch():
    from graphgrad.utils.data import BatchSampler, RandomSampler

    def make():
        sampler = RandomSampler(range(11), generator=gg.Generator().manual_seed(5))
        return DataLoader(dataset(11), batch_sampler=BatchSampler(sampler, 4, False))

    full = [y.tolist() for _, y in make()]
    loader = make()
    it = iter(loader)
    seen = [next(it)[1].tolist()]
    state = loader.state_dict()
    assert state["batch_sizes"].tolist() == [4, 4, 3]
    other = make()
    other.load_state_dict(state)
    assert seen + [y.tolist() for _, y in other] == full
    with pytest.raises(ValueError, match="batch_sizes"):
        other.load_state_dict({**state, "batch_sizes": np.array([4, 4, 2])})


def test_weighted_sampler_state_allows_repeats_but_checks_range():
    from graphgrad.utils.data import WeightedRandomSampler

    loader = DataLoader(dataset(), sampler=WeightedRandomSampler([1.0] * 10, 6), batch_size=4)
    loader.load_state_dict({"order": np.array([1, 1, 1, 2, 3, 9]), "position": 1})
    assert [y.tolist() for _, y in loader] == [[3, 9]]
    with pytest.raises(ValueError, match=r"6 integer indices in range\(10\)"):
        loader.load_state_dict({"order": np.array([1, 1, 1, 2, 3, 10]), "position": 0})


def test_iterable_dataset_has_no_state_to_save():
    loader = DataLoader(Stream(), batch_size=2)
    next(iter(loader))
    with pytest.raises(TypeError, match="IterableDataset"):
        loader.state_dict()
    with pytest.raises(TypeError, match="IterableDataset"):
        loader.load_state_dict({"order": np.arange(3), "position": 0})


def test_state_dict_of_a_loaded_but_unstarted_epoch():
    loader = DataLoader(dataset(), batch_size=3, shuffle=True)
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    other = DataLoader(dataset(), batch_size=3, shuffle=True)
    other.load_state_dict(state)
    again = other.state_dict()  # a checkpoint before the resumed loop starts keeps the place
    assert again["position"] == 1 and np.array_equal(again["order"], state["order"])
    assert again["base_seed"] == state["base_seed"]


# ------------------------------------------------------------------ iterable datasets
def test_iterable_dataset_batches():
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5],
                                                                       [6]]
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == \
        [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    assert len(DataLoader(Stream(), batch_size=3)) == 3
    assert len(DataLoader(Stream(), batch_size=3, drop_last=True)) == 2
    chained = Stream(2) + Stream(3)
    assert isinstance(chained, gg.utils.data.ChainDataset) and len(chained) == 5
    assert list(chained) == [0, 1, 0, 1, 2]


# ------------------------------------------------------------------ errors name the index
class Broken(Dataset):
    def __init__(self, error=None):
        self.error = error or ValueError("bad sample")

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 7:
            raise self.error
        return i


def test_dataset_error_names_the_index():
    with pytest.raises(ValueError, match=r"^bad sample \(while loading index 7 of Broken\)$") \
            as info:
        list(DataLoader(Broken(), batch_size=4))
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value.__cause__) == "bad sample"
    with pytest.raises(ValueError, match="index 7 of Broken"):
        list(DataLoader(Broken(), batch_size=None))

    class NeedsTwo(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a}/{b}")

    with pytest.raises(RuntimeError, match=r"NeedsTwo: 1/2 \(while loading index 7 of Broken"):
        list(DataLoader(Broken(NeedsTwo(1, 2)), batch_size=4))


def test_getitems_error_names_the_indices():
    class Batched(Broken):
        def __getitems__(self, indices):
            if 7 in indices:
                raise KeyError("no such row")
            return [2 * i for i in indices]

    loader = DataLoader(Batched(), batch_size=4)
    it = iter(loader)
    assert next(it).tolist() == [0, 2, 4, 6]
    with pytest.raises(KeyError, match=r"indices \[4, 5, 6, 7\] of Batched"):
        next(it)


# ------------------------------------------------------------------ datasets
def test_subset_and_concat():
    from graphgrad.utils.data import ConcatDataset

    base = Broken()
    sub = Subset(base, [5, 2, 9])
    assert len(sub) == 3 and sub[0] == 5 and sub[-1] == 9
    both = Subset(dataset(), [1, 3]) + sub
    assert isinstance(both, ConcatDataset) and len(both) == 5
    assert both.cumulative_sizes == [2, 5]
    assert both[1][1].item() == 3 and both[2] == 5 and both[-1] == 9
    with pytest.raises(IndexError, match="index 5 is out of range for 5"):
        both[5]
    with pytest.raises(IndexError, match="out of range"):
        both[-6]
    assert [b.tolist() for b in DataLoader(sub, batch_size=2)] == [[5, 2], [9]]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([Stream()])

    class Doubled(Subset):
        def __getitem__(self, i):
            return 2 * super().__getitem__(i)

    with pytest.raises(NotImplementedError, match="__getitems__"):
        Doubled(base, [1])
