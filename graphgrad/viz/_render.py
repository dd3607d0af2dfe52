"""Finding a program that turns DOT text into SVG/PNG.

The ``graphviz`` Python package only writes DOT text; rendering runs Graphviz's
``dot`` program.  We use the system's ``dot`` when it is on PATH, and otherwise
``graphviz-pure`` (a self-contained port of ``dot`` shipped as a PyPI wheel, part
of the ``viz`` extra), so ``pip install graphgrad[viz]`` is enough on a machine
without Graphviz.  graphviz-pure writes svg, png, jpeg and the text formats, not pdf.

How: the graphs ``draw_graph`` returns are a ``graphviz.Digraph`` subclass whose
rendering methods, when there is no system ``dot``, point the package's
``DOT_BINARY`` at graphviz-pure for the duration of the call (graphviz-pure takes
``dot``'s command-line flags).  Only then: a system ``dot`` is never overridden.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import sys
import sysconfig

NO_RENDERER = (
    "rendering a graph needs Graphviz's `dot` program and none was found. "
    "Install the pure-Python-wheel fallback with `pip install graphgrad[viz]` "
    "(or `pip install graphviz-pure`), or Graphviz itself (`apt-get install graphviz`, "
    "`brew install graphviz`, `conda install graphviz`). "
    "`.source` gives the DOT text without either."
)
PURE_FORMATS = ("svg", "png", "jpeg", "jpg", "jpe", "dot", "gv", "xdot", "canon", "json",
                "plain", "plain-ext")


def find_renderer() -> tuple[str, str] | None:
    """("dot" or "graphviz-pure", path of the program) that rendering will use, or None."""
    dot = shutil.which("dot")
    if dot:
        return "dot", dot
    pure = _graphviz_pure()
    return ("graphviz-pure", pure) if pure else None


def _graphviz_pure() -> str | None:
    """graphviz-pure's executable: on PATH, or in this interpreter's scripts folder (a
    virtual environment's bin/ is often not on PATH when its python is run directly)."""
    found = shutil.which("graphviz-pure")
    if found:
        return found
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    for folder in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(folder, exe)
        if folder and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextlib.contextmanager
def dot_program():
    """Make the graphviz package run graphviz-pure inside the block when there is no
    system ``dot``; raise a RuntimeError naming the fix when there is neither."""
    import graphviz

    renderer = find_renderer()
    if renderer is None:
        raise RuntimeError(NO_RENDERER)
    if renderer[0] == "dot":
        yield renderer
        return
    from graphviz.backend import dot_command

    previous = dot_command.DOT_BINARY
    dot_command.DOT_BINARY = pathlib.Path(renderer[1])
    try:
        yield renderer
    except graphviz.CalledProcessError as err:
        raise RuntimeError(f"graphviz-pure failed ({err}); it writes only "
                           f"{', '.join(PURE_FORMATS)} (for pdf install Graphviz)") from err
    finally:
        dot_command.DOT_BINARY = previous


_GRAPH_CLASS = None


def graph_class():
    """``graphviz.Digraph`` whose render/pipe/view fall back to graphviz-pure."""
    global _GRAPH_CLASS
    if _GRAPH_CLASS is None:
        try:
            import graphviz
        except ImportError as err:
            raise ImportError(
                "graphgrad.viz.draw_graph needs the `graphviz` Python package: "
                "pip install graphgrad[viz]  (or: pip install graphviz graphviz-pure)"
            ) from err

        class GradGraph(graphviz.Digraph):
            """A ``graphviz.Digraph`` (``.source`` is the DOT text) that renders with the
            system's ``dot`` or, without it, with graphviz-pure."""

            def render(self, *args, **kwargs):
                with dot_program():
                    return super().render(*args, **kwargs)

            def pipe(self, *args, **kwargs):
                with dot_program():
                    return super().pipe(*args, **kwargs)

        _GRAPH_CLASS = GradGraph
    return _GRAPH_CLASS
