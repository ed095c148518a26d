"""Finding and killing processes: the engine's own kill sweep.

Trees are read from /proc/<pid>/task/<tid>/children, so a sweep costs a few reads of the
processes concerned, not a walk over every process of the machine; a process that is a
child subreaper keeps every orphan of its tree below it, daemons included.
"""
import os
import signal
import time
from typing import Callable, Iterable, List, Optional

PR_SET_CHILD_SUBREAPER = 36
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def become_subreaper() -> bool:
    """Orphans of this process's descendants are re-parented to it, not to init."""
    import ctypes
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def cpu_seconds(pid: int) -> float:
    """CPU time a live process has used, user and system (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS      # utime and stime, fields 14 and 15


# A wall-clock cap is for code that waits instead of computing. Time a process spends runnable but
# waiting for a CPU (another process's work, or a CPU quota's throttling) is not counted against it,
# up to this many times the cap in real time: on a machine busy with other work a correct case is
# not stopped for waiting its turn, and one that is starved of a CPU still ends.
CPU_WAIT_STRETCH = 3.0


def cpu_wait_seconds(pid: int) -> Optional[float]:
    """Time the main thread of a live process has spent runnable but waiting for a CPU (the
    kernel's schedstat run_delay); None where the kernel does not keep it or the process is gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as handle:
            return int(handle.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class WallClock:
    """The wall-clock time of a process since this was made, less the time it waited for a CPU."""

    def __init__(self, pid: int):
        self.pid, self.started = pid, time.monotonic()
        self.waited_before = self.waited_last = cpu_wait_seconds(pid) or 0.0

    def real(self) -> float:
        return time.monotonic() - self.started

    def counted(self) -> float:
        waited = cpu_wait_seconds(self.pid)
        if waited is not None:          # once it is gone, what it waited last stays deducted
            self.waited_last = max(waited, self.waited_last)
        return self.real() - (self.waited_last - self.waited_before)

    def follow(self, pid: int) -> None:
        """Go on timing `pid`, which carries on the work of the process timed so far (that one has
        ended: its waits stop growing). What the first waited stays deducted; the clock runs on."""
        self.counted()                  # the last reading of the first process's waits
        self.waited_before -= self.waited_last
        self.pid = pid
        self.waited_last = cpu_wait_seconds(pid) or 0.0
        self.waited_before += self.waited_last

    def over(self, cap: float) -> bool:
        """Past `cap` seconds not spent waiting for a CPU, or past CPU_WAIT_STRETCH times it in all."""
        return self.real() >= cap * CPU_WAIT_STRETCH or self.counted() >= cap


def children_of(pid: int) -> List[int]:
    """Live children of `pid`, those of every thread."""
    found: List[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return found


def descendants_of(pid: int) -> List[int]:
    found, stack = [], [pid]
    while stack:
        for child in children_of(stack.pop()):
            found.append(child)
            stack.append(child)
    return found


def kill_until_gone(find_pids: Callable[[], Iterable[int]], rounds: int = 50, pause: float = 0.01) -> bool:
    """SIGKILL whatever find_pids() returns until it returns nothing; False if `rounds` ran out.
    For processes that are not this one's children (another user's, found by walking /proc)."""
    for _ in range(rounds):
        pids = list(find_pids())
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(pause)
    return False


def kill_descendants(keep: Iterable[int] = (), rounds: int = 100) -> bool:
    """SIGKILL every descendant of this process but the children in `keep` (and theirs), and
    reap its direct children among them. Repeated, because what is killed may have forked
    meanwhile, and orphans come back here (when this process is a subreaper) as new children."""
    keep = set(keep)
    me = os.getpid()
    for _ in range(rounds):
        direct = [pid for pid in children_of(me) if pid not in keep]
        if not direct:
            return True
        tree, stack = [], list(direct)
        while stack:
            pid = stack.pop()
            tree.append(pid)
            stack.extend(children_of(pid))
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in direct:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return False


# /proc/sysvipc/<kind>: the columns of the owner's and the creator's uid (the owner can be changed).
SYSV_IPC_UIDS = {"shm": (7, 9), "msg": (7, 9), "sem": (4, 6)}


def remove_sysv_ipc(uid=None) -> None:
    """Remove the System V IPC objects (shared memory, message queues, semaphores) that `uid` made
    or owns, or every one this process can see (uid None: inside the sandbox's IPC namespace, all
    are the sandbox's). They outlive their processes: left alone, a later case would find them."""
    import ctypes
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    ipc_rmid = 0
    remove = {"shm": lambda ident: libc.shmctl(ident, ipc_rmid, None),
              "msg": lambda ident: libc.msgctl(ident, ipc_rmid, None),
              "sem": lambda ident: libc.semctl(ident, 0, ipc_rmid)}
    for kind, columns in SYSV_IPC_UIDS.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as handle:
                rows = [line.split() for line in handle.readlines()[1:]]
        except OSError:
            continue
        for row in rows:
            try:
                if uid is None or any(int(row[column]) == uid for column in columns):
                    remove[kind](int(row[1]))
            except (IndexError, ValueError):
                continue
