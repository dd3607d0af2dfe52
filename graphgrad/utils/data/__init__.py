"""Datasets and mini-batch loading, as ``torch.utils.data``."""
from .dataloader import DataLoader, Dataset, TensorDataset, default_collate
