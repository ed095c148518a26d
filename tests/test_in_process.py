"""In-process grading (tools/in_process.py) runs its cases as the sandboxed worker does."""
import shutil

import torch

from conftest import REPO
from autograder.engine import run_case
from autograder.engine.reference import load_reference
from autograder.tools.in_process import grade_in_process


def test_cases_run_on_one_thread_and_the_thread_count_comes_back(tmp_path, monkeypatch):
    """The worker calls every case with torch on one thread; in-process grading must too (the same
    reduction order, and no idle OpenMP thread spending the case's CPU-time limit), then give the
    tests' process its own setting back."""
    reference = load_reference(REPO / "reference_data" / "part2")
    package = reference.manifest["package"]
    shutil.copytree(REPO / "solution" / "part2" / package, tmp_path / package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    seen = []
    call_case = run_case.call_case

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return call_case(*args, **kwargs)

    monkeypatch.setattr(run_case, "call_case", recording)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        tests = grade_in_process(reference, tmp_path, only_files=[f"{package}/schedules.py"])
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert tests and all(test.score == test.max_score for test in tests), [t.text() for t in tests]
    assert seen and set(seen) == {1}, f"cases ran on {sorted(set(seen))} threads"
    assert after == 2
