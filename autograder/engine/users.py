"""The unprivileged users that student code runs as, when the grader runs as root.

Each grader on a machine takes its own user (gs-student, gs-student1, ...) under an flock,
because the clean-up at the end kills every process of the user: two graders sharing one
would kill each other's workers.
"""
import fcntl
import os
import pwd
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

SANDBOX_USER = os.environ.get("AUTOGRADER_SANDBOX_USER", "gs-student")
SPARE_USERS = 8
LOCK_DIR = Path("/tmp/autograder-locks")   # fixed, not $TMPDIR: every grader must see the same locks


@dataclass
class SandboxUser:
    name: str
    uid: int
    gid: int
    lock_fd: int

    def release(self) -> None:
        os.close(self.lock_fd)


def ensure_user(name: str):
    """(uid, gid) of a sandbox user, creating it if needed (root only)."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", name],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise RuntimeError(f"sandbox user {name} is root")
    return entry.pw_uid, entry.pw_gid


def acquire_user(base: str = SANDBOX_USER) -> SandboxUser:
    """A sandbox user no other grader on this machine is using, held until release() (root only)."""
    try:
        LOCK_DIR.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(LOCK_DIR)
    if info.st_uid != 0 or info.st_mode & 0o777 != 0o700 or LOCK_DIR.is_symlink() or not LOCK_DIR.is_dir():
        raise RuntimeError(f"{LOCK_DIR} is not a root-only folder")
    for index in range(SPARE_USERS):
        name = base if index == 0 else f"{base}{index}"
        fd = os.open(LOCK_DIR / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        uid, gid = ensure_user(name)
        kill_user(uid, gid)         # anything a crashed earlier grader left behind
        return SandboxUser(name, uid, gid, fd)
    raise RuntimeError(f"all {SPARE_USERS} sandbox users are busy")


def _uid_of(pid: str) -> Optional[int]:
    """Real uid of a live process; None for zombies and gone ones."""
    uid = None
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("State:") and line.split()[1] in ("Z", "X"):
                    return None
                if line.startswith("Uid:"):
                    uid = int(line.split()[1])
    except OSError:
        return None
    return uid


def processes_of(uid: int) -> List[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and _uid_of(entry) == uid]


def kill_user(uid: int, gid: int, rounds: int = 50) -> None:
    """SIGKILL every process of `uid`, from a helper that became that user (kill(-1) reaches
    them all at once, fork bombs included), until none is left."""
    for _ in range(rounds):
        if not processes_of(uid):
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.02)
