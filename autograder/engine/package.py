"""Pack a part's Gradescope autograder zip, byte-for-byte reproducibly.

The zip holds what grading needs and nothing else: the entry points, the modules that
run_autograder and the worker import (found by reading their imports), the part's case
table with its own imports, the part's reference data, and a requirements.txt derived
from the manifest (what the part's environment declares). The TA's tools and anything
that quotes the solution stay out.
"""
import ast
import json
import zipfile
from pathlib import Path
from typing import Iterable, List, Tuple

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
ENTRY_MODULES = ("gradescope", "engine.worker")     # what run_autograder runs, and what it starts


def _module_file(package_dir: Path, module: str) -> Path:
    rel = module.split(".")[1:]
    path = package_dir.joinpath(*rel)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def imported_modules(package_dir: Path, roots: Iterable[str]) -> List[str]:
    """Every module of the package that the `roots` import, directly or not (read, not run)."""
    package = package_dir.name
    todo = [f"{package}.{root}" for root in roots]
    needed: List[str] = []
    while todo:
        module = todo.pop()
        if module in needed or not _module_file(package_dir, module).is_file():
            continue
        needed.append(module)
        parts = module.split(".")
        for depth in range(1, len(parts)):
            todo.append(".".join(parts[:depth]))        # the packages above it
        tree = ast.parse(_module_file(package_dir, module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package:
                todo.append(node.module)
                todo.extend(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                todo.extend(alias.name for alias in node.names if alias.name.split(".")[0] == package)
    return sorted(needed)


def requirements_text(manifest: dict) -> str:
    lines = ["# Generated from the part's environment by the build: what setup.sh installs.",
             f"# torch comes from {manifest['torch_index']} (setup.sh)."]
    return "\n".join(lines + manifest["requirements"]) + "\n"


def _entries(repo: Path, part_key: str) -> Iterable[Tuple[str, bytes, int]]:
    """(name in the zip, bytes, mode)."""
    data = repo / "reference_data" / part_key
    manifest = json.loads((data / "manifest.json").read_text())
    yield "setup.sh", (repo / "setup.sh").read_bytes(), 0o755
    yield "run_autograder", (repo / "run_autograder").read_bytes(), 0o755
    yield "requirements.txt", requirements_text(manifest).encode(), 0o644
    package_dir = repo / "autograder"
    modules = set(imported_modules(package_dir, ENTRY_MODULES))
    modules.update(imported_modules(package_dir, [m.split(".", 1)[1] for m in manifest["runner_modules"]]))
    for module in sorted(modules):
        path = _module_file(package_dir, module)
        yield path.relative_to(repo).as_posix(), path.read_bytes(), 0o644
    for path in sorted(data.rglob("*")):
        if path.is_file():
            yield path.relative_to(repo).as_posix(), path.read_bytes(), 0o644


def build_zip(repo: Path, part_key: str, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in _entries(repo, part_key):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, data)
    return destination
