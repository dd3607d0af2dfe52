"""A DCGAN as the usual tutorial writes it: generator of transposed convolutions and
discriminator of strided convolutions, ``weights_init`` applied with ``model.apply``
through ``m.weight.data``, BCELoss, Adam(betas=(0.5, 0.999)), labels from ``torch.full``
on the script's device, the discriminator step on ``fake.detach()``.  Run with
``import graphgrad as torch``; compared step by step with PyTorch."""
import numpy as np
import pytest
from compat_utils import assert_falls, assert_same_state, to_numpy

import graphgrad as torch
import graphgrad.nn as nn
import graphgrad.optim as optim
from graphgrad.utils.data import DataLoader, TensorDataset

NZ, NGF, NDF, NC = 8, 8, 8, 1  # latent size, generator / discriminator widths, channels


# ------------------------------------------------------------- script (written once)
def build_gan(torch, nn, ngpu=1):
    device = torch.device("cuda:0" if (torch.cuda.is_available() and ngpu > 0) else "cpu")

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find('Conv') != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find('BatchNorm') != -1:
            m.weight.data.normal_(1.0, 0.02)
            m.bias.data.fill_(0)

    class Generator(nn.Module):
        def __init__(self, ngpu):
            super().__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # latent Z, going into a transposed convolution: (NGF*4) x 4 x 4
                nn.ConvTranspose2d(NZ, NGF * 4, 4, 1, 0, bias=False),
                nn.BatchNorm2d(NGF * 4),
                nn.ReLU(True),
                # (NGF*2) x 8 x 8
                nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(NGF * 2),
                nn.ReLU(True),
                # NC x 16 x 16
                nn.ConvTranspose2d(NGF * 2, NC, 4, 2, 1, bias=False),
                nn.Tanh(),
            )

        def forward(self, input):
            return self.main(input)

    class Discriminator(nn.Module):
        def __init__(self, ngpu):
            super().__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # NC x 16 x 16 -> NDF x 8 x 8
                nn.Conv2d(NC, NDF, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                # (NDF*2) x 4 x 4
                nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(NDF * 2),
                nn.LeakyReLU(0.2, inplace=True),
                # 1 x 1 x 1
                nn.Conv2d(NDF * 2, 1, 4, 1, 0, bias=False),
                nn.Sigmoid(),
            )

        def forward(self, input):
            output = self.main(input)
            return output.view(-1, 1).squeeze(1)

    netG = Generator(ngpu).to(device)
    if (device.type == 'cuda') and (ngpu > 1):
        netG = nn.DataParallel(netG, list(range(ngpu)))
    netG.apply(weights_init)
    netD = Discriminator(ngpu).to(device)
    if (device.type == 'cuda') and (ngpu > 1):
        netD = nn.DataParallel(netD, list(range(ngpu)))
    netD.apply(weights_init)
    return device, netG, netD


def train_gan(torch, nn, optim, device, netG, netD, dataloader, noises, lr=0.0002,
              num_epochs=1):
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(4, NZ, 1, 1, device=device)
    real_label = 1.
    fake_label = 0.
    optimizerD = optim.Adam(netD.parameters(), lr=lr, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=lr, betas=(0.5, 0.999))

    G_losses, D_losses = [], []
    for epoch in range(num_epochs):
        for i, data in enumerate(dataloader, 0):
            # (1) Update D: maximise log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real_cpu = data[0].to(device)
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), real_label, dtype=torch.float, device=device)
            output = netD(real_cpu)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()

            noise = torch.from_numpy(noises[i]).to(device)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            # (2) Update G: maximise log(D(G(z)))
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()

            print('[%d/%d][%d/%d]\tLoss_D: %.4f\tLoss_G: %.4f'  # noqa: UP031 (tutorial style)
                  '\tD(x): %.4f\tD(G(z)): %.4f / %.4f'
                  % (epoch, num_epochs, i, len(dataloader),
                     errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
            G_losses.append(errG.item())
            D_losses.append(errD.item())

    netG.eval()
    with torch.no_grad():
        samples = netG(fixed_noise).detach().cpu()
    netG.train()
    return D_losses, G_losses, samples


# ------------------------------------------------------------- data
def _images_and_noise(n=160, batch=16):
    """Bright squares at random places on a dark 16x16 canvas, in [-1, 1]; one latent
    batch per step."""
    rng = np.random.default_rng(0)
    images = -np.ones((n, 1, 16, 16), np.float32)
    for k, (r, c) in enumerate(rng.integers(0, 11, size=(n, 2))):
        images[k, 0, r:r + 6, c:c + 6] = 1.0
    noises = [rng.normal(size=(batch, NZ, 1, 1)).astype(np.float32) for _ in range(n // batch)]
    return images, noises


def _run(torch, nn, optim, DataLoader, TensorDataset, images, noises, init=None):
    device, netG, netD = build_gan(torch, nn)
    if init is not None:
        init(netG, netD)
    start = {"G": {k: to_numpy(v) for k, v in netG.state_dict().items()},
             "D": {k: to_numpy(v) for k, v in netD.state_dict().items()}}
    loader = DataLoader(TensorDataset(torch.from_numpy(images)), batch_size=16, shuffle=False)
    d_losses, g_losses, samples = train_gan(torch, nn, optim, device, netG, netD, loader, noises)
    return start, netG, netD, d_losses, g_losses, samples


# ------------------------------------------------------------- tests
def test_dcgan_weights_init_and_training_steps():
    images, noises = _images_and_noise()
    torch.manual_seed(0)
    start, netG, netD, d_losses, g_losses, samples = _run(
        torch, nn, optim, DataLoader, TensorDataset, images, noises)

    # weights_init reached every conv and batch-norm layer through .data
    for name, value in {**start["G"], **start["D"]}.items():
        if value.ndim == 4:
            assert abs(value.std() - 0.02) < 0.004, name
        elif name.endswith("weight"):
            assert abs(value.mean() - 1.0) < 0.02 and 0 < value.std() < 0.04, name
        elif name.endswith("bias"):
            assert np.all(value == 0), name
    assert samples.shape == (4, NC, 16, 16) and samples.requires_grad is False
    assert np.all(np.abs(samples.numpy()) <= 1)
    # the discriminator learns to tell the squares from the generator's first attempts
    assert_falls(d_losses)
    assert np.all(np.isfinite(g_losses))

    torch_ref = pytest.importorskip("torch")

    def same_start(ref_G, ref_D):
        ref_G.load_state_dict({k: torch_ref.from_numpy(v) for k, v in start["G"].items()})
        ref_D.load_state_dict({k: torch_ref.from_numpy(v) for k, v in start["D"].items()})

    from torch.utils.data import DataLoader as RefLoader
    from torch.utils.data import TensorDataset as RefDataset
    _, ref_G, ref_D, ref_d, ref_g, _ = _run(torch_ref, torch_ref.nn, torch_ref.optim,
                                             RefLoader, RefDataset, images, noises, same_start)
    np.testing.assert_allclose(d_losses, ref_d, rtol=2e-4)
    np.testing.assert_allclose(g_losses, ref_g, rtol=2e-4)
    assert_same_state(netG, ref_G, rtol=1e-3, atol=1e-5)
    assert_same_state(netD, ref_D, rtol=1e-3, atol=1e-5)
