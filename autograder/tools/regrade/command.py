"""`python -m autograder regrade EXPORT --part N --jobs J --out grades.csv [--compare OLD.csv]`.

Every submission folder of the export is graded through the part's built zip, as Gradescope
would, J at a time (each job takes its own sandbox user; its workers stay up between submissions
unless --cold: regrade/grading.py). Each finished
submission is appended to the CSV at once, so an interrupted run resumes where it stopped:
ids already in the CSV are not graded again. Beside X.csv: X-details.jsonl (each grading's
tests), X.png (the histogram of totals), X-report.json and X-report.html (the class report,
report.py) and, with --compare OLD.csv, X-changes.csv (whose points change, changes.py).
"""
import fcntl
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import zipfile
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from autograder.engine import isolation
from autograder.tools import parts
from autograder.tools.regrade import changes as changes_module
from autograder.tools.regrade import grades_csv
from autograder.tools.regrade.export import RegradeError, Submission, read_export
from autograder.tools.regrade.grading import Gradings, grade_one
from autograder.tools.regrade.histogram import write_histogram
from autograder.tools.regrade.report import write_report

MAX_JOBS = 8                 # the engine's sandbox users (engine/users.py): one per concurrent grading
TIMEOUT_MARGIN = 120.0       # default timeout: the part's grading deadline plus this (starting torch, I/O)


@dataclass
class Summary:
    graded: int
    skipped: int
    failed: int
    csv: Path
    png: Path
    report_json: Optional[Path] = None
    report_html: Optional[Path] = None
    changes: Optional[Path] = None


def read_zip_manifest(zip_file: Path) -> dict:
    with zipfile.ZipFile(zip_file) as archive:
        names = [name for name in archive.namelist()
                 if name.startswith("reference_data/") and name.endswith("/manifest.json")]
        if len(names) != 1:
            raise RegradeError(f"{zip_file} holds {len(names)} part manifests, not 1: is it an autograder zip?")
        return json.loads(archive.read(names[0]))


def regrade(export: Path, part, jobs: int = 1, out: Path = Path("grades.csv"), zip_file: Optional[Path] = None,
            timeout: Optional[float] = None, progress: bool = True, log=print, args=(),
            compare: Optional[Path] = None, cold: bool = False) -> Summary:
    try:
        part = parts.normalize(part)
    except parts.PartError as error:
        raise RegradeError(str(error)) from None
    refused = isolation.refusal("none" if "--no-isolation" in args else "auto")   # first: it holds whatever
    if refused:                                                                     # else is wrong
        raise RegradeError(refused)
    built = parts.autograder_zip(part)
    zip_file = Path(zip_file) if zip_file else built
    if not zip_file.is_file():
        raise RegradeError(f"{zip_file} does not exist: run `make build` first (it writes the autograder zips)")
    manifest_here = parts.REPO / "reference_data" / part / "manifest.json"
    if zip_file == built and manifest_here.is_file() and zip_file.stat().st_mtime < manifest_here.stat().st_mtime:
        log(f"warning: {zip_file.name} is older than reference_data/{part}: run `make build` if that is not meant")
    if jobs > 1 and cold:
        args = list(args) + ["--lanes", "1"]    # gradings side by side: one worker each is enough
    manifest = read_zip_manifest(zip_file)
    old = changes_module.read_old(Path(compare), manifest) if compare else None   # a wrong file stops us now
    timeout = float(timeout) if timeout else float(manifest.get("deadline", 600)) + TIMEOUT_MARGIN
    if jobs < 1:
        raise RegradeError("--jobs must be at least 1")
    if jobs > MAX_JOBS:
        log(f"--jobs {jobs} lowered to {MAX_JOBS}: each grading needs its own sandbox user")
        jobs = MAX_JOBS
    submissions = read_export(Path(export))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = _lock_csv(out)
    try:
        return _regrade_locked(submissions, zip_file, manifest, jobs, timeout, out, progress, log, args, old, cold)
    finally:
        os.close(lock)


def _lock_csv(out: Path) -> int:
    """Two runs appending to one CSV would grade and write the same ids twice: one at a time."""
    fd = os.open(out.with_name(f".{out.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RegradeError(f"another regrade is writing {out} now; wait for it, or choose another --out") from None
    return fd


def _regrade_locked(submissions: List[Submission], zip_file: Path, manifest: dict, jobs: int, timeout: float,
                    out: Path, progress: bool, log, args, old, cold: bool) -> Summary:
    header = grades_csv.header_of(manifest)
    done = grades_csv.load_done(out, header)
    todo = [submission for submission in submissions if grades_csv.id_cell(submission.id) not in done]
    skipped = len(submissions) - len(todo)
    log(f"{manifest['title']}: {len(submissions)} submissions in the export, {skipped} already in {out}, "
        f"{len(todo)} to grade, {jobs} at a time (timeout {timeout:g} s each, "
        f"{'one run_autograder each' if cold else 'workers kept warm between submissions'})")

    writer = grades_csv.RowWriter(out, header)
    details_path, details_lock = grades_csv.sibling(out, "-details.jsonl"), threading.Lock()
    if not done and details_path.exists():
        details_path.unlink()           # a fresh CSV: details of an earlier one would not belong to it
    failed = graded = 0
    for stale in out.parent.glob(f".{out.name}.work-*"):      # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.work-", dir=out.parent))
    gradings = Gradings(zip_file, scratch, args, jobs, warm=not cold)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="submission", desc=manifest["part"], dynamic_ncols=True)
    previous_term = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    if previous_term is not None:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="regrade")
    try:
        pending = {pool.submit(grade_one, submission, timeout, gradings): submission for submission in todo}
        while pending:
            finished, _ = wait(list(pending), timeout=1.0, return_when=FIRST_COMPLETED)
            for future in finished:
                submission = pending.pop(future)
                results, failure, seconds = future.result()
                if gradings.stop.is_set():
                    continue
                grades_csv.write_details(details_path, grades_csv.details_of(submission, results, failure, seconds),
                                         details_lock)
                writer.write(grades_csv.make_row(submission, manifest, results, failure, seconds))
                graded += 1
                failed += bool(failure)
                message = f"{grades_csv.id_cell(submission.id)}: " + (f"FAILED ({failure})" if failure else
                                                  f"{float(results['score']):g}/{manifest['total_points']:g}")
                if bar is not None:
                    bar.write(message)
                    bar.update(1)
                else:
                    log(message)
    except BaseException as error:
        for future in pending:
            future.cancel()
        gradings.kill_all()
        if isinstance(error, KeyboardInterrupt):
            log(f"\ninterrupted: {graded} graded in this run; run the same command again to grade the rest")
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=gradings.stop.is_set())
        gradings.close()
        writer.close()
        if bar is not None:
            bar.close()
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        shutil.rmtree(scratch, ignore_errors=True)

    order = {grades_csv.id_cell(submission.id): index for index, submission in enumerate(submissions)}
    rows = grades_csv.load_done(out, header)         # every row: in the export's order, now that all are in
    grades_csv.rewrite(out, header, sorted(rows.values(), key=lambda row: (order.get(row["submission_id"], len(order)),
                                                                          row["submission_id"])))
    png = grades_csv.sibling(out, ".png")
    try:
        write_histogram(out, png, manifest["title"], float(manifest["total_points"]))
    except Exception as error:  # noqa: BLE001 - the grades matter more than the picture
        log(f"warning: no histogram ({type(error).__name__}: {error})")
    summary = Summary(graded, skipped, failed, out, png)
    try:
        summary.report_json, summary.report_html = write_report(out, manifest, details_path)
    except Exception as error:  # noqa: BLE001 - the grades matter more than the report
        log(f"warning: no class report ({type(error).__name__}: {error})")
    log(f"graded {graded} submissions in this run ({skipped} skipped, already in the CSV; {failed} failed): "
        f"{out}, {png}" + (f", {summary.report_html}, {summary.report_json}" if summary.report_html else ""))
    if old is not None:
        changes_module.report_changes(old, out, manifest, log=log)
        summary.changes = grades_csv.sibling(out, "-changes.csv")
    return summary


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run_regrade(args) -> int:
    """The `regrade` subcommand (the gradings use this interpreter: tools/through_zip.py)."""
    try:
        regrade(args.export, args.part, jobs=args.jobs, out=args.out, zip_file=args.zip, timeout=args.timeout,
                progress=not args.no_progress, args=["--no-isolation"] if args.no_isolation else [],
                compare=getattr(args, "compare", None), cold=getattr(args, "cold", False))
    except RegradeError as error:
        print(f"regrade: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
