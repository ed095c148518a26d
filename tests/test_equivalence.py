"""Independently written correct implementations earn full marks: the tolerances accept
every correct way of writing the contract (float64 internals, gather/einsum, explicit layers)."""
import pytest

from conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "equivalent"
SUBMISSIONS = sorted(path.name for path in FIXTURES.iterdir() if path.is_dir())


def test_three_styles_per_part():
    for part in ("part1", "part2"):
        assert len([name for name in SUBMISSIONS if name.startswith(part + "_")]) >= 3


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_equivalent_implementation_earns_full_marks(name, grade):
    part = name.split("_", 1)[0]
    results = grade(part, FIXTURES / name)
    failed = [(t["name"], t["output"]) for t in results["tests"] if t["status"] != "passed"]
    assert not failed
    assert results["score"] == {"part1": 5.0, "part2": 14.0}[part]
