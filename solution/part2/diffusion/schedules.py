"""Noise schedules: the betas of the forward process."""
import math

import torch


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    """Betas spaced evenly from beta_start to beta_end: float32, shape (timesteps,)."""
    # BEGIN SOLUTION: torch.linspace from beta_start to beta_end
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float32)
    # END SOLUTION


def cosine_beta_schedule(timesteps, s=0.008):
    """The cosine schedule of Nichol and Dhariwal: float32, shape (timesteps,), clipped to [1e-4, 0.9999]."""
    # BEGIN SOLUTION: alphas_cumprod from the squared cosine, betas from ratios of neighbours, then clip
    steps = timesteps + 1
    x = torch.linspace(0, timesteps, steps, dtype=torch.float32)
    f = torch.cos(((x / timesteps) + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas_cumprod = f / f[0]
    betas = 1 - (alphas_cumprod[1:] / alphas_cumprod[:-1])
    return torch.clip(betas, 0.0001, 0.9999)
    # END SOLUTION
