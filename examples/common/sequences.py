"""Helpers for the sequence-model examples: text, vocabularies, decoding, BLEU, word vectors.

Plain NumPy and Python, so each piece can be unit-tested with values worked out
by hand (``tests/examples/test_sequences.py``):

- ``load_pydoc_text()``: the English text of the standard library's pydoc topics.
- ``Vocab``: token <-> index, with special tokens; ``pad_batch`` pads id lists.
- ``beam_search(step, state, bos, eos, ...)``: the course's beam search with
  length normalisation (beam width 1 is greedy decoding).
- ``ngrams``, ``modified_precision``, ``brevity_penalty``, ``bleu``, ``corpus_bleu``.
- ``edit_distance`` (Levenshtein) and ``ctc_collapse`` (merge repeats, drop blanks).
- Word vectors: ``cosine_similarity``, ``most_similar``, ``analogy``,
  ``analogy_questions``, ``analogy_accuracy``, ``neutralize``, ``equalize``, and
  ``toy_corpus``, a generated corpus whose words
  have known meanings (gender, royalty, age, sentiment), to learn embeddings from.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import permutations

import numpy as np

__all__ = [
    "load_pydoc_text", "Vocab", "pad_batch", "beam_search", "ngrams", "modified_precision",
    "brevity_penalty", "bleu", "corpus_bleu", "edit_distance", "ctc_collapse",
    "cosine_similarity", "most_similar", "analogy", "analogy_questions", "analogy_accuracy",
    "neutralize", "equalize", "toy_corpus",
    "GENDER_PAIRS", "SENTIMENT_WORDS",
]


# ------------------------------------------------------------------ text and vocabularies
def load_pydoc_text() -> str:
    """The English text of Python's own help topics (``pydoc_data.topics``, part of the
    standard library, about 460 KB): every topic in sorted order, blank-line separated.

    Origin: the CPython documentation (Python Software Foundation License), shipped
    with every Python as the data behind ``help("topic")``; nothing is downloaded.
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key].strip() for key in sorted(topics))


class Vocab:
    """A vocabulary: tokens (characters or words) <-> consecutive integer ids.

    ``specials`` come first (ids 0, 1, ...), then the tokens seen at least
    ``min_freq`` times, most frequent first (ties by first appearance).  A token not
    in the vocabulary maps to ``unk`` if one was given, else raises KeyError.

        >>> vocab = Vocab("hello", specials=["<pad>"])
        >>> vocab.encode("hell"), vocab.decode([1, 2])
        ([3, 2, 1, 1], 'lh')
    """

    def __init__(self, tokens: Iterable[str], specials: Sequence[str] = (),
                 min_freq: int = 1, unk: str | None = None) -> None:
        counts = Counter(tokens)
        order = sorted(counts, key=lambda tok: -counts[tok])  # stable: first appearance
        self.itos = list(specials) + [t for t in order if counts[t] >= min_freq
                                      and t not in specials]
        if unk is not None and unk not in self.itos:
            self.itos.insert(len(specials), unk)
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}
        self.unk = unk
        self.counts = counts

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        if self.unk is not None:
            return self.stoi.get(token, self.stoi[self.unk])
        return self.stoi[token]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self[t] for t in tokens]

    def decode(self, ids: Iterable[int], sep: str = "") -> str:
        return sep.join(self.itos[int(i)] for i in ids)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {self.itos[:8]}...)"


def pad_batch(sequences: Sequence[Sequence[int]], pad: int = 0,
              length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad lists of ids into an int64 (N, L) array; also return the lengths (N,)."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    out = np.full((len(sequences), length or int(lengths.max(initial=0))), pad, dtype=np.int64)
    for i, s in enumerate(sequences):
        out[i, :len(s)] = s
    return out, lengths


# ------------------------------------------------------------------ beam search
def _take(state, index: np.ndarray):
    """Rows ``index`` of a decoder state: an array/Tensor, or a tuple/list/dict of them
    (None passes through)."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return type(state)(_take(s, index) for s in state)
    if isinstance(state, dict):
        return {k: _take(v, index) for k, v in state.items()}
    return state[index]


def beam_search(step: Callable, state, bos: int, eos: int, beam_width: int = 3,
                max_len: int = 20, alpha: float = 0.7) -> list[tuple[list[int], float]]:
    """Beam search for the most likely output sequence, with length normalisation.

    ``step(tokens, state) -> (log_probs, state)`` runs the decoder one step on the
    k live hypotheses: ``tokens`` (k,) int64 are their last tokens, ``state`` holds
    k rows (first axis), ``log_probs`` is a (k, V) array of log P(y_t | x, y_<t).

    Each step expands every live hypothesis by every token and keeps the
    ``beam_width`` most probable partial sequences (sum of log-probabilities); a
    hypothesis that emits ``eos`` is finished and leaves the beam.  After
    ``max_len`` steps (or when no hypothesis is live) the finished ones, and any
    still live, are ranked by the course's normalised objective

        score = 1 / T_y**alpha * sum_t log P(y_t | x, y_<t)

    (T_y counts the output tokens, ``eos`` included): ``alpha=0`` is the raw
    product, which favours short outputs; ``alpha=1`` the mean log-probability.
    With ``beam_width=1`` it is greedy decoding.

    Returns ``[(tokens without bos/eos, score), ...]``, best first.
    """
    tokens = np.array([bos], dtype=np.int64)
    live = [[]]  # the generated tokens of each live hypothesis
    totals = np.zeros(1)  # their summed log-probabilities
    finished = []
    for _ in range(max_len):
        log_probs, state = step(tokens, state)
        log_probs = np.asarray(log_probs, dtype=np.float64)
        scores = (totals[:, None] + log_probs).ravel()
        vocab = log_probs.shape[1]
        best = np.argsort(-scores, kind="stable")[:beam_width]
        keep, next_live, next_totals = [], [], []
        for flat in best:
            row, token = divmod(int(flat), vocab)
            if not np.isfinite(scores[flat]):
                continue
            if token == eos:
                finished.append((live[row], scores[flat], len(live[row]) + 1))
            else:
                keep.append(row)
                next_live.append(live[row] + [token])
                next_totals.append(scores[flat])
        if not keep:
            break
        index = np.array(keep)
        state = _take(state, index)
        live, totals = next_live, np.array(next_totals)
        tokens = np.array([seq[-1] for seq in live], dtype=np.int64)
    else:
        finished += [(seq, total, len(seq)) for seq, total in zip(live, totals, strict=True)]
    ranked = sorted(((seq, total / max(length, 1) ** alpha) for seq, total, length in finished),
                    key=lambda item: -item[1])
    return [(list(seq), float(score)) for seq, score in ranked]


# ------------------------------------------------------------------ BLEU
def ngrams(tokens: Sequence, n: int) -> Counter:
    """Counts of the n-grams (tuples of n consecutive tokens) of ``tokens``."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def modified_precision(candidate: Sequence, references: Sequence[Sequence],
                       n: int) -> tuple[int, int]:
    """The course's modified n-gram precision p_n as (clipped count, total count).

    Each n-gram of the candidate counts at most as often as it appears in the
    reference that holds it most often ("count clip"):

        p_n = sum_g min(count_cand(g), max_ref count_ref(g)) / sum_g count_cand(g)

    "the the the the the the the" against "the cat is on the mat" and "there is a
    cat on the mat" gives (2, 7): "the" appears at most twice in one reference.
    """
    counts = ngrams(candidate, n)
    most = Counter()
    for ref in references:
        most |= ngrams(ref, n)  # element-wise max over the references
    clipped = sum(min(c, most[g]) for g, c in counts.items())
    return clipped, sum(counts.values())


def brevity_penalty(candidate_length: int, reference_length: int) -> float:
    """BP = 1 if the candidate is longer than the reference, else exp(1 - r / c)."""
    if candidate_length > reference_length:
        return 1.0
    if candidate_length == 0:
        return 0.0
    return math.exp(1 - reference_length / candidate_length)


def _closest_length(candidate_length: int, references: Sequence[Sequence]) -> int:
    """The reference length closest to the candidate's (the shorter one on a tie)."""
    return min((abs(len(r) - candidate_length), len(r)) for r in references)[1]


def _combine(clipped: Sequence[int], totals: Sequence[int], bp: float,
             smooth: bool) -> float:
    """BP * exp(mean_n log p_n); with ``smooth``, add 1 to every count for n > 1."""
    logs = []
    for n, (hit, total) in enumerate(zip(clipped, totals, strict=True), start=1):
        if smooth and n > 1:
            hit, total = hit + 1, total + 1
        if hit == 0 or total == 0:
            return 0.0
        logs.append(math.log(hit / total))
    return bp * math.exp(sum(logs) / len(logs))


def bleu(candidate: Sequence, references: Sequence[Sequence], max_n: int = 4,
         smooth: bool = False) -> float:
    """Sentence BLEU of ``candidate`` (a token list) against one or more references:

        BLEU = BP * exp(1/N sum_{n=1}^N log p_n),   N = ``max_n``

    with p_n the modified n-gram precisions and BP the brevity penalty against the
    reference length closest to the candidate's.  Without ``smooth`` a candidate
    with no matching n-gram of some order scores 0; ``smooth`` adds one to the
    counts of orders n > 1 (Lin and Och's smoothing), for short sentences.
    """
    clipped, totals = zip(*(modified_precision(candidate, references, n)
                            for n in range(1, max_n + 1)), strict=True)
    bp = brevity_penalty(len(candidate), _closest_length(len(candidate), references))
    return _combine(clipped, totals, bp, smooth)


def corpus_bleu(candidates: Sequence[Sequence], references: Sequence[Sequence[Sequence]],
                max_n: int = 4) -> float:
    """BLEU over a test set: the clipped and total n-gram counts, and the candidate and
    reference lengths, are summed over all sentences before combining (as in
    Papineni et al.), so it is not the mean of sentence BLEUs."""
    clipped, totals = [0] * max_n, [0] * max_n
    c_len = r_len = 0
    for cand, refs in zip(candidates, references, strict=True):
        for n in range(1, max_n + 1):
            hit, total = modified_precision(cand, refs, n)
            clipped[n - 1] += hit
            totals[n - 1] += total
        c_len += len(cand)
        r_len += _closest_length(len(cand), refs)
    return _combine(clipped, totals, brevity_penalty(c_len, r_len), smooth=False)


# ------------------------------------------------------------------ edit distance, CTC
def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn
    ``a`` into ``b`` (dynamic programming, one row at a time)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def ctc_collapse(path: Iterable[int], blank: int = 0) -> list[int]:
    """CTC's many-to-one map from a frame-level path to a label sequence: merge repeated
    labels, then drop blanks ("aa-ab-" -> "aab" with "-" the blank)."""
    out, last = [], None
    for p in path:
        p = int(p)
        if p != last and p != blank:
            out.append(p)
        last = p
    return out


# ------------------------------------------------------------------ word vectors
def cosine_similarity(u: np.ndarray, v: np.ndarray) -> float | np.ndarray:
    """cos(u, v) = u . v / (||u|| ||v||): 1 for the same direction, 0 orthogonal, -1
    opposite.  ``u`` may be a matrix of row vectors (then an array is returned)."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    sims = (u @ v) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v) + 1e-12)
    return float(sims) if np.ndim(sims) == 0 else sims


def most_similar(vectors: np.ndarray, vocab: Vocab, query, k: int = 5,
                 exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity to ``query`` (a
    word or a vector), skipping ``exclude`` (and the query word itself)."""
    if isinstance(query, str):
        exclude = {*exclude, query}
        query = vectors[vocab[query]]
    sims = cosine_similarity(vectors, query)
    skip = {vocab[w] for w in exclude if w in vocab}
    order = [i for i in np.argsort(-sims, kind="stable") if i not in skip]
    return [(vocab.itos[i], float(sims[i])) for i in order[:k]]


def analogy(vectors: np.ndarray, vocab: Vocab, a: str, b: str, c: str,
            candidates: Iterable[str] | None = None) -> str:
    """Complete "a is to b as c is to ?": the word w (not a, b or c) maximising
    cos(e_b - e_a + e_c, e_w), the course's e_man - e_woman ~ e_king - e_queen.
    ``candidates`` restricts the search (e.g. to nouns)."""
    target = vectors[vocab[b]] - vectors[vocab[a]] + vectors[vocab[c]]
    words = [w for w in (candidates or vocab.itos) if w not in (a, b, c) and w in vocab]
    sims = cosine_similarity(vectors[[vocab[w] for w in words]], target)
    return words[int(np.argmax(sims))]


def analogy_questions(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """Every analogy a:b::c:d between two word pairs (a, b) and (c, d), both ways round:
    man:woman::king:queen and man:king::woman:queen."""
    questions = []
    for (a, b), (c, d) in permutations(pairs, 2):
        questions += [(a, b, c, d), (a, c, b, d)]
    return questions


def analogy_accuracy(vectors: np.ndarray, vocab: Vocab, questions, verbose: int = 0) -> float:
    """Fraction of ``questions`` (a, b, c, d) for which ``analogy`` finds d, searching the
    whole vocabulary; prints the first ``verbose`` answers."""
    solved = 0
    for k, (a, b, c, d) in enumerate(questions):
        guess = analogy(vectors, vocab, a, b, c)
        solved += guess == d
        if k < verbose:
            print(f"   {a} : {b} :: {c} : {guess} {'(right)' if guess == d else f'(want {d})'}")
    return solved / len(questions)


def neutralize(e: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Remove the bias direction ``g`` from ``e``: e - (e . g / ||g||^2) g.

    The result is orthogonal to g (its cosine with g is 0), e.g. a profession that
    should carry no gender.
    """
    e, g = np.asarray(e, dtype=np.float64), np.asarray(g, dtype=np.float64)
    return e - (e @ g) / (g @ g) * g


def equalize(e1: np.ndarray, e2: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make a definitional pair (e.g. grandmother/grandfather) differ only along ``g``
    (Bolukbasi et al., 2016, as the course does it):

        mu = (e1 + e2) / 2,   mu_orth = mu - proj_g(mu)
        e_i <- mu_orth + sqrt(|1 - ||mu_orth||^2|) * (proj_g(e_i) - proj_g(mu)) /
               ||proj_g(e_i) - proj_g(mu)||

    Afterwards any neutralised word (orthogonal to g) is equally similar to both,
    and the pair's components along g are opposite.  Expects unit-length inputs.
    """
    e1, e2, g = (np.asarray(v, dtype=np.float64) for v in (e1, e2, g))
    proj = lambda v: (v @ g) / (g @ g) * g
    mu = (e1 + e2) / 2
    mu_orth = mu - proj(mu)
    scale = math.sqrt(abs(1 - mu_orth @ mu_orth))
    out = []
    for e in (e1, e2):
        diff = proj(e) - proj(mu)
        out.append(mu_orth + scale * diff / np.linalg.norm(diff))
    return out[0], out[1]


# ------------------------------------------------------------------ a corpus with known meanings
# (male, female) words, each pair differing only in gender; the first four pairs
# are royal/common x adult/young, which gives analogies such as man:woman::king:queen.
GENDER_PAIRS = [("man", "woman"), ("king", "queen"), ("boy", "girl"),
                ("prince", "princess"), ("father", "mother"), ("brother", "sister"),
                ("grandfather", "grandmother"), ("actor", "actress")]
_ROYAL = {"king", "queen", "prince", "princess"}
_YOUNG = {"boy", "girl", "prince", "princess", "brother", "sister"}
_FAMILY = {"father", "mother", "brother", "sister", "grandfather", "grandmother"}
_CONTEXT = {
    "male": ["he", "his", "him"], "female": ["she", "her", "hers"],
    "royal": ["crown", "throne", "palace", "kingdom", "royal"],
    "common": ["village", "house", "street", "market", "work"],
    "young": ["young", "school", "plays", "toys", "child"],
    "adult": ["old", "adult", "job", "drives", "grown"],
    "family": ["family", "home", "children", "parents"],
    "stage": ["stage", "film", "role", "theatre"],
}
# Occupations the corpus mentions mostly with one gender: the bias to neutralise.
BIASED_JOBS = {"nurse": "female", "receptionist": "female", "engineer": "male",
               "doctor": "male"}
SENTIMENT_WORDS = {
    "positive": ["good", "great", "happy", "love", "wonderful", "excellent", "fun", "nice",
                 "enjoy", "like"],
    "negative": ["bad", "awful", "sad", "hate", "terrible", "horrible", "boring", "poor",
                 "dislike", "ugly"],
}
_SENTIMENT_CONTEXT = {"positive": ["smile", "laugh", "yay", "joy", "thanks"],
                      "negative": ["cry", "frown", "ugh", "pain", "sorry"]}
_JOB_CONTEXT = ["hospital", "office", "work"]
_OPINION_CONTEXT = ["movie", "food", "felt"]
_FILLER = ["the", "a", "of", "and", "to", "in", "was", "is", "at", "with", "on", "day", "i",
           "this", "it", "not", "very", "really", "think"]


def toy_corpus(n_sentences: int = 4000, length: int = 8, noise: float = 0.2,
               seed: int = 0) -> list[list[str]]:
    """Generated sentences whose words mean something by construction, to learn word
    vectors from ("you shall know a word by the company it keeps").

    Each sentence is about one word: a person (from ``GENDER_PAIRS``), a biased
    occupation (``BIASED_JOBS``, said with the pronouns of one gender 90% of the
    time) or a sentiment word (``SENTIMENT_WORDS``).  The rest of its ``length``
    words are drawn from the context words of that word's attributes (gender,
    royal or common, young or adult, family, stage; positive or negative; each
    replaced with probability ``noise`` by any context word) mixed with filler
    words, in random order.  So "king" and "queen" share every context
    but the pronouns, and "king" - "queen" ~ "man" - "woman".
    """
    rng = np.random.default_rng(seed)
    everything = sorted({w for ws in [*_CONTEXT.values(), *_SENTIMENT_CONTEXT.values()]
                         for w in ws} | set(_JOB_CONTEXT) | set(_OPINION_CONTEXT))
    people = [w for pair in GENDER_PAIRS for w in pair]
    sentiment = [(w, k) for k, ws in SENTIMENT_WORDS.items() for w in ws]
    sentences = []
    for _ in range(n_sentences):
        kind = rng.random()
        if kind < 0.6:
            word = people[rng.integers(len(people))]
            gender = "male" if any(word == m for m, _ in GENDER_PAIRS) else "female"
            groups = [gender, "royal" if word in _ROYAL else "common",
                      "young" if word in _YOUNG else "adult"]
            if word in _FAMILY:
                groups.append("family")
            if word in ("actor", "actress"):
                groups.append("stage")
            context = [w for g in groups for w in _CONTEXT[g]]
        elif kind < 0.75:
            word = list(BIASED_JOBS)[rng.integers(len(BIASED_JOBS))]
            usual = BIASED_JOBS[word]
            gender = usual if rng.random() < 0.9 else ("male" if usual == "female" else "female")
            context = _CONTEXT[gender] + _CONTEXT["adult"] + _JOB_CONTEXT
        else:
            word, polarity = sentiment[rng.integers(len(sentiment))]
            context = _SENTIMENT_CONTEXT[polarity] + _OPINION_CONTEXT
        n_context = length // 2
        drawn = [str(rng.choice(everything if rng.random() < noise else context))
                 for _ in range(n_context)]
        words = [word] + drawn + list(rng.choice(_FILLER, length - 1 - n_context))
        sentences.append([words[i] for i in rng.permutation(length)])
    return sentences
