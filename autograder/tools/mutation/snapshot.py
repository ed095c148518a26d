"""A private copy of the reference data and the solution, taken when a run starts.

The reference data is regenerated and the solution edited by others while a run takes its
time; every mutant is graded against the same verified copy. The engine and the case tables
are imported once, before the first grading process is forked, so they are fixed too.
"""
import hashlib
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Sequence

from autograder.engine.reference import Reference, ReferenceDataError, load_reference
from autograder.tools.in_process import one_torch_thread, warm_up
from autograder.tools.parts import REPO

# The code a grading depends on besides the mutant and the reference data: a cached result is
# reused only while these files are unchanged.
GRADING_CODE = ("autograder/__init__.py", "autograder/engine/*.py", "autograder/hw4/*.py",
                "autograder/tools/in_process.py", "autograder/tools/mutation/grading.py",
                "autograder/tools/mutation/processes.py")


@dataclass
class Snapshot:
    root: Path                          # holds reference_data/partN and solution/partN
    references: Dict[str, Reference]    # part -> its verified reference data
    digests: Dict[str, str]             # part -> what its gradings depend on (see reference_digest)

    def package_folder(self, part: str) -> Path:
        return self.root / "solution" / part / self.references[part].manifest["package"]


def take_snapshot(parts: Sequence[str], attempts: int = 10) -> Snapshot:
    """Copy and verify; on a copy taken while the reference data was being rewritten, wait and retry."""
    for attempt in range(attempts):
        root = Path(tempfile.mkdtemp(prefix="mutation-snapshot-"))
        try:
            references = {}
            for part in parts:
                shutil.copytree(REPO / "reference_data" / part, root / "reference_data" / part)
                shutil.copytree(REPO / "solution" / part, root / "solution" / part,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.ipynb"))
                references[part] = load_reference(root / "reference_data" / part)
            digests = {part: reference_digest(root, part) for part in parts}
            return Snapshot(root, references, digests)
        except (OSError, ValueError, KeyError, ReferenceDataError):
            shutil.rmtree(root, ignore_errors=True)
            if attempt == attempts - 1:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")


@contextmanager
def ready_to_fork(snapshot: Snapshot):
    """Import the tables and pay torch's lazy set-up once, in this process: every grading process
    is forked from it and starts ready. One torch thread while it lasts, as in the sandboxed
    worker (and OpenMP's thread pool does not survive a fork)."""
    import safetensors.torch  # noqa: F401 - imported once here, not in every grading process

    with one_torch_thread():
        for reference in snapshot.references.values():
            warm_up(reference.manifest["table"])
        yield


def reference_digest(root: Path, part: str) -> str:
    """A fingerprint of what a part's gradings depend on: the cases (manifest) and GRADING_CODE."""
    digest = hashlib.sha256((root / "reference_data" / part / "manifest.json").read_bytes())
    for pattern in GRADING_CODE:
        for path in sorted(REPO.glob(pattern)):
            digest.update(path.relative_to(REPO).as_posix().encode() + b"\n" + path.read_bytes())
    return digest.hexdigest()[:16]


def remove(snapshot: Snapshot) -> None:
    shutil.rmtree(snapshot.root, ignore_errors=True)
