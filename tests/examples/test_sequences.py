"""The sequence helpers of the examples (examples/common/sequences.py), checked on values
worked out by hand: BLEU on the course's "the cat" sentences, beam search on a
hand-made distribution, edit distance, CTC's collapse, word-vector algebra."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from common import sequences as S  # noqa: E402

REFS = ["the cat is on the mat".split(), "there is a cat on the mat".split()]


# ------------------------------------------------------------------ BLEU
def test_modified_unigram_precision_of_the_course():
    # "the" appears 7 times but at most twice in one reference: 2/7 (plain precision 7/7).
    assert S.modified_precision("the the the the the the the".split(), REFS, 1) == (2, 7)


def test_modified_precisions_of_the_cat_the_cat():
    cand = "the cat the cat on the mat".split()
    # unigrams: the 3 -> clip 2, cat 2 -> 1, on 1, mat 1: 5/7
    assert S.modified_precision(cand, REFS, 1) == (5, 7)
    # bigrams: "the cat" 2 -> 1, "cat the" 0, "cat on" 1, "on the" 1, "the mat" 1: 4/6
    assert S.modified_precision(cand, REFS, 2) == (4, 6)
    assert S.ngrams(cand, 2)[("the", "cat")] == 2


def test_bleu_of_the_cat_the_cat():
    cand = "the cat the cat on the mat".split()
    # length 7 = the second reference's length: no brevity penalty
    assert S.bleu(cand, REFS, max_n=2) == pytest.approx(math.sqrt(5 / 7 * 4 / 6))
    assert S.bleu(cand, REFS, max_n=1) == pytest.approx(5 / 7)


def test_brevity_penalty():
    assert S.brevity_penalty(7, 6) == 1.0
    assert S.brevity_penalty(6, 6) == 1.0
    assert S.brevity_penalty(2, 6) == pytest.approx(math.exp(1 - 3))
    assert S.brevity_penalty(0, 6) == 0.0
    # "the cat": every n-gram matches, but it is far too short (closest reference 6 words)
    assert S.bleu("the cat".split(), REFS, max_n=2) == pytest.approx(math.exp(-2))


def test_bleu_extremes_and_smoothing():
    assert S.bleu(REFS[0], REFS) == pytest.approx(1.0)
    assert S.bleu("dog dog".split(), REFS) == 0.0
    short = "the cat sat".split()  # no matching trigram: 0 unsmoothed, > 0 smoothed
    assert S.bleu(short, REFS, max_n=3) == 0.0
    # p1 = 2/3, p2 = (1+1)/(2+1), p3 = (0+1)/(1+1); BP against length 6: exp(1 - 6/3)
    expected = math.exp(-1) * (2 / 3 * 2 / 3 * 1 / 2) ** (1 / 3)
    assert S.bleu(short, REFS, max_n=3, smooth=True) == pytest.approx(expected)


def test_corpus_bleu_sums_counts_over_sentences():
    cand = "the cat the cat on the mat".split()
    assert S.corpus_bleu([cand], [REFS], max_n=2) == pytest.approx(S.bleu(cand, REFS, max_n=2))
    # two sentences: p1 = (5 + 2) / (7 + 2), p2 = (4 + 1) / (6 + 1), c = 9, r = 7 + 6
    both = S.corpus_bleu([cand, "the cat".split()], [REFS, REFS], max_n=2)
    assert both == pytest.approx(math.exp(1 - 13 / 9) * math.sqrt(7 / 9 * 5 / 7))


# ------------------------------------------------------------------ beam search
BOS, EOS, A, B, C = 0, 1, 2, 3, 4


def table_step(table):
    """A decoder over a hand-made distribution: P(next | prefix) from ``table``; the state
    holds each hypothesis's prefix (an object array, so beam search can reorder it)."""
    def step(tokens, prefixes):
        rows = []
        new = np.empty(len(tokens), dtype=object)
        for i, (tok, prefix) in enumerate(zip(tokens, prefixes, strict=True)):
            prefix = prefix + ((int(tok),) if tok != BOS else ())
            new[i] = prefix
            log_probs = np.full(5, -np.inf)  # tokens not in the table are impossible
            for token, p in table[prefix].items():
                log_probs[token] = math.log(p)
            rows.append(log_probs)
        return np.array(rows), new

    return step


def start():
    state = np.empty(1, dtype=object)
    state[0] = ()
    return state


def test_beam_search_beats_greedy_on_a_hand_made_distribution():
    table = {(): {A: 0.5, B: 0.4, EOS: 0.1},
             (A,): {EOS: 0.4, B: 0.3, C: 0.3},
             (B,): {C: 0.9, EOS: 0.1},
             (A, B): {EOS: 1.0}, (A, C): {EOS: 1.0}, (B, C): {EOS: 1.0}}
    step = table_step(table)
    # greedy takes A (0.5) then EOS (0.4): P = 0.2
    greedy = S.beam_search(step, start(), BOS, EOS, beam_width=1, alpha=0.0)
    assert greedy[0][0] == [A]
    assert greedy[0][1] == pytest.approx(math.log(0.2))
    # width 2 keeps B (0.4) alive and finds B C EOS: P = 0.36
    beam = S.beam_search(step, start(), BOS, EOS, beam_width=2, alpha=0.0)
    assert beam[0][0] == [B, C]
    assert beam[0][1] == pytest.approx(math.log(0.36))
    assert [seq for seq, _ in beam] == [[B, C], [A]]  # both finished hypotheses, ranked


def test_length_normalisation_stops_favouring_short_outputs():
    table = {(): {EOS: 0.4, A: 0.6}, (A,): {B: 0.6, EOS: 0.4}, (A, B): {EOS: 1.0}}
    step = table_step(table)
    # alpha = 0: the empty output (P = 0.4) beats A B (P = 0.36)
    raw = S.beam_search(step, start(), BOS, EOS, beam_width=3, alpha=0.0)
    assert raw[0][0] == []
    # alpha = 1: mean log-probability; A B EOS: log(0.36) / 3 > log(0.4) / 1
    normalised = S.beam_search(step, start(), BOS, EOS, beam_width=3, alpha=1.0)
    assert normalised[0][0] == [A, B]
    assert normalised[0][1] == pytest.approx(math.log(0.36) / 3)
    assert sorted(len(seq) for seq, _ in normalised) == [0, 1, 2]


def test_beam_search_stops_at_max_len_and_reorders_array_states():
    # Always prefer A; the state counts steps per hypothesis (a (k,) int array).
    def step(tokens, state):
        logp = np.log(np.tile([1e-9, 0.1, 0.5, 0.3, 0.1], (len(tokens), 1)))
        counts, (floats,) = state
        assert counts.shape == floats.shape == (len(tokens),)
        return logp, (counts + 1, [floats + 1])

    out = S.beam_search(step, (np.zeros(1, dtype=int), [np.zeros(1)]), BOS, EOS,
                        beam_width=2, max_len=4, alpha=0.0)
    assert out[0][0] == [A, A, A, A]  # unfinished hypotheses count at max_len
    assert all(len(seq) <= 4 for seq, _ in out)


# ------------------------------------------------------------------ vocabularies, distances
def test_vocab_encode_decode_specials_and_unk():
    vocab = S.Vocab("hello", specials=["<pad>"])
    assert vocab.itos == ["<pad>", "l", "h", "e", "o"]  # most frequent first, then order
    assert vocab.encode("hell") == [2, 3, 1, 1]
    assert vocab.decode([2, 3, 1, 1, 4]) == "hello"
    with pytest.raises(KeyError):
        vocab["z"]
    words = S.Vocab("a b a c".split(), specials=["<pad>"], unk="<unk>", min_freq=2)
    assert words.itos == ["<pad>", "<unk>", "a"]
    assert words.encode(["a", "b", "zzz"]) == [2, 1, 1]
    assert len(words) == 3 and "a" in words and "b" not in words


def test_pad_batch():
    ids, lengths = S.pad_batch([[1, 2, 3], [4]], pad=0)
    np.testing.assert_array_equal(ids, [[1, 2, 3], [4, 0, 0]])
    np.testing.assert_array_equal(lengths, [3, 1])
    assert ids.dtype == np.int64
    assert S.pad_batch([[1]], pad=9, length=3)[0].tolist() == [[1, 9, 9]]


def test_edit_distance_and_ctc_collapse():
    assert S.edit_distance("kitten", "sitting") == 3
    assert S.edit_distance("", "abc") == 3
    assert S.edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert S.edit_distance([1, 2, 3], [3, 2, 1]) == 2
    # "aa-ab-" with "-" = 0: merge repeats (a, -, a, b, -), drop blanks -> a a b
    assert S.ctc_collapse([1, 1, 0, 1, 2, 0]) == [1, 1, 2]
    assert S.ctc_collapse([0, 0, 0]) == []
    assert S.ctc_collapse([3, 3, 3, 2, 2], blank=2) == [3]


# ------------------------------------------------------------------ word vectors
def test_cosine_similarity_known_values():
    assert S.cosine_similarity([1, 0], [1, 1]) == pytest.approx(1 / math.sqrt(2))
    assert S.cosine_similarity([1, 2], [-2, -4]) == pytest.approx(-1)
    assert S.cosine_similarity([1, 0], [0, 3]) == pytest.approx(0)
    np.testing.assert_allclose(S.cosine_similarity(np.eye(2), np.array([1.0, 0.0])), [1, 0])


def small_space():
    vocab = S.Vocab(["man", "woman", "king", "queen", "apple"])
    # axes: gender (+ male), royalty, fruit
    vectors = np.array([[1, 0, 0], [-1, 0, 0], [1, 1, 0], [-1, 1, 0], [0, 0, 1]], float)
    return vocab, vectors


def test_analogy_and_most_similar():
    vocab, vectors = small_space()
    assert S.analogy(vectors, vocab, "man", "woman", "king") == "queen"
    assert S.analogy(vectors, vocab, "man", "king", "woman") == "queen"
    best = S.most_similar(vectors, vocab, "king", k=2)
    assert best[0] == ("man", pytest.approx(1 / math.sqrt(2)))
    assert "king" not in [w for w, _ in S.most_similar(vectors, vocab, "king", k=4)]


def test_neutralize_removes_the_bias_component():
    g = np.array([1.0, 0.0, 0.0])
    e = np.array([0.3, 0.4, 0.5])
    out = S.neutralize(e, g)
    np.testing.assert_allclose(out, [0.0, 0.4, 0.5])
    assert S.cosine_similarity(out, g) == pytest.approx(0)


def test_equalize_makes_a_pair_symmetric_about_the_bias_axis():
    rng = np.random.default_rng(0)
    g = rng.normal(size=5)
    e1, e2 = (v / np.linalg.norm(v) for v in rng.normal(size=(2, 5)))
    f1, f2 = S.equalize(e1, e2, g)
    assert np.linalg.norm(f1) == pytest.approx(1) and np.linalg.norm(f2) == pytest.approx(1)
    assert S.cosine_similarity(f1, g) == pytest.approx(-S.cosine_similarity(f2, g))
    neutral = S.neutralize(rng.normal(size=5), g)
    assert S.cosine_similarity(f1, neutral) == pytest.approx(S.cosine_similarity(f2, neutral))


# ------------------------------------------------------------------ data
def test_pydoc_text_is_a_large_english_text():
    text = S.load_pydoc_text()
    assert len(text) > 100_000
    assert text.count(" the ") > 1000


def test_toy_corpus_is_deterministic_and_biased_as_stated():
    a, b = S.toy_corpus(300, seed=3), S.toy_corpus(300, seed=3)
    assert a == b and a != S.toy_corpus(300, seed=4)
    assert all(len(s) == 8 for s in a)
    nurse = [s for s in S.toy_corpus(3000, seed=0) if "nurse" in s]
    she = sum(("she" in s or "her" in s or "hers" in s) for s in nurse)
    he = sum(("he" in s or "his" in s or "him" in s) for s in nurse)
    assert she > 3 * he
