"""The stripper turns solution regions into TODOs and keeps everything else verbatim."""
import filecmp

import pytest

from autograder.engine.strip import StripError, strip_source, strip_tree
from conftest import PARTS, REPO

SOURCE = '''import torch


def f(x):
    """Doc."""
    y = 1
    # BEGIN SOLUTION: add one to x
    return x + y
    # END SOLUTION


class M:
    def __init__(self):
        # BEGIN SOLUTION
        self.a = 1
        # END SOLUTION
'''


def test_regions_become_todo_and_raise():
    out = strip_source(SOURCE)
    assert "return x + y" not in out and "self.a = 1" not in out
    assert "    # TODO: add one to x\n    raise NotImplementedError(\"f: not implemented yet" in out
    assert "        # TODO: write this part\n        raise NotImplementedError(\"__init__:" in out
    assert out.startswith('import torch\n\n\ndef f(x):\n    """Doc."""\n    y = 1\n')


def test_stripped_source_still_compiles():
    compile(strip_source(SOURCE), "<stripped>", "exec")


@pytest.mark.parametrize("bad, problem", [
    ("# BEGIN SOLUTION\nx = 1\n", "without END"),
    ("x = 1\n# END SOLUTION\n", "without BEGIN"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "nested"),
])
def test_unpaired_markers_are_refused(bad, problem):
    with pytest.raises(StripError, match=problem):
        strip_source(bad, "bad.py")


def test_text_without_markers_is_unchanged():
    text = (REPO / "solution" / "part1" / "gan" / "__init__.py").read_text()
    assert strip_source(text) == text


@pytest.mark.parametrize("part", sorted(PARTS))
def test_committed_template_is_what_the_stripper_makes(part, tmp_path):
    """student_template/ must never drift from solution/: regenerate and compare every file."""
    from autograder.tools.build import strip

    fresh = tmp_path / "repo"
    (fresh / "solution").mkdir(parents=True)
    import shutil
    shutil.copytree(REPO / "solution" / part, fresh / "solution" / part)
    for folder in ("common", part):
        if (REPO / "handout" / folder).is_dir():
            shutil.copytree(REPO / "handout" / folder, fresh / "handout" / folder)
    # The public outputs keep the committed bytes where this CPU rounds them differently.
    shutil.copytree(REPO / "reference_data" / part, fresh / "reference_data" / part)
    strip(fresh, part, PARTS[part])
    committed = REPO / "student_template" / part
    made = sorted(p.relative_to(fresh / "student_template" / part) for p in (fresh / "student_template" / part).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)
    present = sorted(p.relative_to(committed) for p in committed.rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts)
    assert made == present
    for rel in made:
        assert filecmp.cmp(fresh / "student_template" / part / rel, committed / rel, shallow=False), rel


@pytest.mark.parametrize("part", sorted(PARTS))
def test_template_has_no_solution_code(part):
    for path in (REPO / "student_template" / part).rglob("*.py"):
        assert "BEGIN SOLUTION" not in path.read_text(), path
