"""How student code is kept away from everything else on the machine: chosen once, at start.

Modes, strongest first; the grader takes the first one the machine allows:

- "namespaces+user" (root, bubblewrap works): the worker runs as a dedicated unprivileged
  user inside bubblewrap's namespaces: a file system holding only the system folders and
  the Python environment (read-only), the worker's scratch folder, a private /tmp, /var/tmp
  and /dev/shm; no network but loopback; its own PID namespace; no new privileges.
- "namespaces" (not root, bubblewrap works): the same namespaces, as the grader's own user
  (a TA's machine): the user's home, keys and checkouts are not in the sandbox's file system.
- "user" (root, namespaces refused, as in Gradescope's Docker container): a dedicated user,
  rlimits, seccomp; the rest of the file system is as readable as it is to any user.
- "none": the grader's own user with rlimits only. Refused unless asked for explicitly
  (--no-isolation): student code could read and write whatever the user can.

Every mode adds rlimits, a seccomp filter on sockets (in the worker) and the clean-up after
each case. Nothing here imports torch or student code.
"""
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from autograder.engine.processes import descendants_of, remove_sysv_ipc
from autograder.engine.session import WORKER_MALLOC, Launch, Launcher, Scratch
from autograder.engine.users import SandboxUser, acquire_user, kill_user, processes_of

# The places any user may write to, outside the scratch folder (swept in "user" mode).
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/var/crash", "/dev/mqueue")
SYSTEM_FOLDERS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
BWRAP = os.environ.get("AUTOGRADER_BWRAP", "bwrap")     # bubblewrap's command, if not on PATH as `bwrap`
INSIDE = Path("/grading")          # where the scratch folder appears inside the namespaces
INSIDE_VENV = Path("/venv")        # and the virtual environment, when the grader runs from one
MODES = ("auto", "namespaces", "user", "none")

WHAT_NONE_EXPOSES = (
    "student code would run as you, with your permissions: it could read and change everything you "
    "can (your home folder and keys, any checkout of this repository with the solution and the "
    "reference data), signal your other processes and use the network")


class IsolationUnavailable(RuntimeError):
    """No isolation can be had here, and running without it was not asked for."""


@dataclass(frozen=True)
class Limits:
    file_size: int = 16 * 1024 ** 2
    open_files: int = 256
    processes: int = 64                      # per dedicated user; see _process_limit otherwise
    memory_allowance: int = 1024 ** 3        # address space for the cases, over what the imports map


class Isolation(Launcher):
    """A launcher for the grader's worker session, with a mode's protections."""

    name = "none"
    namespaces = False
    private_ipc = False

    def __init__(self, python: str, user: Optional[SandboxUser] = None, limits: Limits = Limits()):
        self.python, self.user, self.limits = python, user, limits
        self.owner_uid = user.uid if user else os.getuid()

    # -- what the worker sees ----------------------------------------------------------------------
    def environment(self, home: str, tmp: str) -> dict:
        return {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8",
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", **WORKER_MALLOC}

    def launch(self, worker_command: List[str], scratch: Scratch) -> Launch:
        inside = self.scratch_paths(scratch)
        env = self.environment(str(inside.home), str(inside.tmp))
        user = (self.user.uid, self.user.gid) if self.user else None
        return Launch(self.wrap(worker_command, scratch), env, str(scratch.home), user, self._preexec)

    def wrap(self, worker_command: List[str], scratch: Scratch) -> List[str]:
        return worker_command

    def _preexec(self) -> None:
        limits = self.limits
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        processes = self._process_limit()
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        try:
            with open("/proc/self/oom_score_adj", "w") as handle:
                handle.write("1000")    # under memory pressure, student code goes first
        except OSError:
            pass

    def _process_limit(self) -> int:
        """RLIMIT_NPROC counts every process of the real user: a dedicated user's own budget,
        or, sharing the grader's user, what that user runs already plus a budget."""
        if self.user is not None:
            return self.limits.processes
        return len(processes_of(os.getuid())) + 4 * self.limits.processes

    # -- after each case, and at the end ----------------------------------------------------------------
    def stop(self, process: subprocess.Popen) -> None:
        """Kill the worker and everything below it (read before it dies and its children scatter),
        its process group, and, with a dedicated user, every process of that user."""
        for pid in [process.pid] + descendants_of(process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def resume(self, process: subprocess.Popen) -> None:
        for pid in [process.pid] + descendants_of(process.pid):
            try:
                os.kill(pid, signal.SIGCONT)
            except (ProcessLookupError, PermissionError):
                pass

    def runs_nothing_else(self, processes: set) -> bool:
        """With a dedicated user, every process of that user (a case's daemon that left the worker's
        tree would be one) must be among `processes`."""
        return self.user is None or set(processes_of(self.user.uid)) <= processes

    def close(self) -> None:
        if self.user is not None:
            kill_user(self.user.uid, self.user.gid)
            self.after_case(None)
            self.user.release()
            self.user = None

    def describe(self) -> dict:
        return {"mode": self.name, "user": self.user.name if self.user else None,
                "namespaces": self.namespaces}


class NoIsolation(Isolation):
    name = "none"


class SeparateUser(Isolation):
    """Root without namespaces: a dedicated user, and its leftovers swept after every case."""

    name = "user"

    def stop(self, process: subprocess.Popen) -> None:
        super().stop(process)
        kill_user(self.user.uid, self.user.gid)     # what left the worker's tree (setsid, double fork)

    def after_case(self, scratch) -> None:
        for folder in WORLD_WRITABLE:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_uid != self.user.uid:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
                except OSError:
                    pass
        remove_sysv_ipc(self.user.uid)


class Namespaces(Isolation):
    """bubblewrap: a file system of the system folders, the Python environment and the scratch
    folder only; private /tmp, /var/tmp and /dev/shm; loopback only; its own PID namespace."""

    namespaces = True
    private_ipc = True      # the worker has an IPC namespace of its own: it clears it after each case

    @property
    def name(self):
        return "namespaces+user" if self.user else "namespaces"

    def scratch_paths(self, scratch: Scratch) -> Scratch:
        inside = Scratch.__new__(Scratch)
        inside.root = INSIDE
        inside.runner, inside.inputs, inside.submission = INSIDE / "runner", INSIDE / "inputs", INSIDE / "submission"
        inside.home, inside.out, inside.tmp = INSIDE / "home", INSIDE / "out", Path("/tmp")
        return inside

    def _venv(self) -> Optional[Path]:
        """The virtual environment of the worker's Python (this process's), if it runs in one."""
        if sys.prefix == sys.base_prefix or not Path(self.python).is_relative_to(sys.prefix):
            return None
        return Path(sys.prefix)

    def worker_python(self, python: str) -> str:
        venv = self._venv()
        return str(INSIDE_VENV / Path(python).relative_to(venv)) if venv else python

    def wrap(self, worker_command: List[str], scratch: Scratch) -> List[str]:
        return bwrap_command(scratch, self._venv()) + worker_command

    # Without a dedicated user, student code runs as the grader's own user and owns its writable
    # folders: a folder it made unreadable (mode 000) could not be emptied after a case (it would
    # stay for later cases) nor removed at the end (left in the temporary folder). The owner's
    # access is given back before each clean-up.
    def launch(self, worker_command: List[str], scratch: Scratch) -> Launch:
        self.scratch = scratch
        return super().launch(worker_command, scratch)

    def after_case(self, scratch) -> None:
        if self.user is None and scratch is not None:
            reopen_writable(scratch)
            scratch.clear_writable()

    def close(self) -> None:
        if self.user is None and getattr(self, "scratch", None) is not None:
            reopen_writable(self.scratch)      # the session removes the scratch folder next
        super().close()


REOPEN_DEPTH = 128      # folders nested deeper than this stay as they are


def reopen_writable(scratch: Scratch) -> None:
    """Give the owner back read, write and search access to the scratch's writable folders and
    every folder below them, never following a link."""
    try:
        root = os.open(scratch.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        for name in scratch.WRITABLE:
            _reopen(root, name, REOPEN_DEPTH)
    finally:
        os.close(root)


def _reopen(parent: int, name: str, depth: int) -> None:
    try:
        handle = os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=parent)
    except OSError:
        return
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISDIR(mode):
            return
        if mode & 0o700 != 0o700:       # through the descriptor: the very folder, not a link
            os.chmod(f"/proc/self/fd/{handle}", stat.S_IMODE(mode) | 0o700)
        folder = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    except OSError:
        return
    finally:
        os.close(handle)
    try:
        if depth > 0:
            with os.scandir(folder) as entries:
                names = [entry.name for entry in entries if entry.is_dir(follow_symlinks=False)]
            for child in names:
                _reopen(folder, child, depth - 1)
    except OSError:
        pass
    finally:
        os.close(folder)


def _system_binds() -> List[str]:
    args: List[str] = []
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    cpus = "/sys/devices/system/cpu"      # torch reads the CPU topology from here
    if os.path.isdir(cpus):
        args += ["--ro-bind", cpus, cpus]
    huge_pages = "/sys/kernel/mm/transparent_hugepage"     # glibc asks here whether to use them
    if os.path.isdir(huge_pages):
        args += ["--ro-bind", huge_pages, huge_pages]
    return args


def _python_binds(venv: Optional[Path]) -> List[str]:
    """The interpreter's own installation when it lives outside /usr, and the venv at /venv."""
    args: List[str] = []
    for prefix in {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}:
        if not any(prefix == folder or prefix.startswith(folder + "/") for folder in SYSTEM_FOLDERS):
            args += ["--ro-bind", prefix, prefix]
    if venv is not None:
        args += ["--ro-bind", str(venv), str(INSIDE_VENV)]
    return args


def bwrap_command(scratch: Scratch, venv: Optional[Path]) -> List[str]:
    args = [BWRAP, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--hostname", "sandbox"]
    args += _system_binds() + _python_binds(venv)
    args += ["--proc", "/proc", "--dev", "/dev",
             "--ro-bind", str(scratch.runner), str(INSIDE / "runner"),
             "--ro-bind", str(scratch.inputs), str(INSIDE / "inputs"),
             "--ro-bind", str(scratch.submission), str(INSIDE / "submission"),
             "--bind", str(scratch.home), str(INSIDE / "home"),
             "--bind", str(scratch.out), str(INSIDE / "out"),
             "--bind", str(scratch.tmp), "/tmp",
             "--bind", str(scratch.tmp), "/var/tmp",
             "--bind", str(scratch.shm), "/dev/shm",
             "--remount-ro", "/", "--chdir", str(INSIDE / "home"), "--"]
    return args


def namespaces_work(user: Optional[SandboxUser]) -> Optional[str]:
    """None when bubblewrap can make the namespaces here (as `user`), else why not."""
    if shutil.which(BWRAP) is None:
        return f"bubblewrap ({BWRAP}) is not installed"
    probe = Scratch()
    try:
        probe.seal((user.uid, user.gid) if user else None)
        command = bwrap_command(probe, None) + ["/bin/true"]
        kwargs = {"user": user.uid, "group": user.gid, "extra_groups": []} if user else {}
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=20, **kwargs)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bubblewrap could not run ({error})"
        if done.returncode != 0:
            return "bubblewrap could not make namespaces: " + done.stderr.decode(errors="replace").strip()[:300]
        return None
    finally:
        probe.remove()


def cpu_share() -> float:
    """The share of one CPU this process may use, from its cgroup's CPU quota (1.0 when none)."""
    try:
        with open("/proc/self/cgroup") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return 1.0
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":                               # cgroup v2
            try:
                quota, period = open(f"/sys/fs/cgroup{path}/cpu.max").read().split()
                return 1.0 if quota == "max" else min(1.0, int(quota) / int(period))
            except (OSError, ValueError):
                continue
        if "cpu" in controllers.split(","):                 # cgroup v1
            for mount in ("/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"):
                try:
                    quota = int(open(f"{mount}{path}/cpu.cfs_quota_us").read())
                    period = int(open(f"{mount}{path}/cpu.cfs_period_us").read())
                except (OSError, ValueError):
                    continue
                return 1.0 if quota <= 0 else min(1.0, quota / period)
    return 1.0


def refusal(mode: str = "auto", python: str = sys.executable) -> Optional[str]:
    """Why grading would be refused here in `mode` (None: it would not), without taking anything:
    for tools that start many gradings (regrade, simulate) to say so once, up front."""
    if mode == "none":
        return None
    if os.geteuid() == 0:
        unreachable = interpreter_unreachable(python)       # in every mode, as choose() checks it
        if unreachable or mode in ("auto", "user"):
            return unreachable
    if mode == "user":
        return "a separate user was asked for, but switching users needs root"
    why_not = namespaces_work(None)
    if why_not is None:
        return None
    if mode == "namespaces":
        return f"namespaces were asked for, but {why_not}"
    return _no_isolation_message(why_not)


def closed_to_others(path) -> Optional[str]:
    """The first folder or file on the way to `path` that other users may not enter (None: they
    may enter them all), on both ways a process takes there: as written, and with its links resolved."""
    for way in dict.fromkeys((Path(os.path.abspath(path)), Path(os.path.realpath(path)))):   # once, without links
        for step in [*reversed(way.parents), way]:
            try:
                if not os.stat(step).st_mode & stat.S_IXOTH:
                    return str(step)
            except OSError:
                return str(step)
    return None


def interpreter_unreachable(python: str) -> Optional[str]:
    """Why the sandbox user could not start `python` (None: it could). Root grades as another
    user, who must be able to enter the interpreter's folders and its environment's: a checkout
    (its .venv) in root's private home folder is the usual way to get this wrong."""
    closed = closed_to_others(python)
    if closed is None:
        return None
    return (f"the grader runs student code as another user, who cannot start {python}: other users "
            f"may not enter {closed}. Put the checkout (or the Python environment) under folders "
            "that every user may enter, or run as an ordinary user.")


def _no_isolation_message(why_not: str) -> str:
    return (f"No isolation is available: the grader is not root (so there is no separate user to run "
            f"student code as) and {why_not}. Without isolation, {WHAT_NONE_EXPOSES}. Install bubblewrap "
            "(apt-get install bubblewrap) and allow unprivileged user namespaces, or run as root; or pass "
            "--no-isolation to grade anyway, only code you trust.")


def choose(mode: str = "auto", python: str = sys.executable, limits: Limits = Limits()) -> Isolation:
    """The strongest isolation this machine allows (or the one `mode` asks for)."""
    if mode not in MODES:
        raise ValueError(f"isolation mode {mode!r}: one of {', '.join(MODES)}")
    if mode == "none":
        return NoIsolation(python, None, limits)
    root = os.geteuid() == 0
    if mode == "user" and not root:
        raise IsolationUnavailable("a separate user was asked for, but switching users needs root")
    unreachable = interpreter_unreachable(python) if root else None
    if unreachable:
        raise IsolationUnavailable(unreachable)
    user = acquire_user() if root else None
    why_not = namespaces_work(user) if mode in ("auto", "namespaces") else "not asked for"
    if why_not is None:
        return Namespaces(python, user, limits)
    if mode == "namespaces":
        _release(user)
        raise IsolationUnavailable(f"namespaces were asked for, but {why_not}")
    if root:
        return SeparateUser(python, user, limits)
    raise IsolationUnavailable(_no_isolation_message(why_not))


def _release(user: Optional[SandboxUser]) -> None:
    if user is not None:
        user.release()
