"""What a regrade changes: `regrade ... --compare OLD.csv` writes X-changes.csv and prints a summary.

OLD.csv is a grades CSV of an earlier regrade, or Gradescope's grade export of the assignment
("Download Grades": First Name, Last Name (or Name), SID, Email, ..., Total Score, Max Points,
Status, Submission ID, Submission Time, ...; one row per student, the members of a group sharing
a Submission ID; students who did not submit have status Missing and no Submission ID).

Submissions are matched by submission id (the export's folder name submission_<id> and
Gradescope's Submission ID <id> are the same id); a submission whose id is not in OLD.csv (a
student who resubmitted, or a row without an id) is matched by one of its emails, then by one of
its SIDs. Every submission whose points change is listed, by how much and, where both files have
per-function columns, on which functions; a submission that OLD.csv does not have is "new", a
row of OLD.csv that no submission matches is "gone" (rows of students who never submitted are left
out). A grading that failed entirely counts as 0, as in the CSV.
"""
import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set

from autograder.tools.regrade import grades_csv
from autograder.tools.regrade.export import RegradeError

COLUMNS = ("status", "submission_id", "matched_by", "old_submission_id", "names", "emails", "sids", "old_total",
           "new_total", "change", "functions", "failure")
TOLERANCE = 1e-9

# Column names, compared without case and surrounding spaces: ours first, then Gradescope's.
ID_COLUMNS = ("submission_id", "submission id")
TOTAL_COLUMNS = ("total", "total score", "score")
EMAIL_COLUMNS = ("emails", "email")
SID_COLUMNS = ("sids", "sid", "student id")
NAME_COLUMNS = ("names", "name")


@dataclass
class OldRow:
    key: str                        # the submission id, normalized ('' when the row has none)
    shown_id: str                   # the id as the file writes it
    names: str
    emails: Set[str]
    sids: Set[str]
    total: Optional[float]          # None: no score (Gradescope: ungraded)
    functions: Dict[str, float]


@dataclass
class OldGrades:
    path: Path
    kind: str                       # what the file was read as, in words
    rows: List[OldRow]
    functions: List[str]            # graded functions it has a column for
    skipped: int = 0                # rows of students without a submission


@dataclass
class Changes:
    old: OldGrades
    rows: List[dict]                # COLUMNS, in the order they are listed
    compared: int = 0               # submissions matched in both files
    matched_by: Dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row["status"] == status)


def normalize_id(text: str) -> str:
    """'submission_123', '123', '123.0' (a spreadsheet's number) -> '123'."""
    text = grades_csv.unsafe_cell(str(text or "")).strip()
    if text.lower().startswith("submission_"):
        text = text[len("submission_"):]
    return re.sub(r"^(\d+)\.0+$", r"\1", text)


def _number(text) -> Optional[float]:
    text = grades_csv.unsafe_cell(str(text or "")).strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _items(text: str, lower: bool = False) -> Set[str]:
    found = set()
    for item in re.split(r"[;,]", str(text or "")):
        item = grades_csv.unsafe_cell(item.strip()).strip()
        if item:
            found.add(item.lower() if lower else item)
    return found


def _column(header: Dict[str, str], names) -> Optional[str]:
    for name in names:
        if name in header:
            return header[name]
    return None


def read_old(path: Path, manifest: dict) -> OldGrades:
    """OLD.csv, read and checked before any grading (a wrong file stops the command at once)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            reader = csv.DictReader(handle)
            fields = [name for name in (reader.fieldnames or []) if name is not None]
            rows = list(reader)
    except OSError as error:
        raise RegradeError(f"--compare {path}: {error.strerror or error}") from None
    except csv.Error as error:
        raise RegradeError(f"--compare {path} is not a CSV file: {error}") from None
    header = {}
    for name in fields:
        header.setdefault(name.strip().lower(), name)
    total = _column(header, TOTAL_COLUMNS)
    id_column = _column(header, ID_COLUMNS)
    email = _column(header, EMAIL_COLUMNS)
    sid = _column(header, SID_COLUMNS)
    if total is None or not (id_column or email or sid):
        shown = ", ".join(grades_csv.safe_cell(name) for name in fields[:20]) or "none"
        raise RegradeError(f"--compare {path}: expected a grades CSV of an earlier regrade (submission_id, total) "
                           "or Gradescope's grade export (Submission ID, Email, SID, Total Score); its columns: "
                           f"{shown}")
    name = _column(header, NAME_COLUMNS)
    first, last = header.get("first name"), header.get("last name")
    functions = [function for function in grades_csv.graded_functions(manifest) if function in fields]
    if "submission_id" in header and "names" in header:
        kind = "a grades CSV of an earlier regrade"
    elif "total score" in header:
        kind = "Gradescope's grade export"
    else:
        kind = "a grades CSV"
    old = OldGrades(path, kind, [], functions)
    for row in rows:
        shown_id = (row.get(id_column) or "").strip() if id_column else ""
        score = _number(row.get(total))
        if not shown_id and score is None:
            old.skipped += 1            # a student without a submission (Gradescope: status Missing)
            continue
        if name:
            names = row.get(name) or ""
        else:
            names = " ".join(part for part in ((row.get(first) or "") if first else "",
                                               (row.get(last) or "") if last else "") if part)
        old.rows.append(OldRow(
            key=normalize_id(shown_id), shown_id=shown_id, names=names,
            emails=_items(row.get(email) if email else "", lower=True), sids=_items(row.get(sid) if sid else ""),
            total=score, functions={function: _number(row.get(function)) or 0.0 for function in functions}))
    return old


def _points(value: Optional[float]) -> str:
    return "" if value is None else f"{value:g}"


def _signed(value: float) -> str:
    return f"{value:+g}"


def compare(old: OldGrades, new_rows: List[dict], manifest: dict) -> Changes:
    """Every submission of new_rows (the regrade's CSV rows) whose points differ from OLD.csv's,
    the new ones and the gone ones."""
    functions = [function for function in grades_csv.graded_functions(manifest) if function in old.functions]
    by_id: Dict[str, List[int]] = {}
    by_email: Dict[str, List[int]] = {}
    by_sid: Dict[str, List[int]] = {}
    for index, row in enumerate(old.rows):
        if row.key:
            by_id.setdefault(row.key, []).append(index)
        for email in row.emails:
            by_email.setdefault(email, []).append(index)
        for sid in row.sids:
            by_sid.setdefault(sid, []).append(index)
    used: Set[int] = set()
    changes = Changes(old, [])
    changed, new = [], []
    for row in new_rows:
        key = normalize_id(row.get("submission_id", ""))
        match, how = None, ""
        if key and by_id.get(key):
            match, how = by_id[key][0], "submission id"
        else:
            for label, table, values in (("email", by_email, _items(row.get("emails"), lower=True)),
                                         ("SID", by_sid, _items(row.get("sids")))):
                found = [candidate for value in sorted(values) for candidate in table.get(value, [])
                         if candidate not in used]
                if found:
                    match, how = found[0], label
                    break
        if match is None:
            new.append(_row(row, "new", "", None, functions, {}))
            continue
        before = old.rows[match]
        used.add(match)
        used.update(by_id.get(before.key, []) if before.key else [])     # the other members of a group
        changes.compared += 1
        changes.matched_by[how] = changes.matched_by.get(how, 0) + 1
        listed = _row(row, "changed", how, before, functions, before.functions)
        if listed is not None:
            changed.append(listed)
    changed.sort(key=lambda item: (float(item["change"] or 0), item["submission_id"]))
    gone = [_gone(row) for index, row in enumerate(old.rows) if index not in used]
    seen_gone, unique_gone = set(), []
    for item in gone:               # a group's rows: once
        marker = item["old_submission_id"] or id(item)
        if marker not in seen_gone:
            seen_gone.add(marker)
            unique_gone.append(item)
    changes.rows = changed + new + unique_gone
    return changes


def _row(row: dict, status: str, how: str, before: Optional[OldRow], functions: List[str],
         old_functions: Dict[str, float]) -> Optional[dict]:
    new_total = _number(row.get("total")) or 0.0
    listed = {"status": status, "submission_id": grades_csv.safe_cell(row.get("submission_id", "")),
              "matched_by": how, "old_submission_id": grades_csv.safe_cell(before.shown_id) if before else "",
              "names": grades_csv.safe_cell(row.get("names", "")),
              "emails": grades_csv.safe_cell(row.get("emails", "")),
              "sids": grades_csv.safe_cell(row.get("sids", "")), "old_total": "", "new_total": _points(new_total),
              "change": "", "functions": "", "failure": grades_csv.safe_cell(row.get("failure", ""))}
    if before is None:
        return listed
    listed["old_total"] = _points(before.total)
    moved = []
    for function in functions:
        was, now = old_functions.get(function, 0.0), _number(row.get(function)) or 0.0
        if abs(now - was) > TOLERANCE:
            moved.append(f"{function} {was:g} -> {now:g} ({_signed(now - was)})")
    if before.total is not None and abs(new_total - before.total) <= TOLERANCE and not moved:
        return None
    listed["change"] = _points(new_total - (before.total or 0.0))      # a number to a spreadsheet
    listed["functions"] = grades_csv.safe_cell("; ".join(moved))
    return listed


def _gone(before: OldRow) -> dict:
    return {"status": "gone", "submission_id": "", "matched_by": "",
            "old_submission_id": grades_csv.safe_cell(before.shown_id), "names": grades_csv.safe_cell(before.names),
            "emails": grades_csv.safe_cell("; ".join(sorted(before.emails))),
            "sids": grades_csv.safe_cell("; ".join(sorted(before.sids))), "old_total": _points(before.total),
            "new_total": "", "change": "", "functions": "", "failure": ""}


def write_changes(changes: Changes, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n", quoting=grades_csv.QUOTING)
        writer.writeheader()
        writer.writerows(changes.rows)
    temporary.replace(path)


def describe(row: dict) -> str:
    """One line of the listing (every text in it already made safe: no control characters)."""
    who = row["submission_id"] or row["old_submission_id"] or "(no id)"
    if row["names"]:
        who += f" ({row['names']})"
    if row["status"] == "new":
        return f"  new: {who}: {row['new_total']} points, not in the old file"
    if row["status"] == "gone":
        return f"  gone: {who}: {row['old_total'] or 'no'} points before, not in this regrade"
    line = f"  {who}: {row['old_total'] or 'no score'} -> {row['new_total']} ({_signed(float(row['change']))})"
    if row["matched_by"] != "submission id":
        line += f" [matched by {row['matched_by']}: old id {row['old_submission_id'] or 'none'}]"
    if row["functions"]:
        line += f"; {row['functions']}"
    if row["failure"]:
        line += f"; grading failed: {row['failure']}"
    return line


def summary(changes: Changes, out: Path) -> str:
    rows = [row for row in changes.rows if row["status"] == "changed"]
    deltas = [float(row["change"]) for row in rows if row["change"]]
    up, down = sum(1 for delta in deltas if delta > 0), sum(1 for delta in deltas if delta < 0)
    matched = ", ".join(f"{how} {count}" for how, count in sorted(changes.matched_by.items())) or "none"
    skipped = f"; {changes.old.skipped} rows without a submission left out" if changes.old.skipped else ""
    return (f"compared with {changes.old.path.name} ({changes.old.kind}; matched by {matched}{skipped}): "
            f"{len(rows)} of {changes.compared} submissions change points ({up} up, {down} down, net "
            f"{sum(deltas):+g}), {changes.count('new')} new, {changes.count('gone')} gone: {out}")


def report_changes(old: OldGrades, csv_path: Path, manifest: dict, log=print) -> Changes:
    """Compare the regrade's CSV with OLD.csv, write X-changes.csv beside it and print the listing."""
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    changes = compare(old, rows, manifest)
    out = grades_csv.sibling(Path(csv_path), "-changes.csv")
    write_changes(changes, out)
    log(f"compared with {old.path.name} by submission id, then email, then SID:")
    for row in changes.rows:
        log(describe(row))
    log(summary(changes, out))
    return changes
