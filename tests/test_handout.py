"""The student handout: public tests that agree with Gradescope, collect scripts, no hidden data.

The handout is the committed student_template/ (test_strip checks that it is what the build
makes). Its public tests run in a copy under tmp_path, as a student would run them:
`python -m pytest tests` in the part's folder.
"""
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from conftest import PARTS, REPO, plain

COLLECT = {"part1": "collect_submission_part1.sh", "part2": "collect_submission.sh"}
NOTEBOOK = {"part1": "hw4-part1.ipynb", "part2": "hw4-part2.ipynb"}
GRADED = {"part1": ["gan/models.py", "gan/losses.py", "gan/train.py"],
          "part2": ["diffusion/schedules.py", "diffusion/ddpm.py", "diffusion/unet.py", "diffusion/vae.py"]}
GRADER_DIR = Path("tests") / "_grader"
CACHES = shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc")


def public(manifest):
    return [case for case in manifest["cases"] if not case["hidden"]]


def handout_copy(tmp_path, part, package_from=None, name="handout"):
    """A copy of the committed handout, optionally with another package (the solution's) in it."""
    folder = tmp_path / name / part
    shutil.copytree(REPO / "student_template" / part, folder, ignore=CACHES)
    if package_from is not None:
        package = json.loads((REPO / "reference_data" / part / "manifest.json").read_text())["package"]
        shutil.rmtree(folder / package)
        shutil.copytree(package_from / package, folder / package, ignore=CACHES)
    return folder


def run_public_tests(folder, tmp_path):
    """(exit code, terminal output, {case name: None if passed else the failure text}) of the handout's tests."""
    report = tmp_path / f"junit-{folder.name}-{len(list(tmp_path.glob('junit-*')))}.xml"
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    done = subprocess.run([sys.executable, "-m", "pytest", "tests", "-v", "-p", "no:cacheprovider",
                           f"--junitxml={report}"], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    outcomes = {}
    for testcase in ET.parse(report).iter("testcase"):
        name = re.fullmatch(r"test_public_case\[(.*)\]", testcase.get("name")).group(1)
        failure = testcase.find("failure")
        outcomes[name] = None if failure is None else failure.text
    return done.returncode, done.stdout + done.stderr, outcomes


def summary_total(output):
    """(cases passed, cases run, points, points possible) from the summary table's last row."""
    match = re.search(r"^public total\s+(\d+)/(\d+)\s+(\S+)\s+(\S+)\s*$", output, re.MULTILINE)
    assert match, output[-3000:]
    return int(match[1]), int(match[2]), float(match[3]), float(match[4])


# -- (a), (b): the template fails with TODOs, the solution passes ---------------------------
@pytest.mark.parametrize("part", sorted(PARTS))
def test_public_tests_of_the_template_fail_with_todo_messages(part, manifests, tmp_path):
    code, output, outcomes = run_public_tests(handout_copy(tmp_path, part), tmp_path)
    cases = public(manifests[part])
    assert code == 1, output[-3000:]
    assert list(outcomes) == [case["name"] for case in cases]
    for case in cases:
        text = outcomes[case["name"]]
        assert text is not None, case["name"]
        assert text.startswith(f"Failed (not implemented): {case['function']} is not implemented yet"), text
        assert f"TODO: implement {case['function']} in {case['file']}" in text
        assert f"test_public_case[{case['name']}] FAILED" in output
    points = sum(case["points"] for case in cases)
    assert summary_total(output) == (0, len(cases), 0.0, points)
    assert output.rstrip().splitlines()[-2].startswith("The other "), "the points table must end the report"


@pytest.mark.parametrize("part", sorted(PARTS))
def test_public_tests_pass_with_the_solution(part, manifests, tmp_path):
    folder = handout_copy(tmp_path, part, package_from=REPO / "solution" / part)
    code, output, outcomes = run_public_tests(folder, tmp_path)
    cases = public(manifests[part])
    assert code == 0, output[-3000:]
    assert outcomes == {case["name"]: None for case in cases}
    points = sum(case["points"] for case in cases)
    assert summary_total(output) == (len(cases), len(cases), points, points)
    total = manifests[part]["total_points"]
    assert f"The other {total - points:g} of the assignment's {total:g} points come from hidden cases" in output


# -- (c): the same verdicts and messages as Gradescope --------------------------------------
BUGGY_PART1 = {
    "gan/models.py": '\nprint("debugging output")\n\n\ndef sample_noise(batch_size, dim, generator=None):\n'
                     '    raise NotImplementedError("sample_noise")\n',
    "gan/losses.py": "\n\ndef ls_generator_loss(scores_fake):\n    while True:\n        pass\n\n\n"
                     "def cycle_consistency_loss(real_x, cycled_x, real_y, cycled_y, lambda_cyc=10.0):\n"
                     "    return 1.0\n",
    "gan/train.py": '\n\ndef gan_train_step(*args, **kwargs):\n    raise RuntimeError("boom")\n',
}


def buggy_part1(folder, manifest):
    """The solution with a known mistake of the catalogue in gan/losses.py (one that a public case
    recognises) and a few functions broken the ways students break them: TODO left, endless loop,
    wrong return type, exception, prints."""
    from autograder.hw4.mistakes import MISTAKES, apply

    from safetensors.numpy import load_file

    from autograder.engine.compare import compare_outputs

    def fails(case, entry):
        folder = REPO / "reference_data" / "part1"
        tolerances = {name: tuple(value) for name, value in case["tolerances"].items()}
        return not compare_outputs(load_file(folder / case["expected"]), load_file(folder / entry["file"]),
                                   tolerances, False).passed

    recognised = [m["name"] for case in public(manifest) if case["file"] == "gan/losses.py"
                  for m in case["mistakes"] if fails(case, m)]
    mistake = next(m for m in MISTAKES if m.name in recognised and m.file == "gan/losses.py")
    for rel, text in apply(mistake, REPO / "solution").items():
        (folder / rel).write_text(text)
    for rel, tail in BUGGY_PART1.items():
        path = folder / rel
        path.write_text(path.read_text() + tail)
    return mistake


def test_public_verdicts_and_messages_are_gradescopes(manifests, grade, tmp_path):
    part = "part1"
    folder = handout_copy(tmp_path, part, package_from=REPO / "solution" / part)
    mistake = buggy_part1(folder, manifests[part])
    code, output, outcomes = run_public_tests(folder, tmp_path)
    results = grade(part, folder)
    gradescope = {test["name"]: test for test in results["tests"]}
    cases = public(manifests[part])
    assert code == 1 and list(outcomes) == [case["name"] for case in cases]
    kinds = set()
    for case in cases:
        test, local = gradescope[case["name"]], outcomes[case["name"]]
        assert (local is None) == (test["score"] == test["max_score"]), (case["name"], local, test["output"])
        if local is not None:       # the same verdict, rendered as text locally and as Markdown on Gradescope
            extra = test["extra_data"]
            assert local.startswith(f"Failed ({extra['kind']}): {extra['message']}"), case["name"]
            assert plain(test["output"]).startswith(f"**Failed ({extra['kind']})**: {extra['message']}")
            kinds.add(extra["kind"])
    assert kinds >= {"not implemented", "timeout", "contract", "exception", "values"}, kinds
    assert any("This is what a known mistake gives: " + mistake.misconception in (text or "")
               for text in outcomes.values())
    assert any(mistake.name in test["extra_data"].get("mistakes", []) for test in results["tests"])
    assert "debugging output" in outcomes["sample_noise: batch 4, dim 96"]
    earned = sum(gradescope[case["name"]]["score"] for case in cases)
    assert 0 < earned < sum(case["points"] for case in cases)
    assert summary_total(output)[2] == earned


HELPER_IMPORT = {"gan/losses.py": "from gan.helpers import stable_log_sigmoid\n"}
NOT_ALLOWED = {"diffusion/schedules.py": "import scipy.special\n"}


def _prepend(folder, edits):
    for rel, line in edits.items():
        path = folder / rel
        path.write_text(line + path.read_text())


AGREEMENT = {
    "habits-part1": ("part1", REPO / "tests" / "fixtures" / "habits" / "part1", {}),
    "habits-part2": ("part2", REPO / "tests" / "fixtures" / "habits" / "part2", {}),
    "helper-module": ("part1", REPO / "solution" / "part1", HELPER_IMPORT),
    "package-not-allowed": ("part2", REPO / "solution" / "part2", NOT_ALLOWED),
}


@pytest.mark.parametrize("name", sorted(AGREEMENT))
def test_local_public_tests_and_the_zip_agree(name, manifests, grade, tmp_path):
    """The students' habits, a graded file importing a helper module of theirs, and a package the
    grader does not allow: the same verdict on every public case, locally and through the zip."""
    part, package_from, edits = AGREEMENT[name]
    folder = handout_copy(tmp_path, part, package_from=package_from)
    _prepend(folder, edits)
    if edits is HELPER_IMPORT:
        (folder / "gan" / "helpers.py").write_text("def stable_log_sigmoid(x):\n    return x\n")
    code, output, outcomes = run_public_tests(folder, tmp_path)
    results = grade(part, folder)
    gradescope = {test["name"]: test for test in results["tests"]}
    for case in public(manifests[part]):
        test, local = gradescope[case["name"]], outcomes[case["name"]]
        assert (local is None) == (test["status"] == "passed"), (case["name"], local, test["output"])
        if local is not None:
            extra = test["extra_data"]
            assert local.startswith(f"Failed ({extra['kind']}): {extra['message']}"), (local, extra)
    if not edits:
        assert code == 0 and results["score"] == manifests[part]["total_points"], output[-2000:]
        return
    rel = next(iter(edits))
    failed = [t for t in results["tests"] if t["extra_data"]["file"] == rel]
    assert failed and all(t["extra_data"]["kind"] == "not allowed" for t in failed)
    module = "gan.helpers" if edits is HELPER_IMPORT else "scipy"
    assert f"{rel} imports {module}, which the grader does not provide" in failed[0]["extra_data"]["message"]
    assert "torch" in failed[0]["extra_data"]["message"] and "tqdm" in failed[0]["extra_data"]["message"]
    assert all(t["status"] == "passed" for t in results["tests"] if t["extra_data"]["file"] != rel)
    if edits is HELPER_IMPORT:
        assert "Not used: gan/helpers.py: only the graded files are used" in plain(results["output"])


# -- (d): the collect scripts --------------------------------------------------------------
def with_outputs(notebook: Path):
    """Give the notebook's first code cell an output, as running it would."""
    nb = json.loads(notebook.read_text())
    cell = next(cell for cell in nb["cells"] if cell["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["ran\n"]}]
    notebook.write_text(json.dumps(nb))


def collect(folder, part, cwd):
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    return subprocess.run(["bash", str(folder / COLLECT[part])], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("part", sorted(PARTS))
def test_collected_zip_grades_to_full_marks(part, manifests, grade, tmp_path):
    folder = handout_copy(tmp_path, part, package_from=REPO / "solution" / part)
    with_outputs(folder / NOTEBOOK[part])
    (folder / NOTEBOOK[part]).with_suffix(".pdf").write_bytes(b"%PDF-1.4\n")   # after the notebook, as make_pdf.sh
    (tmp_path / "elsewhere").mkdir()
    done = collect(folder, part, tmp_path / "elsewhere")
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
    archive = folder / f"hw4_{part}_submission.zip"
    with zipfile.ZipFile(archive) as zipped:
        assert sorted(zipped.namelist()) == sorted(GRADED[part] + [NOTEBOOK[part]])
        for rel in GRADED[part]:
            assert zipped.read(rel) == (REPO / "solution" / part / rel).read_bytes()
        submission = tmp_path / "submission"
        zipped.extractall(submission)
    results = grade(part, submission)
    assert results["score"] == manifests[part]["total_points"]
    assert all(test["status"] == "passed" for test in results["tests"])
    assert len(results["tests"]) == len(manifests[part]["cases"])


@pytest.mark.parametrize("part", sorted(PARTS))
def test_collect_refuses_a_missing_file_and_warns_on_todos(part, tmp_path):
    folder = handout_copy(tmp_path, part)          # the template: every function still raises
    archive = folder / f"hw4_{part}_submission.zip"
    done = collect(folder, part, tmp_path)
    assert done.returncode == 0, done.stderr
    for rel in GRADED[part]:
        assert f"warning: {rel} still contains `raise NotImplementedError`" in done.stderr
    assert f"warning: {NOTEBOOK[part]} has no outputs" in done.stderr
    assert archive.is_file()

    missing = GRADED[part][1]
    (folder / missing).unlink()
    done = collect(folder, part, tmp_path)
    assert done.returncode != 0
    assert f"error: {missing} is missing" in done.stderr
    assert not archive.exists(), "a stale zip must not be left to upload"

    (folder / NOTEBOOK[part]).unlink()
    done = collect(folder, part, tmp_path)
    assert done.returncode != 0 and f"error: {NOTEBOOK[part]} is missing" in done.stderr


# -- (e): nothing hidden ships; the public data is the grader's ------------------------------
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("part", sorted(PARTS))
def test_handout_ships_no_hidden_case(part, manifests):
    handout = REPO / "student_template" / part
    hidden = [case for case in manifests[part]["cases"] if case["hidden"]]
    assert hidden
    hidden_digests = {case[f"{key}_sha256"] for case in hidden for key in ("inputs", "expected")}
    hidden_digests |= {m["sha256"] for case in hidden for m in case.get("mistakes", [])}
    quoted = [f"{q}{text}{q}" for case in hidden for text in (case["name"], case["id"]) for q in "\"'"]
    files = [path for path in handout.rglob("*") if path.is_file() and "__pycache__" not in path.parts]
    for path in files:
        assert sha256(path) not in hidden_digests, path
        stem = path.name.split(".", 1)[0]
        assert not any(stem == case["id"] or stem.startswith(case["id"] + "--") for case in hidden), path
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found = [q for q in quoted if q in text]
        assert not found, f"{path.relative_to(REPO)} names hidden cases: {found[:3]}"
    assert not (handout / GRADER_DIR / "autograder" / "hw4" / "mistakes.py").exists()


@pytest.mark.parametrize("part", sorted(PARTS))
def test_public_data_is_the_graders(part, manifests):
    """The shipped manifest lists exactly the public cases, each as reference_data has it, and
    every file it names is there, byte for byte; the shipped table holds exactly those cases."""
    folder = REPO / "student_template" / part / GRADER_DIR
    shipped = json.loads((folder / "reference" / "manifest.json").read_text())
    cases = public(manifests[part])
    assert shipped["cases"] == cases
    assert shipped["total_points"] == manifests[part]["total_points"]
    assert shipped["public_points"] == sum(case["points"] for case in cases)
    for key in ("part", "title", "package", "files", "deadline", "table"):
        assert shipped[key] == manifests[part][key]
    named = {case[key] for case in cases for key in ("inputs", "expected")} | \
            {m["file"] for case in cases for m in case["mistakes"]} | {"manifest.json"}
    present = {path.relative_to(folder / "reference").as_posix() for path in (folder / "reference").rglob("*")
               if path.is_file()}
    assert present == named
    for case in cases:
        for key in ("inputs", "expected"):
            assert sha256(folder / "reference" / case[key]) == case[f"{key}_sha256"]
    table = folder / Path(*PARTS[part].split(".")).with_suffix(".py")
    names = [node.args[0].value for node in ast.walk(ast.parse(table.read_text()))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Case"]
    assert names == [case["name"] for case in cases]
    for rel in ("engine/case.py", "engine/compare.py", "hw4/common.py"):
        assert (folder / "autograder" / rel).read_bytes() == (REPO / "autograder" / rel).read_bytes(), rel


def test_public_table_drops_hidden_cases_and_keeps_the_total_check():
    from autograder.tools.handout import public_table_source

    source = ('from autograder.engine.case import Case, Part\n'
              'CASES = (Case("f: a", "p.m.f", None, None, points=1, seed=1),\n'
              '         Case("f: b", "p.m.f", None, None, points=2, seed=2, hidden=True),\n'
              '         Case("g: c", "p.m.g", None, None, points=3, seed=3, hidden=False))\n'
              'PART = Part(key="x", title="X", package="p", files=("p/m.py",), total_points=6.0, cases=CASES)\n')
    text, total, mistakes, kept, dropped = public_table_source(source, "autograder.hw4.x", "x.py")
    assert (total, mistakes, kept, dropped) == (6.0, "", 2, 1)
    assert "f: b" not in text and "'f: a'" in text and "'g: c'" in text
    assert "total_points=sum((case.points for case in CASES))" in text
    with pytest.raises(ValueError, match="literal"):
        public_table_source(source.replace("hidden=True", "hidden=bool(1)"), "t", "x.py")
    with pytest.raises(ValueError, match="outside a tuple"):
        public_table_source(source + 'EXTRA = Case("h: d", "p.m.h", None, None, points=0, seed=4, hidden=True)\n',
                            "t", "x.py")


@pytest.mark.parametrize("part", sorted(PARTS))
def test_handout_zip_is_the_template_and_reproducible(part, tmp_path):
    from autograder.tools.handout import pack_handout

    first = pack_handout(REPO, part, tmp_path / "first.zip")
    second = pack_handout(REPO, part, tmp_path / "second.zip")
    assert first.read_bytes() == second.read_bytes()
    template = REPO / "student_template" / part
    files = sorted(f"hw4_{part}/{path.relative_to(template).as_posix()}" for path in template.rglob("*")
                   if path.is_file() and not {"__pycache__", ".pytest_cache"} & set(path.relative_to(template).parts))
    with zipfile.ZipFile(first) as archive:
        assert sorted(archive.namelist()) == files
        script = archive.getinfo(f"hw4_{part}/{COLLECT[part]}")
        assert (script.external_attr >> 16) & 0o777 == 0o755
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
