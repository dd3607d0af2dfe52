"""Quiet maths: ops on inf, nan and zero compute silently, as PyTorch's.

inf, nan and division by zero are IEEE arithmetic working as intended (log(0) =
-inf, inf - inf = nan), but NumPy reports each as a RuntimeWarning.  A warnings
filter ignores those raised where graphgrad's own code computes: it matches
graphgrad's modules only, so a user's NumPy code keeps its warnings, and it costs
nothing per op (an ``np.errstate`` around each op's forward would add about a
microsecond to every op).

Backward runs under one ``np.errstate`` per call (the rules use NumPy's Python-level
reductions, whose warnings come from NumPy's own frames), and so does einsum's
forward; the other reductions call the ufuncs' ``reduce`` directly from graphgrad's
frames.  The filter is installed when graphgrad is imported.  Code that restores the
warning filters afterwards (``warnings.catch_warnings`` around the import, as
pytest does around collection) drops it; calling ``ignore_float_warnings()``
installs it again.
"""
from __future__ import annotations

import warnings


def ignore_float_warnings() -> None:
    """Ignore NumPy's RuntimeWarnings raised in graphgrad's modules."""
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"graphgrad\.")
