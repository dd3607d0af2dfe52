"""Test configuration: hypothesis profiles (quick by default, larger for the slow target)."""
import os

# The tests multiply small matrices, for which a second BLAS thread costs more than it
# gives (and on a shared 2-core machine far more).  Set before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from graphgrad.autograd._numpy_warnings import ignore_float_warnings  # noqa: E402

settings.register_profile(
    "default", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "slow", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("default")


@pytest.fixture(autouse=True)
def _graphgrad_float_warnings_ignored():
    """pytest restores the warning filters after collecting, dropping the one that
    ``import graphgrad`` installs; install it again, as a user's process keeps it."""
    ignore_float_warnings()
