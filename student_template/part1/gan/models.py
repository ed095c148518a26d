"""Noise, discriminators and generators for MNIST GANs."""
import torch
from torch import nn

NOISE_DIM = 96


def sample_noise(batch_size, dim, generator=None):
    """Uniform noise on [-1, 1) of shape (batch_size, dim).

    Draw it with `generator` when one is given, so that results can be reproduced.
    """
    # TODO: scale torch.rand (drawn with `generator`) from [0, 1) to [-1, 1)
    raise NotImplementedError("sample_noise: not implemented yet (see the TODO above)")


class Discriminator(nn.Module):
    """Fully connected discriminator: (B, 1, 28, 28) or (B, 784) images to (B, 1) logits."""

    def __init__(self):
        super().__init__()
        # TODO: Flatten, Linear(784, 256), LeakyReLU(0.01), Linear(256, 256), LeakyReLU(0.01), Linear(256, 1)
        raise NotImplementedError("__init__: not implemented yet (see the TODO above)")

    def forward(self, x):
        # TODO: run the layers on x
        raise NotImplementedError("forward: not implemented yet (see the TODO above)")


class Generator(nn.Module):
    """Fully connected generator: (B, noise_dim) noise to (B, 784) images in [-1, 1]."""

    def __init__(self, noise_dim=NOISE_DIM):
        super().__init__()
        # TODO: Linear(noise_dim, 1024), ReLU, Linear(1024, 1024), ReLU, Linear(1024, 784), Tanh
        raise NotImplementedError("__init__: not implemented yet (see the TODO above)")

    def forward(self, z):
        # TODO: run the layers on z
        raise NotImplementedError("forward: not implemented yet (see the TODO above)")


class DCDiscriminator(nn.Module):
    """Convolutional discriminator: (B, 1, 28, 28) or (B, 784) images to (B, 1) logits."""

    def __init__(self):
        super().__init__()
        # TODO: two Conv2d(5x5) + LeakyReLU + MaxPool2d blocks, Flatten, Linear(1024, 1024), LeakyReLU, Linear(1024, 1)
        raise NotImplementedError("__init__: not implemented yet (see the TODO above)")

    def forward(self, x):
        # TODO: reshape x to (B, 1, 28, 28), then run the layers
        raise NotImplementedError("forward: not implemented yet (see the TODO above)")


class DCGenerator(nn.Module):
    """Convolutional generator (InfoGAN style): (B, noise_dim) noise to (B, 784) images."""

    def __init__(self, noise_dim=NOISE_DIM):
        super().__init__()
        # TODO: Linear, ReLU, BatchNorm1d(1024), Linear(1024, 6272), ReLU, BatchNorm1d, reshape to (B, 128, 7, 7), two ConvTranspose2d(4, stride 2, padding 1) blocks, Tanh, Flatten
        raise NotImplementedError("__init__: not implemented yet (see the TODO above)")

    def forward(self, z):
        # TODO: run the layers on z
        raise NotImplementedError("forward: not implemented yet (see the TODO above)")
