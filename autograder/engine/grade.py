"""Grade a submission: run every case of a part through a worker session and judge it.

The loop and its time-limit policy are the same on Gradescope and in the students' public
tests (this module is shipped with the handout):
- a case gets its own limit of CPU time (so slow but correct code is not failed because the
  machine is busy), and a wall-clock cap for code that waits, scaled up when this process
  gets less than a whole CPU (Gradescope's half a vCPU);
- the other cases of a function that timed out once (or killed the worker) run side by side
  in one short window (it is most likely stuck in all of them), so that a submission that hangs
  everywhere is graded in seconds;
- a file whose import failed, hung or crashed is reported for all its cases at once;
- past the part's deadline, the remaining cases are listed as not run.
"""
import threading
import time
from typing import Callable, Dict, List, Optional

from autograder.engine.results import TestResult
from autograder.engine.session import CaseRun, WorkerSession
from autograder.engine.verdict import TimeLimit, judge, result

STRUCK_TIMEOUT = 0.25       # seconds, for the other cases of a function that timed out once
WALL_FACTOR = 3.0           # a case's wall-clock cap: this many times its CPU limit (per whole CPU)

class Grader:
    """Runs the cases of one part against one submission, in the manifest's order."""

    def __init__(self, reference, session: WorkerSession, problems: Dict[str, str], deadline: Optional[float] = None,
                 time_scale: float = 1.0, log: Callable[[str], None] = lambda line: None,
                 only_files: Optional[List[str]] = None, cases: Optional[List[dict]] = None):
        """`problems`: graded file -> why it cannot be graded (missing, a link, too large).
        `cases` (default: all) or `only_files` restrict grading to some cases (lanes; tools and tests)."""
        self.reference, self.session, self.problems, self.log = reference, session, problems, log
        self.deadline = deadline if deadline is not None else reference.manifest["deadline"]
        self.time_scale = time_scale
        chosen = reference.cases if cases is None else cases
        self.cases = [case for case in chosen if only_files is None or case["file"] in only_files]
        self.struck = set()                         # functions that timed out once
        self.failed_imports: Dict[str, TestResult] = {}
        self.done: Dict[str, TestResult] = {}       # results of cases run ahead, side by side
        self.graded = set()
        self.started: Optional[float] = None
        self.stopping = threading.Event()

    def limit_for(self, case: dict) -> TimeLimit:
        if case["function"] in self.struck:
            short = min(case["timeout"], STRUCK_TIMEOUT) * self.time_scale
            return TimeLimit(short, short, shared=True)
        return self.full_limit(case)

    def full_limit(self, case: dict) -> TimeLimit:
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
            full = self.full_limit(case)        # a file's import always gets a case's whole limits
            runs = self.session.run_together([c["id"] for c in together], _module_of(case), limit.cpu, limit.wall,
                                             (full.cpu, full.wall))
            for other, run in zip(together, runs):
                judged = judge(other, run, self.reference, full if run.ended.startswith("import") else limit)
                self._remember(other, run, judged)
                self.done[other["id"]] = judged
            test = self.done.pop(case["id"])
        self.graded.add(case["id"])
        self.log(f"{test.score:g}/{test.max_score:g}  {case['name']}")
        return test

    def _remember(self, case: dict, run: CaseRun, test: TestResult) -> None:
        if test.kind == "timeout" or run.ended == "lost":     # stuck, or it killed the worker: the
            self.struck.add(case["function"])                  # function's other cases run side by side
        in_import = isinstance(run.status, dict) and run.status.get("phase") == "import"
        if run.ended.startswith("import") or test.kind in ("import error", "not allowed") or (
                in_import and test.kind in ("timeout", "crash")):
            self.failed_imports[case["file"]] = test

    def run(self) -> List[TestResult]:
        results = []
        for case in self.cases:
            if self.stopping.is_set():      # run_autograder was asked to stop: no case more
                break
            results.append(self.grade_case(case))
        return results


def lanes(cases: List[dict], count: int) -> List[List[dict]]:
    """`cases` split into at most `count` runs of whole functions, in their order, of about as many
    cases each: a function's cases share one lane (its time-limit policy is per function)."""
    functions: Dict[str, List[dict]] = {}
    for case in cases:
        functions.setdefault(case["function"], []).append(case)
    groups: List[List[dict]] = [[]]
    share = len(cases) / max(1, count)
    for function_cases in functions.values():
        if groups[-1] and len(groups) < count and len(groups[-1]) + len(function_cases) / 2 > share:
            groups.append([])
        groups[-1].extend(function_cases)
    return groups


def grade_in_lanes(reference, sessions: List[WorkerSession], problems: Dict[str, str], **options) -> List[TestResult]:
    """Every case, the lanes side by side (a worker each, in threads), the results in the cases' order.
    Within a lane cases run one after another, as always; lanes share nothing but the deadline."""
    from concurrent.futures import ThreadPoolExecutor

    groups = lanes(reference.cases, len(sessions))
    graders = [Grader(reference, session, problems, cases=group, **options) for session, group in zip(sessions, groups)]
    if len(graders) == 1:
        results = graders[0].run()
    else:
        pool = ThreadPoolExecutor(len(graders))
        try:
            results = [test for tests in pool.map(Grader.run, graders) for test in tests]
        except BaseException:   # SystemExit on SIGTERM: the lanes end now, before the sessions are closed
            for grader in graders:
                grader.stopping.set()
                try:
                    grader.session.stop()       # its case in progress ends: the lane sees its worker gone
                except Exception:  # noqa: BLE001 - the lane may be stopping it too; it is going anyway
                    pass
            raise
        finally:
            pool.shutdown(wait=True)
    by_case = {test.extra_data["case"]: test for test in results}
    return [by_case[case["id"]] for case in reference.cases]


def _module_of(case: dict) -> str:
    return case["target"].rsplit(".", 1)[0]
