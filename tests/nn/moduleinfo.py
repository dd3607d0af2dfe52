"""The module registry: one entry per layer configuration, driving the generic tests.

Each entry names an ``nn`` class and its constructor arguments (the same ones
PyTorch's class of the same name takes), the inputs to feed it (float shapes,
or ``Index`` for integer inputs) and flags.  ``test_modules_generic.py`` runs
over every entry: gradcheck in float64 with respect to each input and every
parameter, a state_dict round trip, train/eval behaviour, repr, and the same
outputs and gradients as PyTorch for the same weights.

Adding a layer means adding an entry here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import graphgrad as gg
from graphgrad import nn


@dataclass(frozen=True)
class Index:
    """An integer input of ``shape`` with values in [0, high)."""

    shape: tuple
    high: int


@dataclass(frozen=True)
class Signs:
    """An integer input of ``shape`` with values -1 and 1 (a loss's similarity labels)."""

    shape: tuple


@dataclass
class ModuleInfo:
    cls: str  # the class name, in nn and in torch.nn
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    inputs: tuple = ((2, 3),)  # shapes of float inputs, or Index(...)
    variant: str = ""
    random: bool = False  # the training-mode output is random (dropout)
    train_differs: bool = False  # training and evaluation outputs differ
    bad_inputs: tuple = ()  # shapes that must raise a ValueError naming the layer
    domain: tuple | None = None  # (low, high) of the float inputs, away from kinks
    atol: float = 1e-10
    gradcheck: bool = True  # False where the gradient is cut on purpose (padding_idx)

    @property
    def id(self) -> str:
        return self.cls + (f"-{self.variant}" if self.variant else "")

    def make(self) -> nn.Module:
        return getattr(nn, self.cls)(*self.args, **self.kwargs)

    def make_torch(self):
        import torch

        return getattr(torch.nn, self.cls)(*self.args, **self.kwargs)

    def sample_inputs(self, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        out = []
        for spec in self.inputs:
            if isinstance(spec, Index):
                out.append(rng.integers(0, spec.high, size=spec.shape).astype(np.int64))
            elif isinstance(spec, Signs):
                out.append(rng.choice([-1, 1], size=spec.shape).astype(np.int64))
            else:
                lo, hi = self.domain or (-2.0, 2.0)
                x = rng.uniform(lo, hi, size=spec)
                if self.domain is None:  # keep away from the kinks at 0
                    x = np.where(np.abs(x) < 0.05, 0.3, x)
                out.append(x)
        return out


MODULES = [
    ModuleInfo("Linear", (3, 4), inputs=((2, 3),), bad_inputs=((2, 5),)),
    ModuleInfo("Linear", (3, 2), {"bias": False}, inputs=((2, 2, 3),), variant="nobias-3d"),
    ModuleInfo("Bilinear", (2, 3, 2), inputs=((2, 2), (2, 3)), bad_inputs=((2, 4), (2, 3))),
    ModuleInfo("Identity", inputs=((2, 3),)),
    ModuleInfo("BatchNorm1d", (3,), inputs=((4, 3),), train_differs=True,
               bad_inputs=((4, 5),)),
    ModuleInfo("BatchNorm1d", (2,), inputs=((3, 2, 2),), train_differs=True, variant="3d",
               bad_inputs=((3, 2, 2, 2),)),
    ModuleInfo("BatchNorm1d", (3,), {"affine": False, "momentum": None}, inputs=((4, 3),),
               train_differs=True, variant="noaffine-cma"),
    ModuleInfo("BatchNorm1d", (3,), {"track_running_stats": False}, inputs=((4, 3),),
               variant="notrack"),
    ModuleInfo("BatchNorm2d", (2,), inputs=((2, 2, 2, 3),), train_differs=True,
               bad_inputs=((2, 3, 2, 2), (2, 2, 3))),
    ModuleInfo("LayerNorm", (4,), inputs=((2, 4),), bad_inputs=((2, 3),)),
    ModuleInfo("LayerNorm", ((2, 3),), inputs=((2, 2, 3),), variant="2d"),
    ModuleInfo("LayerNorm", (3,), {"elementwise_affine": False}, inputs=((2, 3),),
               variant="noaffine"),
    ModuleInfo("Dropout", (0.4,), inputs=((3, 4),), random=True, train_differs=True),
    ModuleInfo("Dropout2d", (0.5,), inputs=((2, 3, 2, 2),), random=True, train_differs=True),
    ModuleInfo("Embedding", (5, 3), inputs=(Index((2, 4), 5),)),
    ModuleInfo("Embedding", (5, 2), {"padding_idx": 1}, inputs=(Index((3, 4), 5),),
               variant="padding", gradcheck=False),
    ModuleInfo("EmbeddingBag", (5, 3), inputs=(Index((3, 4), 5),)),
    ModuleInfo("EmbeddingBag", (5, 2), {"mode": "sum", "padding_idx": 0},
               inputs=(Index((3, 4), 5),), variant="sum-padding"),
    ModuleInfo("EmbeddingBag", (6, 2), {"mode": "max"},
               inputs=(Index((2, 5), 6),), variant="max"),
    ModuleInfo("Flatten", inputs=((2, 2, 3),)),
    ModuleInfo("Unflatten", (1, (2, 3)), inputs=((2, 6),)),
    ModuleInfo("ReLU", inputs=((3, 4),)),
    ModuleInfo("ReLU6", inputs=((3, 4),), domain=(-3.0, 9.0)),
    ModuleInfo("Hardtanh", (-0.5, 1.5), inputs=((3, 4),), domain=(-0.45, 1.45)),
    ModuleInfo("LeakyReLU", inputs=((3, 4),)),
    ModuleInfo("LeakyReLU", (0.2,), inputs=((3, 4),), variant="0.2"),
    ModuleInfo("ELU", inputs=((3, 4),)),
    ModuleInfo("GELU", inputs=((3, 4),)),
    ModuleInfo("GELU", (), {"approximate": "tanh"}, inputs=((3, 4),), variant="tanh"),
    ModuleInfo("SiLU", inputs=((3, 4),)),
    ModuleInfo("Sigmoid", inputs=((3, 4),)),
    ModuleInfo("Tanh", inputs=((3, 4),)),
    ModuleInfo("Softplus", inputs=((3, 4),)),
    ModuleInfo("Softplus", (2.0, 1.0), inputs=((3, 4),), variant="beta2"),
    ModuleInfo("LogSigmoid", inputs=((3, 4),)),
    ModuleInfo("Softmax", (1,), inputs=((3, 4),)),
    ModuleInfo("Softmin", (0,), inputs=((3, 4),)),
    ModuleInfo("LogSoftmax", (-1,), inputs=((2, 3, 4),)),
    ModuleInfo("PairwiseDistance", inputs=((3, 4), (3, 4))),
    ModuleInfo("CosineSimilarity", inputs=((3, 4), (3, 4))),
    ModuleInfo("Sequential", (), inputs=((2, 3),), variant="empty"),
    ModuleInfo("MarginRankingLoss", (0.2,), inputs=((4,), (4,), Signs((4,)))),
    ModuleInfo("HingeEmbeddingLoss", (), {"reduction": "none"}, inputs=((3, 4), Signs((3, 4)))),
    ModuleInfo("SoftMarginLoss", inputs=((3, 4), Signs((3, 4)))),
    ModuleInfo("MultiLabelSoftMarginLoss", inputs=((3, 4), (3, 4)), domain=(0.05, 0.95)),
    ModuleInfo("MultiLabelMarginLoss", inputs=((3, 4), Index((3, 4), 4))),
    ModuleInfo("MultiMarginLoss", inputs=((3, 4), Index((3,), 4))),
    ModuleInfo("MultiMarginLoss", (2, 0.5), {"reduction": "sum"}, inputs=((3, 4), Index((3,), 4)),
               variant="p2"),
    ModuleInfo("CosineEmbeddingLoss", (0.1,), inputs=((3, 4), (3, 4), Signs((3,)))),
    ModuleInfo("PoissonNLLLoss", inputs=((3, 4), (3, 4)), domain=(0.1, 2.0)),
    ModuleInfo("PoissonNLLLoss", (False, True), inputs=((3, 4), (3, 4)), domain=(0.1, 2.0),
               variant="rates-full"),
    ModuleInfo("GaussianNLLLoss", (), {"full": True}, inputs=((3, 4), (3, 4), (3, 1)),
               domain=(0.1, 2.0)),
    ModuleInfo("TripletMarginWithDistanceLoss", inputs=((3, 4), (3, 4), (3, 4))),
]


def as_inputs(info: ModuleInfo, arrays: list[np.ndarray], requires_grad: bool = True) -> list:
    """Tensors for ``arrays``: float64 ones requiring grad, integer ones as they are."""
    return [gg.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f") for a in arrays]


def functional_call(module: nn.Module, tensors: dict, args: list):
    """Call ``module(*args)`` with its parameters temporarily replaced by ``tensors``
    ({dotted name: Tensor}), so a gradient check can perturb them as inputs."""
    saved = []
    for name, tensor in tensors.items():
        owner_path, _, attr = name.rpartition(".")
        owner = module.get_submodule(owner_path)
        saved.append((owner, attr, owner._parameters[attr]))
        owner._parameters[attr] = tensor
    try:
        return module(*args)
    finally:
        for owner, attr, param in saved:
            owner._parameters[attr] = param
