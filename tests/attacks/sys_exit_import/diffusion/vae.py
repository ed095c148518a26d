"""Attack: sys.exit(0) while the module is imported, before anything is defined.

Expected: an import error (SystemExit is caught like any exception); vae.py scores 0.
"""
import sys

sys.exit(0)


def reparameterize(mu, logvar, eps=None):
    return mu


def kl_divergence(mu, logvar):
    return mu.sum()


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    return recon_x.sum()
