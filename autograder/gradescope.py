"""Gradescope's side of grading: the /autograder layout, permissions, results.json.

`run_autograder` calls run_gradescope(). Whatever the submission does, and even if
the grader itself fails, a valid results.json is written, listing every case.
"""
import os
import time
import traceback
from pathlib import Path

from autograder.engine.grade import Grader, load_reference
from autograder.engine.references import MANIFEST
from autograder.engine.results import TestResult, results_document, write_results


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


def run_gradescope(root=None) -> int:
    started = time.monotonic()
    root = Path(root or os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    source, results_path = root / "source", root / "results" / "results.json"
    (root / "results").mkdir(parents=True, exist_ok=True)
    lock_down(root)
    manifest, tests, notes = None, [], []
    try:
        reference = load_reference(find_part(source))
        manifest = reference.manifest
        grader = Grader(reference, root / "submission", engine_root=source / "autograder")
        notes = grader.notes
        tests = grader.run()
    except Exception:  # noqa: BLE001 - the grader's own failure must still produce results.json
        print(traceback.format_exc())
        notes = ["The autograder itself failed on this submission; this is not your fault. "
                 "Please tell the course staff."]
        if manifest is not None:
            tests = [TestResult(case["name"], case["points"], 0.0, case["visibility"],
                                "Not graded: the autograder failed (see the top of the results).",
                                {"case": case["id"], "function": case["function"], "kind": "grader error"})
                     for case in manifest["cases"]]
    title = manifest["title"] if manifest else "HW4"
    extra = {"part": manifest["part"] if manifest else None,
             "torch_version": manifest["torch_version"] if manifest else None}
    document = results_document(title, tests, time.monotonic() - started, notes, extra)
    write_results(results_path, document)
    total = sum(t.max_score for t in tests)
    print(f"{title}: {document['score']:g}/{total:g} points, {len(tests)} tests, "
          f"{document['execution_time']:.1f} s")
    return 0
