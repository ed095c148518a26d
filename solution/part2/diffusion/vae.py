"""The VAE's reparameterization trick and loss."""
import torch


def reparameterize(mu, logvar, eps=None):
    """A sample of N(mu, exp(logvar)) as mu + std * eps, differentiable in mu and logvar."""
    # BEGIN SOLUTION: std = exp(0.5 * logvar); draw eps like mu if none is given
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps
    # END SOLUTION


def kl_divergence(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over non-batch dimensions, averaged over the batch."""
    # BEGIN SOLUTION: -0.5 * sum(1 + logvar - mu^2 - exp(logvar)) per sample, then the batch mean
    per_sample = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).flatten(1).sum(dim=1)
    return per_sample.mean()
    # END SOLUTION


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    """Squared error summed per sample and averaged over the batch, plus beta times the KL term."""
    # BEGIN SOLUTION: per-sample sum of squared errors, batch mean, plus beta * kl_divergence
    reconstruction = (recon_x - x).pow(2).flatten(1).sum(dim=1).mean()
    return reconstruction + beta * kl_divergence(mu, logvar)
    # END SOLUTION
