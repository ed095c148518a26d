"""The Gradescope autograder zips, dist/<slug>_autograder.zip (see engine/package.py for what is in one)."""
from pathlib import Path

from autograder.engine.package import build_zip
from autograder.tools import parts


def package(repo: Path, part: str) -> Path:
    return build_zip(repo, part, parts.autograder_zip(part, repo))
