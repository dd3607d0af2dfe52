"""autograd.viz: draw_graph (graph structure, names, gradients, modules, rendering) and
gradient_flow."""
from __future__ import annotations

import gc
import importlib.util
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.autograd.grad_mode import STATE
from graphgrad.autograd.graph import Node
from graphgrad.viz import _render

HAS_GRAPHVIZ = importlib.util.find_spec("graphviz") is not None
VERTEX = re.compile(r"^\s*((?:op|p|in|c|m)\d+) \[(.*)\]$", re.M)
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", re.M)


# ------------------------------------------------------------------ helpers
def vertices(dot) -> dict[str, str]:
    """{vertex id: its attribute text} of a drawn graph (legend excluded)."""
    return dict(VERTEX.findall(dot.source))


def kinds(dot) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for vid in vertices(dot):
        out.setdefault(re.match(r"[a-z]+", vid).group(), []).append(vid)
    return out


def edges(dot) -> list[tuple[str, str, str]]:
    return [(a, b, attrs or "") for a, b, attrs in EDGE.findall(dot.source)]


def recorded_graph(*roots):
    """(nodes, leaves, edge count) reachable from roots, walked independently of viz."""
    nodes, leaves, n_edges = {}, {}, 0
    stack = [r.grad_fn or r for r in roots]
    while stack:
        key = stack.pop()
        if id(key) in nodes or id(key) in leaves:
            continue
        if type(key) is Node:
            nodes[id(key)] = key
            for child in key.next:
                if child is not None:
                    n_edges += 1
                    stack.append(child)
        else:
            leaves[id(key)] = key
    return nodes, leaves, n_edges


def clusters(dot) -> tuple[dict[str, str | None], dict[str, str]]:
    """({cluster label: parent cluster label}, {vertex id: innermost cluster label})."""
    parents: dict[str, str | None] = {}
    where: dict[str, str] = {}
    stack: list[str] = []
    lines = dot.source.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s*subgraph cluster_\d+ \{", line):
            label = re.search(r'label=("(?:[^"\\]|\\.)*"|\S+)', lines[i + 1]).group(1).strip('"')
            parents[label] = stack[-1] if stack else None
            stack.append(label)
        elif line.strip() == "}" and stack:
            stack.pop()
        else:
            m = VERTEX.match(line)
            if m and stack:
                where[m.group(1)] = stack[-1]
    return parents, where


def label_of(dot, vid: str) -> str:
    return vertices(dot)[vid]


def find(dot, text: str) -> list[str]:
    """Ids of the vertices whose label contains ``text``."""
    return [vid for vid, attrs in vertices(dot).items() if text in attrs]


def mlp(sizes=(4, 8, 3)):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def mlp_loss(model, n=5):
    x = gg.randn(n, model[0].in_features)
    y = gg.randn(n, model[-1].out_features)
    return F.mse_loss(model(x), y)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(self.inner(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = Block()
        self.head = nn.Linear(2, 1)

    def forward(self, x):
        return self.head(self.enc(x))


class Cell(nn.Module):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh), as nn.RNNCell."""

    def __init__(self, n_in, n_hidden):
        super().__init__()
        self.ih = nn.Linear(n_in, n_hidden)
        self.hh = nn.Linear(n_hidden, n_hidden)

    def forward(self, x, h):
        return (self.ih(x) + self.hh(h)).tanh()


class Unrolled(nn.Module):
    def __init__(self, steps=50):
        super().__init__()
        self.cell = Cell(3, 6)
        self.head = nn.Linear(6, 1)
        self.steps = steps

    def forward(self, xs):
        h = gg.zeros(xs.shape[1], 6)
        for t in range(self.steps):
            h = self.cell(xs[t], h)
        return self.head(h)


class NaNBackward(gg.Function):
    """Identity whose backward returns NaN: a planted fault."""

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        return g * float("nan")


@pytest.fixture(autouse=True)
def _seed(request):
    name = request.node.name
    if not HAS_GRAPHVIZ and "gradient_flow" not in name and "no_graphviz" not in name:
        pytest.skip("drawing needs the graphviz package: pip install graphgrad[viz]")
    gg.manual_seed(0)
    gg.viz.RECORD.clear()


# ------------------------------------------------------------------- structure
@pytest.mark.parametrize("group_modules", [True, False])
def test_counts_equal_the_recorded_graph(group_modules):
    model = mlp((4, 8, 8, 3))
    loss = mlp_loss(model)
    nodes, leaves, n_edges = recorded_graph(loss)
    dot = gg.viz.draw_graph(loss, group_modules=group_modules, show_constants=False)
    k = kinds(dot)
    assert len(k["op"]) == len(nodes)
    assert len(k.get("p", [])) + len(k.get("in", [])) == len(leaves) == 6
    assert len(edges(dot)) == n_edges
    with_constants = gg.viz.draw_graph(loss, group_modules=group_modules)
    consts = kinds(with_constants)["c"]
    assert consts and len(vertices(with_constants)) == len(nodes) + len(leaves) + len(consts)


def test_counts_without_modules_and_repeated_inputs():
    x = gg.randn(3, requires_grad=True)
    w = gg.randn(3, requires_grad=True)
    y = (x * x + w * 2.0).exp().sum()  # x*x: two edges between the same pair
    nodes, leaves, n_edges = recorded_graph(y)
    dot = gg.viz.draw_graph(y)
    assert len(kinds(dot)["op"]) == len(nodes) == 5
    assert len(kinds(dot)["in"]) == len(leaves) == 2
    assert len(edges(dot)) == n_edges == 7
    assert "cluster" not in dot.source


def test_op_nodes_show_name_shape_and_dtype():
    x = gg.randn(2, 5, dtype=np.float64, requires_grad=True)
    y = (x @ gg.randn(5, 3, dtype=np.float64)).tanh().sum()
    dot = gg.viz.draw_graph(y)
    (matmul,) = find(dot, "<b>matmul</b>")
    assert "(2, 3) float64" in label_of(dot, matmul)
    (tanh,) = find(dot, "<b>tanh</b>")
    assert "(2, 3) float64" in label_of(dot, tanh)
    (root,) = find(dot, "<b>sum</b>")
    assert "scalar float64" in label_of(dot, root) and "peripheries=2" in label_of(dot, root)


def test_shapes_and_dtypes_are_the_ones_the_nodes_recorded():
    """Each op shows the output shape and dtype its node recorded: a custom Function that
    widens float32 to float64 was drawn as float32 when the dtype was guessed from the
    inputs."""

    class Widen(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.double()

        @staticmethod
        def backward(ctx, g):
            return g.float()

    x = gg.randn(3, 4, requires_grad=True)
    y = (Widen.apply(x) * 2.0).sum(dim=0)
    dot = gg.viz.draw_graph(y)
    (widen,) = find(dot, "<b>Widen</b>")
    assert "(3, 4) float64" in label_of(dot, widen)
    (root,) = find(dot, "<b>sum</b>")
    assert "(4,) float64" in label_of(dot, root)
    assert y.grad_fn.out_shape == (4,) and y.grad_fn.out_dtype == np.float64


def test_every_parameter_name_appears():
    model = Net()
    loss = model(gg.randn(5, 3)).pow(2).mean()
    names = [name for name, _ in model.named_parameters()]
    assert "enc.inner.0.weight" in names
    for params in (None, model, dict(model.named_parameters()), model.named_parameters()):
        dot = gg.viz.draw_graph(loss, params=params)
        for name in names:
            assert len(find(dot, f"<b>{name}</b>")) == 1, (params, name)
        assert not kinds(dot).get("in")


def test_inputs_constants_and_parameters_are_distinct():
    model = mlp()
    data = gg.randn(5, 4)
    shift = gg.randn(5, 3, requires_grad=True)
    loss = F.mse_loss(model(data) + shift, gg.randn(5, 3))
    params = {**dict(model.named_parameters()), "data": data}
    for dot in (gg.viz.draw_graph(loss, params=params), gg.viz.draw_graph(loss)):
        (inp,) = kinds(dot)["in"]
        assert "shape=invhouse" in label_of(dot, inp) and "<b>input</b>" in label_of(dot, inp)
        assert all("shape=ellipse" in label_of(dot, p) for p in kinds(dot)["p"])
        assert len(kinds(dot)["p"]) == 4
        consts = kinds(dot)["c"]
        assert len(consts) == 2 and all("style=dashed" in label_of(dot, c) for c in consts)
    named = gg.viz.draw_graph(loss, params=params)
    (data_vertex,) = find(named, "label=<data<br/>")
    assert data_vertex in kinds(named)["c"] and "(5, 4) float32" in label_of(named, data_vertex)


def test_list_and_dict_roots():
    trunk = nn.Linear(4, 6)
    x = gg.randn(3, 4)
    h = trunk(x).relu()
    a, b = h.sum(), (h * h).mean()
    nodes, leaves, n_edges = recorded_graph(a, b)
    for roots, labels in (([a, b], ["[0]", "[1]"]), ((a, b), ["[0]", "[1]"]),
                          ({"main": a, "aux": b}, ["main", "aux"])):
        dot = gg.viz.draw_graph(roots, show_constants=False)
        assert len(kinds(dot)["op"]) == len(nodes)
        assert len(edges(dot)) == n_edges
        for label in labels:
            assert len(find(dot, f"<u>{label}</u>")) == 1
    nested = gg.viz.draw_graph({"pair": [a, b]})
    assert find(nested, "<u>pair[0]</u>") and find(nested, "<u>pair[1]</u>")
    with pytest.raises(TypeError):
        gg.viz.draw_graph([a, "b"])
    with pytest.raises(ValueError, match="no root requires grad"):
        gg.viz.draw_graph(gg.ones(3))


# ----------------------------------------------------------------- gradients
def test_gradient_stats_after_recorded_backward():
    x = gg.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    y = (x * 3.0).sum()
    before = gg.viz.draw_graph(y)
    assert "grad norm" not in before.source
    with gg.viz.record_gradients():
        y.backward()
    dot = gg.viz.draw_graph(y)
    (mul,) = find(dot, "<b>mul</b>")
    assert "grad norm 2.00e+00" in label_of(dot, mul)  # d y / d (x*3) = ones(2, 2)
    (inp,) = kinds(dot)["in"]
    assert "grad norm 6.00e+00" in label_of(dot, inp)
    assert "mean|g| 3.00e+00  max|g| 3.00e+00" in label_of(dot, inp)
    assert "legend" in dot.source and "mean |grad|, log scale" in dot.source


def test_leaf_gradients_show_without_recording():
    model = mlp()
    loss = mlp_loss(model)
    loss.backward()
    dot = gg.viz.draw_graph(loss, params=model)
    assert all("grad norm" in label_of(dot, p) for p in kinds(dot)["p"])
    assert not any("grad norm" in label_of(dot, o) for o in kinds(dot)["op"])


def test_colours_follow_log_magnitude():
    x = gg.ones(4, requires_grad=True)
    y = gg.ones(4, requires_grad=True)
    loss = (x * 1e-6).sum() + (y * 10.0).sum()
    loss.backward()
    dot = gg.viz.draw_graph(loss, params={"small": x, "big": y})
    small, big = find(dot, "<b>small</b>")[0], find(dot, "<b>big</b>")[0]
    fill = re.compile(r'fillcolor="(#[0-9a-f]{6})"')
    palette = gg.viz._draw.PALETTE
    i_small = palette.index(fill.search(label_of(dot, small)).group(1))
    i_big = palette.index(fill.search(label_of(dot, big)).group(1))
    assert i_small < i_big
    fixed = gg.viz.draw_graph(loss, params={"small": x, "big": y}, grad_range=(1e-8, 1e4))
    assert "1e-8 .. " in fixed.source


def test_planted_nan_is_flagged_on_its_op_only():
    w = gg.randn(3, 3, requires_grad=True)
    h = (gg.randn(2, 3) @ w).tanh()
    loss = (NaNBackward.apply(h).exp() * 3.0).sum()
    with gg.viz.record_gradients():
        loss.backward()
    dot = gg.viz.draw_graph(loss, params={"w": w})
    flagged = find(dot, "NaN/Inf starts here")
    assert flagged == find(dot, "<b>NaNBackward</b>")
    assert "penwidth=3" in label_of(dot, flagged[0])
    # everything below it received NaN, and says so, without being blamed
    for name in ("<b>tanh</b>", "<b>matmul</b>", "<b>w</b>"):
        (vid,) = find(dot, name)
        assert "NaN x" in label_of(dot, vid) and vid not in flagged
    (exp,) = find(dot, "<b>exp</b>")
    assert "NaN" not in label_of(dot, exp)
    red = [(a, b) for a, b, attrs in edges(dot) if "b2182b" in attrs]
    assert red == [(find(dot, "<b>tanh</b>")[0], flagged[0])]


def test_record_gradients_restores_observer_and_forgets_dead_graphs():
    assert STATE.observer is None
    calls = []
    STATE.observer = lambda key, g: calls.append(type(key).__name__)
    try:
        with gg.viz.record_gradients() as record:
            x = gg.randn(3, requires_grad=True)
            y = (x * 2).sum()
            y.backward()
        assert STATE.observer is not None and len(calls) == 3  # outer observer still called
    finally:
        STATE.observer = None
    assert len(record) == 3
    del x, y
    gc.collect()
    assert len(record) == 0


# ------------------------------------------------------------ saved and order
def test_show_saved_lists_arrays_with_sizes():
    x = gg.randn(4, 5, requires_grad=True)
    w = gg.randn(5, 2)
    y = (x @ w).sum()
    dot = gg.viz.draw_graph(y, show_saved=True)
    (matmul,) = find(dot, "<b>matmul</b>")
    assert "saved x (4, 5) float32 80 B" in label_of(dot, matmul)
    assert "saved y (5, 2) float32 40 B" in label_of(dot, matmul)
    assert "saved for backward: 2 arrays, 120 B" in dot.source
    y.backward(retain_graph=False)
    freed = gg.viz.draw_graph(y, show_saved=True)
    assert "freed by backward" in label_of(freed, find(freed, "<b>matmul</b>")[0])
    z = (x @ w).sum()
    with gg.viz.record_gradients():
        z.backward()
    kept = gg.viz.draw_graph(z, show_saved=True)
    assert "saved x (4, 5) float32 80 B" in label_of(kept, find(kept, "<b>matmul</b>")[0])


def test_show_order_matches_backward():
    model = mlp((4, 6, 6, 2))
    loss = mlp_loss(model)
    simulated = gg.viz.draw_graph(loss, show_order=True)
    with gg.viz.record_gradients():
        loss.backward()
    recorded = gg.viz.draw_graph(loss, show_order=True)

    def numbers(dot):
        return {vid: int(re.search(r"</b>  #(\d+)", attrs).group(1))
                for vid, attrs in vertices(dot).items() if vid.startswith("op")}

    assert numbers(simulated) == numbers(recorded)
    assert sorted(numbers(recorded).values()) == list(range(1, len(numbers(recorded)) + 1))
    assert numbers(recorded)[find(recorded, "<u>output</u>")[0]] == 1


# ------------------------------------------------------------------- modules
def test_module_clusters_nest_as_modules_do():
    model = Net()
    loss = model(gg.randn(5, 3)).pow(2).mean()
    dot = gg.viz.draw_graph(loss, params=model)
    parents, where = clusters(dot)
    assert parents == {
        "Net": None, "enc: Block": "Net", "enc.inner: Sequential": "enc: Block",
        "enc.inner.0: Linear": "enc.inner: Sequential", "enc.inner.1: Tanh":
        "enc.inner: Sequential", "enc.out: Linear": "enc: Block", "head: Linear": "Net",
    }
    assert where[find(dot, "<b>enc.inner.0.weight</b>")[0]] == "enc.inner.0: Linear"
    assert where[find(dot, "<b>tanh</b>")[0]] == "enc.inner.1: Tanh"
    (pow_,) = find(dot, "<b>pow</b>")
    assert pow_ not in where  # ran outside any module
    flat = gg.viz.draw_graph(loss, group_modules=False)
    assert "subgraph" not in flat.source


def test_max_depth_collapses_deeper_modules():
    model = Net()
    loss = model(gg.randn(5, 3)).pow(2).mean()
    full = gg.viz.draw_graph(loss)
    counts = [len(vertices(full))]
    for depth in (2, 1, 0):
        dot = gg.viz.draw_graph(loss, max_depth=depth)
        counts.append(len(vertices(dot)))
    assert counts == sorted(counts, reverse=True) and len(set(counts)) == 4
    one = gg.viz.draw_graph(loss, max_depth=1)
    modules = kinds(one)["m"]
    assert sorted(re.search(r"<b>([^<]+)</b>", label_of(one, m)).group(1) for m in modules) \
        == ["enc: Block", "head: Linear"]
    assert "4 parameters" in label_of(one, find(one, "enc: Block")[0])
    zero = gg.viz.draw_graph(loss, max_depth=0)
    assert len(kinds(zero)["m"]) == 1 and "subgraph" not in zero.source
    with pytest.raises(ValueError):
        gg.viz.draw_graph(loss, max_depth=-1)


def test_fifty_step_rnn_draws_fast_and_collapses_its_cell():
    model = Unrolled(steps=50)
    loss = model(gg.randn(50, 2, 3)).pow(2).mean()
    nodes, _, _ = recorded_graph(loss)
    assert len(nodes) >= 4 * 50  # a slice, two linears, an add and a tanh per step
    with gg.viz.record_gradients():
        loss.backward()
    start = time.perf_counter()
    dot = gg.viz.draw_graph(loss, show_saved=True, show_order=True)
    source = dot.source
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, elapsed
    parents, where = clusters(dot)
    assert "cell: Cell  x50 calls" in parents
    assert parents["cell.ih: Linear  x50 calls"] == "cell: Cell  x50 calls"
    in_cell = [v for v, c in where.items() if "x50 calls" in c and v.startswith("op")]
    assert 0 < len(in_cell) <= 8  # one node per op of the cell, not 50
    assert all("  x50" in label_of(dot, v) for v in in_cell)
    assert len(vertices(dot)) < 30
    (tanh,) = find(dot, "<b>tanh</b>")
    assert any(a == tanh and "x49" in attrs for a, b, attrs in edges(dot))  # the recurrence
    assert "over calls" in label_of(dot, tanh)
    assert "saved for backward" in source


def test_scope_groups_and_folds_a_functional_loop():
    w_ih = gg.randn(4, 3, requires_grad=True)
    w_hh = gg.randn(4, 4, requires_grad=True)
    xs, h = gg.randn(20, 2, 3), gg.zeros(2, 4)
    step = gg.viz.scope("step")
    for t in range(20):
        with step:
            h = (xs[t] @ w_ih.T + h @ w_hh.T).tanh()
    assert STATE.scope is None
    dot = gg.viz.draw_graph(h.sum(), params={"w_ih": w_ih, "w_hh": w_hh})
    parents, where = clusters(dot)
    assert parents == {"step  x20 calls": None}
    ops = [re.search(r"<b>(\w+)</b>", label_of(dot, v)).group(1) for v in where
           if v.startswith("op")]
    assert sorted(ops) == ["add", "matmul", "matmul", "permute", "permute", "tanh"]


def test_rnn_cell_over_fifty_steps_collapses():
    cell = nn.RNNCell(3, 4)
    h = gg.zeros(2, 4)
    xs = gg.randn(50, 2, 3)
    for t in range(50):
        h = cell(xs[t], h)
    start = time.perf_counter()
    dot = gg.viz.draw_graph(h.sum())
    assert time.perf_counter() - start < 0.5
    parents, _ = clusters(dot)
    assert any("RNNCell" in label and "x50 calls" in label for label in parents)


# ------------------------------------------------------------------ rendering
def test_source_and_rankdir():
    x = gg.randn(3, requires_grad=True)
    dot = gg.viz.draw_graph(x.exp().sum(), rankdir="LR")
    assert "rankdir=LR" in dot.source
    with pytest.raises(ValueError, match="rankdir"):
        gg.viz.draw_graph(x.exp().sum(), rankdir="sideways")


def _render_svg(tmp_path, name):
    model = mlp()
    loss = mlp_loss(model)
    with gg.viz.record_gradients():
        loss.backward()
    dot = gg.viz.draw_graph(loss, params=model, show_saved=True)
    out = dot.render(outfile=tmp_path / f"{name}.svg", cleanup=True)
    svg = open(out, encoding="utf-8").read()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for param, _ in model.named_parameters():
        assert param in svg
    return svg


# CI installs the viz extra (graphviz-pure), so there a missing renderer is a failure.
needs_renderer = pytest.mark.skipif(
    _render.find_renderer() is None and not os.environ.get("CI"),
    reason="no dot program: neither Graphviz nor graphviz-pure (pip install graphgrad[viz])")


@needs_renderer
def test_render_svg(tmp_path):
    _render_svg(tmp_path, "default")


@needs_renderer
def test_readme_example_draws_the_mlp(tmp_path):
    path = Path(__file__).resolve().parents[1] / "examples" / "draw_mlp_graph.py"
    spec = importlib.util.spec_from_file_location("draw_mlp_graph", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(str(tmp_path / "mlp.svg"))
    svg = out.read_text(encoding="utf-8")
    for name in ("0.weight", "0.bias", "2.weight", "2.bias", "loss", "CrossEntropyLoss"):
        assert name in svg
    assert not list(tmp_path.glob("*.gv"))


@pytest.mark.skipif(_render._graphviz_pure() is None, reason="graphviz-pure not installed")
def test_render_svg_with_graphviz_pure_when_no_system_dot(tmp_path, monkeypatch):
    real_which = _render.shutil.which
    monkeypatch.setattr(_render.shutil, "which",
                        lambda name, *a, **k: None if name == "dot" else real_which(name, *a, **k))
    assert _render.find_renderer()[0] == "graphviz-pure"
    svg = _render_svg(tmp_path, "pure")
    assert "graphviz-pure" in svg
    from graphviz.backend import dot_command

    assert str(dot_command.DOT_BINARY) == "dot"  # restored after the call


def test_no_renderer_error_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(_render, "find_renderer", lambda: None)
    x = gg.randn(3, requires_grad=True)
    dot = gg.viz.draw_graph(x.exp().sum())
    assert "digraph" in dot.source
    with pytest.raises(RuntimeError, match=r"pip install graphgrad\[viz\]"):
        dot.render(outfile=tmp_path / "g.svg")
    with pytest.raises(RuntimeError, match="graphviz-pure"):
        dot.pipe(format="svg")


def test_import_autograd_needs_no_graphviz(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    monkeypatch.setattr(_render, "_GRAPH_CLASS", None)
    x = gg.randn(3, requires_grad=True)
    with pytest.raises(ImportError, match=r"graphgrad\[viz\]"):
        gg.viz.draw_graph(x.exp().sum())
    x.exp().sum().backward()
    assert "0" in str(gg.viz.gradient_flow({"x": x}))  # the report needs neither


# ------------------------------------------------------------- gradient flow
def deep_net(activation, depth=10, width=32, he_init=False):
    layers = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        if he_init:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
    return nn.Sequential(*layers, nn.Linear(width, 1))


def flow_after_backward(model):
    x = gg.randn(64, 32)
    loss = F.mse_loss(model(x), gg.randn(64, 1))
    loss.backward()
    return gg.viz.gradient_flow(model)


def test_gradient_flow_shows_vanishing_sigmoid_gradients():
    model = deep_net(nn.Sigmoid)
    report = flow_after_backward(model)
    first, last = report["0.weight"], report["18.weight"]
    assert first.mean_abs < 1e-3 * last.mean_abs  # orders of magnitude apart
    text = str(report)
    for name, _ in model.named_parameters():
        assert name in text
    assert "orders of magnitude" in text and "(32, 32)" in text
    assert report.spread() > 3


def test_gradient_flow_relu_he_init_does_not_vanish():
    report = flow_after_backward(deep_net(nn.ReLU, he_init=True))
    first, last = report["0.weight"], report["18.weight"]
    assert 0.1 < first.mean_abs / last.mean_abs < 10
    assert "orders of magnitude" not in str(report)
    row = report["0.weight"]
    assert row.ratio is not None and row.ratio > 0


def test_gradient_flow_flags_nan_and_missing_grads():
    a = nn.Parameter(np.ones(3, dtype=np.float32))
    b = nn.Parameter(np.ones(2, dtype=np.float32))
    (a * gg.tensor([1.0, float("nan"), 2.0])).sum().backward()
    report = gg.viz.gradient_flow({"a": a, "b": b})
    assert report["a"].stats.nan == 1 and report["b"].stats is None
    text = str(report)
    assert "NaN x1" in text and "no grad" in text


def test_gradient_flow_bar_chart_png(tmp_path):
    pytest.importorskip("matplotlib")
    report = flow_after_backward(deep_net(nn.Sigmoid, depth=4))
    path = tmp_path / "flow.png"
    fig = gg.viz.gradient_flow(deep_net(nn.Sigmoid, depth=2), path=path)
    assert fig is not None
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert report.plot() is not None


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_recurrent_layer_draws_its_time_steps_as_one_node(kind):
    layer = getattr(nn, kind)(3, 4)
    out, _ = layer(gg.randn(50, 2, 3))
    dot = gg.viz.draw_graph(out.sum(), params=layer)
    assert f"{kind.lower()}_layer" in dot.source
    assert len(vertices(dot)) < 20


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_recurrent_layer_on_packed_input_folds_its_time_steps(kind):
    layer = getattr(nn, kind)(3, 4)
    packed = nn.utils.rnn.pack_sequence([gg.randn(50, 3), gg.randn(30, 3)])
    out, _ = layer(packed)
    dot = gg.viz.draw_graph(out.data.sum(), params=layer)
    parents, _ = clusters(dot)
    assert any("step  x50 calls" in name for name in parents), parents
    assert len(vertices(dot)) < 80

