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
from autograder.engine.grade import Grader, cpu_share, open_session
from autograder.engine.locate import locate
from autograder.engine.processes import become_subreaper, kill_descendants
from autograder.engine.reference import MANIFEST, load_reference, read_manifest
from autograder.engine.results import TestResult, results_document, write_results
from autograder.engine.verdict import result

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
    return [result(case, kind, message) for case in manifest["cases"]]


def run_gradescope(root=None, isolation_mode: str = "auto") -> int:
    started = time.monotonic()
    become_subreaper()          # whatever student code leaves running stays below this process
    root = Path(root or os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    source, results_path = root / "source", root / "results" / "results.json"
    (root / "results").mkdir(parents=True, exist_ok=True)
    lock_down(root)
    manifest, tests, notes, extra, status = None, [], [], {}, 0
    session = None
    try:
        part_dir = find_part(source)
        manifest = read_manifest(part_dir)
        located = locate(root / "submission", manifest["package"], manifest["files"])
        launcher = isolation.choose(isolation_mode)
        extra["isolation"] = launcher.describe()
        session = open_session(manifest, [part_dir / case["inputs"] for case in manifest["cases"]], located.files,
                               source / "autograder", launcher, sys.executable, "fork", isolated=True,
                               memory_allowance=launcher.limits.memory_allowance, seccomp=True)
        session.launch()        # torch imports in the worker while the references are read and checked
        reference = load_reference(part_dir, manifest)
        session.wait_ready()
        extra["worker"] = {key: session.ready.get(key) for key in ("preimported", "memory_limit")}
        share = cpu_share()
        extra["cpu_share"] = share
        grader = Grader(reference, session, located.problems, time_scale=1.0 / share, log=print)
        tests = grader.run()
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
        if session is not None:
            session.close()
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
    args = parser.parse_args(argv)
    return run_gradescope(args.root, "none" if args.no_isolation else args.isolation)


if __name__ == "__main__":
    sys.exit(main())
