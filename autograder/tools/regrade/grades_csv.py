"""The grades CSV: one row per submission, appended as each finishes, so that a killed run resumes.

Columns: the submission's id, names, emails, SIDs, submission time and Gradescope's score, the
points per graded function, the total, the grading's seconds and a failure message (a grading
that crashed or timed out: total 0, what Gradescope gives a timed-out submission). Beside it,
<name>-details.jsonl keeps each graded submission's tests (kind, points, known mistakes) for the
class report, written the same way.

Every cell is quoted, and text that students or their code control goes through `safe_cell`, so
that no spreadsheet runs it as a formula, whichever separator it splits the lines on.
"""
import csv
import io
import json
import math
import os
import threading
import unicodedata
from pathlib import Path
from typing import Dict, List, Optional

from autograder.tools.regrade.export import RegradeError, Submission

QUOTING = csv.QUOTE_ALL        # a ';' or tab inside a cell never starts a new cell, whatever the separator
FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")   # and their full-width forms
FIXED_COLUMNS = ("submission_id", "names", "emails", "sids", "created_at", "gradescope_score")
TAIL_COLUMNS = ("total", "seconds", "failure")


def graded_functions(manifest: dict) -> List[str]:
    """The graded names of the part, in the order of its cases."""
    return list(dict.fromkeys(case["function"] for case in manifest["cases"]))


def header_of(manifest: dict) -> List[str]:
    return list(FIXED_COLUMNS) + graded_functions(manifest) + list(TAIL_COLUMNS)


def sibling(out: Path, suffix: str) -> Path:
    """grades.csv -> grades<suffix> (grades-report.json, grades.png, ...)."""
    stem = out.name[:-4] if out.suffix.lower() == ".csv" else out.name
    return out.with_name(stem + suffix)


def _printable(character: str) -> bool:
    """Not a control character (terminal escapes, NUL) nor a bidirectional override (text that
    displays in another order than it reads)."""
    return not (unicodedata.category(character) == "Cc" and not character.isspace()) \
        and not ("\u202a" <= character <= "\u202e" or "\u2066" <= character <= "\u2069")


def _one_line(text: str, limit: int = 500) -> str:
    """Rows stay one line each (a half-written last line is then just cut off)."""
    text = " ".join("".join(filter(_printable, str(text))).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def safe_cell(text) -> str:
    """Text a student controls (names, messages, ids) as one line that a spreadsheet will not run as
    a formula: a leading =, +, -, @ (or a full-width one) gets a ' before it. Leading tabs and line
    breaks are gone with the rest of the extra whitespace; control characters are dropped."""
    text = _one_line(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_list(items) -> str:
    """Several people's names (emails, SIDs) in one cell, each made safe: '; ' between them."""
    return safe_cell("; ".join(safe_cell(item) for item in items))


def unsafe_cell(text: str) -> str:
    """The text safe_cell was given (for matching), where it only added the leading '."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def id_cell(submission_id: str) -> str:
    """A submission id as the CSV and the details file write it (the same as the id itself for
    Gradescope's ids)."""
    return safe_cell(submission_id)


def load_done(path: Path, header: List[str]) -> Dict[str, dict]:
    """{id: row} of the rows already in the CSV. A half-written last line, malformed lines and
    repeated ids are dropped (the file is rewritten without them)."""
    if not path.exists():
        return {}
    data = path.read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    text = complete.decode("utf-8", errors="replace")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        path.write_bytes(b"")
        return {}
    if rows[0] != header:
        raise RegradeError(f"{path} has other columns than this part's grades (another part, or another "
                           "version of the case table?): choose another --out, or delete it to start over")
    done: Dict[str, dict] = {}
    for row in rows[1:]:
        if len(row) == len(header) and row[0] and row[0] not in done:
            done[row[0]] = dict(zip(header, row))
    if len(done) != len(rows) - 1 or complete != data:
        rewrite(path, header, list(done.values()))
    return done


def rewrite(path: Path, header: List[str], rows: List[dict]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n", quoting=QUOTING)
        writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class RowWriter:
    """Appends one row per finished submission: written whole, flushed and synced at once."""

    def __init__(self, path: Path, header: List[str]):
        self.header = header
        fresh = not path.exists() or path.stat().st_size == 0
        self.handle = open(path, "a", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, fieldnames=header, lineterminator="\n", quoting=QUOTING)
        self.lock = threading.Lock()
        if fresh:
            self.writer.writeheader()
            self._sync()

    def write(self, row: dict) -> None:
        buffer = io.StringIO()
        csv.DictWriter(buffer, fieldnames=self.header, lineterminator="\n", quoting=QUOTING).writerow(row)
        with self.lock:
            self.handle.write(buffer.getvalue())     # one write call per row
            self._sync()

    def _sync(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self) -> None:
        self.handle.close()


def make_row(submission: Submission, manifest: dict, results: Optional[dict], failure: str, seconds: float) -> dict:
    functions = graded_functions(manifest)
    row = {"submission_id": id_cell(submission.id), "names": safe_list(submission.names),
           "emails": safe_list(submission.emails), "sids": safe_list(submission.sids),
           "created_at": safe_cell(submission.created_at), "gradescope_score": safe_cell(submission.score),
           "seconds": f"{seconds:.1f}", "failure": safe_cell(failure)}
    if results is None:
        row.update({name: "" for name in functions})
        row["total"] = "0"
        return row
    function_of = {case["name"]: case["function"] for case in manifest["cases"]}
    earned = {name: 0.0 for name in functions}
    for test in results.get("tests", []):
        name = function_of.get(test.get("name"), str(test.get("name", "")).split(":", 1)[0])
        earned[name] = earned.get(name, 0.0) + float(test.get("score") or 0.0)
    row.update({name: f"{earned[name]:g}" for name in functions})
    row["total"] = f"{float(results.get('score') or 0.0):g}"
    if not failure and len(results.get("tests", [])) != len(manifest["cases"]):
        row["failure"] = f"results.json lists {len(results.get('tests', []))} of {len(manifest['cases'])} cases"
    return row


def details_of(submission: Submission, results: Optional[dict], failure: str, seconds: float) -> dict:
    """What the class report needs of one grading: each test's kind, points and known mistakes."""
    tests = []
    for test in (results or {}).get("tests", []):
        extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else {}
        tests.append({"name": test.get("name"), "case": extra.get("case"), "function": extra.get("function"),
                      "file": extra.get("file"), "kind": extra.get("kind"), "score": test.get("score"),
                      "max_score": test.get("max_score"), "mistakes": extra.get("mistakes", [])})
    return {"submission_id": id_cell(submission.id), "seconds": round(seconds, 3), "failure": failure,
            "total": (results or {}).get("score", 0.0) if results else 0.0, "tests": tests}


def write_details(path: Path, details: dict, lock: threading.Lock) -> None:
    """One JSON line, appended whole and synced. A line cut off by a killed run is left alone (it
    cannot be read) and this one starts on a line of its own."""
    line = json.dumps(details) + "\n"
    with lock, open(path, "ab+") as handle:
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                line = "\n" + line
        handle.write(line.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def read_details(path: Path) -> Dict[str, dict]:
    """{id: details}, the last complete line of each id."""
    found: Dict[str, dict] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("submission_id"), str):
            found[entry["submission_id"]] = entry
    return found


def points(cell) -> float:
    """A cell of the CSV (or a results.json score) as a number: 0 when empty, not a number, or not finite."""
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0
