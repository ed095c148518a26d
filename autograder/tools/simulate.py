"""`python -m autograder simulate --part N SUBMISSION`: grade as Gradescope would, on this machine.

Through the built zip, in an environment made only of what the zip's setup.sh installs (a
virtual environment that replays setup.sh's installs, cached by the hash of setup.sh and
requirements.txt, so rebuilt whenever they change), under Gradescope's default limits:
768 MB of memory without swap and half a CPU, with a cgroup where this machine allows it
(cgroup v1 or v2, as root). It says which limit it could not enforce and why, and prints the
result as the student sees it, with the grading's wall time and peak memory.

Gradescope runs Python 3.10 on Ubuntu 22.04; the environment here is built from this
machine's /usr/bin/python3, whatever its version (the README says what that covers).
"""
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import List, Optional

from autograder.engine import isolation
from autograder.tools import parts
from autograder.tools.cgroups import Cgroup
from autograder.tools.through_zip import Grading, grade_through_zip

GRADESCOPE_MEMORY = 768 * 1024 ** 2
GRADESCOPE_CPUS = 0.5
CACHE = parts.REPO / ".cache" / "gradescope-env"
BASE_PYTHON = "/usr/bin/python3"    # a system Python: the sandbox user must be able to run it


class SimulateError(Exception):
    """The simulated environment could not be made (or the zip is missing)."""


def environment_key(zip_file: Path) -> str:
    with zipfile.ZipFile(zip_file) as archive:
        digest = hashlib.sha256(archive.read("setup.sh") + b"\0" + archive.read("requirements.txt"))
    return digest.hexdigest()[:16]


def gradescope_environment(zip_file: Path, cache: Path = CACHE, log=print) -> Path:
    """The virtual environment of what the zip's setup.sh installs: its bin/ folder."""
    folder = cache / environment_key(zip_file)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        writable = os.access(cache, os.W_OK)
        lock = open(cache / ".lock", "a" if writable else "r")     # another user's: used as built, read-only
    except OSError as error:
        raise SimulateError(f"the simulated Gradescope's environment in {cache} cannot be used ({error})") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # one build at a time; the others wait and reuse it
        if (folder / ".complete").is_file():
            return folder / "bin"
        if not writable:
            raise SimulateError(f"the simulated Gradescope's environment is not built in {cache}, and this user "
                                "may not build it there: run `make build` as the checkout's owner, or work in "
                                "a checkout of your own")
        shutil.rmtree(folder, ignore_errors=True)
        base = BASE_PYTHON if os.path.exists(BASE_PYTHON) else sys.executable
        log(f"simulate: building the Gradescope environment in {folder} (setup.sh's installs, once)")
        subprocess.run([base, "-m", "venv", str(folder)], check=True)
        with tempfile.TemporaryDirectory() as source:
            with zipfile.ZipFile(zip_file) as archive:
                archive.extract("setup.sh", source)
                archive.extract("requirements.txt", source)
            env = dict(os.environ, SETUP_PYTHON=str(folder / "bin" / "python"))
            done = subprocess.run(["bash", str(Path(source) / "setup.sh")], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise SimulateError(f"setup.sh failed in the simulated environment:\n{done.stdout[-2000:]}"
                                f"{done.stderr[-2000:]}")
        (folder / ".complete").write_text("setup.sh replayed\n")
        return folder / "bin"


def simulate(zip_file: Path, submission: Path, memory: Optional[int] = GRADESCOPE_MEMORY,
             cpus: Optional[float] = GRADESCOPE_CPUS, isolation_mode: str = "auto", workdir: Optional[Path] = None,
             log=print) -> Grading:
    """Grade `submission` through `zip_file` in the simulated Gradescope (`isolation_mode`: run_autograder's
    --isolation; "none" for --no-isolation)."""
    refused = isolation.refusal(isolation_mode)     # first: it holds whatever else is wrong
    if refused:
        raise SimulateError(refused)
    if not zip_file.is_file():
        raise SimulateError(f"{zip_file} does not exist: run `make build` first")
    python_bin = gradescope_environment(zip_file, log=log)
    cgroup = Cgroup(f"hw4-simulate-{os.getpid()}-{os.urandom(3).hex()}", memory, cpus)
    scratch = Path(tempfile.mkdtemp(prefix="simulate-")) if workdir is None else workdir
    try:
        return grade_through_zip(zip_file, submission, scratch, python_bin=python_bin, cgroup=cgroup,
                                 args=["--isolation", isolation_mode], env=_clean_environment())
    finally:
        cgroup.close()
        if workdir is None:
            shutil.rmtree(scratch, ignore_errors=True)


def _clean_environment() -> dict:
    """This process's environment without the project's virtual environment, nor a TMPDIR (which
    Gradescope does not set): the grader's scratch folders go to /tmp, as there. A TMPDIR in memory
    would count their files against the simulated memory limit."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "TMPDIR")}
    path = [entry for entry in env.get("PATH", "").split(os.pathsep)
            if entry and not os.path.isfile(os.path.join(entry, "activate"))]     # False where it may not look
    env["PATH"] = os.pathsep.join(path or ["/usr/bin", "/bin"])
    return env


def prepare_environment(part: str) -> int:
    """Build the environment from a zip packed now from the committed reference data (a fresh
    clone has no dist/ yet): setup.sh and the requirements are what every part's zip holds."""
    from autograder.engine.package import build_zip

    with tempfile.TemporaryDirectory() as folder:
        zip_file = build_zip(parts.REPO, part, Path(folder) / "part.zip")
        print(f"simulate: the Gradescope environment is {gradescope_environment(zip_file).parent}")
    return 0


# -- what a student sees ------------------------------------------------------------------------------
def unescape(markdown: str) -> str:
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|~<>&$:])", r"\1", markdown)


def student_view(grading: Grading) -> List[str]:
    results = grading.results
    if results is None:
        return ["No results.json: Gradescope would show \"The autograder failed to execute correctly\"."]
    tests = results.get("tests", [])
    visible = [t for t in tests if t.get("visibility", "visible") == "visible"]
    hidden = [t for t in tests if t.get("visibility", "visible") != "visible"]
    lines = ["Before the due date the student sees:", "", unescape(results.get("output", "")), ""]
    for test in visible:
        lines.append(f"== {test['name']}: {test['score']:g} / {test['max_score']:g} ({test['status']})")
        lines.append(unescape(test.get("output", "")))
        lines.append("")
    if hidden:
        earned = sum(t["score"] for t in hidden)
        possible = sum(t["max_score"] for t in hidden)
        lines.append(f"After the due date, also {len(hidden)} hidden tests: {earned:g} / {possible:g} points "
                     f"(total {results.get('score', 0):g}).")
    return lines


def summary(grading: Grading) -> List[str]:
    extra = (grading.results or {}).get("extra_data") or {}
    memory = "not measured"
    if grading.peak_memory:
        memory = f"{grading.peak_memory / 1024 ** 2:.0f} MiB (cgroup, with the page cache"
        if grading.peak_memory_held:
            memory += f"; {grading.peak_memory_held / 1024 ** 2:.0f} MiB without it"
        memory += ")"
    lines = [f"wall time {grading.seconds:.1f} s, peak memory {memory}, "
             f"isolation {(extra.get('isolation') or {}).get('mode', 'unknown')}"]
    lines += [f"limit {line}" for line in grading.limits] or ["no limits were asked for"]
    if grading.timed_out:
        lines.append("run_autograder did not finish: Gradescope would time out")
    return lines


def failed(grading: Grading) -> bool:
    """Whether the zip itself failed (not the submission): no results, or the grader's own failure."""
    results = grading.results
    return results is None or grading.timed_out or "autograder itself failed" in unescape(results.get("output", ""))


def main(args) -> int:
    part = parts.normalize(args.part)
    if args.environment_only:
        return prepare_environment(part)
    if args.submission is None:
        print("simulate: a submission folder is needed (or --environment-only)", file=sys.stderr)
        return 2
    zip_file = Path(args.zip) if args.zip else parts.autograder_zip(part)
    memory = None if args.no_limits else args.memory * 1024 ** 2
    cpus = None if args.no_limits else args.cpus
    try:
        grading = simulate(zip_file, Path(args.submission), memory, cpus, "none" if args.no_isolation else "auto")
    except SimulateError as error:
        print(f"simulate: {error}", file=sys.stderr)
        return 2
    print("\n".join(student_view(grading) + [""] + summary(grading)))
    if failed(grading):
        print("\nThe autograder itself failed; what run_autograder printed:\n" + grading.output[-4000:])
        return 1
    return 0
