"""A training script fed by DataLoader workers, as image-classification scripts are
written: a map-style ``Dataset`` whose ``__getitem__`` augments with NumPy's global RNG,
a train/validation split by index with ``SubsetRandomSampler``, class-balanced batches
from ``WeightedRandomSampler``, ``num_workers=2``, ``pin_memory=True``, a
``worker_init_fn`` seeding each worker, ``generator=torch.Generator().manual_seed(0)``,
``non_blocking`` moves to the device.  Run with ``import graphgrad as torch``.

The samplers' orders come from each library's own random source, so PyTorch is compared
on what does not depend on it: the batches of the sequential validation loader, the
indices each epoch visits, the batch structure, and the loss falling."""
import random

import numpy as np
import pytest
from compat_utils import assert_falls, to_numpy

import graphgrad as torch
import graphgrad.nn as nn
import graphgrad.utils.data as data_utils
from graphgrad.utils.data import DataLoader, Dataset

N, N_VAL, BATCH = 120, 24, 16


def _features_and_labels():
    """Three imbalanced classes (60 / 40 / 20) of noisy 8-dimensional prototypes."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [60, 40, 20])
    rng.shuffle(labels)
    prototypes = rng.normal(size=(3, 8)).astype(np.float32)
    features = prototypes[labels] + 0.5 * rng.normal(size=(N, 8)).astype(np.float32)
    return features, labels


# ------------------------------------------------------------- script (written once)
def define_dataset(torch, Dataset):
    class NoisyPoints(Dataset):
        def __init__(self, features, labels, augment=False):
            self.features, self.labels, self.augment = features, labels, augment

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, idx):
            x = torch.from_numpy(self.features[idx])
            if self.augment:  # jitter drawn from the worker's NumPy RNG
                x = x + torch.from_numpy(np.random.normal(0, 0.05, 8).astype(np.float32))
            return x, int(self.labels[idx]), idx

    return NoisyPoints


def run_training(torch, nn, data_utils, features, labels, epochs=4, init_state=None):
    DataLoader, Dataset = data_utils.DataLoader, data_utils.Dataset
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_cuda = device.type == "cuda"

    def seed_worker(worker_id):
        info = data_utils.get_worker_info()
        np.random.seed(info.seed % 2**32)
        random.seed(info.seed)

    dataset = define_dataset(torch, Dataset)(features, labels, augment=True)
    val_set = define_dataset(torch, Dataset)(features, labels)
    indices = list(range(len(dataset)))
    train_idx, val_idx = indices[N_VAL:], indices[:N_VAL]

    train_loader = DataLoader(
        dataset, batch_size=BATCH, sampler=data_utils.SubsetRandomSampler(train_idx),
        num_workers=2, pin_memory=True, worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(0))
    val_loader = DataLoader(data_utils.Subset(val_set, val_idx), batch_size=BATCH,
                            shuffle=False, num_workers=2, pin_memory=use_cuda)
    class_count = np.bincount(labels[train_idx])
    weights = torch.tensor([1.0 / class_count[labels[i]] for i in train_idx],
                           dtype=torch.double)
    balanced_loader = DataLoader(
        data_utils.Subset(dataset, train_idx), batch_size=BATCH,
        sampler=data_utils.WeightedRandomSampler(weights, num_samples=len(weights),
                                                 replacement=True),
        num_workers=2, worker_init_fn=seed_worker, generator=torch.Generator().manual_seed(0))

    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3)).to(device)
    if init_state is not None:
        model.load_state_dict(init_state)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def validate():
        model.eval()
        total, correct, loss_sum, seen = 0, 0, 0.0, []
        with torch.no_grad():
            for inputs, targets, idx in val_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                outputs = model(inputs)
                loss_sum += criterion(outputs, targets).item() * inputs.size(0)
                correct += (outputs.argmax(1) == targets).sum().item()
                total += targets.size(0)
                seen += idx.tolist()
        return loss_sum / total, correct / total, seen

    log = {"val": [validate()], "train": [], "visited": [], "balanced_labels": []}
    for epoch in range(epochs):
        model.train()
        running, visited = 0.0, []
        loader = train_loader if epoch % 2 == 0 else balanced_loader
        for batch_idx, (inputs, targets, idx) in enumerate(loader):
            inputs = inputs.to(device, non_blocking=True)
            targets = targets.to(device, non_blocking=True)
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            running += loss.item() * inputs.size(0)
            visited += idx.tolist()
            if loader is balanced_loader:
                log["balanced_labels"] += targets.tolist()
            if batch_idx % 3 == 0:
                print(f"epoch {epoch} [{batch_idx * len(inputs)}/{len(loader.sampler)}] "
                      f"loss: {loss.item():.4f}")
        log["train"].append(running / len(visited))
        log["visited"].append(visited)
        log["val"].append(validate())
        print(f"epoch {epoch}: val loss {log['val'][-1][0]:.4f}, acc {log['val'][-1][1]:.2%}")
    return model, log


# ------------------------------------------------------------- tests
def test_training_from_worker_processes_with_samplers():
    features, labels = _features_and_labels()
    torch.manual_seed(0)
    start = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3)).state_dict()
    with pytest.warns(UserWarning, match="pin_memory"):  # no accelerator: PyTorch warns too
        model, log = run_training(torch, nn, data_utils, features, labels, init_state=start)
    val_losses = [v[0] for v in log["val"]]
    assert_falls(val_losses, factor=0.5)
    assert log["val"][-1][1] > 0.9
    assert log["train"][-1] < log["train"][0]
    # every epoch of the subset sampler visits each training index once; the weighted
    # sampler draws with replacement, rare classes as often as common ones
    for epoch in (0, 2):
        assert sorted(log["visited"][epoch]) == list(range(N_VAL, N))
    assert np.bincount(log["balanced_labels"], minlength=3).min() >= 0.2 * 2 * (N - N_VAL)
    assert all(v[2] == list(range(N_VAL)) for v in log["val"])

    torch_ref = pytest.importorskip("torch")
    import torch.utils.data as ref_data_utils
    ref_init = {k: torch_ref.from_numpy(to_numpy(v)) for k, v in start.items()}
    with pytest.warns(UserWarning, match="pin_memory"):
        ref_model, ref_log = run_training(torch_ref, torch_ref.nn, ref_data_utils, features,
                                          labels, init_state=ref_init)
    # before training, the same weights see the same validation batches
    np.testing.assert_allclose(log["val"][0][:2], ref_log["val"][0][:2], rtol=1e-5)
    assert [v[2] for v in log["val"]] == [v[2] for v in ref_log["val"]]
    for epoch in (0, 2):
        assert sorted(ref_log["visited"][epoch]) == sorted(log["visited"][epoch])
    assert [len(v) for v in log["visited"]] == [len(v) for v in ref_log["visited"]]
    assert ref_log["val"][-1][0] < 0.5 * ref_log["val"][0][0]


def jitter_per_worker(torch, DataLoader, Dataset, features, labels):
    """The seeding recipe of PyTorch's reproducibility notes: each worker seeds NumPy and
    ``random`` from ``torch.initial_seed()``, the loader's generator fixes the seeds."""
    def seed_worker(worker_id):
        worker_seed = torch.initial_seed() % 2**32
        np.random.seed(worker_seed)
        random.seed(worker_seed)

    g = torch.Generator()
    g.manual_seed(0)
    loader = DataLoader(define_dataset(torch, Dataset)(features, labels, augment=True),
                        batch_size=8, num_workers=2, worker_init_fn=seed_worker, generator=g)
    return np.concatenate([to_numpy(x) for x, _, _ in loader]) - features


def test_workers_seeded_from_initial_seed():
    features, labels = _features_and_labels()
    first = jitter_per_worker(torch, DataLoader, Dataset, features, labels)
    again = jitter_per_worker(torch, DataLoader, Dataset, features, labels)
    np.testing.assert_array_equal(first, again)
    # batches 0, 2, ... come from worker 0 and 1, 3, ... from worker 1: seeded apart
    assert not np.allclose(first[:8], first[8:16])
    assert 0.03 < first.std() < 0.07
