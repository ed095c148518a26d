"""Attack: os._exit(0) while the module is imported: the process ends at once, with
status 0, running no handler and writing no output.

Expected: a crash for each case of schedules.py (0 points); the worker carries on.
"""
import os

os._exit(0)


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    import torch
    return torch.linspace(beta_start, beta_end, timesteps)


def cosine_beta_schedule(timesteps, s=0.008):
    import torch
    return torch.zeros(timesteps)
