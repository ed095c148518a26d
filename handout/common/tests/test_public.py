"""The public cases of this part, graded as Gradescope grades them.

Run `python -m pytest tests` in the part's folder (add `-k NAME` for one function,
`-rP` to see the errors of the cases that pass).
"""
import pytest

from public_runner import RunnerError, public_cases

CASES = public_cases()


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_public_case(case, hw4_runner):
    try:
        result = hw4_runner.run(case)
    except RunnerError as error:
        pytest.fail(f"the public tests could not run: {error}", pytrace=False)
    if not result.passed:
        pytest.fail(result.output, pytrace=False)
    print(result.output)
