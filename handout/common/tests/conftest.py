"""The public tests' set-up: the grader's own engine, run on your package, and a table of points.

The engine under tests/_grader/ is a copy of the one Gradescope runs (generated with the
handout; do not edit it): the same worker runs each case on your code, in a separate
process with the same time limits, and the same verdict judges it, with the same
tolerances and messages. Only the hidden cases are missing: Gradescope runs them after you
submit.
"""
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PART_ROOT = HERE.parent                     # the folder that holds your package
REFERENCE = HERE / "_grader" / "reference"
sys.path.insert(0, str(HERE / "_grader"))

from autograder.engine.grade import Grader  # noqa: E402
from autograder.engine.locate import locate  # noqa: E402
from autograder.engine.reference import load_reference, read_manifest  # noqa: E402
from autograder.engine.results import points_by_function  # noqa: E402
from autograder.engine.session import Launcher, default_mode, open_session  # noqa: E402

collect_ignore = ["_grader"]
_GRADERS = []


def public_cases():
    return read_manifest(REFERENCE)["cases"]


class PublicGrader:
    """The grader of the public cases, on the package next to tests/."""

    def __init__(self):
        self.reference = load_reference(REFERENCE)
        manifest = self.reference.manifest
        self.located = locate(PART_ROOT, manifest["package"], manifest["files"])
        inputs = [REFERENCE / case["inputs"] for case in manifest["cases"]]
        self.session = open_session(manifest, inputs, self.located.files, HERE / "_grader" / "autograder",
                                    Launcher(), sys.executable, default_mode(), isolated=False, start_timeout=300)
        self.grader = Grader(self.reference, self.session, self.located.problems)
        self.results = []

    def grade(self, case):
        try:
            result = self.grader.grade_case(case)
        except RuntimeError as error:       # the worker could not start: torch missing, for instance
            pytest.fail(f"the public tests could not run: {error}", pytrace=False)
        self.results.append(result)
        return result

    def close(self):
        self.session.close()


@pytest.fixture(scope="session")
def hw4_grader():
    grader = PublicGrader()
    _GRADERS.append(grader)
    yield grader
    grader.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Points per graded function over the public cases that ran, as Gradescope counts them.
    A wrapper that writes after pytest's own summary, so that the table ends the report."""
    yield
    results = [result for grader in _GRADERS for result in grader.results]
    if not results:
        return
    manifest = read_manifest(REFERENCE)
    rows = points_by_function(results)
    width = max(len("function"), *(len(row[0]) for row in rows))
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", f"{manifest['title']}: points of the public cases")
    write(f"{'function':<{width}}  {'cases passed':>12}  {'points':>7}  {'out of':>7}")
    for function, done, count, earned, possible in rows:
        write(f"{function:<{width}}  {f'{done}/{count}':>12}  {earned:>7g}  {possible:>7g}")
    write("-" * (width + 34))
    total_cases = len(manifest["cases"])
    label = "public total" if len(results) == total_cases else f"{len(results)} of {total_cases} public cases"
    write(f"{label:<{width}}  {f'{sum(r[1] for r in rows)}/{len(results)}':>12}  "
          f"{sum(r[3] for r in rows):>7g}  {sum(r[4] for r in rows):>7g}")
    hidden = manifest["total_points"] - manifest["public_points"]
    write(f"The other {hidden:g} of the assignment's {manifest['total_points']:g} points come from hidden cases, "
          "which Gradescope runs after you submit.")
    for problem in dict.fromkeys(_GRADERS[-1].located.problems.values()):
        write(problem)
