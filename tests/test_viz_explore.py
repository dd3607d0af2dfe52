"""gg.viz.explore, Python side: the data the page is built from (backward order, value and
gradient statistics, docs, creation sites) and the self-contained page itself.  The page's
behaviour in a real browser is tested in tests/test_viz_explore_browser.py."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import tomllib

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn
from graphgrad.autograd.grad_mode import STATE
from graphgrad.viz import _explore, _render
from graphgrad.viz._graph import GraphModel
from graphgrad.viz._record import HIST_DECADES, array_stats, merge_array_stats

ROOT = Path(__file__).resolve().parents[1]

# CI installs the viz extra (graphviz-pure), so there a missing renderer is a failure.
pytestmark = pytest.mark.skipif(
    _render.find_renderer() is None and not os.environ.get("CI"),
    reason="no dot program: neither Graphviz nor graphviz-pure (pip install graphgrad[viz])")


@pytest.fixture(autouse=True)
def _fresh():
    gg.manual_seed(0)
    gg.viz.RECORD.clear()


class EngineOrder:
    """Observer beside record_gradients: the nodes in the order the engine ran them."""

    def __enter__(self):
        self.nodes = []
        self.previous = STATE.observer
        STATE.observer = lambda key, g: self.nodes.append(key) if hasattr(key, "op") else None
        return self

    def __exit__(self, *exc):
        STATE.observer = self.previous


def mlp_step():
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x = gg.randn(5, 4)
    hidden = model[0](x)
    act = model[1](hidden)
    for t in (hidden, act):
        t.retain_grad()
    loss = F.cross_entropy(model[2](act), gg.tensor([0, 1, 2, 0, 1]))
    return model, (hidden, act), loss


def page_data(text: str) -> dict:
    """The data a written page carries."""
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1).replace("<\\/", "</"))


def check_stats(got: dict, array: np.ndarray, grad: bool) -> None:
    a = np.asarray(array, dtype=np.float64)
    expected = {"mean": a.mean(), "std": a.std(), "min": a.min(), "max": a.max()}
    if grad:
        expected.update(norm=np.linalg.norm(a), mean_abs=np.abs(a).mean(),
                        max_abs=np.abs(a).max())
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert got["size"] == a.size and sum(got["hist"]) == a.size


def test_steps_follow_the_engines_order():
    model, _, loss = mlp_step()
    with EngineOrder() as engine, gg.viz.record_gradients():
        loss.backward()
    data, _ = _explore.collect(loss, model)
    graph = GraphModel(loss, model)
    assert [s[0] for s in data["steps"]] == [graph.vertex_of[n].id for n in engine.nodes]
    assert [s[1] for s in data["steps"]] == [n.op.name for n in engine.nodes]
    # before backward (nothing recorded yet) the page plays the order backward will take
    model, _, loss = mlp_step()
    before, _ = _explore.collect(loss, model)
    with EngineOrder() as engine:
        loss.backward()
    assert [s[1] for s in before["steps"]] == [n.op.name for n in engine.nodes]


def test_steps_send_gradient_to_the_inputs_and_parameters_complete_after_last_use():
    model, _, loss = mlp_step()
    with gg.viz.record_gradients():
        loss.backward()
    data, _ = _explore.collect(loss, model)
    graph = GraphModel(loss, model)
    order = graph.backward_order()
    for (_, _, _, sources), node in zip(data["steps"], order, strict=True):
        assert sources == sorted({graph.vertex_of[c].id for c in node.next if c is not None})
    by_name = {p["name"]: p for p in data["params"]}
    assert sorted(by_name) == sorted(name for name, _ in model.named_parameters())
    for name, p in model.named_parameters():
        users = [order.index(n) for n, _ in graph.consumers[p]]
        assert by_name[name]["done"] == max(users)
        assert by_name[name]["mean_abs"] == pytest.approx(np.abs(p.grad.numpy()).mean())


def test_statistics_equal_the_tensors():
    model, (hidden, act), loss = mlp_step()
    with gg.viz.record_gradients():
        loss.backward()
    data, _ = _explore.collect(loss, model)
    graph = GraphModel(loss, model)
    weight = data["vertices"][graph.vertex_of[model[0].weight].id]
    check_stats(weight["value"], model[0].weight.numpy(), grad=False)
    check_stats(weight["grad"], model[0].weight.grad.numpy(), grad=True)
    linear = data["vertices"][graph.vertex_of[hidden.grad_fn].id]
    assert linear["op"] == hidden.grad_fn.op.name and linear["module"] == "0: Linear"
    assert linear["output"] == ["(5, 6)", "float32"]
    assert linear["value"] is None  # nothing kept it for backward (tanh keeps its output)
    check_stats(linear["grad"], hidden.grad.numpy(), grad=True)
    tanh = data["vertices"][graph.vertex_of[act.grad_fn].id]
    assert tanh["inputs"] == [["(5, 6)", "float32"]] and tanh["module"] == "1: Tanh"
    check_stats(tanh["value"], act.numpy(), grad=False)
    check_stats(tanh["grad"], act.grad.numpy(), grad=True)
    root = data["vertices"][graph.vertex_of[loss.grad_fn].id]
    check_stats(root["value"], loss.numpy(), grad=False)
    assert root["roots"] == ["output"]


def test_values_before_backward_and_nan_flags(tmp_path):
    x = gg.tensor([1.0, -2.0, 0.0], requires_grad=True)
    y = x.log()  # NaN and -Inf
    loss = (y * x).sum()  # mul keeps y for x's gradient; the loss is NaN
    data, _ = _explore.collect(loss)
    assert data["vertices"][GraphModel(loss).vertex_of[loss.grad_fn].id]["value"]["nan"] == 1
    gg.viz.explore(loss, path=tmp_path / "before.html")  # JSON without NaN
    graph = GraphModel(loss)
    vertex = data["vertices"][graph.vertex_of[y.grad_fn].id]
    assert vertex["grad"] is None
    assert vertex["value"]["nan"] == 1 and vertex["value"]["inf"] == 1  # from mul's saved y
    with gg.viz.record_gradients():
        loss.backward()
    after, _ = _explore.collect(loss)
    vertex = after["vertices"][graph.vertex_of[y.grad_fn].id]
    assert vertex["value"]["nan"] == 1 and vertex["value"]["min"] == 0.0  # recorded
    gg.viz.explore({"loss": loss, "log": y}, path=tmp_path / "after.html")
    leaf = after["vertices"][graph.vertex_of[x].id]
    g = x.grad.numpy()
    assert leaf["grad"]["nan"] + leaf["grad"]["inf"] == np.count_nonzero(~np.isfinite(g)) > 0
    assert leaf["grad"]["norm"] == pytest.approx(np.linalg.norm(g[np.isfinite(g)]))


def test_docs_and_creation_site():
    x = gg.randn(3, requires_grad=True)
    with gg.autograd.detect_anomaly():
        y = (x * 3.0).tanh()  # the line the page names
    data, _ = _explore.collect(y.sum())
    tanh = next(v for v in data["vertices"].values() if v.get("op") == "tanh")
    line = tanh["where"]
    assert line.startswith(f"{__file__}:") and line.endswith("y = (x * 3.0).tanh()  # the line "
                                                            "the page names")
    formula, rule = _explore.op_doc("add")
    assert formula.startswith("x + alpha * y") and "d/dx = 1" in rule
    assert _explore.op_doc("no such op") == ("", "")
    undetected = x.exp().sum()
    exp = next(v for v in _explore.collect(undetected)[0]["vertices"].values()
               if v.get("op") == "exp")
    assert exp["where"] is None


def test_array_stats_merge_as_concatenation():
    parts = [np.array([1e-9, -3.0, 250.0]), np.array([[0.5, -0.5], [np.inf, 2e5]]),
             np.array([np.nan])]
    merged = merge_array_stats([array_stats(p) for p in parts])
    whole = array_stats(np.concatenate([p.ravel() for p in parts]))
    assert merged == whole
    assert whole.nan == 1 and whole.inf == 1 and whole.finite == 6 and whole.max == 2e5
    hist = whole.hist
    assert hist[HIST_DECADES] == 1  # 1e-9
    assert hist[HIST_DECADES + 1 + 2 - (-8)] == 1  # 250 in decade 1e2
    assert hist[-1] == 1  # 2e5, beyond 1e4: the last bin
    assert hist[HIST_DECADES - 1 - (0 - (-8))] == 1  # -3 in decade 1e0, mirrored


def test_page_is_one_self_contained_file(tmp_path):
    model, _, loss = mlp_step()
    with gg.viz.record_gradients():
        loss.backward()
    page = gg.viz.explore(loss, params=model, path=tmp_path / "sub" / "page.html")
    assert page.path == tmp_path / "sub" / "page.html" and os.fspath(page) == str(page.path)
    text = page.path.read_text()
    assert "/*@" not in text  # every placeholder filled
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"(?!data:)", text)
    assert not re.search(r"(?<!xmlns=\")(?<!xmlns:xlink=\")https?://(?!www\.w3\.org)", text)
    data = page_data(text)
    assert len(data["steps"]) == len(GraphModel(loss, model).nodes)
    assert text.count('class="node"') == len(data["vertices"]) + 1  # and the legend
    inline = page._repr_html_()
    assert inline.startswith("<iframe srcdoc=") and "&lt;svg" in inline
    assert gg.viz.explore(loss, params=model, path=tmp_path / "b.html").path.exists()


def rnn_graph():
    """An RNN cell over 50 time steps, 20 calls per step: about 5,000 recorded nodes, after a
    recorded backward; (cell, loss)."""
    cell = nn.RNNCell(8, 8)
    x = gg.randn(50, 4, 8)
    h = gg.zeros(4, 8)
    step = gg.viz.scope("step")
    for t in range(50):
        with step:
            for _ in range(20):
                h = cell(x[t], h) * 0.5
    loss = h.pow(2).mean()
    with gg.viz.record_gradients():
        loss.backward()
    return cell, loss


def test_rnn_of_5000_nodes_folds_into_a_small_file(tmp_path):
    cell, loss = rnn_graph()
    page = gg.viz.explore(loss, params=cell, path=tmp_path / "rnn.html")
    data = page_data(page.path.read_text())
    assert len(data["steps"]) > 4900
    assert len(data["vertices"]) < 150  # folded: one vertex per op of a step
    assert page.path.stat().st_size < 2_000_000


def test_package_data_ships_the_page_template():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = config["package-data"]["graphgrad.viz"]
    folder = ROOT / "graphgrad" / "viz"
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert files and all(any(p.relative_to(folder).match(g) for g in shipped) for p in files)
