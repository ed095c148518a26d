"""Finding the graded files where students put them (engine/locate.py), without grading."""
import os
from pathlib import Path

from autograder.engine.locate import locate

FILES = ["gan/models.py", "gan/losses.py", "gan/train.py"]


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def graded(text="x = 1\n"):
    return {rel: f"# {rel}\n{text}" for rel in FILES}


def test_the_collect_scripts_layout(tmp_path):
    located = locate(write(tmp_path, graded()), "gan", FILES)
    assert located.found_at == {rel: rel for rel in FILES}
    assert not located.problems and not located.duplicates
    assert located.files["gan/losses.py"] == b"# gan/losses.py\nx = 1\n"


def test_files_dragged_in_one_by_one(tmp_path):
    write(tmp_path, {rel.split("/")[1]: text for rel, text in graded().items()})
    located = locate(tmp_path, "gan", FILES)
    assert located.found_at == {rel: rel.split("/")[1] for rel in FILES}
    assert located.files["gan/train.py"] == b"# gan/train.py\nx = 1\n"
    assert "Graded files found: gan/models.py (found as models.py)" in located.notes()[0]


def test_one_enclosing_folder_of_any_name_and_a_renamed_package(tmp_path):
    write(tmp_path / "a", {f"hw4 (1)/{rel}": text for rel, text in graded().items()})
    assert set(locate(tmp_path / "a", "gan", FILES).found_at.values()) == {f"hw4 (1)/{rel}" for rel in FILES}
    write(tmp_path / "b", {f"gan-2/{rel.split('/')[1]}": text for rel, text in graded().items()})
    assert locate(tmp_path / "b", "gan", FILES).found_at["gan/models.py"] == "gan-2/models.py"


def test_macos_zip_junk_is_ignored(tmp_path):
    files = {f"hw4_part1/{rel}": text for rel, text in graded().items()}
    files.update({f"__MACOSX/hw4_part1/gan/._{name.split('/')[1]}": "\x00\x05junk" for name in FILES})
    files.update({"hw4_part1/.DS_Store": "junk", "hw4_part1/gan/._models.py": "junk",
                  "hw4_part1/gan/.ipynb_checkpoints/models-checkpoint.py": "stale", "hw4_part1/gan/__pycache__/x.pyc": ""})
    located = locate(write(tmp_path, files), "gan", FILES)
    assert located.found_at == {rel: f"hw4_part1/{rel}" for rel in FILES}
    assert not located.duplicates
    assert not any("MACOSX" in path or "checkpoint" in path for path, _ in located.ignored)


def test_windows_zip_with_backslashes_in_names(tmp_path):
    """A zip whose names use backslashes unpacks into files named 'gan\\models.py' on Linux."""
    write(tmp_path, {rel.replace("/", "\\"): text for rel, text in graded().items()})
    located = locate(tmp_path, "gan", FILES)
    assert located.found_at["gan/models.py"] == "gan\\models.py"
    assert located.files["gan/models.py"].startswith(b"# gan/models.py")


def test_two_copies_choose_the_package_folder_and_say_so(tmp_path):
    write(tmp_path, graded())
    write(tmp_path, {"losses.py": "# newer loose copy\n"})
    located = locate(tmp_path, "gan", FILES)
    assert located.found_at["gan/losses.py"] == "gan/losses.py"
    assert located.duplicates == {"gan/losses.py": ["losses.py"]}
    assert any("2 copies were submitted; gan/losses.py was used" in note and "not losses.py" in note
               for note in located.notes())


def test_the_folder_holding_the_most_graded_files_wins_among_equals(tmp_path):
    write(tmp_path, {f"full/{rel}": text for rel, text in graded().items()})
    write(tmp_path, {"aaa/gan/models.py": "# a stray copy\n"})
    located = locate(tmp_path, "gan", FILES)
    assert located.found_at["gan/models.py"] == "full/gan/models.py"


def test_helper_modules_and_notebooks_are_named_with_the_reason(tmp_path):
    files = graded()
    files.update({"gan/helpers.py": "def f(): pass\n", "gan/__init__.py": "", "hw4-part1.ipynb": "{}",
                  "utils.py": "", "data/big.bin": "x"})
    notes = "\n".join(locate(write(tmp_path, files), "gan", FILES).notes())
    assert "Not used: gan/helpers.py: only the graded files are used" in notes
    assert "Not used: utils.py: only the graded files are used" in notes
    assert "Not used: gan/__init__.py: the grader supplies its own empty __init__.py" in notes
    assert "Not used: hw4-part1.ipynb: notebooks are not graded" in notes
    assert "big.bin" not in notes


def test_missing_files_say_what_was_found_instead(tmp_path):
    files = {"gan/models.py": "", "a/b/gan/losses.py": "", "train (1).py": ""}
    located = locate(write(tmp_path, files), "gan", FILES)
    assert located.problems["gan/losses.py"].startswith("gan/losses.py is missing from the submission (a losses.py "
                                                        "was found at a/b/gan/losses.py, deeper than the grader looks")
    assert "train (1).py was found: name the file train.py" in located.problems["gan/train.py"]
    assert located.files["gan/losses.py"] is None


def test_links_and_large_files_are_not_read(tmp_path):
    write(tmp_path, {"gan/models.py": "x" * (2 * 1024 ** 2 + 1), "secret.txt": "s"})
    os.symlink(tmp_path / "secret.txt", tmp_path / "gan" / "losses.py")
    located = locate(tmp_path, "gan", FILES)
    assert located.problems["gan/models.py"] == "gan/models.py is larger than 2 MB"
    assert "not a regular file" in located.problems["gan/losses.py"]
    assert located.files["gan/losses.py"] is None


def test_no_submission_folder(tmp_path):
    located = locate(tmp_path / "nothing", "gan", FILES)
    assert set(located.problems) == set(FILES)
