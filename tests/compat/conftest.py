"""The conformance tests compare small models with PyTorch's; on them PyTorch's extra
intra-op threads only contend for the cores (ten times slower on a busy 2-core machine),
so each test runs PyTorch on one thread and restores the count afterwards."""
import importlib.util

import pytest


@pytest.fixture(autouse=True)
def _reference_torch_on_one_thread():
    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
