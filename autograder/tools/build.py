"""The TA's pipeline behind `make build`: handout, reference data, zips, then a self-check.

Each step is one verb of `python -m autograder`; `build` runs them in order for every part.
The self-check grades the solution (every point) and the template (none, every case listed)
through the built zips in the simulated Gradescope (tools/simulate.py): only what setup.sh
installs, under Gradescope's limits where this machine can enforce them. A zip whose worker
cannot start fails it.
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.engine import isolation
from autograder.engine.strip import strip_tree
from autograder.tools import handout, parts, zips


def strip(repo: Path, part: str, table: str) -> bool:
    """student_template/<part>: the stripped solution, the handout's own files (handout/common/
    for both parts, then handout/<part>/), the generated requirements and public tests."""
    target = repo / "student_template" / part
    written = strip_tree(repo / "solution" / part, target)
    for extras in (repo / "handout" / "common", repo / "handout" / part):     # shared files, then the part's
        if extras.is_dir():
            shutil.copytree(extras, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache",
                                                          "requirements-extra.txt"))
    handout.write_requirements(repo, part, table)
    print(f"{part}: student_template/{part} written ({len(written)} files stripped)")
    handout.write_public_tests(repo, part, table)
    return True


def generate(repo: Path, part: str, table: str) -> bool:
    """reference_data/<part>, settled against the data in place: where what this machine computes
    agrees with the committed data (engine/generate.py: AGREEMENT and the bounds beside it), the
    committed bytes are kept."""
    from autograder.engine.generate import Prior, generate as generate_references

    prior = Prior(repo / "reference_data" / part)
    manifest = generate_references(table, repo / "solution" / part, repo / "reference_data" / part, prior)
    kept = f"; {prior.kept} files kept as committed, where this machine's numbers agree with them" if prior.kept else ""
    print(f"{part}: reference_data/{part} written ({len(manifest['cases'])} cases{kept})")
    return True


def package(repo: Path, part: str, table: str) -> bool:
    path = zips.package(repo, part)
    print(f"{part}: {path.relative_to(repo)} ({path.stat().st_size // 1024} KiB)")
    handout.pack_handout(repo, part)
    return True


def selfcheck(repo: Path, part: str, table: str) -> bool:
    """The solution must earn every point and the template none, with every case listed, in the
    simulated Gradescope."""
    from autograder.tools.simulate import simulate, summary

    manifest = json.loads((repo / "reference_data" / part / "manifest.json").read_text())
    total, count = manifest["total_points"], len(manifest["cases"])
    ok = True
    for label, folder, want in (("solution", repo / "solution" / part, total),
                                ("template", repo / "student_template" / part, 0.0)):
        with tempfile.TemporaryDirectory() as tmp:
            grading = simulate(parts.autograder_zip(part, repo), folder, workdir=Path(tmp))
        results = grading.results or {"score": None, "tests": []}
        score, listed = results["score"], len(results["tests"])
        good = score == want and listed == count
        ok = ok and good
        print(f"{part} {label}: {score if score is None else f'{score:g}'}/{total:g} points, {listed}/{count} "
              f"tests listed{'' if good else f'  <-- expected {want:g} points and {count} tests'}")
        if not good:
            print("\n".join(summary(grading)) + "\n" + grading.output[-3000:])
    print(f"{part} self-check in the simulated Gradescope: " + "; ".join(summary(grading)))
    return ok


STEPS = {"strip": (strip,), "generate": (generate,), "package": (package,), "selfcheck": (selfcheck,),
         "build": (strip, generate, package, selfcheck)}


def run(command: str, chosen) -> int:
    tables = parts.tables()
    refused = isolation.refusal() if selfcheck in STEPS[command] else None
    if refused:         # said before the minutes of the other steps, not after them
        print(f"{command}: the self-check could not grade: {refused}", file=sys.stderr)
        return 2
    keys = [parts.normalize(part) for part in chosen] if chosen else sorted(tables)
    ok = True
    for step in STEPS[command]:
        for key in keys:
            ok = step(parts.REPO, key, tables[key]) and ok
    return 0 if ok else 1
