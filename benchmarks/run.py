"""Benchmarks of the autograder: `make bench` (not part of `make test`).

For each part, through the zip exactly as build.grade_with_zip grades (one grading at a time):
  - grading time of the solution, the student template, and a submission whose every
    graded function loops forever (the template with each `raise NotImplementedError(...)`
    replaced by an endless loop); median of --repeat runs, and as a ratio to a bare
    `python -c "import torch"` measured in the same run;
  - peak memory of the whole grading: the sum of the RSS of every process of it, sampled
    from /proc every ~20 ms. "Every process" is the run_autograder process and its
    descendants (the sandboxed worker and the cases' children), plus every process of the
    sandbox users (gs-student*) that this grading's tree ran as (strays a submission
    detached); other users' processes, and other graders' sandbox users, are left out.
    The sum of RSS counts pages shared after fork (torch, in the worker and each case's
    child) once per process: an upper bound of the real footprint. Also the largest RSS
    of any single process.
Then the time of `python -m autograder strip`, `generate` and `package` (in a scratch copy
of the repository, so the working tree is not rewritten) and the size of each zip.

Prints a table and appends one JSON line to benchmarks/history.jsonl (commit, date, nproc,
load average) so runs can be compared across commits.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.__main__ import PARTS  # noqa: E402
from autograder.build import grade_with_zip  # noqa: E402
from autograder.engine.package import build_zip  # noqa: E402

HISTORY = REPO / "benchmarks" / "history.jsonl"
SANDBOX_PREFIX = os.environ.get("AUTOGRADER_SANDBOX_USER", "gs-student")
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 ** 2
RAISE = re.compile(r"^(?P<indent>[ \t]*)raise NotImplementedError\(.*\)[ \t]*$", re.MULTILINE)
COPIED_FOR_BUILD = ("autograder", "solution", "handout", "student_template", "reference_data",
                    "setup.sh", "run_autograder", "requirements.txt")


# -- memory sampling ------------------------------------------------------------------
def _sandbox_uids():
    import pwd
    return {entry.pw_uid for entry in pwd.getpwall() if entry.pw_name.startswith(SANDBOX_PREFIX)}


def _snapshot():
    """{pid: (ppid, uid, rss bytes)} of every live process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if fields[0] in ("Z", "X"):
                continue
            with open(f"/proc/{entry}/statm") as handle:
                rss = int(handle.read().split()[1]) * PAGE
            table[int(entry)] = (int(fields[1]), os.stat(f"/proc/{entry}").st_uid, rss)
        except (OSError, IndexError, ValueError):
            continue
    return table


class MemorySampler(threading.Thread):
    """Samples the memory of one grading (found by `marker` in its command line) until stopped."""

    def __init__(self, marker: str, interval: float = 0.02):
        super().__init__(daemon=True)
        self.marker, self.interval = marker.encode(), interval
        self.sandbox_uids = _sandbox_uids()
        self.stop_event = threading.Event()
        self.root = None
        self.uids = set()          # the sandbox users this grading ran as
        self.peak_total = self.peak_single = 0
        self.samples = 0

    def _find_root(self, table):
        for pid in table:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    command = handle.read()
            except OSError:
                continue
            if self.marker in command and b"grade" in command:
                return pid
        return None

    def run(self):
        while not self.stop_event.is_set():
            table = _snapshot()
            if self.root is None:
                self.root = self._find_root(table)
            if self.root in table:
                children = {}
                for pid, (ppid, _, _) in table.items():
                    children.setdefault(ppid, []).append(pid)
                tree, stack = {self.root}, [self.root]
                while stack:
                    for child in children.get(stack.pop(), []):
                        tree.add(child)
                        stack.append(child)
                self.uids |= {table[pid][1] for pid in tree} & self.sandbox_uids
            else:
                tree = set()
            members = tree | {pid for pid, (_, uid, _) in table.items() if uid in self.uids}
            if members:
                rss = [table[pid][2] for pid in members]
                self.peak_total = max(self.peak_total, sum(rss))
                self.peak_single = max(self.peak_single, max(rss))
                self.samples += 1
            self.stop_event.wait(self.interval)

    def stop(self):
        self.stop_event.set()
        self.join()


# -- measurements --------------------------------------------------------------------
def time_torch_import(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def grade_once(zip_file: Path, submission: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        sampler = MemorySampler(str(workdir / "autograder"))
        sampler.start()
        started = time.perf_counter()
        try:
            results = grade_with_zip(zip_file, submission, workdir)
        finally:
            seconds = time.perf_counter() - started
            sampler.stop()
    return {"seconds": seconds, "score": results["score"], "peak_rss_total": sampler.peak_total,
            "peak_rss_single": sampler.peak_single, "samples": sampler.samples}


def forever_submission(part: str, dest: Path) -> Path:
    """student_template/<part> with every `raise NotImplementedError(...)` replaced by an endless loop."""
    shutil.copytree(REPO / "student_template" / part, dest, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    replaced = 0
    for path in dest.rglob("*.py"):
        text, count = RAISE.subn(lambda m: f"{m['indent']}while True:\n{m['indent']}    pass", path.read_text())
        if count:
            path.write_text(text)
            replaced += count
    if not replaced:
        raise RuntimeError(f"no `raise NotImplementedError(...)` found in student_template/{part}")
    return dest


def bench_grading(parts, repeat: int, torch_seconds: float, scratch: Path) -> dict:
    out = {}
    for part in parts:
        zip_file = build_zip(REPO, part, scratch / "zips" / f"hw4_{part}_autograder.zip")
        submissions = {"solution": REPO / "solution" / part, "template": REPO / "student_template" / part,
                       "forever": forever_submission(part, scratch / f"forever_{part}")}
        for label, folder in submissions.items():
            runs = []
            for index in range(repeat):
                run = grade_once(zip_file, folder)
                runs.append(run)
                print(f"  {part} {label} run {index + 1}/{repeat}: {run['seconds']:.1f} s, "
                      f"score {run['score']:g}, peak {run['peak_rss_total'] / MIB:.0f} MiB", flush=True)
            seconds = statistics.median(run["seconds"] for run in runs)
            out[f"{part}/{label}"] = {
                "seconds": round(seconds, 3), "seconds_runs": [round(run["seconds"], 3) for run in runs],
                "ratio_to_torch_import": round(seconds / torch_seconds, 2),
                "score": statistics.median(run["score"] for run in runs),
                "peak_rss_total_mib": round(max(run["peak_rss_total"] for run in runs) / MIB, 1),
                "peak_rss_single_mib": round(max(run["peak_rss_single"] for run in runs) / MIB, 1),
                "memory_samples": sum(run["samples"] for run in runs)}
    return out


def bench_build(parts, scratch: Path) -> dict:
    """strip, generate, package: the build steps after install, timed in a scratch copy of the repository."""
    copy = scratch / "repo"
    copy.mkdir()
    for name in COPIED_FOR_BUILD:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, copy / name)
    steps = {}
    part_args = [arg for part in parts for arg in ("--part", part)]
    for step in ("strip", "generate", "package"):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "autograder", step, *part_args], cwd=copy,
                                capture_output=True, text=True)
        steps[step] = round(time.perf_counter() - started, 2)
        if result.returncode != 0:
            raise RuntimeError(f"`python -m autograder {step}` failed:\n{result.stdout}{result.stderr}")
        print(f"  build {step}: {steps[step]:.1f} s", flush=True)
    sizes = {part: (copy / "dist" / f"hw4_{part}_autograder.zip").stat().st_size for part in parts}
    return {"steps_seconds": steps, "zip_bytes": sizes}


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def print_table(record: dict) -> None:
    torch_seconds = record["torch_import_seconds"]
    print()
    print(f"commit {record['commit'][:12]}{' (dirty)' if record['dirty'] else ''}, {record['date']}, "
          f"nproc {record['nproc']}, load {record['load_before']} -> {record['load_after']}, "
          f"repeat {record['repeat']}")
    print(f"python -c 'import torch': {torch_seconds:.2f} s (median)")
    header = f"{'grading':<18} {'time s':>8} {'x torch':>8} {'score':>6} {'peak RSS sum MiB':>17} {'max 1 proc MiB':>15}"
    print(header)
    print("-" * len(header))
    for name, row in record["grading"].items():
        print(f"{name:<18} {row['seconds']:>8.2f} {row['ratio_to_torch_import']:>8.2f} {row['score']:>6g} "
              f"{row['peak_rss_total_mib']:>17.0f} {row['peak_rss_single_mib']:>15.0f}")
    if record.get("build"):
        steps = record["build"]["steps_seconds"]
        print("build steps (both parts): " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps.items()))
        print("zip sizes: " + ", ".join(f"{part} {size / 1024:.0f} KiB"
                                        for part, size in record["build"]["zip_bytes"].items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=sorted(PARTS), action="append", help="default: every part")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (the median is kept)")
    parser.add_argument("--no-build", action="store_true", help="skip timing the build steps")
    parser.add_argument("--no-history", action="store_true", help="do not append to benchmarks/history.jsonl")
    args = parser.parse_args(argv)
    parts = args.part or sorted(PARTS)

    record = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "commit": _git("rev-parse", "HEAD"), "dirty": bool(_git("status", "--porcelain")),
              "nproc": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
              "user_is_root": os.geteuid() == 0, "repeat": args.repeat,
              "load_before": round(os.getloadavg()[0], 2)}
    import torch
    record["torch"] = torch.__version__
    print(f"benchmarks: parts {', '.join(parts)}, {args.repeat} runs each", flush=True)
    with tempfile.TemporaryDirectory(prefix="hw4-bench-") as tmp:
        scratch = Path(tmp)
        record["torch_import_seconds"] = round(time_torch_import(args.repeat), 3)
        print(f"  python -c 'import torch': {record['torch_import_seconds']:.2f} s", flush=True)
        record["grading"] = bench_grading(parts, args.repeat, record["torch_import_seconds"], scratch)
        record["build"] = None if args.no_build else bench_build(parts, scratch)
    record["load_after"] = round(os.getloadavg()[0], 2)
    print_table(record)
    if not args.no_history:
        with open(HISTORY, "a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        print(f"appended to {HISTORY.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
