"""Samplers and random_split, as torch.utils.data's: orders, lengths, argument checks, the
statistics of the random ones, and reproducibility under gg.manual_seed and gg.Generator."""
import warnings

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    random_split,
)


def seeded(seed):
    return gg.Generator().manual_seed(seed)


def test_sequential_sampler():
    sampler = SequentialSampler(range(5))
    assert list(sampler) == [0, 1, 2, 3, 4] and len(sampler) == 5
    assert list(SequentialSampler([])) == []


def test_random_sampler_permutes_afresh_each_iteration():
    sampler = RandomSampler(range(30), generator=seeded(0))
    a, b = list(sampler), list(sampler)
    assert sorted(a) == sorted(b) == list(range(30)) and a != b
    assert len(sampler) == 30
    assert list(RandomSampler(range(30), generator=seeded(0))) == a


def test_random_sampler_reproducible_under_manual_seed_and_leaves_it_alone_with_a_generator():
    gg.manual_seed(3)
    a = list(RandomSampler(range(20)))
    gg.manual_seed(3)
    assert list(RandomSampler(range(20))) == a
    state = gg.get_rng_state()
    list(RandomSampler(range(20), generator=seeded(1)))
    assert gg.get_rng_state() == state


def test_random_sampler_more_samples_than_data_without_replacement():
    sampler = RandomSampler(range(4), num_samples=10, generator=seeded(2))
    draws = list(sampler)
    assert len(draws) == len(sampler) == 10
    assert sorted(draws[:4]) == sorted(draws[4:8]) == [0, 1, 2, 3]  # whole permutations
    assert len(set(draws[8:])) == 2  # then the start of one more


def test_random_sampler_with_replacement_is_uniform():
    draws = np.array(list(RandomSampler(range(5), replacement=True, num_samples=20000,
                                        generator=seeded(4))))
    counts = np.bincount(draws, minlength=5)
    assert counts.sum() == 20000 and draws.min() == 0 and draws.max() == 4
    # Each count is Binomial(20000, 0.2): standard deviation about 57.
    assert np.all(np.abs(counts - 4000) < 5 * 57), counts


def test_random_sampler_positions_are_uniform():
    """Over many epochs, each index is equally likely at the first position."""
    sampler = RandomSampler(range(4), generator=seeded(5))
    firsts = np.bincount([next(iter(sampler)) for _ in range(4000)], minlength=4)
    assert np.all(np.abs(firsts - 1000) < 5 * 28), firsts  # sd = sqrt(4000 * .25 * .75)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(replacement=1), TypeError, "replacement should be a boolean value"),
    (dict(num_samples=0), ValueError, "num_samples=0"),
    (dict(num_samples=-2), ValueError, "num_samples=-2"),
    (dict(num_samples=2.5), ValueError, "num_samples=2.5"),
])
def test_random_sampler_checks(kwargs, error, message):
    with pytest.raises(error, match=message):
        RandomSampler(range(3), **kwargs)


def test_subset_random_sampler():
    indices = [10, 20, 30, 40, 50]
    sampler = SubsetRandomSampler(indices, generator=seeded(6))
    a, b = list(sampler), list(sampler)
    assert sorted(a) == sorted(b) == indices and a != b and len(sampler) == 5
    assert list(SubsetRandomSampler(indices, generator=seeded(6))) == a


def test_weighted_sampler_frequencies_follow_the_weights():
    weights = [1.0, 0.0, 3.0, 6.0]
    sampler = WeightedRandomSampler(weights, 20000, generator=seeded(7))
    counts = np.bincount(list(sampler), minlength=4)
    expected = 20000 * np.array(weights) / 10
    sd = np.sqrt(20000 * 0.6 * 0.4)  # the largest binomial standard deviation here
    assert counts[1] == 0 and np.all(np.abs(counts - expected) < 5 * sd), counts
    assert len(sampler) == 20000


def test_weighted_sampler_without_replacement():
    sampler = WeightedRandomSampler(gg.tensor([5.0, 0.0, 1.0, 1.0, 2.0]), 4, replacement=False,
                                    generator=seeded(8))
    for _ in range(20):
        draws = list(sampler)
        assert sorted(draws) == [0, 2, 3, 4]  # distinct, never the zero weight
    firsts = np.bincount([next(iter(sampler)) for _ in range(2000)], minlength=5)
    assert firsts[0] > firsts[4] > firsts[2] * 1.3  # weight 5 over 2 over 1


@pytest.mark.parametrize("weights, num_samples, replacement, message", [
    ([1.0, 2.0], 0, True, "num_samples should be a positive integer"),
    ([1.0, 2.0], True, True, "num_samples should be a positive integer"),
    ([1.0, 2.0], 2, 1, "replacement should be a boolean"),
    ([[1.0, 2.0]], 2, True, r"1d sequence .* shape \(1, 2\)"),
    ([1.0, -2.0], 2, True, "non-negative"),
    ([0.0, 0.0], 2, True, "positive sum"),
    ([1.0, float("nan")], 2, True, "finite"),
    ([1.0, 0.0, 2.0], 3, False, "3 samples without replacement from 2 positive"),
])
def test_weighted_sampler_checks(weights, num_samples, replacement, message):
    with pytest.raises(ValueError, match=message):
        WeightedRandomSampler(weights, num_samples, replacement=replacement)


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3
    assert len(BatchSampler(range(7), 3, True)) == 2
    assert list(BatchSampler(range(6), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer"):
            BatchSampler(range(3), bad, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 2, 0)


def test_deterministic_samplers_match_torch():
    torch = pytest.importorskip("torch")
    from torch.utils import data as tdata

    for n, size, drop in [(7, 3, False), (7, 3, True), (6, 2, True), (1, 4, False)]:
        ours = list(BatchSampler(SequentialSampler(range(n)), size, drop))
        theirs = list(tdata.BatchSampler(tdata.SequentialSampler(range(n)), size, drop))
        assert ours == theirs
        assert len(BatchSampler(range(n), size, drop)) == len(theirs)
    assert torch.utils.data.RandomSampler.__init__.__defaults__ == \
        RandomSampler.__init__.__defaults__


def test_loader_with_weighted_sampler_is_reproducible():
    ds = TensorDataset(np.arange(8))

    def epoch(seed):
        sampler = WeightedRandomSampler(np.arange(8.0), 12, generator=seeded(seed))
        return [b[0].tolist() for b in DataLoader(ds, sampler=sampler, batch_size=5)]

    a = epoch(1)
    assert [len(b) for b in a] == [5, 5, 2] and 0 not in sum(a, [])
    assert epoch(1) == a and epoch(2) != a


# ------------------------------------------------------------------ random_split
def test_random_split_lengths_cover_the_dataset():
    parts = random_split(range(10), [3, 7], generator=seeded(0))
    assert [len(p) for p in parts] == [3, 7] and all(isinstance(p, Subset) for p in parts)
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    again = random_split(range(10), [3, 7], generator=seeded(0))
    assert [list(p) for p in again] == [list(p) for p in parts]
    gg.manual_seed(1)
    a = [list(p) for p in random_split(range(10), [5, 5])]
    gg.manual_seed(1)
    assert [list(p) for p in random_split(range(10), [5, 5])] == a


@pytest.mark.parametrize("n, fractions, lengths", [
    (10, [0.3, 0.7], [3, 7]), (11, [0.5, 0.5], [6, 5]), (10, [1 / 3] * 3, [4, 3, 3]),
    (3, [0.1, 0.1, 0.8], [1, 0, 2]), (5, [1.0], [5]),
])
def test_random_split_fractions(n, fractions, lengths):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = random_split(range(n), fractions, generator=seeded(0))
    assert [len(p) for p in parts] == lengths
    assert bool(caught) == (0 in lengths)  # an empty split is warned about
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.utils.data.random_split(range(n), fractions)
    assert [len(p) for p in theirs] == lengths


@pytest.mark.parametrize("lengths, message", [
    ([3, 6], r"must be non-negative and sum to the length of the input dataset \(10\)"),
    ([-1, 11], "non-negative"),
    ([0.5, 1.5, -1.0], r"fraction at index 1 is not between 0 and 1"),
])
def test_random_split_checks(lengths, message):
    with pytest.raises(ValueError, match=message):
        random_split(range(10), lengths)
