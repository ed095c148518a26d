"""The TA's pipeline for HW4: handout, reference data, zips, and a self-check through the zips."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.engine.strip import strip_tree


def zip_path(repo: Path, part: str) -> Path:
    return repo / "dist" / f"hw4_{part}_autograder.zip"


def strip(repo: Path, part: str, table: str) -> bool:
    """student_template/<part>: the stripped solution, plus the handout's own files."""
    target = repo / "student_template" / part
    written = strip_tree(repo / "solution" / part, target)
    extras = repo / "handout" / part
    if extras.is_dir():
        shutil.copytree(extras, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
    print(f"{part}: student_template/{part} written ({len(written)} files stripped)")
    return True


def generate(repo: Path, part: str, table: str) -> bool:
    from autograder.engine.references import generate as generate_references

    manifest = generate_references(table, repo / "solution" / part, repo / "reference_data" / part)
    print(f"{part}: reference_data/{part} written ({len(manifest['cases'])} cases)")
    return True


def package(repo: Path, part: str, table: str) -> bool:
    from autograder.engine.package import build_zip

    path = build_zip(repo, part, table, zip_path(repo, part))
    print(f"{part}: {path.relative_to(repo)} ({path.stat().st_size // 1024} KiB)")
    return True


def grade_with_zip(zip_file: Path, submission: Path, workdir: Path, timeout: float = 900) -> dict:
    """Grade `submission` exactly as Gradescope would, through the zip's run_autograder."""
    root = workdir / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_file) as archive:
        archive.extractall(root / "source")
    shutil.copytree(submission, root / "submission")
    env = dict(os.environ, AUTOGRADER_ROOT=str(root),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, timeout=timeout, check=False,
                   stdout=subprocess.DEVNULL)
    return json.loads((root / "results" / "results.json").read_text())


def selfcheck(repo: Path, part: str, table: str) -> bool:
    """The solution must earn every point and the template none, with every case listed."""
    manifest = json.loads((repo / "reference_data" / part / "manifest.json").read_text())
    total, count = manifest["total_points"], len(manifest["cases"])
    ok = True
    for label, folder, want in (("solution", repo / "solution" / part, total),
                                ("template", repo / "student_template" / part, 0.0)):
        with tempfile.TemporaryDirectory() as tmp:
            results = grade_with_zip(zip_path(repo, part), folder, Path(tmp))
        score, listed = results["score"], len(results["tests"])
        good = score == want and listed == count
        ok = ok and good
        print(f"{part} {label}: {score:g}/{total:g} points, {listed}/{count} tests listed"
              f"{'' if good else f'  <-- expected {want:g} points and {count} tests'}")
    return ok
