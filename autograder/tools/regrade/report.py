"""The class report of a regrade: X-report.json and X-report.html beside X.csv.

Made from the CSV and its details file (X-details.jsonl), not from the gradings of one run, so
a resumed regrade reports on every submission in the CSV. The JSON's shape:

    {"submissions": N,
     "functions": {name: {"full": n, "partial": n, "zero": n,
                          "cases": {case name: {"full": n, "partial": n, "zero": n}}}},
     "mistakes": [{"function", "name", "misconception", "count", "examples"}],
     "failures": [{"kind", "where", "count", "examples"}],
     "totals": {"mean", "median", "histogram": [[low, high, count], ...]},
     "seconds": {"median", "max"}}

How it counts:

- Every row of the CSV is a submission. A grading that failed entirely (no results: the
  submission's folder is missing, or the grading crashed or ran past --timeout) is in the CSV with
  total 0, and counts as 0 everywhere, as Gradescope gives 0 for a timed-out grading: zero on every
  function and every case, a 0 in the mean, median and histogram. It is also listed under the
  failures, kind "grading failed", so it can be told from a submission that earned nothing.
- A function's points are the CSV's column; a case's points come from the details file. Full:
  all the points; zero: none; partial: anything between. A case that results.json does not list
  earned nothing.
- A known mistake is counted once per submission in which it was recognised, on any case. Its
  function is the graded function of the first case, in the table's order, that can recognise it
  (the function the mistake is in: the table lists a function before the functions that call it).
- A failure is a (kind, where) pair of results.json's test kinds other than "passed", counted once
  per submission: where is the file for a file-wide failure (import error, missing file, package
  not allowed) and the graded function otherwise. "grading failed" (where: what went wrong) is a
  row with a failure message; "no details" is a row that the details file has no line for (its
  cases are then counted nowhere).
- examples: up to 5 submission ids, in the CSV's order. Grading time: over the submissions
  that were graded (a submission without a folder takes no time and is left out).

The HTML is one self-contained file: no script, no network (a Content-Security-Policy forbids
both), the histogram embedded as a PNG data URI; every text in it is escaped.
"""
import base64
import html
import json
import os
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from autograder.tools.regrade import grades_csv
from autograder.tools.regrade.histogram import bins, histogram_png, read_totals

EXAMPLES = 5
FILE_KINDS = ("import error", "missing file", "not allowed")
KIND_ORDER = ("grading failed", "no details", "import error", "missing file", "not allowed", "missing", "timeout",
              "crash", "exception", "not implemented", "contract", "missing output", "non-finite", "shape", "dtype",
              "values", "not run", "grader error", "not graded")
KIND_WORDS = {
    "grading failed": "the grading went wrong (where: how); with no results, 0 points",
    "no details": "no line in the details file: its cases are not counted",
    "import error": "the file could not be imported",
    "missing file": "the file is not in the submission",
    "not allowed": "the file imports a package that is not allowed",
    "missing": "the function or class is not defined",
    "timeout": "did not finish in time",
    "crash": "the process running the case died",
    "exception": "raised an exception",
    "not implemented": "still raises NotImplementedError",
    "contract": "breaks the assignment's contract",
    "missing output": "an expected output is missing",
    "non-finite": "NaN or inf where the reference is finite",
    "shape": "wrong shape",
    "dtype": "wrong dtype",
    "values": "wrong values",
    "not run": "not run (the grading's deadline came first)",
    "grader error": "the autograder itself failed",
    "not graded": "not graded (no isolation for student code)",
}
# The failure messages of a grading with no results (grading.py), by their beginning: a short label.
GRADING_FAILURES = (("timed out", "timed out (the whole grading)"),
                    ("no folder", "no folder in the export"),
                    ("no valid results.json", "no results.json written"),
                    ("grading failed", "the grading itself crashed"),
                    ("the autograder itself failed", "the autograder failed"),
                    ("not graded", "not graded (no isolation)"),
                    ("results.json lists", "cases missing from results.json"),
                    ("interrupted", "interrupted"))
TOLERANCE = 1e-6


# -- counting ------------------------------------------------------------------------------------------
def _grade(earned: float, possible: float) -> str:
    if earned >= possible - TOLERANCE * max(1.0, possible):
        return "full"
    if earned <= TOLERANCE:
        return "zero"
    return "partial"


def _failure_label(message: str) -> str:
    for start, label in GRADING_FAILURES:
        if message.startswith(start):
            return label
    return grades_csv.safe_cell(message)[:80]


def _kind_rank(kind: str) -> Tuple[int, str]:
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind)


class _Tally:
    """{key: (count, examples)}: each key counted once per submission."""

    def __init__(self):
        self.count: Dict[tuple, int] = {}
        self.examples: Dict[tuple, List[str]] = {}

    def add(self, key: tuple, submission_id: str) -> None:
        self.count[key] = self.count.get(key, 0) + 1
        examples = self.examples.setdefault(key, [])
        if len(examples) < EXAMPLES:
            examples.append(submission_id)


def _rounded(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def build_report(rows: List[dict], details: Dict[str, dict], manifest: dict) -> dict:
    """The report (the JSON's shape) of the CSV's rows and the details file's entries."""
    functions = grades_csv.graded_functions(manifest)
    cases = manifest["cases"]
    possible = {name: 0.0 for name in functions}
    for case in cases:
        possible[case["function"]] += float(case["points"])
    home: Dict[str, str] = {}               # mistake name -> the function it is in
    misconception: Dict[str, str] = {}
    for case in cases:
        for mistake in case.get("mistakes") or []:
            home.setdefault(mistake["name"], case["function"])
            misconception.setdefault(mistake["name"], mistake.get("message", ""))

    function_counts = {name: {"full": 0, "partial": 0, "zero": 0} for name in functions}
    case_counts = {case["name"]: {"full": 0, "partial": 0, "zero": 0} for case in cases}
    mistakes, failures = _Tally(), _Tally()
    seen_on: Dict[str, str] = {}
    for row in rows:
        submission_id = row.get("submission_id", "")
        no_results = all(not row.get(name) for name in functions)
        for name in functions:
            function_counts[name][_grade(grades_csv.points(row.get(name)), possible[name])] += 1
        if row.get("failure"):
            failures.add(("grading failed", _failure_label(row["failure"])), submission_id)
        entry = details.get(submission_id)
        if no_results:
            for case in cases:
                case_counts[case["name"]]["zero"] += 1
            continue
        if entry is None:
            failures.add(("no details", "the details file"), submission_id)
            continue
        tests = [test for test in entry.get("tests") or [] if isinstance(test, dict)]
        by_case = {}
        for test in tests:
            for key in (test.get("case"), test.get("name")):
                if isinstance(key, str):
                    by_case.setdefault(key, test)
        for case in cases:
            test = by_case.get(case["id"]) or by_case.get(case["name"])
            earned = grades_csv.points(test.get("score")) if test else 0.0
            case_counts[case["name"]][_grade(earned, float(case["points"]))] += 1
        shown, failed = {}, set()
        for test in tests:
            for name in test.get("mistakes") or []:
                if isinstance(name, str):
                    shown.setdefault(name, str(test.get("function") or ""))
            kind = test.get("kind")
            if isinstance(kind, str) and kind != "passed":
                where = test.get("file") if kind in FILE_KINDS else test.get("function")
                failed.add((kind, str(where or "")))
        for name, function in shown.items():
            seen_on.setdefault(name, function)
            mistakes.add((name,), submission_id)
        for key in sorted(failed):
            failures.add(key, submission_id)

    order = {name: index for index, name in enumerate(functions)}
    mistake_list = []
    for (name,), count in mistakes.count.items():
        function = home.get(name) or seen_on.get(name, "")
        mistake_list.append({"function": function, "name": name, "misconception": misconception.get(name, ""),
                             "count": count, "examples": mistakes.examples[(name,)]})
    mistake_list.sort(key=lambda item: (order.get(item["function"], len(order)), -item["count"], item["name"]))
    failure_list = [{"kind": kind, "where": where, "count": count, "examples": failures.examples[(kind, where)]}
                    for (kind, where), count in failures.count.items()]
    failure_list.sort(key=lambda item: (_kind_rank(item["kind"]), -item["count"], item["where"]))

    totals = [grades_csv.points(row.get("total")) for row in rows]
    seconds = [value for value in (grades_csv.points(row.get("seconds")) for row in rows) if value > 0]
    return {
        "submissions": len(rows),
        "functions": {name: dict(function_counts[name],
                                 cases={case["name"]: case_counts[case["name"]] for case in cases
                                        if case["function"] == name})
                      for name in functions},
        "mistakes": mistake_list,
        "failures": failure_list,
        "totals": {"mean": _rounded(statistics.fmean(totals)) if totals else 0.0,
                   "median": _rounded(statistics.median(totals)) if totals else 0.0,
                   "histogram": bins(totals, float(manifest["total_points"]))},
        "seconds": {"median": _rounded(statistics.median(seconds), 2) if seconds else 0.0,
                    "max": _rounded(max(seconds), 2) if seconds else 0.0},
    }


# -- the HTML ------------------------------------------------------------------------------------------
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
p.lead { color: #444; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.ids { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85em; min-width: 14em;
         max-width: 28em; overflow-wrap: anywhere; }
table.bins td { text-align: center; font-size: 0.85em; padding: 0.2em 0.35em; }
table.cases tr.group th { background: #e8eaf0; text-align: left; padding-top: 0.5em; }
td.msg { max-width: 40em; overflow-wrap: anywhere; }
td.name { white-space: nowrap; }
.bar { display: flex; width: 14em; height: 0.9em; background: #eee; border-radius: 2px; overflow: hidden; }
.bar span { display: block; height: 100%; }
.full { background: #2e7d32; } .partial { background: #f9a825; } .zero { background: #c62828; }
.key span { display: inline-block; width: 0.8em; height: 0.8em; margin: 0 0.3em 0 1em; vertical-align: middle; }
.hidden-case { color: #777; font-size: 0.85em; }
img.histogram { max-width: 100%; border: 1px solid #ddd; }
ul.rules li { margin: 0.3em 0; }
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _n(value) -> str:
    if isinstance(value, float):
        return _e(f"{value:g}")
    return _e(value)


def _bar(counts: dict, total: int) -> str:
    if total <= 0:
        return '<div class="bar"></div>'
    parts = "".join(f'<span class="{kind}" style="width:{100.0 * counts[kind] / total:.3f}%"></span>'
                    for kind in ("full", "partial", "zero") if counts[kind])
    return f'<div class="bar">{parts}</div>'


def _table(header: List[str], rows: List[List[str]], numeric: Tuple[int, ...] = (), classes: Dict[int, str] = None
           ) -> str:
    """rows of already escaped HTML cells."""
    classes = dict(classes or {})
    for index in numeric:
        classes[index] = "n"
    head = "".join(f"<th>{_e(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f'<td class="{classes[index]}">{cell}</td>' if index in classes else
                                    f"<td>{cell}</td>" for index, cell in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict, manifest: dict, not_graded: List[Tuple[str, str]], png: Optional[bytes]) -> str:
    """The report as one HTML page. Every text is escaped; the only attributes are fixed class names,
    widths computed here, and the histogram's data URI."""
    title = f"{manifest['title']}: class report"
    total_points = float(manifest["total_points"])
    n = report["submissions"]
    possible: Dict[str, float] = {}
    hidden: Dict[str, bool] = {}
    for case in manifest["cases"]:
        possible[case["function"]] = possible.get(case["function"], 0.0) + float(case["points"])
        hidden[case["name"]] = bool(case.get("hidden"))
    case_points = {case["name"]: float(case["points"]) for case in manifest["cases"]}
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" '
             "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{_e(title)}</h1>",
             f'<p class="lead">{_n(n)} submissions; total points (of {_n(total_points)}): mean '
             f'{_n(report["totals"]["mean"])}, median {_n(report["totals"]["median"])}; '
             f'{_n(len(not_graded))} with a failed grading (listed at the end); grading time per submission: median '
             f'{_n(report["seconds"]["median"])} s, max {_n(report["seconds"]["max"])} s.</p>']

    parts.append('<section id="totals"><h2>Totals</h2>')
    if png:
        alt = "Histogram of total points: " + ", ".join(
            f"{low:g} to {high:g}: {count}" for low, high, count in report["totals"]["histogram"] if count)
        parts.append(f'<img class="histogram" alt="{_e(alt)}" '
                     f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">')
    histogram = report["totals"]["histogram"]
    parts.append('<table class="bins"><tbody><tr><th>points</th>'
                 + "".join(f"<td>{_n(low)}&ndash;{_n(high)}</td>" for low, high, _ in histogram)
                 + '</tr><tr><th>submissions</th>'
                 + "".join(f'<td class="n">{_n(count)}</td>' for _, _, count in histogram)
                 + "</tr></tbody></table></section>")

    parts.append('<section id="functions"><h2>Points per graded function</h2>'
                 '<p class="key">Submissions that earned<span class="full"></span>full points'
                 '<span class="partial"></span>part of them<span class="zero"></span>none.</p>')
    rows = []
    for name, counts in report["functions"].items():
        rows.append([_e(name), _n(possible.get(name, 0.0)), _n(counts["full"]), _n(counts["partial"]),
                     _n(counts["zero"]), _bar(counts, n)])
    parts.append(_table(["function", "points", "full", "partial", "zero", ""], rows, numeric=(1, 2, 3, 4))
                 + "</section>")

    parts.append('<section id="cases"><h2>Points per case</h2><table class="cases"><thead><tr><th>case</th>'
                 "<th>points</th><th>full</th><th>partial</th><th>zero</th><th></th></tr></thead><tbody>")
    for name, counts in report["functions"].items():
        parts.append(f'<tr class="group"><th colspan="6">{_e(name)}</th></tr>')
        for case, case_counts in counts["cases"].items():
            label = _e(case) + (' <span class="hidden-case">(hidden)</span>' if hidden.get(case) else "")
            parts.append(f"<tr><td>{label}</td>" + "".join(
                f'<td class="n">{cell}</td>' for cell in (_n(case_points.get(case, 0.0)), _n(case_counts["full"]),
                                                          _n(case_counts["partial"]), _n(case_counts["zero"])))
                + f"<td>{_bar(case_counts, sum(case_counts.values()))}</td></tr>")
    parts.append("</tbody></table></section>")

    parts.append('<section id="mistakes"><h2>Known mistakes recognised</h2>')
    if report["mistakes"]:
        rows = [[_e(item["function"]), _e(item["name"]), _e(item["misconception"]), _n(item["count"]),
                 _e(", ".join(item["examples"]))] for item in report["mistakes"]]
        parts.append(_table(["function", "mistake", "misconception", "submissions", "examples"], rows,
                            numeric=(3,), classes={1: "name", 2: "msg", 4: "ids"}))
    else:
        parts.append("<p>No submission's outputs match a known mistake.</p>")
    parts.append("</section>")

    parts.append('<section id="failures"><h2>Failures by kind</h2>')
    if report["failures"]:
        rows = [[_e(item["kind"]), _e(KIND_WORDS.get(item["kind"], "")), _e(item["where"]), _n(item["count"]),
                 _e(", ".join(item["examples"]))] for item in report["failures"]]
        parts.append(_table(["kind", "what it means", "where", "submissions", "examples"], rows, numeric=(3,),
                            classes={4: "ids"}))
    else:
        parts.append("<p>No failures: every case of every submission passed.</p>")
    parts.append("</section>")

    if not_graded:
        rows = [[_e(submission_id), _e(message)] for submission_id, message in not_graded]
        parts.append('<section id="not-graded"><h2>Submissions with a failed grading</h2>'
                     + _table(["submission", "failure"], rows, classes={0: "ids", 1: "msg"}) + "</section>")

    parts.append('<section id="rules"><h2>How this report counts</h2><ul class="rules">'
                 "<li>Every row of the grades CSV is one submission. A grading that failed entirely (no folder, "
                 "crashed, or ran past the timeout) counts as 0 on every function and case and in the totals, "
                 "and is listed under the failures as <em>grading failed</em>.</li>"
                 "<li>Full: all the points of the function (or case); zero: none; partial: anything between.</li>"
                 "<li>A known mistake, or a failure of a kind at a place, counts once per submission however "
                 "many cases show it; a failure's place is the file for import errors, missing files and "
                 "packages not allowed, else the graded function.</li>"
                 f"<li>Examples: up to {EXAMPLES} submission ids, in the CSV's order. Grading time: over the "
                 "submissions that were graded.</li></ul></section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


# -- files ---------------------------------------------------------------------------------------------
def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def report_paths(csv_path: Path) -> Tuple[Path, Path]:
    """grades.csv -> (grades-report.json, grades-report.html)."""
    return grades_csv.sibling(csv_path, "-report.json"), grades_csv.sibling(csv_path, "-report.html")


def write_report(csv_path: Path, manifest: dict, details_path: Optional[Path] = None) -> Tuple[Path, Path]:
    """Write X-report.json and X-report.html beside X.csv, from it and X-details.jsonl."""
    csv_path = Path(csv_path)
    details_path = Path(details_path) if details_path else grades_csv.sibling(csv_path, "-details.jsonl")
    rows = read_totals(csv_path)
    report = build_report(rows, grades_csv.read_details(details_path), manifest)
    json_path, html_path = report_paths(csv_path)
    _write_atomically(json_path, json.dumps(report, indent=1) + "\n")
    totals = [grades_csv.points(row.get("total")) for row in rows]
    not_graded = [(row.get("submission_id", ""), row.get("failure", "")) for row in rows if row.get("failure")]
    try:
        png = histogram_png(totals, manifest["title"], float(manifest["total_points"]), len(not_graded))
    except Exception:  # noqa: BLE001 - the report without its picture still holds the histogram's table
        png = None
    _write_atomically(html_path, render_html(report, manifest, not_graded, png))
    return json_path, html_path
