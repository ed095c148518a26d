"""End to end through the Gradescope zips: full marks, zero marks, and broken submissions
that lose exactly the cases of what is broken, each with a clear message."""
import json
import os
import shutil

import pytest

from conftest import REPO, make_submission, plain, scores_by_function

TOTALS = {"part1": 5.0, "part2": 14.0}
GRADESCOPE_TEST_KEYS = {"name", "score", "max_score", "status", "visibility", "output"}


def check_schema(results, manifest):
    """Valid Gradescope results, every case listed once, scores within bounds."""
    json.dumps(results)
    assert isinstance(results["execution_time"], (int, float))
    names = [t["name"] for t in results["tests"]]
    assert names == [c["name"] for c in manifest["cases"]]
    for test in results["tests"]:
        assert GRADESCOPE_TEST_KEYS <= set(test)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert results["score"] == sum(t["score"] for t in results["tests"])


@pytest.mark.parametrize("part", ["part1", "part2"])
def test_solution_earns_every_point_and_the_parent_never_imports_torch(part, grade, manifests, tmp_path):
    """The parent compares with numpy only: with torch made unimportable for it (the sandboxed
    worker runs with python -I, so it still gets the real one), the solution earns every point."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('the trusted parent must not import torch')\n")
    results = grade(part, REPO / "solution" / part, env=dict(os.environ, PYTHONPATH=str(blocker)))
    check_schema(results, manifests[part])
    failed = [(t["name"], plain(t["output"])) for t in results["tests"] if t["status"] != "passed"]
    assert not failed
    assert results["score"] == TOTALS[part]


@pytest.mark.parametrize("part", ["part1", "part2"])
def test_template_earns_nothing_and_lists_every_case(part, grade, manifests):
    results = grade(part, REPO / "student_template" / part)
    check_schema(results, manifests[part])
    assert results["score"] == 0
    assert all("not implemented yet" in plain(t["output"]) for t in results["tests"])


def test_syntax_error_costs_only_that_file(grade, manifests, tmp_path):
    submission = make_submission(tmp_path, "part2", {"diffusion/ddpm.py": "def q_sample(:\n"})
    results = grade("part2", submission)
    check_schema(results, manifests["part2"])
    for test in results["tests"]:
        case = next(c for c in manifests["part2"]["cases"] if c["name"] == test["name"])
        if case["file"] == "diffusion/ddpm.py":
            assert test["score"] == 0 and "could not be imported: SyntaxError" in plain(test["output"])
            assert "diffusion/ddpm.py, line 1" in plain(test["output"])
        else:
            assert test["score"] == test["max_score"], test


def test_exiting_or_killing_the_worker_at_import_is_reported_once_for_the_file(grade, manifests, tmp_path):
    """An import that exits ends only its zygote; one that kills the worker ends the worker, which the
    trusted side sees: either way the file's cases are all judged at the import, with one worker
    restarted at most, not one per function."""
    submission = make_submission(tmp_path, "part1", {
        "gan/losses.py": "import os\nos._exit(3)\n",
        "gan/train.py": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"})
    results = grade("part1", submission)
    check_schema(results, manifests["part1"])
    for test in results["tests"]:
        if test["extra_data"]["file"] == "gan/losses.py":
            assert test["extra_data"]["kind"] == "crash"
            assert "exited while importing gan/losses.py (exit code 3)" in test["extra_data"]["message"]
        elif test["extra_data"]["file"] == "gan/train.py":
            assert test["extra_data"]["kind"] == "crash"
            assert "the grading worker stopped while importing gan/train.py" in test["extra_data"]["message"]
        else:
            assert test["status"] == "passed"


def test_missing_file_costs_only_that_file(grade, manifests, tmp_path):
    submission = make_submission(tmp_path, "part1", {"gan/losses.py": None})
    results = grade("part1", submission)
    check_schema(results, manifests["part1"])
    per_function = scores_by_function(results)
    assert per_function["bce_loss"][0] == 0 and per_function["Discriminator"][0] == 0.5
    loss_tests = [t for t in results["tests"] if "loss" in t["name"].split(":")[0]]
    assert all("gan/losses.py is missing from the submission" in plain(t["output"]) for t in loss_tests)


def test_empty_submission_lists_every_case(grade, manifests, tmp_path):
    (tmp_path / "empty").mkdir()
    results = grade("part2", tmp_path / "empty")
    check_schema(results, manifests["part2"])
    assert results["score"] == 0
    assert "diffusion/ddpm.py is missing from the submission" in plain(results["tests"][10]["output"])


def test_package_one_folder_down_is_found(grade, tmp_path):
    """Students often zip the folder that holds the package."""
    folder = tmp_path / "sub"
    shutil.copytree(REPO / "solution" / "part1", folder / "hw4_part1", ignore=shutil.ignore_patterns("*.ipynb"))
    assert grade("part1", folder)["score"] == TOTALS["part1"]


def test_files_dragged_in_one_by_one_are_graded(grade, manifests, tmp_path):
    """No gan/ folder: the graded files at the top of the submission, and the notebook."""
    folder = tmp_path / "dragged"
    folder.mkdir()
    for rel in manifests["part1"]["files"]:
        shutil.copyfile(REPO / "solution" / "part1" / rel, folder / rel.split("/")[1])
    shutil.copyfile(REPO / "solution" / "part1" / "hw4-part1.ipynb", folder / "hw4-part1.ipynb")
    results = grade("part1", folder)
    assert results["score"] == TOTALS["part1"]
    output = plain(results["output"])
    assert "Graded files found: gan/models.py (found as models.py), gan/losses.py (found as losses.py)" in output
    assert results["extra_data"]["files"]["gan/train.py"] == "train.py"


def test_a_macos_zip_of_the_enclosing_folder_is_graded(grade, tmp_path):
    folder = tmp_path / "mac"
    shutil.copytree(REPO / "solution" / "part2", folder / "hw4_part2", ignore=shutil.ignore_patterns("*.ipynb"))
    for path in list((folder / "hw4_part2" / "diffusion").glob("*.py")):
        junk = folder / "__MACOSX" / "hw4_part2" / "diffusion" / f"._{path.name}"
        junk.parent.mkdir(parents=True, exist_ok=True)
        junk.write_bytes(b"\x00\x05\x16\x07 Mac OS X resource fork")
    (folder / "hw4_part2" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    results = grade("part2", folder)
    assert results["score"] == TOTALS["part2"]
    assert "MACOSX" not in plain(results["output"])


def test_the_log_beside_a_root_is_never_written_through_a_planted_link(autograder_zips, tmp_path):
    """run_autograder's log goes beside the grading root, which may be in the system's temporary
    folder: a link another user put at its name must not make the grader write where it points."""
    from autograder.tools.through_zip import lay_out, log_beside, run_autograder

    root = lay_out(autograder_zips["part1"], None, tmp_path / "work")
    target = tmp_path / "not-the-log"
    target.write_text("untouched")
    log_beside(root).symlink_to(target)
    try:
        with pytest.raises(OSError):
            run_autograder(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        log_beside(root).unlink()
    assert target.read_text() == "untouched"


def test_a_zip_that_cannot_start_its_worker_says_the_autograder_failed(autograder_zips, tmp_path):
    """What `make build`'s self-check and simulate catch: a zip whose worker dies at start."""
    import zipfile
    from autograder.tools.simulate import failed
    from autograder.tools.through_zip import run_autograder, lay_out

    root = lay_out(autograder_zips["part1"], REPO / "solution" / "part1", tmp_path)
    worker = root / "source" / "autograder" / "engine" / "worker.py"
    worker.write_text("import sys\nsys.exit('broken worker')\n")
    try:
        grading = run_autograder(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert grading.results is not None and failed(grading)
    assert "autograder itself failed" in plain(grading.results["output"])
    assert all(test["extra_data"]["kind"] == "grader error" for test in grading.results["tests"])


def test_crash_and_wrong_outputs_are_explained(grade, manifests, tmp_path):
    source = (REPO / "solution" / "part2" / "diffusion" / "vae.py").read_text()
    source = source.replace("    return per_sample.mean()\n", "    return per_sample\n")          # wrong shape
    source = source.replace("    return mu + torch.exp(0.5 * logvar) * eps\n",
                            "    raise RuntimeError('boom')\n")
    submission = make_submission(tmp_path, "part2", {"diffusion/vae.py": source})
    results = grade("part2", submission)
    check_schema(results, manifests["part2"])
    by_name = {t["name"]: t for t in results["tests"]}
    assert "raised RuntimeError: boom (diffusion/vae.py, line" in plain(by_name["reparameterize: given eps"]["output"])
    assert "hidden" not in by_name["reparameterize: given eps"]["visibility"]
    kl = plain(by_name["kl_divergence: (B, D)"]["output"])
    assert "a 0-dim tensor" in kl
    per_function = scores_by_function(results)
    assert per_function["reparameterize"][0] == 0 and per_function["kl_divergence"][0] == 0
    assert per_function["vae_loss"][0] == 0          # it calls kl_divergence
    assert per_function["q_sample"] == (1.0, 1.0)


def test_printing_code_passes_and_shows_its_output_on_failure(grade, tmp_path):
    source = (REPO / "solution" / "part1" / "gan" / "losses.py").read_text()
    source = source.replace('    """Least-squares GAN generator loss."""\n',
                            '    """Least-squares GAN generator loss."""\n    print("debug: hello")\n    return scores_fake.sum()\n')
    submission = make_submission(tmp_path, "part1", {"gan/losses.py": source})
    results = grade("part1", submission)
    by_name = {t["name"]: t for t in results["tests"]}
    visible = by_name["ls_generator_loss: batch of 4"]
    assert visible["score"] == 0 and "debug: hello" in plain(visible["output"])
    hidden = by_name["ls_generator_loss: batch of 1"]
    assert hidden["score"] == 0 and "debug: hello" not in plain(hidden["output"])
    assert by_name["ls_discriminator_loss: batch of 4"]["score"] > 0


def test_bce_builtin_is_refused(grade, tmp_path):
    source = (REPO / "solution" / "part1" / "gan" / "losses.py").read_text()
    start = source.index("    targets = torch.as_tensor")
    end = source.index("    return loss.mean()\n") + len("    return loss.mean()\n")
    source = source[:start] + ("    targets = torch.as_tensor(targets, dtype=logits.dtype).expand_as(logits)\n"
                               "    return torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)\n"
                               ) + source[end:]
    submission = make_submission(tmp_path, "part1", {"gan/losses.py": source})
    results = grade("part1", submission)
    per_function = scores_by_function(results)
    assert per_function["bce_loss"][0] == 0
    assert per_function["ls_generator_loss"] == (0.25, 0.25)
    bce = next(t for t in results["tests"] if t["name"].startswith("bce_loss"))
    assert "must not call torch.nn.functional.binary_cross_entropy_with_logits" in plain(bce["output"])


def test_results_written_even_when_reference_data_is_damaged(autograder_zips, tmp_path):
    """A grader failure is reported as such, and results.json is still valid."""
    import subprocess
    import sys
    import zipfile

    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(autograder_zips["part1"]) as archive:
        archive.extractall(root / "source")
    shutil.copytree(REPO / "solution" / "part1", root / "submission")
    victim = next((root / "source" / "reference_data" / "part1" / "expected").iterdir())
    victim.write_bytes(b"tampered")
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, capture_output=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0
    assert "autograder itself failed" in plain(results["output"])
