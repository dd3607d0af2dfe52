"""autograd._memory: glibc's malloc keeps freed array memory for the next allocation."""
import os
import resource

import numpy as np
import pytest

from graphgrad.autograd import _memory


def test_setting_is_applied_exactly_on_glibc_unless_opted_out():
    opted_out = os.environ.get("GRAPHGRAD_KEEP_FREED_MEMORY") == "0"
    assert _memory.KEPT == (_memory._glibc() and not opted_out)


def test_environment_variable_opts_out(monkeypatch):
    monkeypatch.setenv("GRAPHGRAD_KEEP_FREED_MEMORY", "0")
    assert _memory.keep_freed_memory() is False


def test_freed_arrays_are_reused_without_page_faults():
    if not _memory.keep_freed_memory():
        pytest.skip("malloc is left alone here (not glibc, or GRAPHGRAD_KEEP_FREED_MEMORY=0)")
    size = 16 << 20  # 16 MiB, far above glibc's default mmap threshold of 128 KiB
    np.ones(size, np.uint8)  # the first one may fault its pages in
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        np.ones(size, np.uint8)  # freed at once; without the setting each one maps fresh pages
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 50, f"{faults} page faults for 20 reused 16 MiB arrays (untuned: ~500)"
