"""The trusted side's end of the worker: lay out its scratch folder, start it, run a case
with a time limit, read back what the case wrote, and clean up after it.

Used by the grader (with an isolation launcher: another user, namespaces, limits) and by
the students' public tests (a plain launcher: their own code on their own machine), so
that both run cases the same way. Portable: no fork, no select on pipes, and /proc only between
two submissions (regrade's warm mode, on Linux).
"""
import json
import os
import queue
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from autograder.engine.processes import CPU_WAIT_STRETCH, descendants_of
from autograder.engine.run_case import LOG_SUFFIX, OUTPUTS_SUFFIX, STATUS_SUFFIX

# What the worker needs of the engine; the case table and its helpers come from the manifest.
WORKER_FILES = ("__init__.py", "engine/__init__.py", "engine/case.py", "engine/worker.py", "engine/run_case.py",
                "engine/imports.py", "engine/processes.py")
MAX_OUTPUT_FILE = 8 * 1024 ** 2
MAX_STATUS_FILE = 64 * 1024
MAX_PROTOCOL_LINE = 1 << 20
LOG_TAIL = 1500
BACKSTOP = 2.0              # seconds past a case's limit before the trusted side stops the worker itself
NUDGE = 0.25                # seconds between continuing (SIGCONT) a worker that is slow to answer
RESET_TIMEOUT = 10.0        # seconds for the worker to end a submission's processes, or import the next one's
# glibc's malloc asks for transparent huge pages where the kernel offers them (glibc 2.35 and later,
# as on Gradescope's Ubuntu 22.04; ignored elsewhere). Each case is forked from a process holding
# torch, and the fork and the exit walk its page tables: with huge pages there are far fewer
# entries. The zygotes turn them off again for the student's code (worker.py). Speed only: the
# numbers computed are the same. Measured figures: benchmarks/README.md.
WORKER_MALLOC = {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


@dataclass
class CaseRun:
    """How one case's run ended, and what it left in the output folder."""

    ended: str                      # exit, signal, timeout, import timeout, import crash, import error, lost
    limit: Optional[str] = None     # for a timeout: "cpu" (its CPU time) or "wall" (the clock)
    exit: Optional[int] = None
    signal: Optional[int] = None
    seconds: float = 0.0
    cpu: Optional[float] = None     # CPU seconds the case used, when it ended by itself in a forked child
    status: Optional[dict] = None   # the case's status file (the import's, for an import error)
    outputs: Optional[bytes] = None
    log: str = ""                   # the end of what the case (or the import) printed


@dataclass
class Launch:
    """How to start the worker: the full command and its process settings."""

    command: List[str]
    env: Dict[str, str]
    cwd: str
    user: Optional[Tuple[int, int]] = None
    preexec: Optional[Callable[[], None]] = None


class Launcher:
    """How the worker is started. This base class starts it as this same user, with no isolation:
    the students' public tests, where the code is their own. engine/isolation.py has the others."""

    name = "none"
    user = None                 # a dedicated user the worker runs as, if any
    owner_uid = None            # who must own the files read back (None: anyone, this same user)
    private_ipc = False         # whether the worker has an IPC namespace of its own (its to clear)

    def scratch_paths(self, scratch: "Scratch") -> "Scratch":
        """The scratch folder as the worker sees it."""
        return scratch

    def worker_python(self, python: str) -> str:
        return python

    def launch(self, worker_command: List[str], scratch: "Scratch") -> Launch:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1",
                   PYTHONIOENCODING="utf-8", MPLBACKEND="Agg", **WORKER_MALLOC)
        env.pop("PYTHONPATH", None)
        return Launch(worker_command, env, str(scratch.home))

    def after_case(self, scratch: "Scratch") -> None:
        """Clean up after a case, beyond the scratch folder (which the session empties)."""

    def stop(self, process: subprocess.Popen) -> None:
        process.kill()

    def resume(self, process: subprocess.Popen) -> None:
        """Continue the worker and what it runs, should student code have stopped them."""

    def runs_nothing_else(self, processes: set) -> bool:
        """Between submissions: no process of the worker's user runs outside `processes`."""
        return True

    def close(self) -> None:
        """Release what the launcher holds, once the worker is stopped."""


class Scratch:
    """The worker's folder: runner/ (engine, table), inputs/, submission/ (read-only for the worker),
    home/, tmp/, shm/ and out/ (writable, emptied after every case)."""

    WRITABLE = ("home", "tmp", "shm", "out")

    def __init__(self, parent: Optional[str] = None):
        self.root = Path(tempfile.mkdtemp(prefix="autograder-", dir=parent))      # 0700 until sealed
        for name in ("runner", "inputs", "submission") + self.WRITABLE:
            (self.root / name).mkdir(mode=0o755)
        self.runner, self.inputs, self.submission = self.root / "runner", self.root / "inputs", self.root / "submission"
        self.home, self.tmp, self.shm, self.out = (self.root / name for name in self.WRITABLE)

    def add_runner_files(self, files: Iterable[Tuple[Path, str]]) -> None:
        for path, rel in files:
            dest = self.runner / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)

    def add_inputs(self, paths: Iterable[Path]) -> None:
        for path in paths:
            shutil.copyfile(path, self.inputs / path.name)

    def add_submission(self, package: str, files: Dict[str, bytes]) -> None:
        """The graded files (relative path -> bytes) in their package, with an empty __init__.py."""
        (self.submission / package).mkdir(exist_ok=True)
        (self.submission / package / "__init__.py").write_text("")
        for rel, data in files.items():
            (self.submission / rel).write_bytes(data)

    def replace_submission(self, package: str, files: Dict[str, bytes]) -> None:
        """Another submission's graded files in place of the last one's (regrade's warm mode)."""
        shutil.rmtree(self.submission / package, ignore_errors=True)
        self.add_submission(package, files)
        _read_only_files(self.submission / package)

    def seal(self, owner: Optional[Tuple[int, int]]) -> None:
        """Read-only files for the worker; its writable folders its own (when it is another user).
        Only the worker's user may enter the folder: it holds a copy of the submission, and the
        temporary folder is every local user's."""
        _read_only_files(self.root)
        if owner is not None:
            os.chown(self.root, -1, owner[1])       # the worker's group may enter, no one else
            os.chmod(self.root, 0o710)
        for name in self.WRITABLE:
            folder = self.root / name
            if owner is not None:
                os.chown(folder, *owner)
            os.chmod(folder, 0o700 if owner is not None else 0o755)

    def clear_writable(self, keep: Iterable[str] = ()) -> None:
        """Empty home/, tmp/ and out/ (but the names in `keep`, in out/)."""
        keep = set(keep)
        for name in self.WRITABLE:
            try:
                entries = list(os.scandir(self.root / name))
            except OSError:
                continue
            for entry in entries:
                if name == "out" and entry.name in keep:
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)
                except OSError:
                    pass

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def worker_command(python: str, scratch: Scratch, table: str, allowed: List[str], mode: str,
                   memory_allowance: int = 0, seccomp: bool = False, isolated: bool = True,
                   private_ipc: bool = False) -> List[str]:
    command = [python, "-I" if isolated else "-B", str(scratch.runner / "autograder" / "engine" / "worker.py"),
               "--table", table, "--runner", str(scratch.runner), "--submission", str(scratch.submission),
               "--inputs", str(scratch.inputs), "--out", str(scratch.out), "--allowed", ",".join(allowed),
               "--mode", mode, "--memory-allowance", str(memory_allowance)]
    return command + (["--seccomp"] if seccomp else []) + (["--private-ipc"] if private_ipc else [])


def default_mode() -> str:
    """Fork a process per case where that is safe after importing torch: Linux."""
    return "fork" if sys.platform.startswith("linux") else "in-process"


class WorkerSession:
    """One worker process at a time, restarted when a case kills it or runs past its limit."""

    def __init__(self, scratch: Scratch, launcher, command: List[str], start_timeout: float = 90.0,
                 side_by_side: bool = False):
        """`side_by_side`: the worker forks a process per case, so cases can share a time limit."""
        self.scratch, self.launcher, self.command = scratch, launcher, command
        self.runs_side_by_side = side_by_side
        self.start_timeout = start_timeout
        self.process: Optional[subprocess.Popen] = None
        self.messages: Optional[queue.Queue] = None
        self.ready: dict = {}
        self.import_logs: Dict[str, str] = {}
        self.worker_log = scratch.root / "worker.log"

    # -- the worker process -----------------------------------------------------------------------
    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the worker; it imports torch while the caller does other work."""
        launch = self.launcher.launch(self.command, self.scratch)
        kwargs = {}
        if launch.user is not None:
            kwargs = {"user": launch.user[0], "group": launch.user[1], "extra_groups": []}
        if os.name == "posix":
            kwargs["start_new_session"] = True
        with open(self.worker_log, "ab") as log:
            self.process = subprocess.Popen(launch.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=log, cwd=launch.cwd, env=launch.env, close_fds=True,
                                            preexec_fn=launch.preexec, **kwargs)
        self.messages = queue.Queue()
        threading.Thread(target=read_lines, args=(self.process.stdout, self.messages), daemon=True).start()
        self.launched = time.monotonic()

    def wait_ready(self) -> None:
        reply = self._next(self.launched + self.start_timeout)
        if not isinstance(reply, dict) or not reply.get("ready"):
            tail = self.log_tail_of(self.worker_log, 3000)
            self.stop()
            raise RuntimeError(f"the grading worker did not start:\n{tail}")
        self.ready = reply
        self.processes_when_ready = self._processes()

    def _processes(self) -> set:
        """The worker's process and every process below it (bubblewrap's included)."""
        return {self.process.pid, *descendants_of(self.process.pid)}

    # -- another submission (regrade's warm mode) --------------------------------------------------
    # Ready the worker for another submission of the same part, without importing torch again: the
    # worker ends every process the last submission left; the trusted side checks that nothing runs
    # but what ran when the worker was ready (end_submission; the launcher checks the user's other
    # processes once for all sessions), empties the writable folders and only then puts the new files
    # in place; the worker imports what they import (start_submission). A worker that does not
    # answer, or leaves anything running, is replaced by a fresh one.
    def end_submission(self) -> Optional[set]:
        """The processes left once the worker has ended the submission's (the worker's own and
        bubblewrap's); None when the worker must be replaced."""
        if self._ask({"reset": True}, "reset") is None:
            return None
        left = self._processes()
        return left if left <= self.processes_when_ready else None

    def start_submission(self, package: str, files: Dict[str, Optional[bytes]], reuse: bool) -> None:
        """The new submission's files in place, the worker ready for them (a fresh one unless `reuse`)."""
        if not reuse:
            self.stop()
        self.scratch.clear_writable()
        self.launcher.after_case(self.scratch)
        self.scratch.replace_submission(package, {rel: data for rel, data in files.items() if data is not None})
        self.import_logs = {}
        loaded = self._ask({"load": True}, "loaded") if reuse else None
        if loaded is None:
            self.stop()
            self.start()
        else:
            self.ready = {**self.ready, "preimported": loaded.get("preimported"),
                          "memory_limit": loaded.get("memory_limit")}

    def _ask(self, command: dict, answer: str) -> Optional[dict]:
        """Send a command between submissions; the worker's answer, or None (it died, or took longer
        than RESET_TIMEOUT: a case's process can stop it)."""
        if self.process is None or self.process.poll() is not None or not self._send(command):
            return None
        deadline = time.monotonic() + RESET_TIMEOUT
        while time.monotonic() < deadline:
            reply = self._next(min(deadline, time.monotonic() + NUDGE))
            if reply is None:
                if self.process.poll() is not None:
                    return None
                self.launcher.resume(self.process)
            elif reply.get(answer):
                return reply
        return None

    def _send(self, command: dict) -> bool:
        """One command line to the worker; False when it cannot take it (it is gone)."""
        try:
            self.process.stdin.write((json.dumps(command) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            return False
        return True

    def _next(self, deadline: float):
        """The worker's next message; None when it ended or the deadline passed."""
        try:
            line = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if line is None:
            return None
        try:
            message = json.loads(line)
        except ValueError:
            return {}
        return message if isinstance(message, dict) else {}

    def stop(self) -> None:
        """Stop the worker and everything it started."""
        if self.process is None:
            return
        self.launcher.stop(self.process)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.process = None

    def close(self) -> None:
        """Stop the worker and remove its scratch folder (the launcher, which sessions may share, is
        its owner's to close)."""
        self.stop()
        self.scratch.remove()

    # -- cases ----------------------------------------------------------------------------------
    def run(self, case_id: str, module: str, cpu: float, wall: float) -> CaseRun:
        return self.run_together([case_id], module, cpu, wall)[0]

    def run_together(self, case_ids: List[str], module: str, cpu: float, wall: float,
                     import_limits: Optional[Tuple[float, float]] = None) -> List[CaseRun]:
        """Run cases of one file side by side, each within `cpu` seconds of CPU time and `wall`
        seconds; its file's import, if it comes first, within `import_limits` (cpu, wall; default the
        same). The worker is stopped if it does not answer within both wall-clock limits plus a margin."""
        import_cpu, import_wall = import_limits or (cpu, wall)
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self.start()
        started = time.monotonic()
        if not self._send({"cases": case_ids, "cpu": cpu, "wall": wall, "import": [import_cpu, import_wall]}):
            self.stop()
            return [self._collect(case_id, module, CaseRun("lost")) for case_id in case_ids]
        if self.runs_side_by_side:      # the worker's caps: they do not count waiting for a CPU (WallClock)
            deadline = started + (import_wall + wall) * CPU_WAIT_STRETCH + BACKSTOP
        else:                           # in-process: this deadline is the cases' only cap
            deadline = started + import_wall + len(case_ids) * wall + BACKSTOP
        replies: Dict[str, dict] = {}
        while len(replies) < len(case_ids) and time.monotonic() < deadline:
            reply = self._next(min(deadline, time.monotonic() + NUDGE))
            if reply is None:
                if self.process.poll() is not None:
                    break
                self.launcher.resume(self.process)      # a case may have stopped the worker (SIGSTOP)
                continue
            if reply.get("case") in case_ids:
                replies[reply["case"]] = reply
        seconds = time.monotonic() - started
        if len(replies) < len(case_ids):
            lost = self.process.poll() is not None
            self.stop()
        runs = []
        for case_id in case_ids:
            reply = replies.get(case_id)
            if reply is None:
                run = CaseRun("lost" if lost else "timeout", "wall", seconds=seconds)
            else:
                limit = reply.get("limit") if reply.get("limit") in ("cpu", "wall") else None
                run = CaseRun(str(reply.get("ended")), limit, _int(reply.get("exit")), _int(reply.get("signal")),
                              seconds=_float(reply.get("seconds"), seconds), cpu=_float(reply.get("cpu"), None))
                if isinstance(reply.get("import"), dict):
                    run.status = reply["import"]
            runs.append(self._collect(case_id, module, run, clear=False))
        self.scratch.clear_writable()
        self.launcher.after_case(self.scratch)
        return runs

    def _collect(self, case_id: str, module: str, run: CaseRun, clear: bool = True) -> CaseRun:
        """Read what the case wrote; then (`clear`) empty the worker's writable folders."""
        if module not in self.import_logs:          # what the module printed when its zygote imported it
            self.import_logs[module] = self.log_tail(module + ".import" + LOG_SUFFIX)
        printed_at_import = self.import_logs[module]
        if run.ended.startswith("import"):
            run.log = printed_at_import
        else:
            if run.status is None:
                run.status = self._status(case_id)
            run.outputs = self.read_output(case_id + OUTPUTS_SUFFIX, MAX_OUTPUT_FILE)
            run.log = (printed_at_import + self.log_tail(case_id + LOG_SUFFIX))[-LOG_TAIL:]
        if clear:
            self.scratch.clear_writable()
            self.launcher.after_case(self.scratch)
        return run

    def _status(self, case_id: str) -> Optional[dict]:
        raw = self.read_output(case_id + STATUS_SUFFIX, MAX_STATUS_FILE)
        try:
            status = json.loads(raw) if raw else None
        except (ValueError, RecursionError):     # garbage, or nesting deep enough to overflow
            return None
        return status if isinstance(status, dict) else None

    # -- files the worker wrote -------------------------------------------------------------------
    def _open_worker_file(self, name: str):
        """(fd, stat) of a regular file with one link in out/, written by the worker's user; else None."""
        if os.sep in name or (os.altsep and os.altsep in name):
            return None
        try:
            fd = os.open(self.scratch.out / name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | getattr(os, "O_BINARY", 0))
        except OSError:
            return None
        info = os.fstat(fd)
        owner = self.launcher.owner_uid
        if not (stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and (owner is None or info.st_uid == owner)):
            os.close(fd)
            return None
        return fd, info

    def read_output(self, name: str, limit: int) -> Optional[bytes]:
        opened = self._open_worker_file(name)
        if opened is None:
            return None
        fd, info = opened
        try:
            if info.st_size > limit:
                return None
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read(limit + 1)[:limit]
        except OSError:
            return None
        finally:
            os.close(fd)

    def log_tail(self, name: str, limit: int = LOG_TAIL) -> str:
        opened = self._open_worker_file(name)
        if opened is None:
            return ""
        fd, info = opened
        try:
            os.lseek(fd, max(0, info.st_size - limit), os.SEEK_SET)
            return os.read(fd, limit).decode(errors="replace")
        except OSError:
            return ""
        finally:
            os.close(fd)

    @staticmethod
    def log_tail_of(path: Path, limit: int) -> str:
        try:
            with open(path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - limit))
                return handle.read(limit).decode(errors="replace").strip()
        except OSError:
            return ""


def _read_only_files(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            os.chmod(path, 0o644)


def read_lines(stream, messages: queue.Queue) -> None:
    """Put each line of `stream` (at most MAX_PROTOCOL_LINE bytes) on `messages`, then None at its end.
    Run in a thread, so that the reader can wait for a line with a timeout."""
    try:
        while True:
            line = stream.readline(MAX_PROTOCOL_LINE)
            if not line:
                break
            messages.put(line)
    except (OSError, ValueError):
        pass
    messages.put(None)


def _int(value) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def runner_files(engine_root: Path, manifest: dict) -> List[Tuple[Path, str]]:
    """(file, path under runner/) of what the worker imports: engine modules, the case table and
    the table's own imports (never the catalogue of mistakes, which quotes the solution)."""
    package = engine_root.name
    files = [(engine_root / rel, f"{package}/{rel}") for rel in WORKER_FILES]
    for module in manifest["runner_modules"]:
        parts = module.split(".")[1:]
        files.append((engine_root.joinpath(*parts[:-1], parts[-1] + ".py"), "/".join([package] + parts) + ".py"))
        for depth in range(1, len(parts)):
            init = engine_root.joinpath(*parts[:depth], "__init__.py")
            files.append((init, "/".join([package] + parts[:depth]) + "/__init__.py"))
    return list(dict.fromkeys(files))


def open_session(manifest: dict, inputs: Iterable[Path], files: Dict[str, Optional[bytes]], engine_root: Path,
                 launcher: Launcher, python: str, mode: str, isolated: bool, start_timeout: float = 90.0,
                 memory_allowance: int = 0, seccomp: bool = False) -> WorkerSession:
    """A scratch folder with the engine, the table, the cases' inputs and the graded files that
    could be read, and a session for a worker that `launcher` starts there (not started yet)."""
    scratch = Scratch()
    scratch.add_runner_files(runner_files(engine_root, manifest))
    scratch.add_inputs(inputs)
    scratch.add_submission(manifest["package"], {rel: data for rel, data in files.items() if data is not None})
    scratch.seal((launcher.user.uid, launcher.user.gid) if launcher.user else None)
    command = worker_command(launcher.worker_python(python), launcher.scratch_paths(scratch), manifest["table"],
                             manifest.get("allowed_imports", []), mode, memory_allowance=memory_allowance,
                             seccomp=seccomp, isolated=isolated, private_ipc=launcher.private_ipc)
    return WorkerSession(scratch, launcher, command, start_timeout, side_by_side=mode == "fork")
