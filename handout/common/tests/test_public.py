"""The public cases of this part, graded as Gradescope grades them.

Run `python -m pytest tests` in the part's folder (add `-k NAME` for one function,
`-rP` to see how close the cases that pass are to the reference).
"""
import pytest

from conftest import public_cases

CASES = public_cases()


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_public_case(case, hw4_grader):
    result = hw4_grader.grade(case)
    if not result.passed:
        pytest.fail(result.text(), pytrace=False)
    print(result.text())
