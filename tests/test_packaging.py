"""Packaging: one installed package, ``graphgrad``, and nothing else at top level."""
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import tomllib

import graphgrad

ROOT = Path(__file__).resolve().parents[1]
INSTALLED_AS = {"graphgrad": "graphgrad", "autograd": "graphgrad.autograd",
                "nn": "graphgrad.nn", "optim": "graphgrad.optim"}


def test_every_package_folder_is_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {name: folder for folder, name in INSTALLED_AS.items()}
    folders = []
    for top, name in INSTALLED_AS.items():
        for init in sorted((ROOT / top).rglob("__init__.py")):
            parts = init.parent.relative_to(ROOT / top).parts
            folders.append(".".join((name, *parts)))
    assert sorted(config["packages"]) == sorted(folders)


def test_torch_shaped_namespaces():
    import graphgrad.nn as nn
    import graphgrad.nn.functional as F
    import graphgrad.optim as optim
    from graphgrad.utils.data import DataLoader

    assert graphgrad.nn is nn and graphgrad.nn.functional is F and graphgrad.optim is optim
    assert graphgrad.utils.data.DataLoader is DataLoader
    for name in ("tensor", "randn", "cat", "no_grad", "manual_seed", "save", "load", "float32"):
        assert hasattr(graphgrad, name), name
    for name in ("grad", "backward", "Function"):
        assert hasattr(graphgrad.autograd, name), name


@pytest.mark.slow
def test_installs_beside_hips_autograd(tmp_path):
    """A fresh venv with graphgrad and HIPS autograd: each imports and differentiates, and
    the old top-level names ``autograd`` (HIPS's), ``nn``, ``optim`` are not this project's."""
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env)
    python = env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(ROOT),
                              "autograd"], capture_output=True, text=True)
    if install.returncode != 0:
        pytest.fail(f"pip install failed:\n{install.stdout}\n{install.stderr}")
    script = """
import importlib.util
import autograd, autograd.numpy as anp
import graphgrad as gg
assert 'graphgrad' not in autograd.__file__
d = autograd.grad(lambda x: anp.sum(x ** 3))(anp.array([1.0, 2.0]))
assert list(d) == [3.0, 12.0], d
x = gg.tensor([1.0, 2.0], requires_grad=True)
(x ** 3).sum().backward()
assert x.grad.tolist() == [3.0, 12.0]
assert importlib.util.find_spec('nn') is None and importlib.util.find_spec('optim') is None
print('ok')
"""
    done = subprocess.run([str(python), "-c", script], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
