"""The TA side's view of the process table (psutil): what a grading started, its memory, killing it.

The engine keeps its own kill sweep (engine/processes.py): psutil is not on Gradescope.
"""
import os
import time
from typing import Iterable, List, Optional, Tuple

import psutil


def tree(pid: int) -> List[psutil.Process]:
    """The process and everything below it (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_tree(pid: int, rounds: int = 20) -> None:
    """SIGKILL a process and everything below it, the deepest first, until nothing is left.
    This process's own children are left for their owner to reap (a subprocess.Popen keeps
    its return code: waiting here would reap them and make it read 0)."""
    for _ in range(rounds):
        processes = [process for process in tree(pid) if _state(process) not in (None, psutil.STATUS_ZOMBIE)]
        if not processes:
            return
        for process in reversed(processes):
            try:
                process.kill()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        others = [process for process in processes if _parent(process) != os.getpid()]
        psutil.wait_procs(others, timeout=0.5)
        if len(others) < len(processes):
            time.sleep(0.05)


def kill_all(processes: Iterable[psutil.Process]) -> None:
    """SIGKILL those of `processes` still running (psutil checks that a pid is still the process
    it named, not a new one)."""
    for process in processes:
        try:
            process.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def _state(process: psutil.Process) -> Optional[str]:
    try:
        return process.status()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _parent(process: psutil.Process) -> Optional[int]:
    try:
        return process.ppid()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def processes_of_users(uids: Iterable[int]) -> List[psutil.Process]:
    uids = set(uids)
    found = []
    for process in psutil.process_iter(["uids"]):
        try:
            if process.info["uids"] and process.info["uids"].real in uids:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def memory_of(processes: Iterable[psutil.Process]) -> Tuple[int, int]:
    """(summed RSS, largest RSS) in bytes of the live processes among `processes`."""
    total = largest = 0
    for process in processes:
        try:
            rss = process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += rss
        largest = max(largest, rss)
    return total, largest


def user_id(name: str) -> Optional[int]:
    import pwd
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None
