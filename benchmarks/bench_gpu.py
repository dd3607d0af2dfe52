"""graphgrad on a GPU (CuPy) beside PyTorch on the same GPU, and beside graphgrad on the CPU.

    python benchmarks/bench_gpu.py [--repeat 15] [--models transformer cnn lstm] [--small]

One training step (forward, loss, backward, optimizer step; float32) of three models,
written once against a ``torch``-like module (graphgrad or PyTorch):

- transformer: a pre-norm block (LayerNorm, causal multi-head self-attention through
  ``F.scaled_dot_product_attention``, LayerNorm, a GELU MLP of width 4d) on token
  embeddings, a linear head, cross-entropy, AdamW; d 256, 8 heads, 128 tokens, batch 32;
- cnn: conv 3->64 3x3 pad 1, ReLU, max-pool 2, conv 64->128 3x3 pad 1, ReLU, max-pool 2,
  linear 8192->10 on 3x32x32 images, batch 128, cross-entropy, SGD with momentum;
- lstm: embedding 10000x256, a 2-layer LSTM of 512, a linear decoder, cross-entropy,
  Adam; 35 steps, batch 64.

Columns: graphgrad on the CPU, graphgrad on the GPU, PyTorch on the same GPU (times per
step, milliseconds: medians of ``--repeat`` rounds taken in turn), then the ratios
graphgrad GPU / PyTorch GPU (how far from PyTorch) and graphgrad CPU / graphgrad GPU
(what the GPU gives).  Every step ends with ``loss.item()``, which waits for the
device, and the timer stops after ``synchronize()``.  All three start from the same
weights (graphgrad's initialisation, copied) and batch, and the first step's losses
are printed to show that they compute the same thing.  PyTorch's TF32 is turned off
(its convolutions use it by default on recent GPUs; CuPy's cuBLAS does not), so both
libraries compute in float32.

Without a GPU (``graphgrad.cuda.is_available()`` False) only the CPU column is
measured, the script says so and exits with status 0.  ``--small`` runs the models at
a size of a few milliseconds (used by the tests).
"""
from __future__ import annotations

import argparse
import math

import numpy as np
from _harness import interleaved_medians, load_torch, machine, print_table

import graphgrad as gg

SIZES = {  # name -> configuration: full size, then --small
    "transformer": (dict(batch=32, tokens=128, d=256, heads=8, vocab=512),
                    dict(batch=2, tokens=8, d=16, heads=2, vocab=11)),
    "cnn": (dict(batch=128, side=32, c1=64, c2=128), dict(batch=4, side=8, c1=4, c2=8)),
    "lstm": (dict(batch=64, steps=35, vocab=10000, emb=256, hidden=512, layers=2),
             dict(batch=3, steps=5, vocab=23, emb=8, hidden=8, layers=2)),
}


# ----------------------------------------------------------------------- models
def transformer(torch, cfg: dict):
    nn, F = torch.nn, torch.nn.functional
    d, heads = cfg["d"], cfg["heads"]

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab"], d)
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.head = nn.Linear(d, cfg["vocab"])

        def forward(self, tokens):
            x = self.embed(tokens)
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, heads, d // heads).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
            x = x + self.down(F.gelu(self.up(self.ln2(x))))
            return self.head(x)

    def batch(rng):
        text = rng.integers(0, cfg["vocab"], (cfg["batch"], cfg["tokens"] + 1))
        return text[:, :-1], text[:, 1:]

    def loss(model, x, y):
        return F.cross_entropy(model(x).view(-1, cfg["vocab"]), y.reshape(-1))

    return Block(), batch, loss, lambda ps: torch.optim.AdamW(ps, lr=3e-4)


def cnn(torch, cfg: dict):
    nn, F = torch.nn, torch.nn.functional
    c1, c2, side = cfg["c1"], cfg["c2"], cfg["side"]
    model = nn.Sequential(nn.Conv2d(3, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(c2 * (side // 4) ** 2, 10))

    def batch(rng):
        images = rng.standard_normal((cfg["batch"], 3, side, side)).astype(np.float32)
        return images, rng.integers(0, 10, cfg["batch"])

    def loss(model, x, y):
        return F.cross_entropy(model(x), y)

    return model, batch, loss, lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9)


def lstm(torch, cfg: dict):
    nn, F = torch.nn, torch.nn.functional

    class LanguageModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab"], cfg["emb"])
            self.rnn = nn.LSTM(cfg["emb"], cfg["hidden"], cfg["layers"])
            self.decoder = nn.Linear(cfg["hidden"], cfg["vocab"])

        def forward(self, tokens):
            output, _ = self.rnn(self.embed(tokens))
            return self.decoder(output)

    def batch(rng):  # (steps, batch), as PyTorch's word language model
        stream = rng.integers(0, cfg["vocab"], (cfg["steps"] + 1, cfg["batch"]))
        return stream[:-1], stream[1:]

    def loss(model, x, y):
        return F.cross_entropy(model(x).view(-1, cfg["vocab"]), y.reshape(-1))

    return LanguageModel(), batch, loss, lambda ps: torch.optim.Adam(ps, lr=1e-3)


BUILDERS = {"transformer": transformer, "cnn": cnn, "lstm": lstm}


# ------------------------------------------------------------------------ steps
def trainer(torch, name: str, cfg: dict, device: str, weights: dict | None):
    """(step, weights): ``step()`` runs one training step of model ``name`` in library
    ``torch`` on ``device`` and returns its loss; ``weights`` (NumPy arrays by state-dict
    key) are loaded first when given, else the model's own initialisation is returned."""
    torch.manual_seed(0)
    model, batch, loss_of, make_opt = BUILDERS[name](torch, cfg)
    if weights is not None:
        model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    else:
        weights = {k: np.array(v.detach().cpu().numpy()) for k, v in model.state_dict().items()}
    model.to(device)
    optimizer = make_opt(model.parameters())
    x, y = (torch.tensor(a, device=device) for a in batch(np.random.default_rng(0)))
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_of(model, x, y)
        loss.backward()
        optimizer.step()
        value = loss.item()  # waits for the device
        sync()
        return value

    return step, weights


def compare(name: str, cfg: dict, torch, gpu: bool, repeat: int) -> list:
    """One table row: times (ms) and ratios, and the first losses."""
    ours_cpu, weights = trainer(gg, name, cfg, "cpu", None)
    steps = {"graphgrad cpu": ours_cpu}
    if gpu:
        steps["graphgrad cuda"] = trainer(gg, name, cfg, "cuda", weights)[0]
        if torch is not None and torch.cuda.is_available():
            steps["torch cuda"] = trainer(torch, name, cfg, "cuda", weights)[0]
    losses = {label: step() for label, step in steps.items()}  # the first step of each
    seconds = interleaved_medians(steps, repeat=repeat, warmup=1)
    ms = {label: 1e3 * s for label, s in seconds.items()}
    cpu, ours, theirs = (ms.get(k) for k in ("graphgrad cpu", "graphgrad cuda", "torch cuda"))
    return [name, cpu, ours, theirs, ours / theirs if ours and theirs else None,
            cpu / ours if ours else None,
            "  ".join(f"{v:.5f}" for v in losses.values())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--models", nargs="+", choices=list(BUILDERS), default=list(BUILDERS))
    parser.add_argument("--small", action="store_true", help="tiny sizes (for the tests)")
    args = parser.parse_args(argv)
    gpu = gg.cuda.is_available()
    torch = load_torch()
    if torch is not None and torch.cuda.is_available():  # float32 arithmetic, as CuPy's
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    print(f"machine: {machine()}")
    if gpu:
        print(f"GPU: {gg.cuda.get_device_name()}; PyTorch "
              + ("sees it" if torch is not None and torch.cuda.is_available() else
                 "has no CUDA here: its column is empty"))
    rows = [compare(name, SIZES[name][args.small], torch, gpu, args.repeat)
            for name in args.models]
    print_table("one training step, milliseconds (median)",
                ["model", "gg cpu", "gg cuda", "torch cuda", "gg/torch cuda",
                 "gg cpu/gg cuda", "first losses (each column's)"], rows)
    if not gpu:
        print("\nno GPU: graphgrad.cuda.is_available() is False (CuPy missing or no device "
              "seen), so only graphgrad on the CPU was measured")
    bad = [row[0] for row in rows if not all(math.isfinite(float(v)) for v in row[-1].split())]
    if bad:
        print(f"non-finite first losses in {bad}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
