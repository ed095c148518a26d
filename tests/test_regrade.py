"""`python -m autograder regrade`: a whole Gradescope export graded into a CSV, through the zip,
surviving crashing and hanging submissions, resuming after being killed, with its class report
and --compare.

One class export is graded once for the module (the `graded` fixture): 14 submissions through
the zip, 2 at a time, killed after the first rows and resumed, so that every test here reads
the same CSV, details file and report. The kinds in it: correct (one nested with the notebook,
one plain), three known mistakes of the catalogue (one seen on three functions, one twice), an
unknown one-line bug, a syntax error, a missing file, an empty folder, a package not allowed,
an endless loop at import, a function that sleeps forever, os._exit at import and inside a
function; two group submissions; and two metadata entries without a folder whose ids and names
are hostile text. The report's counting rules on data made without grading: test_report.py.
"""
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from conftest import REPO, temporary_folder_of_its_own
from fixtures.make_export import BROKEN, HOSTILE, TOTALS, make_export
from test_report import png_size, render

from autograder.tools import proctable
from autograder.tools.regrade import grades_csv

# The graded export is a module fixture: one xdist worker runs the module, so it is graded once.
pytestmark = pytest.mark.xdist_group("regrade")

PART = "part1"
SUMMARY = re.compile(r"graded (\d+) submissions in this run \((\d+) skipped")
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x")'
CLASS = ("correct", "mistake:generator_loss-target-zero", "buggy", "syntax_error", "mistake:bce_loss-missing-minus",
         "missing_file", "sleep_forever", "mistake:generator_loss-target-zero", "empty", "os_exit", "exit_in_call",
         "not_allowed", "import_loop", "correct")
NO_FOLDER = ((SCRIPT, [(SCRIPT, "<b>1</b>", "x@example.edu")]),
             (FORMULA, [(FORMULA, "+1", "@x.example.edu"), ("-Mallory", "-2", "=m@x.example.edu")]))
LOSSES = ("bce_loss", "discriminator_loss", "generator_loss", "ls_discriminator_loss", "ls_generator_loss",
          "cycle_consistency_loss")


def command(export, out, zip_file, *extra):
    return [sys.executable, "-m", "autograder", "regrade", str(export), "--part", "1", "--jobs", "2",
            "--out", str(out), "--zip", str(zip_file), "--no-progress", *extra]


def regrade(export, out, zip_file, *extra, timeout=900):
    return subprocess.run(command(export, out, zip_file, *extra), cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def read_rows(path: Path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def full_points(manifest):
    points = {}
    for case in manifest["cases"]:
        points[case["function"]] = points.get(case["function"], 0.0) + case["points"]
    return points


def _complete_rows(path: Path) -> int:
    if not path.exists():
        return 0
    return max(0, path.read_bytes().count(b"\n") - 1)


def _leftovers(marker: Path):
    """Live processes whose command line names `marker` (a test's folder)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(marker) in part for part in process.info["cmdline"] or ()):
            found.append(process.pid)
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory, autograder_zips, manifests):
    """The class export graded once: a first run killed (with everything it started) after three rows,
    a row and a details line cut off in the middle, then the same command again, which resumes."""
    root = tmp_path_factory.mktemp("regrade")
    export = root / "export"
    planned = make_export(export, PART, kinds=CLASS, no_folder=NO_FOLDER)
    out = root / "grades" / "grades.csv"
    # What the killed run leaves in the temporary folder (grading roots, worker scratch folders).
    with temporary_folder_of_its_own("hw4-killed-regrade-") as temporary:
        with open(root / "first.log", "w") as log:
            first = subprocess.Popen(command(export, out, autograder_zips[PART]), cwd=REPO, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     env=dict(os.environ, TMPDIR=str(temporary)))
            deadline = time.monotonic() + 600
            while _complete_rows(out) < 3 and first.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            proctable.kill_tree(first.pid)        # as abruptly as a crash: the run and its gradings, all at once
            first.wait()
    data = out.read_text(encoding="utf-8")
    before = {row["submission_id"]: row for row in csv.DictReader(io.StringIO(data[:data.rfind("\n") + 1]))}
    with open(out, "a", encoding="utf-8") as handle:     # a row cut off in the middle of its write
        handle.write('"submission_240012","Half Writ')
    details = grades_csv.sibling(out, "-details.jsonl")
    with open(details, "a", encoding="utf-8") as handle:
        handle.write('{"submission_id": "submission_2400')
    second = regrade(export, out, autograder_zips[PART])
    return SimpleNamespace(root=root, export=export, planned=planned, out=out, first=first,
                           first_log=(root / "first.log").read_text(), before=before, second=second,
                           manifest=manifests[PART], zip=autograder_zips[PART])


@pytest.fixture(scope="module")
def rows(graded):
    assert graded.second.returncode == 0, graded.second.stdout + graded.second.stderr
    return read_rows(graded.out)


@pytest.fixture(scope="module")
def class_report(graded, rows):
    return json.loads(grades_csv.sibling(graded.out, "-report.json").read_text())


def test_regrade_class_export(graded, rows):
    planned, out = graded.planned, graded.out
    ids = [row["submission_id"] for row in rows]
    assert ids == [grades_csv.id_cell(key) for key in planned], "one row per submission, in the export's order"
    functions = full_points(graded.manifest)
    assert list(rows[0])[6:-3] == list(functions), "one column per graded function, in the table's order"
    by_id = {grades_csv.id_cell(key): plan for key, plan in planned.items()}
    kinds = set()
    for row in rows:
        plan = by_id[row["submission_id"]]
        kinds.add(plan.kind)
        total = float(row["total"])
        assert row["names"] == grades_csv.safe_list(plan.names)
        if plan.kind == "no_folder":
            assert row["failure"] == "no folder for this submission in the export" and total == 0
            assert all(row[name] == "" for name in functions)
            continue
        assert row["failure"] == "", row           # every one was graded: hostile code costs only its cases
        assert total == pytest.approx(sum(float(row[name]) for name in functions))
        if plan.kind == "correct":
            lost = {name: row[name] for name, points in functions.items() if float(row[name]) != points}
            assert total == TOTALS[PART], (f"{row['submission_id']} (correct) lost {lost}: under CPU load, "
                                           "check the cases' timeouts")
        elif plan.kind == "empty":
            assert total == 0
        else:
            assert plan.kind in BROKEN | HOSTILE | {"buggy", "mistake"}
            assert total < TOTALS[PART], row
        if plan.kind in ("buggy", "mistake"):
            assert float(row[plan.loses]) < functions[plan.loses], (plan, row)
    assert kinds == {"correct", "mistake", "buggy", "no_folder"} | (BROKEN | HOSTILE) - {"sleep_everywhere"}
    assert sum(len(plan.names) > 1 for plan in planned.values()) >= 2, "group submissions"
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for suffix in ("-report.json", "-report.html", "-details.jsonl"):
        assert grades_csv.sibling(out, suffix).is_file(), suffix
    assert "grades-report.html" in graded.second.stdout


def test_resume_after_being_killed(graded, rows):
    assert graded.first.returncode == -signal.SIGKILL, graded.first_log
    before, planned = graded.before, graded.planned
    assert 3 <= len(before) < len(planned)
    graded_now, skipped = map(int, SUMMARY.search(graded.second.stdout).groups())
    assert (graded_now, skipped) == (len(planned) - len(before), len(before)), graded.second.stdout
    ids = [row["submission_id"] for row in rows]
    assert len(ids) == len(set(ids)), "no id twice"
    after = {row["submission_id"]: row for row in rows}
    assert all(after[key] == row for key, row in before.items()), "rows of the first run are kept as they were"
    details = grades_csv.read_details(grades_csv.sibling(graded.out, "-details.jsonl"))
    assert set(ids) <= set(details), "every row has its details, across both runs and the cut-off line"
    for row in rows:
        assert details[row["submission_id"]]["failure"] == row["failure"]


def test_report_counts_equal_the_csv(graded, rows, class_report):
    """The report of the resumed run: every number from the CSV (and the details of the same rows)."""
    manifest, planned, found = graded.manifest, graded.planned, class_report
    n = len(rows)
    assert found["submissions"] == n == len(planned)
    possible = full_points(manifest)
    details = grades_csv.read_details(grades_csv.sibling(graded.out, "-details.jsonl"))
    for name, points in possible.items():
        values = [float(row[name] or 0) for row in rows]
        full, zero = sum(v == pytest.approx(points) for v in values), sum(v == 0 for v in values)
        assert (found["functions"][name]["full"], found["functions"][name]["partial"],
                found["functions"][name]["zero"]) == (full, n - full - zero, zero), name
        for case, counts in found["functions"][name]["cases"].items():
            assert sum(counts.values()) == n, case
    for row in rows:                           # the details add up to the CSV's columns
        earned = {}
        for test in details[row["submission_id"]]["tests"]:
            earned[test["function"]] = earned.get(test["function"], 0.0) + test["score"]
        for name in possible:
            assert earned.get(name, 0.0) == pytest.approx(float(row[name] or 0)), (row["submission_id"], name)

    by_id = {grades_csv.id_cell(key): plan for key, plan in planned.items()}
    mistakes = {item["name"]: item for item in found["mistakes"]}
    expected = {}
    for key, plan in by_id.items():
        if plan.mistake:
            expected.setdefault(plan.mistake, []).append(key)
    assert set(mistakes) == set(expected), "the known mistakes, and nothing for the unknown bug"
    for name, ids in expected.items():
        assert (mistakes[name]["count"], mistakes[name]["examples"]) == (len(ids), ids)
        assert mistakes[name]["function"] == name.split("-")[0] and mistakes[name]["misconception"]

    failures = {(item["kind"], item["where"]): item for item in found["failures"]}

    def listed(kind, where, kind_of_submission):
        ids = [key for key, plan in by_id.items() if plan.kind == kind_of_submission]
        assert (kind, where) in failures, (kind, where, sorted(failures))
        assert set(ids) <= set(failures[(kind, where)]["examples"]), (kind, where, failures[(kind, where)])

    listed("import error", "gan/losses.py", "syntax_error")
    listed("missing file", "gan/losses.py", "missing_file")
    listed("not allowed", "gan/losses.py", "not_allowed")
    listed("timeout", "ls_generator_loss", "sleep_forever")
    listed("crash", "ls_generator_loss", "exit_in_call")
    listed("grading failed", "no folder in the export", "no_folder")
    for file in ("gan/models.py", "gan/losses.py", "gan/train.py"):
        listed("missing file", file, "empty")
    for function in LOSSES:                   # an import that never ends fails its file's functions at once
        listed("timeout", function, "import_loop")
    exited = next(key for key, plan in by_id.items() if plan.kind == "os_exit")
    assert any(exited in item["examples"] for item in found["failures"]
               if item["kind"] in ("crash", "timeout") and item["where"] in LOSSES)
    for item in found["failures"]:
        assert item["count"] == len(set(item["examples"])) or len(item["examples"]) == 5

    totals = [float(row["total"]) for row in rows]
    assert found["totals"]["mean"] == pytest.approx(sum(totals) / n, abs=1e-4)
    assert sum(count for _, _, count in found["totals"]["histogram"]) == n
    seconds = sorted(float(row["seconds"]) for row in rows if float(row["seconds"]) > 0)
    assert found["seconds"]["max"] == pytest.approx(seconds[-1])
    assert seconds[0] <= found["seconds"]["median"] <= seconds[-1]


def test_report_html_renders(graded, class_report, tmp_path):
    html_path = grades_csv.sibling(graded.out, "-report.html")
    page = html_path.read_text(encoding="utf-8")
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<table") >= 5 and 'src="data:image/png;base64,' in page
    for name in class_report["functions"]:
        assert f"<td>{name}</td>" in page
    for item in class_report["mistakes"]:
        assert item["name"] in page
    shot = tmp_path / "class-report.png"
    seen = render(html_path, shot, tmp_path / "profile")
    assert seen["errors"] == [], seen["errors"]
    assert seen["requests"] == [html_path.resolve().as_uri()]
    assert seen["images"] and all(done and width > 0 for done, width in seen["images"])
    width, height = png_size(shot)
    assert width == 1200 and height > 2000


def test_hostile_names_cannot_inject(graded, rows):
    lines = graded.out.read_text(encoding="utf-8").splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in lines), "every cell quoted"
    for row in rows:
        for cell in row.values():
            for part in cell.split(";"):
                assert not part.strip().startswith(grades_csv.FORMULA_STARTS), (row["submission_id"], cell)
    hostile = next(row for row in rows if row["submission_id"] == "'" + FORMULA)
    assert hostile["names"] == f"'{FORMULA}; '-Mallory"
    assert hostile["emails"] == "'@x.example.edu; '=m@x.example.edu" and hostile["sids"] == "'+1; '-2"
    scripted = next(row for row in rows if row["submission_id"] == SCRIPT)
    assert scripted["names"] == SCRIPT, "a CSV is not HTML: the text stays as it was"


def test_compare_names_exactly_the_changed_submission(graded, rows, tmp_path):
    out = tmp_path / "again.csv"
    shutil.copyfile(graded.out, out)
    shutil.copyfile(grades_csv.sibling(graded.out, "-details.jsonl"), grades_csv.sibling(out, "-details.jsonl"))
    old_rows = [dict(row) for row in rows]
    changed = next(row for row in old_rows if row["total"] == "5")
    changed["total"], changed["bce_loss"] = "4.5", "0"
    old = tmp_path / "old.csv"
    with open(old, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(old_rows[0]))
        writer.writeheader()
        writer.writerows(old_rows)
    result = regrade(graded.export, out, graded.zip, "--compare", str(old))
    assert result.returncode == 0, result.stdout + result.stderr
    assert SUMMARY.search(result.stdout).groups() == ("0", str(len(rows))), "nothing graded again"
    key = changed["submission_id"]
    listing = [line for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(listing) == 1 and listing[0].startswith(f"  {key} ") and "(+0.5)" in listing[0], result.stdout
    assert "bce_loss 0 -> 0.5 (+0.5)" in listing[0]
    assert f"1 of {len(rows)} submissions change points (1 up, 0 down, net +0.5), 0 new, 0 gone" in result.stdout
    assert "matched by submission id" in result.stdout
    written = read_rows(tmp_path / "again-changes.csv")
    assert [(row["status"], row["submission_id"], row["change"]) for row in written] == [("changed", key, "0.5")]
    assert (tmp_path / "again-report.html").is_file() and (tmp_path / "again-report.json").is_file()

    missing = regrade(graded.export, tmp_path / "never.csv", graded.zip, "--compare", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "--compare" in missing.stderr, "a wrong --compare stops before grading"
    assert not (tmp_path / "never.csv").exists()


def test_timeouts_and_missing_folders_still_get_rows(tmp_path, autograder_zips):
    """--timeout 3 on a submission whose every function and method sleeps: each case waits at least its
    CPU limit of wall time (the cases' limits add up to 11 s for part 1), so no grading of it can end
    within 3 s, however fast the machine."""
    planned = make_export(tmp_path / "export", PART, kinds=["sleep_everywhere"],
                          no_folder=[("submission_999", [("No Folder", "999", "nf@example.edu")])])
    out = tmp_path / "grades.csv"
    result = regrade(tmp_path / "export", out, autograder_zips[PART], "--timeout", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["submission_id"]: row for row in read_rows(out)}
    assert list(rows) == list(planned) == ["submission_240001", "submission_999"]
    assert rows["submission_240001"]["failure"].startswith("timed out"), rows["submission_240001"]
    assert rows["submission_240001"]["total"] == "0"
    assert rows["submission_999"]["failure"] == "no folder for this submission in the export"
    assert rows["submission_999"]["names"] == "No Folder"
    assert not _leftovers(tmp_path), "a timed-out grading's processes are killed"
    found = json.loads((tmp_path / "grades-report.json").read_text())
    kinds = {(item["kind"], item["where"]): item["examples"] for item in found["failures"]}
    assert kinds == {("grading failed", "timed out (the whole grading)"): ["submission_240001"],
                     ("grading failed", "no folder in the export"): ["submission_999"]}
    assert all(entry["zero"] == 2 for entry in found["functions"].values())


def test_metadata_formats_and_torn_csv(tmp_path):
    from autograder.tools.regrade import RegradeError, regrade as regrade_in_process
    from autograder.tools.regrade.export import read_export
    from autograder.tools.regrade.grades_csv import load_done

    with pytest.raises(RegradeError, match="unknown part"):
        regrade_in_process(tmp_path, "3", log=lambda *_: None)
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
    csv_path.write_text('submission_id,total,failure\na,1,\n"b","2",""\na,1,\nbroken\nc,3')
    assert list(load_done(csv_path, header)) == ["a", "b"]
    assert csv_path.read_text() == '"submission_id","total","failure"\n"a","1",""\n"b","2",""\n'
    with pytest.raises(RegradeError):
        load_done(csv_path, ["submission_id", "other"])
