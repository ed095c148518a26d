"""Attack: an endless busy loop at import (it gives up by itself after 150 s).

Expected: the first case of schedules.py times out at import and the others are not
waited for again; both schedules score 0; the whole run stays short.
"""
import time

_end = time.monotonic() + 150.0
_spins = 0
while time.monotonic() < _end:
    _spins += 1


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    import torch
    return torch.linspace(beta_start, beta_end, timesteps)


def cosine_beta_schedule(timesteps, s=0.008):
    import torch
    return torch.zeros(timesteps)
