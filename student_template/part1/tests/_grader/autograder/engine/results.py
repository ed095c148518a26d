"""Test results, what students read of them, and results.json in Gradescope's format.

A result is rendered twice from the same fields: as plain text (the students' public tests,
a terminal) and as Markdown (Gradescope, `output_format: "md"`). Everything in the
Markdown that a student controls (what their code printed, exception messages, file
names) is escaped or fenced, so that it cannot add structure, links or HTML.
"""
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

PRINTED_HEADER = "--- the end of what your code printed ---"


@dataclass
class TestResult:
    __test__ = False                # not a pytest test class
    name: str
    max_score: float
    score: float
    visibility: str
    kind: str                       # "passed", or what failed: "values", "timeout", "import error", ...
    message: str = ""               # the verdict in a sentence or two (hidden-safe for hidden cases)
    rows: Tuple[Tuple[str, str, str], ...] = ()   # (what, expected, yours)
    mistakes: Tuple[str, ...] = ()  # misconceptions of the known mistakes the outputs match
    hints: Tuple[str, ...] = ()     # what to do next (a TODO), or per-output errors of a pass
    printed: str = ""               # the end of what the code printed (never for hidden cases)
    extra_data: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.kind == "passed"

    @property
    def hidden(self) -> bool:
        return self.visibility != "visible"

    # -- plain text ----------------------------------------------------------------------------
    def text(self) -> str:
        lines = [f"Passed: {self.message}." if self.passed else f"Failed ({self.kind}): {self.message}"]
        if self.mistakes:
            lines.append("This is what a known mistake gives: " + " Or: ".join(self.mistakes))
        lines.extend(self.hints)
        if self.printed.strip():
            lines += [PRINTED_HEADER, self.printed.rstrip()]
        return "\n".join(lines)

    # -- Markdown ------------------------------------------------------------------------------
    def markdown(self) -> str:
        head = "**Passed**" if self.passed else f"**Failed ({escape(self.kind)})**"
        parts = [f"{head}: {escape(self.message)}" + ("." if self.passed else "")]
        if self.rows:
            table = ["| | expected | yours |", "|---|---|---|"]
            table += [f"| {escape(what)} | {escape(want)} | {escape(got)} |" for what, want, got in self.rows]
            parts.append("\n".join(table))
        for mistake in self.mistakes:
            parts.append(f"**A known mistake gives exactly this:** {escape(mistake)}")
        if self.hints:
            parts.append("\n".join(f"- {escape(hint)}" for hint in self.hints))
        if self.printed.strip():
            parts.append("What your code printed (the end):\n\n" + fenced(self.printed.rstrip()))
        return "\n\n".join(parts)

    def to_json(self, output_format: str = "md") -> dict:
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": "passed" if self.score == self.max_score else "failed",
            "visibility": self.visibility,
            "output": self.markdown() if output_format == "md" else self.text(),
            "output_format": output_format,
            "extra_data": self.extra_data,
        }


_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>&$:])")


def escape(text: str) -> str:
    """Student-controlled text as literal Markdown: every punctuation character that could
    start structure is backslash-escaped (CommonMark allows that for any ASCII punctuation),
    and line breaks become spaces (no new block can start)."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(str(text).split()))


def fenced(text: str, info: str = "text") -> str:
    """A code block that nothing inside can close: its fence is longer than any run of
    backticks in the text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


# -- the top-level message ---------------------------------------------------------------------------
def points_by_function(tests: Sequence[TestResult]) -> List[Tuple[str, int, int, float, float]]:
    """[(function, cases passed, cases, points, points possible)] in the order functions first appear."""
    rows: Dict[str, List[float]] = {}
    for test in tests:
        function = test.extra_data.get("function") or test.name.split(":", 1)[0].strip()
        row = rows.setdefault(function, [0, 0, 0.0, 0.0])
        row[0] += test.passed
        row[1] += 1
        row[2] += test.score
        row[3] += test.max_score
    return [(function, int(a), int(b), c, d) for function, (a, b, c, d) in rows.items()]


def summary_text(title: str, tests: Sequence[TestResult]) -> str:
    """The top line: never reveals how the hidden cases went."""
    visible = [t for t in tests if not t.hidden]
    hidden = [t for t in tests if t.hidden]
    lines = [f"{title}: {sum(t.score for t in visible):g} / {sum(t.max_score for t in visible):g} points "
             f"on the {len(visible)} visible cases."]
    if hidden:
        lines.append(f"{len(hidden)} hidden cases grade {sum(t.max_score for t in hidden):g} more points; "
                     "their results are shown after the due date.")
    return "\n".join(lines)


def summary_markdown(title: str, tests: Sequence[TestResult], notes: Sequence[str]) -> str:
    visible = [t for t in tests if not t.hidden]
    parts = [escape(summary_text(title, tests))]
    if visible:
        table = ["| function | visible cases passed | points |", "|---|---|---|"]
        table += [f"| {escape(function)} | {done}/{count} | {earned:g} / {possible:g} |"
                  for function, done, count, earned, possible in points_by_function(visible)]
        parts.append("\n".join(table))
    parts.extend(escape(note) for note in notes)
    return "\n\n".join(parts)


def results_document(title: str, tests: List[TestResult], seconds: float, notes: List[str], extra: dict) -> dict:
    return {
        "score": sum(t.score for t in tests),
        "execution_time": round(seconds, 3),
        "output": summary_markdown(title, tests, notes),
        "output_format": "md",
        "test_output_format": "md",
        "stdout_visibility": "hidden",
        "extra_data": extra,
        "tests": [t.to_json() for t in tests],
    }


def write_results(path: Path, document: dict) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as handle:
        json.dump(document, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
