"""Realistic single bugs lose points exactly on the functions they break, nowhere else.

The catalogue is autograder/hw4/mistakes.py; each mistake is an edit of the reference solution.
It is trusted code, so its cases run in this process (tools/in_process.py), through the same
run-case module and verdict as the sandbox; tests/test_grading.py grades a few through the zip.
Only the bug's file is graded: files are graded independently of each other.

Hidden cases are shown to students only after the due date, so every known mistake must also
show in the public cases, which students run before handing in: hidden cases are there to
catch code that does not generalise (other shapes, seeds, dtypes, batch 1) or hard-coded answers.
"""
import shutil
from pathlib import Path

import pytest

from conftest import REPO, scores_by_function
from autograder.engine.reference import load_reference
from autograder.hw4.mistakes import MISTAKES as BUGS, apply
from autograder.tools.in_process import grade_in_process

# Mistakes confined to one branch of a function that is otherwise right: they must lose
# points, but may keep most of them (partial credit that is fair).
BRANCH_BUGS = {
    "p_losses-no-value-error": "only the error path for an unknown loss_type is wrong",
    "p_sample-noise-at-t0": "adds 0 * noise at t=0 (posterior_variance[0] is 0): only the extra draw is wrong",
    "p_sample_loop-return-all-without-x_T": "only the return_all=True list is wrong",
    "ddim_step-missing-clamp": "wrong only for long jumps at eta=1, where rounding makes the variance negative",
    "ddim_step-draws-noise-at-eta-0": "draws an unused random number at eta=0; values are right",
}
# Mistakes whose outputs depend on how this CPU rounds: the grader names them only where they come
# out as stored (TOLERANCES.md, "Reference data built on another CPU"); elsewhere they must still
# fail the way the stored outputs do.
ROUNDING_BUGS = {
    "ddim_step-missing-clamp": "non-finite",    # which elements round below 0 before the sqrt
}


@pytest.fixture(scope="module")
def references():
    return {part: load_reference(REPO / "reference_data" / part) for part in ("part1", "part2")}


def grade_bug(bug, references, folder: Path):
    """Per-function totals and the results of the bug's file, graded in this process."""
    package = references[bug.part].manifest["package"]
    shutil.copytree(REPO / "solution" / bug.part / package, folder / package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in apply(bug, REPO / "solution").items():
        (folder / rel).write_text(text)
    tests = grade_in_process(references[bug.part], folder, only_files=[bug.file])
    return scores_by_function({"tests": [test.to_json() for test in tests]}), tests


@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: bug.name)
def test_bug_loses_points_exactly_where_it_is(bug, references, manifests, tmp_path):
    """The bug loses points on each function of `loses` (at least half, branch bugs excepted), in a
    public case of each, and nowhere else."""
    totals, tests = grade_bug(bug, references, tmp_path)
    for function, (earned, possible) in totals.items():
        if function in bug.loses:
            assert earned < possible, f"{bug.name}: {function} kept all its points"
            if bug.name not in BRANCH_BUGS:
                assert earned <= possible / 2, f"{bug.name}: {function} kept most of its points ({earned}/{possible})"
        else:
            failed = [t.text() for t in tests if t.name.startswith(function + ":") and t.score < t.max_score]
            assert earned == possible, f"{bug.name}: {function} lost points: {failed}"
    assert set(bug.loses) <= set(totals), f"{bug.name}: names not graded in {bug.file}"
    if bug.name in recorded_mistakes(manifests[bug.part]):
        named = [t for t in tests if bug.misconception in t.mistakes]
        if bug.name in ROUNDING_BUGS and not named:
            kinds = {t.kind for t in tests if t.score < t.max_score}
            assert kinds == {ROUNDING_BUGS[bug.name]}, f"{bug.name}: fails otherwise than stored: {kinds}"
        else:
            assert named, f"{bug.name}: no failed case names the mistake"
    assert_shows_in_public_cases(bug, tests)


def assert_shows_in_public_cases(bug, tests):
    """Each function a known mistake breaks loses points in a case students run before the deadline
    (checked on the grading above, so that the catalogue is graded once)."""
    failed = [t for t in tests if t.score < t.max_score]
    for function in bug.loses:
        public = [t.name for t in failed if not t.hidden and t.name.startswith(function + ":")]
        hidden = [t.name for t in failed if t.hidden and t.name.startswith(function + ":")]
        assert public, f"{bug.name}: {function} loses points only in hidden cases: {hidden}"


def recorded_mistakes(manifest):
    return {m["name"] for case in manifest["cases"] for m in case["mistakes"]}


@pytest.mark.parametrize("part", ["part1", "part2"])
def test_most_known_mistakes_are_recognised(part, manifests):
    """A mistake is recognised when it changes some case's outputs without raising; the rest raise
    (wrong parameter shapes, wrong return types) and their messages already name the problem."""
    catalogue = {bug.name for bug in BUGS if bug.part == part}
    assert len(recorded_mistakes(manifests[part])) >= 0.85 * len(catalogue)
