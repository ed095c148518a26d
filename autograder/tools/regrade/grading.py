"""One submission of the export, graded through the zip (tools/through_zip.py), several at a time.

Warm (the default): each job keeps one `run_autograder --batch` whose workers stay up from one
submission to the next, so torch is imported once per job, not once per submission; each
worker ends whatever a submission left running before the next one's files go in. Cold
(`--cold`): one run_autograder per submission, exactly as Gradescope runs it.

A grading that crashes or runs past its timeout gets a failure message instead of results;
"the autograder itself failed" is retried once (it is most often passing: all sandbox users
busy). An interrupted regrade kills every grading still running, with all they started.
"""
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional, Set, Tuple

from autograder.tools import proctable
from autograder.tools.regrade.export import Submission
from autograder.tools.through_zip import Grading, WarmGrader, grade_through_zip

GRADER_ERROR_RETRIES = 1


class Gradings:
    """The gradings running now (their run_autograder pids), so that an interrupt can kill them all;
    and, when warm, the idle WarmGraders, one per job."""

    def __init__(self, zip_file: Path, scratch: Path, args=(), jobs: int = 1, warm: bool = True):
        self.zip_file, self.scratch, self.args = zip_file, scratch, list(args)
        self.lock = threading.Lock()
        self.pids: Set[int] = set()
        self.stop = threading.Event()
        self.warm: Optional[queue.Queue] = None
        if warm:
            self.warm = queue.Queue()
            for _ in range(jobs):
                self.warm.put(None)     # made on first use, in the job's thread

    def started(self, pid: int) -> None:
        with self.lock:
            self.pids.add(pid)

    def ended(self, pid: int) -> None:
        with self.lock:
            self.pids.discard(pid)

    def kill_all(self) -> None:
        self.stop.set()
        with self.lock:
            running = list(self.pids)
        for pid in running:
            proctable.kill_tree(pid)

    def grade(self, folder: Path, timeout: float) -> Grading:
        """One grading: by an idle WarmGrader, or by a run_autograder of its own (cold)."""
        if self.warm is None:
            workdir = Path(tempfile.mkdtemp(prefix="grading-", dir=self.scratch))
            pid = []

            def watch(started_pid: int) -> None:
                pid.append(started_pid)
                self.started(started_pid)
            try:
                return grade_through_zip(self.zip_file, folder, workdir, timeout=timeout, args=self.args,
                                         on_start=watch)
            finally:
                if pid:
                    self.ended(pid[0])
                shutil.rmtree(workdir, ignore_errors=True)
        grader = self.warm.get()
        try:
            if grader is None:
                grader = WarmGrader(self.zip_file, Path(tempfile.mkdtemp(prefix="grading-", dir=self.scratch)),
                                    self.args, on_start=self.started, on_end=self.ended)
            return grader.grade(folder, timeout)
        finally:
            self.warm.put(grader)

    def close(self) -> None:
        """End the WarmGraders' processes and remove their folders."""
        while self.warm is not None and not self.warm.empty():
            grader = self.warm.get()
            if grader is not None:
                grader.remove()


def grade_one(submission: Submission, timeout: float, gradings: Gradings) -> Tuple[Optional[dict], str, float]:
    """(results.json or None, failure message or '', seconds) for one submission."""
    started = time.monotonic()
    if submission.folder is None:
        return None, "no folder for this submission in the export", 0.0
    for attempt in range(1 + GRADER_ERROR_RETRIES):
        if gradings.stop.is_set():
            return None, "interrupted", time.monotonic() - started
        results, failure = _grade_once(submission.folder, timeout, gradings)
        if not (failure and "autograder itself failed" in failure) or attempt == GRADER_ERROR_RETRIES:
            return results, failure, time.monotonic() - started
        time.sleep(5)
    raise AssertionError("unreachable")


def _grade_once(folder: Path, timeout: float, gradings: Gradings) -> Tuple[Optional[dict], str]:
    try:
        grading = gradings.grade(folder, timeout)
    except Exception as error:  # noqa: BLE001 - any failure of one grading becomes its row's message
        return None, f"grading failed: {type(error).__name__}: {error}"
    if gradings.stop.is_set():
        return None, "interrupted"
    if grading.timed_out:
        return None, f"timed out: grading took longer than {timeout:g} s (its processes were killed)"
    if grading.results is None:
        return None, "no valid results.json was written"
    return grading.results, _results_problem(grading.results)


def _results_problem(results: dict) -> str:
    """'' for a normal results.json; else what went wrong on the grader's side."""
    tests = results.get("tests") or []
    if any((test.get("extra_data") or {}).get("kind") == "grader error" for test in tests) or \
            "autograder itself failed" in str(results.get("output", "")):
        return "the autograder itself failed on this submission (see its results.json output)"
    if any((test.get("extra_data") or {}).get("kind") == "not graded" for test in tests):
        return "not graded: no isolation for student code here (see run_autograder --help)"
    return ""
