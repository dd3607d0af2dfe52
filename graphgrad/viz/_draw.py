"""Turning a ``GraphModel`` into a ``graphviz.Digraph``: labels, colours, clusters, legend."""
from __future__ import annotations

import math
from html import escape

from graphgrad.autograd.arrays import to_host
from graphgrad.autograd.graph import Node

from ._graph import GraphModel, Vertex
from ._record import GradStats, describe_saved, grad_stats, merge_stats

# ColorBrewer RdYlBu, blue (small gradients) to red (large ones).
PALETTE = ("#4575b4", "#74add1", "#abd9e9", "#e0f3f8", "#ffffbf", "#fee090", "#fdae61",
           "#f46d43", "#d73027")
DARK = ("#4575b4", "#d73027", "#c51b7d")  # fills that need white text
NONFINITE = "#c51b7d"
ZERO = "#ffffff"
UNKNOWN = "#eeeeee"
ALARM = "#b2182b"
SHAPES = {"op": "box", "param": "ellipse", "input": "invhouse", "const": "box",
          "module": "box3d"}


def fmt(x: float) -> str:
    return f"{x:.2e}" if x else "0"


def fmt_shape(shape) -> str:
    return "scalar" if shape == () else str(tuple(shape))


def fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


class ColourScale:
    """Mean |grad| to a fill colour, one colour per decade (or per few decades when the
    range is wider than the palette), over the graph's range or a fixed one."""

    def __init__(self, values: list[float], fixed: tuple[float, float] | None = None) -> None:
        if fixed is not None:
            lo, hi = math.floor(math.log10(fixed[0])), math.ceil(math.log10(fixed[1]))
        else:
            positive = [v for v in values if v > 0 and math.isfinite(v)]
            if not positive:
                self.bins = []
                return
            lo = math.floor(math.log10(min(positive)))
            hi = math.ceil(math.log10(max(positive)))
        hi = max(hi, lo + 1)
        self.lo = lo
        self.width = math.ceil((hi - lo) / len(PALETTE))
        n = math.ceil((hi - lo) / self.width)
        # Few decades use the middle of the palette (two steps apart), many spread to its ends.
        step = min(2.0, (len(PALETTE) - 1) / max(n - 1, 1))
        first = (len(PALETTE) - 1) / 2 - step * (n - 1) / 2
        self.bins = [(lo + j * self.width, min(lo + (j + 1) * self.width, hi),
                      PALETTE[round(first + j * step)]) for j in range(n)]

    def fill(self, stats: GradStats | None) -> str:
        if stats is None:
            return UNKNOWN
        if not stats.finite:
            return NONFINITE
        if stats.mean_abs == 0 or not self.bins:
            return ZERO
        j = math.floor((math.log10(stats.mean_abs) - self.lo) / self.width)
        return self.bins[min(max(j, 0), len(self.bins) - 1)][2]


class Drawer:
    """Everything shown on a ``GraphModel``'s vertices and edges: gradient statistics
    (recorded, or a leaf's ``.grad``), NaN/Inf origins, backward order, saved arrays."""

    def __init__(self, model: GraphModel, record, show_grads: bool, show_saved: bool,
                 show_order: bool, grad_range) -> None:
        self.model = model
        self.record = record
        self.show_grads = show_grads
        self.show_saved = show_saved
        self.stats = {key: self._stats_of(key) for key in model.nodes + model.leaves}
        self.first_bad, self.culprits = self._nan_sources() if show_grads else (set(), {})
        self.by_id = {v.id: v for v in model.vertices.values()}
        self.order = self._order() if show_order else {}
        self.vstats = {v.id: self._merged_stats(v) for v in model.vertices.values()}
        self.scale = ColourScale([s.mean_abs for s in self.vstats.values() if s is not None],
                                 grad_range)

    # --------------------------------------------------------------- numbers
    def _stats_of(self, key) -> GradStats | None:
        obs = self.record.get(key)
        if obs is not None:
            return obs.stats
        if type(key) is not Node and key.grad is not None:
            return grad_stats(key.grad)
        return None

    def _nan_sources(self) -> tuple[set, dict]:
        """Where a NaN/Inf entered the backward pass: the keys whose gradient is the first
        non-finite one (every consumer's gradient is known and finite), and the culprits,
        {node: input indices}: the consumers whose backward rules produced it (all of
        them when there are several: only their sum is observed), or a root itself
        when its seed gradient was non-finite."""
        first_bad, culprits = set(), {}
        for key, s in self.stats.items():
            if s is None or s.finite:
                continue
            users = self.model.consumers.get(key, [])
            if not users:
                first_bad.add(key)
                culprits.setdefault(key, [])
            elif all(self.stats.get(n) is not None and self.stats[n].finite for n, _ in users):
                first_bad.add(key)
                for n, i in users:
                    culprits.setdefault(n, []).append(i)
        return first_bad, culprits

    def _order(self) -> dict:
        nodes = self.model.nodes
        ticks = [self.record.get(n) for n in nodes]
        if all(t is not None for t in ticks):
            ranked = sorted(range(len(nodes)), key=lambda i: ticks[i].tick)
            return {nodes[i]: rank + 1 for rank, i in enumerate(ranked)}
        return {n: rank + 1 for rank, n in enumerate(self.model.backward_order())}

    def _boundary(self, v: Vertex) -> list:
        """The members of a collapsed module whose output leaves it (or is a root)."""
        roots = {t.grad_fn for _, t in self.model.roots}
        return [n for n in v.members if n in roots or any(
            self.model.vertex_of[c] is not v for c, _ in self.model.consumers[n])]

    def _merged_stats(self, v: Vertex) -> GradStats | None:
        """A vertex's gradient: its members' taken together (a collapsed module's: its
        outputs'); None for constants and when nothing was recorded."""
        if v.kind == "const":
            return None
        members = self._boundary(v) if v.kind == "module" else v.members
        return merge_stats([self.stats[k] for k in members])

    def vertex_stats(self, v: Vertex) -> GradStats | None:
        return self.vstats[v.id]

    # ---------------------------------------------------------------- labels
    def label(self, v: Vertex) -> str:
        m = self.model
        lines = []
        if v.roots:
            lines.append(f'<b><u>{escape(", ".join(v.roots))}</u></b>')
        first = v.members[0]
        count = len(v.members)
        if v.kind == "op":
            title = f"<b>{escape(first.op.name)}</b>" + (f"  x{count}" if count > 1 else "")
            lines.append(title + self._order_text(v.members))
            lines.append(small(f"{fmt_shape(first.out_shape)} {first.out_dtype}"))
        elif v.kind == "module":
            cluster = m.clusters[v.module_key]
            lines.append(f"<b>{escape(cluster.label)}</b>" + self._order_text(v.members))
            outs = self._boundary(v)
            shapes = ", ".join(fmt_shape(n.out_shape) for n in outs[:3])
            lines.append(small(f"{count} ops; out {shapes}" + (" ..." if len(outs) > 3 else "")))
            if v.absorbed:
                size = sum(p.numel() for _, p in v.absorbed)
                lines.append(small(f"{len(v.absorbed)} parameters ({size} values)"))
        elif v.kind == "const":
            lines.append(escape(v.name or "constant") + (f"  x{count}" if count > 1 else ""))
            lines.append(small(fmt_shape(v.shape) + (f" {v.dtype}" if v.dtype else "")))
            return "<" + "<br/>".join(lines) + ">"
        else:
            t = v.tensor
            lines.append(f"<b>{escape(v.name or ('parameter' if v.kind == 'param' else 'input'))}"
                         f"</b>")
            lines.append(small(f"{fmt_shape(t.shape)} {t.dtype}"))
        if self.show_grads:
            lines.extend(self._grad_lines(v))
        if self.show_saved and v.kind in ("op", "module"):
            lines.extend(self._saved_lines(v))
        return "<" + "<br/>".join(lines) + ">"

    def _order_text(self, members: list) -> str:
        ranks = [self.order[n] for n in members if n in self.order]
        if not ranks:
            return ""
        lo, hi = min(ranks), max(ranks)
        return f"  #{lo}" if lo == hi else f"  #{lo}-{hi}"

    def _grad_lines(self, v: Vertex) -> list[str]:
        s = self.vertex_stats(v)
        if s is None:
            return []
        lines = []
        if s.nan + s.inf < s.size:
            lines += [small(f"grad norm {fmt(s.norm)}"),
                      small(f"mean|g| {fmt(s.mean_abs)}  max|g| {fmt(s.max_abs)}")]
        if v.kind == "param" and v.tensor is not None:
            w = float(abs(to_host(v.tensor._data).astype("float64")).max(initial=0.0))
            if w:
                lines.append(small(f"max|g|/max|w| {fmt(s.max_abs / w)}"))
        if v.kind == "op" and len(v.members) > 1:
            norms = [self.stats[n].norm for n in v.members if self.stats[n] is not None]
            if norms:
                lines.append(small(f"norm {fmt(min(norms))} .. {fmt(max(norms))} over calls"))
        if not s.finite:
            flags = ", ".join(f"{what} x{n}" for what, n in (("NaN", s.nan), ("Inf", s.inf)) if n)
            lines.append(f'<font color="{ALARM}"><b>{flags}</b></font>')
        blamed = [self.culprits[k] for k in v.members if k in self.culprits]
        if blamed:
            inputs = sorted({i for group in blamed for i in group})
            where = f"its backward, input {', '.join(map(str, inputs))}" if inputs else "seed"
            lines.append(f'<font color="{ALARM}"><b>NaN/Inf starts here ({where})</b></font>')
        return lines

    def _saved_lines(self, v: Vertex) -> list[str]:
        arrays = []
        freed = False
        for node in v.members:
            obs = self.record.get(node)
            if not node.released:
                arrays.append(describe_saved(node))
            elif obs is not None and obs.saved is not None:
                arrays.append(obs.saved)
            else:
                freed = True
        if freed and not arrays:
            return [small("saved: freed by backward")]
        total = sum(a.nbytes for group in arrays for a in group)
        if not any(arrays):
            return [small("saves nothing")]
        if v.kind == "op" and len(v.members) == 1:
            return [small(f"saved {a.name} {fmt_shape(a.shape)} {a.dtype} {fmt_bytes(a.nbytes)}")
                    for a in arrays[0]]
        return [small(f"saved {sum(len(g) for g in arrays)} arrays, {fmt_bytes(total)}")]

    def saved_total(self) -> tuple[int, int]:
        """(distinct arrays, bytes) the graph keeps for backward (as recorded when freed)."""
        seen = {}
        for node in self.model.nodes:
            obs = self.record.get(node)
            group = describe_saved(node) if not node.released else (
                obs.saved if obs is not None and obs.saved is not None else ())
            for a in group:
                seen[a.key] = a.nbytes
        return len(seen), sum(seen.values())

    # ---------------------------------------------------------------- output
    def node_attrs(self, v: Vertex) -> dict:
        attrs = {"label": self.label(v), "shape": SHAPES[v.kind]}
        if v.kind == "const":
            attrs.update(style="dashed", color="#888888", fontcolor="#555555", fontsize="9")
            return attrs
        fill = self.scale.fill(self.vertex_stats(v)) if self.show_grads else "#f7f7f7"
        attrs["fillcolor"] = fill
        if fill in DARK:
            attrs["fontcolor"] = "white"
        if v.kind == "op":
            attrs["style"] = "rounded,filled"
        if v.roots:
            attrs["peripheries"] = "2"
        if v.kind != "const" and any(k in self.culprits for k in v.members):
            attrs.update(color=ALARM, penwidth="3")
        return attrs

    def legend(self) -> str:
        rows = []
        if self.show_grads:
            rows.append('<tr><td colspan="2"><b>mean |grad|, log scale</b></td></tr>')
            for lo, hi, colour in reversed(self.scale.bins):
                rows.append(f'<tr><td bgcolor="{colour}" width="18"></td>'
                            f'<td align="left">1e{lo} .. 1e{hi}</td></tr>')
            for colour, text in ((NONFINITE, "NaN or Inf"), (ZERO, "zero"),
                                 (UNKNOWN, "not recorded *")):
                rows.append(f'<tr><td bgcolor="{colour}"></td><td align="left">{text}</td></tr>')
        keys = ("rounded box: operation; ellipse: parameter; house: input that "
                "requires grad; dashed: constant; 3-D box: collapsed module; "
                "double border: root")
        rows.append(f'<tr><td colspan="2" align="left">{wrap(keys, 34)}</td></tr>')
        rows.append('<tr><td colspan="2" align="left">arrows: forward data flow;<br/>'
                    "backward runs against them</td></tr>")
        if self.show_grads and any(self.stats[n] is None for n in self.model.nodes):
            rows.append('<tr><td colspan="2" align="left">* op gradients: run backward inside'
                        "<br/>with gg.viz.record_gradients():</td></tr>")
        return ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
                + "".join(rows) + "</table>>")

    def edge_attrs(self, edge) -> dict:
        attrs = {}
        if edge.count > 1:
            attrs["label"] = f"x{edge.count}"
        dst = self.by_id[edge.dst]
        if (any(k in self.first_bad for k in edge.members)
                and any(n in self.culprits for n in dst.members)):
            attrs.update(color=ALARM, penwidth="2")
        return attrs


def small(text: str) -> str:
    return f'<font point-size="8">{escape(text)}</font>'


def wrap(text: str, width: int) -> str:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br/>".join(escape(x) for x in lines + [line])


def build_digraph(model: GraphModel, drawer: Drawer, rankdir: str, legend: bool):
    from ._render import graph_class

    Graph = graph_class()
    dot = Graph(name="backward_graph", format="svg")
    dot.attr(rankdir=rankdir, fontname="Helvetica", nodesep="0.25", ranksep="0.35")
    dot.attr("node", fontname="Helvetica", fontsize="10", style="filled", margin="0.08,0.04")
    dot.attr("edge", color="#666666", arrowsize="0.7", fontname="Helvetica", fontsize="8")
    if drawer.show_saved:
        n, total = drawer.saved_total()
        dot.attr(label=f"saved for backward: {n} arrays, {fmt_bytes(total)}", labelloc="b",
                 fontsize="10")
    graphs = {}
    for i, key in enumerate(model.visible_clusters):
        cluster = model.clusters[key]
        sub = Graph(name=f"cluster_{i}")
        repeated = len(cluster.calls) > 1
        sub.attr(label=cluster.label, labeljust="l", fontsize="10", color="#777777",
                 style="rounded,filled" if repeated else "rounded,dashed",
                 fillcolor="#f4f4f4" if repeated else "white",
                 penwidth="2" if repeated else "1")
        graphs[key] = sub
    for v in model.vertices.values():
        (graphs[v.cluster] if v.cluster in graphs else dot).node(v.id, **drawer.node_attrs(v))
    for key in sorted(graphs, key=len, reverse=True):  # innermost first: children before parents
        parent = graphs.get(key[:-1], dot)
        parent.subgraph(graphs[key])
    if legend:
        dot.node("legend", label=drawer.legend(), shape="plaintext", style="")
    for edge in model.edges:
        dot.edge(edge.src, edge.dst, **drawer.edge_attrs(edge))
    return dot
