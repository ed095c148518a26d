"""Running a solution notebook as a student would: shared by the notebook tests and the PDF tests.

The notebook runs with nbclient in a copy of the handout holding the solution's package, with
HW4_SMOKE=1 (a few iterations on a few images) and MPLBACKEND=Agg, plus one extra cell that
prints which Python ran it (removed again before the notebook is saved, as a student's would be).
"""
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solution"
# part: (notebook, its package, the fewest image/png outputs a smoke run must make)
NOTEBOOKS = {
    "part1": (SOLUTION / "part1" / "hw4-part1.ipynb", "gan", 9),
    "part2": (SOLUTION / "part2" / "hw4-part2.ipynb", "diffusion", 9),
}
CELL_TIMEOUT_S = 120     # nbclient's limit for one cell
CACHES = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc")


@dataclass
class ExecutedNotebook:
    folder: Path                # the handout copy, the notebook saved in it with its outputs
    notebook: Path
    seconds: float              # how long it ran (printed, not asserted)
    kernel_prefix: str          # sys.prefix of the kernel that ran it
    files_before: List[str]     # the folder's files before and after the run: a run must add none
    files_after: List[str]


def files_under(folder: Path) -> List[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts)


def execute_solution_notebook(part: str, workdir: Path) -> ExecutedNotebook:
    import nbclient
    import nbformat

    source, package, _ = NOTEBOOKS[part]
    folder = workdir / part
    shutil.copytree(REPO / "student_template" / part, folder, ignore=CACHES)
    shutil.rmtree(folder / package)
    shutil.copytree(SOLUTION / part / package, folder / package, ignore=CACHES)
    notebook = folder / source.name
    shutil.copy(source, notebook)
    nb = nbformat.read(str(notebook), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint('KERNEL_PREFIX=' + sys.prefix)"))
    env = dict(os.environ, HW4_SMOKE="1", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    before = files_under(folder)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                                     resources={"metadata": {"path": str(folder)}})
    started = time.monotonic()
    client.execute(env=env)     # raises CellExecutionError on the first failing cell
    seconds = time.monotonic() - started
    after = files_under(folder)
    prefix_cell = nb.cells.pop()
    printed = "".join(output.get("text", "") for output in prefix_cell.outputs)
    kernel_prefix = printed.split("KERNEL_PREFIX=", 1)[-1].strip()
    nbformat.write(nb, str(notebook))
    return ExecutedNotebook(folder, notebook, seconds, kernel_prefix, before, after)
