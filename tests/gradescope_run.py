"""Grade a submission folder exactly as Gradescope would: through a part's autograder zip.

    results, completed, root = grade_with_zip(zip_path, submission_dir, tmp_path)

lays out a fresh grading root (ROOT/source is the unzipped zip, ROOT/submission a copy of
`submission_dir`, links kept as links), runs `AUTOGRADER_ROOT=ROOT bash ROOT/source/run_autograder`
with the project's virtual environment first on PATH, and returns the parsed
ROOT/results/results.json (None when it is missing or not valid JSON), a
subprocess.CompletedProcess (stdout and stderr together in `stdout`; returncode None when the
run was killed at `timeout`; `elapsed` seconds as an extra attribute) and ROOT.

The grading root is made world-traversable (as /autograder is on Gradescope), so that the
grader's own lock-down, not pytest's private temporary folders, is what keeps the sandboxed
student code out of it. When `tmp_path` lies under a private folder, the root is made in the
system's temporary folder instead; `remove_root(root)` deletes it.

Nothing here imports the grader: it only unzips, runs and reads files.
"""
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
SANDBOX_USER = os.environ.get("AUTOGRADER_SANDBOX_USER", "gs-student")
TEST_STATUSES = ("passed", "failed")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
ROOT_PREFIX = "hw4-grading-root-"


def manifest_of(zip_path: Path) -> dict:
    """The part's manifest (reference_data/<part>/manifest.json) read from the zip."""
    with zipfile.ZipFile(zip_path) as archive:
        names = [name for name in archive.namelist()
                 if name.startswith("reference_data/") and name.endswith("/manifest.json")]
        if len(names) != 1:
            raise ValueError(f"{zip_path} holds {len(names)} manifests, not 1")
        return json.loads(archive.read(names[0]))


def _world_traversable(path: Path) -> bool:
    path = path.resolve()
    for folder in [path, *path.parents]:
        try:
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def make_root(tmp_path: Path) -> Path:
    """A fresh, empty grading root that another user could reach (mode 755)."""
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    if _world_traversable(tmp_path):
        root = Path(tempfile.mkdtemp(prefix="autograder-root-", dir=tmp_path))
    else:
        root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        try:
            (tmp_path / "grading_root").symlink_to(root)   # a pointer for whoever inspects tmp_path
        except OSError:
            pass
    os.chmod(root, 0o755)
    return root


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


def _kill_group(process: subprocess.Popen) -> None:
    """Stop the run_autograder process group (ours: started with its own session)."""
    for sig in (signal.SIGCONT, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def run_autograder(root: Path, timeout: float = 300, log_path: Optional[Path] = None,
                   extra_env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """`AUTOGRADER_ROOT=root bash root/source/run_autograder`, bounded by `timeout` seconds."""
    env = dict(os.environ)
    env.update(extra_env or {})
    env["AUTOGRADER_ROOT"] = str(root)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "/usr/bin:/bin")])
    command = ["bash", str(root / "source" / "run_autograder")]
    log_path = Path(log_path) if log_path else root.parent / f"{root.name}.log"
    started = time.monotonic()
    started_ticks = boot_ticks()
    users = set()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=env, start_new_session=True)
        returncode = None
        while True:
            users |= _sandbox_users_held(process.pid)
            try:
                returncode = process.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() - started > timeout:
                    _kill_group(process)
                    process.wait()
                    returncode = None
                    break
    elapsed = time.monotonic() - started
    ended_ticks = boot_ticks()
    with open(log_path, "rb") as log:
        size = os.fstat(log.fileno()).st_size
        log.seek(max(0, size - 20000))
        output = log.read().decode(errors="replace")
    completed = subprocess.CompletedProcess(command, returncode, stdout=output, stderr="")
    completed.elapsed = elapsed
    completed.timed_out = returncode is None
    completed.log_path = log_path
    completed.sandbox_users = sorted(users)
    completed.started_ticks, completed.ended_ticks = started_ticks, ended_ticks
    return completed


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


def read_results(root: Path) -> Optional[dict]:
    """ROOT/results/results.json parsed, or None when missing, not a regular file or not JSON."""
    path = root / "results" / "results.json"
    try:
        if path.is_symlink() or not path.is_file():
            return None
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def grade_with_zip(zip_path: Path, submission_dir: Path, tmp_path: Path, timeout: float = 300,
                   prepare: Optional[Callable[[Path], None]] = None, extra_env: Optional[dict] = None
                   ) -> Tuple[Optional[dict], subprocess.CompletedProcess, Path]:
    """Grade `submission_dir` through `zip_path` in a fresh root; see the module's docstring.

    `prepare(root)` runs after the root is laid out and before grading (to edit the submission
    in place, for instance).
    """
    root = make_root(Path(tmp_path))
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():      # extractall drops the modes: restore the executable bits
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(root / "source" / info.filename, mode)
    if submission_dir is not None:
        shutil.copytree(submission_dir, root / "submission", symlinks=True)
    else:
        (root / "submission").mkdir()
    if prepare is not None:
        prepare(root)
    completed = run_autograder(root, timeout=timeout, log_path=Path(tmp_path) / f"{root.name}.log",
                               extra_env=extra_env)
    return read_results(root), completed, root


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


# -- processes of the sandbox user --------------------------------------------------------
def sandbox_uid(user: str = SANDBOX_USER) -> Optional[int]:
    import pwd
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def _status_field(pid: int, field: str) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


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
