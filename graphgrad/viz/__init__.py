"""``autograd.viz``: draw the backward graph, with the gradients that flowed through it.

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    loss = F.cross_entropy(model(x), labels)
    with gg.viz.record_gradients():       # keep gradient statistics of every op
        loss.backward()
    dot = gg.viz.draw_graph(loss, params=model, show_saved=True)
    dot.render("mlp", format="svg")       # or dot.source for the DOT text
    print(gg.viz.gradient_flow(model))    # per-parameter |grad| table
    gg.viz.explore(loss, params=model, path="mlp.html")  # the same, as a page to explore

How gradients are captured (the design, and its cost).  After ``backward`` only the
leaves still hold gradients (``.grad``); an intermediate gradient is freed as soon as
it has been passed on.  Keeping them always would cost a norm/mean/max pass over
every gradient of every backward, so it is opt-in: inside ``record_gradients()`` the
engine's observer hook (``STATE.observer``) hands each node's complete gradient to a
recorder that keeps a few numbers (norm, mean |g|, max |g|, NaN/Inf counts), the
visit order and the sizes of the arrays the node had saved; the arrays themselves
are not kept, and entries vanish with their nodes (weak references).  Outside the
block backward pays one ``is None`` test per node.  ``draw_graph`` reads those
records; without them op nodes show no gradient, while parameters and other leaves
still show their ``.grad``.

Module grouping: ``nn.Module.__call__`` stamps each node recorded during a forward
with the call (``node.scope``), so ops are drawn inside a cluster per module, labelled
with its path ("encoder.0") and class; paths and parameter names come from
``params`` (a Module, ``named_parameters()`` or a dict) or from the modules that ran.
Functional code can group its ops the same way with ``with gg.viz.scope("step"):``.

Rendering needs Graphviz's ``dot``: the system's when present, else the
``graphviz-pure`` wheel from the ``viz`` extra (see ``find_renderer``).  ``graphviz``
itself is imported only when a graph is built, so ``import autograd`` never needs it.
"""
from __future__ import annotations

from ._flow import FlowRow, GradientFlow, gradient_flow
from ._graph import scope
from ._record import RECORD, GradientRecord, GradStats, grad_stats, record_gradients
from ._render import find_renderer

__all__ = [
    "draw_graph", "record_gradients", "gradient_flow", "scope", "find_renderer", "GradStats",
    "GradientRecord", "GradientFlow", "FlowRow", "grad_stats", "explore",
]

_RANKDIRS = ("TB", "LR", "BT", "RL")


def draw_graph(roots, params=None, show_grads: bool = True, show_saved: bool = False,
               group_modules: bool = True, max_depth: int | None = None, rankdir: str = "TB",
               show_order: bool = False, *, show_constants: bool = True, legend: bool = True,
               grad_range: tuple[float, float] | None = None,
               record: GradientRecord | None = None):
    """The backward graph from ``roots`` as a ``graphviz.Digraph``.

    ``roots``: a Tensor, or a (nested) list/tuple/dict of Tensors (dict keys label the
    roots).  One node per recorded operation (name, output shape and dtype) and per
    leaf that requires grad (parameters named by module path, other leaves drawn as
    inputs); constants (tensors that need no grad) as dashed boxes
    (``show_constants``).  Arrows follow the forward data flow.

    - ``params``: a Module, its ``named_parameters()`` or a ``{name: tensor}`` dict
      naming leaves (and constants); parameters of the modules that ran are found
      without it.
    - ``show_grads``: after ``backward``, each node shows its gradient's norm, mean
      |g| and max |g|, flags NaN/Inf (and marks in red the node where a NaN/Inf first
      appears), and is filled by a log-scale colour of mean |g| explained in the
      legend.  Op gradients need ``with record_gradients(): loss.backward()``; leaves
      use ``.grad``.  ``grad_range=(lo, hi)`` fixes the colour scale, to compare graphs.
    - ``show_saved``: the arrays each op keeps for backward, with sizes, and the total.
    - ``show_order``: number ops in the order backward visits them.
    - ``group_modules``: ops run inside a Module's forward are drawn in a cluster
      labelled with the module's path and class, nested as the modules nest; a
      module called several times (an RNN cell over 50 steps) is folded into one
      cluster marked with the count, each of its ops drawn once with ``xN``.
    - ``max_depth``: modules at that depth (0: the outermost modules called, 1: their
      children, ...) are drawn as one node each, hiding what runs inside them.
    - ``rankdir``: "TB", "LR", "BT" or "RL".

    ``.source`` is the DOT text (needs only the ``graphviz`` package);
    ``.render("graph", format="svg")`` draws it with the system's ``dot`` or, without
    one, graphviz-pure (``pip install graphgrad[viz]``).
    """
    from ._draw import Drawer, build_digraph
    from ._graph import GraphModel

    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    record = RECORD if record is None else record
    model = GraphModel(roots, params, group_modules, max_depth, show_constants, record)
    drawer = Drawer(model, record, show_grads, show_saved, show_order, grad_range)
    return build_digraph(model, drawer, rankdir, legend)


def explore(roots, params=None, path=None, *, record: GradientRecord | None = None,
            title: str | None = None):
    """Write the backward graph from ``roots`` as one self-contained interactive HTML page
    (no server, no network: open it from disk in any browser) and return it: an object
    whose ``path`` is the file, shown inline in Jupyter.

    ``roots`` and ``params`` as for ``draw_graph`` (the page shows the same graph, with
    module clusters and folded repeated calls); ``path`` defaults to "backprop.html".
    Call it after ``loss.backward()`` run inside ``record_gradients()`` to see every
    op's gradient (or before backward, to see the forward values and the order
    backward will take).  The page offers pan and zoom, folding modules, a search box;
    clicking a node shows its op's formula and gradient rule, shapes and dtypes,
    module, statistics and histograms of its forward values and gradient, NaN/Inf
    flags and, for a forward run inside ``gg.autograd.detect_anomaly()``, the line of
    code that created it; a player steps through backward in the engine's order,
    showing where each gradient goes and which parameters' gradients are complete; a
    gradient-flow panel shows each parameter's mean and max |grad| (log scale).
    Needs what ``draw_graph``'s rendering needs (``pip install graphgrad[viz]``); the
    layout is Graphviz's, so thousands of nodes that do not fold (code outside Modules
    and ``scope`` blocks) take graphviz-pure minutes to lay out: group repeated steps.
    """
    from ._explore import write_page

    return write_page(roots, params, path, record, title)
