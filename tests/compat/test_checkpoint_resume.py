"""Checkpoint and resume as GPT training scripts do it: every ``eval_interval`` steps a
dict ``{"model", "optimizer", "model_args", "iter_num", "best_val_loss", "config"}`` is
serialised into an ``io.BytesIO`` and written through ``open(path, "wb")``; a restart with
``init_from = "resume"`` reads it with ``torch.load(f, map_location=device)``, rebuilds the
model from ``model_args``, strips a compile prefix from the keys, loads the model and a
fresh optimizer and continues.  Run with ``import graphgrad as torch``: the resumed run
ends with exactly the parameters of an uninterrupted one; compared with PyTorch."""
import io
import math
import os
from dataclasses import dataclass

import numpy as np
import pytest
from compat_utils import assert_falls, assert_same_state, convert, to_numpy

import graphgrad as torch
import graphgrad.nn as nn
import graphgrad.nn.functional as F

TEXT = "to be or not to be, that is the question. " * 8
BATCH, MAX_ITERS = 8, 24


@dataclass
class ModelArgs:
    vocab_size: int = 32
    context: int = 6
    n_embd: int = 8
    n_hidden: int = 48
    dropout: float = 0.0


# ------------------------------------------------------------- script (written once)
def define_model(nn, F):
    class NextChar(nn.Module):
        """The next character from the previous ``context`` ones: concatenated embeddings,
        a GELU hidden layer with LayerNorm, logits over the vocabulary."""

        def __init__(self, args):
            super().__init__()
            self.args = args
            self.embed = nn.Embedding(args.vocab_size, args.n_embd)
            self.hidden = nn.Linear(args.context * args.n_embd, args.n_hidden)
            self.norm = nn.LayerNorm(args.n_hidden)
            self.drop = nn.Dropout(args.dropout)
            self.out = nn.Linear(args.n_hidden, args.vocab_size)

        def forward(self, idx, targets=None):
            x = self.embed(idx).flatten(1)
            x = self.drop(self.norm(F.gelu(self.hidden(x))))
            logits = self.out(x)
            loss = None if targets is None else F.cross_entropy(logits, targets)
            return logits, loss

    return NextChar


def train(torch, nn, F, out_dir, init_from, windows, max_iters=MAX_ITERS, eval_interval=6,
          learning_rate=1e-2, warmup_iters=4, lr_decay_iters=MAX_ITERS, device='cpu'):
    """Train until ``max_iters`` (from scratch or from ``out_dir/ckpt.pt``); returns the
    model and the training losses of the steps this run made."""
    config = dict(learning_rate=learning_rate, warmup_iters=warmup_iters, max_iters=max_iters,
                  eval_interval=eval_interval, batch_size=BATCH, decay_lr=True,
                  wandb_run_name=None, dataset='shakespeare_char')
    chars = sorted(set(TEXT))
    data = torch.tensor([chars.index(c) for c in TEXT], dtype=torch.long)
    n = int(0.8 * len(data))
    train_data, val_data = data[:n], data[n:]

    ckpt_path = os.path.join(out_dir, 'ckpt.pt')
    if init_from == 'scratch':
        model_args = dict(vocab_size=len(chars), context=6, n_embd=8, n_hidden=48, dropout=0.0)
        model = define_model(nn, F)(ModelArgs(**model_args))
        iter_num, best_val_loss = 0, 1e9
    elif init_from == 'resume':
        print(f"resuming training from {out_dir}")
        with open(ckpt_path, 'rb') as f:
            checkpoint = torch.load(f, map_location=device)
        model_args = dict(checkpoint['model_args'])
        model = define_model(nn, F)(ModelArgs(**model_args))
        state_dict = {k.removeprefix('_orig_mod.'): v for k, v in checkpoint['model'].items()}
        model.load_state_dict(state_dict)
        iter_num = checkpoint['iter_num']
        best_val_loss = checkpoint['best_val_loss']
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(0.9, 0.99),
                                  weight_decay=0.1)
    if init_from == 'resume':
        optimizer.load_state_dict(checkpoint['optimizer'])
    checkpoint = None  # free the memory

    def get_batch(split, it):
        source = train_data if split == 'train' else val_data
        ix = windows[split][it]
        x = torch.stack([source[i:i + model.args.context] for i in ix])
        y = torch.stack([source[i + model.args.context] for i in ix])
        return x.to(device), y.to(device)

    def get_lr(it):
        if it < warmup_iters:
            return learning_rate * (it + 1) / warmup_iters
        return learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(it / lr_decay_iters, 1.0)))

    @torch.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for split in ['train', 'val']:
            losses = torch.zeros(2)
            for k in range(2):
                X, Y = get_batch(split, k)
                _, loss = model(X, Y)
                losses[k] = loss.item()
            out[split] = losses.mean()
        model.train()
        return out

    history = []
    while True:
        lr = get_lr(iter_num)
        for param_group in optimizer.param_groups:
            param_group['lr'] = lr
        if iter_num % eval_interval == 0:
            losses = estimate_loss()
            print(f"step {iter_num}: train loss {losses['train']:.4f}, "
                  f"val loss {losses['val']:.4f}")
            if losses['val'] < best_val_loss:
                best_val_loss = losses['val']
            if iter_num > 0:
                checkpoint = {
                    'model': model.state_dict(),
                    'optimizer': optimizer.state_dict(),
                    'model_args': model_args,
                    'iter_num': iter_num,
                    'best_val_loss': best_val_loss,
                    'config': config,
                }
                buffer = io.BytesIO()  # serialise first: a failed save keeps the old file
                torch.save(checkpoint, buffer)
                with open(ckpt_path, 'wb') as f:
                    f.write(buffer.getvalue())
        X, Y = get_batch('train', iter_num)
        logits, loss = model(X, Y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        history.append(loss.item())
        iter_num += 1
        if iter_num > max_iters:
            break
    return model, history, best_val_loss


# ------------------------------------------------------------- data
def _windows(torch):
    """Each step's window starts, drawn once (as a pre-shuffled index file would be)."""
    rng = np.random.default_rng(0)
    n = int(0.8 * len(TEXT))
    return {'train': torch.from_numpy(rng.integers(0, n - 6, size=(MAX_ITERS + 1, BATCH))),
            'val': torch.from_numpy(rng.integers(0, len(TEXT) - n - 6, size=(2, BATCH)))}


def _params(model):
    return {k: to_numpy(v) for k, v in model.state_dict().items()}


# ------------------------------------------------------------- tests
def test_resumed_training_equals_uninterrupted_training(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "parts").mkdir()
    windows = _windows(torch)
    torch.manual_seed(0)
    full, history, best = train(torch, nn, F, str(tmp_path / "full"), 'scratch', windows)
    assert_falls(history, factor=0.7)
    assert best.dim() == 0 and float(best) < 3.0

    torch.manual_seed(0)  # the same start, stopped after step 12 (a checkpoint at 12)
    _, first, _ = train(torch, nn, F, str(tmp_path / "parts"), 'scratch', windows,
                        max_iters=12)
    ckpt_file = tmp_path / "parts" / "ckpt.pt"
    with open(ckpt_file, 'rb') as f:
        checkpoint = torch.load(f, map_location='cpu')
    assert list(checkpoint) == ['model', 'optimizer', 'model_args', 'iter_num',
                                'best_val_loss', 'config']
    assert checkpoint['iter_num'] == 12 and checkpoint['config']['wandb_run_name'] is None
    assert checkpoint['model_args']['vocab_size'] == len(set(TEXT))
    assert checkpoint['optimizer']['state'][0]['step'] == 12
    # the same bytes read from memory give the same checkpoint
    again = torch.load(io.BytesIO(ckpt_file.read_bytes()), map_location=torch.device('cpu'))
    for k, v in checkpoint['model'].items():
        np.testing.assert_array_equal(v.numpy(), again['model'][k].numpy())

    resumed, rest, _ = train(torch, nn, F, str(tmp_path / "parts"), 'resume', windows)
    assert first[:12] + rest == history  # step 12 ran twice: before the kill and after
    for k, v in _params(full).items():
        np.testing.assert_array_equal(v, _params(resumed)[k], err_msg=k)

    # PyTorch resumes from the same checkpoint (converted through NumPy) and continues
    # as graphgrad did
    torch_ref = pytest.importorskip("torch")
    import torch.nn.functional as F_ref
    (tmp_path / "ref").mkdir()
    torch_ref.save(convert(checkpoint, torch_ref), tmp_path / "ref" / "ckpt.pt")
    ref_resumed, ref_rest, _ = train(torch_ref, torch_ref.nn, F_ref, str(tmp_path / "ref"),
                                     'resume', _windows(torch_ref))
    np.testing.assert_allclose(rest, ref_rest, rtol=1e-5)
    assert_same_state(resumed, ref_resumed, rtol=1e-4, atol=1e-6)


def test_optimizer_state_is_inspected_as_tensors():
    torch.manual_seed(0)
    model = define_model(nn, F)(ModelArgs(vocab_size=10))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randint(10, (4, 6)), torch.randint(10, (4,))
    model(x, y)[1].backward()
    optimizer.step()
    # the second-moment statistics a training script logs, and the move of a resumed
    # optimizer's state to the device
    for p in model.parameters():
        state = optimizer.state[p]
        print(f"{state['exp_avg_sq'].sqrt().mean().item():.3e} after {state['step']:.0f}")
    device = torch.device('cpu')
    for state in optimizer.state.values():
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                state[k] = v.to(device)
    assert all(isinstance(v, torch.Tensor) for s in optimizer.state.values() for v in s.values())
