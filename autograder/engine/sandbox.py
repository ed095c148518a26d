"""Run the worker as an unprivileged user, with limits, and kill everything it leaves.

Trusted side. As root (Gradescope), the worker runs as a dedicated user created on
demand; every process of that user is killed after a timeout and at the end. Not
as root (a TA's laptop), it runs as the same user with the same limits, and the
grader says that this is no security boundary.
"""
import fcntl
import json
import os
import pwd
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

SANDBOX_USER = os.environ.get("AUTOGRADER_SANDBOX_USER", "gs-student")
SPARE_USERS = 8                 # concurrent graders on one machine each take their own user
LOCK_DIR = Path("/tmp/autograder-locks")   # fixed, not $TMPDIR: every grader must see the same locks
MAX_PROTOCOL_LINE = 4096
WORKER_START_TIMEOUT = 90.0     # importing torch on half a CPU


@dataclass(frozen=True)
class Limits:
    address_space: int = 1536 * 1024 ** 2   # torch alone maps ~640 MB of address space
    processes: int = 64                      # per user: only enforced with a dedicated user
    file_size: int = 16 * 1024 ** 2
    open_files: int = 256


@dataclass(frozen=True)
class Outcome:
    """How a case's run ended, as seen from outside the worker."""

    finished: bool          # the child ended by itself (its status file says how)
    timed_out: bool
    exit_code: Optional[int]
    signal: Optional[int]
    seconds: float


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


def acquire_user(base: str = SANDBOX_USER):
    """A sandbox user no other grader on this machine is using, and the lock that holds it.

    Graders that share a user would kill each other's workers (every process of the
    user is killed after a timeout), so each takes an flock on the user's lock file.
    Returns None when not root: then there is no user to switch to.
    """
    if os.geteuid() != 0:
        return None
    lock_dir = LOCK_DIR
    try:
        lock_dir.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(lock_dir)
    if info.st_uid != 0 or info.st_mode & 0o777 != 0o700 or not os.path.isdir(lock_dir) or lock_dir.is_symlink():
        raise RuntimeError(f"{lock_dir} is not a root-only folder")
    for index in range(SPARE_USERS):
        name = base if index == 0 else f"{base}{index}"
        fd = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        uid, gid = ensure_user(name)
        kill_user(uid, gid)         # anything a crashed earlier grader left behind
        return name, uid, gid, fd
    raise RuntimeError(f"all {SPARE_USERS} sandbox users are busy")


def _proc_entries():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def _uid_of(pid: int) -> Optional[int]:
    """Real uid of a live process; None for zombies (already dead, waiting to be reaped) and gone ones."""
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
    return [pid for pid in _proc_entries() if _uid_of(pid) == uid]


def descendants(root: int) -> List[int]:
    """Every live process below `root` (by parent pid)."""
    children = {}
    for pid in _proc_entries():
        try:
            with open(f"/proc/{pid}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


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


def kill_until_gone(find_pids, rounds: int, pause: float) -> bool:
    """SIGKILL whatever find_pids() returns until it returns nothing; False if `rounds` ran out."""
    for _ in range(rounds):
        pids = find_pids()
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(pause)
    return False


def kill_tree(root: int, include_root: bool) -> None:
    def live():
        pids = descendants(root) + ([root] if include_root else [])
        return [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
    kill_until_gone(live, rounds=10, pause=0.02)


class Sandbox:
    """A scratch folder, the worker process in it, and the means to run cases and clean up."""

    def __init__(self, table: str, runner_files: List[Tuple[Path, str]], inputs: List[Path], package_dir: Optional[Path],
                 package: str, graded_files: List[str], limits: Limits = Limits(), python: str = sys.executable):
        self.table, self.limits, self.python = table, limits, python
        held = acquire_user()
        self.user, self.ids, self._lock = (held[0], held[1:3], held[3]) if held else (None, None, None)
        self.uid = self.ids[0] if self.ids else None
        self.root = Path(tempfile.mkdtemp(prefix="autograder-"))
        os.chmod(self.root, 0o711)
        self.runner, self.inputs, self.submission = self.root / "runner", self.root / "inputs", self.root / "submission"
        self.home, self.out = self.root / "home", self.root / "out"
        for folder in (self.runner, self.inputs, self.submission, self.home, self.out):
            folder.mkdir(mode=0o755)
        self._copy_runner(runner_files)
        for path in inputs:
            shutil.copyfile(path, self.inputs / path.name)
        self.copied = self._copy_submission(package_dir, package, graded_files)
        if self.ids:
            os.chown(self.home, *self.ids)
            os.chmod(self.home, 0o700)
            os.chown(self.out, *self.ids)
            os.chmod(self.out, 0o700)
        for path in self.root.rglob("*"):
            if path.is_file():
                os.chmod(path, 0o644)
        self.out_fd = os.open(self.out, os.O_RDONLY | os.O_DIRECTORY)
        self.process = None
        self.log = self.root / "worker.log"
        self.notes: List[str] = []

    # -- set-up ---------------------------------------------------------------
    def _copy_runner(self, runner_files: List[Tuple[Path, str]]) -> None:
        """The autograder package files the worker needs, at their package paths."""
        for path, rel in runner_files:
            dest = self.runner / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)

    def _copy_submission(self, package_dir: Optional[Path], package: str, graded_files: List[str]) -> dict:
        """Copy only the graded files, as regular files; returns {file: None or why it was not copied}."""
        dest_pkg = self.submission / package
        dest_pkg.mkdir()
        (dest_pkg / "__init__.py").write_text("")
        problems = {}
        for rel in graded_files:
            name = rel.split("/", 1)[1]
            source = package_dir / name if package_dir else None
            if source is None or not os.path.lexists(source):
                problems[rel] = f"{rel} is missing from the submission"
                continue
            info = os.lstat(source)
            if not (info.st_mode & 0o170000 == 0o100000):
                problems[rel] = f"{rel} is not a regular file (a link or a folder?); submit the file itself"
                continue
            if info.st_size > 2 * 1024 ** 2:
                problems[rel] = f"{rel} is larger than 2 MB"
                continue
            with open(source, "rb") as handle:
                data = handle.read(2 * 1024 ** 2 + 1)
            (dest_pkg / name).write_bytes(data)
            problems[rel] = None
        return problems

    def _preexec(self):
        limits = self.limits
        resource.setrlimit(resource.RLIMIT_AS, (limits.address_space, limits.address_space))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self.uid is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        try:
            with open("/proc/self/oom_score_adj", "w") as handle:
                handle.write("1000")    # under memory pressure, the worker goes first
        except OSError:
            pass

    # -- the worker -----------------------------------------------------------
    def start(self) -> None:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.home), "TMPDIR": str(self.home), "LANG": "C.UTF-8",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        command = [self.python, "-I", str(self.runner / "autograder" / "engine" / "worker.py"),
                   "--table", self.table, "--runner", str(self.runner), "--submission", str(self.submission),
                   "--inputs", str(self.inputs), "--out", str(self.out)]
        log = open(self.log, "ab")
        kwargs = {}
        if self.ids:
            kwargs = {"user": self.ids[0], "group": self.ids[1], "extra_groups": []}
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                        cwd=self.home, env=env, start_new_session=True,
                                        preexec_fn=self._preexec, close_fds=True, **kwargs)
        log.close()
        self._buffer = b""
        reply = self._read_reply(WORKER_START_TIMEOUT)
        if not reply or not reply.get("ready"):
            tail = self.log.read_bytes()[-1500:].decode(errors="replace")
            self.stop()
            raise RuntimeError(f"the grading worker did not start:\n{tail}")

    def _read_reply(self, timeout: float) -> Optional[dict]:
        """One protocol line within `timeout`, or None (timeout, end of file, garbage)."""
        deadline = time.monotonic() + timeout
        stream = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or len(self._buffer) > MAX_PROTOCOL_LINE:
                return None
            ready, _, _ = select.select([stream], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(stream, 4096)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def run(self, case_id: str, timeout: float) -> Outcome:
        """Run one case in a fresh child of the worker; kill it at `timeout` seconds."""
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self.start()
        started = time.monotonic()
        cpu = max(1, int(timeout + 0.999))
        try:
            self.process.stdin.write((json.dumps({"case": case_id, "cpu": cpu}) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            self.stop()
            return Outcome(False, False, None, None, 0.0)
        reply = self._read_reply(timeout + 0.2)     # + the fork and the file writes
        seconds = time.monotonic() - started
        if reply is not None and reply.get("case") == case_id:
            self.clean_up_strays()
            return Outcome(True, False, reply.get("exit"), reply.get("signal"), seconds)
        # Too slow, or the worker broke: kill the case's processes; keep the worker if it answers.
        kill_tree(self.process.pid, include_root=False)
        if self.uid is not None:
            self._kill_user_except_worker()
        reply = self._read_reply(2.0) if self.process is not None else None
        if reply is None or reply.get("case") != case_id:
            self.stop()
        return Outcome(False, True, None, None, seconds)

    def clean_up_strays(self) -> None:
        """Kill what a finished case left behind (daemons, threads' children): not the worker."""
        if self.uid is not None:
            self._kill_user_except_worker()
        else:
            kill_tree(self.process.pid, include_root=False)

    def _kill_user_except_worker(self) -> None:
        worker = self.process.pid
        if not kill_until_gone(lambda: [pid for pid in processes_of(self.uid) if pid != worker], rounds=20, pause=0.01):
            self.stop()     # a fork bomb outpaces one-by-one kills: take everything, the worker included

    def stop(self) -> None:
        """Kill the worker and everything it started."""
        if self.process is not None:
            kill_tree(self.process.pid, include_root=True)
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.process.wait()
            self.process = None
        if self.ids is not None:
            kill_user(*self.ids)

    # -- results --------------------------------------------------------------
    def read_output(self, name: str, limit: int) -> Optional[bytes]:
        """Bytes of a file the worker wrote in out/: regular, not a link, not too big; else None."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self.out_fd)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not self._is_worker_file(info) or info.st_size > limit:
                return None
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read(limit + 1)[:limit]
        except OSError:
            return None
        finally:
            os.close(fd)

    def log_tail(self, name: str, limit: int = 1500) -> str:
        """The end of what a case printed, for the student's own debugging ("" if it is not a
        plain file the worker wrote: a FIFO or a folder planted there must not stop grading)."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self.out_fd)
        except OSError:
            return ""
        try:
            info = os.fstat(fd)
            if not self._is_worker_file(info):
                return ""
            os.lseek(fd, max(0, info.st_size - limit), os.SEEK_SET)
            return os.read(fd, limit).decode(errors="replace")
        except OSError:
            return ""
        finally:
            os.close(fd)

    def _is_worker_file(self, info) -> bool:
        """A regular file with one link, written by the sandbox user (when there is one)."""
        return (info.st_mode & 0o170000 == 0o100000 and info.st_nlink == 1
                and (self.uid is None or info.st_uid == self.uid))

    def clear_scratch(self) -> None:
        """Empty the worker's writable folders after a case: its outputs are read, and
        nothing it wrote may pile up or be waiting for a later case."""
        for folder in (self.out, self.home):
            for entry in os.scandir(folder):
                try:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
                except OSError:
                    pass

    def _remove_files_of_user(self) -> None:
        """What the sandbox user left in the world-writable folders (no disk quota exists)."""
        for folder in ("/tmp", "/var/tmp", "/dev/shm"):
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_uid != self.uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop()
        if self.uid is not None:
            self._remove_files_of_user()
        os.close(self.out_fd)
        shutil.rmtree(self.root, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)     # releases the user for the next grader
