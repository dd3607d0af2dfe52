"""A small residual network trained as image-classification scripts do it: BasicBlocks
with a 1x1 downsample shortcut, Kaiming-normal conv init and constant BatchNorm init by
``isinstance`` over ``self.modules()``, adaptive average pooling and ``torch.flatten``,
label-smoothed cross-entropy, SGD with Nesterov momentum and weight decay, a
``OneCycleLR`` schedule stepped per batch, accuracy from ``outputs.max(1)`` and
``predicted.eq(targets)``.  Run with ``import graphgrad as torch``; compared with PyTorch
step by step."""
import numpy as np
import pytest
from compat_utils import assert_falls, assert_same_state, to_numpy

import graphgrad as torch
import graphgrad.nn as nn
import graphgrad.nn.functional as F
import graphgrad.optim as optim
from graphgrad.utils.data import DataLoader, TensorDataset


# ------------------------------------------------------------- script (written once)
def define_resnet(nn, F, torch):
    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1,
                                   bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1,
                                   bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != self.expansion * planes:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride,
                              bias=False),
                    nn.BatchNorm2d(self.expansion * planes),
                )

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            return F.relu(out)

    class TinyResNet(nn.Module):
        def __init__(self, num_blocks=(1, 1), num_classes=3, width=8):
            super().__init__()
            self.in_planes = width
            self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.layer1 = self._make_layer(width, num_blocks[0], stride=1)
            self.layer2 = self._make_layer(2 * width, num_blocks[1], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(2 * width * BasicBlock.expansion, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, planes, num_blocks, stride):
            strides = [stride] + [1] * (num_blocks - 1)
            layers = []
            for s in strides:
                layers.append(BasicBlock(self.in_planes, planes, s))
                self.in_planes = planes * BasicBlock.expansion
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer2(self.layer1(x))
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            return self.fc(x)

    return TinyResNet


def train_and_test(torch, nn, optim, trainloader, testloader, net, epochs=6, sched='cosine'):
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    net = net.to(device)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4,
                          nesterov=True)
    if sched == 'onecycle':  # stepped after every batch
        scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs,
                                                  steps_per_epoch=len(trainloader))
    elif sched == 'warmup_cosine':  # stepped after every epoch
        warmup = optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=1)
        cosine = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs - 1)
        scheduler = optim.lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[1])
    else:
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    history, lrs, accs = [], [], []
    for epoch in range(epochs):
        net.train()
        train_loss, correct, total = 0, 0, 0
        for batch_idx, (inputs, targets) in enumerate(trainloader):
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            if sched == 'onecycle':
                scheduler.step()
            lrs.append(scheduler.get_last_lr()[0])
            train_loss += loss.item()
            _, predicted = outputs.max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
            history.append(loss.item())
            if batch_idx % 2 == 1:
                print('Epoch %d [%d/%d] | Loss: %.3f | Acc: %.3f%% (%d/%d)' % (  # noqa: UP031
                    epoch, batch_idx + 1, len(trainloader), train_loss / (batch_idx + 1),
                    100. * correct / total, correct, total))
        if sched != 'onecycle':
            scheduler.step()

        net.eval()
        correct, total = 0, 0
        with torch.no_grad():
            for inputs, targets in testloader:
                inputs, targets = inputs.to(device), targets.to(device)
                outputs = net(inputs)
                _, predicted = outputs.max(1)
                total += targets.size(0)
                correct += predicted.eq(targets).sum().item()
        accs.append(100. * correct / total)
    return history, lrs, accs


# ------------------------------------------------------------- data
def _images():
    """3-channel 8x8 images of three kinds: a bright row, a bright column, a bright
    diagonal, at random places, with noise."""
    rng = np.random.default_rng(0)
    n = 96
    labels = np.arange(n) % 3
    images = 0.3 * rng.normal(size=(n, 3, 8, 8)).astype(np.float32)
    for k, (label, pos) in enumerate(zip(labels, rng.integers(0, 8, size=n), strict=True)):
        if label == 0:
            images[k, :, pos, :] += 1.0
        elif label == 1:
            images[k, :, :, pos] += 1.0
        else:
            images[k, :, np.arange(8), np.roll(np.arange(8), pos)] += 1.0
    return images, labels


def _loaders(torch, DataLoader, TensorDataset, images, labels):
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    train = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=16, shuffle=False)
    test = DataLoader(TensorDataset(x[64:], y[64:]), batch_size=32, shuffle=False)
    return train, test


# ------------------------------------------------------------- tests
def _train(sched, epochs=6):
    images, labels = _images()
    torch.manual_seed(0)
    net = define_resnet(nn, F, torch)()
    start = {k: to_numpy(v) for k, v in net.state_dict().items()}
    history, lrs, accs = train_and_test(torch, nn, optim, *_loaders(
        torch, DataLoader, TensorDataset, images, labels), net, epochs, sched)
    return net, start, history, lrs, accs


def _train_reference(torch_ref, start, sched, epochs=6):
    from torch.utils.data import DataLoader as RefLoader
    from torch.utils.data import TensorDataset as RefDataset
    ref_net = define_resnet(torch_ref.nn, torch_ref.nn.functional, torch_ref)()
    ref_net.load_state_dict({k: torch_ref.from_numpy(v) for k, v in start.items()})
    images, labels = _images()
    return (ref_net,) + train_and_test(
        torch_ref, torch_ref.nn, torch_ref.optim,
        *_loaders(torch_ref, RefLoader, RefDataset, images, labels), ref_net, epochs, sched)


def test_resnet_with_cosine_schedule():
    net, start, history, lrs, accs = _train('cosine')
    conv = start["layer1.0.conv1.weight"]
    assert abs(conv.std() - np.sqrt(2.0 / (8 * 9))) < 0.03  # Kaiming, fan_out = 8 * 3 * 3
    assert np.all(start["bn1.weight"] == 1) and np.all(start["bn1.bias"] == 0)
    assert_falls(history, factor=0.7)
    assert accs[-1] > 80
    # per epoch: 0.025 (1 + cos(pi epoch / 6)); the last epoch runs at epoch 5's
    assert lrs[:4] == [0.05] * 4 and lrs[-1] == pytest.approx(0.025 * (1 - np.sqrt(0.75)))

    torch_ref = pytest.importorskip("torch")
    ref_net, ref_history, ref_lrs, ref_accs = _train_reference(torch_ref, start, 'cosine')
    np.testing.assert_allclose(lrs, ref_lrs, rtol=1e-12)
    np.testing.assert_allclose(history, ref_history, rtol=1e-4)
    assert accs == ref_accs
    assert_same_state(net, ref_net, rtol=1e-3, atol=1e-5)


def test_resnet_with_one_cycle_schedule():
    net, start, history, lrs, accs = _train('onecycle')
    assert max(lrs) == pytest.approx(0.1, rel=0.05) and min(lrs[-4:]) < 1e-3
    assert_falls(history, factor=0.8)

    torch_ref = pytest.importorskip("torch")
    ref_net, ref_history, ref_lrs, _ = _train_reference(torch_ref, start, 'onecycle')
    np.testing.assert_allclose(lrs, ref_lrs, rtol=1e-12)
    np.testing.assert_allclose(history, ref_history, rtol=1e-4)


def test_resnet_with_linear_warmup_then_cosine():
    net, start, history, lrs, accs = _train('warmup_cosine')
    assert lrs[0] == pytest.approx(0.005) and lrs[4] == pytest.approx(0.05)
    assert_falls(history, factor=0.8)

    torch_ref = pytest.importorskip("torch")
    ref_net, ref_history, ref_lrs, _ = _train_reference(torch_ref, start, 'warmup_cosine')
    np.testing.assert_allclose(lrs, ref_lrs, rtol=1e-12)
    np.testing.assert_allclose(history, ref_history, rtol=1e-4)


def test_torchvision_style_init_over_norm_layers():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    assert model[1].weight.tolist() == [1.0] * 4
