"""A first end-to-end check: the quickstart demo trains."""
import importlib.util
from pathlib import Path


def test_quickstart_loss_falls():
    path = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"
    spec = importlib.util.spec_from_file_location("quickstart", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(steps=60) < 0.2
