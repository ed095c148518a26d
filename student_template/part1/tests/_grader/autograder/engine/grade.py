"""Grade a submission: run every case of a part through a worker session and judge it.

The loop and its time-limit policy are the same on Gradescope and in the students' public
tests (this module is shipped with the handout):
- a case gets its own limit of CPU time (so slow but correct code is not failed because the
  machine is busy), and a wall-clock cap for code that waits, scaled up when this process
  gets less than a whole CPU (Gradescope's half a vCPU);
- the other cases of a function that timed out once run side by side in one short window (it
  is most likely stuck in all of them), so that a submission that hangs everywhere is graded
  in seconds;
- a file whose import failed, hung or crashed is reported for all its cases at once;
- past the part's deadline, the remaining cases are listed as not run.
"""
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from autograder.engine.results import TestResult
from autograder.engine.session import CaseRun, Launcher, Scratch, WorkerSession, worker_command
from autograder.engine.verdict import TimeLimit, judge, result

STRUCK_TIMEOUT = 0.25       # seconds, for the other cases of a function that timed out once
WALL_FACTOR = 3.0           # a case's wall-clock cap: this many times its CPU limit (per whole CPU)
# What the worker needs of the engine; the case table and its helpers come from the manifest.
WORKER_FILES = ("__init__.py", "engine/__init__.py", "engine/case.py", "engine/worker.py", "engine/run_case.py",
                "engine/imports.py", "engine/processes.py")


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


class Grader:
    """Runs the cases of one part against one submission, in the manifest's order."""

    def __init__(self, reference, session: WorkerSession, problems: Dict[str, str], deadline: Optional[float] = None,
                 time_scale: float = 1.0, log: Callable[[str], None] = lambda line: None,
                 only_files: Optional[List[str]] = None):
        """`problems`: graded file -> why it cannot be graded (missing, a link, too large).
        `only_files` restricts grading to those files' cases (tools and tests only)."""
        self.reference, self.session, self.problems, self.log = reference, session, problems, log
        self.deadline = deadline if deadline is not None else reference.manifest["deadline"]
        self.time_scale = time_scale
        self.cases = [case for case in reference.cases if only_files is None or case["file"] in only_files]
        self.struck = set()                         # functions that timed out once
        self.failed_imports: Dict[str, TestResult] = {}
        self.done: Dict[str, TestResult] = {}       # results of cases run ahead, side by side
        self.graded = set()
        self.started: Optional[float] = None

    def limit_for(self, case: dict) -> TimeLimit:
        if case["function"] in self.struck:
            short = min(case["timeout"], STRUCK_TIMEOUT) * self.time_scale
            return TimeLimit(short, short, shared=True)
        return TimeLimit(case["timeout"], case["timeout"] * WALL_FACTOR * self.time_scale)

    def grade_case(self, case: dict) -> TestResult:
        if self.started is None:
            self.started = time.monotonic()
        if time.monotonic() - self.started > self.deadline:
            test = result(case, "not run", "not run: the grading time limit was reached before this case "
                                           "(earlier cases were too slow)")
        elif case["file"] in self.problems:
            test = result(case, "missing file", self.problems[case["file"]])
        elif case["file"] in self.failed_imports:
            earlier = self.failed_imports[case["file"]]
            test = result(case, earlier.kind, earlier.message, printed=earlier.printed)
        elif case["id"] in self.done:
            test = self.done.pop(case["id"])
        else:
            together = [case]
            if case["function"] in self.struck and self.session.runs_side_by_side:
                together += [other for other in self.cases if other["function"] == case["function"]
                             and other is not case and other["id"] not in self.graded and other["id"] not in self.done]
            limit = self.limit_for(case)
            runs = self.session.run_together([c["id"] for c in together], _module_of(case), limit.cpu, limit.wall)
            for other, run in zip(together, runs):
                judged = judge(other, run, self.reference, limit)
                self._remember(other, run, judged)
                self.done[other["id"]] = judged
            test = self.done.pop(case["id"])
        self.graded.add(case["id"])
        self.log(f"{test.score:g}/{test.max_score:g}  {case['name']}")
        return test

    def _remember(self, case: dict, run: CaseRun, test: TestResult) -> None:
        if test.kind == "timeout":
            self.struck.add(case["function"])
        in_import = isinstance(run.status, dict) and run.status.get("phase") == "import"
        if run.ended.startswith("import") or test.kind in ("import error", "not allowed") or (
                in_import and test.kind in ("timeout", "crash")):
            self.failed_imports[case["file"]] = test

    def run(self) -> List[TestResult]:
        return [self.grade_case(case) for case in self.cases]


def _module_of(case: dict) -> str:
    return case["target"].rsplit(".", 1)[0]


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

