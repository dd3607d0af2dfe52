"""Small models as people train them, written once against a ``torch``-like module.

Every builder takes the library (``graphgrad``, imported as ``torch`` works, or
PyTorch itself), a configuration dict and a batch of NumPy data, and returns the
model and a ``step()`` that runs one training step as the common public scripts
do and returns the loss as a float.  The code is our own, in the style of those
scripts:

- ``gpt``: a character-level GPT (nanoGPT/minGPT-like): token and position
  embeddings, pre-norm blocks of causal self-attention (a registered lower-
  triangular mask buffer) and an MLP with exact GELU (``nn.GELU``) or the tanh
  form written out with ``torch.pow(x, 3.0)`` (minGPT's ``NewGELU``), the output
  layer tied to the token embedding, AdamW with weight decay on the matrices only;
- ``rnnlm``: a word-level LSTM or GRU language model (PyTorch's
  word_language_model example): embedding, dropout, a 2-layer recurrent net,
  a linear decoder, log-softmax and NLL; the hidden state carried from batch to
  batch, detached; gradients clipped with ``clip_grad_norm_`` and plain SGD
  applied through ``p.data``;
- ``dcgan``: one DCGAN step on 64x64 images (transposed convolutions, batch
  norm, leaky ReLU, BCE; the discriminator on real and detached fake images,
  then the generator), Adam with betas (0.5, 0.999);
- ``cnn``: PyTorch's MNIST example (two convolutions, max-pool, dropout, two
  linear layers, log-softmax, NLL, Adadelta);
- ``mlp``: a micrograd-size MLP 2-16-16-1 on two moons, max-margin loss with L2
  regularisation, SGD.

The model's weights come from the library's own initialisation; to compare two
libraries, build with one, copy its state into the other (``states``, ``load_state``).
"""
from __future__ import annotations

import math

import numpy as np

# name -> configuration; "kind" picks the builder.
MODELS = {
    "gpt64": dict(kind="gpt", n_layer=4, n_head=4, n_embd=64, block=32, batch=12, vocab=65,
                  gelu="exact", dropout=0.0),
    "gpt128-tanh": dict(kind="gpt", n_layer=4, n_head=4, n_embd=128, block=64, batch=32,
                        vocab=65, gelu="tanh", dropout=0.1),
    "lstm32": dict(kind="rnnlm", cell="LSTM", vocab=1000, emb=32, hidden=32, layers=2, bptt=20,
                   batch=10, dropout=0.2),
    "lstm200": dict(kind="rnnlm", cell="LSTM", vocab=10000, emb=200, hidden=200, layers=2,
                    bptt=35, batch=20, dropout=0.2),
    "gru32": dict(kind="rnnlm", cell="GRU", vocab=1000, emb=32, hidden=32, layers=2, bptt=20,
                  batch=10, dropout=0.2),
    "gru200": dict(kind="rnnlm", cell="GRU", vocab=10000, emb=200, hidden=200, layers=2,
                   bptt=35, batch=20, dropout=0.2),
    "dcgan": dict(kind="dcgan", nz=100, ngf=32, ndf=32, batch=16),
    "cnn": dict(kind="cnn", batch=64, dropout=(0.25, 0.5)),
    "mlp": dict(kind="mlp", batch=100, hidden=16),
}

# The same models at a size that runs in milliseconds, without dropout (so that two
# libraries' training losses can be compared step by step): for the tests.
TINY = {
    "gpt": dict(n_layer=2, n_head=2, n_embd=16, block=8, batch=3, vocab=11, dropout=0.0),
    "rnnlm": dict(vocab=23, emb=8, hidden=8, bptt=5, batch=3, dropout=0.0),
    "dcgan": dict(nz=8, ngf=4, ndf=4, batch=2),
    "cnn": dict(batch=4, dropout=(0.0, 0.0)),
    "mlp": dict(batch=10),
}


def config(name: str, tiny: bool = False) -> dict:
    cfg = dict(MODELS[name])
    if tiny:
        cfg.update(TINY[cfg["kind"]])
    return cfg


def data(cfg: dict) -> dict:
    """The NumPy arrays a model trains on (seeded: the same for every library)."""
    rng = np.random.default_rng(0)
    kind, b = cfg["kind"], cfg["batch"]
    if kind == "gpt":
        text = rng.integers(0, cfg["vocab"], 20 * cfg["block"] * b)
        return {"text": text}
    if kind == "rnnlm":
        stream = rng.integers(0, cfg["vocab"], 8 * cfg["bptt"] * b + 1)
        n = len(stream) // b
        return {"source": stream[:n * b].reshape(b, n).T.copy()}  # (steps, batch) as batchify
    if kind == "dcgan":
        return {"real": np.tanh(rng.standard_normal((b, 3, 64, 64))).astype(np.float32),
                "noise": rng.standard_normal((4, b, cfg["nz"], 1, 1)).astype(np.float32)}
    if kind == "cnn":
        return {"images": rng.standard_normal((4, b, 1, 28, 28)).astype(np.float32),
                "labels": rng.integers(0, 10, (4, b))}
    angle = rng.uniform(0, math.pi, b)  # two moons
    upper = rng.integers(0, 2, b)
    side = 2 * upper - 1
    points = np.stack([np.cos(angle) + (1 - upper), np.sin(angle) * side + 0.5 * upper], 1)
    points += 0.1 * rng.standard_normal((b, 2))
    return {"points": points.astype(np.float32), "labels": side.astype(np.float32)}


def build(torch, cfg: dict, arrays: dict):
    """(model, step) for the configuration, in library ``torch``."""
    return _BUILDERS[cfg["kind"]](torch, cfg, arrays)


def states(model) -> dict:
    """The state of a model or a tuple of models as NumPy arrays (copies), keys prefixed
    by the model's position."""
    models = model if isinstance(model, tuple) else (model,)
    return {f"{i}.{k}": np.array(v.detach().numpy())
            for i, m in enumerate(models) for k, v in m.state_dict().items()}


def load_state(torch, model, arrays: dict) -> None:
    """Load ``states``' arrays into a model or a tuple of models of library ``torch``."""
    models = model if isinstance(model, tuple) else (model,)
    for i, m in enumerate(models):
        m.load_state_dict({k: torch.tensor(arrays[f"{i}.{k}"]) for k in m.state_dict()})


# ---------------------------------------------------------------- char-level GPT
def gpt(torch, cfg: dict, arrays: dict):
    nn, F = torch.nn, torch.nn.functional

    class NewGELU(nn.Module):
        """GELU's tanh form, written out as the public scripts do."""

        def forward(self, x):
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi)
                                               * (x + 0.044715 * torch.pow(x, 3.0))))

    class CausalSelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = nn.Linear(cfg["n_embd"], 3 * cfg["n_embd"])
            self.c_proj = nn.Linear(cfg["n_embd"], cfg["n_embd"])
            self.attn_dropout = nn.Dropout(cfg["dropout"])
            self.resid_dropout = nn.Dropout(cfg["dropout"])
            block = cfg["block"]
            self.register_buffer("bias", torch.tril(torch.ones(block, block))
                                 .view(1, 1, block, block))

        def forward(self, x):
            B, T, C = x.size()
            nh = cfg["n_head"]
            q, k, v = self.c_attn(x).split(C, dim=2)
            q = q.view(B, T, nh, C // nh).transpose(1, 2)
            k = k.view(B, T, nh, C // nh).transpose(1, 2)
            v = v.view(B, T, nh, C // nh).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = self.attn_dropout(F.softmax(att, dim=-1))
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            n = cfg["n_embd"]
            self.ln_1 = nn.LayerNorm(n)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(n)
            self.mlp = nn.Sequential(nn.Linear(n, 4 * n),
                                     nn.GELU() if cfg["gelu"] == "exact" else NewGELU(),
                                     nn.Linear(4 * n, n), nn.Dropout(cfg["dropout"]))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            n = cfg["n_embd"]
            self.wte = nn.Embedding(cfg["vocab"], n)
            self.wpe = nn.Embedding(cfg["block"], n)
            self.drop = nn.Dropout(cfg["dropout"])
            self.h = nn.ModuleList([Block() for _ in range(cfg["n_layer"])])
            self.ln_f = nn.LayerNorm(n)
            self.lm_head = nn.Linear(n, cfg["vocab"], bias=False)
            self.wte.weight = self.lm_head.weight  # weight tying
            self.apply(self._init_weights)
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg["n_layer"]))

        @staticmethod
        def _init_weights(module) -> None:
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

        def forward(self, idx, targets):
            t = idx.size(1)
            pos = torch.arange(0, t, dtype=torch.long)
            x = self.drop(self.wte(idx) + self.wpe(pos))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    model = GPT()
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95))
    text = torch.tensor(arrays["text"])
    block, batch = cfg["block"], cfg["batch"]
    starts = np.arange(0, len(arrays["text"]) - block - 1, block)
    counter = iter(range(10**9))

    def get_batch():
        i = starts[next(counter) * batch % (len(starts) - batch):][:batch]
        x = torch.stack([text[j:j + block] for j in i])
        y = torch.stack([text[j + 1:j + 1 + block] for j in i])
        return x, y

    def step() -> float:
        x, y = get_batch()
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    return model, step


# ---------------------------------------------------------------- word-level RNN LM
def rnnlm(torch, cfg: dict, arrays: dict):
    nn, F = torch.nn, torch.nn.functional

    class RNNModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.drop = nn.Dropout(cfg["dropout"])
            self.encoder = nn.Embedding(cfg["vocab"], cfg["emb"])
            rnn = nn.LSTM if cfg["cell"] == "LSTM" else nn.GRU
            self.rnn = rnn(cfg["emb"], cfg["hidden"], cfg["layers"], dropout=cfg["dropout"])
            self.decoder = nn.Linear(cfg["hidden"], cfg["vocab"])
            nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

        def forward(self, inputs, hidden):
            emb = self.drop(self.encoder(inputs))
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(self.drop(output)).view(-1, cfg["vocab"])
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            shape = (cfg["layers"], bsz, cfg["hidden"])
            if cfg["cell"] == "LSTM":
                return weight.new_zeros(shape), weight.new_zeros(shape)
            return weight.new_zeros(shape)

    def repackage_hidden(h):
        return h.detach() if isinstance(h, torch.Tensor) else tuple(repackage_hidden(v) for v in h)

    model = RNNModel()
    criterion = nn.NLLLoss()
    source = torch.tensor(arrays["source"])
    bptt, lr = cfg["bptt"], 20.0
    starts = range(0, source.size(0) - 1 - bptt, bptt)
    hidden = [model.init_hidden(cfg["batch"])]
    counter = iter(range(10**9))

    def step() -> float:
        i = starts[next(counter) % len(starts)]
        if i == 0:
            hidden[0] = model.init_hidden(cfg["batch"])
        x, targets = source[i:i + bptt], source[i + 1:i + 1 + bptt].reshape(-1)
        hidden[0] = repackage_hidden(hidden[0])
        model.zero_grad()
        output, hidden[0] = model(x, hidden[0])
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        return loss.item()

    return model, step


# ---------------------------------------------------------------- DCGAN
def dcgan(torch, cfg: dict, arrays: dict):
    nn = torch.nn
    nz, ngf, ndf = cfg["nz"], cfg["ngf"], cfg["ndf"]

    def up(c_in, c_out, stride, padding):
        return [nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=False),
                nn.BatchNorm2d(c_out), nn.ReLU(True)]

    def down(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, inplace=True)]

    netG = nn.Sequential(*up(nz, ngf * 8, 1, 0), *up(ngf * 8, ngf * 4, 2, 1),
                         *up(ngf * 4, ngf * 2, 2, 1), *up(ngf * 2, ngf, 2, 1),
                         nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())
    netD = nn.Sequential(nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                         *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4), *down(ndf * 4, ndf * 8),
                         nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def weights_init(m) -> None:
        if type(m).__name__.startswith("Conv"):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif type(m).__name__.startswith("BatchNorm"):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.tensor(arrays["real"])
    noises = [torch.tensor(n) for n in arrays["noise"]]
    b = cfg["batch"]
    counter = iter(range(10**9))

    def step() -> float:
        noise = noises[next(counter) % len(noises)]
        netD.zero_grad()
        label = torch.full((b,), 1.0)
        errD_real = criterion(netD(real).view(-1), label)
        errD_real.backward()
        fake = netG(noise)
        label.fill_(0.0)
        errD_fake = criterion(netD(fake.detach()).view(-1), label)
        errD_fake.backward()
        optD.step()
        netG.zero_grad()
        label.fill_(1.0)
        errG = criterion(netD(fake).view(-1), label)
        errG.backward()
        optG.step()
        return errD_real.item() + errD_fake.item() + errG.item()

    return (netG, netD), step


# ---------------------------------------------------------------- MNIST CNN
def cnn(torch, cfg: dict, arrays: dict):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(cfg["dropout"][0])
            self.dropout2 = nn.Dropout(cfg["dropout"][1])
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = self.dropout1(F.max_pool2d(x, 2))
            x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
            return F.log_softmax(self.fc2(x), dim=1)

    model = Net()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    batches = list(zip([torch.tensor(x) for x in arrays["images"]],
                       [torch.tensor(y) for y in arrays["labels"]], strict=True))
    counter = iter(range(10**9))

    def step() -> float:
        data, target = batches[next(counter) % len(batches)]
        opt.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        opt.step()
        return loss.item()

    return model, step


# ---------------------------------------------------------------- micrograd MLP
def mlp(torch, cfg: dict, arrays: dict):
    nn, F = torch.nn, torch.nn.functional
    h = cfg["hidden"]
    model = nn.Sequential(nn.Linear(2, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.tensor(arrays["points"]), torch.tensor(arrays["labels"])

    def step() -> float:
        scores = model(x).view(-1)
        loss = F.relu(1 - y * scores).mean() + 1e-4 * sum((p * p).sum() for p in model.parameters())
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return model, step


_BUILDERS = {"gpt": gpt, "rnnlm": rnnlm, "dcgan": dcgan, "cnn": cnn, "mlp": mlp}
