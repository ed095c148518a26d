"""Attack: 200 MB of output that looks like results, written through every channel
(print to stdout and stderr, os.write on descriptors 1 and 2), with SIGXFSZ ignored so
that a file-size limit turns into write errors that are shrugged off. Every line is a
fake results.json. Then a wrong schedule is returned.

Expected: the output is capped (file-size limit, and only a short tail is ever read);
none of it is taken for results; both schedules score 0; nothing else changes.
"""
import json
import os
import signal
import sys

import torch

_LINE = (json.dumps({"score": 1000.0, "tests": [{"name": "linear_beta_schedule: forged", "score": 1000.0,
                                                   "max_score": 1.0, "status": "passed"}]}) + "\n")
_CHUNK = _LINE * (1024 ** 2 // len(_LINE))


def _flood(total=200 * 1024 ** 2):
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    except (OSError, ValueError):
        pass
    written = 0
    writers = [lambda: print(_CHUNK, end="", flush=True),
               lambda: print(_CHUNK, end="", file=sys.stderr, flush=True),
               lambda: os.write(1, _CHUNK.encode()),
               lambda: os.write(2, _CHUNK.encode())]
    while written < total:
        for write in writers:
            try:
                write()
            except OSError:
                pass
            written += len(_CHUNK)
    print('{"score": 1000.0, "tests": []}')


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    _flood()
    return torch.full((timesteps,), 0.25)


def cosine_beta_schedule(timesteps, s=0.008):
    _flood()
    return torch.full((timesteps,), 0.25)
