"""The project's one random source, a seeded NumPy Generator, and the random factories.

``manual_seed(n)`` reseeds it; initialisation, dropout, data shuffling and the
factories below all draw from ``generator()``, so the same seed gives the same run
bit for bit.  Every ``generator=`` argument resolves through ``rng``: a
``Generator`` of one's own draws independently of ``manual_seed``.

The factories take PyTorch's arguments (see ``creation.py`` for ``dtype=``,
``device=``, ``requires_grad=``, ``out=``).  ``normal`` and ``bernoulli`` with
tensor parameters and the in-place fillers (``normal_``, ``uniform_``, ...) follow
PyTorch's convention for draws: the result requires grad when a parameter (or the
filled tensor) does, and its gradient with respect to them is zero.
"""
from __future__ import annotations

import numpy as np

from ._shapes import broadcast_shapes
from .creation import finish, like_data, parse_size, resolve_dtype
from .ops._args import method
from .ops._registry import Op
from .ops.elementwise import WHERE
from .ops.inplace import modify_inplace
from .tensor import Tensor, get_default_dtype, unwrap

_GENERATOR = [np.random.default_rng(0)]
_SEED = [0]  # the seed the generator started from


def manual_seed(seed: int) -> None:
    """Seed every random draw of graphgrad."""
    _SEED[0] = int(seed)
    _GENERATOR[0] = np.random.default_rng(_SEED[0])


def initial_seed() -> int:
    """The seed of the current generator (the last ``manual_seed`` or ``seed``; 0 at
    import).  In a DataLoader worker: the loader's base seed + the worker's id."""
    return _SEED[0]


def seed() -> int:
    """Seed the generator from fresh entropy; returns that seed (as ``torch.seed``)."""
    manual_seed(int(np.random.SeedSequence().entropy % 2**63))
    return _SEED[0]


def generator() -> np.random.Generator:
    """The current Generator (replaced by ``manual_seed``)."""
    return _GENERATOR[0]


def get_rng_state() -> dict:
    """The generator's state, as a plain dict (for checkpoints)."""
    return _GENERATOR[0].bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    _GENERATOR[0] = rng


class Generator:
    """A random source of its own, as ``torch.Generator``: pass it as ``generator=`` to
    draw independently of ``gg.manual_seed`` (a seeded sampler, a reproducible init).

    ``device`` is accepted for PyTorch's signature; only the CPU exists.
    """

    def __init__(self, device="cpu") -> None:
        from .devices import check_device

        check_device("Generator", device)
        self._seed = 67280421310721  # PyTorch's default seed, so an unseeded one is fixed too
        self._rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % 2**63))._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self._rng.bit_generator.state = state
        return self


def rng(generator=None) -> np.random.Generator:
    """The NumPy Generator to draw from for a ``generator=`` argument: the project's for
    None, the one inside a ``Generator``, or a NumPy Generator itself."""
    if generator is None:
        return _GENERATOR[0]
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator: expected a graphgrad Generator, got {type(generator).__name__}")


# ------------------------------------------------------------- factories
def _float_dtype(name: str, dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point dtype, got {dtype}")
    return dtype


def rand(*sizes, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    dtype = _float_dtype("rand", resolve_dtype(dtype, get_default_dtype(), out))
    data = rng(generator).random(parse_size("rand", sizes, size)).astype(dtype)
    return finish("rand", data, device=device, requires_grad=requires_grad, out=out,
                  layout=layout)


def randn(*sizes, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Samples of the standard normal distribution N(0, 1)."""
    dtype = _float_dtype("randn", resolve_dtype(dtype, get_default_dtype(), out))
    data = rng(generator).standard_normal(parse_size("randn", sizes, size)).astype(dtype)
    return finish("randn", data, device=device, requires_grad=requires_grad, out=out,
                  layout=layout)


def _integer(name: str, what: str, value) -> int:
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: {what} must be an int, got {value!r}")
    return int(value)


def _integers(name: str, gen, low: int, high: int, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Uniform integers in [low, high), checked to fit ``dtype``."""
    if low >= high:
        raise ValueError(f"{name}: expects 'from' to be less than 'to', got from={low} >= "
                         f"to={high}")
    if dtype.kind in "iub":
        info = np.iinfo(dtype) if dtype.kind != "b" else np.iinfo(np.uint8)
        top = 1 if dtype.kind == "b" else info.max
        if low < info.min or high - 1 > top:
            raise ValueError(f"{name}: the range [{low}, {high}) does not fit dtype {dtype}")
    drawn = dtype if dtype.kind in "iu" else np.int64  # uint64 needs its own dtype
    return gen.integers(low, high, size=shape, dtype=drawn).astype(dtype, copy=False)


def randint(*args, size=None, low=None, high=None, generator=None, out=None, dtype=None,
            layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform integers in [low, high): ``randint(high, size)`` or
    ``randint(low, high, size)`` (low defaults to 0).  The dtype defaults to int64."""
    args = list(args)
    if size is None:
        if not args or not isinstance(args[-1], (tuple, list)):
            raise TypeError("randint: expected randint(high, size) or randint(low, high, size) "
                            f"with size a tuple, got arguments {tuple(args)}")
        size = args.pop()
    if high is None and args:
        high = args.pop()
    if low is None and args:
        low = args.pop()
    if high is None or args:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    low = 0 if low is None else _integer("randint", "low", low)
    high = _integer("randint", "high", high)
    dtype = resolve_dtype(dtype, np.int64, out)
    data = _integers("randint", rng(generator), low, high, parse_size("randint", (size,)), dtype)
    return finish("randint", data, device=device, requires_grad=requires_grad, out=out,
                  layout=layout)


def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0, ..., n - 1 (int64 unless ``dtype``)."""
    n = _integer("randperm", "n", n)
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    data = rng(generator).permutation(n).astype(resolve_dtype(dtype, np.int64, out))
    return finish("randperm", data, device=device, requires_grad=requires_grad, out=out,
                  layout=layout)


def rand_like(input, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """``rand`` in ``input``'s shape and (unless ``dtype``) dtype."""
    like = like_data("rand_like", input)
    dtype = _float_dtype("rand_like", resolve_dtype(dtype, like.dtype))
    return finish("rand_like", rng(generator).random(like.shape).astype(dtype), device=device,
                  requires_grad=requires_grad, layout=layout)


def randn_like(input, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """``randn`` in ``input``'s shape and (unless ``dtype``) dtype."""
    like = like_data("randn_like", input)
    dtype = _float_dtype("randn_like", resolve_dtype(dtype, like.dtype))
    data = rng(generator).standard_normal(like.shape).astype(dtype)
    return finish("randn_like", data, device=device, requires_grad=requires_grad,
                  layout=layout)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """``randint`` in ``input``'s shape and (unless ``dtype``) dtype:
    ``randint_like(input, high)`` or ``randint_like(input, low, high)``."""
    like = like_data("randint_like", input)
    if high is None:
        low, high = 0, low
    low = _integer("randint_like", "low", low)
    high = _integer("randint_like", "high", high)
    data = _integers("randint_like", rng(generator), low, high, like.shape,
                     resolve_dtype(dtype, like.dtype))
    return finish("randint_like", data, device=device, requires_grad=requires_grad,
                  layout=layout)


# ------------------------------------------------------- sampling from tensors
def _zero_gradient(i, g, out, inputs, sample):
    zeros = WHERE(0.0, g, condition=np.True_)  # zeros like g, summed to the input's shape
    dtype = inputs[i].dtype
    return zeros if zeros.dtype == dtype else zeros.astype(dtype)  # in the input's dtype


def _draw_op(name: str) -> Op:
    """A recorded draw: its output is ``sample``, its gradient w.r.t. each input is zero."""
    return Op(name, lambda *inputs, sample: sample, _zero_gradient, variadic=True,
              broadcasts=True, meta=True)


NORMAL = _draw_op("normal")
BERNOULLI = _draw_op("bernoulli")
# The in-place fillers record the draw as an op on the old value (a zero gradient to it).
NORMAL_ = _draw_op("normal_")
UNIFORM_ = _draw_op("uniform_")
EXPONENTIAL_ = _draw_op("exponential_")
BERNOULLI_ = _draw_op("bernoulli_")
RANDOM_ = _draw_op("random_")


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std^2), in PyTorch's forms:

    - ``normal(mean_tensor, std_tensor)``, ``normal(mean_tensor, std=1.0)``,
      ``normal(mean_float, std_tensor)``: one sample per element of the broadcast
      of mean and std, with the tensor's dtype (mean's when both are tensors);
      differentiable with a zero gradient, as PyTorch's;
    - ``normal(mean_float, std_float, size)``: ``size`` samples, with the factories'
      ``dtype=``, ``device=``, ``requires_grad=``.
    """
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        if size is not None or dtype is not None or device is not None or requires_grad:
            raise TypeError("normal: size, dtype, device and requires_grad go with a float "
                            "mean and std; with a tensor mean or std the shape is theirs")
        dtype = unwrap(mean if isinstance(mean, Tensor) else std).dtype
        if dtype.kind != "f":
            raise TypeError(f"normal: expected a floating point mean and std, got {dtype}")
        m, s = unwrap(mean), unwrap(std)
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        if np.any(np.asarray(s) < 0):
            raise ValueError("normal: expects all elements of std >= 0.0")
        sample = (m + s * rng(generator).standard_normal(shape)).astype(dtype)
        result = NORMAL(*(x for x in (mean, std) if isinstance(x, Tensor)), sample=sample)
        return finish("normal", result._data, out=out) if out is not None else result
    if size is None:
        raise TypeError("normal: with a float mean and std, give the size: "
                        "normal(mean, std, size)")
    if std < 0:
        raise ValueError(f"normal: expects std >= 0.0, got std {std}")
    dtype = _float_dtype("normal", resolve_dtype(dtype, get_default_dtype(), out))
    shape = parse_size("normal", (size,))
    sample = np.asarray(mean + std * rng(generator).standard_normal(shape)).astype(dtype)
    return finish("normal", sample, device=device, requires_grad=requires_grad, out=out,
                  layout=layout)


def _check_probabilities(name: str, p) -> None:
    p = np.asarray(p)
    if not np.all((p >= 0) & (p <= 1)):  # NaN fails too
        raise ValueError(f"{name}: expects p to be in [0, 1], got values from "
                         f"{np.nanmin(p) if p.size else p} to {np.nanmax(p) if p.size else p}")


@method()
def bernoulli(input, p=None, *, generator=None, out=None) -> Tensor:
    """1 with probability ``input`` (elementwise, in [0, 1]), else 0, in ``input``'s dtype.
    With ``p`` (a float or a tensor broadcast to ``input``'s shape), p is the probability
    and only ``input``'s shape and dtype are used.  Zero gradient, as PyTorch's."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli: input must be a Tensor, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise TypeError(f"bernoulli: expected a floating point input, got {input.dtype}")
    probs = input._data if p is None else unwrap(p)
    _check_probabilities("bernoulli", probs)
    draws = rng(generator).random(input._data.shape) < probs
    result = BERNOULLI(input, sample=draws.astype(input._data.dtype))
    return finish("bernoulli", result._data, out=out) if out is not None else result


@method()
def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None,
                out=None) -> Tensor:
    """Indices of categories drawn with probabilities proportional to the weights in each
    row of ``input`` (1-D: one distribution; 2-D: one per row).  Returns int64 indices of
    shape (num_samples,) or (rows, num_samples).

    With replacement the draws are independent.  Without, each draw leaves out the
    categories already drawn (num_samples <= categories); this is done at once by
    giving category i the key E_i / w_i with E_i ~ Exp(1) and taking the keys in
    increasing order, so categories of weight 0 come last, in index order.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial: input must be a Tensor, got {type(input).__name__}")
    w = input._data
    if w.dtype.kind != "f":
        raise TypeError(f"multinomial: only floating point weights are supported, got {w.dtype}")
    if w.ndim not in (1, 2):
        raise ValueError(f"multinomial: the weights must be 1-D or 2-D, got shape {input.shape}")
    num_samples = _integer("multinomial", "num_samples", num_samples)
    if num_samples <= 0:
        raise ValueError(f"multinomial: cannot sample num_samples = {num_samples} <= 0 samples")
    n = w.shape[-1]
    if not replacement and num_samples > n:
        raise ValueError(f"multinomial: cannot sample {num_samples} > {n} categories without "
                         f"replacement")
    rows = w.reshape(-1, n).astype(np.float64)
    if not np.all(np.isfinite(rows) & (rows >= 0)):
        raise ValueError("multinomial: the probability tensor contains inf, nan or an "
                         "element < 0")
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise ValueError(f"multinomial: invalid distribution (sum of probabilities <= 0) in "
                         f"row {int(np.argmax(totals <= 0))} of {input.shape}")
    gen = rng(generator)
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        cdf = cdf / cdf[:, -1:]  # exactly 1 from the last category of weight > 0 on
        u = gen.random((rows.shape[0], num_samples))
        picks = np.array([np.searchsorted(c, r, side="right") for c, r in
                          zip(cdf, u, strict=True)]).reshape(u.shape)
    else:
        with np.errstate(divide="ignore"):
            keys = gen.standard_exponential(rows.shape) / rows
        picks = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    picks = picks.astype(np.int64).reshape(w.shape[:-1] + (num_samples,))
    return finish("multinomial", picks, out=out)


# ------------------------------------------------------------ in-place fillers
def _fill(op: Op, x: Tensor, draw, kinds: str = "f") -> Tensor:
    """Overwrite x with ``draw(shape)`` in place (PyTorch's rules for in-place changes);
    recorded as ``op`` when x is in a graph, with a zero gradient to x's old value."""
    if x._data.dtype.kind not in kinds:
        raise TypeError(f"{op.name}: not supported for a tensor of dtype {x.dtype}")
    sample = np.asarray(draw(x._data.shape)).astype(x._data.dtype)

    def direct(data):
        data[...] = sample

    return modify_inplace(op.name, x, (), recorded=lambda old: op(old, sample=sample),
                          direct=direct)


@method()
def normal_(x, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill x in place with samples of N(mean, std^2)."""
    if std < 0:
        raise ValueError(f"normal_: expects std >= 0.0, got std {std}")
    return _fill(NORMAL_, x, lambda shape: rng(generator).normal(mean, std, shape))


@method()
def uniform_(x, from_: float = 0.0, to: float = 1.0, *, generator=None) -> Tensor:
    """Fill x in place with samples of U(from_, to) (PyTorch's ``from``)."""
    if from_ > to:
        raise ValueError(f"uniform_: expects a [from, to) range, got from={from_} > to={to}")
    return _fill(UNIFORM_, x, lambda shape: rng(generator).uniform(from_, to, shape))


@method()
def exponential_(x, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill x in place with samples of the exponential distribution of rate ``lambd``
    (density lambd exp(-lambd x), mean 1 / lambd)."""
    if not lambd > 0:
        raise ValueError(f"exponential_: expects lambd > 0.0, got lambd={lambd}")
    return _fill(EXPONENTIAL_, x, lambda shape: rng(generator).exponential(1 / lambd, shape))


@method()
def bernoulli_(x, p=0.5, *, generator=None) -> Tensor:
    """Fill x in place with 1 (probability ``p``, a float or a tensor broadcast to x's
    shape) or 0; any dtype."""
    probs = unwrap(p)
    _check_probabilities("bernoulli_", probs)
    if broadcast_shapes("bernoulli_", np.shape(probs), x._data.shape) != x._data.shape:
        raise ValueError(f"bernoulli_: p of shape {np.shape(probs)} does not broadcast to the "
                         f"tensor's shape {x.shape}")
    return _fill(BERNOULLI_, x, lambda shape: rng(generator).random(shape) < probs, "fiub")


def _full_range(dtype: np.dtype) -> tuple[int, int]:
    """random_'s default range: every integer the dtype holds exactly, from 0."""
    if dtype.kind == "f":
        return 0, 2 ** (np.finfo(dtype).nmant + 1) + 1
    if dtype.kind == "b":
        return 0, 2
    return 0, int(np.iinfo(dtype).max) + 1


@method()
def random_(x, from_=None, to=None, *, generator=None) -> Tensor:
    """Fill x in place with uniform integers: ``random_(from_, to)`` in [from_, to),
    ``random_(to)`` in [0, to), ``random_()`` in [0, 2^mantissa] for floats (each exactly
    representable) and [0, max] for integer dtypes."""
    if to is None and from_ is not None:
        from_, to = 0, from_
    if to is None:
        low, high = _full_range(x._data.dtype)
    else:
        low = _integer("random_", "from", 0 if from_ is None else from_)
        high = _integer("random_", "to", to)
    dtype = x._data.dtype
    return _fill(RANDOM_, x, lambda shape: _integers("random_", rng(generator), low, high,
                                                       shape, dtype), "fiub")
