"""Shared fixtures: the repository, the parts, and autograder zips built from the committed data."""
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autograder.engine import isolation  # noqa: E402
from autograder.engine.package import build_zip  # noqa: E402
from autograder.tools.parts import tables  # noqa: E402
from autograder.tools.through_zip import grade_through_zip  # noqa: E402

PARTS = tables()


@pytest.fixture(scope="session")
def executed_notebook(tmp_path_factory):
    """executed_notebook(part) -> ExecutedNotebook: the solution notebook run once per session in smoke
    mode, as a student runs it before making the PDF, in a copy of the handout with the solution's
    package, saved with its outputs (shared by the notebook and PDF tests of that part: they are in
    its xdist group, notebook_group(part), so that each part's notebook runs once, beside the other's)."""
    from notebooks import execute_solution_notebook
    done = {}

    def get(part):
        if part not in done:
            done[part] = execute_solution_notebook(part, tmp_path_factory.mktemp(f"notebook-{part}"))
        return done[part]
    return get


def notebook_group(part: str):
    """The xdist group of the tests that use `part`'s executed notebook."""
    return pytest.mark.xdist_group(f"notebooks-{part}")


def by_notebook(parts):
    """Parameters, one per part, each in its notebook's xdist group."""
    return [pytest.param(part, marks=notebook_group(part)) for part in sorted(parts)]


def pytest_configure(config):
    if os.geteuid() == 0:           # every grading as root would fail on it, each after its own wait
        unreachable = isolation.interpreter_unreachable(sys.executable)
        if unreachable:
            pytest.exit(f"the tests cannot grade here: {unreachable}", returncode=2)
    # Tests grade several at a time (xdist): one worker per grading, not one per CPU (run_autograder --lanes).
    os.environ.setdefault("AUTOGRADER_LANES", "1")
    config.addinivalue_line("markers", "notebook: executes a solution notebook end to end (slow)")
    config.addinivalue_line("markers", "attack: grades an adversarial submission (needs root)")


# Files with a test or fixture of a minute or more (a class regraded, a warm batch, the notebooks).
# They go first, so that xdist starts them while the other workers keep both CPUs busy: collected
# last, one of them ran alone at the end of the suite, with a CPU idle for most of a minute.
LONG_FIRST = ("test_regrade.py", "test_warm_grading.py", "test_notebooks.py", "test_pdf.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name not in LONG_FIRST)     # a stable sort: otherwise in order


@pytest.fixture(scope="session")
def autograder_zips(tmp_path_factory):
    """{part: zip path}, packed from the committed reference data (not from dist/)."""
    folder = tmp_path_factory.mktemp("zips")
    return {part: build_zip(REPO, part, folder / f"{part}_autograder.zip") for part in PARTS}


@pytest.fixture(scope="session")
def manifests():
    return {part: json.loads((REPO / "reference_data" / part / "manifest.json").read_text()) for part in PARTS}


@pytest.fixture
def grade(autograder_zips, tmp_path):
    """grade(part, submission_folder, *run_autograder's args, env=None) -> results.json as a dict,
    through the part's zip (`env`: run_autograder's environment, default this process's)."""
    counter = iter(range(1000))

    def run(part, submission, *args, env=None):
        grading = grade_through_zip(autograder_zips[part], Path(submission), tmp_path / f"run{next(counter)}",
                                    args=args, env=env)
        assert grading.results is not None, grading.output[-3000:]
        return grading.results
    return run


@contextmanager
def temporary_folder_of_its_own(prefix: str):
    """A folder for a grading's TMPDIR, removed afterwards: what the grading leaves in "the temporary
    folder" lands there, not among other tests' files. Traversable by the sandbox user, as the
    system's temporary folder is (a grading root or scratch folder made there must be reachable)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(folder, 0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def plain(text: str) -> str:
    """Markdown as text: Gradescope output without its backslash escapes."""
    import re
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!|~<>&$:])", r"\1", text)


def scores_by_function(results):
    """{graded name: (points earned, points possible)} from a results.json."""
    totals = {}
    for test in results["tests"]:
        function = test["name"].split(":", 1)[0]
        earned, possible = totals.get(function, (0.0, 0.0))
        totals[function] = (earned + test["score"], possible + test["max_score"])
    return totals


def make_submission(tmp_path, part, files):
    """A submission folder from {relative path: source text}, other graded files from the solution."""
    folder = tmp_path / "submission"
    shutil.copytree(REPO / "solution" / part, folder, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    for rel, text in files.items():
        path = folder / rel
        if text is None:
            path.unlink()
        else:
            path.write_text(text)
    return folder

