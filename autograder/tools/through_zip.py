"""Grade a submission exactly as Gradescope does: through a part's autograder zip.

The one way the TA's tools and the project's tests grade through a zip: a fresh grading
root (ROOT/source: the unzipped zip with its modes; ROOT/submission: a copy of the
submission as Gradescope unpacks it, links kept as links, special files left out), then
`AUTOGRADER_ROOT=ROOT bash ROOT/source/run_autograder` with a chosen Python first on PATH,
optionally inside a cgroup, killed with everything it started at a timeout, and
ROOT/results/results.json read back. WarmGrader does the same for one submission after another
with `run_autograder --batch`, whose workers stay up between them (regrade's warm mode).
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
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from autograder.engine.isolation import closed_to_others
from autograder.engine.session import read_lines
from autograder.tools import proctable

OUTPUT_TAIL = 20000
STOP_GRACE = 5.0            # seconds a run_autograder asked to stop gets before it is killed


@dataclass
class Grading:
    results: Optional[dict]         # results.json, or None when missing or not a JSON object
    root: Path
    seconds: float
    returncode: Optional[int]       # None: killed at the timeout
    output: str = ""                # the end of what run_autograder printed
    peak_memory: Optional[int] = None   # bytes, when a cgroup measured it (the page cache included)
    peak_memory_held: Optional[int] = None  # bytes, the cgroup's, without the page cache (sampled)
    limits: List[str] = field(default_factory=list)     # what was enforced, and what could not be

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def _special_files(folder: str, names: list) -> set:
    """Names in `folder` that are neither folders, regular files nor links (FIFOs, sockets, devices)."""
    kept = (stat.S_ISDIR, stat.S_ISREG, stat.S_ISLNK)
    return {name for name in names if not any(is_kind(os.lstat(os.path.join(folder, name)).st_mode)
                                              for is_kind in kept)}


def lay_out(zip_file: Path, submission: Optional[Path], workdir: Path, owner: Optional[str] = None) -> Path:
    """A fresh grading root, world-traversable as /autograder is (the grader's own lock-down,
    not a private temporary folder, must be what keeps student code out of it); owned by
    `owner` (a user name) when the grader is to run as that user."""
    workdir.mkdir(parents=True, exist_ok=True)
    parent = workdir if closed_to_others(workdir) is None else None
    root = Path(tempfile.mkdtemp(prefix="autograder-root-", dir=parent))
    os.chmod(root, 0o755)
    with zipfile.ZipFile(zip_file) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():      # extractall drops the modes: restore the executable bits
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(root / "source" / info.filename, mode)
    put_submission(root, submission)
    if owner is not None:
        ids = _ids(owner)
        for path in [root, *root.rglob("*")]:
            os.lchown(path, *ids)
    return root


def put_submission(root: Path, submission: Optional[Path]) -> None:
    """ROOT/submission: a copy of `submission` as Gradescope unpacks it (an empty folder for None),
    in place of whatever was there."""
    target = root / "submission"
    if target.exists():
        shutil.rmtree(target)
    if submission is not None:
        shutil.copytree(submission, target, symlinks=True, ignore=_special_files)
    else:
        target.mkdir()


def _ids(user: str):
    import pwd
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def run_autograder(root: Path, python_bin: Optional[Path] = None, timeout: float = 900, args: Sequence[str] = (),
                   cgroup=None, env: Optional[dict] = None, on_start: Optional[Callable[[int], None]] = None,
                   user: Optional[str] = None) -> Grading:
    """Run ROOT/source/run_autograder with `python_bin` (default: this interpreter's folder) first
    on PATH; `on_start(pid)` is called once it runs (to watch it). With `user` (root only), it
    runs as that user: a TA grading on a shared machine."""
    environment, as_user = _environment(root, python_bin, env, user)
    log_path = log_beside(root)
    started = time.monotonic()
    with private_log(log_path) as log:
        process = subprocess.Popen(["bash", str(root / "source" / "run_autograder"), *args], env=environment,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=cgroup.join if cgroup else None,
                                   cwd=str(root), **as_user)
        if on_start is not None:
            on_start(process.pid)
        returncode, held = _wait(process, started + timeout, cgroup)
    seconds = time.monotonic() - started
    output = _tail(log_path)
    log_path.unlink()
    grading = Grading(read_results(root), root, seconds, returncode, output)
    if cgroup is not None:
        grading.peak_memory, grading.peak_memory_held = cgroup.peak_memory(), held
        grading.limits = cgroup.describe()
    return grading


MEMORY_SAMPLE = 0.02        # seconds between two readings of the cgroup's memory


def _wait(process: subprocess.Popen, deadline: float, cgroup=None):
    """(its exit code, or None when stopped at `deadline`; the most memory `cgroup` held meanwhile,
    without the page cache, or None), sampled: the kernel keeps no such peak."""
    if cgroup is None:
        try:
            return process.wait(timeout=max(deadline - time.monotonic(), 0)), None
        except subprocess.TimeoutExpired:
            stop(process)
            return None, None
    held = 0
    while True:
        held = max(held, cgroup.memory_held() or 0)
        try:
            return process.wait(timeout=MEMORY_SAMPLE), held or None
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                stop(process)
                return None, held or None


def stop(process: subprocess.Popen) -> None:
    """End a run_autograder and everything it started: asked first (SIGTERM: it stops its workers and
    removes their scratch folders, which hold the submission), killed STOP_GRACE seconds later."""
    its_processes = proctable.tree(process.pid)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            pass
    proctable.kill_tree(process.pid)
    proctable.kill_all(its_processes)   # what it started and did not end, though it is gone itself
    process.wait()


def log_beside(root: Path) -> Path:
    """Where run_autograder's output goes: beside the grading root, named after it."""
    return root.parent / f"{root.name}.log"


def private_log(path: Path, append: bool = False):
    """run_autograder's log, beside its root, open for writing. Only its owner may read it: it holds
    students' output and scores, and the root may be in the system's temporary folder. It is made
    anew (or, `append`, must be a file already), never through a link: nothing another user planted
    at that name is written to."""
    flags = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | (os.O_APPEND if append else os.O_CREAT | os.O_EXCL)
    return os.fdopen(os.open(path, flags, 0o600), "ab" if append else "wb")


def _environment(root: Path, python_bin: Optional[Path], env: Optional[dict], user: Optional[str]):
    """run_autograder's environment, and Popen's arguments to run it as `user`."""
    environment = dict(os.environ if env is None else env)
    environment["AUTOGRADER_ROOT"] = str(root)
    python_bin = Path(sys.executable).parent if python_bin is None else python_bin
    environment["PATH"] = os.pathsep.join([str(python_bin), environment.get("PATH", "/usr/bin:/bin")])
    as_user = {}
    if user is not None:
        uid, gid = _ids(user)
        as_user = {"user": uid, "group": gid, "extra_groups": []}
        environment.update(HOME=_home_of(user), USER=user, LOGNAME=user)
    return environment, as_user


def _home_of(user: str) -> str:
    import pwd
    return pwd.getpwnam(user).pw_dir


def grade_through_zip(zip_file: Path, submission: Optional[Path], workdir: Path, keep_root: bool = False,
                      **options) -> Grading:
    """lay_out, then run_autograder (its options). The grading root is removed once results.json
    is read, unless `keep_root` (then the caller removes grading.root): when `workdir` is private,
    lay_out makes the root in the system's temporary folder, where it would outlive the caller's
    workdir, readable by anyone, with the reference outputs in it."""
    root = lay_out(Path(zip_file), submission, Path(workdir), owner=options.get("user"))
    try:
        return run_autograder(root, **options)
    finally:
        if not keep_root:
            shutil.rmtree(root, ignore_errors=True)


class WarmGrader:
    """One grading root, its zip unpacked once, and `run_autograder --batch` in it: submission after
    submission graded by the same workers, torch imported once (regrade's warm mode). Each
    submission is copied into ROOT/submission as grade_through_zip would; results.json is read back
    the same way. The process starts on first use, and again after a timeout (which kills it and
    everything it started) or its death."""

    def __init__(self, zip_file: Path, workdir: Path, args: Sequence[str] = (), python_bin: Optional[Path] = None,
                 on_start: Optional[Callable[[int], None]] = None, on_end: Optional[Callable[[int], None]] = None):
        self.root = lay_out(Path(zip_file), None, Path(workdir))
        self.args, self.python_bin, self.on_start, self.on_end = list(args), python_bin, on_start, on_end
        self.process: Optional[subprocess.Popen] = None
        self.log_path = log_beside(self.root)
        private_log(self.log_path).close()
        self.answers: Optional[queue.Queue] = None

    def grade(self, submission: Optional[Path], timeout: float = 900) -> Grading:
        results_path = self.root / "results" / "results.json"
        if results_path.exists() or results_path.is_symlink():
            results_path.unlink()
        put_submission(self.root, submission)
        if self.process is None:
            self._start()
        started = time.monotonic()
        log_size = self.log_path.stat().st_size
        timed_out = False
        try:
            self.process.stdin.write(b"grade\n")
            self.process.stdin.flush()
            answer = self.answers.get(timeout=timeout)
        except queue.Empty:
            answer, timed_out = None, True
        except OSError:         # it is gone: its answers end, too
            answer = None
        seconds = time.monotonic() - started
        if answer == b"done\n":
            return Grading(read_results(self.root), self.root, seconds, 0, _tail(self.log_path, log_size))
        returncode = self.close(wait=0 if timed_out else 15)
        output = _tail(self.log_path, log_size)
        if timed_out:
            return Grading(None, self.root, seconds, None, output)
        return Grading(read_results(self.root), self.root, seconds, returncode, output)   # it ended by itself

    def _start(self) -> None:
        environment, _ = _environment(self.root, self.python_bin, None, None)
        with private_log(self.log_path, append=True) as log:
            self.process = subprocess.Popen(["bash", str(self.root / "source" / "run_autograder"), "--batch",
                                             *self.args], env=environment, stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=log, start_new_session=True,
                                            cwd=str(self.root))
        self.answers = queue.Queue()
        threading.Thread(target=read_lines, args=(self.process.stdout, self.answers), daemon=True).start()
        if self.on_start is not None:
            self.on_start(self.process.pid)

    def close(self, wait: float = 15) -> Optional[int]:
        """End the process (and all it started), after `wait` seconds for it to end by itself, and
        return its exit status; the next grade() starts another."""
        if self.process is None:
            return None
        try:
            self.process.stdin.close()          # end of the requests: it closes its workers and exits
            self.process.wait(timeout=wait)
        except (OSError, subprocess.TimeoutExpired):
            pass
        stop(self.process)
        returncode = self.process.wait()
        if self.on_end is not None:
            self.on_end(self.process.pid)
        self.process = None
        return returncode

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.root, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)


def read_results(root: Path) -> Optional[dict]:
    path = root / "results" / "results.json"
    try:
        if path.is_symlink() or not path.is_file():
            return None
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _tail(path: Path, start: int = 0) -> str:
    """The end of what `path` holds past `start`, at most OUTPUT_TAIL bytes of it."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(start, handle.tell() - OUTPUT_TAIL))
        return handle.read().decode(errors="replace")
