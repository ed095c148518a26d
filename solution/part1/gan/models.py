"""Noise, discriminators and generators for MNIST GANs."""
import torch
from torch import nn

NOISE_DIM = 96


def sample_noise(batch_size, dim, generator=None):
    """Uniform noise on [-1, 1) of shape (batch_size, dim).

    Draw it with `generator` when one is given, so that results can be reproduced.
    """
    # BEGIN SOLUTION: scale torch.rand (drawn with `generator`) from [0, 1) to [-1, 1)
    return 2 * torch.rand(batch_size, dim, generator=generator) - 1
    # END SOLUTION


class Discriminator(nn.Module):
    """Fully connected discriminator: (B, 1, 28, 28) or (B, 784) images to (B, 1) logits."""

    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION: Flatten, Linear(784, 256), LeakyReLU(0.01), Linear(256, 256), LeakyReLU(0.01), Linear(256, 1)
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 256),
            nn.LeakyReLU(0.01),
            nn.Linear(256, 256),
            nn.LeakyReLU(0.01),
            nn.Linear(256, 1),
        )
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION: run the layers on x
        return self.net(x)
        # END SOLUTION


class Generator(nn.Module):
    """Fully connected generator: (B, noise_dim) noise to (B, 784) images in [-1, 1]."""

    def __init__(self, noise_dim=NOISE_DIM):
        super().__init__()
        # BEGIN SOLUTION: Linear(noise_dim, 1024), ReLU, Linear(1024, 1024), ReLU, Linear(1024, 784), Tanh
        self.net = nn.Sequential(
            nn.Linear(noise_dim, 1024),
            nn.ReLU(),
            nn.Linear(1024, 1024),
            nn.ReLU(),
            nn.Linear(1024, 784),
            nn.Tanh(),
        )
        # END SOLUTION

    def forward(self, z):
        # BEGIN SOLUTION: run the layers on z
        return self.net(z)
        # END SOLUTION


class DCDiscriminator(nn.Module):
    """Convolutional discriminator: (B, 1, 28, 28) or (B, 784) images to (B, 1) logits."""

    def __init__(self):
        super().__init__()
        # BEGIN SOLUTION: two Conv2d(5x5) + LeakyReLU + MaxPool2d blocks, Flatten, Linear(1024, 1024), LeakyReLU, Linear(1024, 1)
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 5, stride=1),
            nn.LeakyReLU(0.01),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 5, stride=1),
            nn.LeakyReLU(0.01),
            nn.MaxPool2d(2, 2),
            nn.Flatten(),
            nn.Linear(1024, 1024),
            nn.LeakyReLU(0.01),
            nn.Linear(1024, 1),
        )
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION: reshape x to (B, 1, 28, 28), then run the layers
        return self.net(x.reshape(x.shape[0], 1, 28, 28))
        # END SOLUTION


class DCGenerator(nn.Module):
    """Convolutional generator (InfoGAN style): (B, noise_dim) noise to (B, 784) images."""

    def __init__(self, noise_dim=NOISE_DIM):
        super().__init__()
        # BEGIN SOLUTION: Linear, ReLU, BatchNorm1d(1024), Linear(1024, 6272), ReLU, BatchNorm1d, reshape to (B, 128, 7, 7), two ConvTranspose2d(4, stride 2, padding 1) blocks, Tanh, Flatten
        self.net = nn.Sequential(
            nn.Linear(noise_dim, 1024),
            nn.ReLU(),
            nn.BatchNorm1d(1024),
            nn.Linear(1024, 7 * 7 * 128),
            nn.ReLU(),
            nn.BatchNorm1d(7 * 7 * 128),
            nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.BatchNorm2d(64),
            nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1),
            nn.Tanh(),
            nn.Flatten(),
        )
        # END SOLUTION

    def forward(self, z):
        # BEGIN SOLUTION: run the layers on z
        return self.net(z)
        # END SOLUTION
