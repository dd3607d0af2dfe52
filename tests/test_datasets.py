"""autograd.datasets.load_digits: the shipped UCI digits, their fixed split, the file itself."""
import hashlib
from importlib import resources

import numpy as np
import pytest

from graphgrad.datasets import DIGITS_CLASSES, load_digits

ALL_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # images per digit 0..9
TEST_COUNTS = [35, 36, 35, 36, 36, 36, 36, 35, 34, 36]
FILE_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


@pytest.mark.parametrize("split, n", [("train", 1442), ("test", 355), ("all", 1797)])
def test_shapes_dtypes_and_ranges(split, n):
    images, labels = load_digits(split)
    assert images.shape == (n, 1, 8, 8) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.array_equal(np.unique(np.round(images * 16)), np.arange(17))  # counts 0..16 / 16
    assert set(labels.tolist()) == set(range(10)) and len(DIGITS_CLASSES) == 10


def test_label_counts():
    assert np.bincount(load_digits("all")[1]).tolist() == ALL_COUNTS
    assert np.bincount(load_digits("test")[1]).tolist() == TEST_COUNTS
    train = np.bincount(load_digits("train")[1])
    assert (train + TEST_COUNTS).tolist() == ALL_COUNTS


def test_split_is_disjoint_complete_and_stratified():
    all_x, all_y, all_i = load_digits("all", return_index=True)
    assert np.array_equal(all_i, np.arange(1797))
    parts = {s: load_digits(s, return_index=True) for s in ("train", "test")}
    train_i, test_i = parts["train"][2], parts["test"][2]
    assert len(np.intersect1d(train_i, test_i)) == 0
    assert np.array_equal(np.sort(np.concatenate([train_i, test_i])), np.arange(1797))
    for x, y, i in parts.values():
        assert np.all(np.diff(i) > 0)  # file order kept
        assert np.array_equal(x, all_x[i]) and np.array_equal(y, all_y[i])
    # Every 5th image of each digit (in file order) is a test image.
    for digit in range(10):
        of_digit = np.flatnonzero(all_y == digit)
        assert np.array_equal(of_digit[4::5], test_i[parts["test"][1] == digit])


def test_split_is_fixed():
    """Pinned values: a change of the split (or the data) must be deliberate."""
    _, test_y, test_i = load_digits("test", return_index=True)
    assert test_i[:8].tolist() == [33, 36, 37, 40, 44, 47, 51, 58]
    assert int(test_i.sum()) == 322_086
    again = load_digits("test", return_index=True)
    assert np.array_equal(again[2], test_i) and np.array_equal(again[1], test_y)


def test_returns_fresh_arrays():
    images, labels = load_digits("train")
    images[:] = -1
    labels[:] = -1
    images2, labels2 = load_digits("train")
    assert images2.min() == 0.0 and labels2.min() == 0


def test_bad_split():
    with pytest.raises(ValueError, match="split must be one of"):
        load_digits("validation")


def test_shipped_file_and_notice():
    data = resources.files("graphgrad.datasets").joinpath("data")
    blob = data.joinpath("digits.csv.gz").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == FILE_SHA256
    notice = data.joinpath("NOTICE").read_text()
    assert "CC BY 4.0" in notice and FILE_SHA256 in notice
