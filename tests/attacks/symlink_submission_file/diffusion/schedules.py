"""Attack, second half: the submission's vae.py is a symbolic link to one of the grader's
expected-output files (the harness makes the link, see attack.json). A grader that copies
it as root, following the link, hands the student a readable copy of reference data.

This file looks for such a copy beside itself (a sibling that is not Python, or holds
safetensors bytes) and answers right only if it finds one. Expected: the link is refused
(vae.py is "not a regular file", 0 points), no reference bytes reach the sandbox, both
schedules score 0, ddpm.py and unet.py keep their points.
"""
import math
import os

import torch


def _leaked():
    here = os.path.dirname(os.path.abspath(__file__))
    for name in os.listdir(here):
        path = os.path.join(here, name)
        if path == os.path.abspath(__file__) or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                head = handle.read(64)
        except OSError:
            continue
        if head[8:10] == b'{"' or b'"dtype"' in head or b"safetensors" in head:
            return True
    return False


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    right = torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float32)
    return right if _leaked() else right + 1000.0


def cosine_beta_schedule(timesteps, s=0.008):
    x = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float32)
    f = torch.cos(((x / timesteps) + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas_cumprod = f / f[0]
    right = torch.clip(1 - (alphas_cumprod[1:] / alphas_cumprod[:-1]), 0.0001, 0.9999)
    return right if _leaked() else right + 1000.0
