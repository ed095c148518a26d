"""`python -m autograder regrade`: a whole Gradescope export graded into a CSV, through the zip,
surviving crashing and hanging submissions, and resuming after being killed."""
import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from fixtures.make_export import BROKEN, HOSTILE, TOTALS, make_export

PART = "part1"
SUMMARY = re.compile(r"graded (\d+) submissions in this run \((\d+) skipped")


def regrade(export, out, zip_file, *extra, timeout=900):
    command = [sys.executable, "-m", "autograder", "regrade", str(export), "--part", "1", "--jobs", "2",
               "--out", str(out), "--zip", str(zip_file), "--no-progress", *extra]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def read_rows(path: Path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def full_points(manifest):
    points = {}
    for case in manifest["cases"]:
        points[case["function"]] = points.get(case["function"], 0.0) + case["points"]
    return points


def test_regrade_export_of_50(tmp_path, autograder_zips, manifests):
    planned = make_export(tmp_path / "export", PART, n=50)
    out = tmp_path / "grades" / "grades.csv"
    result = regrade(tmp_path / "export", out, autograder_zips[PART])
    assert result.returncode == 0, result.stdout + result.stderr
    assert SUMMARY.search(result.stdout).groups() == ("50", "0"), result.stdout

    rows = read_rows(out)
    ids = [row["submission_id"] for row in rows]
    assert ids == list(planned), "one row per submission, in the export's order"
    functions = full_points(manifests[PART])
    assert list(rows[0])[6:-3] == list(functions), "one column per graded function, in the table's order"
    for row in rows:
        plan = planned[row["submission_id"]]
        total = float(row["total"])
        assert row["names"] == "; ".join(plan.names)
        assert row["failure"] == "", row           # every one was graded: hostile code costs only its cases
        assert total == pytest.approx(sum(float(row[name]) for name in functions))
        if plan.kind == "correct":
            lost = {name: row[name] for name, points in functions.items() if float(row[name]) != points}
            assert total == TOTALS[PART], (f"{row['submission_id']} (correct) lost {lost}: under CPU load, "
                                           "check the cases' timeouts")
        elif plan.kind == "empty":
            assert total == 0
        else:
            assert plan.kind in BROKEN | HOSTILE | {"buggy"}
            assert total < TOTALS[PART], row
        if plan.kind == "buggy":
            assert float(row[plan.loses]) < functions[plan.loses], (plan, row)
    png = out.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _tree(root: int):
    """root and every live process below it (workers run in their own session, as another user)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    children.setdefault(int(handle.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, stack = [root], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _kill_tree(root: int):
    for _ in range(10):
        pids = [pid for pid in _tree(root) if os.path.exists(f"/proc/{pid}")]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


def _complete_rows(path: Path) -> int:
    if not path.exists():
        return 0
    return max(0, path.read_bytes().count(b"\n") - 1)


def test_resume_after_being_killed(tmp_path, autograder_zips):
    planned = make_export(tmp_path / "export", PART, n=12)
    out = tmp_path / "grades.csv"
    command = [sys.executable, "-m", "autograder", "regrade", str(tmp_path / "export"), "--part", "part1",
               "--jobs", "2", "--out", str(out), "--zip", str(autograder_zips[PART]), "--no-progress"]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 600
        while _complete_rows(out) < 3 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        _kill_tree(first.pid)        # as abruptly as a crash: the run and its gradings, all at once
        first.wait()
    assert first.returncode == -signal.SIGKILL, (tmp_path / "first.log").read_text()
    data = out.read_text(encoding="utf-8")
    before = {row["submission_id"]: row for row in csv.DictReader(io.StringIO(data[:data.rfind("\n") + 1]))}
    assert 3 <= len(before) < len(planned)
    with open(out, "a", encoding="utf-8") as handle:     # a row cut off in the middle of its write
        handle.write("submission_240012,Half Writ")

    second = regrade(tmp_path / "export", out, autograder_zips[PART])
    assert second.returncode == 0, second.stdout + second.stderr
    graded, skipped = map(int, SUMMARY.search(second.stdout).groups())
    assert (graded, skipped) == (len(planned) - len(before), len(before)), second.stdout
    rows = read_rows(out)
    ids = [row["submission_id"] for row in rows]
    assert len(ids) == len(set(ids)), "no id twice"
    assert ids == list(planned)
    after = {row["submission_id"]: row for row in rows}
    assert all(after[key] == row for key, row in before.items()), "rows of the first run are kept as they were"
    assert out.with_suffix(".png").is_file()


def test_timeouts_and_missing_folders_still_get_rows(tmp_path, autograder_zips):
    planned = make_export(tmp_path / "export", PART, n=2)
    metadata = tmp_path / "export" / "submission_metadata.yml"
    metadata.write_text(metadata.read_text() + "submission_999:\n  :submitters:\n  - :name: No Folder\n")
    out = tmp_path / "grades.csv"
    result = regrade(tmp_path / "export", out, autograder_zips[PART], "--timeout", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["submission_id"]: row for row in read_rows(out)}
    assert list(rows) == [*planned, "submission_999"]
    for key in planned:                     # no grading finishes within 3 s: torch alone takes longer
        assert rows[key]["failure"].startswith("timed out"), rows[key]
        assert rows[key]["total"] == "0"
    assert rows["submission_999"]["failure"] == "no folder for this submission in the export"
    assert rows["submission_999"]["names"] == "No Folder"
    leftovers = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and str(tmp_path).encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                leftovers.append(entry)
        except OSError:
            pass
    assert not leftovers, "a timed-out grading's processes are killed"


def test_metadata_formats_and_torn_csv(tmp_path):
    from autograder.regrade import RegradeError, load_done, normalize_part, read_export

    assert [normalize_part(value) for value in (1, "2", "part1", "Part2")] == ["part1", "part2", "part1", "part2"]
    with pytest.raises(RegradeError):
        normalize_part("3")
    export = tmp_path / "assignment_42_export"        # the downloaded zip unpacks into such a folder
    make_export(export, PART, n=1, symbol_keys=False)
    with open(export / "submission_metadata.yml", "a") as handle:
        handle.write("submission_7:\n  :submitters:\n  - :name: Ruby Tagged\n    :sid: '7'\n"
                     "  :score: !ruby/object:BigDecimal 18:0.45e1\n")
    (export / "submission_8").mkdir()                  # a folder the metadata does not list
    submissions = {s.id: s for s in read_export(tmp_path)}
    assert list(submissions) == ["submission_240001", "submission_7", "submission_8"]
    assert submissions["submission_240001"].names == ["Ada Lovelace"]
    assert submissions["submission_240001"].created_at.startswith("2025-11-01T23:00:07")
    assert submissions["submission_7"].score == "4.5" and submissions["submission_7"].folder is None
    assert submissions["submission_8"].folder == export / "submission_8"

    header = ["submission_id", "total", "failure"]
    csv_path = tmp_path / "grades.csv"
    csv_path.write_text("submission_id,total,failure\na,1,\nb,2,\na,1,\nbroken\nc,3")
    assert list(load_done(csv_path, header)) == ["a", "b"]
    assert csv_path.read_text() == "submission_id,total,failure\na,1,\nb,2,\n"
    with pytest.raises(RegradeError):
        load_done(csv_path, ["submission_id", "other"])
