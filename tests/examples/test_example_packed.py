"""examples/seq_packed_lengths.py: on the same padded batches, the LSTM fed the packed
sequences learns the last token far sooner than the one fed the padding."""
from __future__ import annotations

import numpy as np
from example_loader import load


def test_packed_lengths_quick(tmp_path):
    module = load("seq_packed_lengths")
    tokens, lengths, last = module.make_batch(50, np.random.default_rng(3))
    assert lengths.min() >= module.MIN_LENGTH and lengths.max() <= module.MAX_LENGTH
    assert np.all((tokens > 0).sum(1) == lengths)  # padding only after each sequence
    np.testing.assert_array_equal(last + 1, tokens[np.arange(50), lengths - 1])
    r = module.main(quick=True, out=tmp_path)
    packed, padded = r["packed"], r["padded"]
    assert packed["accuracy"] >= 0.97 and packed["steps_to_0.1"] <= 90
    assert padded["accuracy"] < packed["accuracy"] - 0.1  # still holding it through padding
    assert np.mean(padded["losses"][-20:]) > 5 * np.mean(packed["losses"][-20:])
