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
class Fixed:
    """An integer input with the given (nested tuple of) values, the same at every draw
    (max unpooling's indices, which must not repeat)."""

    values: tuple


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
            elif isinstance(spec, Fixed):
                out.append(np.array(spec.values, dtype=np.int64))
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


# Normalisation, activation, resampling, padding and pooling layers (issue 16).
_PAD_INPUTS = {1: (2, 3, 4), 2: (2, 3, 4), 3: (1, 2, 3, 3, 4)}
MODULES += [
    ModuleInfo("BatchNorm3d", (2,), inputs=((2, 2, 2, 2, 3),), train_differs=True,
               bad_inputs=((2, 2, 3, 3), (2, 3, 2, 2, 2))),
    ModuleInfo("GroupNorm", (2, 4), inputs=((2, 4, 3),), bad_inputs=((2, 6, 3),)),
    ModuleInfo("GroupNorm", (3, 3), {"affine": False}, inputs=((2, 3, 2, 2),), variant="noaffine"),
    ModuleInfo("InstanceNorm1d", (3,), inputs=((2, 3, 4),), bad_inputs=((2, 3, 4, 5),)),
    ModuleInfo("InstanceNorm1d", (3,), {"affine": True, "track_running_stats": True},
               inputs=((2, 3, 4),), train_differs=True, variant="affine-track",
               bad_inputs=((2, 4, 4),)),
    ModuleInfo("InstanceNorm2d", (2,), {"affine": True}, inputs=((2, 2, 3, 3),),
               variant="affine", bad_inputs=((2, 3, 3, 3), (3,))),
    ModuleInfo("InstanceNorm2d", (2,), {"track_running_stats": True, "momentum": 0.3},
               inputs=((2, 3, 3),), train_differs=True, variant="unbatched-track"),
    ModuleInfo("InstanceNorm3d", (2,), {"affine": True, "bias": False},
               inputs=((2, 2, 2, 2, 3),), variant="nobias"),
    ModuleInfo("LayerNorm", (4,), {"bias": False}, inputs=((2, 4),), variant="nobias"),
    ModuleInfo("RMSNorm", (4,), inputs=((2, 4),), bad_inputs=((2, 3),)),
    ModuleInfo("RMSNorm", ((2, 3),), {"eps": 1e-3, "elementwise_affine": False},
               inputs=((2, 2, 3),), variant="2d-noaffine"),
    ModuleInfo("LocalResponseNorm", (3,), {"alpha": 0.5, "k": 1.5}, inputs=((2, 4, 3),),
               bad_inputs=((2, 4),)),
    ModuleInfo("LocalResponseNorm", (2,), {"beta": 1.2}, inputs=((1, 5, 2, 2),), variant="4d"),
    ModuleInfo("PReLU", inputs=((3, 4),)),
    ModuleInfo("PReLU", (3, 0.1), inputs=((2, 3, 4),), variant="channels"),
    ModuleInfo("CELU", (2.0,), inputs=((3, 4),)),
    ModuleInfo("SELU", inputs=((3, 4),)),
    ModuleInfo("Threshold", (0.1, 20.0), inputs=((3, 4),)),
    ModuleInfo("Mish", inputs=((3, 4),)),
    ModuleInfo("Hardswish", inputs=((3, 4),), domain=(-4.0, 4.0)),
    ModuleInfo("Hardsigmoid", inputs=((3, 4),), domain=(-4.0, 4.0), atol=1e-7),
    ModuleInfo("Softsign", inputs=((3, 4),)),
    ModuleInfo("Tanhshrink", inputs=((3, 4),)),
    ModuleInfo("Softshrink", (0.3,), inputs=((3, 4),)),
    ModuleInfo("Hardshrink", inputs=((3, 4),)),
    ModuleInfo("GLU", (1,), inputs=((2, 4, 3),)),
    ModuleInfo("Softmax2d", inputs=((2, 3, 2, 2),), bad_inputs=((3, 4),)),
    ModuleInfo("Upsample", (), {"scale_factor": 2.0}, inputs=((1, 2, 3),), variant="nearest",
               bad_inputs=((2, 3),)),
    ModuleInfo("Upsample", (), {"scale_factor": 1.7, "mode": "nearest-exact"},
               inputs=((1, 2, 3, 4),), variant="nearest-exact"),
    ModuleInfo("Upsample", (5,), {"mode": "linear"}, inputs=((2, 2, 3),), variant="linear"),
    ModuleInfo("Upsample", (), {"scale_factor": 2, "mode": "bilinear", "align_corners": True},
               inputs=((1, 2, 2, 3),), variant="bilinear-corners"),
    ModuleInfo("Upsample", ((4, 5),), {"mode": "bicubic"}, inputs=((1, 1, 3, 3),),
               variant="bicubic"),
    ModuleInfo("Upsample", ((3, 2, 4),), {"mode": "trilinear"}, inputs=((1, 1, 2, 2, 3),),
               variant="trilinear"),
    ModuleInfo("UpsamplingNearest2d", (), {"scale_factor": 2}, inputs=((1, 2, 2, 2),)),
    ModuleInfo("UpsamplingBilinear2d", ((3, 4),), inputs=((1, 2, 2, 2),)),
    ModuleInfo("PixelShuffle", (2,), inputs=((1, 8, 2, 3),)),
    ModuleInfo("PixelUnshuffle", (2,), inputs=((1, 2, 4, 2),)),
    *[ModuleInfo(f"{kind}Pad{nd}d", (padding,), inputs=(_PAD_INPUTS[nd],),
                 bad_inputs=((2,) * (nd + 3),))
      for kind, padding in (("Reflection", 2), ("Replication", 3), ("Circular", 1))
      for nd in (1, 2, 3)],
    *[ModuleInfo(f"ZeroPad{nd}d", ((1, 2) * nd,), inputs=(_PAD_INPUTS[nd],)) for nd in (1, 2, 3)],
    *[ModuleInfo(f"ConstantPad{nd}d", ((2, -1) * nd, 1.5), inputs=(_PAD_INPUTS[nd],))
      for nd in (1, 2, 3)],
    ModuleInfo("ReflectionPad2d", ((2, -1, 0, 1),), inputs=((2, 3, 4),), variant="crop"),
    ModuleInfo("MaxPool3d", (2,), {"stride": 1, "padding": 1}, inputs=((1, 2, 2, 3, 3),),
               bad_inputs=((2, 3, 3),)),
    ModuleInfo("AvgPool3d", ((1, 2, 2),), {"padding": (0, 1, 0), "ceil_mode": True,
                                          "count_include_pad": False},
               inputs=((1, 2, 2, 3, 3),)),
    ModuleInfo("AvgPool3d", (2,), {"divisor_override": 3}, inputs=((2, 2, 2, 2),),
               variant="divisor"),
    ModuleInfo("LPPool1d", (2, 3), {"stride": 2}, inputs=((2, 2, 7),), bad_inputs=((2,),)),
    ModuleInfo("LPPool2d", (1.5, 2), {"ceil_mode": True}, inputs=((1, 2, 3, 5),),
               domain=(0.1, 2.0)),
    ModuleInfo("LPPool3d", (3, (1, 2, 2)), inputs=((1, 2, 2, 2, 2),), domain=(0.1, 2.0)),
    ModuleInfo("AdaptiveMaxPool1d", (3,), inputs=((2, 2, 7),), bad_inputs=((2, 2, 2, 7),)),
    ModuleInfo("AdaptiveMaxPool2d", ((2, None),), inputs=((1, 2, 5, 3),)),
    ModuleInfo("AdaptiveMaxPool3d", ((2, 1, 3),), inputs=((1, 2, 3, 2, 4),)),
    ModuleInfo("AdaptiveAvgPool3d", ((2, None, 3),), inputs=((2, 3, 2, 4),),
               bad_inputs=((2, 3),)),
    ModuleInfo("MaxUnpool1d", (2,), inputs=((2, 3), Fixed(((0, 3, 5), (1, 2, 4)))),
               bad_inputs=((2, 2, 2, 3),)),
    ModuleInfo("MaxUnpool2d", (2,), {"stride": 1},
               inputs=((1, 1, 2, 2), Fixed(((((0, 4), (6, 8)),),))), variant="stride1"),
    ModuleInfo("MaxUnpool3d", ((1, 2, 2),), inputs=((1, 1, 1, 2), Fixed(((((5, 2),),),))),
               variant="unbatched"),
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
