"""Grade a submission folder exactly as Gradescope would, through a part's autograder zip, and watch the run.

    run = grade_with_zip(zip_path, submission_dir, workdir, timeout=300, prepare=None, user=None, args=())

lays out a fresh grading root with autograder/tools/through_zip.py (ROOT/source is the unzipped
zip, ROOT/submission a copy of `submission_dir`, links kept as links; owned by `user` when one
is given), calls `prepare(root)` (to edit the submission in place, for instance), then runs
ROOT/source/run_autograder through through_zip.run_autograder, with the project's virtual
environment first on PATH, the extra command-line `args`, and, with `user`, as that user (a TA
on a shared machine: root starts it as them). While it runs, a thread watches it: which sandbox
users it holds (gs-student, or a spare when another grader holds it) and which scratch folders
its workers use. Returns a Run: the Grading (results.json parsed or None, ROOT, seconds,
returncode None when killed at `timeout`, the end of the output), what was watched, and the
run's span in clock ticks since boot.

The grading root is world-traversable (as /autograder is on Gradescope): the grader's own
lock-down, not a private temporary folder, is what must keep sandboxed code out of it.
`remove_root(root)` deletes it.

Also here: a zip's manifest, results.json against Gradescope's schema, a tree's hashes, the
processes of a user, and the unprivileged users the harness grades as.
"""
import fcntl
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autograder.tools.through_zip import Grading, lay_out, run_autograder  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"
SANDBOX_USER = os.environ.get("AUTOGRADER_SANDBOX_USER", "gs-student")
TA_USER = os.environ.get("HW4_TA_USER", "hw4-atk-ta")     # the unprivileged user grading runs as
TA_SPARES = 8
TA_LOCKS = Path("/tmp/hw4-atk-ta-locks")                   # one grading at a time per TA user
TEST_STATUSES = ("passed", "failed")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
# A worker's scratch folder, as its command line (or bubblewrap's) names it.
SCRATCH_IN_COMMAND = re.compile(
    r"(/[^\s\0]*?/autograder-[A-Za-z0-9_]{8})/(?:runner|inputs|submission|home|tmp|shm|out)\b")


def manifest_of(zip_path: Path) -> dict:
    """The part's manifest (reference_data/<part>/manifest.json) read from the zip."""
    with zipfile.ZipFile(zip_path) as archive:
        names = [name for name in archive.namelist()
                 if name.startswith("reference_data/") and name.endswith("/manifest.json")]
        if len(names) != 1:
            raise ValueError(f"{zip_path} holds {len(names)} manifests, not 1")
        return json.loads(archive.read(names[0]))


def remove_root(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


def sha256_tree(folder: Path) -> Dict[str, str]:
    """{relative path: sha256 (or 'link -> target', or 'dir')} of everything under `folder`."""
    digests = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                digests[rel] = f"link -> {os.readlink(path)}"
            elif path.is_dir():
                digests[rel] = "dir"
            elif path.is_file():
                digests[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                digests[rel] = f"special {stat.filemode(path.lstat().st_mode)}"
    return digests


# -- grading, watched ----------------------------------------------------------------------
@dataclass
class Run:
    """One grading through the zip, and what was seen of it while it ran."""

    grading: Grading
    sandbox_users: List[str] = field(default_factory=list)      # sandbox users whose lock it held
    scratch_folders: List[str] = field(default_factory=list)    # its workers' scratch folders
    started_ticks: float = 0.0
    ended_ticks: float = 0.0

    @property
    def results(self) -> Optional[dict]:
        return self.grading.results

    @property
    def root(self) -> Path:
        return self.grading.root

    @property
    def elapsed(self) -> float:
        return self.grading.seconds

    @property
    def timed_out(self) -> bool:
        return self.grading.timed_out

    @property
    def output(self) -> str:
        return self.grading.output


class Watcher:
    """Polls a running run_autograder (it execs the grader in its own process) and what it started."""

    def __init__(self, every: float = 0.1):
        self.every = every
        self.users, self.scratch = set(), set()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self, pid: int) -> None:
        self._thread = threading.Thread(target=self._loop, args=(pid,), daemon=True)
        self._thread.start()

    def _loop(self, pid: int) -> None:
        while True:
            self.look(pid)
            if self._stop.wait(self.every):
                break

    def look(self, pid: int) -> None:
        self.users |= _sandbox_users_held(pid)
        for child in _descendants(pid):
            try:
                with open(f"/proc/{child}/cmdline", "rb") as handle:
                    command = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            self.scratch.update(match.group(1) for match in SCRATCH_IN_COMMAND.finditer(command))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _descendants(pid: int) -> List[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as handle:
                    children = [int(child) for child in handle.read().split()]
            except OSError:
                continue
            found.extend(children)
            todo.extend(children)
    return found


def _sandbox_users_held(pid: int) -> set:
    """Sandbox users whose lock file (autograder-locks/<user>.lock) process `pid` holds open.

    run_autograder execs the grader in its own process, so this is how a run tells which of
    the spare sandbox users (gs-student, gs-student1, ...) it drew.
    """
    users = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return users
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if "/autograder-locks/" in target and target.endswith(".lock"):
            users.add(target.rsplit("/", 1)[1][: -len(".lock")])
    return users


def taken_by_other_gradings(user: str) -> set:
    """Processes below the live graders that hold `user`'s lock now: another grading that drew the
    user once this one released it (and may have started its worker before this one's process ended)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and user in _sandbox_users_held(int(entry)):
            found.add(int(entry))
            found.update(_descendants(int(entry)))
    return found


def grade_with_zip(zip_path: Path, submission_dir: Optional[Path], workdir: Path, timeout: float = 300,
                   prepare: Optional[Callable[[Path], None]] = None, user: Optional[str] = None,
                   args: Sequence[str] = (), env: Optional[dict] = None) -> Run:
    """Grade `submission_dir` through `zip_path` in a fresh root; see the module's docstring."""
    root = lay_out(Path(zip_path), Path(submission_dir) if submission_dir is not None else None, Path(workdir),
                   owner=user)
    if prepare is not None:
        prepare(root)
    watcher = Watcher()
    started = boot_ticks()
    try:
        grading = run_autograder(root, python_bin=VENV_BIN, timeout=timeout, args=tuple(args), env=env,
                                 on_start=watcher.start, user=user)
    finally:
        watcher.stop()
    return Run(grading, sorted(watcher.users), sorted(watcher.scratch), started, boot_ticks())


def boot_ticks() -> float:
    """Now, in the unit of /proc/<pid>/stat's start time (clock ticks since boot)."""
    with open("/proc/uptime") as handle:
        return float(handle.read().split()[0]) * os.sysconf("SC_CLK_TCK")


def start_ticks(pid: int) -> Optional[int]:
    """When process `pid` started, in clock ticks since boot (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


# -- reading results ----------------------------------------------------------------------
def schema_problems(results: Optional[dict]) -> List[str]:
    """What makes `results` an invalid Gradescope results.json (empty list: valid)."""
    if results is None:
        return ["results.json is missing or is not a JSON object"]
    problems = []
    if not isinstance(results.get("tests"), list):
        return ["results.json has no list of tests"]
    for key in ("score", "execution_time"):
        if key in results and (isinstance(results[key], bool) or not isinstance(results[key], (int, float))):
            problems.append(f"top-level {key} is {results[key]!r}, not a number")
    if "score" not in results:
        problems.append("top-level score is missing")
    if "output" in results and not isinstance(results["output"], str):
        problems.append("top-level output is not a string")
    for index, test in enumerate(results["tests"]):
        if not isinstance(test, dict):
            problems.append(f"test {index} is not an object")
            continue
        label = test.get("name", f"test {index}")
        if not isinstance(test.get("name"), str) or ":" not in test.get("name", ""):
            problems.append(f"{label}: name missing or without 'function:' prefix")
        for key in ("score", "max_score"):
            value = test.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                problems.append(f"{label}: {key} is {value!r}, not a number")
        if test.get("status") not in TEST_STATUSES:
            problems.append(f"{label}: status is {test.get('status')!r}")
        if "visibility" in test and test["visibility"] not in VISIBILITIES:
            problems.append(f"{label}: visibility is {test['visibility']!r}")
        if "output" in test and not isinstance(test["output"], str):
            problems.append(f"{label}: output is not a string")
        score, max_score = test.get("score"), test.get("max_score")
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (score, max_score)):
            if not 0 <= score <= max_score:
                problems.append(f"{label}: score {score} is not within [0, {max_score}]")
            if test.get("status") == "passed" and score != max_score:
                problems.append(f"{label}: status passed with {score}/{max_score}")
    if not problems and isinstance(results.get("score"), (int, float)):
        total = sum(test["score"] for test in results["tests"])
        if abs(total - results["score"]) > 1e-9:
            problems.append(f"top-level score {results['score']} is not the sum of the tests' scores {total}")
    return problems


def isolation_mode_of(results: Optional[dict]) -> Optional[str]:
    """results.json's extra_data.isolation.mode (None when absent)."""
    extra = (results or {}).get("extra_data")
    isolation = extra.get("isolation") if isinstance(extra, dict) else None
    return isolation.get("mode") if isinstance(isolation, dict) else None


def function_of(test: dict) -> str:
    extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
    return extra.get("function") or test["name"].split(":", 1)[0].strip()


def case_of(test: dict) -> str:
    extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
    return extra.get("case") or test["name"]


def tests_by_function(results: dict) -> Dict[str, List[dict]]:
    grouped: Dict[str, List[dict]] = {}
    for test in results["tests"]:
        grouped.setdefault(function_of(test), []).append(test)
    return grouped


# -- users and their processes -------------------------------------------------------------------
def sandbox_uid(user: str = SANDBOX_USER) -> Optional[int]:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def ensure_ta_user(name: str) -> pwd.struct_passwd:
    """An ordinary user with a home folder (created if missing; root only)."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--user-group", name],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        raise RuntimeError(f"{name} is root")
    home = Path(entry.pw_dir)
    if not home.is_dir():
        home.mkdir(parents=True, mode=0o755)
        os.chown(home, entry.pw_uid, entry.pw_gid)
    return entry


@contextmanager
def ta_user(base: str = TA_USER) -> Iterator[pwd.struct_passwd]:
    """An unprivileged TA user that no other grading of this harness is using, held until the end
    of the block (its processes are then this grading's only: the harness counts them)."""
    try:
        TA_LOCKS.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(TA_LOCKS)
    if info.st_uid != 0 or not stat.S_ISDIR(info.st_mode) or info.st_mode & 0o077:
        raise RuntimeError(f"{TA_LOCKS} is not a root-only folder")
    for index in range(TA_SPARES):
        name = base if index == 0 else f"{base}{index}"
        fd = os.open(TA_LOCKS / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        try:
            entry = ensure_ta_user(name)
            kill_pids(processes_of(entry.pw_uid), entry.pw_uid)     # what a crashed earlier run left
            yield entry
        finally:
            os.close(fd)
        return
    raise RuntimeError(f"all {TA_SPARES} TA users are busy")


def _status_field(pid: int, name: str) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def process_state(pid: int) -> Optional[str]:
    """The state letter of a process (R, S, T, Z, ...), None when it is gone."""
    state = _status_field(pid, "State")
    return state.split()[0] if state else None


def processes_of(uid: Optional[int]) -> Dict[int, str]:
    """{pid: short description} of the live (not zombie) processes whose real uid is `uid`."""
    found = {}
    if uid is None:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        uids = _status_field(pid, "Uid")
        if not uids or int(uids.split()[0]) != uid:
            continue
        state = _status_field(pid, "State") or "?"
        if state.startswith("Z"):
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read(300).replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmdline = ""
        found[pid] = f"pid {pid} [{_status_field(pid, 'Name')}] state {state}: {cmdline[:200]}"
    return found


def kill_pids(pids, uid: Optional[int]) -> None:
    """SIGKILL each pid that still belongs to `uid` (never anything else)."""
    for pid in pids:
        uids = _status_field(pid, "Uid")
        if uid is None or not uids or int(uids.split()[0]) != uid:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def namespaces_work_as(uid: int, gid: int) -> Optional[str]:
    """None when bubblewrap makes namespaces here as that (unprivileged) user; else why not.
    $AUTOGRADER_BWRAP names bubblewrap's command, as for the grader."""
    bwrap = os.environ.get("AUTOGRADER_BWRAP", "bwrap")
    if shutil.which(bwrap) is None:
        return f"bubblewrap ({bwrap}) is not installed"
    command = [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
               "--dev", "/dev", "/bin/true"]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=30, cwd="/", user=uid, group=gid, extra_groups=[])
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap could not run ({error})"
    if done.returncode != 0:
        return "bubblewrap could not make namespaces: " + done.stderr.decode(errors="replace").strip()[:300]
    return None
