"""Gradescope's side of grading: the /autograder layout, permissions, isolation, results.json.

`run_autograder` calls run_gradescope(); regrade's warm mode calls run_batch() (`--batch`), which
grades one submission after another with the same workers. Whatever the submission does, and
even if the grader itself fails, a valid results.json is written, listing every case.
"""
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import List, Optional, Tuple

from autograder.engine import isolation
from autograder.engine.locate import locate
from autograder.engine.processes import become_subreaper, kill_descendants
from autograder.engine.reference import MANIFEST, load_reference, read_manifest
from autograder.engine.results import TestResult, results_document, write_results
from autograder.engine.session import open_session

# What compares outputs (grade, verdict: numpy) is imported once the workers are started, so that
# numpy loads (with the references) while they import torch.

MAX_LANES = 2          # more workers cost a torch import and ~150 MB each, for little: start-up dominates
GRADER_FAILED = ("The autograder itself failed on this submission; this is not your fault. "
                 "Please tell the course staff.")


def lock_down(root: Path) -> None:
    """Make the grader's folders its own user's only before any student code runs: root-only on
    Gradescope, where student code runs as another user; a TA's, when a TA regrades as an ordinary
    user, so that other users of a shared machine cannot read the submission and the references
    in a root laid out in the temporary folder."""
    for folder in (root, root / "source", root / "results", root / "submission"):
        if folder.is_dir() and not folder.is_symlink():
            try:
                os.chmod(folder, 0o700)
            except PermissionError:     # another user's folder, given to an ordinary user: left as it is
                pass


def find_part(source: Path) -> Path:
    parts = sorted(path.parent for path in (source / "reference_data").glob(f"*/{MANIFEST}"))
    if len(parts) != 1:
        raise RuntimeError(f"expected the reference data of exactly one part in the zip, found {len(parts)}")
    return parts[0]


def every_case(manifest: dict, kind: str, message: str) -> List[TestResult]:
    from autograder.engine.verdict import result
    return [result(case, kind, message) for case in manifest["cases"]]


def lane_count(launcher, share: float) -> int:
    """Workers side by side: one per whole CPU this process may use, at most MAX_LANES, and only
    where each worker has world-writable places of its own (namespaces): elsewhere the sweep after
    a case in one worker would remove the files of a case running in another."""
    if not launcher.namespaces:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_LANES, int(cpus * share)))


class PartGrader:
    """The part in ROOT/source, graded for one submission after another: the isolation, the
    references and the workers are set up for the first, and the workers stay up for the next
    (regrade's warm mode: each worker ends whatever a submission left before the next one's
    files are put in place; see WorkerSession.end_submission)."""

    def __init__(self, source: Path, isolation_mode: str, lanes: int):
        self.source, self.isolation_mode, self.lanes_asked = source, isolation_mode, lanes
        self.part_dir = find_part(source)
        self.manifest = read_manifest(self.part_dir)
        self.launcher = None
        self.sessions: List = []
        self.reference = None

    def grade(self, submission: Path) -> Tuple[List[TestResult], List[str], dict]:
        """(tests, notes for the top of the results, extra data) of one submission folder."""
        manifest = self.manifest
        located = locate(submission, manifest["package"], manifest["files"])
        if self.launcher is None:
            self.launcher = isolation.choose(self.isolation_mode)
            self.share = isolation.cpu_share()
        extra = {"isolation": self.launcher.describe()}
        if self.sessions:
            self._next_submission(located.files)
        else:
            count = self.lanes_asked or lane_count(self.launcher, self.share)
            inputs = [self.part_dir / case["inputs"] for case in manifest["cases"]]
            for _ in range(count):
                self.sessions.append(open_session(manifest, inputs, located.files, self.source / "autograder",
                                                  self.launcher, sys.executable, "fork", isolated=True,
                                                  memory_allowance=self.launcher.limits.memory_allowance,
                                                  seccomp=True))
                self.sessions[-1].launch()  # torch imports in the workers while the references are read
            self.reference = load_reference(self.part_dir, manifest)
            for session in self.sessions:
                session.wait_ready()
        from autograder.engine.grade import grade_in_lanes
        extra.update(cpu_share=self.share, lanes=len(self.sessions),
                     worker={key: self.sessions[0].ready.get(key) for key in ("preimported", "memory_limit")})
        tests = grade_in_lanes(self.reference, self.sessions, located.problems, time_scale=1.0 / self.share,
                               log=print)
        extra["files"] = located.found_at
        return tests, located.notes(), extra

    def _next_submission(self, files) -> None:
        """The workers, kept, ready for another submission's files (engine/session.py)."""
        left = [session.end_submission() for session in self.sessions]
        reuse = all(processes is not None for processes in left) and \
            self.launcher.runs_nothing_else(set().union(*left))
        for session in self.sessions:
            session.start_submission(self.manifest["package"], files, reuse)

    def drop_workers(self) -> None:
        """After a failure of the grader: the next submission starts with fresh workers."""
        for session in self.sessions:
            session.close()
        self.sessions = []

    def close(self) -> None:
        self.drop_workers()
        if self.launcher is not None:
            self.launcher.close()
            self.launcher = None


def grade_into_document(grader: Optional[PartGrader], submission: Path, started: float) -> Tuple[dict, int]:
    """results.json's document for one submission, and run_autograder's exit status, whatever
    happens: `grader` is None when the part itself could not be read (the traceback is printed)."""
    manifest = grader.manifest if grader else None
    tests, notes, extra, status = [], [GRADER_FAILED], {}, 0
    try:
        if grader is not None:
            tests, notes, extra = grader.grade(submission)
    except isolation.IsolationUnavailable as error:
        print(f"run_autograder: {error}", file=sys.stderr)
        notes, status = [f"Not graded: {error}"], 3
        tests = every_case(manifest, "not graded", "not graded: no isolation for student code")
    except Exception:  # noqa: BLE001 - the grader's own failure must still produce results.json
        print(traceback.format_exc())
        notes = [GRADER_FAILED]
        tests = every_case(manifest, "grader error", "Not graded: the autograder failed (see the top of the results).")
        grader.drop_workers()
        if grader.launcher is not None:
            extra["isolation"] = grader.launcher.describe()
    title = manifest["title"] if manifest else "HW4"
    extra.update(part=manifest["part"] if manifest else None,
                 torch_version=manifest["torch_version"] if manifest else None)
    document = results_document(title, tests, time.monotonic() - started, notes, extra)
    total = sum(t.max_score for t in tests)
    print(f"{title}: {document['score']:g}/{total:g} points, {len(tests)} tests, "
          f"{document['execution_time']:.1f} s, isolation {extra.get('isolation', {}).get('mode')}")
    return document, status


def open_part(root: Path, isolation_mode: str, lanes: int) -> Optional[PartGrader]:
    """The part's grader; None (with the traceback printed) when the zip's part cannot be read."""
    try:
        return PartGrader(root / "source", isolation_mode, lanes)
    except Exception:  # noqa: BLE001 - reported in results.json by grade_into_document
        print(traceback.format_exc())
        return None


def prepare_root(root) -> Path:
    become_subreaper()          # whatever student code leaves running stays below this process
    root = Path(root or os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    (root / "results").mkdir(parents=True, exist_ok=True)
    lock_down(root)
    return root


def run_gradescope(root=None, isolation_mode: str = "auto", lanes: int = 0) -> int:
    """Grade ROOT/submission into ROOT/results/results.json, once."""
    started = time.monotonic()
    root = prepare_root(root)
    grader = open_part(root, isolation_mode, lanes)
    try:
        document, status = grade_into_document(grader, root / "submission", started)
    finally:
        if grader is not None:
            grader.close()
        kill_descendants()
    write_results(root / "results" / "results.json", document)
    return status


def run_batch(root=None, isolation_mode: str = "auto", lanes: int = 0) -> int:
    """regrade's warm mode: for every line "grade" on stdin, grade ROOT/submission (which the caller
    has just replaced) into ROOT/results/results.json and answer "done" on stdout; the workers,
    with torch imported, stay up from one submission to the next. What the grading prints goes to
    stderr."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    root = prepare_root(root)
    grader = open_part(root, isolation_mode, lanes)
    try:
        for line in sys.stdin:
            if line.strip() != "grade":
                continue
            document, _ = grade_into_document(grader, root / "submission", time.monotonic())
            write_results(root / "results" / "results.json", document)
            replies.write("done\n")
    finally:
        if grader is not None:
            grader.close()
        kill_descendants()
    return 0


def _stop_when_asked(signum, frame) -> None:
    """SIGTERM (regrade's timeout): unwind, so that the workers are stopped and their scratch
    folders, which hold the submission, are removed; SIGKILL would leave them behind."""
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="run_autograder", description="Grade ROOT/submission into "
                                     "ROOT/results/results.json, as Gradescope does.")
    parser.add_argument("--root", type=Path, default=None, help="default: $AUTOGRADER_ROOT or /autograder")
    parser.add_argument("--isolation", choices=isolation.MODES, default="auto",
                        help="auto (default): the strongest this machine allows")
    parser.add_argument("--no-isolation", action="store_true",
                        help="grade even where student code cannot be isolated (it runs as you: only code you trust)")
    parser.add_argument("--batch", action="store_true",
                        help="grade ROOT/submission again for every line 'grade' on stdin, answering 'done' "
                             "(regrade's warm mode: the workers stay up between submissions)")
    parser.add_argument("--lanes", type=int, default=int(os.environ.get("AUTOGRADER_LANES", "0") or 0),
                        help="workers side by side (default: $AUTOGRADER_LANES, else one per CPU, at most %d, "
                             "with namespaces; 1 where several gradings share the machine)" % MAX_LANES)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_when_asked)
    run = run_batch if args.batch else run_gradescope
    return run(args.root, "none" if args.no_isolation else args.isolation, max(0, args.lanes))


if __name__ == "__main__":
    sys.exit(main())
