"""Pack a part's Gradescope autograder zip, byte-for-byte reproducibly."""
import zipfile
from pathlib import Path
from typing import Iterable, Tuple

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _entries(repo: Path, part_key: str, table_module: str) -> Iterable[Tuple[Path, str]]:
    """(file on disk, name in the zip): entry points, engine, this part's table and data.
    The TA's tools (build, regrade, mutation) stay out: Gradescope only grades."""
    for name in ("setup.sh", "run_autograder", "requirements.txt"):
        yield repo / name, name
    package = repo / "autograder"
    entry_points = [package / name for name in ("__init__.py", "__main__.py", "gradescope.py")]
    for path in entry_points + sorted((package / "engine").glob("*.py")):
        yield path, path.relative_to(repo).as_posix()
    table_dir = package / table_module.split(".")[1]
    table_file = table_module.rsplit(".", 1)[1] + ".py"
    for path in sorted(table_dir.glob("*.py")):
        if path.name in ("__init__.py", table_file) or not path.name.startswith("part"):
            yield path, path.relative_to(repo).as_posix()
    data = repo / "reference_data" / part_key
    for path in sorted(data.rglob("*")):
        if path.is_file():
            yield path, path.relative_to(repo).as_posix()


def build_zip(repo: Path, part_key: str, table_module: str, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in _entries(repo, part_key, table_module):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if name in ("setup.sh", "run_autograder") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, path.read_bytes())
    return destination
