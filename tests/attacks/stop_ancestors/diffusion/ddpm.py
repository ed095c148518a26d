
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: freeze the grader. make_schedule sends SIGSTOP (and SIGTSTP) to its parent (the
# worker), to its ancestors, and to every process whose command line names the grading
# root or the sandbox folder (only this grading's processes: nothing above run_autograder),
# then returns a wrong schedule after two seconds. A grader waiting on a stopped process
# would hang. Expected: the trusted grader cannot be stopped; the stopped worker is
# killed and restarted; make_schedule scores 0, everything else keeps its points.
import os as _hw4_os
import signal as _hw4_signal
import sys as _hw4_sys
import time as _hw4_time

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


def make_schedule(betas):
    results = {}
    for pid in _hw4_victims():
        for sig in (_hw4_signal.SIGSTOP, _hw4_signal.SIGTSTP):
            try:
                _hw4_os.kill(pid, sig)
                results[pid] = "stopped"
            except OSError as error:
                results.setdefault(pid, repr(error))
    print("stop results:", results)
    _hw4_time.sleep(2.0)
    wrong = torch.full_like(betas, 0.5)
    return {key: wrong.clone() for key in ("betas", "alphas", "alphas_cumprod", "alphas_cumprod_prev",
                                          "sqrt_recip_alphas", "sqrt_alphas_cumprod",
                                          "sqrt_one_minus_alphas_cumprod", "posterior_variance")}
