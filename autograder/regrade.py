"""Batch regrading of a Gradescope "Export Submissions" folder into a CSV.

`python -m autograder regrade EXPORT_DIR --part 1 --jobs 2 --out grades.csv`

Every submission folder of the export is graded through the part's built zip
(dist/hw4_partN_autograder.zip), exactly as Gradescope would (build.grade_with_zip),
`jobs` at a time. Each finished submission is appended to the CSV at once (one line,
flushed), so an interrupted run resumes where it stopped: ids already in the CSV are
not graded again, and a half-written last line is dropped. A grading that crashes or
runs past the per-submission timeout still gets its row, with the reason in the
`failure` column and a total of 0 (what Gradescope gives a timed-out submission).
A histogram of the totals is written beside the CSV (grades.csv -> grades.png).
"""
import csv
import fcntl
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

REPO = Path(__file__).resolve().parents[1]
METADATA = "submission_metadata.yml"
MAX_JOBS = 8                 # the engine's sandbox users (sandbox.SPARE_USERS): one per concurrent grading
TIMEOUT_MARGIN = 120.0       # default timeout: the part's grading deadline plus this (starting torch, I/O)
GRADER_ERROR_RETRIES = 1     # "the autograder itself failed" is often passing (all sandbox users busy)
FIXED_COLUMNS = ("submission_id", "names", "emails", "sids", "created_at", "gradescope_score")
TAIL_COLUMNS = ("total", "seconds", "failure")


class RegradeError(Exception):
    """A problem with the command's inputs (not with a submission): reported, exit status 2."""


# -- inputs ------------------------------------------------------------------------
def normalize_part(value) -> str:
    """'1', 1, 'part1', 'Part1' -> 'part1'."""
    text = str(value).strip().lower()
    if text in ("1", "2"):
        text = "part" + text
    if text not in ("part1", "part2"):
        raise RegradeError(f"--part must be 1, 2, part1 or part2, not {value!r}")
    return text


def _plain(key) -> str:
    """Gradescope writes Ruby symbols as keys (':name'); accept 'name' too."""
    return key[1:] if isinstance(key, str) and key.startswith(":") else str(key)


def _plain_keys(value):
    if isinstance(value, dict):
        return {_plain(key): _plain_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_keys(item) for item in value]
    return value


def _yaml_loader():
    """A safe YAML loader that also reads Ruby-tagged values (!ruby/object:BigDecimal '18:0.5e1', ...)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        text = loader.construct_scalar(node)
        if "BigDecimal" in suffix and ":" in text:
            text = text.split(":", 1)[1]
        try:
            return float(text)
        except ValueError:
            return text

    Loader.add_multi_constructor("!", tagged)
    return Loader


@dataclass
class Submission:
    id: str
    folder: Optional[Path]
    names: List[str] = field(default_factory=list)
    emails: List[str] = field(default_factory=list)
    sids: List[str] = field(default_factory=list)
    created_at: str = ""
    score: str = ""


def _text(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def find_export_root(export: Path) -> Path:
    """The folder that holds submission_metadata.yml: `export` itself, or its only subfolder that does
    (the downloaded zip unpacks into assignment_NNN_export/)."""
    if not export.is_dir():
        raise RegradeError(f"{export} is not a folder (unzip Gradescope's export first)")
    if (export / METADATA).is_file():
        return export
    inner = [path for path in export.iterdir() if path.is_dir() and (path / METADATA).is_file()]
    if len(inner) == 1:
        return inner[0]
    raise RegradeError(f"no {METADATA} in {export}: is it an unzipped Gradescope 'Export Submissions' folder?")


def read_export(export: Path) -> List[Submission]:
    """Every submission of the export, in the metadata's order, then folders the metadata does not list."""
    import yaml

    root = find_export_root(export)
    try:
        raw = yaml.load((root / METADATA).read_text(encoding="utf-8"), Loader=_yaml_loader()) or {}
    except yaml.YAMLError as error:
        raise RegradeError(f"{root / METADATA} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise RegradeError(f"{root / METADATA} is not a mapping of submission ids")
    submissions, seen = [], set()
    for key, entry in raw.items():
        key = str(key)
        entry = _plain_keys(entry) if isinstance(entry, dict) else {}
        people = [person for person in entry.get("submitters") or [] if isinstance(person, dict)]
        folder = root / key
        submissions.append(Submission(
            id=key, folder=folder if folder.is_dir() and not folder.is_symlink() else None,
            names=[_text(person.get("name")) for person in people],
            emails=[_text(person.get("email")) for person in people],
            sids=[_text(person.get("sid")) for person in people],
            created_at=_text(entry.get("created_at")), score=_text(entry.get("score"))))
        seen.add(key)
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and not folder.is_symlink() and folder.name not in seen \
                and not folder.name.startswith((".", "__MACOSX")):
            submissions.append(Submission(id=folder.name, folder=folder))
    return submissions


def read_zip_manifest(zip_file: Path, part: str) -> dict:
    with zipfile.ZipFile(zip_file) as archive:
        return json.loads(archive.read(f"reference_data/{part}/manifest.json"))


def graded_functions(manifest: dict) -> List[str]:
    """The graded names of the part, in the order of its cases."""
    names: List[str] = []
    for case in manifest["cases"]:
        if case["function"] not in names:
            names.append(case["function"])
    return names


# -- the CSV ---------------------------------------------------------------------------
def _one_line(text: str, limit: int = 500) -> str:
    """Rows stay one line each (a half-written last line is then just cut off)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def load_done(path: Path, header: List[str]) -> Dict[str, dict]:
    """{id: row} of the rows already in the CSV. A half-written last line, malformed lines and
    repeated ids are dropped (the file is rewritten without them)."""
    if not path.exists():
        return {}
    data = path.read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    text = complete.decode("utf-8", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        path.write_bytes(b"")
        return {}
    if rows[0] != header:
        raise RegradeError(f"{path} has other columns than this part's grades (another part, or another "
                           "version of the case table?): choose another --out, or delete it to start over")
    done: Dict[str, dict] = {}
    for row in rows[1:]:
        if len(row) == len(header) and row[0] and row[0] not in done:
            done[row[0]] = dict(zip(header, row))
    if len(done) != len(rows) - 1 or complete != data:
        _rewrite(path, header, list(done.values()))
    return done


def _rewrite(path: Path, header: List[str], rows: List[dict]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class RowWriter:
    """Appends one row per finished submission: written whole, flushed and synced at once."""

    def __init__(self, path: Path, header: List[str]):
        self.header = header
        fresh = not path.exists() or path.stat().st_size == 0
        self.handle = open(path, "a", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, fieldnames=header, lineterminator="\n")
        self.lock = threading.Lock()
        if fresh:
            self.writer.writeheader()
            self._sync()

    def write(self, row: dict) -> None:
        buffer = io.StringIO()
        csv.DictWriter(buffer, fieldnames=self.header, lineterminator="\n").writerow(row)
        with self.lock:
            self.handle.write(buffer.getvalue())     # one write call per row
            self._sync()

    def _sync(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()


# -- grading one submission ------------------------------------------------------
def _children() -> Dict[int, List[int]]:
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def _grading_processes(workdir: Path) -> List[int]:
    """The run_autograder process of this grading (its command line names workdir) and everything
    below it: the sandboxed worker (a new session, another user) and the cases' children."""
    marker = str(workdir / "autograder").encode()
    roots = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if marker in handle.read():
                        roots.append(int(entry))
            except OSError:
                continue
    children, found, stack = _children(), list(roots), list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_grading(workdir: Path) -> None:
    """SIGKILL a grading's whole process tree (the deepest first), until nothing of it is left."""
    for _ in range(20):
        pids = _grading_processes(workdir)
        if not pids:
            return
        for pid in reversed(pids):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


class Gradings:
    """The gradings running now, so that an interrupted run can kill them all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.workdirs: Set[Path] = set()
        self.stop = threading.Event()

    def add(self, workdir: Path) -> None:
        with self.lock:
            self.workdirs.add(workdir)

    def remove(self, workdir: Path) -> None:
        with self.lock:
            self.workdirs.discard(workdir)

    def kill_all(self) -> None:
        self.stop.set()
        with self.lock:
            running = list(self.workdirs)
        for workdir in running:
            kill_grading(workdir)


def grade_one(zip_file: Path, submission: Submission, timeout: float, scratch: Path,
              gradings: Gradings) -> Tuple[Optional[dict], str, float]:
    """(results.json or None, failure message or '', seconds) for one submission, through the zip."""
    started = time.monotonic()
    if submission.folder is None:
        return None, "no folder for this submission in the export", 0.0
    attempt = 0
    while True:
        if gradings.stop.is_set():
            return None, "interrupted", time.monotonic() - started
        results, failure = _grade_once(zip_file, submission.folder, timeout, scratch, gradings)
        if failure and "autograder itself failed" in failure and attempt < GRADER_ERROR_RETRIES:
            attempt += 1
            time.sleep(5)
            continue
        return results, failure, time.monotonic() - started


def _grade_once(zip_file: Path, folder: Path, timeout: float, scratch: Path,
                gradings: Gradings) -> Tuple[Optional[dict], str]:
    from autograder.build import grade_with_zip

    workdir = Path(tempfile.mkdtemp(prefix="grading-", dir=scratch))
    timed_out = threading.Event()

    def on_timeout():
        timed_out.set()
        kill_grading(workdir)

    watchdog = threading.Timer(timeout, on_timeout)
    watchdog.daemon = True
    gradings.add(workdir)
    watchdog.start()
    try:
        results = grade_with_zip(zip_file, folder, workdir, timeout=timeout + 60)
        failure = _results_problem(results)
    except Exception as error:  # noqa: BLE001 - any failure of one grading becomes its row's message
        results, failure = None, f"grading failed: {type(error).__name__}: {error}"
    finally:
        watchdog.cancel()
        gradings.remove(workdir)
        if timed_out.is_set() or gradings.stop.is_set():
            kill_grading(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    if gradings.stop.is_set():
        return None, "interrupted"
    if timed_out.is_set():
        return None, f"timed out: grading took longer than {timeout:g} s (its processes were killed)"
    return results, failure


def _results_problem(results: dict) -> str:
    """'' for a normal results.json; else what went wrong on the grader's side."""
    tests = results.get("tests") or []
    if any((test.get("extra_data") or {}).get("kind") == "grader error" for test in tests) or \
            "autograder itself failed" in str(results.get("output", "")):
        return "the autograder itself failed on this submission (see its results.json output)"
    return ""


def make_row(submission: Submission, functions: List[str], manifest: dict, results: Optional[dict],
             failure: str, seconds: float) -> dict:
    row = {"submission_id": submission.id, "names": "; ".join(submission.names),
           "emails": "; ".join(submission.emails), "sids": "; ".join(submission.sids),
           "created_at": submission.created_at, "gradescope_score": submission.score,
           "seconds": f"{seconds:.1f}", "failure": _one_line(failure)}
    if results is None:
        row.update({name: "" for name in functions})
        row["total"] = "0"
        return row
    function_of = {case["name"]: case["function"] for case in manifest["cases"]}
    earned = {name: 0.0 for name in functions}
    for test in results.get("tests", []):
        name = function_of.get(test.get("name"), str(test.get("name", "")).split(":", 1)[0])
        earned[name] = earned.get(name, 0.0) + float(test.get("score") or 0.0)
    row.update({name: f"{earned[name]:g}" for name in functions})
    row["total"] = f"{float(results.get('score') or 0.0):g}"
    if not failure and len(results.get("tests", [])) != len(manifest["cases"]):
        row["failure"] = f"results.json lists {len(results.get('tests', []))} of {len(manifest['cases'])} cases"
    return row


# -- the histogram -------------------------------------------------------------------------
def write_histogram(csv_path: Path, png_path: Path, title: str, max_points: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    totals = [float(row["total"]) for row in rows if row.get("total")]
    failed = sum(1 for row in rows if row.get("failure"))
    figure, axes = plt.subplots(figsize=(7, 4))
    bins = [max_points * k / 20 for k in range(21)]
    axes.hist(totals, bins=bins, color="#4C72B0", edgecolor="white")
    axes.set_xlim(0, max_points)
    axes.set_xlabel(f"total points (of {max_points:g})")
    axes.set_ylabel("submissions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    mean = sum(totals) / len(totals) if totals else 0.0
    axes.set_title(f"{title}: {len(totals)} submissions, mean {mean:.2f}"
                   + (f", {failed} not graded (0)" if failed else ""))
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)


# -- the command ------------------------------------------------------------------------------
@dataclass
class Summary:
    graded: int
    skipped: int
    failed: int
    csv: Path
    png: Path


def regrade(export: Path, part, jobs: int = 1, out: Path = Path("grades.csv"), zip_file: Optional[Path] = None,
            timeout: Optional[float] = None, progress: bool = True, log=print) -> Summary:
    part = normalize_part(part)
    built = REPO / "dist" / f"hw4_{part}_autograder.zip"
    zip_file = Path(zip_file) if zip_file else built
    if not zip_file.is_file():
        raise RegradeError(f"{zip_file} does not exist: run `make build` first (it writes the autograder zips)")
    manifest_here = REPO / "reference_data" / part / "manifest.json"
    if zip_file == built and manifest_here.is_file() and zip_file.stat().st_mtime < manifest_here.stat().st_mtime:
        log(f"warning: {zip_file.name} is older than reference_data/{part}: run `make build` if that is not meant")
    manifest = read_zip_manifest(zip_file, part)
    functions = graded_functions(manifest)
    header = list(FIXED_COLUMNS) + functions + list(TAIL_COLUMNS)
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
        return _regrade_locked(submissions, zip_file, manifest, functions, header, jobs, timeout, out, progress, log)
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


def _regrade_locked(submissions: List[Submission], zip_file: Path, manifest: dict, functions: List[str],
                    header: List[str], jobs: int, timeout: float, out: Path, progress: bool, log) -> Summary:
    part = manifest["part"]
    done = load_done(out, header)
    todo = [submission for submission in submissions if submission.id not in done]
    skipped = len(submissions) - len(todo)
    log(f"{manifest['title']}: {len(submissions)} submissions in the export, {skipped} already in {out}, "
        f"{len(todo)} to grade, {jobs} at a time (timeout {timeout:g} s each)")

    writer = RowWriter(out, header)
    gradings = Gradings()
    failed = graded = 0
    for stale in out.parent.glob(f".{out.name}.work-*"):      # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.work-", dir=out.parent))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), unit="submission", desc=part, dynamic_ncols=True)
    previous_term = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    if previous_term is not None:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="regrade")
    try:
        pending = {pool.submit(grade_one, zip_file, submission, timeout, scratch, gradings): submission
                   for submission in todo}
        while pending:
            finished, _ = wait(list(pending), timeout=1.0, return_when=FIRST_COMPLETED)
            for future in finished:
                submission = pending.pop(future)
                results, failure, seconds = future.result()
                if gradings.stop.is_set():
                    continue
                writer.write(make_row(submission, functions, manifest, results, failure, seconds))
                graded += 1
                failed += bool(failure)
                message = f"{submission.id}: " + (f"FAILED ({failure})" if failure else
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
        writer.close()
        if bar is not None:
            bar.close()
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        shutil.rmtree(scratch, ignore_errors=True)

    order = {submission.id: index for index, submission in enumerate(submissions)}
    rows = load_done(out, header)         # every row: in the export's order, now that all are in
    _rewrite(out, header, sorted(rows.values(), key=lambda row: (order.get(row["submission_id"], len(order)),
                                                                 row["submission_id"])))
    png = out.with_suffix(".png") if out.suffix.lower() == ".csv" else out.with_name(out.name + ".png")
    try:
        write_histogram(out, png, manifest["title"], float(manifest["total_points"]))
    except Exception as error:  # noqa: BLE001 - the grades matter more than the picture
        log(f"warning: no histogram ({type(error).__name__}: {error})")
    log(f"graded {graded} submissions in this run ({skipped} skipped, already in the CSV; {failed} failed): "
        f"{out}, {png}")
    return Summary(graded, skipped, failed, out, png)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run_regrade(args) -> int:
    """The `regrade` subcommand."""
    try:
        regrade(args.export, args.part, jobs=args.jobs, out=args.out, zip_file=args.zip, timeout=args.timeout,
                progress=not args.no_progress)
    except RegradeError as error:
        print(f"regrade: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
