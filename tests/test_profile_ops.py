"""benchmarks/profile_ops.py runs and reports the ops of a model step (in its own process:
it wraps every op with timers)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_profile_ops_reports_the_mlp_step():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "profile_ops.py"), "mlp", "--steps", "1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("mlp: ") and "ms per step" in lines[0]
    forward = [line.split() for line in lines if line.startswith("  linear ")]
    assert forward and forward[0][-1] == "x3"  # three Linear layers, one op each
    assert any(line.startswith("  engine: Product.dense") for line in lines)
