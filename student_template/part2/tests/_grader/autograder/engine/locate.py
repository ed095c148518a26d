"""Find the student's graded files where they put them.

Students upload the collect script's zip (gan/models.py, ...), but also zips of the folder
that holds the package, zips made by macOS (with __MACOSX/ and ._* files) or Windows, and
files dragged into the upload box one by one (models.py at the top, no gan/ folder). A
graded file `pkg/name.py` is looked for, in this order of preference:

  1. pkg/name.py            the package at the top of the submission
  2. X/pkg/name.py          the package inside one enclosing folder of any name
  3. name.py                dragged in on its own, at the top
  4. X/name.py              inside one folder of any name (a renamed package folder)

When several places qualify, the most preferred one is used; among equals, the folder that
holds the most graded files, then the first by name. Links, folders and special files are
never read; junk (macOS, Jupyter, bytecode caches, hidden files) is ignored.
"""
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Tuple

MAX_GRADED_FILE = 2 * 1024 ** 2
JUNK_FOLDERS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git"}
RANK_NAMES = {1: "the package folder at the top", 2: "the package folder one folder down",
              3: "loose at the top", 4: "loose in one folder"}
MAX_IGNORED_SHOWN = 12


def is_junk(name: str) -> bool:
    return name in JUNK_FOLDERS or name.startswith(".") or name == "Thumbs.db" or name == "desktop.ini"


@dataclass
class Located:
    """What was found for each graded file, and what of the submission is not used."""

    files: Dict[str, Optional[bytes]] = field(default_factory=dict)     # graded file -> contents, or None
    problems: Dict[str, str] = field(default_factory=dict)              # graded file -> why it is not graded
    found_at: Dict[str, str] = field(default_factory=dict)              # graded file -> path in the submission
    duplicates: Dict[str, List[str]] = field(default_factory=dict)      # graded file -> other candidates
    ignored: List[Tuple[str, str]] = field(default_factory=list)        # (path, why it is not used)

    def notes(self) -> List[str]:
        """Lines for the student: where the files were found, what was ignored and why."""
        lines = []
        if self.found_at:
            moved = [f"{graded} (found as {where})" for graded, where in self.found_at.items() if where != graded]
            lines.append("Graded files found: " + ", ".join(
                [graded for graded, where in self.found_at.items() if where == graded] + moved) + ".")
        for graded, others in self.duplicates.items():
            lines.append(f"{graded}: {len(others) + 1} copies were submitted; {self.found_at[graded]} was used "
                         f"(the package folder is preferred over loose files, then the shallower one), "
                         f"not {', '.join(others)}.")
        shown = self.ignored[:MAX_IGNORED_SHOWN]
        for path, why in shown:
            lines.append(f"Not used: {path}: {why}.")
        if len(self.ignored) > len(shown):
            lines.append(f"Not used: {len(self.ignored) - len(shown)} more files.")
        return lines


def _walk(root: Path, depth: int = 5) -> List[PurePosixPath]:
    """Relative paths of everything up to `depth` levels down, junk left out, links not followed."""
    found: List[PurePosixPath] = []

    def visit(folder: Path, rel: PurePosixPath, level: int):
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            return
        for entry in entries:
            if is_junk(entry.name):
                continue
            path = rel / entry.name
            found.append(path)
            if level < depth and entry.is_dir(follow_symlinks=False):
                visit(Path(entry.path), path, level + 1)
    visit(root, PurePosixPath(), 1)
    return found


def _parts(path: PurePosixPath) -> Tuple[str, ...]:
    """Path components; a name with backslashes (a Windows zip unpacked as is) counts as a path."""
    return tuple(part for part in path.as_posix().replace("\\", "/").split("/") if part)


def _rank(path: PurePosixPath, package: str, name: str) -> Optional[int]:
    parts = _parts(path)
    if parts[-1] != name:
        return None
    if len(parts) == 2 and parts[0] == package:
        return 1
    if len(parts) == 3 and parts[1] == package:
        return 2
    if len(parts) == 1:
        return 3
    if len(parts) == 2:
        return 4
    return None


def locate(submission: Path, package: str, graded_files: List[str]) -> Located:
    located = Located()
    if not submission.is_dir():
        for graded in graded_files:
            located.files[graded] = None
            located.problems[graded] = f"{graded} is missing from the submission"
        return located
    everything = _walk(submission)
    candidates: Dict[str, List[Tuple[int, PurePosixPath]]] = {}
    for graded in graded_files:
        name = graded.split("/", 1)[1]
        candidates[graded] = sorted((rank, path) for path in everything
                                    if (rank := _rank(path, package, name)) is not None)
    folder_counts: Dict[PurePosixPath, int] = {}
    for options in candidates.values():
        for _, path in options:
            folder_counts[path.parent] = folder_counts.get(path.parent, 0) + 1
    used = set()
    for graded in graded_files:
        options = sorted(candidates[graded], key=lambda option: (option[0], -folder_counts[option[1].parent],
                                                                 option[1].as_posix()))
        if not options:
            located.files[graded] = None
            located.problems[graded] = _missing_message(graded, everything)
            continue
        path = options[0][1]
        used.update(path for _, path in options)
        located.found_at[graded] = path.as_posix()
        if len(options) > 1:
            located.duplicates[graded] = [other.as_posix() for _, other in options[1:]]
        located.files[graded], problem = _read(submission / path, graded)
        if problem:
            located.problems[graded] = problem
    graded_folders = {PurePosixPath(where).parent for where in located.found_at.values()}
    for path in everything:
        if path in used or (submission / path).is_dir():
            continue
        why = _why_ignored(path, package, graded_folders)
        if why:
            located.ignored.append((path.as_posix(), why))
    return located


def _read(path: Path, graded: str):
    """(bytes, None) of a regular file, or (None, why it cannot be graded)."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        return None, f"{graded} is not a regular file (a link or a folder?); submit the file itself"
    if info.st_size > MAX_GRADED_FILE:
        return None, f"{graded} is larger than 2 MB"
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_GRADED_FILE + 1), None
    except OSError as error:
        return None, f"{graded} could not be read ({error.strerror})"


def _missing_message(graded: str, everything: List[PurePosixPath]) -> str:
    name = graded.split("/", 1)[1]
    stem = name[:-len(".py")]
    deeper = [path.as_posix() for path in everything if _parts(path)[-1] == name]
    if deeper:
        return (f"{graded} is missing from the submission (a {name} was found at {deeper[0]}, deeper than the "
                "grader looks: upload the zip the collect script makes)")
    renamed = [path.as_posix() for path in everything
               if _parts(path)[-1].startswith(stem) and _parts(path)[-1].endswith(".py") and len(_parts(path)) <= 3]
    if renamed:
        return (f"{graded} is missing from the submission ({renamed[0]} was found: name the file {name}, "
                "or upload the zip the collect script makes)")
    return f"{graded} is missing from the submission"


def _why_ignored(path: PurePosixPath, package: str, graded_folders) -> str:
    """Why a submitted file is not used, for the files worth a word: Python files beside the
    graded ones or at the top, and notebooks."""
    parts = _parts(path)
    if path.suffix == ".py" and (path.parent in graded_folders or len(parts) == 1):
        if path.name == "__init__.py":
            return "the grader supplies its own empty __init__.py"
        return ("only the graded files are used: code in it is not available to the grader "
                "(a graded file that imports it fails); copy what you need into the graded file")
    if path.suffix == ".ipynb" and len(parts) <= 2:
        return "notebooks are not graded by the autograder (they go into your written PDF)"
    return ""
