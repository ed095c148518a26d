"""pytest set-up of the public tests: one worker process for the run, and a table of points at the end."""
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import public_runner  # noqa: E402

collect_ignore = ["_grader"]
_RUNNERS = []


@pytest.fixture(scope="session")
def hw4_runner():
    runner = public_runner.PublicRunner()
    _RUNNERS.append(runner)
    yield runner
    runner.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Points per graded function over the public cases that ran, as Gradescope would count them.

    A wrapper that writes after pytest's own summary, so that the table ends the report."""
    yield
    results = [result for runner in _RUNNERS for result in runner.results.values()]
    if not results:
        return
    manifest = _RUNNERS[-1].manifest
    rows = public_runner.summary_rows(results)
    passed = {}
    for result in results:
        done, count = passed.get(result.case["function"], (0, 0))
        passed[result.case["function"]] = (done + result.passed, count + 1)
    width = max(len("function"), *(len(function) for function, _, _ in rows))
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", f"{manifest['title']}: points of the public cases")
    write(f"{'function':<{width}}  {'cases passed':>12}  {'points':>7}  {'out of':>7}")
    for function, earned, possible in rows:
        done, count = passed[function]
        write(f"{function:<{width}}  {f'{done}/{count}':>12}  {earned:>7g}  {possible:>7g}")
    earned = sum(row[1] for row in rows)
    possible = sum(row[2] for row in rows)
    write("-" * (width + 34))
    total_cases = len(manifest["cases"])
    label = "public total" if len(results) == total_cases else f"{len(results)} of {total_cases} public cases"
    done = sum(result.passed for result in results)
    write(f"{label:<{width}}  {f'{done}/{len(results)}':>12}  {earned:>7g}  {possible:>7g}")
    hidden = manifest["total_points"] - manifest["public_points"]
    write(f"The other {hidden:g} of the assignment's {manifest['total_points']:g} points come from hidden cases, "
          "which Gradescope runs after you submit.")
    if not _RUNNERS[-1].package_found:
        write(f"No {manifest['package']}/ folder was found next to tests/: the graded files must be in it.")
