"""Attack: outputs of the right type, shape and dtype but full of NaN or inf (and still
attached to autograd), which slip through comparisons that forget non-finite values
(NaN compares false both ways; inf - inf is NaN).

Expected: all three functions score 0; nothing else changes.
"""
import torch


def reparameterize(mu, logvar, eps=None):
    if eps is None:
        eps = torch.randn_like(mu)
    return (mu + torch.exp(0.5 * logvar) * eps) * float("nan")


def kl_divergence(mu, logvar):
    return (mu.sum() + logvar.sum()) * 0 + float("inf")


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    return (recon_x.sum() + mu.sum() + logvar.sum()) * float("nan")
