"""What ``draw_graph`` draws, worked out without graphviz: the recorded graph from the
roots, its vertices after grouping by module, and the edges between them.

Vocabulary: a *key* is what the engine calls a graph vertex (a ``Node``, or a leaf
Tensor that requires grad); a ``Vertex`` is one drawn node, standing for one key or
for several (a module collapsed by ``max_depth``, or one op of a module called many
times, folded across its calls).  A *cluster* is a module, identified by the chain
of modules from the outermost call down to it (a tuple of module ids).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphgrad.autograd.grad_mode import STATE
from graphgrad.autograd.graph import Node, topological_order
from graphgrad.autograd.tensor import Tensor


class scope:
    """A named group of operations, as a Module call makes one: ops recorded inside
    ``with`` blocks of one ``scope`` object are drawn in one cluster, and reusing the
    object over the steps of a loop folds them like a Module called N times.

        step = gg.viz.scope("step")
        for t in range(T):
            with step:
                h = (x[t] @ w_ih.T + h @ w_hh.T).tanh()
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self._outer: list = []

    def __enter__(self) -> scope:
        self._outer.append(STATE.scope)
        STATE.scope = (self, STATE.scope)
        return self

    def __exit__(self, *exc) -> bool:
        STATE.scope = self._outer.pop()
        return False


@dataclass
class Cluster:
    module: object  # a Module, or a scope
    path: str  # "encoder.0"; "" for the model itself; a scope has its module's path
    calls: dict = field(default_factory=dict)  # id(call scope) -> None, in call order

    @property
    def label(self) -> str:
        m = self.module
        name = m.label if isinstance(m, scope) else type(m).__name__
        text = f"{self.path}: {name}" if self.path and self.path != name else name
        return text if len(self.calls) == 1 else f"{text}  x{len(self.calls)} calls"


@dataclass
class Vertex:
    id: str  # the DOT node id
    kind: str  # "op", "param", "input", "const", "module"
    members: list  # the keys drawn here (for "const": (consumer node, input index) pairs)
    cluster: tuple | None = None  # the cluster drawn in (None: top level)
    name: str | None = None  # parameter / input / constant name
    roots: list = field(default_factory=list)  # root labels when a root is drawn here
    tensor: Tensor | None = None  # the leaf
    shape: tuple | None = None  # a constant's shape, and dtype when a node saved it
    dtype: np.dtype | None = None
    absorbed: list = field(default_factory=list)  # (name, parameter) folded into a module
    module_key: tuple | None = None  # the collapsed module's cluster key ("module" vertices)


@dataclass
class Edge:
    src: str
    dst: str
    count: int = 1
    members: list = field(default_factory=list)  # the source keys (to colour by)


def flatten_roots(roots) -> list[tuple[str | None, Tensor]]:
    """(label, tensor) for a Tensor or a (nested) list/tuple/dict of them."""
    out = []
    stack = [(None, roots)]
    while stack:
        label, obj = stack.pop()
        if isinstance(obj, Tensor):
            out.append((label, obj))
        elif isinstance(obj, dict):
            stack.extend(reversed([(_join(label, str(k)), v) for k, v in obj.items()]))
        elif isinstance(obj, (list, tuple)):
            stack.extend(reversed([(_join(label, f"[{i}]"), v) for i, v in enumerate(obj)]))
        elif obj is not None:
            raise TypeError(f"draw_graph: roots must be Tensors, or lists/tuples/dicts of them; "
                            f"got {type(obj).__name__}")
    return out


def _join(label, part: str) -> str:
    if label is None:
        return part
    return f"{label}{part}" if part.startswith("[") else f"{label}.{part}"


def is_module(obj) -> bool:
    return hasattr(obj, "named_parameters") and hasattr(obj, "named_modules")


def scope_chain(call) -> list[tuple[object, object]]:
    """[(module, call)] from the outermost Module call to the innermost.

    A call is what ``Module.__call__`` (or a ``scope`` block) puts in ``STATE.scope``:
    ``(module, outer call)``, a new tuple per call.
    """
    chain = []
    while call is not None:
        module, outer = call
        chain.append((module, call))
        call = outer
    chain.reverse()
    return chain


class GraphModel:
    """The recorded graph reachable from ``roots``, grouped for drawing."""

    def __init__(self, roots, params=None, group_modules: bool = True,
                 max_depth: int | None = None, show_constants: bool = True,
                 record=None) -> None:
        self.record = record
        self.roots = [(label, t) for label, t in flatten_roots(roots) if t.requires_grad]
        if not self.roots:
            raise ValueError("draw_graph: no root requires grad, so no graph was recorded "
                             "(was the forward run under no_grad, or on tensors without "
                             "requires_grad?)")
        if max_depth is not None and max_depth < 0:
            raise ValueError(f"draw_graph: max_depth must be None or >= 0, got {max_depth}")
        self._traverse()
        self._name_modules_and_params(params)
        self.clusters: dict[tuple, Cluster] = {}
        self.chain_key: dict[Node, tuple] = {}  # node -> its innermost module's cluster key
        self.chain: dict[Node, list] = {}  # node -> scope_chain of its scope
        self._find_clusters()
        self.vertices: dict[object, Vertex] = {}  # vertex key -> Vertex
        self.vertex_of: dict[object, Vertex] = {}  # graph key -> its Vertex
        self._group(group_modules, max_depth)
        self._add_leaves(max_depth)
        self.edges: list[Edge] = []
        self._connect(show_constants)

    # ------------------------------------------------------------- traversal
    def _traverse(self) -> None:
        """Nodes and leaves in depth-first order from the roots (inputs in argument order),
        and each key's consumers."""
        self.nodes: list[Node] = []
        self.leaves: list[Tensor] = []
        self.consumers: dict = {}
        seen: dict = {}
        stack = [t.grad_fn or t for _, t in reversed(self.roots)]
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen[key] = True
            if type(key) is not Node:
                self.leaves.append(key)
                continue
            self.nodes.append(key)
            for i, child in enumerate(key.next):
                if child is None:
                    continue
                self.consumers.setdefault(child, []).append((key, i))
            stack.extend(c for c in reversed(key.next) if c is not None and c not in seen)
        for key in self.nodes:
            self.consumers.setdefault(key, [])

    def backward_order(self) -> list[Node]:
        """The nodes in the order the engine's backward visits them: every node after
        all the nodes that consume its output (``graph.topological_order``)."""
        return topological_order([t.grad_fn for _, t in self.roots if t.grad_fn is not None])

    # ----------------------------------------------------------------- names
    def _name_modules_and_params(self, params) -> None:
        """Module paths and parameter names: from ``params`` first, then from the modules
        whose calls recorded the graph (the one owning most of the leaves is the model,
        named from ""; other outermost modules are prefixed by their class name)."""
        self.names: dict[int, str] = {}  # id(tensor) -> name
        self.paths: dict[int, str] = {}  # id(module) -> path
        model = params if is_module(params) else None
        if model is not None:
            self._add_module_names(model, "")
        elif params is not None:
            items = params.items() if isinstance(params, dict) else params
            for name, tensor in items:
                if not isinstance(tensor, Tensor):
                    raise TypeError(f"draw_graph: params must map names to Tensors; "
                                    f"{name!r} is a {type(tensor).__name__}")
                self.names.setdefault(id(tensor), str(name))
        tops: dict[int, object] = {}
        for node in self.nodes:
            call = getattr(node, "scope", None)
            while call is not None and call[1] is not None:
                call = call[1]
            if call is not None and is_module(call[0]):
                tops.setdefault(id(call[0]), call[0])
        leaf_ids = {id(t) for t in self.leaves}
        ranked = sorted(tops.values(), key=lambda m: -sum(
            id(p) in leaf_ids for _, p in m.named_parameters()))
        for i, top in enumerate(ranked):
            if id(top) not in self.paths:
                primary = i == 0 and model is None
                self._add_module_names(top, "" if primary else type(top).__name__)

    def _add_module_names(self, module, prefix: str) -> None:
        for name, m in module.named_modules():
            self.paths.setdefault(id(m), f"{prefix}.{name}" if prefix and name else prefix or name)
        for name, p in module.named_parameters():
            self.names.setdefault(id(p), f"{prefix}.{name}" if prefix else name)

    # -------------------------------------------------------------- clusters
    def _find_clusters(self) -> None:
        for node in self.nodes:
            chain = scope_chain(getattr(node, "scope", None))
            key: tuple = ()
            path = ""
            for module, call in chain:
                key = key + (id(module),)
                cluster = self.clusters.get(key)
                if cluster is None:
                    if id(module) in self.paths:
                        path = self.paths[id(module)]
                    elif not isinstance(module, scope):
                        path = _join(path or None, f"<{type(module).__name__}>")
                    cluster = self.clusters[key] = Cluster(module, path)
                path = cluster.path
                cluster.calls.setdefault(id(call), None)
            self.chain_key[node] = key
            self.chain[node] = chain

    # -------------------------------------------------------------- grouping
    def _vertex(self, vkey, kind: str, cluster, **kwargs) -> Vertex:
        v = self.vertices.get(vkey)
        if v is None:
            prefix = {"op": "op", "param": "p", "input": "in", "const": "c", "module": "m"}[kind]
            v = Vertex(f"{prefix}{len(self.vertices)}", kind, [], cluster or None, **kwargs)
            self.vertices[vkey] = v
        return v

    def _group(self, group_modules: bool, max_depth: int | None) -> None:
        """Map each node to its vertex: its own, its collapsed module's (deeper than
        ``max_depth``), or its op's in a folded module (called more than once)."""
        folded: dict = {}  # node -> (fold cluster key, call scope id, canonical id)
        if group_modules:
            interned: dict = {}
            occurrences: dict = {}
            for node in reversed(self.backward_order()):  # inputs before consumers
                key, chain = self.chain_key[node], self.chain[node]
                if max_depth is not None and len(key) > max_depth:
                    continue
                level = next((j for j in range(len(key))
                              if len(self.clusters[key[:j + 1]].calls) > 1), None)
                if level is None:
                    continue
                call = id(chain[level][1])
                inputs = tuple(self._fold_input(c, call, folded) for c in node.next)
                sig = interned.setdefault((node.op.name, key, inputs), len(interned))
                occurrence = occurrences.get((call, sig), 0)
                occurrences[(call, sig)] = occurrence + 1
                folded[node] = (key[:level + 1], call, (sig, occurrence))
        for node in self.nodes:
            key = self.chain_key[node]
            if max_depth is not None and len(key) > max_depth:
                prefix = key[:max_depth + 1]
                v = self._vertex(("module", prefix), "module",
                                 prefix[:-1] if group_modules else None, module_key=prefix)
            elif node in folded:
                fold_key, _, canonical = folded[node]
                v = self._vertex(("fold", fold_key, canonical), "op", key)
            else:
                v = self._vertex(("op", node), "op", key if group_modules else None)
            v.members.append(node)
            self.vertex_of[node] = v
        self.visible_clusters = [k for k in self.clusters if group_modules and
                                 (max_depth is None or len(k) <= max_depth)]

    def _fold_input(self, child, call: int, folded: dict):
        """How a folded op's input enters its signature: the canonical id of an op of the
        same call, a parameter's name, or "ext" for anything from outside the call."""
        if type(child) is Node:
            entry = folded.get(child)
            return entry[2] if entry is not None and entry[1] == call else "ext"
        if child is not None and id(child) in self.names:
            return ("leaf", self.names[id(child)])
        return "ext"

    def _owner_cluster(self, name: str, max_depth: int | None) -> tuple | None:
        """The visible cluster of the module owning parameter ``name``."""
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        for key, cluster in self.clusters.items():
            if cluster.path == owner and not isinstance(cluster.module, scope):
                visible = key if max_depth is None else key[:max_depth]
                return visible if visible in self.visible_clusters else None
        return None

    def _add_leaves(self, max_depth: int | None) -> None:
        for leaf in self.leaves:
            name = self.names.get(id(leaf))
            targets = {id(self.vertex_of[n]): self.vertex_of[n]
                       for n, _ in self.consumers.get(leaf, [])}
            if name is not None and len(targets) == 1:
                (target,) = targets.values()
                path = self.clusters[target.module_key].path if target.module_key else None
                if path is not None and (path == "" or name.startswith(path + ".")):
                    target.absorbed.append((name, leaf))
                    self.vertex_of[leaf] = target
                    continue
            is_param = name is not None or type(leaf).__name__ == "Parameter"
            cluster = self._owner_cluster(name, max_depth) if name is not None else None
            v = self._vertex(("leaf", id(leaf)), "param" if is_param else "input", cluster,
                             name=name, tensor=leaf)
            v.members.append(leaf)
            self.vertex_of[leaf] = v
        for label, t in self.roots:
            v = self.vertex_of[t.grad_fn or t]
            if label is None:
                label = "output" if len(self.roots) == 1 else f"[{len(v.roots)}]"
            v.roots.append(label)

    # ----------------------------------------------------------------- edges
    def _connect(self, show_constants: bool) -> None:
        """Edges input -> consumer between vertices; parallel edges between merged
        vertices become one edge with a count; edges inside one vertex are dropped."""
        merged: dict = {}
        for node in self.nodes:
            dst = self.vertex_of[node]
            for i, child in enumerate(node.next):
                if child is None:
                    if show_constants and node.shapes[i] is not None:
                        self._constant(node, i, dst, merged)
                    continue
                src = self.vertex_of[child]
                if src is dst:
                    continue
                if len(src.members) == 1 and len(dst.members) == 1:
                    self.edges.append(Edge(src.id, dst.id, 1, [child]))
                    continue
                edge = merged.get((src.id, dst.id))
                if edge is None:
                    edge = merged[(src.id, dst.id)] = Edge(src.id, dst.id, 0)
                    self.edges.append(edge)
                edge.count += 1
                edge.members.append(child)

    def _saved_input(self, node: Node, i: int) -> tuple[int, np.dtype | None]:
        """(id, dtype) of the tensor ``node`` saved as input i, from the node or, once
        backward freed it, from the record; (0, None) when it kept no such tensor."""
        saved = node.saved
        if saved is not None:
            x = saved[i] if i < len(saved) else None
            return (id(x), x.dtype) if isinstance(x, Tensor) else (0, None)
        obs = self.record.get(node) if self.record is not None else None
        for a in (obs.saved or ()) if obs is not None else ():
            if a.index == i:
                return a.tensor, a.dtype
        return 0, None

    def _constant(self, node: Node, i: int, dst: Vertex, merged: dict) -> None:
        """A constant input (a Tensor that needs no grad): one vertex per tensor when the
        node saved it (so it is recognisable), else one per consuming vertex and slot."""
        ident, dtype = self._saved_input(node, i)
        if ident and len(dst.members) == 1:
            ckey = ("const", ident)
        else:
            ckey = ("const", dst.id, i, node.shapes[i])
        fresh = ckey not in self.vertices
        v = self._vertex(ckey, "const", dst.cluster, shape=node.shapes[i], dtype=dtype,
                         name=self.names.get(ident) if len(dst.members) == 1 else None)
        if not fresh and v.cluster != dst.cluster:  # shared: draw it in the common module
            common = 0
            while (common < min(len(v.cluster or ()), len(dst.cluster or ()))
                   and v.cluster[common] == dst.cluster[common]):
                common += 1
            v.cluster = (v.cluster or ())[:common] or None
        v.members.append((node, i))
        edge = merged.get((v.id, dst.id))
        if edge is None:
            edge = merged[(v.id, dst.id)] = Edge(v.id, dst.id, 0)
            self.edges.append(edge)
        edge.count += 1
