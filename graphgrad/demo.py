"""The demo: a small CNN learns the UCI handwritten digits, then shows what happened.

    python3 tasks.py demo                  # from a fresh clone: sets up .venv, then runs this
    graphgrad demo --epochs 20 --seed 1    # once graphgrad[demo] is installed
    python -m graphgrad demo --quick       # a few seconds, for tests
    graphgrad demo --device cuda           # on a GPU (needs graphgrad[cuda]: CuPy)

Everything below is ordinary PyTorch-style code on graphgrad: a Module, a
DataLoader, Adam with a cosine learning-rate schedule, ``loss.backward()``.  The
data (1,797 8x8 images, CC BY 4.0) ships with the package, so nothing is
downloaded.  The run writes into ``--out`` (default ``out/demo``):

    curves.png          loss and accuracy per epoch, training and test
    graph.svg           the backward graph of the first training step: every op, the
                        parameters by name, the gradient statistics at each node
    backprop.html       the same step as a page to explore (gg.viz.explore): click a
                        node, step through backward, fold modules; opens from disk
    gradient_flow.png   mean and max |grad| per parameter at that step
    predictions.png     test digits with the predicted labels, mistakes in red
    digits_cnn.ckpt     the trained weights (gg.save; reloaded and checked before exit)
    history.json        the numbers behind the curves, and the settings of the run

The same seed gives the same numbers, bit for bit (on the CPU; a GPU's sums may
round differently).  ``--device cuda`` trains on the GPU: the model is moved there
with ``model.to(device)``, each batch with ``.to(device)`` (from pinned memory), and
the pictures read what they need back with ``.cpu()``.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import graphgrad as gg
import graphgrad.nn.functional as F
from graphgrad import nn, optim
from graphgrad.datasets import load_digits

WEIGHTS = "digits_cnn.ckpt"
INSTALL_HINT = "pip install 'graphgrad[demo]'  (or: python3 tasks.py demo)"


class DigitsCNN(nn.Module):
    """Two conv blocks and a linear classifier for 8x8 one-channel images.

    (N, 1, 8, 8) -> [conv 3x3 -> batch norm -> ReLU -> max pool 2x2] x 2 -> (N, 32, 2, 2)
    -> flatten -> dropout -> linear -> (N, 10) logits.  About 6,000 parameters.
    The convolutions have no bias: batch norm's shift takes that role.
    """

    def __init__(self, channels: tuple[int, int] = (16, 32), dropout: float = 0.25,
                 classes: int = 10) -> None:
        super().__init__()
        c1, c2 = channels
        self.block1 = conv_block(1, c1)   # 8x8 -> 4x4
        self.block2 = conv_block(c1, c2)  # 4x4 -> 2x2
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c2 * 2 * 2, classes)

    def forward(self, x: gg.Tensor) -> gg.Tensor:
        x = self.block2(self.block1(x))
        return self.fc(self.dropout(x.flatten(1)))


def conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(), nn.MaxPool2d(2))


@dataclass
class Settings:
    """What a run depends on (all of it is written to history.json)."""

    epochs: int = 15
    seed: int = 0
    batch_size: int = 32
    lr: float = 3e-3
    train_limit: int | None = None  # use only the first n training images (--quick)
    device: str = "cpu"


@dataclass
class DemoResult:
    """What ``run`` returns: the final test accuracy, one dict per epoch, the trained
    model and its test-set predictions, the files written and the time taken."""

    test_accuracy: float
    history: list[dict]
    model: DigitsCNN
    predictions: np.ndarray
    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def run(epochs: int | None = None, seed: int = 0, out: str | Path = "out/demo",
        quick: bool = False, progress: bool = True, log=print,
        device: str = "cpu") -> DemoResult:
    """Train, evaluate, write the pictures and weights into ``out``, check the weights reload.

    ``epochs``: default 15, or 2 with ``quick``, which also trains on the first 480
    training images only (a few seconds; for tests).
    ``progress``: tqdm bars; without them one line per epoch is printed.
    ``device``: where to train (``"cpu"``, ``"cuda"``, ...).
    """
    tqdm = _require("tqdm", "progress bars").tqdm
    _require("matplotlib", "the plots")
    gg.autograd.keep_freed_memory()  # a training program: steps reuse freed memory (README)
    settings = Settings(seed=seed, train_limit=480 if quick else None, device=str(device))
    settings.epochs = epochs if epochs is not None else (2 if quick else Settings.epochs)
    if settings.epochs < 1:
        raise ValueError(f"demo: epochs must be at least 1, got {settings.epochs}")
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    gg.manual_seed(settings.seed)  # initialisation, dropout and shuffling all draw from it
    train_x, train_y = load_digits("train")
    test_x, test_y = load_digits("test")
    if settings.train_limit is not None:
        train_x, train_y = train_x[:settings.train_limit], train_y[:settings.train_limit]
    loader = gg.utils.data.DataLoader(gg.utils.data.TensorDataset(train_x, train_y),
                                batch_size=settings.batch_size, shuffle=True,
                                pin_memory=gg.device(device).type != "cpu")
    model = DigitsCNN().to(device)
    optimizer = optim.Adam(model.parameters(), lr=settings.lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs)
    log(f"graphgrad demo: {sum(p.numel() for p in model.parameters()):,}-parameter CNN on "
        f"{len(train_y)} training / {len(test_y)} test digits, {settings.epochs} epoch"
        f"{'s' if settings.epochs > 1 else ''}, "
        f"seed {settings.seed}, on {gg.device(device)}")

    history: list[dict] = []
    first_step = None  # (graph, gradient flow) of the very first training step
    for epoch in range(1, settings.epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        t0 = time.perf_counter()
        with tqdm(total=len(loader), desc=f"epoch {epoch:2d}/{settings.epochs}", unit="batch",
                  disable=not progress, file=sys.stdout, dynamic_ncols=True) as bar:
            page = out / "backprop.html" if first_step is None else None
            train_loss, train_accuracy, step = train_epoch(model, loader, optimizer, bar,
                                                           record=page, device=device)
            first_step = first_step or step
            schedule.step()
            test_loss, predictions = evaluate(model, test_x, test_y, device)
            row = {"epoch": epoch, "lr": lr, "train_loss": train_loss,
                   "train_accuracy": train_accuracy, "test_loss": test_loss,
                   "test_accuracy": float((predictions == test_y).mean()),
                   "seconds": time.perf_counter() - t0}
            summary = (f"loss {train_loss:.4f}  acc {train_accuracy:6.2%}  "
                       f"test acc {row['test_accuracy']:6.2%}")
            bar.set_postfix_str(summary)  # the bar's last state stays on screen
        history.append(row)
        if not progress:
            log(f"epoch {epoch:2d}/{settings.epochs}  {summary}  test loss {test_loss:.4f}  "
                f"lr {lr:.2e}  ({row['seconds']:.1f} s)")
    train_seconds = time.perf_counter() - start
    accuracy = history[-1]["test_accuracy"]
    wrong = int((predictions != test_y).sum())
    log(f"test accuracy: {accuracy:.2%} ({len(test_y) - wrong}/{len(test_y)} digits right) "
        f"after {train_seconds:.1f} s")

    files = {
        "curves": plot_curves(history, out / "curves.png"),
        "graph": render_graph(first_step[0], out / "graph.svg"),
        "backprop": out / "backprop.html",
        "gradient_flow": plot_gradient_flow(first_step[1], out / "gradient_flow.png"),
        "predictions": plot_predictions(test_x, test_y, predictions, out / "predictions.png"),
        "weights": out / WEIGHTS,
        "history": out / "history.json",
    }
    gg.save(model.state_dict(), files["weights"])
    check_reload(files["weights"], model, test_x, device)
    log(f"weights saved to {files['weights']} and reloaded: same {len(test_y)} predictions")
    seconds = time.perf_counter() - start
    files["history"].write_text(json.dumps(
        {"settings": asdict(settings), "test_accuracy": accuracy, "epochs": history,
         "train_seconds": train_seconds}, indent=1) + "\n")
    log(f"wrote {out.resolve()}/: " + ", ".join(p.name for p in files.values())
        + f"  ({seconds:.1f} s in all)")
    return DemoResult(accuracy, history, model, predictions, out, files, seconds)


def train_epoch(model: nn.Module, loader, optimizer: optim.Optimizer, bar,
                record: Path | None = None,
                device: str = "cpu") -> tuple[float, float, tuple | None]:
    """One pass over ``loader``: mean loss, accuracy (in train mode, so with dropout) and,
    with ``record`` (where to write its explorer page), the graph and gradient flow of
    the epoch's first step.  Each batch goes to ``device``, where the model is."""
    model.train()
    loss_sum, correct, seen, step = 0.0, 0, 0, None
    for images, labels in loader:
        images, labels = images.to(device, non_blocking=True), labels.to(device)
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        if record is not None and step is None:
            with gg.viz.record_gradients():  # keep every op's gradient statistics
                loss.backward()
            step = snapshot_step(loss, model, page=record)
        else:
            loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(labels)
        correct += int((logits._data.argmax(1) == labels._data).sum())
        seen += len(labels)
        bar.set_postfix_str(f"loss {loss_sum / seen:.4f}  acc {correct / seen:6.2%}",
                            refresh=False)
        bar.update()
    return loss_sum / seen, correct / seen, step


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray,
             device: str = "cpu") -> tuple[float, np.ndarray]:
    """Mean cross-entropy and predicted classes (on the host) on a whole set, in eval
    mode, computed on ``device``."""
    model.eval()
    with gg.no_grad():
        logits = model(gg.tensor(images, device=device))
        loss = F.cross_entropy(logits, gg.tensor(labels, device=device)).item()
    return loss, logits.cpu().numpy().argmax(1)


def snapshot_step(loss: gg.Tensor, model: nn.Module, page: Path | None = None):
    """The backward graph (a graphviz.Digraph) and gradient-flow report of a step, taken
    right after its backward, before the optimizer changes the parameters; with ``page``,
    the step's explorer page (``gg.viz.explore``) is written there too."""
    graph = gg.viz.draw_graph({"loss": loss}, params=model, show_grads=True)
    if page is not None:
        gg.viz.explore({"loss": loss}, params=model, path=page,
                       title="graphgrad demo: one training step of the digits CNN")
    return graph, gg.viz.gradient_flow(model)


def render_graph(graph, path: Path) -> Path:
    graph.render(outfile=path, cleanup=True)  # format from the suffix; cleanup drops the DOT
    return path


def plot_gradient_flow(flow, path: Path) -> Path:
    flow.plot(path, title="gradient flow at the first training step")
    return path


def plot_curves(history: list[dict], path: Path) -> Path:
    """Loss and accuracy per epoch, training (running, with dropout) and test."""
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for split, style in (("train", "-o"), ("test", "-s")):
        loss_ax.plot(epochs, [r[f"{split}_loss"] for r in history], style, ms=3, label=split)
        acc_ax.plot(epochs, [100 * r[f"{split}_accuracy"] for r in history], style, ms=3,
                    label=split)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    acc_ax.set_ylim(max(0, min(100 * r["test_accuracy"] for r in history[-3:]) - 10), 100.5)
    final = 100 * history[-1]["test_accuracy"]
    acc_ax.annotate(f"test {final:.1f}%", (epochs[-1], final), textcoords="offset points",
                    xytext=(-10, -18), ha="right")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=110)
    return path


def plot_predictions(images: np.ndarray, labels: np.ndarray, predictions: np.ndarray,
                     path: Path, count: int = 48, columns: int = 12) -> Path:
    """A grid of test digits, each under its predicted label; every mistake is shown (up
    to ``count``), framed in red with the true label, the rest of the grid in file order.
    Drawn as one mosaic image (one matplotlib Axes is much faster than one per digit)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    wrong = np.flatnonzero(predictions != labels)
    right = np.flatnonzero(predictions == labels)
    shown = np.sort(np.concatenate([wrong[:count], right[:max(count - len(wrong), 0)]]))
    rows = -(-len(shown) // columns)
    side, width, height = images.shape[-1], 11, 14  # a cell: label band above an 8x8 digit
    mosaic = np.full((rows * height, columns * width), np.nan)  # NaN: background
    fig = Figure(figsize=(columns * 0.75, rows * 0.95 + 0.4))
    ax = fig.add_axes((0, 0, 1, 1 - 0.4 / (rows * 0.95 + 0.4)))
    for k, i in enumerate(shown):
        top, left = (k // columns) * height + height - side - 1, (k % columns) * width + 1
        mosaic[top:top + side, left:left + side] = images[i, 0]
        mistake = predictions[i] != labels[i]
        ax.text(left + side / 2 - 0.5, top - 1.2,
                f"{predictions[i]} (true {labels[i]})" if mistake else str(predictions[i]),
                ha="center", va="bottom", fontsize=9, color="#c00000" if mistake else "black",
                fontweight="bold" if mistake else "normal")
        if mistake:
            ax.add_patch(Rectangle((left - 1, top - 1), side + 1, side + 1, fill=False,
                                   edgecolor="#c00000", linewidth=2))
    ax.imshow(np.ma.masked_invalid(mosaic), cmap="gray_r", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle(f"test digits and predicted labels: {len(wrong)} of {len(labels)} wrong"
                 + (" (all shown, in red)" if len(wrong) <= count else f" ({count} shown)"),
                 fontsize=11)
    fig.savefig(path, dpi=110, facecolor="white")
    return path


def check_reload(path: Path, model: nn.Module, images: np.ndarray, device: str = "cpu") -> None:
    """Load the weights into a fresh model on ``device`` and check it computes the same
    logits."""
    fresh = DigitsCNN().to(device)
    fresh.load_state_dict(gg.load(path, map_location=device))
    fresh.eval()
    model.eval()
    with gg.no_grad():
        x = gg.tensor(images, device=device)
        if not np.array_equal(fresh(x).cpu().numpy(), model(x).cpu().numpy()):
            raise RuntimeError(f"weights reloaded from {path} give different predictions")


def draw(out: str | Path = "out/graph.svg", seed: int = 0, batch_size: int = 8,
         log=print, html: bool = False) -> Path:
    """The backward graph of one training step of the (untrained) demo CNN, as an SVG
    (or PNG by the suffix), and its gradient-flow table printed; no training.  With
    ``html``, the interactive explorer page instead (``gg.viz.explore``; the suffix of
    ``out`` becomes .html)."""
    gg.manual_seed(seed)
    images, labels = load_digits("train")
    model = DigitsCNN()
    loss = F.cross_entropy(model(gg.tensor(images[:batch_size])), gg.tensor(labels[:batch_size]))
    with gg.viz.record_gradients():
        loss.backward()
    path = Path(out).with_suffix(".html") if html else Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph, flow = snapshot_step(loss, model, page=path if html else None)
    if not html:
        render_graph(graph, path)
    log(flow)
    log(f"wrote {path}")
    return path


def _require(module: str, what: str):
    try:
        return __import__(module)
    except ImportError as err:
        raise ImportError(f"the demo needs {module} for {what}: {INSTALL_HINT}") from err
