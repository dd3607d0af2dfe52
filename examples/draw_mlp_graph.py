"""Draw the backward graph of a small MLP's loss after backward: docs/mlp_graph.svg.

    python examples/draw_mlp_graph.py [output.svg]

Each op shows its output shape and dtype, the statistics of the gradient that
reached it, what it saved for backward and when backward visited it; ops are
grouped by the module that ran them, and colours give mean |grad| on a log scale.
Needs the viz extra (pip install graphgrad[viz]); the gradient-flow table is
printed too.
"""
import sys
from pathlib import Path

import numpy as np

import graphgrad as gg
from graphgrad import nn


def main(out: str = "docs/mlp_graph.svg") -> Path:
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = gg.randn(16, 4)
    labels = gg.tensor(np.arange(16) % 3)
    loss = nn.CrossEntropyLoss()(model(x), labels)
    with gg.viz.record_gradients():  # keep every op's gradient statistics
        loss.backward()
    dot = gg.viz.draw_graph({"loss": loss}, params={**dict(model.named_parameters()), "x": x},
                            show_saved=True, show_order=True)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    dot.render(outfile=path, cleanup=True)  # SVG by the suffix; cleanup drops the .gv
    print(gg.viz.gradient_flow(model))
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main(*sys.argv[1:])
