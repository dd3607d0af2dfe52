"""The project's commands, runnable on a machine that has only Python and pip.

    python3 tasks.py demo        # train a CNN on handwritten digits; pictures in out/demo
    python3 tasks.py test        # the default test suite (a few minutes on 2 cores)
    python3 tasks.py test-slow   # the slow tests and the large hypothesis profile
    python3 tasks.py bench       # the benchmarks (PyTorch columns if torch is installed)
    python3 tasks.py test-gpu    # on a machine with an NVIDIA GPU: the device tests on it
                                 # (CuPy), the demo with --device cuda, benchmarks/bench_gpu.py

Each command first makes sure ``.venv`` exists and holds the package with the
extras it needs (reinstalling only when pyproject.toml changed), so it is safe
to run again and again.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_env(extras: str, optional: str = "") -> None:
    """Create .venv and install graphgrad[extras] into it unless already done.

    ``optional`` extras are tried too, and skipped with a warning if pip cannot
    install them here (PyTorch, used only for comparisons, has no wheel everywhere).
    """
    if not PYTHON.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    _install(extras, required=True)
    if optional:
        _install(optional, required=False)


def _install(extras: str, required: bool) -> None:
    stamp = VENV / f".installed-{extras.replace(',', '-') or 'base'}"
    config = ROOT / "pyproject.toml"
    if stamp.exists() and stamp.stat().st_mtime >= config.stat().st_mtime:
        return
    target = f".[{extras}]" if extras else "."
    print(f"installing graphgrad{target[1:]} into .venv ...", flush=True)
    done = subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", target],
                          cwd=ROOT, check=required).returncode == 0
    if done:
        stamp.touch()
    else:
        print(f"warning: could not install the optional extra [{extras}]; "
              f"the tests that compare with it will be skipped", flush=True)


def ensure_browser() -> None:
    """Install Debian's Chromium and its driver for the explorer's browser tests
    (tests/browser.py) when they are missing and apt can run here (as root); otherwise
    say what is missing: those tests then fail, naming it, rather than skip."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    command = ["apt-get", "install", "-y", "chromium", "chromium-driver"]
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("installing Debian's chromium and chromium-driver ...", flush=True)
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(command, check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    else:
        print(f"warning: no chromium/chromedriver; the browser tests will fail until "
              f"`{' '.join(command)}` (as root) has run", flush=True)


def run(*args: str) -> int:
    return subprocess.run([str(PYTHON), *args], cwd=ROOT).returncode


def pytest(*args: str) -> int:
    """The venv's pytest script, not ``python -m pytest``: that would put the checkout on
    sys.path, where its top-level folders (autograd/, nn/) would import under names
    that the installed package does not have."""
    return subprocess.run([str(BIN / "pytest"), *args], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    rest = argv[1:]
    if command == "demo":  # options: python3 tasks.py demo --help
        ensure_env("demo")
        return run("-m", "graphgrad", "demo", *rest)
    if command == "test":
        ensure_env("test,viz,plot,tensorboard,safetensors,browser", optional="bench")
        ensure_browser()
        return pytest("-q", *rest)
    if command == "test-slow":
        ensure_env("test,viz,plot,tensorboard,safetensors,browser", optional="bench")
        ensure_browser()
        return pytest("-q", "--hypothesis-profile=slow", "-m", "slow or not slow", *rest)
    if command == "test-gpu":
        ensure_env("test,demo,cuda", optional="bench")
        os.environ["GRAPHGRAD_TEST_GPU"] = "1"  # tests/device_under_test.py: the real GPU
        tests = ROOT / "tests"
        devices = sorted(str(p.relative_to(ROOT)) for p in tests.rglob("test_device_*.py"))
        code = pytest("-q", *devices, *rest)
        code |= run("-m", "graphgrad", "demo", "--device", "cuda", "--quick")
        return code | run("benchmarks/bench_gpu.py")
    if command == "bench":
        ensure_env("test", optional="bench")
        code = 0
        for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
            code |= run(str(script.relative_to(ROOT)), *rest)
        return code
    print(__doc__)
    return 0 if command in ("help", "-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
