"""graphgrad's random sources, one per device, and the random factories.

The CPU's source is a seeded NumPy Generator; each device (``"cuda:0"``, ...) has its
own, made by its backend (``Backend.generator``: CuPy's Generator draws on the GPU).
``manual_seed(n)`` reseeds every one of them (as ``torch.manual_seed`` seeds CUDA too);
``graphgrad.cuda.manual_seed`` reseeds only a device's.  Initialisation, dropout, data
shuffling and the factories below draw from these, so the same seed gives the same run
bit for bit.  Every ``generator=`` argument resolves through ``rng``: a ``Generator`` of
one's own draws independently of ``manual_seed``.

The factories take PyTorch's arguments (see ``creation.py`` for ``dtype=``,
``device=``, ``requires_grad=``, ``out=``); with a device they draw there, from that
device's source, in the draws every device's Generator has (``random``,
``standard_normal``, ``integers``, ``uniform``, ``exponential``, ...: a normal sample
is ``mean + std * standard_normal``, a permutation the order of uniform keys).
``normal`` and ``bernoulli`` with tensor parameters and the in-place fillers
(``normal_``, ``uniform_``, ...) draw on their tensor's device and follow PyTorch's
convention for draws: the result requires grad when a parameter (or the filled tensor)
does, and its gradient with respect to them is zero.
"""
from __future__ import annotations

import numpy as np

from ._shapes import broadcast_shapes
from .arrays import Backend, backend, namespace, to_host
from .creation import finish, like_target, parse_size, placement, resolve_dtype
from .devices import CPU, check_device
from .devices import device as Device
from .ops._args import method
from .ops._registry import Op
from .ops.elementwise import WHERE
from .ops.inplace import modify_inplace
from .tensor import Tensor, get_default_dtype, unwrap

_GENERATOR = [np.random.default_rng(0)]
_SEED = [0]  # the seed the CPU's generator started from
# The devices' sources, made on first use: {device: (its backend, its generator)}, from
# the seed set for that device (cuda.manual_seed), else for its type (manual_seed_all),
# else 0.  A source is remade when another backend serves its device (the tests' stand-in).
_DEVICE_GENERATORS: dict[Device, tuple[Backend, object]] = {}
_DEVICE_SEEDS: dict = {}  # {device or device type: seed}


def manual_seed(seed: int) -> None:
    """Seed every random draw of graphgrad: the CPU's and every device's source."""
    _SEED[0] = int(seed)
    _GENERATOR[0] = np.random.default_rng(_SEED[0])
    _DEVICE_SEEDS.clear()
    _DEVICE_SEEDS["*"] = _SEED[0]
    _DEVICE_GENERATORS.clear()


def seed_device(seed: int, where: Device | str) -> None:
    """Seed the source of one device (a ``Device``) or of every device of a type (a type
    name, ``"cuda"``): ``graphgrad.cuda.manual_seed`` and ``manual_seed_all``."""
    seed = int(seed)
    whole_type = isinstance(where, str)  # then the type's devices' own seeds no longer apply
    for table in (_DEVICE_GENERATORS, _DEVICE_SEEDS):
        for key in [k for k in table if isinstance(k, Device)
                    and (k.type == where if whole_type else k == where)]:
            del table[key]
    _DEVICE_SEEDS[where] = seed


def device_seed(where: Device) -> int:
    """The seed that ``where``'s source starts from."""
    for key in (where, where.type, "*"):
        if key in _DEVICE_SEEDS:
            return _DEVICE_SEEDS[key]
    return 0


def initial_seed() -> int:
    """The seed of the current generator (the last ``manual_seed`` or ``seed``; 0 at
    import).  In a DataLoader worker: the loader's base seed + the worker's id."""
    return _SEED[0]


def seed() -> int:
    """Seed the generator from fresh entropy; returns that seed (as ``torch.seed``)."""
    manual_seed(int(np.random.SeedSequence().entropy % 2**63))
    return _SEED[0]


def generator(where: Device = CPU):
    """The current source of device ``where`` (a checked device; the CPU's by default)."""
    return _source(where)


def _source(where: Device):
    if where.type == "cpu":
        return _GENERATOR[0]
    serving = backend("generator", where)
    held = _DEVICE_GENERATORS.get(where)
    if held is None or held[0] is not serving:
        held = _DEVICE_GENERATORS[where] = (serving,
                                            serving.generator(device_seed(where), where.index))
    return held[1]


def get_rng_state() -> dict:
    """The CPU generator's state, as a plain dict (for checkpoints)."""
    return _GENERATOR[0].bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    _GENERATOR[0] = rng


class Generator:
    """A random source of its own, as ``torch.Generator``: pass it as ``generator=`` to
    draw independently of ``gg.manual_seed`` (a seeded sampler, a reproducible init).

    ``device``: where it draws (the CPU, or a device its backend serves); factories
    drawing on another device refuse it, as PyTorch's.  ``get_state``/``set_state``
    exist for the CPU's only.
    """

    def __init__(self, device="cpu") -> None:
        self.device = check_device("Generator", device)
        self.manual_seed(67280421310721)  # PyTorch's default seed, so an unseeded one is fixed

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        if self.device.type == "cpu":
            self._rng = np.random.default_rng(self._seed)
        else:
            self._rng = backend("Generator", self.device).generator(self._seed, self.device.index)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % 2**63))._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self._cpu_only("get_state").bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self._cpu_only("set_state").bit_generator.state = state
        return self

    def _cpu_only(self, name: str) -> np.random.Generator:
        if self.device.type != "cpu":
            raise RuntimeError(f"Generator.{name}: only a CPU generator's state can be read "
                               f"or set, this one draws on {self.device}")
        return self._rng


def rng(generator=None, where: Device = CPU):
    """The random source to draw from on device ``where`` for a ``generator=`` argument:
    the device's own for None, the one inside a ``Generator`` (which must draw there),
    or a NumPy Generator itself (on the CPU)."""
    if generator is None:
        return _source(where)
    if isinstance(generator, Generator):
        if generator.device != where:
            raise RuntimeError(f"generator: expected a generator on {where}, got one on "
                               f"{generator.device}")
        return generator._rng
    if isinstance(generator, np.random.Generator) and where.type == "cpu":
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
    where = placement("rand", device, out)
    data = rng(generator, where).random(parse_size("rand", sizes, size)).astype(dtype)
    return finish("rand", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def randn(*sizes, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Samples of the standard normal distribution N(0, 1)."""
    dtype = _float_dtype("randn", resolve_dtype(dtype, get_default_dtype(), out))
    where = placement("randn", device, out)
    data = rng(generator, where).standard_normal(parse_size("randn", sizes, size)).astype(dtype)
    return finish("randn", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def _integer(name: str, what: str, value) -> int:
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: {what} must be an int, got {value!r}")
    return int(value)


def _integers(name: str, gen, low: int, high: int, shape: tuple, dtype: np.dtype):
    """Uniform integers in [low, high), checked to fit ``dtype``."""
    if low >= high:
        raise ValueError(f"{name}: expects 'from' to be less than 'to', got from={low} >= "
                         f"to={high}")
    if dtype.kind in "iub":
        info = np.iinfo(dtype) if dtype.kind != "b" else np.iinfo(np.uint8)
        top = 1 if dtype.kind == "b" else info.max
        if low < info.min or high - 1 > top:
            raise ValueError(f"{name}: the range [{low}, {high}) does not fit dtype {dtype}")
    # uint64 needs its own dtype on the CPU; a device's Generator draws int64 (CuPy's
    # integers has no small or unsigned dtypes), cast after
    on_cpu = isinstance(gen, np.random.Generator)
    drawn = dtype if dtype.kind in "iu" and on_cpu else np.int64
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
    where = placement("randint", device, out)
    data = _integers("randint", rng(generator, where), low, high, parse_size("randint", (size,)),
                     dtype)
    return finish("randint", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def _permutation(gen, n: int):
    """A random order of 0, ..., n - 1: NumPy's ``permutation`` on the CPU; on a device,
    whose Generator has none, the order that sorts n uniform keys."""
    if isinstance(gen, np.random.Generator):
        return gen.permutation(n)
    return namespace(keys := gen.random(n)).argsort(keys)


def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0, ..., n - 1 (int64 unless ``dtype``)."""
    n = _integer("randperm", "n", n)
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    where = placement("randperm", device, out)
    data = _permutation(rng(generator, where), n).astype(resolve_dtype(dtype, np.int64, out))
    return finish("randperm", data, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def rand_like(input, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """``rand`` in ``input``'s shape, (unless ``dtype``) dtype and (unless ``device``)
    device."""
    like, where = like_target("rand_like", input, device)
    dtype = _float_dtype("rand_like", resolve_dtype(dtype, like.dtype))
    return finish("rand_like", rng(generator, where).random(like.shape).astype(dtype),
                  device=where, requires_grad=requires_grad, layout=layout)


def randn_like(input, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """``randn`` in ``input``'s shape, (unless ``dtype``) dtype and (unless ``device``)
    device."""
    like, where = like_target("randn_like", input, device)
    dtype = _float_dtype("randn_like", resolve_dtype(dtype, like.dtype))
    data = rng(generator, where).standard_normal(like.shape).astype(dtype)
    return finish("randn_like", data, device=where, requires_grad=requires_grad,
                  layout=layout)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """``randint`` in ``input``'s shape, (unless ``dtype``) dtype and (unless ``device``)
    device: ``randint_like(input, high)`` or ``randint_like(input, low, high)``."""
    like, where = like_target("randint_like", input, device)
    if high is None:
        low, high = 0, low
    low = _integer("randint_like", "low", low)
    high = _integer("randint_like", "high", high)
    data = _integers("randint_like", rng(generator, where), low, high, like.shape,
                     resolve_dtype(dtype, like.dtype))
    return finish("randint_like", data, device=where, requires_grad=requires_grad,
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


def _normal(gen, mean, std, shape: tuple):
    """``shape`` samples of N(mean, std^2) in float64 from ``gen``: ``mean + std * z``
    with z ~ N(0, 1) (as NumPy's ``normal``, which device Generators lack); an array
    even when 0-d."""
    z = gen.standard_normal(shape)
    z *= std
    z += mean
    return z


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std^2), as ``mean + std * z`` with z ~ N(0, 1), in PyTorch's forms:

    - ``normal(mean_tensor, std_tensor)``, ``normal(mean_tensor, std=1.0)``,
      ``normal(mean_float, std_tensor)``: one sample per element of the broadcast
      of mean and std, with the tensor's dtype (mean's when both are tensors), on the
      tensors' device; differentiable with a zero gradient, as PyTorch's;
    - ``normal(mean_float, std_float, size)``: ``size`` samples, with the factories'
      ``dtype=``, ``device=``, ``requires_grad=``.
    """
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        if size is not None or dtype is not None or device is not None or requires_grad:
            raise TypeError("normal: size, dtype, device and requires_grad go with a float "
                            "mean and std; with a tensor mean or std the shape is theirs")
        given = mean if isinstance(mean, Tensor) else std
        dtype = given._data.dtype
        if dtype.kind != "f":
            raise TypeError(f"normal: expected a floating point mean and std, got {dtype}")
        m, s = unwrap(mean), unwrap(std)
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        if bool(namespace(s).any(s < 0)):
            raise ValueError("normal: expects all elements of std >= 0.0")
        sample = _normal(rng(generator, given.device), m, s, shape).astype(dtype)
        result = NORMAL(*(x for x in (mean, std) if isinstance(x, Tensor)), sample=sample)
        return finish("normal", result._data, out=out) if out is not None else result
    if size is None:
        raise TypeError("normal: with a float mean and std, give the size: "
                        "normal(mean, std, size)")
    if std < 0:
        raise ValueError(f"normal: expects std >= 0.0, got std {std}")
    dtype = _float_dtype("normal", resolve_dtype(dtype, get_default_dtype(), out))
    shape = parse_size("normal", (size,))
    where = placement("normal", device, out)
    sample = _normal(rng(generator, where), mean, std, shape).astype(dtype)
    return finish("normal", sample, device=where, requires_grad=requires_grad, out=out,
                  layout=layout)


def _check_probabilities(name: str, p) -> None:
    xp = namespace(p)
    p = xp.asarray(p)
    if not bool(xp.all((p >= 0) & (p <= 1))):  # NaN fails too
        low, high = (np.nanmin(to_host(p)), np.nanmax(to_host(p))) if p.size else (p, p)
        raise ValueError(f"{name}: expects p to be in [0, 1], got values from {low} to {high}")


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
    draws = rng(generator, input.device).random(input._data.shape) < probs
    result = BERNOULLI(input, sample=draws.astype(input._data.dtype))
    return finish("bernoulli", result._data, out=out) if out is not None else result


@method()
def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None,
                out=None) -> Tensor:
    """Indices of categories drawn with probabilities proportional to the weights in each
    row of ``input`` (1-D: one distribution; 2-D: one per row).  Returns int64 indices of
    shape (num_samples,) or (rows, num_samples), on ``input``'s device.

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
    xp = namespace(w)
    rows = w.reshape(-1, n).astype(np.float64)
    if not bool(xp.all(xp.isfinite(rows) & (rows >= 0))):
        raise ValueError("multinomial: the probability tensor contains inf, nan or an "
                         "element < 0")
    totals = rows.sum(axis=1)
    if bool((totals <= 0).any()):
        raise ValueError(f"multinomial: invalid distribution (sum of probabilities <= 0) in "
                         f"row {int((totals <= 0).argmax())} of {input.shape}")
    gen = rng(generator, input.device)
    if replacement:
        cdf = xp.cumsum(rows, axis=1)
        cdf = cdf / cdf[:, -1:]  # exactly 1 from the last category of weight > 0 on
        u = gen.random((rows.shape[0], num_samples))
        picks = xp.stack([xp.searchsorted(c, r, side="right") for c, r in
                          zip(cdf, u, strict=True)]).reshape(u.shape)
    else:
        with np.errstate(divide="ignore"):
            keys = gen.standard_exponential(rows.shape) / rows
        picks = xp.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    picks = picks.astype(np.int64).reshape(w.shape[:-1] + (num_samples,))
    return finish("multinomial", picks, device=input.device, out=out)


# ------------------------------------------------------------ in-place fillers
def _fill(op: Op, x: Tensor, draw, kinds: str = "f") -> Tensor:
    """Overwrite x with ``draw(source, shape)`` in place, drawn from the source of x's
    device (PyTorch's rules for in-place changes); recorded as ``op`` when x is in a
    graph, with a zero gradient to x's old value."""
    if x._data.dtype.kind not in kinds:
        raise TypeError(f"{op.name}: not supported for a tensor of dtype {x.dtype}")
    xp = namespace(x._data)
    sample = xp.asarray(draw(x.device, x._data.shape)).astype(x._data.dtype)

    def direct(data):
        data[...] = sample

    return modify_inplace(op.name, x, (), recorded=lambda old: op(old, sample=sample),
                          direct=direct)


@method()
def normal_(x, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill x in place with samples of N(mean, std^2): ``mean + std * z``, z ~ N(0, 1)."""
    if std < 0:
        raise ValueError(f"normal_: expects std >= 0.0, got std {std}")
    return _fill(NORMAL_, x, lambda where, shape: _normal(rng(generator, where), mean, std,
                                                          shape))


@method()
def uniform_(x, from_: float = 0.0, to: float = 1.0, *, generator=None) -> Tensor:
    """Fill x in place with samples of U(from_, to) (PyTorch's ``from``)."""
    if from_ > to:
        raise ValueError(f"uniform_: expects a [from, to) range, got from={from_} > to={to}")
    return _fill(UNIFORM_, x, lambda where, shape:
                 rng(generator, where).uniform(from_, to, shape))


@method()
def exponential_(x, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill x in place with samples of the exponential distribution of rate ``lambd``
    (density lambd exp(-lambd x), mean 1 / lambd)."""
    if not lambd > 0:
        raise ValueError(f"exponential_: expects lambd > 0.0, got lambd={lambd}")
    return _fill(EXPONENTIAL_, x, lambda where, shape:
                 rng(generator, where).exponential(1 / lambd, shape))


@method()
def bernoulli_(x, p=0.5, *, generator=None) -> Tensor:
    """Fill x in place with 1 (probability ``p``, a float or a tensor broadcast to x's
    shape) or 0; any dtype."""
    probs = unwrap(p)
    _check_probabilities("bernoulli_", probs)
    if broadcast_shapes("bernoulli_", np.shape(probs), x._data.shape) != x._data.shape:
        raise ValueError(f"bernoulli_: p of shape {np.shape(probs)} does not broadcast to the "
                         f"tensor's shape {x.shape}")
    return _fill(BERNOULLI_, x, lambda where, shape: rng(generator, where).random(shape) < probs,
                 "fiub")


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
    return _fill(RANDOM_, x, lambda where, shape: _integers("random_", rng(generator, where),
                                                              low, high, shape, dtype), "fiub")
