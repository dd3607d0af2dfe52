"""A plain PyTorch-style training loop for image classifiers, shared by the CNN examples.

    history = train_classifier(model, (X_train, y_train), (X_test, y_test), epochs=10)
    history["train_loss"], history["test_accuracy"]      # one entry per epoch

Each epoch shuffles the training set with a ``DataLoader`` (dropping the last,
incomplete batch), takes one Adam step per mini-batch on the cross-entropy
loss, then measures accuracy on the test set in eval mode (batch norm on
running statistics, no graph).
"""
from __future__ import annotations

import time

import numpy as np

import graphgrad as gg
from graphgrad import nn, optim
from graphgrad.utils.data import DataLoader, TensorDataset

from .metrics import predict

__all__ = ["train_classifier", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """The number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_classifier(model: nn.Module, train: tuple, test: tuple, epochs: int, lr: float = 3e-3,
                     batch_size: int = 64, weight_decay: float = 0.0, name: str = "",
                     verbose: bool = True) -> dict:
    """Train ``model`` on ``train = (images, labels)`` (arrays) with Adam and a cosine
    learning-rate schedule; return per-epoch ``train_loss`` (mean over the epoch's
    batches), ``test_accuracy`` and the wall-clock ``seconds``."""
    # drop_last: a final batch of a few samples would give batch norm noisy statistics.
    loader = DataLoader(TensorDataset(*train), batch_size=batch_size, shuffle=True,
                        drop_last=True)
    optimizer = optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train_loss": [], "test_accuracy": []}
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        losses = []
        for images, labels in loader:
            loss = loss_fn(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        history["train_loss"].append(float(np.mean(losses)))
        history["test_accuracy"].append(float(np.mean(predict(model, gg.tensor(test[0]))
                                                      == test[1])))
        if verbose:
            print(f"{name}epoch {epoch + 1:2d}  loss {history['train_loss'][-1]:.4f}  "
                  f"test accuracy {history['test_accuracy'][-1]:.3f}")
    history["seconds"] = time.perf_counter() - start
    return history
