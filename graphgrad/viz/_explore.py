"""``explore``: the backward graph as one self-contained, interactive HTML page.

The page shows the graph exactly as ``draw_graph`` lays it out (the same grouping,
folding and labels, rendered to SVG by Graphviz), and adds what a picture cannot:
click a node for its op's formula and gradient rule, shapes, module, the statistics
and histograms of its forward values and gradient, and the line of user code that
created it; step through backward in the order the engine ran; fold modules; search.

This module gathers the data (``collect``: plain numbers, never whole arrays, so a
5,000-node graph stays a few hundred KB) and fills the page template, which lives
beside it in ``explorer/`` (page.html, explorer.css, explorer.js: no network, no
libraries).

Where the numbers come from: gradients from ``record_gradients`` (or a leaf's
``.grad``); forward values from the tensors themselves (leaves, roots), from what
the nodes still hold for backward (before backward, or with ``retain_graph``), and
else from what ``record_gradients`` saw them hold while backward ran.  An op whose
output nobody saved has no forward statistics after backward.  The creation site is
known for nodes recorded under ``gg.autograd.detect_anomaly()``.
"""
from __future__ import annotations

import html
import json
import re
from importlib import resources
from pathlib import Path

import graphgrad
from graphgrad.autograd.anomaly import TRACES
from graphgrad.autograd.graph import Node, input_meta
from graphgrad.autograd.tensor import Tensor

from ._draw import Drawer, build_digraph, fmt_shape
from ._graph import GraphModel, Vertex
from ._record import HIST_DECADES, HIST_LO, ArrayStats, array_stats, merge_array_stats

_PLACEHOLDER = re.compile(r"/\*@(\w+)@\*/")
# Folders whose frames are graphgrad's own, skipped when looking for the user's line.
_OWN = tuple(str(Path(m.__file__).parent) for m in
             (graphgrad, graphgrad.autograd, graphgrad.nn, graphgrad.optim))
_FRAME = re.compile(r'\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>[^\n]+)'
                    r'(?:\n\s*(?P<code>[^\n]*))?')


class ExplorerPage:
    """What ``explore`` returns: ``path`` of the written page; shown inline in Jupyter."""

    def __init__(self, path: Path, html_text: str) -> None:
        self.path = path
        self._html = html_text

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"ExplorerPage({str(self.path)!r})"

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self._html, quote=True)}" '
                f'style="width:100%;height:720px;border:1px solid #ccc"></iframe>')


def write_page(roots, params=None, path=None, record=None, title: str | None = None):
    """Build the page for ``roots`` and write it to ``path`` (see ``viz.explore``)."""
    data, svg = collect(roots, params, record)
    data["title"] = title or "graphgrad: backward explorer"
    page = render(data, svg)
    path = Path("backprop.html" if path is None else path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return ExplorerPage(path, page)


def render(data: dict, svg: str) -> str:
    """The page: the template with the stylesheet, script, SVG and data put in."""
    folder = resources.files("graphgrad.viz") / "explorer"
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False)
    parts = {
        "CSS": (folder / "explorer.css").read_text(encoding="utf-8"),
        "JS": (folder / "explorer.js").read_text(encoding="utf-8"),
        "SVG": svg,
        "DATA": payload.replace("</", "<\\/"),  # no "</script>" inside the script element
        "TITLE": html.escape(data["title"]),
    }
    template = (folder / "page.html").read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], template)


def collect(roots, params=None, record=None) -> tuple[dict, str]:
    """(the page's data, the SVG of the graph as ``draw_graph`` draws it)."""
    from ._record import RECORD

    record = RECORD if record is None else record
    model = GraphModel(roots, params, True, None, True, record)
    drawer = Drawer(model, record, True, False, True, None)
    svg = build_digraph(model, drawer, "TB", True).pipe(format="svg", encoding="utf-8")
    svg = svg[svg.index("<svg"):]
    values = ValueFinder(model, record)
    order = sorted(model.nodes, key=drawer.order.__getitem__)
    step_of = {node: k for k, node in enumerate(order)}
    cluster_index = {key: i for i, key in enumerate(model.visible_clusters)}
    vertices = {v.id: describe_vertex(v, model, drawer, values, cluster_index)
                for v in model.vertices.values()}
    clusters = []
    for i, key in enumerate(model.visible_clusters):
        cluster = model.clusters[key]
        clusters.append({"id": f"cluster_{i}", "label": cluster.label, "path": cluster.path,
                         "parent": cluster_index.get(key[:-1], -1), "calls": len(cluster.calls),
                         "vertices": [v.id for v in model.vertices.values()
                                      if v.cluster is not None and v.cluster[:len(key)] == key]})
    steps = []
    for node in order:
        v = model.vertex_of[node]
        sources = {model.vertex_of[c].id for c in node.next if c is not None} - {v.id}
        s = drawer.stats[node]
        steps.append([v.id, node.op.name, None if s is None else _num(s.norm), sorted(sources)])
    flow = []
    for v in model.vertices.values():
        if v.kind != "param":
            continue
        done = max((step_of[n] for n, _ in model.consumers.get(v.tensor, [])), default=-1)
        s = drawer.vstats[v.id]
        flow.append({"name": v.name or "parameter", "vertex": v.id,
                     "shape": fmt_shape(v.tensor.shape), "done": done,
                     "mean_abs": None if s is None else _num(s.mean_abs),
                     "max_abs": None if s is None else _num(s.max_abs),
                     "finite": s is None or s.finite})
    data = {"vertices": vertices, "clusters": clusters, "steps": steps, "params": flow,
            "hist": {"lo": HIST_LO, "decades": HIST_DECADES}}
    return data, svg


class ValueFinder:
    """The forward values of the graph's tensors, as far as they are still known."""

    def __init__(self, model: GraphModel, record) -> None:
        self.model = model
        self.record = record
        self.roots = {t.grad_fn: t for _, t in model.roots if t.grad_fn is not None}

    def _held(self, node: Node, index: int) -> ArrayStats | None:
        """Stats of what ``node`` holds (or held during backward) as input ``index``
        (-1: its output)."""
        if not node.released:
            x = node.out if index == -1 else (
                node.saved[index] if node.saved is not None and index < len(node.saved)
                else None)
            if x is not None and not isinstance(x, (int, float)):
                return array_stats(x)
        obs = self.record.get(node)
        for i, stats in (obs.values or ()) if obs is not None else ():
            if i == index:
                return stats
        return None

    def output(self, node: Node) -> ArrayStats | None:
        root = self.roots.get(node)
        if root is not None:
            return array_stats(root)
        found = self._held(node, -1)
        for consumer, i in self.model.consumers.get(node, []):
            if found is not None:
                break
            found = self._held(consumer, i)
        return found

    def constant(self, node: Node, index: int) -> ArrayStats | None:
        return self._held(node, index)


def describe_vertex(v: Vertex, model: GraphModel, drawer: Drawer, values: ValueFinder,
                    cluster_index: dict) -> dict:
    """What the panel shows for one drawn vertex."""
    out = {"kind": v.kind, "count": len(v.members), "roots": v.roots,
           "cluster": cluster_index.get(v.cluster, -1),
           "module": model.clusters[v.cluster].label if v.cluster in model.clusters else ""}
    if v.kind == "const":
        out.update(title=v.name or "constant", output=[fmt_shape(v.shape), _dtype(v.dtype)],
                   value=_stats(merge_array_stats([values.constant(n, j) for n, j in v.members])))
        return out
    if v.kind in ("param", "input"):
        t = v.tensor
        obs = model.record.get(t) if model.record is not None else None
        grad = obs.grad if obs is not None else (array_stats(t.grad) if t.grad is not None
                                                  else None)
        out.update(title=v.name or v.kind, output=[fmt_shape(t.shape), str(t.dtype)],
                   value=_stats(array_stats(t)), grad=_stats(grad))
        return out
    first = v.members[0]
    metas = [input_meta(first, i) for i in range(len(first.shapes))]
    grads = [model.record.get(n) for n in v.members] if model.record is not None else []
    ranks = [drawer.order[n] for n in v.members]
    formula, rule = op_doc(first.op.name)
    out.update(
        title=first.op.name, op=first.op.name, formula=formula, rule=rule,
        inputs=[None if m is None else [fmt_shape(m.shape), _dtype(m.dtype)] for m in metas],
        output=[fmt_shape(first.out_shape), str(first.out_dtype)],
        value=_stats(merge_array_stats([values.output(n) for n in v.members])),
        grad=_stats(merge_array_stats([o.grad for o in grads if o is not None])),
        where=creation_site(first), order=[min(ranks), max(ranks)],
        origin=any(n in drawer.culprits for n in v.members))
    return out


def op_doc(name: str) -> tuple[str, str]:
    """(forward formula, gradient rule) from the docstring of the public function (or
    Tensor method) named like the op: its first sentence, and the sentences that give
    derivatives or speak of the gradient."""
    fn = getattr(graphgrad, name, None) or getattr(Tensor, name, None)
    doc = " ".join((getattr(fn, "__doc__", None) or "").replace("``", "").split())
    if not doc:
        return "", ""
    sentences = re.split(r"(?<=[.;])\s+(?=[A-Zd`(])", doc)
    rule = [s for s in sentences[1:] if "d/d" in s or "grad" in s.lower()]
    return sentences[0], " ".join(rule)


def creation_site(node: Node) -> str | None:
    """"file:line in function: code" of the user's line that recorded ``node``, when it
    was recorded under ``detect_anomaly`` (None otherwise)."""
    frames = TRACES.get(node)
    for text in reversed(frames or ()):
        m = _FRAME.match(text)
        if m and not m["file"].startswith(_OWN):
            code = (m["code"] or "").strip()
            return f'{m["file"]}:{m["line"]} in {m["func"]}' + (f": {code}" if code else "")
    return None


def _stats(s: ArrayStats | None) -> dict | None:
    if s is None:
        return None
    g = s.grad_stats()
    return {"size": s.size, "dtype": str(s.dtype), "mean": _num(s.mean), "std": _num(s.std),
            "min": _num(s.min), "max": _num(s.max), "mean_abs": _num(g.mean_abs),
            "max_abs": _num(s.max_abs), "norm": _num(g.norm), "nan": s.nan, "inf": s.inf,
            "hist": list(s.hist)}


def _num(x: float) -> float | None:
    """A float for JSON (which has no Inf or NaN: those become null)."""
    return x if x == x and abs(x) != float("inf") else None


def _dtype(dtype) -> str:
    return "" if dtype is None else str(dtype)
