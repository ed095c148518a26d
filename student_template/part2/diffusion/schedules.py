"""Noise schedules: the betas of the forward process."""
import math

import torch


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    """Betas spaced evenly from beta_start to beta_end: float32, shape (timesteps,)."""
    # TODO: torch.linspace from beta_start to beta_end
    raise NotImplementedError("linear_beta_schedule: not implemented yet (see the TODO above)")


def cosine_beta_schedule(timesteps, s=0.008):
    """The cosine schedule of Nichol and Dhariwal: float32, shape (timesteps,), clipped to [1e-4, 0.9999]."""
    # TODO: alphas_cumprod from the squared cosine, betas from ratios of neighbours, then clip
    raise NotImplementedError("cosine_beta_schedule: not implemented yet (see the TODO above)")
