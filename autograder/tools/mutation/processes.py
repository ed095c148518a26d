"""Grading processes: each attempt at grading a mutant runs in a process of its own, forked from
this one (which has imported torch, the tables and the reference data once, see snapshot.py).

In-process grading stops a case at its CPU-time limit with SIGPROF, which Python only sees
between bytecodes: a mutant can still hang inside one long C call, allocate without bound or
crash the interpreter. So the process has an address-space limit (what it maps at the fork
plus MEMORY_ALLOWANCE: an allocation beyond it fails as an exception, as in the sandbox), it
reports each case as it ends, and this side gives the running case a wall-clock limit: a
process past it is killed and that case counts as a timeout; a process that dies counts as a
crash of the running case.
"""
import faulthandler
import multiprocessing
import os
import shutil
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Callable, Iterable, List, Optional

from autograder.tools.mutation.grading import CPU_SLACK, Attempt, CaseReport, cases_in_order, grade_job
from autograder.tools.mutation.snapshot import Snapshot
from autograder.tools.mutation.syntax import short

MAX_JOBS = 2                   # grading processes at once
MEMORY_ALLOWANCE = 1024 ** 3   # address space for the cases over what a grading process maps at the fork
WALL_FACTOR = 3.0              # a case's wall-clock limit: its CPU-time limit times this ...
WALL_MARGIN = 5.0              # ... plus this (the fork, importing the mutated file, a loaded machine)


def wall_limit(case: Optional[dict]) -> float:
    """Seconds on the clock for `case` (None: after the last case, for the process to report)."""
    return WALL_MARGIN + (case["timeout"] * CPU_SLACK * WALL_FACTOR if case is not None else 0.0)


@dataclass
class Running:
    """A grading process, and what it has reported so far."""

    tally: object                      # a grading.MutantTally or BaselineTally: its .job, .record(attempt)
    process: multiprocessing.Process
    connection: Connection
    folder: Path                       # the submission: a copy of the solution package, the job's file replaced
    cases: List[dict]                  # in the order they run
    reports: List[CaseReport] = field(default_factory=list)
    case_started: float = field(default_factory=time.monotonic)
    finished: bool = False             # it said it is done (or stopped after its last report)
    error: Optional[str] = None
    closed: bool = False               # its end of the pipe closed: it exited (or died)

    @property
    def running_case(self) -> Optional[dict]:
        return self.cases[len(self.reports)] if len(self.reports) < len(self.cases) else None

    @property
    def deadline(self) -> float:
        return self.case_started + wall_limit(self.running_case)

    def receive(self) -> None:
        """Read every message waiting: a case's report, "done", or the error that stopped the grading."""
        try:
            while self.connection.poll():
                message = self.connection.recv()
                if "report" in message:
                    self.reports.append(CaseReport(**message["report"]))
                    self.case_started = time.monotonic()
                    self.finished = self.finished or message["stop"]
                elif "error" in message:
                    self.error, self.finished = message["error"], True
                elif "done" in message:
                    self.finished = True
        except (EOFError, OSError):
            self.closed = True


def _limit_memory(allowance: int) -> None:
    import resource

    with open("/proc/self/status") as handle:
        mapped = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (mapped + allowance, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _grading_process(connection: Connection, job, reference, folder: Path) -> None:
    """The body of a forked grading process."""
    try:
        _limit_memory(MEMORY_ALLOWANCE)
        sys.dont_write_bytecode = True
        null = os.open(os.devnull, os.O_WRONLY)     # what a mutant prints or warns would garble the progress
        os.dup2(null, 1)
        os.dup2(null, 2)
        faulthandler.disable()      # a crash is reported as one; its traceback (to a saved stderr) is noise

        def send(report: CaseReport, stop: bool) -> None:
            connection.send({"report": asdict(report), "stop": stop})
        grade_job(job, reference, folder, send)
        connection.send({"done": True})
    except BaseException as error:  # noqa: B902 - whatever stopped the grading is reported, not raised
        try:
            connection.send({"error": f"{type(error).__name__}: {short(str(error), 200)}"})
        except Exception:  # noqa: BLE001 - the pipe is gone: the other side sees it closed
            pass
    finally:
        connection.close()


class Pool:
    """Runs tallies' jobs in forked grading processes, `jobs` at a time, until every tally is settled."""

    def __init__(self, snapshot: Snapshot, jobs: int):
        self.snapshot, self.jobs = snapshot, max(1, min(MAX_JOBS, jobs))
        self.context = multiprocessing.get_context("fork")
        self.work = snapshot.root / "work"
        self.count = 0

    def run(self, tallies: Iterable, settled: Callable[[object], None] = lambda tally: None) -> None:
        """Grade every tally's job; an attempt that asks for another (a retry) goes first in the queue.
        `settled(tally)` is called as each is done."""
        waiting = deque(tallies)
        running: List[Running] = []
        try:
            while waiting or running:
                while waiting and len(running) < self.jobs:
                    running.append(self._start(waiting.popleft()))
                timeout = max(0.0, min(process.deadline for process in running) - time.monotonic())
                ready = wait([process.connection for process in running], timeout)
                for process in list(running):
                    if process.connection in ready or time.monotonic() > process.deadline:
                        process.receive()      # a report that came in at the deadline still counts
                    over_time = time.monotonic() > process.deadline
                    if not (process.finished or process.closed or over_time):
                        continue
                    running.remove(process)
                    if process.tally.record(self._end(process, over_time)):
                        waiting.appendleft(process.tally)
                    else:
                        settled(process.tally)
        finally:
            for process in running:
                self._stop(process)

    def _start(self, tally) -> Running:
        job = tally.job
        reference = self.snapshot.references[job.part]
        self.count += 1
        folder = self.work / str(self.count)
        package = self.snapshot.package_folder(job.part)
        shutil.copytree(package, folder / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if job.source is not None:
            (folder / job.file).write_text(job.source)
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_grading_process, args=(writer, job, reference, folder), daemon=True)
        process.start()
        writer.close()      # only the child writes: its exit closes the pipe
        return Running(tally, process, reader, folder, cases_in_order(reference, job))

    def _end(self, running: Running, over_time: bool) -> Attempt:
        """The attempt a finished, dead or overdue grading process made."""
        if not over_time:
            running.process.join(WALL_MARGIN)     # done or dead: let it exit, so its own exit status is read
        case = running.running_case
        self._stop(running)
        reports = list(running.reports)
        if running.finished:
            return Attempt(reports, running.error)
        if case is None:
            return Attempt(reports, "the grading process ended without reporting its end")
        if over_time:
            kind, message = "timeout", (f"the grading process was killed after {wall_limit(case):g} s on the clock "
                                        "(stuck outside Python, where the CPU-time limit cannot stop it?)")
        else:
            code = running.process.exitcode
            kind = "crash"
            message = (f"the grading process died (signal {-code})" if code is not None and code < 0
                       else f"the grading process exited (exit code {code})")
        reports.append(CaseReport(case["name"], case["function"], bool(case["hidden"]), kind, message))
        return Attempt(reports)

    def _stop(self, running: Running) -> None:
        if running.process.is_alive():
            running.process.kill()
        running.process.join()
        running.connection.close()
        shutil.rmtree(running.folder, ignore_errors=True)
