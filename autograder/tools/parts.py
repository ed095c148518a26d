"""The parts this repository grades, and where their files live.

Parts are declared by the course packages (autograder/hw4: PARTS); their names, titles and
the names of their zips come from each part's table (Part.slug), never from the tools.
"""
import importlib
import json
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[2]
COURSES = ("autograder.hw4",)


class PartError(ValueError):
    """An unknown part was asked for."""


def tables() -> Dict[str, str]:
    """{part key: case table module} of every course."""
    found: Dict[str, str] = {}
    for course in COURSES:
        found.update(importlib.import_module(course).PARTS)
    return found


def normalize(value) -> str:
    """'1', 1, 'part1', 'Part1' -> 'part1'."""
    text = str(value).strip().lower()
    known = tables()
    if text.isdigit() and f"part{text}" in known:
        text = f"part{text}"
    if text not in known:
        raise PartError(f"unknown part {value!r}: one of {', '.join(sorted(known))} (or their numbers)")
    return text


def manifest(key: str, repo: Path = REPO) -> dict:
    return json.loads((repo / "reference_data" / key / "manifest.json").read_text())


def slug(key: str, repo: Path = REPO) -> str:
    """hw4_part1: from the part's reference data, else from its table."""
    path = repo / "reference_data" / key / "manifest.json"
    if path.is_file():
        return json.loads(path.read_text())["slug"]
    return importlib.import_module(tables()[key]).PART.slug


def autograder_zip(key: str, repo: Path = REPO) -> Path:
    return repo / "dist" / f"{slug(key, repo)}_autograder.zip"


def handout_zip(key: str, repo: Path = REPO) -> Path:
    return repo / "dist" / f"{slug(key, repo)}_handout.zip"
