"""Utilities, as ``torch.utils``: ``graphgrad.utils.data`` (datasets and loaders)."""
from . import data
from . import safetensors
