"""The main demo (``graphgrad demo``): its quick mode runs here and its outputs are checked;
the full run's accuracy is a slow test."""
import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.datasets import load_digits

pytest.importorskip("tqdm", reason="the demo needs tqdm (installed by the test and demo extras)")
pytest.importorskip("matplotlib", reason="the demo needs matplotlib (plot extra)")
pytest.importorskip("graphviz", reason="the demo needs graphviz (viz extra)")
if gg.viz.find_renderer() is None:
    pytest.skip("no Graphviz dot nor graphviz-pure to render the graph", allow_module_level=True)

from graphgrad import cli, demo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NUMBERS = ("lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return demo.run(quick=True, out=out, log=lambda *a: None)


def check_png(path: Path, min_size: tuple[int, int] = (200, 200)) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] >= min_size[0] and pixels.shape[1] >= min_size[1]
    assert pixels.std() > 0, f"{path} is blank"


def test_quick_writes_every_output(quick):
    assert set(quick.files) == {"curves", "graph", "backprop", "gradient_flow", "predictions",
                                "weights", "history"}
    for path in quick.files.values():
        assert path.parent == quick.out and path.stat().st_size > 0
    assert sorted(p.name for p in quick.out.iterdir()) == sorted(
        p.name for p in quick.files.values())  # no stray files (e.g. the DOT source)


def test_pictures_are_valid_pngs(quick):
    for name in ("curves", "gradient_flow", "predictions"):
        check_png(quick.files[name])


def test_graph_is_an_svg_naming_parameters_and_gradients(quick):
    root = ET.parse(quick.files["graph"]).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = " ".join(t for t in root.itertext())
    for name, _ in quick.model.named_parameters():
        assert name in text, f"parameter {name} not named in the graph"
    assert "loss" in text and "grad" in text  # gradient statistics are shown
    assert "conv" in text.lower() or "unfold" in text  # the convolution is there


def test_weights_load_back_with_the_same_predictions(quick):
    state = gg.load(quick.files["weights"])
    assert set(state) == set(quick.model.state_dict())
    model = demo.DigitsCNN()
    model.load_state_dict(state)
    model.eval()
    images, labels = load_digits("test")
    with gg.no_grad():
        predictions = model(gg.tensor(images)).numpy().argmax(1)
    assert np.array_equal(predictions, quick.predictions)
    assert quick.test_accuracy == pytest.approx(float((predictions == labels).mean()))


def test_history_json(quick):
    saved = json.loads(quick.files["history"].read_text())
    assert saved["settings"]["epochs"] == 2 and saved["settings"]["train_limit"] == 480
    assert [row["epoch"] for row in saved["epochs"]] == [1, 2]
    assert saved["test_accuracy"] == quick.test_accuracy
    assert saved["epochs"][-1]["train_loss"] < saved["epochs"][0]["train_loss"]
    assert quick.test_accuracy > 0.5  # 30 steps on 480 images already learn something


def test_same_seed_same_numbers(quick, tmp_path):
    again = demo.run(quick=True, out=tmp_path / "again", log=lambda *a: None, progress=False)
    for a, b in zip(quick.history, again.history, strict=True):
        assert [a[k] for k in NUMBERS] == [b[k] for k in NUMBERS]
    assert np.array_equal(quick.predictions, again.predictions)
    other = demo.run(quick=True, epochs=1, seed=1, out=tmp_path / "seed1",
                     log=lambda *a: None, progress=False)
    assert other.history[0]["train_loss"] != quick.history[0]["train_loss"]


def test_cli_demo_prints_progress_and_the_output_folder(tmp_path, capsys):
    assert cli.main(["demo", "--quick", "--epochs", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "epoch  1/1" in out and "100%" in out  # the tqdm bar
    assert "test accuracy:" in out and str(tmp_path) in out


@pytest.mark.parametrize("command", [[], ["demo"], ["draw"]])
def test_help_explains_each_option(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    options = {"demo": ["--epochs", "--seed", "--out", "--quick", "--no-progress"],
               "draw": ["--out", "--seed", "--batch-size", "--html"]}
    options = options.get(command[0] if command else "", ["demo", "draw"])
    for option in options:
        assert option in text


def test_python_m_graphgrad_help():
    result = subprocess.run([sys.executable, "-m", "graphgrad", "demo", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--quick" in result.stdout


def test_bad_option_is_an_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--epochs", "0"])
    assert exit_.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_draw_writes_the_graph(tmp_path, capsys):
    path = demo.draw(out=tmp_path / "graph.svg", batch_size=4)
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg") and "block2.0.weight" in " ".join(root.itertext())
    assert "block1.0.weight" in capsys.readouterr().out  # the gradient-flow table


def test_explorer_pages_of_the_first_step_and_of_draw_html(quick, tmp_path, capsys):
    page = quick.files["backprop"].read_text()
    assert page.startswith("<!DOCTYPE html>") and "one training step of the digits CNN" in page
    assert "block2.0.weight" in page and "fc.bias" in page
    assert cli.main(["draw", "--html", "--out", str(tmp_path / "g.svg"), "--batch-size", "4"]) == 0
    assert "block1.0.weight" in capsys.readouterr().out  # the gradient-flow table
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.html"]
    assert "block2.0.weight" in (tmp_path / "g.html").read_text()


def test_readme_example_runs(tmp_path, monkeypatch):
    """The README's PyTorch-style example (custom op, Module, training, graph) as printed."""
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```python\n")[1:]]
    (code,) = [b for b in blocks if "class MLP(nn.Module)" in b]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    assert ET.parse(tmp_path / "mlp.svg").getroot().tag.endswith("svg")


@pytest.mark.slow
def test_full_demo_reaches_97_percent(tmp_path):
    """The README's demo as users run it (a fresh process: BLAS on one thread, see cli.py)."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "graphgrad", "demo", "--no-progress",
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout + result.stderr
    saved = json.loads((tmp_path / "history.json").read_text())
    print(f"\nfull demo: test accuracy {saved['test_accuracy']:.2%} after "
          f"{len(saved['epochs'])} epochs; {seconds:.1f} s for the whole command")
    assert saved["test_accuracy"] >= 0.97
    assert seconds < 120
