"""The VAE's reparameterization trick and loss."""
import torch


def reparameterize(mu, logvar, eps=None):
    """A sample of N(mu, exp(logvar)) as mu + std * eps, differentiable in mu and logvar."""
    # TODO: std = exp(0.5 * logvar); draw eps like mu if none is given
    raise NotImplementedError("reparameterize: not implemented yet (see the TODO above)")


def kl_divergence(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over non-batch dimensions, averaged over the batch."""
    # TODO: -0.5 * sum(1 + logvar - mu^2 - exp(logvar)) per sample, then the batch mean
    raise NotImplementedError("kl_divergence: not implemented yet (see the TODO above)")


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    """Squared error summed per sample and averaged over the batch, plus beta times the KL term."""
    # TODO: per-sample sum of squared errors, batch mean, plus beta * kl_divergence
    raise NotImplementedError("vae_loss: not implemented yet (see the TODO above)")
