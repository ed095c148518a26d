"""Make the student handout from the reference solution.

A solution region is a block of lines

    # BEGIN SOLUTION: one-line hint for the student
    ...reference code...
    # END SOLUTION

It becomes `# TODO: <hint>` and `raise NotImplementedError(...)` at the same
indentation. Everything outside regions is kept verbatim. Notebooks (.ipynb) get
the same treatment in their code cells, with every output cleared.
"""
import re
import shutil
from pathlib import Path
from typing import List, Optional

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::\s*(?P<hint>.*?))?\s*$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+)?(?:def|class)\s+(?P<name>\w+)")


class StripError(ValueError):
    """A solution file whose markers do not pair up."""


def _enclosing_name(lines: List[str], index: int, indent: str) -> Optional[str]:
    """Name of the nearest def/class above `index` that is less indented than the region."""
    for line in reversed(lines[:index]):
        match = DEF.match(line)
        if match and len(match.group("indent")) < len(indent):
            return match.group("name")
    return None


def strip_source(text: str, origin: str = "<source>") -> str:
    """Replace every solution region in `text`; raise StripError on unpaired markers."""
    lines = text.splitlines(keepends=True)
    out: List[str] = []
    i = 0
    while i < len(lines):
        begin = BEGIN.match(lines[i].rstrip("\r\n"))
        if END.match(lines[i].rstrip("\r\n")):
            raise StripError(f"{origin}:{i + 1}: END SOLUTION without BEGIN")
        if not begin:
            out.append(lines[i])
            i += 1
            continue
        indent, hint = begin.group("indent"), begin.group("hint") or "write this part"
        j = i + 1
        while j < len(lines) and not END.match(lines[j].rstrip("\r\n")):
            if BEGIN.match(lines[j].rstrip("\r\n")):
                raise StripError(f"{origin}:{j + 1}: nested BEGIN SOLUTION")
            j += 1
        if j == len(lines):
            raise StripError(f"{origin}:{i + 1}: BEGIN SOLUTION without END")
        name = _enclosing_name(lines, i, indent)
        where = f"{name}: " if name else ""
        out.append(f"{indent}# TODO: {hint}\n")
        out.append(f'{indent}raise NotImplementedError("{where}not implemented yet (see the TODO above)")\n')
        i = j + 1
    return "".join(out)


def strip_notebook(text: str, origin: str = "<notebook>") -> str:
    """Strip solution regions from code cells and clear all outputs."""
    import nbformat

    nb = nbformat.reads(text, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.source = strip_source(cell.source, f"{origin}[cell {index}]")
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return nbformat.writes(nb) + "\n"


def strip_tree(source: Path, target: Path) -> List[Path]:
    """Write the stripped copy of every file under `source` into `target` (recreated).

    Returns the files written, relative to `target`. Caches and compiled files are skipped.
    """
    if target.exists():
        shutil.rmtree(target)
    written = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        skipped = {"__pycache__", ".ipynb_checkpoints", "data"}   # caches, and a downloaded data set
        if path.is_dir() or skipped & set(rel.parts) or path.suffix == ".pyc":
            continue
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".py":
            dest.write_text(strip_source(path.read_text(), str(rel)))
        elif path.suffix == ".ipynb":
            dest.write_text(strip_notebook(path.read_text(), str(rel)))
        else:
            shutil.copyfile(path, dest)
        written.append(rel)
    return written
