"""gg.save / gg.load on what training scripts save: GPT-style checkpoints, optimizer and
scheduler state, tensors of every kind, shared (tied) arrays, and what can't be saved."""
import collections
import io
import math
import os

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim


def same(a, b) -> bool:
    """Equal values of the same types all the way down (NaN equal to NaN; Tensors of the
    same class, dtype, values and requires_grad)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, gg.Tensor):
        return a.requires_grad == b.requires_grad and same(a.numpy(), b.numpy())
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def round_trip(obj, **load_args):
    buf = io.BytesIO()
    gg.save(obj, buf)
    buf.seek(0)
    return gg.load(buf, **load_args)


# ------------------------------------------------------------------ a GPT-style checkpoint
class TinyGPT(nn.Module):
    """Token and position embeddings, a layer norm and a head tied to the token embedding."""

    def __init__(self, vocab_size: int, n_embd: int, block_size: int) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        self.register_buffer("causal", gg.tril(gg.ones(block_size, block_size)) > 0)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(gg.arange(idx.shape[1]))
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


MODEL_ARGS = {"vocab_size": 11, "n_embd": 8, "block_size": 5}
CONFIG = {"out_dir": "out", "eval_interval": 2000, "always_save_checkpoint": True,
          "init_from": "scratch", "wandb_run_name": None, "dropout": 0.0, "bias": False,
          "learning_rate": 6e-4, "betas": (0.9, 0.95), "grad_clip": 1.0, "decay_lr": True,
          "min_lr": 6e-5, "device": "cpu", "dtype": "float32", "compile": False}


def batches(n):
    rng = np.random.default_rng(7)
    return [(gg.tensor(rng.integers(0, 11, (3, 5))), gg.tensor(rng.integers(0, 11, (3, 5))))
            for _ in range(n)]


def train(model, opt, data):
    for idx, targets in data:
        loss = model(idx, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss


def test_gpt_checkpoint_round_trips_exactly_and_resumes(tmp_path):
    gg.manual_seed(0)
    model = TinyGPT(**MODEL_ARGS)
    opt = optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)
    data = batches(5)
    loss = train(model, opt, data[:3])
    checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict(),
                  "model_args": dict(MODEL_ARGS), "iter_num": 5000,
                  "best_val_loss": gg.tensor(1.23), "last_loss": loss.detach(),
                  "config": dict(CONFIG)}
    path = tmp_path / "ckpt.pt"
    gg.save(checkpoint, path)
    loaded = gg.load(path, map_location="cpu")
    assert same(loaded, checkpoint)
    assert type(loaded["model"]) is collections.OrderedDict
    assert list(loaded["optimizer"]["state"]) == [0, 1, 2, 3]  # int keys stay ints
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.95)
    assert loaded["best_val_loss"].shape == () and loaded["best_val_loss"].item() == \
        pytest.approx(1.23)
    # the tied head is stored once and loads sharing the embedding's array
    model_sd = loaded["model"]
    assert np.shares_memory(model_sd["wte.weight"].numpy(), model_sd["lm_head.weight"].numpy())

    gg.manual_seed(1)  # a different initialisation, entirely overwritten by the checkpoint
    resumed = TinyGPT(**loaded["model_args"])
    resumed.load_state_dict(loaded["model"])
    resumed_opt = optim.AdamW(resumed.parameters(), lr=1.0)
    resumed_opt.load_state_dict(loaded["optimizer"])
    train(model, opt, data[3:])
    train(resumed, resumed_opt, data[3:])
    for (name, a), (_, b) in zip(model.state_dict().items(), resumed.state_dict().items(),
                                 strict=True):
        assert a.numpy().tobytes() == b.numpy().tobytes(), name


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=1e-2),
    lambda ps: optim.RMSprop(ps, lr=1e-2, centered=True, momentum=0.5),
], ids=["SGD", "Adam", "AdamW", "RMSprop"])
def test_optimizer_state_dicts_round_trip(make):
    gg.manual_seed(0)
    model = TinyGPT(**MODEL_ARGS)
    opt = make(model.parameters())
    data = batches(4)
    train(model, opt, data[:2])
    loaded = round_trip(opt.state_dict())
    assert same(loaded, opt.state_dict())
    twin = make(model.parameters())
    twin.load_state_dict(loaded)
    assert same(twin.state_dict(), opt.state_dict())


def test_scheduler_state_dicts_round_trip():
    opt = optim.SGD([gg.zeros(2, requires_grad=True)], lr=0.1)
    schedulers = [optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
                  optim.lr_scheduler.ReduceLROnPlateau(opt),  # holds best = inf
                  optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.9 ** epoch)]
    for sched in schedulers:
        sched.step() if not isinstance(sched, optim.lr_scheduler.ReduceLROnPlateau) \
            else sched.step(1.5)
        state = sched.state_dict()
        assert same(round_trip(state), state)
    assert round_trip(schedulers[1].state_dict())["best"] == 1.5


# ------------------------------------------------------------------ tensors of every kind
@pytest.mark.parametrize("value", [
    gg.tensor(1.23), gg.tensor(3), gg.tensor(True), gg.zeros(0), gg.zeros(2, 0, 3),
    gg.tensor([1.5, -2.0], dtype=np.float16), gg.tensor([True, False, True]),
    gg.arange(6, dtype=np.int64).reshape(2, 3), gg.randn(3, 2, dtype=np.float64),
    gg.tensor([[1.0, 2.0]], requires_grad=True), gg.zeros(0, requires_grad=True),
], ids=lambda t: f"{t.dtype}{tuple(t.shape)}{'-grad' if t.requires_grad else ''}")
def test_tensors_round_trip(value):
    out = round_trip({"t": value})["t"]
    assert same(out, value) and out.dtype == value.dtype and out.is_leaf
    assert not np.shares_memory(out.numpy(), value.numpy())
    if out.numel():
        out.numpy().reshape(-1)[0] = 0  # loaded arrays are writable memory of their own


def test_parameters_and_non_leaf_tensors():
    weight = nn.Parameter(gg.randn(3, 2))
    frozen = nn.Parameter(gg.ones(2), requires_grad=False)
    hidden = gg.randn(2, requires_grad=True) * 2  # not a leaf: loads as a leaf, as PyTorch
    out = round_trip({"w": weight, "frozen": frozen, "h": hidden})
    assert type(out["w"]) is nn.Parameter and out["w"].requires_grad
    assert type(out["frozen"]) is nn.Parameter and not out["frozen"].requires_grad
    assert type(out["h"]) is gg.Tensor and out["h"].requires_grad and out["h"].is_leaf
    assert same(out["w"], weight) and same(out["frozen"], frozen)
    np.testing.assert_array_equal(out["h"].numpy(), hidden.detach().numpy())
    out["w"].sum().backward()
    np.testing.assert_array_equal(out["w"].grad.numpy(), np.ones((3, 2), np.float32))


def test_containers_keep_their_types():
    point = collections.namedtuple("Point", "x y")
    obj = {"od": collections.OrderedDict([("b", 1), ("a", 2)]), "d": {2: "int", "2": "str"},
           "t": (1, (2,), ()), "l": [[], [[]]], "dd": collections.defaultdict(int, a=1),
           "nt": point(1, 2), "size": gg.zeros(2, 3).shape, "big": 2**100, "neg": -7,
           "floats": [0.1, -0.0, 1e308, float("nan"), float("inf")], "none": None,
           "text": "naïve ✓ \ud800", "np": [np.float32(1.5), np.int8(-3), np.bool_(True)]}
    out = round_trip(obj)
    assert same(out["od"], obj["od"]) and same(out["d"], obj["d"]) and same(out["t"], obj["t"])
    assert same(out["l"], obj["l"]) and same(out["floats"], obj["floats"])
    assert type(out["dd"]) is dict and out["dd"] == {"a": 1}  # other subclasses: plain types
    assert type(out["nt"]) is tuple and out["nt"] == (1, 2)
    assert type(out["size"]) is tuple and out["size"] == (2, 3)
    assert out["big"] == 2**100 and out["neg"] == -7 and out["none"] is None
    assert out["text"] == obj["text"] and same(out["np"], obj["np"])
    assert math.copysign(1.0, out["floats"][1]) == -1.0


def test_shared_arrays_are_stored_once():
    big = np.arange(10_000, dtype=np.float64)
    t = gg.tensor(np.ones((100, 100), np.float32))
    obj = {"a": big, "a_again": big, "t": t, "t_detached": t.detach(), "t_data": t.numpy(),
           "copy": big.copy(), "view": big[:5000]}
    buf = io.BytesIO()
    gg.save(obj, buf)
    # big, t and the two separately stored arrays (copy and view), nothing twice
    assert len(buf.getvalue()) < 8 * 10_000 * 2 + 4 * 10_000 + 8 * 5000 + 2048
    buf.seek(0)
    out = gg.load(buf)
    assert out["a"] is out["a_again"]  # one array object, as pickle's memo gives
    assert out["t"] is not out["t_detached"] and out["t_data"] is out["t"].numpy()
    assert np.shares_memory(out["t"].numpy(), out["t_detached"].numpy())
    assert not np.shares_memory(out["copy"], out["a"]) and not np.shares_memory(out["view"],
                                                                                out["a"])
    out["t"].numpy()[0, 0] = 5
    assert out["t_detached"].numpy()[0, 0] == 5 and t.numpy()[0, 0] == 1
    assert same(out["view"], big[:5000])


# ------------------------------------------------------------------ what can't be saved
class Trainer:
    def state_dict(self):
        return {}


@pytest.mark.parametrize("obj, key, hint", [
    (nn.Linear(2, 2), "<root>", "state_dict()"),
    ({"model": nn.Sequential(nn.Linear(2, 2))}, "['model']", "model.state_dict()"),
    ({"a": [1, {"m": TinyGPT(**MODEL_ARGS)}]}, "['a'][1]['m']", "model.state_dict()"),
    ({"opt": optim.SGD([gg.zeros(1, requires_grad=True)], lr=0.1)}, "['opt']",
     "state_dict() instead"),
    ({"trainer": (Trainer(),)}, "['trainer'][0]", "state_dict() instead"),
    ({"fn": print}, "['fn']", "only dicts"),
    ({3: {b"bytes": 1}}, "[3]", "keys must be str or int"),
    ({"set": {1, 2}}, "['set']", "only dicts"),
])
def test_unsupported_values_raise_naming_the_key(tmp_path, obj, key, hint):
    buf = io.BytesIO()
    with pytest.raises(TypeError) as info:
        gg.save(obj, buf)
    assert f"at key {key}" in str(info.value) and hint in str(info.value)
    assert buf.getvalue() == b""  # checked before anything is written
    with pytest.raises(TypeError):
        gg.save(obj, tmp_path / "x.pt")
    assert os.listdir(tmp_path) == []
