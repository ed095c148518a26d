"""Gradescope's side of grading: the /autograder layout, permissions, isolation, results.json.

`run_autograder` calls run_gradescope(). Whatever the submission does, and even if the
grader itself fails, a valid results.json is written, listing every case.
"""
import os
import sys
import time
import traceback
from pathlib import Path
from typing import List

from autograder.engine import isolation
from autograder.engine.locate import locate
from autograder.engine.processes import become_subreaper, kill_descendants
from autograder.engine.reference import MANIFEST, load_reference, read_manifest
from autograder.engine.results import TestResult, results_document, write_results
from autograder.engine.session import open_session

# What compares outputs (grade, verdict: numpy) is imported once the workers are started, so that
# it loads while they import torch.

MAX_LANES = 2          # more workers cost a torch import and ~150 MB each, for little: start-up dominates
GRADER_FAILED = ("The autograder itself failed on this submission; this is not your fault. "
                 "Please tell the course staff.")


def lock_down(root: Path) -> None:
    """Make the grader's folders root-only before any student code runs (no-op when not root)."""
    if os.geteuid() != 0:
        return
    for folder in (root, root / "source", root / "results", root / "submission"):
        if folder.is_dir() and not folder.is_symlink():
            os.chmod(folder, 0o700)


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


def run_gradescope(root=None, isolation_mode: str = "auto", lanes: int = 0) -> int:
    started = time.monotonic()
    become_subreaper()          # whatever student code leaves running stays below this process
    root = Path(root or os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    source, results_path = root / "source", root / "results" / "results.json"
    (root / "results").mkdir(parents=True, exist_ok=True)
    lock_down(root)
    manifest, tests, notes, extra, status = None, [], [], {}, 0
    sessions, launcher = [], None
    try:
        part_dir = find_part(source)
        manifest = read_manifest(part_dir)
        located = locate(root / "submission", manifest["package"], manifest["files"])
        launcher = isolation.choose(isolation_mode)
        extra["isolation"] = launcher.describe()
        share = isolation.cpu_share()
        count = lanes if lanes else lane_count(launcher, share)
        inputs = [part_dir / case["inputs"] for case in manifest["cases"]]
        for _ in range(count):
            sessions.append(open_session(manifest, inputs, located.files, source / "autograder", launcher,
                                         sys.executable, "fork", isolated=True,
                                         memory_allowance=launcher.limits.memory_allowance, seccomp=True))
            sessions[-1].launch()   # torch imports in the workers while the references are read and checked
        from autograder.engine.grade import grade_in_lanes
        reference = load_reference(part_dir, manifest)
        for session in sessions:
            session.wait_ready()
        extra.update(cpu_share=share, lanes=count,
                     worker={key: sessions[0].ready.get(key) for key in ("preimported", "memory_limit")})
        tests = grade_in_lanes(reference, sessions, located.problems, time_scale=1.0 / share, log=print)
        notes = located.notes()
        extra["files"] = located.found_at
    except isolation.IsolationUnavailable as error:
        print(f"run_autograder: {error}", file=sys.stderr)
        notes, status = [f"Not graded: {error}"], 3
        tests = every_case(manifest, "not graded", "not graded: no isolation for student code") if manifest else []
    except Exception:  # noqa: BLE001 - the grader's own failure must still produce results.json
        print(traceback.format_exc())
        notes = [GRADER_FAILED]
        if manifest is not None:
            tests = every_case(manifest, "grader error", "Not graded: the autograder failed (see the top of the results).")
    finally:
        for session in sessions:
            session.close()
        if launcher is not None:
            launcher.close()
        kill_descendants()
    title = manifest["title"] if manifest else "HW4"
    extra.update(part=manifest["part"] if manifest else None,
                 torch_version=manifest["torch_version"] if manifest else None)
    document = results_document(title, tests, time.monotonic() - started, notes, extra)
    write_results(results_path, document)
    total = sum(t.max_score for t in tests)
    print(f"{title}: {document['score']:g}/{total:g} points, {len(tests)} tests, "
          f"{document['execution_time']:.1f} s, isolation {extra.get('isolation', {}).get('mode')}")
    return status


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="run_autograder", description="Grade ROOT/submission into "
                                     "ROOT/results/results.json, as Gradescope does.")
    parser.add_argument("--root", type=Path, default=None, help="default: $AUTOGRADER_ROOT or /autograder")
    parser.add_argument("--isolation", choices=isolation.MODES, default="auto",
                        help="auto (default): the strongest this machine allows")
    parser.add_argument("--no-isolation", action="store_true",
                        help="grade even where student code cannot be isolated (it runs as you: only code you trust)")
    parser.add_argument("--lanes", type=int, default=int(os.environ.get("AUTOGRADER_LANES", "0") or 0),
                        help="workers side by side (default: $AUTOGRADER_LANES, else one per CPU, at most %d, "
                             "with namespaces; 1 where several gradings share the machine)" % MAX_LANES)
    args = parser.parse_args(argv)
    return run_gradescope(args.root, "none" if args.no_isolation else args.isolation, max(0, args.lanes))


if __name__ == "__main__":
    sys.exit(main())
