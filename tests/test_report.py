"""The class report (regrade/report.py), --compare (regrade/changes.py) and the CSV's defences, on a
grades CSV and details file written once, through the regrade's own writers, from results.json
documents made here: no grading, so every count is known in advance.

The real thing, graded through the zip, is in test_regrade.py."""
import csv
import json
import shutil
import struct
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder.tools.regrade import changes, grades_csv, report
from autograder.tools.regrade.export import RegradeError, Submission

PART = "part1"
HOSTILE_ID = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x")'
UNKNOWN_MISTAKE = "<script>alert(3)</script>"
HOSTILE_FILE = '"><script>alert(2)</script>.py'
TIMED_OUT = "timed out: grading took longer than 3 s (its processes were killed)"
SPREAD = [f"submission_{n}" for n in range(11, 17)]      # the same known mistake, six more times


def _test(case, kind="passed", score=None, mistakes=(), file=None):
    extra = {"case": case["id"], "function": case["function"], "file": file or case["file"], "kind": kind}
    if kind != "passed":
        extra["message"] = f"{case['function']} failed: {SCRIPT} {FORMULA}"
    if mistakes:
        extra["mistakes"] = list(mistakes)
    points = case["points"] if kind == "passed" else 0.0
    return {"name": case["name"], "score": points if score is None else score, "max_score": case["points"],
            "status": "passed" if kind == "passed" else "failed", "extra_data": extra}


def _results(tests):
    return {"score": sum(test["score"] for test in tests), "tests": tests}


def _class(manifest):
    """[(Submission, results or None, failure, seconds, write a details line)] with known outcomes."""
    cases = manifest["cases"]
    losses = {"bce_loss", "discriminator_loss", "generator_loss"}
    first_train = next(case for case in cases if case["function"] == "gan_train_step")
    target_zero = "generator_loss-target-zero"
    people = {"submission_2": ([FORMULA, "+Bob -Smith"], ["=cmd|' /C calc'!A0@x.edu", "bob@x.edu"], ["@1", "2"]),
              "submission_3": ([SCRIPT], ["s3@x.edu"], ["3"])}
    made = []

    def add(submission_id, tests, failure="", seconds=4.0, details=True):
        names, emails, sids = people.get(submission_id, ([f"Student {submission_id[11:]}"],
                                                         [f"{submission_id}@x.edu"], [submission_id[11:]]))
        made.append((Submission(submission_id, None, names, emails, sids), None if tests is None else
                     _results(tests), failure, seconds, details))

    add("submission_1", [_test(case) for case in cases], seconds=3.0)
    add("submission_2", [_test(case, "values", score=case["points"] / 2) if case is first_train else _test(case)
                         for case in cases], seconds=5.0)
    add("submission_3", [_test(case, "values", mistakes=["bce_loss-missing-minus"]) if case["function"] in losses
                         else _test(case) for case in cases], seconds=6.0)
    add("submission_4", [_test(case, "import error") if case["file"] == "gan/losses.py" else _test(case)
                         for case in cases], seconds=7.0)
    add("submission_5", None, failure=TIMED_OUT, seconds=3.0)
    add("submission_6", [_test(case) for case in cases], seconds=8.0, details=False)
    add("submission_7", [_test(case) for case in cases[:3]], seconds=2.0)
    add(HOSTILE_ID, [_test(case, "not allowed", file=HOSTILE_FILE) if case["function"] == "get_optimizer" else
                     _test(case, "values", mistakes=[UNKNOWN_MISTAKE]) if case["function"] == "sample_noise" else
                     _test(case) for case in cases], seconds=9.0)
    add("submission_9", [_test(case, "timeout") if case["function"] == "ls_generator_loss" else
                         _test(case, "values", mistakes=[target_zero]) if case["function"] == "generator_loss" else
                         _test(case) for case in cases], seconds=10.0)
    add("submission_10", None, failure="no folder for this submission in the export", seconds=0.0)
    for submission_id in SPREAD:
        add(submission_id, [_test(case, "values", mistakes=[target_zero]) if case["function"] == "generator_loss"
                            else _test(case) for case in cases], seconds=1.0)
    return made


@pytest.fixture(scope="module")
def made(tmp_path_factory, manifests):
    """grades.csv and grades-details.jsonl, written once by the regrade's writers; then the report."""
    manifest = manifests[PART]
    folder = tmp_path_factory.mktemp("report")
    out = folder / "grades.csv"
    header = grades_csv.header_of(manifest)
    writer, lock = grades_csv.RowWriter(out, header), threading.Lock()
    details_path = grades_csv.sibling(out, "-details.jsonl")
    plan = _class(manifest)
    for submission, results, failure, seconds, details in plan:
        if details:
            grades_csv.write_details(details_path, grades_csv.details_of(submission, results, failure, seconds), lock)
        writer.write(grades_csv.make_row(submission, manifest, results, failure, seconds))
    writer.close()
    json_path, html_path = report.write_report(out, manifest)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {"manifest": manifest, "out": out, "rows": rows, "plan": plan, "json": json_path, "html": html_path,
            "report": json.loads(json_path.read_text())}


def _failure(found, kind, where):
    matches = [item for item in found["report"]["failures"] if (item["kind"], item["where"]) == (kind, where)]
    assert len(matches) == 1, (kind, where, found["report"]["failures"])
    return matches[0]


def test_report_is_written_beside_the_csv_in_its_fixed_shape(made):
    assert made["json"].name == "grades-report.json" and made["html"].name == "grades-report.html"
    assert made["json"].parent == made["out"].parent
    found = made["report"]
    assert set(found) == {"submissions", "functions", "mistakes", "failures", "totals", "seconds"}
    assert set(found["totals"]) == {"mean", "median", "histogram"} and set(found["seconds"]) == {"median", "max"}
    for entry in found["functions"].values():
        assert set(entry) == {"full", "partial", "zero", "cases"}
    assert all(set(item) == {"function", "name", "misconception", "count", "examples"} for item in found["mistakes"])
    assert all(set(item) == {"kind", "where", "count", "examples"} for item in found["failures"])
    assert grades_csv.sibling(Path("x/X.csv"), "-report.json") == Path("x/X-report.json")


def test_counts_follow_the_csv_and_the_rules(made):
    found, manifest, rows = made["report"], made["manifest"], made["rows"]
    n = len(made["plan"])
    assert found["submissions"] == n == len(rows)
    functions = grades_csv.graded_functions(manifest)
    assert list(found["functions"]) == functions
    possible = {name: sum(c["points"] for c in manifest["cases"] if c["function"] == name) for name in functions}
    for name in functions:                   # a function's counts are the CSV's column, nothing else
        values = [float(row[name] or 0) for row in rows]
        expected = {"full": sum(v >= possible[name] - 1e-9 for v in values), "zero": sum(v == 0 for v in values)}
        expected["partial"] = n - expected["full"] - expected["zero"]
        entry = found["functions"][name]
        assert {key: entry[key] for key in ("full", "partial", "zero")} == expected, name
        assert list(entry["cases"]) == [c["name"] for c in manifest["cases"] if c["function"] == name]
        for counts in entry["cases"].values():       # submission_6 has no details: its cases count nowhere
            assert sum(counts.values()) == n - 1
    train = found["functions"]["gan_train_step"]
    assert train["partial"] == 1 and train["zero"] == 3      # 2: half a case; 5 and 10: no results; 7: not listed
    first_train = next(c["name"] for c in manifest["cases"] if c["function"] == "gan_train_step")
    assert train["cases"][first_train] == {"full": n - 5, "partial": 1, "zero": 3}
    # A grading that failed entirely is zero everywhere; results.json's missing cases earn nothing.
    assert found["functions"]["get_optimizer"]["zero"] == 4   # 5 (timed out), 10 (no folder), 7, the hostile one

    totals = [float(row["total"]) for row in rows]
    assert found["totals"]["mean"] == pytest.approx(sum(totals) / n, abs=1e-4)
    assert sum(count for _, _, count in found["totals"]["histogram"]) == n
    assert found["totals"]["histogram"][0][:2] == [0.0, 0.25] and found["totals"]["histogram"][-1][:2] == [4.75, 5.0]
    assert found["totals"]["histogram"][-1][2] == sum(total >= 4.75 for total in totals), "the last bin holds 5 too"
    graded = sorted(float(row["seconds"]) for row in rows if float(row["seconds"]) > 0)
    assert found["seconds"] == {"median": pytest.approx(graded[len(graded) // 2]), "max": 10.0}


def test_mistakes_once_per_submission_with_their_function_and_misconception(made):
    found, manifest = made["report"], made["manifest"]
    by_name = {item["name"]: item for item in found["mistakes"]}
    assert set(by_name) == {"bce_loss-missing-minus", "generator_loss-target-zero", UNKNOWN_MISTAKE}
    minus = by_name["bce_loss-missing-minus"]       # seen on three functions' cases, in one submission
    assert (minus["function"], minus["count"], minus["examples"]) == ("bce_loss", 1, ["submission_3"])
    messages = {m["name"]: m["message"] for c in manifest["cases"] for m in c.get("mistakes", [])}
    assert minus["misconception"] == messages["bce_loss-missing-minus"] != ""
    zero = by_name["generator_loss-target-zero"]
    assert zero["function"] == "generator_loss" and zero["count"] == 1 + len(SPREAD)
    assert zero["examples"] == ["submission_9", *SPREAD[:4]], "at most 5, in the CSV's order"
    unknown = by_name[UNKNOWN_MISTAKE]
    assert (unknown["function"], unknown["misconception"], unknown["examples"]) == ("sample_noise", "", [HOSTILE_ID])


def test_failures_by_kind_and_place(made):
    found = made
    assert _failure(found, "grading failed", "timed out (the whole grading)")["examples"] == ["submission_5"]
    assert _failure(found, "grading failed", "no folder in the export")["examples"] == ["submission_10"]
    assert _failure(found, "grading failed", "cases missing from results.json")["examples"] == ["submission_7"]
    assert _failure(found, "no details", "the details file")["examples"] == ["submission_6"]
    assert _failure(found, "import error", "gan/losses.py")["examples"] == ["submission_4"]
    assert _failure(found, "not allowed", HOSTILE_FILE)["examples"] == [HOSTILE_ID]
    assert _failure(found, "timeout", "ls_generator_loss")["examples"] == ["submission_9"]
    values = _failure(found, "values", "generator_loss")
    assert values["count"] == 2 + len(SPREAD) and len(values["examples"]) == 5
    kinds = [item["kind"] for item in found["report"]["failures"]]
    assert kinds.index("grading failed") < kinds.index("import error") < kinds.index("timeout") < kinds.index("values")
    assert "passed" not in kinds


def test_details_of_a_killed_run_and_of_a_fresh_line(tmp_path):
    path = tmp_path / "grades-details.jsonl"
    path.write_text('{"submission_id": "a", "seconds": 1, "tests": []}\n{"submission_id": "b", "sec')  # cut off
    lock = threading.Lock()
    grades_csv.write_details(path, {"submission_id": "c", "tests": []}, lock)
    grades_csv.write_details(path, {"submission_id": "a", "tests": [{"kind": "passed"}]}, lock)
    found = grades_csv.read_details(path)
    assert list(found) == ["a", "c"] and found["a"]["tests"] == [{"kind": "passed"}], "the last line of an id wins"


# -- injection ----------------------------------------------------------------------------------------
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "section", "table", "thead",
                "tbody", "tr", "th", "td", "div", "span", "img", "ul", "li", "em"}
ALLOWED_ATTRIBUTES = {"id", "lang", "charset", "http-equiv", "content", "name", "class", "style", "colspan", "alt",
                      "src"}


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attributes, self.styles, self.text = [], [], [], []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((tag, name, value) for name, value in attrs)
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        (self.styles if self._in_style else self.text).append(data)


def test_html_escapes_everything_and_runs_nothing(made):
    page = made["html"].read_text(encoding="utf-8")
    parsed = _Elements()
    parsed.feed(page)
    assert set(parsed.tags) <= ALLOWED_TAGS, set(parsed.tags) - ALLOWED_TAGS
    assert "script" not in parsed.tags and "<script" not in page.lower() and "<img src=x" not in page
    for tag, name, value in parsed.attributes:
        assert name in ALLOWED_ATTRIBUTES, (tag, name, value)
        if name == "src":
            assert tag == "img" and value.startswith("data:image/png;base64,")
        if name == "style":
            assert tag == "span" and value.startswith("width:") and value.endswith("%"), value
        if name == "class":
            assert value.replace("-", "").replace(" ", "").isalpha(), value
    assert parsed.styles == [report.STYLE], "the only style is the report's own"
    meta = [value for tag, name, value in parsed.attributes if name == "content" and "default-src" in (value or "")]
    assert meta == ["default-src 'none'; img-src data:; style-src 'unsafe-inline'"]
    text = "".join(parsed.text)         # the hostile strings are there, as text
    for hostile in (HOSTILE_ID, UNKNOWN_MISTAKE, HOSTILE_FILE):
        assert hostile in text
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    for section in ("totals", "functions", "cases", "mistakes", "failures", "not-graded", "rules"):
        assert f'<section id="{section}">' in page


def test_cells_cannot_start_a_formula():
    for hostile in (FORMULA, "+1", "-1+1", "@SUM(1)", "\t=1", "\r=1", "\n=1", "\uff1d1", "\x00=1", " =1"):
        cell = grades_csv.safe_cell(hostile)
        assert cell.startswith("'") and grades_csv.unsafe_cell(cell) == cell[1:], (hostile, cell)
    assert grades_csv.safe_cell("Ada\x1b]0;owned\x07 Lovelace\u202e") == "Ada]0;owned Lovelace"
    assert grades_csv.safe_cell("x" * 600).endswith("...") and len(grades_csv.safe_cell("x" * 600)) == 500
    assert grades_csv.safe_list(["Ada", FORMULA]) == "Ada; '" + FORMULA
    assert grades_csv.safe_cell("Ada Lovelace") == "Ada Lovelace" and grades_csv.safe_cell("O'Neil") == "O'Neil"


def _cells(path: Path):
    with open(path, newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_grades_csv_cells_are_quoted_and_inert(made):
    lines = made["out"].read_text(encoding="utf-8").splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in lines), "every cell quoted"
    for cell in _cells(made["out"]):
        assert not cell.startswith(grades_csv.FORMULA_STARTS), cell
        for part in cell.split(";"):                  # a spreadsheet that splits on ';' gets no formula either
            assert not part.strip().startswith(grades_csv.FORMULA_STARTS), cell
    row = next(row for row in made["rows"] if row["submission_id"] == "submission_2")
    assert row["names"] == "'" + FORMULA + "; '+Bob -Smith"
    assert row["emails"].startswith("'=cmd") and row["sids"] == "'@1; 2"


# -- --compare ----------------------------------------------------------------------------------------
def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _write_csv(path: Path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_compare_with_an_earlier_regrade_names_exactly_the_changed_submission(made, tmp_path):
    old_path = tmp_path / "old.csv"
    rows = [dict(row) for row in made["rows"]]
    changed = next(row for row in rows if row["submission_id"] == "submission_9")
    changed["total"] = str(float(changed["total"]) + 0.25)
    changed["generator_loss"] = str(float(changed["generator_loss"]) + 0.25)
    _write_csv(old_path, list(rows[0]), [list(row.values()) for row in rows])
    old = changes.read_old(old_path, made["manifest"])
    assert old.kind == "a grades CSV of an earlier regrade"
    assert old.functions == grades_csv.graded_functions(made["manifest"])
    found = changes.compare(old, made["rows"], made["manifest"])
    assert [(row["status"], row["submission_id"]) for row in found.rows] == [("changed", "submission_9")]
    row = found.rows[0]
    assert row["change"] == "-0.25" and row["matched_by"] == "submission id"
    assert row["functions"] == "generator_loss 0.25 -> 0 (-0.25)"
    assert found.compared == len(made["rows"]) and found.matched_by == {"submission id": len(made["rows"])}


def test_compare_with_gradescopes_grade_export(made, tmp_path):
    """Gradescope's columns; ids without the export's submission_ prefix; a row without an id
    matched by email; a group's two rows; a roster row without a submission; one gone, one new."""
    header = ["First Name", "Last Name", "SID", "Email", "Sections", "Total Score", "Max Points", "Status",
              "Submission ID", "Submission Time", "Lateness (H:M:S)", "View Count", "Submission Count"]
    rows = []
    for row in made["rows"]:
        key = row["submission_id"]
        if key in ("submission_7", HOSTILE_ID):
            continue                                       # new in the regrade
        total = float(row["total"]) - (1.0 if key == "submission_1" else 0.0)
        number = "" if key == "submission_3" else key.replace("submission_", "")
        emails = [grades_csv.unsafe_cell(e) for e in row["emails"].split("; ")]
        for email in emails:
            rows.append(["First", "Last", "1", email, "", f"{total:g}", "5.0", "Graded", number,
                         "2025-11-01 23:00:07 -0800", "00:00:00", "1", "1"])
    rows.append(["Never", "Submitted", "77", "never@x.edu", "", "", "5.0", "Missing", "", "", "", "0", "0"])
    rows.append([FORMULA, "Gone", "88", "gone@x.edu", "", "3.0", "5.0", "Graded", "999999",
                 "2025-11-01 23:00:07 -0800", "00:00:00", "1", "1"])
    old_path = tmp_path / "gradescope.csv"
    old_path.write_bytes(b"\xef\xbb\xbf")          # as Excel and Gradescope may write it: with a BOM
    with open(old_path, "a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    old = changes.read_old(old_path, made["manifest"])
    assert old.kind == "Gradescope's grade export" and old.functions == [] and old.skipped == 1
    found = changes.compare(old, made["rows"], made["manifest"])
    listed = [(row["status"], row["submission_id"] or row["old_submission_id"]) for row in found.rows]
    assert listed == [("changed", "submission_1"), ("new", "submission_7"), ("new", HOSTILE_ID), ("gone", "999999")]
    assert found.rows[0]["change"] == "1" and found.rows[0]["old_submission_id"] == "1"
    assert found.matched_by == {"submission id": len(made["rows"]) - 3, "email": 1}
    gone = found.rows[-1]
    assert gone["names"] == "'" + FORMULA + " Gone", "old file's text is made safe too"

    out = tmp_path / "grades.csv"
    shutil.copyfile(made["out"], out)
    lines = []
    changes.report_changes(old, out, made["manifest"], log=lines.append)
    written = list(csv.DictReader(open(tmp_path / "grades-changes.csv", newline="", encoding="utf-8")))
    assert [row["status"] for row in written] == ["changed", "new", "new", "gone"]
    assert list(written[0]) == list(changes.COLUMNS)
    for cell in _cells(tmp_path / "grades-changes.csv"):
        assert _is_number(cell) or not cell.startswith(grades_csv.FORMULA_STARTS), cell
    assert lines[-1].startswith("compared with gradescope.csv (Gradescope's grade export; matched by email 1, "
                                f"submission id {len(made['rows']) - 3}; 1 rows without a submission left out): "
                                "1 of"), lines[-1]
    assert "1 up, 0 down, net +1), 2 new, 1 gone" in lines[-1]
    assert sum("submission_1 " in line for line in lines) == 1


def test_compare_refuses_a_file_it_cannot_read(made, tmp_path):
    bad = tmp_path / "bad.csv"
    _write_csv(bad, ["student", "points"], [["a", "1"]])
    with pytest.raises(RegradeError, match="its columns: student, points"):
        changes.read_old(bad, made["manifest"])
    with pytest.raises(RegradeError, match="No such file"):
        changes.read_old(tmp_path / "missing.csv", made["manifest"])


# -- in a browser -------------------------------------------------------------------------------------
def chromium_path():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


def render(html_path: Path, png_path: Path, profile: Path) -> dict:
    """Open the page in headless Chromium (offline, a fresh profile): its console errors, the requests
    it made, and a full-page screenshot."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium: install Debian's chromium")
    seen = {"errors": [], "requests": []}
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, offline=True,
            viewport={"width": 1200, "height": 900},
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        try:
            page = context.new_page()
            page.on("console", lambda message: seen["errors"].append(message.text)
                    if message.type in ("error", "warning") else None)
            page.on("pageerror", lambda error: seen["errors"].append(str(error)))
            page.on("request", lambda request: seen["requests"].append(request.url))
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            seen["images"] = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
            seen["tables"] = page.evaluate("document.querySelectorAll('table').length")
            page.screenshot(path=str(png_path), full_page=True)
        finally:
            context.close()
    return seen


def png_size(path: Path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_report_renders_in_chromium(made, tmp_path):
    shot = tmp_path / "report.png"
    seen = render(made["html"], shot, tmp_path / "profile")
    assert seen["errors"] == [], seen["errors"]
    assert seen["requests"] == [made["html"].resolve().as_uri()], "nothing loaded but the page itself"
    assert seen["images"] and all(done and width > 0 for done, width in seen["images"]), seen["images"]
    assert seen["tables"] >= 5
    width, height = png_size(shot)
    assert width == 1200 and height > 2000 and shot.stat().st_size > 20000
