"""Which of torch's public names graphgrad has at the same path, namespace by namespace.

    .venv/bin/python docs/tools/compat_table.py           # print the tables
    .venv/bin/python docs/tools/compat_table.py --write   # put them into docs/torch-compat.md

Each table is a block of Markdown.  docs/torch-compat.md embeds every block between
``<!-- generated:KEY begin -->`` and ``<!-- generated:KEY end -->`` lines; ``--write``
replaces what is between them and leaves the hand-written text around them alone, and
tests/test_torch_compat_doc.py fails when a block is out of date.

What counts as one of torch's public names in a namespace (a module or a class): every
name of ``dir()`` that does not start with ``_``, is not a submodule (submodules have a
table of their own) and holds an object of torch's own (a constant such as ``torch.pi``
counts when the module lists it in ``__all__``; ``typing`` and standard-library helpers
imported by torch's source do not).  Left out as internals, and counted in each block:
torch's TorchScript and dispatcher classes bound from C++ (pybind11 types), backend
kernels exposed at the top level (``cudnn_*``, ``miopen_*``, ``mkldnn_*``, ``fbgemm_*``,
``native_*``, ``quantized_*``, ``batch_norm_*``), functionalization copies (``*_copy``),
symbolic-shape helpers (``sym_*``), and the few helpers named in ``INTERNAL`` below.
graphgrad has a name when ``hasattr`` finds it at the same path
(``torch.nn.functional.relu`` -> ``graphgrad.nn.functional.relu``); whether it behaves as
torch's is for the page's text and graphgrad's tests to say.

``torch.utils.tensorboard`` cannot be imported without the ``tensorboard`` package, so its
names are read from the source files of the installed torch instead.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import inspect
import pkgutil
import re
import sys
import textwrap
import types
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

import graphgrad

PAGE = Path(__file__).resolve().parents[1] / "torch-compat.md"
WIDTH = 100  # Markdown lines are wrapped at this width


class Namespace(NamedTuple):
    """One table: ``torch_path`` (a module or a class) against ``gg_path``.

    ``how``: "module" (the public names of a module or class), "submodules" (the public
    submodules of a module), or "source" (the names a source file's ``__all__`` lists, or
    the public methods of the class ``attr`` defined there; for modules that need an
    optional package to import)."""

    torch_path: str
    gg_path: str
    how: str = "module"
    attr: str = ""

    @property
    def key(self) -> str:
        return self.torch_path + (f".{self.attr}" if self.attr else "")

    @property
    def internal(self) -> frozenset[str]:
        return INTERNAL.get(self.torch_path, frozenset())


INTERNAL = {
    "torch": frozenset({
        "classproperty", "compiled_with_cxx11_abi", "get_file_path",
        "prepare_multiprocessing_environment", "profiler_allow_cudagraph_cupti_lazy_reinit_cuda12",
        "DisableTorchFunction", "DisableTorchFunctionSubclass", "StorageBase", "JITException",
        "merge_type_from_type_comment", "parse_ir", "parse_schema", "parse_type_comment",
        "import_ir_module", "import_ir_module_from_buffer", "unify_type_list", "fork", "wait",
    }),
    "torch.nn": frozenset({"factory_kwargs"}),
    "torch.nn.functional": frozenset({
        "Tensor", "BroadcastingList1", "BroadcastingList2", "BroadcastingList3",
        "boolean_dispatch", "handle_torch_function", "has_torch_function",
        "has_torch_function_unary", "has_torch_function_variadic", "assert_int_or_pair",
    }),
    "torch.nn.init": frozenset({"Tensor"}),
    "torch.optim.lr_scheduler": frozenset({"Optimizer", "Tensor"}),
    "torch.autograd": frozenset({
        "handle_torch_function", "has_torch_function", "is_tensor_like", "DeviceType",
        "ProfilerActivity", "ProfilerConfig", "ProfilerEvent", "ProfilerState",
        "kineto_available",
    }),
    "torch.cuda": frozenset({"classproperty"}),
}

NAMESPACES = [
    Namespace("torch", "graphgrad"),
    Namespace("torch.Tensor", "graphgrad.Tensor"),
    Namespace("torch.nn", "graphgrad.nn"),
    Namespace("torch.nn.Module", "graphgrad.nn.Module"),
    Namespace("torch.nn.functional", "graphgrad.nn.functional"),
    Namespace("torch.nn.init", "graphgrad.nn.init"),
    Namespace("torch.nn.utils", "graphgrad.nn.utils"),
    Namespace("torch.optim", "graphgrad.optim"),
    Namespace("torch.optim.Optimizer", "graphgrad.optim.Optimizer"),
    Namespace("torch.optim.lr_scheduler", "graphgrad.optim.lr_scheduler"),
    Namespace("torch.utils.data", "graphgrad.utils.data"),
    Namespace("torch.autograd", "graphgrad.autograd"),
    Namespace("torch.autograd.function.FunctionCtx", "graphgrad.autograd.function.FunctionCtx"),
    Namespace("torch.linalg", "graphgrad.linalg"),
    Namespace("torch.cuda", "graphgrad.cuda"),
    Namespace("torch.backends", "graphgrad.backends", how="submodules"),
    Namespace("torch.amp", "graphgrad.amp"),
    Namespace("torch.distributed", "graphgrad.distributed"),
    Namespace("torch.onnx", "graphgrad.onnx"),
    Namespace("torch.utils.tensorboard", "graphgrad.utils.tensorboard", how="source"),
    Namespace("torch.utils.tensorboard", "graphgrad.utils.tensorboard.SummaryWriter",
              how="source", attr="SummaryWriter"),
]
# Submodules that PyTorch documents below its top level, checked beside the top-level ones.
DOCUMENTED_SUBMODULES = [
    "torch.nn.functional", "torch.nn.init", "torch.nn.utils", "torch.nn.utils.rnn",
    "torch.nn.utils.parametrize", "torch.nn.utils.parametrizations", "torch.nn.utils.prune",
    "torch.nn.utils.stateless", "torch.nn.parallel", "torch.nn.attention",
    "torch.autograd.functional", "torch.autograd.forward_ad", "torch.autograd.graph",
    "torch.autograd.profiler", "torch.optim.lr_scheduler", "torch.optim.swa_utils",
    "torch.utils.data", "torch.utils.checkpoint", "torch.utils.tensorboard",
    "torch.utils.hooks", "torch.utils.benchmark", "torch.utils.dlpack",
    "torch.utils.cpp_extension", "torch.utils.model_zoo", "torch.cuda.amp",
]

# Top-level names of torch that are backend kernels or compiler helpers, not user API.
KERNEL_NAME = re.compile(r"^(cudnn|miopen|mkldnn|fbgemm|native|quantized|sym|batch_norm)_|_copy$")


def _words(*words: str) -> str:
    """A pattern for any of ``words`` as a whole ``_``-separated part of a name."""
    return r"(?:^|_)(?:" + "|".join(words) + r")(?:_|$)"


# Themes that sort the missing names of torch and torch.Tensor, tried in this order.
THEMES = [
    ("dtypes", None),
    ("complex numbers", re.compile(
        r"complex|conj|^(real|imag|angle|polar|isreal|sgn_?|adjoint|mH|H|is_neg|resolve_neg"
        r"|cfloat|cdouble|chalf)$")),
    ("quantization", re.compile(r"^q_|qint|quint|quantiz|fake_quant|^per_(channel|tensor)_"
                                r"|^(qscheme|int_repr|dequantize|choose_qparams_optimized)$")),
    ("sparse and nested layouts", re.compile(
        r"^(?!tri[lu]_indices$).*"  # triangle indices are dense
        + _words("sparse", "coo", "csr", "csc", "bsr", "bsc", "coalesce", "coalesced", "nested",
                 "padded", "jagged", "indices", "values", "dense", "smm", "spmm", "hspmm", "dsmm",
                 "saddmm", "sspaddmm"))),
    ("automatic mixed precision", re.compile("autocast|GradScaler")),
    ("devices, memory and storage", re.compile(
        _words("cuda", "xpu", "ipu", "mps", "mtia", "maia", "xla", "vulkan", "meta", "mkldnn",
               "pin", "pinned", "shared", "share", "storage", "ptr", "stream", "device",
               "dlpack", "stride", "strided", "contiguous", "cpu", "distributed", "resize",
               "nbytes", "itemsize", "layout", "order", "file", "frombuffer", "format",
               "channels")
        + r"|Storage$|^[A-Z]\w+Tensor$|^(Stream|Event|AcceleratorError|OutOfMemoryError"
          r"|memory_format|set_|is_set_to)$")),
    ("compilation and tracing", re.compile(
        r"^(compile|vmap|cond|while_loop|SymBool|SymFloat|SymInt|export)$")),
    ("in-place variants", re.compile(r"[a-z0-9]_$")),
    ("other", re.compile("")),
]


# ------------------------------------------------------------------ finding objects
def package_modules(package) -> list[str]:
    """The public modules of a package, from its files: what ``dir()`` shows depends on
    which of them some earlier code happened to import."""
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__)
                  if not m.name.startswith("_"))


def resolve(path: str):
    """The object at a dotted path (modules imported as needed), or None if there is none."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as err:
            if err.name is None or not path.startswith(err.name):
                raise  # a dependency of an existing module is missing: not ours to hide
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        return obj
    return None


def origin(obj) -> str:
    """The module that defines ``obj`` (for a plain value: the module of its type)."""
    if isinstance(obj, type) or callable(obj) and hasattr(obj, "__module__"):
        return getattr(obj, "__module__", None) or ""
    return type(obj).__module__ or ""


def is_torchs(obj) -> bool:
    module = origin(obj)
    return module == "torch" or module.startswith("torch.")


def is_bound_from_cpp(obj) -> bool:
    """A pybind11 class, or an instance of one: torch's TorchScript and dispatcher types."""
    cls = obj if isinstance(obj, type) else type(obj)
    return "pybind11" in type(cls).__module__ + type(cls).__name__


def is_internal(ns: Namespace, name: str, obj) -> bool:
    if name in ns.internal:
        return True
    if ns.torch_path != "torch":
        return False
    return is_bound_from_cpp(obj) or bool(KERNEL_NAME.search(name))


def public_names(ns: Namespace) -> tuple[list[str], int]:
    """torch's public names in ``ns`` and how many more were left out as internals."""
    if ns.how == "source":
        return source_names(ns), 0
    holder = resolve(ns.torch_path)
    if ns.how == "submodules":
        return package_modules(holder), 0
    listed = set(getattr(holder, "__all__", ()))
    names, internal = [], 0
    for name in dir(holder):
        if name.startswith("_"):
            continue
        obj = getattr(holder, name)
        if isinstance(obj, types.ModuleType):
            continue
        if not isinstance(holder, type) and not (is_torchs(obj) or name in listed):
            continue  # a helper that torch's source imports from elsewhere
        if is_internal(ns, name, obj):
            internal += 1
        else:
            names.append(name)
    return names, internal


def source_names(ns: Namespace) -> list[str]:
    """``__all__`` of a torch package's ``__init__.py``, or the public methods of class
    ``ns.attr`` in the module that the package imports it from; read, not imported."""
    spec = importlib.util.find_spec(ns.torch_path)
    init = Path(spec.origin)
    tree = ast.parse(init.read_text())
    if not ns.attr:
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                return sorted(ast.literal_eval(node.value))
        raise LookupError(f"{init}: no __all__")
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and any(
                alias.name == ns.attr for alias in node.names):
            source = init.with_name(f"{node.module}.py")
            for cls in ast.parse(source.read_text()).body:
                if isinstance(cls, ast.ClassDef) and cls.name == ns.attr:
                    return sorted({f.name for f in cls.body
                                   if isinstance(f, ast.FunctionDef)
                                   and not f.name.startswith("_")})
    raise LookupError(f"{init}: no class {ns.attr}")


def graphgrad_extras(ns: Namespace, holder, torch_holder) -> list[str]:
    """Public names graphgrad has in ``ns`` that torch has neither there nor at its top
    level (graphgrad.autograd, for one, re-exports graphgrad's whole tensor API)."""
    if holder is None or ns.how != "module":
        return []
    extras = []
    for name in dir(holder):
        if name.startswith("_") or hasattr(torch_holder, name) or hasattr(torch, name):
            continue  # torch has it here, or it re-exports one of torch's top-level names
        obj = getattr(holder, name)
        if isinstance(obj, types.ModuleType):
            continue
        numpy_type = isinstance(obj, type) and issubclass(obj, np.generic)
        if origin(obj).startswith("graphgrad") or numpy_type:
            extras.append(name)
    return extras


# ------------------------------------------------------------------ signatures
def parameters(obj) -> tuple[list[str], bool] | None:
    """The parameter names a callable takes (for a class: its constructor) and whether it
    takes any keyword (``**kwargs``); None when Python cannot say (C functions)."""
    target = obj.__init__ if isinstance(obj, type) else obj
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
             and p.name != "self" and not p.name.startswith("_")]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def missing_arguments(torch_obj, gg_obj) -> list[str]:
    """torch's parameter names that graphgrad's same-named callable cannot take."""
    if isinstance(torch_obj, type) and torch_obj.__init__ is object.__init__:
        return []
    theirs, ours = parameters(torch_obj), parameters(gg_obj)
    if theirs is None or ours is None or ours[1]:
        return []
    return [name for name in theirs[0] if name not in ours[0]]


# ------------------------------------------------------------------ Markdown
def code_list(label: str, names) -> str:
    """``label`` and the names as inline code, wrapped at ``WIDTH``."""
    text = label + ", ".join(f"`{n}`" for n in names)
    return textwrap.fill(text, WIDTH, break_on_hyphens=False, break_long_words=False)


def group_present(names: list[str], torch_holder) -> list[tuple[str, list[str]]]:
    """Present names split into kinds, as torch's objects are: dtypes/classes/functions for
    torch, attributes and methods for a class; one group otherwise."""
    if torch_holder is torch:
        groups = {"Functions": [], "Classes": [], "Dtypes": []}
        for name in names:
            obj = getattr(torch, name)
            kind = ("Dtypes" if isinstance(obj, torch.dtype)
                    else "Classes" if isinstance(obj, type) else "Functions")
            groups[kind].append(name)
        return [(k, v) for k, v in groups.items() if v]
    if isinstance(torch_holder, type):
        groups = {"Attributes": [], "Methods": []}
        for name in names:
            member = inspect.getattr_static(torch_holder, name)
            kind = "Methods" if callable(member) or isinstance(
                member, (staticmethod, classmethod)) else "Attributes"
            groups[kind].append(name)
        return [(k, v) for k, v in groups.items() if v]
    return [("", names)]


def theme_of(name: str, obj) -> str:
    if isinstance(obj, torch.dtype):
        return "dtypes"
    for theme, pattern in THEMES[1:]:
        if pattern.search(name):
            return theme
    raise AssertionError("the last theme matches everything")


def block(ns: Namespace) -> tuple[str, tuple[int, int]]:
    """The Markdown block of one namespace, and (torch's names, graphgrad has)."""
    torch_holder = None if ns.how == "source" else resolve(ns.torch_path)
    names, internal = public_names(ns)
    holder = resolve(ns.gg_path)
    present = [n for n in names if holder is not None and hasattr(holder, n)]
    missing = [n for n in names if n not in present]
    head = (f"graphgrad has **{len(present)} of {len(names)}** public names of `{ns.key}` at "
            f"`{ns.gg_path}`" + ("." if holder is not None else f" (`{ns.gg_path}` does not "
                                                               "exist)."))
    if internal:
        head += f" Left out as torch internals: {internal} name{'s' * (internal > 1)}."
    lines = [code_list(head, [])]
    for kind, group in group_present(present, torch_holder) if present else ():
        label = f"{kind} present" if kind else "Present"
        lines += ["", code_list(f"{label} ({len(group)}): ", group)]
    if missing:
        lines += ["", f"<details><summary>Missing from graphgrad ({len(missing)})</summary>", ""]
        if ns.torch_path in ("torch", "torch.Tensor"):
            for theme, _ in THEMES:
                group = [n for n in missing if theme_of(n, getattr(torch_holder, n)) == theme]
                if group:
                    lines += [code_list(f"- {theme} ({len(group)}): ", group), ""]
            lines[-1:] = [""]
        else:
            lines += [code_list("", missing), ""]
        lines += ["</details>"]
    if torch_holder is not None and ns.how == "module":
        differing = {n: missing_arguments(getattr(torch_holder, n), getattr(holder, n))
                     for n in present}
        differing = {n: args for n, args in differing.items() if args}
        if differing:
            lines += ["", "Arguments of torch's that graphgrad's version does not take by "
                          "that name:"]
            lines += [f"- `{n}`: " + ", ".join(f"`{a}`" for a in args)
                      for n, args in differing.items()]
    extras = graphgrad_extras(ns, holder, torch_holder)
    if extras:
        lines += ["", code_list(f"graphgrad only ({len(extras)}): ", extras)]
    return "\n".join(lines), (len(names), len(present))


def submodule_block() -> tuple[str, tuple[int, int]]:
    """Which of torch's submodules exist in graphgrad at the same path."""
    paths = [f"torch.{name}" for name in package_modules(torch)] + DOCUMENTED_SUBMODULES

    def exists(path: str) -> bool:  # a module of that name, not another one bound there
        module = resolve(path)
        return isinstance(module, types.ModuleType) and module.__name__ == path

    present = [p for p in paths if exists("graphgrad" + p[len("torch"):])]
    missing = [p for p in paths if p not in present]
    lines = [code_list(f"graphgrad has **{len(present)} of {len(paths)}** of torch's submodules "
                       "(every public module attribute of `torch`, and the documented ones "
                       "below it).", []),
             "", code_list(f"Present ({len(present)}): ", present),
             "", code_list(f"Missing ({len(missing)}): ", missing)]
    return "\n".join(lines), (len(paths), len(present))


def generate() -> dict[str, str]:
    """Every block of the page, by key (``summary``, ``submodules``, then one per
    namespace)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated torch names warn when looked up
        blocks, counts = {}, {}
        blocks["submodules"], counts["submodules"] = submodule_block()
        for ns in NAMESPACES:
            blocks[ns.key], counts[ns.key] = block(ns)
    rows = ["| namespace | torch's public names | in graphgrad | missing |",
            "| --- | ---: | ---: | ---: |"]
    for key, (total, have) in counts.items():
        label = "torch submodules" if key == "submodules" else f"`{key}`"
        rows.append(f"| {label} | {total} | {have} | {total - have} |")
    summary = (f"Generated against PyTorch {torch.__version__.split('+')[0]} and graphgrad "
               f"{graphgrad.__version__} by `docs/tools/compat_table.py`.\n\n" + "\n".join(rows))
    return {"summary": summary, **blocks}


# ------------------------------------------------------------------ the page
def marker(key: str, end: str) -> str:
    return f"<!-- generated:{key} {end} -->"


def embedded(page: str) -> dict[str, str]:
    """The blocks a page holds between its markers, by key."""
    found = re.findall(r"<!-- generated:(\S+) begin -->\n(.*?)\n<!-- generated:\1 end -->",
                       page, flags=re.S)
    return dict(found)


def rewrite(page: str, blocks: dict[str, str]) -> str:
    """``page`` with every marked block replaced; each key must be marked exactly once."""
    for key, text in blocks.items():
        pattern = re.compile(re.escape(marker(key, "begin")) + r"\n.*?\n"
                             + re.escape(marker(key, "end")), flags=re.S)
        if len(pattern.findall(page)) != 1:
            raise SystemExit(f"{PAGE}: needs exactly one {marker(key, 'begin')} ... "
                             f"{marker(key, 'end')} pair")
        page = pattern.sub(lambda _: f"{marker(key, 'begin')}\n{text}\n{marker(key, 'end')}",
                           page)
    return page


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true",
                        help=f"replace the generated blocks in {PAGE.name}")
    args = parser.parse_args(argv)
    blocks = generate()
    if args.write:
        PAGE.write_text(rewrite(PAGE.read_text(), blocks))
        print(f"wrote {len(blocks)} blocks into {PAGE}")
        return
    for key, text in blocks.items():
        print(f"{marker(key, 'begin')}\n{text}\n{marker(key, 'end')}\n")


if __name__ == "__main__":
    sys.exit(main())
