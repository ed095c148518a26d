
# ---- attack, appended to the reference schedules.py by the harness ---------------------
# Attack: leave System V IPC objects behind for later cases (and after grading): they are
# not files, so no folder sweep removes them, and they outlive the process that made them.
# linear_beta_schedule (graded first) answers right, and makes a shared memory segment, a
# message queue and a semaphore set that any user may open (mode 666), with keys derived
# from this run's tag. vae.py (graded last) looks for them: a later function that sees them
# answers right where it should not. Expected: none survives its case; linear_beta_schedule
# keeps its points, reparameterize scores 0, kl_divergence keeps its points; none is left in
# the machine's IPC namespace after grading.
import ctypes as _hw4_ctypes

_HW4_TAG = "@@TAG@@"
_HW4_IPC_KEY = (int(_HW4_TAG[1:8], 16) << 2) if len(_HW4_TAG) == 11 else 0x48770000


def _hw4_leave_ipc():
    libc = _hw4_ctypes.CDLL(None, use_errno=True)
    create = 0o1666                             # IPC_CREAT, readable and writable by every user
    made = {"shm": libc.shmget(_HW4_IPC_KEY, 4096, create), "msg": libc.msgget(_HW4_IPC_KEY + 1, create),
            "sem": libc.semget(_HW4_IPC_KEY + 2, 1, create)}
    return [kind for kind, ident in made.items() if ident >= 0]


_hw4_linear_beta_schedule = linear_beta_schedule


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    print("left:", _hw4_leave_ipc())
    return _hw4_linear_beta_schedule(timesteps, beta_start, beta_end)
