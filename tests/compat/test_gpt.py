"""A tiny GPT as the popular from-scratch implementations write it: token and position
embeddings, causal self-attention masked by a registered lower-triangular buffer,
LayerNorm, a GELU MLP, the input embedding tied to the output head, AdamW with parameter
groups split by ``p.dim() >= 2``, gradient clipping, a warm-up/cosine learning rate set
by hand, and ``generate()`` sampling with topk/softmax/multinomial under
``@torch.no_grad()``.  Run with ``import graphgrad as torch`` on a small character
dataset; compared with PyTorch step by step."""
import inspect
import math
from dataclasses import dataclass

import numpy as np
import pytest
from compat_utils import assert_falls, assert_same_state, to_numpy

import graphgrad as torch
import graphgrad.nn as nn
import graphgrad.nn.functional as F

TEXT = "the cat sat on the mat. the dog sat on the log. " * 12


@dataclass
class ModelConfig:
    block_size: int = 16
    vocab_size: int = 32
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 32
    dropout: float = 0.0
    bias: bool = False  # with a bias, the key bias gets only rounding noise as gradient


# ------------------------------------------------------------- script (written once)
def define_gpt(torch, nn, F):
    class SelfAttention(nn.Module):
        """Multi-head attention where position t sees only positions <= t."""

        def __init__(self, cfg):
            super().__init__()
            assert cfg.n_embd % cfg.n_head == 0
            self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
            self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
            self.attn_drop = nn.Dropout(cfg.dropout)
            self.resid_drop = nn.Dropout(cfg.dropout)
            self.n_head, self.n_embd = cfg.n_head, cfg.n_embd
            T = cfg.block_size
            self.register_buffer("bias", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.qkv(x).split(self.n_embd, dim=2)
            hs = C // self.n_head
            q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
            k = k.view(B, T, self.n_head, hs).transpose(1, 2)
            v = v.view(B, T, self.n_head, hs).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))
            att = F.softmax(att, dim=-1)
            att = self.attn_drop(att)
            y = att @ v  # (B, nh, T, hs)
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_drop(self.proj(y))

    class FeedForward(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
            self.gelu = nn.GELU()
            self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
            self.drop = nn.Dropout(cfg.dropout)

        def forward(self, x):
            return self.drop(self.proj(self.gelu(self.fc(x))))

    class Block(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.ln1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
            self.attn = SelfAttention(cfg)
            self.ln2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
            self.ff = FeedForward(cfg)

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            x = x + self.ff(self.ln2(x))
            return x

    class GPT(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.cfg = cfg
            self.transformer = nn.ModuleDict(dict(
                tok_emb=nn.Embedding(cfg.vocab_size, cfg.n_embd),
                pos_emb=nn.Embedding(cfg.block_size, cfg.n_embd),
                drop=nn.Dropout(cfg.dropout),
                blocks=nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)]),
                ln_f=nn.LayerNorm(cfg.n_embd, bias=cfg.bias),
            ))
            self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
            self.transformer.tok_emb.weight = self.head.weight  # weight tying
            self.apply(self._init_weights)
            for name, p in self.named_parameters():  # scaled init of the residual projections
                if name.endswith('proj.weight'):
                    torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))
            print(f"number of parameters: {self.num_params() / 1e6:.3f}M")

        def num_params(self):
            return sum(p.numel() for p in self.parameters())

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            device = idx.device
            b, t = idx.size()
            assert t <= self.cfg.block_size, f"sequence of {t} > block size {self.cfg.block_size}"
            pos = torch.arange(0, t, dtype=torch.long, device=device)
            x = self.transformer.drop(self.transformer.tok_emb(idx) + self.transformer.pos_emb(pos))
            for block in self.transformer.blocks:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            else:
                logits = self.head(x[:, [-1], :])  # only the last position is needed
                loss = None
            return logits, loss

        def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
            params = {name: p for name, p in self.named_parameters() if p.requires_grad}
            decay = [p for p in params.values() if p.dim() >= 2]
            no_decay = [p for p in params.values() if p.dim() < 2]
            groups = [{'params': decay, 'weight_decay': weight_decay},
                      {'params': no_decay, 'weight_decay': 0.0}]
            print(f"decayed tensors: {len(decay)}, {sum(p.numel() for p in decay):,} parameters")
            fused_ok = 'fused' in inspect.signature(torch.optim.AdamW).parameters
            extra = dict(fused=True) if fused_ok and device_type == 'cuda' else dict()
            return torch.optim.AdamW(groups, lr=learning_rate, betas=betas, **extra)

        @torch.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = idx if idx.size(1) <= self.cfg.block_size \
                    else idx[:, -self.cfg.block_size:]
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float('Inf')
                probs = F.softmax(logits, dim=-1)
                idx_next = torch.multinomial(probs, num_samples=1)
                idx = torch.cat((idx, idx_next), dim=1)
            return idx

    return GPT


def char_data(torch, text):
    chars = sorted(list(set(text)))
    stoi = {ch: i for i, ch in enumerate(chars)}
    itos = {i: ch for i, ch in enumerate(chars)}
    encode = lambda s: [stoi[c] for c in s]
    decode = lambda ids: ''.join([itos[i] for i in ids])
    data = torch.tensor(encode(text), dtype=torch.long)
    n = int(0.9 * len(data))
    return len(chars), data[:n], data[n:], encode, decode


def train_gpt(torch, model, train_data, val_data, offsets, max_iters, cfg,
              learning_rate=3e-3, warmup_iters=5, batch_size=8):
    device_type = 'cuda' if torch.cuda.is_available() else 'cpu'
    device = torch.device(device_type)
    model.to(device)
    optimizer = model.configure_optimizers(0.1, learning_rate, (0.9, 0.95), device_type)

    def get_batch(split, it):
        data = train_data if split == 'train' else val_data
        ix = torch.from_numpy(offsets[split][it])
        x = torch.stack([data[i:i + cfg.block_size] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + cfg.block_size] for i in ix])
        return x.to(device), y.to(device)

    def get_lr(it):  # linear warm-up, then cosine decay to a tenth
        if it < warmup_iters:
            return learning_rate * (it + 1) / (warmup_iters + 1)
        ratio = (it - warmup_iters) / (max_iters - warmup_iters)
        return 0.1 * learning_rate + 0.45 * learning_rate * (1.0 + math.cos(math.pi * ratio))

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        losses = torch.zeros(2)
        for k in range(2):
            X, Y = get_batch('val', k)
            _, loss = model(X, Y)
            losses[k] = loss.item()
        model.train()
        return losses.mean()

    history = []
    for i in range(max_iters):
        lr = get_lr(i)
        for param_group in optimizer.param_groups:
            param_group['lr'] = lr
        X, Y = get_batch('train', i)
        logits, loss = model(X, Y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        history.append(loss.item())
        print(f"iter {i}: loss {loss.item():.4f}, lr {lr:.2e}")
    val_loss = estimate_loss()
    print(f"val loss {val_loss:.4f}")
    return history, val_loss.item()


# ------------------------------------------------------------- data
def _offsets(n_train, n_val, block_size, iters, batch_size=8):
    rng = np.random.default_rng(0)
    return {'train': rng.integers(0, n_train - block_size, size=(iters, batch_size)),
            'val': rng.integers(0, n_val - block_size, size=(2, batch_size))}


ITERS = 40


# ------------------------------------------------------------- tests
def test_gpt_trains_on_characters_and_generates():
    torch.manual_seed(0)
    vocab_size, train_data, val_data, encode, decode = char_data(torch, TEXT)
    cfg = ModelConfig(vocab_size=vocab_size)
    model = define_gpt(torch, nn, F)(cfg)
    start = {k: to_numpy(v) for k, v in model.state_dict().items()}
    assert model.transformer.tok_emb.weight is model.head.weight
    offsets = _offsets(len(train_data), len(val_data), cfg.block_size, ITERS)
    history, val_loss = train_gpt(torch, model, train_data, val_data, offsets, ITERS, cfg)
    assert history[0] > math.log(vocab_size) - 0.2  # starts near chance
    assert_falls(history, factor=0.6)
    assert val_loss < 0.6 * history[0]

    model.eval()
    prompt = torch.tensor([encode("the ")], dtype=torch.long)
    greedy = model.generate(prompt, 20, top_k=1)
    assert greedy.shape == (1, 24) and greedy.dtype == torch.long
    assert decode(greedy[0].tolist()).startswith("the ")
    prompts = torch.tensor([encode("the "), encode("a ca"), encode("dog ")], dtype=torch.long)
    sampled = model.generate(prompts, 8, temperature=0.8, top_k=5)
    assert sampled.shape == (3, 12) and sampled.requires_grad is False
    assert 0 <= int(sampled.min()) and int(sampled.max()) < vocab_size

    torch_ref = pytest.importorskip("torch")
    import torch.nn.functional as F_ref
    ref_vocab, ref_train, ref_val, _, _ = char_data(torch_ref, TEXT)
    ref_model = define_gpt(torch_ref, torch_ref.nn, F_ref)(cfg)
    assert len(list(ref_model.parameters())) == len(list(model.parameters()))
    ref_model.load_state_dict({k: torch_ref.from_numpy(v) for k, v in start.items()})
    ref_history, ref_val_loss = train_gpt(torch_ref, ref_model, ref_train, ref_val, offsets,
                                          ITERS, cfg)
    np.testing.assert_allclose(history, ref_history, rtol=1e-4)
    np.testing.assert_allclose(val_loss, ref_val_loss, rtol=1e-4)
    assert_same_state(model, ref_model, rtol=1e-3, atol=1e-5)
    ref_model.eval()
    ref_greedy = ref_model.generate(torch_ref.tensor([encode("the ")]), 20, top_k=1)
    assert greedy.tolist() == ref_greedy.tolist()


def test_gpt_generates_from_a_repeated_prompt():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=8, n_layer=1)
    model = define_gpt(torch, nn, F)(cfg)
    model.eval()
    context = torch.zeros((1, 1), dtype=torch.long)
    samples = model.generate(context.repeat(4, 1), max_new_tokens=5, top_k=3)
    assert samples.shape == (4, 6)
    assert int(samples.max()) < cfg.vocab_size and samples[:, 0].tolist() == [0] * 4
