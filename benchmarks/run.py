"""Benchmarks of the autograder: `make bench` (not part of `make test`).

Measured in one run, through the part's zip exactly as Gradescope grades (tools/through_zip.py):
  - a bare `python -c "import torch"`, the floor of any grading (median of --repeat runs at the
    start and again before each part's gradings);
  - grading times (median of --repeat runs, and as a ratio to that import) of the solution, the
    template, a submission whose every graded call hangs, the students'-habits fixture and (part 2)
    the slow-but-correct fixture, with their scores, the peak RSS of the largest process and the
    summed RSS of the grading's processes (sampled every ~20 ms with psutil; pages shared after
    fork count once per process, so the sum overstates), and the slowest case's CPU time against
    its limit;
  - the same gradings in the simulated Gradescope (tools/simulate.py: setup.sh's packages, 768 MB,
    half a CPU, cgroups where this machine allows): time, peak memory of the cgroup, score;
  - regrade throughput: a synthetic class of --class-size submissions (tests/fixtures/make_export.py)
    graded with 2 jobs (warm, regrade's default), in submissions per minute;
  - the build steps (strip, generate, package) in a scratch copy, and the zips' sizes.
It checks the goals (benchmarks/README.md), prints the README's table, and appends one JSON line
to benchmarks/history.jsonl. --repo measures another checkout of this project (its own zips and
regrade command), which is how the figures before a change are taken.
"""
import argparse
import datetime
import json
import os
import platform
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
sys.path.insert(0, str(REPO / "tests"))

from autograder.tools import parts as project_parts  # noqa: E402
from autograder.tools import proctable  # noqa: E402
from autograder.tools.through_zip import grade_through_zip  # noqa: E402

HISTORY = REPO / "benchmarks" / "history.jsonl"
FIXTURES = REPO / "tests" / "fixtures"
# The regrade goal (twice the "before" throughput) needs that run's figure: benchmarks/README.md compares them.
GOALS = {"solution_over_torch": 1.5, "habits_over_solution": 1.3, "hanging_seconds": 30.0,
         "largest_process_mib": 512.0, "slow_margin": 6.0}


class MemorySampler(threading.Thread):
    """Peak RSS of a grading's process tree, sampled until stopped."""

    def __init__(self, interval: float = 0.02):
        super().__init__(daemon=True)
        self.interval, self.root = interval, None
        self.peak_total = self.peak_single = 0
        self.done = threading.Event()

    def watch(self, pid: int) -> None:
        self.root = pid
        self.start()

    def run(self):
        while not self.done.is_set():
            total, largest = proctable.memory_of(proctable.tree(self.root))
            self.peak_total, self.peak_single = max(self.peak_total, total), max(self.peak_single, largest)
            time.sleep(self.interval)

    def stop(self):
        self.done.set()
        if self.is_alive():
            self.join()


def torch_import_times(python: str, repeat: int) -> list:
    times = []
    for _ in range(repeat):
        started = time.monotonic()
        subprocess.run([python, "-c", "import torch"], check=True)
        times.append(time.monotonic() - started)
    return times


def hanging_submission(repo: Path, part: str, dest: Path) -> Path:
    """The template with every `raise NotImplementedError(...)` an endless loop."""
    shutil.copytree(repo / "student_template" / part, dest, ignore=shutil.ignore_patterns("tests", "*.ipynb"))
    for path in dest.rglob("*.py"):
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(line[:len(line) - len(line.lstrip())] + "while True:\n"
                                + line[:len(line) - len(line.lstrip())] + "    pass\n"
                                if line.strip().startswith("raise NotImplementedError") else line for line in lines))
    return dest


def submissions(repo: Path, part: str, scratch: Path) -> dict:
    found = {"solution": repo / "solution" / part, "template": repo / "student_template" / part,
             "hanging": hanging_submission(repo, part, scratch / f"hanging-{part}"),
             "habits": FIXTURES / "habits" / part}
    if part == "part2":
        found["slow"] = FIXTURES / "slow" / "part2_loops"
    return found


def summarize(results: dict) -> dict:
    tests = results.get("tests", []) if results else []
    timed = [t["extra_data"] for t in tests if isinstance(t.get("extra_data"), dict) and "cpu" in t["extra_data"]]
    slowest = max(timed, key=lambda extra: extra["cpu"] / extra["limit"], default=None)
    return {"score": results.get("score") if results else None, "cases": len(tests),
            "slowest_case_cpu": slowest["cpu"] if slowest else None,
            "slowest_case_limit": slowest["limit"] if slowest else None,
            "lanes": (results or {}).get("extra_data", {}).get("lanes")}


def grade_native(zip_file: Path, submission: Path, repeat: int, scratch: Path) -> dict:
    times, peaks, record = [], [], {}
    for run in range(repeat):
        sampler = MemorySampler()
        grading = grade_through_zip(zip_file, submission, scratch / f"run-{time.monotonic_ns()}", on_start=sampler.watch)
        sampler.stop()
        times.append(grading.seconds)
        peaks.append((sampler.peak_single, sampler.peak_total))
        record = summarize(grading.results)
    record.update(seconds=round(statistics.median(times), 3), seconds_runs=[round(t, 3) for t in times],
                  peak_rss_single_mib=round(max(p[0] for p in peaks) / 1024 ** 2, 1),
                  peak_rss_total_mib=round(max(p[1] for p in peaks) / 1024 ** 2, 1))
    return record


def grade_simulated(zip_file: Path, submission: Path, scratch: Path) -> dict:
    from autograder.tools.simulate import simulate

    grading = simulate(zip_file, submission, workdir=scratch / f"simulate-{time.monotonic_ns()}", log=lambda *a: None)
    record = summarize(grading.results)
    record.update(seconds=round(grading.seconds, 3), cgroup_peak_mib=round((grading.peak_memory or 0) / 1024 ** 2, 1),
                  cgroup_held_mib=round((grading.peak_memory_held or 0) / 1024 ** 2, 1), limits=grading.limits)
    return record


def package(repo: Path, python: str, keys) -> dict:
    subprocess.run([python, "-m", "autograder", "package"], cwd=repo, check=True, stdout=subprocess.DEVNULL)
    found = {}
    for key in keys:
        candidates = sorted((repo / "dist").glob(f"*{key}_autograder.zip"))
        found[key] = candidates[0]
    return found


def bench_regrade(repo: Path, python: str, size: int, scratch: Path) -> dict:
    """Submissions per minute for a synthetic class of part 1, 2 jobs."""
    from fixtures.make_export import make_export

    export = scratch / "export"
    make_export(export, "part1", n=size)
    out = scratch / "regrade" / "grades.csv"
    started = time.monotonic()
    done = subprocess.run([python, "-m", "autograder", "regrade", str(export), "--part", "1", "--jobs", "2",
                           "--out", str(out), "--no-progress"], cwd=repo, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        return {"error": (done.stdout + done.stderr)[-2000:]}
    return {"submissions": size, "jobs": 2, "seconds": round(seconds, 1),
            "per_minute": round(size / seconds * 60, 1)}


def bench_build(repo: Path, python: str, scratch: Path) -> dict:
    copy = scratch / "build-copy"
    shutil.copytree(repo, copy, symlinks=True, ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "dist",
                                                                            "__pycache__"))
    steps = {}
    for step in ("strip", "generate", "package"):
        started = time.monotonic()
        subprocess.run([python, "-m", "autograder", step], cwd=copy, check=True, stdout=subprocess.DEVNULL)
        steps[step] = round(time.monotonic() - started, 2)
    sizes = {path.name: path.stat().st_size for path in sorted((copy / "dist").glob("*_autograder.zip"))}
    return {"steps_seconds": steps, "zip_bytes": sizes}


def goals(record: dict) -> dict:
    """{goal: {"value", "goal", "met"}} for each goal the record has the figures of."""
    grading, simulated = record.get("grading", {}), record.get("simulated", {})
    checks = []         # (goal, value, comparison, bound)
    solution = grading.get("part2/solution", {}).get("seconds")
    if solution:
        checks.append(("part2 solution within 1.5x a torch import", solution / record["torch_import_seconds"],
                       "<=", GOALS["solution_over_torch"]))
    for part in ("part1", "part2"):
        habits, base = grading.get(f"{part}/habits", {}).get("seconds"), grading.get(f"{part}/solution", {}).get("seconds")
        if habits and base:
            checks.append((f"{part} habits within 1.3x the solution", habits / base, "<=", GOALS["habits_over_solution"]))
        hanging = grading.get(f"{part}/hanging", {}).get("seconds")
        if hanging:
            checks.append((f"{part} hanging graded within 30 s", hanging, "<=", GOALS["hanging_seconds"]))
    checks.append(("largest process under 512 MiB",
                   max((entry.get("peak_rss_single_mib", 0) for entry in grading.values()), default=0),
                   "<", GOALS["largest_process_mib"]))
    slow = simulated.get("part2/slow", {})
    if slow.get("slowest_case_cpu"):
        checks.append(("slow fixture on half a CPU: limit over slowest case",
                       slow["slowest_case_limit"] / slow["slowest_case_cpu"], ">=", GOALS["slow_margin"]))
    compare = {"<=": lambda value, bound: value <= bound, "<": lambda value, bound: value < bound,
               ">=": lambda value, bound: value >= bound}
    return {name: {"value": round(value, 3), "goal": f"{op} {bound:g}", "met": compare[op](value, bound)}
            for name, value, op, bound in checks}


def print_table(record: dict) -> None:
    print(f"\ncommit {record['commit'][:7]}{' (dirty)' if record['dirty'] else ''}, {record['nproc']} cores, "
          f"load {record['load_before']}-{record['load_after']}, median of {record['repeat']}")
    print(f"python -c 'import torch': {record['torch_import_seconds']:.2f} s")
    print(f"{'grading':<16}{'time s':>8}{'x torch':>9}{'score':>7}{'cases':>7}{'max proc MiB':>14}{'sum MiB':>9}"
          f"{'simulated s':>13}{'cgroup MiB':>12}{'held MiB':>10}{'sim score':>10}")
    for name, entry in record.get("grading", {}).items():
        simulated = record.get("simulated", {}).get(name, {})
        print(f"{name:<16}{entry['seconds']:>8.2f}{entry['seconds'] / record['torch_import_seconds']:>9.2f}"
              f"{entry['score'] if entry['score'] is not None else '-':>7}{entry['cases']:>7}"
              f"{entry['peak_rss_single_mib']:>14.0f}{entry['peak_rss_total_mib']:>9.0f}"
              + (f"{simulated['seconds']:>13.2f}{simulated['cgroup_peak_mib']:>12.0f}"
                 f"{simulated.get('cgroup_held_mib', 0):>10.0f}{simulated['score']:>10}"
                 if simulated else ""))
    if record.get("regrade"):
        regrade = record["regrade"]
        print("regrade: " + (f"{regrade['submissions']} submissions, {regrade['jobs']} jobs, {regrade['seconds']} s, "
                             f"{regrade['per_minute']} per minute" if "per_minute" in regrade else regrade["error"]))
    if record.get("build"):
        print("build steps: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in record["build"]["steps_seconds"].items())
              + "; zips: " + ", ".join(f"{name} {size // 1024} KiB" for name, size in record["build"]["zip_bytes"].items()))
    for name, verdict in record.get("goals", {}).items():
        print(f"goal {'met' if verdict['met'] else 'MISSED'}: {name}: {verdict['value']} ({verdict['goal']})")


def _git(repo: Path, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True).stdout.strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to measure (default: this one)")
    parser.add_argument("--label", default="", help="a word for history.jsonl (before, after, ...)")
    parser.add_argument("--part", action="append", help="default: every part")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each native grading (the median is kept)")
    parser.add_argument("--class-size", type=int, default=50, help="submissions of the regrade throughput's class")
    parser.add_argument("--skip", action="append", default=[], choices=("simulated", "regrade", "build"))
    parser.add_argument("--no-history", action="store_true", help="do not append to benchmarks/history.jsonl")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    python = str(repo / ".venv" / "bin" / "python")
    keys = [project_parts.normalize(part) for part in args.part] if args.part else sorted(project_parts.tables())
    record = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "label": args.label, "commit": _git(repo, "rev-parse", "HEAD"),
              "dirty": bool(_git(repo, "status", "--porcelain")), "nproc": os.cpu_count(),
              "machine": platform.machine(), "python": platform.python_version(), "user_is_root": os.geteuid() == 0,
              "repeat": args.repeat, "load_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="hw4-bench-") as tmp:
        scratch = Path(tmp)
        os.chmod(scratch, 0o755)
        # The floor is sampled again before each part's gradings, and the median of all samples taken:
        # this machine's speed drifts by 20-30% within minutes, and the ratios should not hang on one moment.
        import_times = torch_import_times(python, args.repeat)
        print(f"python -c 'import torch': {statistics.median(import_times):.2f} s", flush=True)
        zips = package(repo, python, keys)
        record["grading"], record["simulated"] = {}, {}
        for key in keys:
            import_times += torch_import_times(python, args.repeat)
            for name, submission in submissions(repo, key, scratch).items():
                label = f"{key}/{name}"
                record["grading"][label] = grade_native(zips[key], submission, args.repeat, scratch)
                print(f"  {label}: {record['grading'][label]['seconds']:.2f} s", flush=True)
                if "simulated" not in args.skip and name != "template":
                    record["simulated"][label] = grade_simulated(zips[key], submission, scratch)
                    print(f"  {label} in the simulated Gradescope: {record['simulated'][label]['seconds']:.2f} s",
                          flush=True)
        record["torch_import_seconds"] = round(statistics.median(import_times), 3)
        record["torch_import_runs"] = [round(seconds, 3) for seconds in import_times]
        if "regrade" not in args.skip:
            record["regrade"] = bench_regrade(repo, python, args.class_size, scratch)
        if "build" not in args.skip:
            record["build"] = bench_build(repo, python, scratch)
    record["load_after"] = round(os.getloadavg()[0], 2)
    record["goals"] = goals(record)
    print_table(record)
    if not args.no_history:
        with open(HISTORY, "a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        print(f"appended to {HISTORY.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
