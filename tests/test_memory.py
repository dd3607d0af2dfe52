"""graphgrad.autograd.keep_freed_memory: glibc's malloc keeps freed array memory for the
next allocation, once a program asks for it; importing graphgrad leaves malloc alone."""
import os
import subprocess
import sys

import pytest

import graphgrad as gg
from graphgrad.autograd import _memory

# Page faults of 20 allocations of SIZE MiB, each freed at once (far above glibc's default
# mmap threshold of 128 KiB, so without the setting each one maps fresh pages: ~500 faults
# with transparent huge pages, thousands without).  48 MiB is above the largest mmap
# threshold glibc accepts (32 MiB): such blocks too must come from the heap.
_FAULTS = """
import resource, sys, numpy as np, graphgrad
if sys.argv[1] == "call":
    graphgrad.autograd.keep_freed_memory()
size = int(sys.argv[2]) << 20
np.ones(size, np.uint8)  # the first one may fault its pages in
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    np.ones(size, np.uint8)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, mib: int) -> int:
    env = {k: v for k, v in os.environ.items() if k != "GRAPHGRAD_KEEP_FREED_MEMORY"}
    done = subprocess.run([sys.executable, "-c", _FAULTS, mode, str(mib)], capture_output=True,
                          text=True, check=True, env=env, cwd=os.path.dirname(__file__))
    return int(done.stdout)


@pytest.mark.skipif(not _memory._glibc(), reason="the setting exists on glibc only")
@pytest.mark.parametrize("mib", [16, 48])
def test_import_leaves_malloc_alone_and_the_call_keeps_freed_memory(mib):
    assert _faults("import", mib) > 100  # untuned: every allocation faults its pages in
    assert _faults("call", mib) < 50


def test_environment_variable_opts_out(monkeypatch):
    monkeypatch.setenv("GRAPHGRAD_KEEP_FREED_MEMORY", "0")
    assert _memory.keep_freed_memory() is False


def test_the_call_reports_whether_it_took_effect(monkeypatch):
    monkeypatch.delenv("GRAPHGRAD_KEEP_FREED_MEMORY", raising=False)
    assert gg.autograd.keep_freed_memory() is _memory._glibc()
    assert gg.autograd.keep_freed_memory() is _memory._glibc()  # again: no change


def test_not_part_of_the_torch_shaped_root():
    assert "keep_freed_memory" not in gg.autograd.__all__
    assert not hasattr(gg, "keep_freed_memory")
