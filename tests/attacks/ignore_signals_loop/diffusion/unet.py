
# ---- attack, appended to the reference unet.py by the harness --------------------------
# Attack: Attention.forward ignores every catchable signal a grader might use to stop it
# politely (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1/2, SIGALRM, SIGXCPU, SIGXFSZ,
# SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU), starts three helpers that do the same (named
# hw4atk-nosig), then waits mostly asleep (so a CPU limit does not end it) for at most
# 150 s. Expected: SIGKILL after the timeout; Attention scores 0; no helper survives;
# the other blocks keep their points.
import os as _hw4_os
import signal as _hw4_signal
import time as _hw4_time

_HW4_SIGNALS = [getattr(_hw4_signal, name) for name in (
    "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGXCPU", "SIGXFSZ", "SIGPIPE",
    "SIGTSTP", "SIGTTIN", "SIGTTOU") if hasattr(_hw4_signal, name)]


def _hw4_deaf(label):
    for sig in _HW4_SIGNALS:
        try:
            _hw4_signal.signal(sig, _hw4_signal.SIG_IGN)
        except (OSError, ValueError):
            pass
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, label, 0, 0, 0)
    except Exception:
        pass


def _hw4_wait(seconds):
    end = _hw4_time.monotonic() + seconds
    while _hw4_time.monotonic() < end:
        _hw4_time.sleep(0.05)


_Hw4Attention = Attention


class Attention(_Hw4Attention):
    def forward(self, x):
        _hw4_deaf(b"hw4atk-nosig")
        for _ in range(3):
            try:
                pid = _hw4_os.fork()
            except OSError:
                break
            if pid == 0:
                try:
                    _hw4_deaf(b"hw4atk-nosig")
                    _hw4_wait(150.0)
                finally:
                    _hw4_os._exit(0)
        _hw4_wait(150.0)
        return super().forward(x) + 1000.0
