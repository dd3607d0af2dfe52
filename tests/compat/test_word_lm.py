"""A word-level LSTM language model as the classic example scripts write it: a corpus
read from text files into a dictionary, ``batchify`` with narrow/view/t().contiguous(),
``get_batch`` over the BPTT window, Embedding -> nn.LSTM -> Linear decoder with tied
weights and log-softmax output, ``init_hidden`` from ``weight.new_zeros``,
``repackage_hidden`` detaching the state between batches, gradient clipping, plain SGD
through ``p.data.add_``, the learning rate divided by 4 when validation stalls, the best
model saved and reloaded through file objects.  Run with ``import graphgrad as torch``;
compared with PyTorch step by step (without dropout, whose masks come from each
library's own random source)."""
import math
import os

import numpy as np
import pytest
from compat_utils import assert_falls, assert_same_state, to_numpy

import graphgrad as torch
import graphgrad.nn as nn
import graphgrad.nn.functional as F

WORDS = {"noun": ["cat", "dog", "bird", "fish"], "verb": ["sees", "likes", "chases"],
         "adj": ["small", "red", "quick"]}


# ------------------------------------------------------------- script (written once)
def define_corpus(torch):
    class Dictionary:
        def __init__(self):
            self.word2idx = {}
            self.idx2word = []

        def add_word(self, word):
            if word not in self.word2idx:
                self.idx2word.append(word)
                self.word2idx[word] = len(self.idx2word) - 1
            return self.word2idx[word]

        def __len__(self):
            return len(self.idx2word)

    class Corpus:
        def __init__(self, path):
            self.dictionary = Dictionary()
            self.train = self.tokenize(os.path.join(path, 'train.txt'))
            self.valid = self.tokenize(os.path.join(path, 'valid.txt'))

        def tokenize(self, path):
            assert os.path.exists(path)
            with open(path, encoding="utf8") as f:
                for line in f:
                    for word in line.split() + ['<eos>']:
                        self.dictionary.add_word(word)
            with open(path, encoding="utf8") as f:
                idss = []
                for line in f:
                    ids = [self.dictionary.word2idx[w] for w in line.split() + ['<eos>']]
                    idss.append(torch.tensor(ids).type(torch.int64))
                return torch.cat(idss)

    return Corpus


def define_model(nn, F):
    class WordLM(nn.Module):
        """Encoder, stacked LSTM and decoder; the decoder shares the encoder's matrix."""

        def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
            super().__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            if tie_weights:
                if nhid != ninp:
                    raise ValueError('tied weights need nhid == emsize')
                self.decoder.weight = self.encoder.weight
            self.init_weights()
            self.nhid = nhid
            self.nlayers = nlayers

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.encoder.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output)
            decoded = decoded.view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))

    return WordLM


def run_word_lm(torch, nn, F, data_dir, save_path, dropout, epochs=4, lr=5.0, clip=1.0,
                bptt=8, batch_size=4, nlayers=1, log_interval=5, init_state=None):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    corpus = define_corpus(torch)(data_dir)

    def batchify(data, bsz):
        nbatch = data.size(0) // bsz
        data = data.narrow(0, 0, nbatch * bsz)  # drop what does not fill a column
        data = data.view(bsz, -1).t().contiguous()
        return data.to(device)

    train_data = batchify(corpus.train, batch_size)
    val_data = batchify(corpus.valid, 2)
    ntokens = len(corpus.dictionary)
    model = define_model(nn, F)(ntokens, 24, 24, nlayers, dropout, tie_weights=True).to(device)
    if init_state is not None:
        model.load_state_dict(init_state)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    criterion = nn.NLLLoss()

    def repackage_hidden(h):
        """Cut the graph behind the hidden state: gradients stop at the batch boundary."""
        if isinstance(h, torch.Tensor):
            return h.detach()
        return tuple(repackage_hidden(v) for v in h)

    def get_batch(source, i):
        seq_len = min(bptt, len(source) - 1 - i)
        data = source[i:i + seq_len]
        target = source[i + 1:i + 1 + seq_len].view(-1)
        return data, target

    def evaluate(data_source):
        model.eval()
        total_loss = 0.
        hidden = model.init_hidden(2)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, bptt):
                data, targets = get_batch(data_source, i)
                output, hidden = model(data, hidden)
                hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    def train_epoch(lr):
        model.train()
        losses = []
        hidden = model.init_hidden(batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
            data, targets = get_batch(train_data, i)
            model.zero_grad()
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
            if batch % log_interval == 0 and batch > 0:
                cur_loss = sum(losses[-log_interval:]) / log_interval
                print(f'| {batch:5d}/{len(train_data) // bptt:5d} batches | lr {lr:02.2f} '
                      f'| loss {cur_loss:5.2f} | ppl {math.exp(cur_loss):8.2f}')
        return losses

    history, val_losses, best_val_loss = [], [], None
    for epoch in range(1, epochs + 1):
        history += train_epoch(lr)
        val_loss = evaluate(val_data)
        val_losses.append(val_loss)
        print(f'| end of epoch {epoch:3d} | valid loss {val_loss:5.2f} '
              f'| valid ppl {math.exp(val_loss):8.2f}')
        if not best_val_loss or val_loss < best_val_loss:
            with open(save_path, 'wb') as f:
                torch.save(model.state_dict(), f)
            best_val_loss = val_loss
        else:
            lr /= 4.0  # validation stalled: anneal

    with open(save_path, 'rb') as f:
        model.load_state_dict(torch.load(f))
        model.rnn.flatten_parameters()
    return model, start, history, val_losses, evaluate(val_data)


# ------------------------------------------------------------- data
def _write_corpus(directory):
    """Sentences 'the ADJ NOUN VERB the NOUN' written as train.txt and valid.txt."""
    rng = np.random.default_rng(0)

    def sentence():
        pick = lambda kind: WORDS[kind][rng.integers(len(WORDS[kind]))]
        return f"the {pick('adj')} {pick('noun')} {pick('verb')} the {pick('noun')} ."

    for name, n in (("train.txt", 60), ("valid.txt", 12)):
        (directory / name).write_text("\n".join(sentence() for _ in range(n)) + "\n",
                                      encoding="utf8")
    return directory


# ------------------------------------------------------------- tests
def test_word_lm_trains_and_matches_pytorch(tmp_path):
    data_dir = _write_corpus(tmp_path)
    torch.manual_seed(0)
    model, start, history, val_losses, best = run_word_lm(
        torch, nn, F, data_dir, tmp_path / "model.pt", dropout=0.0)
    assert model.decoder.weight is model.encoder.weight
    assert_falls(history, factor=0.5)
    assert val_losses[-1] < val_losses[0] and math.exp(best) < 8  # 16 words; grammar helps
    assert best == pytest.approx(min(val_losses), rel=1e-6)  # the best model was reloaded

    torch_ref = pytest.importorskip("torch")
    import torch.nn.functional as F_ref
    init = {k: torch_ref.from_numpy(to_numpy(v)) for k, v in start.items()}
    ref_model, _, ref_history, ref_val_losses, ref_best = run_word_lm(
        torch_ref, torch_ref.nn, F_ref, data_dir, tmp_path / "ref.pt", 0.0, init_state=init)
    np.testing.assert_allclose(history, ref_history, rtol=1e-4)
    np.testing.assert_allclose(val_losses, ref_val_losses, rtol=1e-4)
    assert_same_state(model, ref_model, rtol=1e-3, atol=1e-5)


def test_word_lm_trains_with_dropout_between_layers(tmp_path):
    data_dir = _write_corpus(tmp_path)
    torch.manual_seed(0)
    model, _, history, val_losses, best = run_word_lm(
        torch, nn, F, data_dir, tmp_path / "model.pt", dropout=0.2, epochs=8, lr=10.0,
        clip=1.0, nlayers=2)
    assert model.rnn.dropout == 0.2 and model.drop.p == 0.2
    assert_falls(history, factor=0.7)
    assert best == pytest.approx(min(val_losses), rel=1e-6)
