"""Grading a mutant: which cases run, in what order, when to stop, and what the attempts add up to.

A mutant is trusted code (the project wrote it), so its cases run in-process
(tools/in_process.py: the same run-case module and verdict as the sandboxed worker, the same
reference data), each grading in its own forked process (processes.py). Only the cases of
the mutated file run. The order answers the report's three questions as early as possible:
is the mutant caught, is it caught by a case of the mutated function itself ("own"), and is
it caught by the public cases alone. So the public cases run first, the function's own first
among them, then the hidden ones, own first; grading stops once the three are settled.
"""
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, FrozenSet, List, Optional, Set

from autograder.engine.reference import Reference
from autograder.engine.results import TestResult
from autograder.tools.mutation.syntax import short

# The table's CPU-time limits as Gradescope applies them (no slack): a mutant that makes a
# function too slow for Gradescope is caught, as a student's equally slow code would be.
CPU_SLACK = 1.0
TIMEOUT_RETRIES = 2       # a mutant failing only by timeouts is graded again (load makes timeouts flaky)
BASELINE_ATTEMPTS = 3     # the unmutated solution: a case counts as failing there only if it fails every time


@dataclass(frozen=True)
class Job:
    """One grading of one file: a mutant, or the unmutated solution."""

    key: str
    part: str
    file: str                          # as graded: "diffusion/ddpm.py"
    source: Optional[str] = None       # the mutated file; None: the unmutated solution
    function: Optional[str] = None     # the mutated function; None: every case runs
    ignore: FrozenSet[str] = frozenset()   # cases the unmutated solution fails: they catch nothing


@dataclass
class CaseReport:
    name: str
    function: str
    hidden: bool
    kind: str              # "passed", or the verdict's kind of failure: "values", "timeout", "crash", ...
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.kind == "passed"

    @classmethod
    def of(cls, case: dict, result: TestResult) -> "CaseReport":
        return cls(case["name"], case["function"], bool(case["hidden"]), result.kind, short(result.message, 160))


@dataclass
class Attempt:
    """What one grading process reported: its cases in the order they ran."""

    reports: List[CaseReport]
    error: Optional[str] = None        # the grading itself could not run (not the mutant's fault)


def case_order(function: Optional[str]) -> Callable[[dict], tuple]:
    """Public before hidden; within each, the mutated function's own cases first (a stable sort)."""
    return lambda case: (bool(case["hidden"]), case["function"] != function)


def cases_in_order(reference: Reference, job: Job) -> List[dict]:
    """The manifest's cases of the job's file, in the order grade_in_process runs them."""
    return sorted((case for case in reference.cases if case["file"] == job.file), key=case_order(job.function))


class EarlyStop:
    """grade_in_process's `stop`: reports each case as it ends, and stops once the mutant is caught
    (a case lost points other than by a timeout, which is graded again instead) and it is known
    whether its own function's cases catch it. Public cases run first, so by then it is known
    whether they do. The unmutated solution (no function) runs every case."""

    def __init__(self, job: Job, cases: List[dict], send: Callable[[CaseReport, bool], None]):
        self.job, self.send = job, send
        self.own_left = sum(case["function"] == job.function for case in cases)
        self.caught = self.caught_by_own = False

    def __call__(self, case: dict, result: TestResult) -> bool:
        own = case["function"] == self.job.function
        self.own_left -= own
        if not result.passed and result.kind != "timeout" and case["name"] not in self.job.ignore:
            self.caught = True
            self.caught_by_own = self.caught_by_own or own
        stop = self.job.function is not None and self.caught and (self.caught_by_own or self.own_left == 0)
        self.send(CaseReport.of(case, result), stop)
        return stop


def grade_job(job: Job, reference: Reference, folder: Path, send: Callable[[CaseReport, bool], None]) -> None:
    """Grade the package under `folder` (a copy of the solution, the job's file replaced), sending
    each case's report as it ends. Runs in a forked grading process."""
    from autograder.tools.in_process import grade_in_process

    stop = EarlyStop(job, cases_in_order(reference, job), send)
    grade_in_process(reference, folder, only_files=[job.file], stop=stop, order=case_order(job.function),
                     slack=CPU_SLACK)


# -- attempts --------------------------------------------------------------------------------
@dataclass
class Grading:
    """The verdict on one mutant over its attempts: what the analysis counts and the cache keeps."""

    failures: List[CaseReport] = field(default_factory=list)   # lost points (the solution's failures left out)
    attempts: int = 0
    cases: int = 0                     # cases run in the last attempt
    error: Optional[str] = None        # every attempt failed to grade: the mutant is not counted
    retried: bool = False              # an attempt failed only by timeouts, so it was graded again

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Grading":
        failures = [CaseReport(**report) for report in data.get("failures", [])]
        return cls(failures, data["attempts"], data["cases"], data.get("error"), data.get("retried", False))


class MutantTally:
    """The attempts at grading one mutant. Under load a correct call can overrun its time limit, so
    an attempt whose only failures are timeouts is graded again, up to TIMEOUT_RETRIES times; the
    mutant counts as caught by timeouts only through the cases that timed out in every attempt."""

    def __init__(self, job: Job):
        self.job = job
        self.grading = Grading()
        self.failures: Optional[List[CaseReport]] = None   # None until an attempt graded

    def record(self, attempt: Attempt) -> bool:
        """Count an attempt; True when the mutant must be graded again."""
        grading = self.grading
        grading.attempts += 1
        more_allowed = grading.attempts <= TIMEOUT_RETRIES
        if attempt.error:
            grading.error = None if self.failures is not None else attempt.error
            return more_allowed
        grading.error, grading.cases = None, len(attempt.reports)
        failed = [report for report in attempt.reports if not report.passed and report.name not in self.job.ignore]
        if not failed or any(report.kind != "timeout" for report in failed):
            self.failures = grading.failures = failed
            return False
        timed_out_before = {report.name for report in (self.failures if self.failures is not None else failed)}
        self.failures = grading.failures = [report for report in failed if report.name in timed_out_before]
        grading.retried = grading.retried or (bool(self.failures) and more_allowed)
        return bool(self.failures) and more_allowed


class BaselineTally:
    """The attempts at grading the unmutated solution's file: the cases it fails in every attempt
    (it is graded again while some fail, up to BASELINE_ATTEMPTS times) catch nothing."""

    def __init__(self, job: Job):
        self.job = job
        self.attempts = 0
        self.failing: Optional[Set[str]] = None    # None until an attempt graded
        self.error: Optional[str] = None

    def record(self, attempt: Attempt) -> bool:
        self.attempts += 1
        if attempt.error:
            self.error = attempt.error
        else:
            names = {report.name for report in attempt.reports if not report.passed}
            self.failing = names if self.failing is None else self.failing & names
        settled = self.failing is not None and not self.failing
        return not settled and self.attempts < BASELINE_ATTEMPTS
