"""results.json in Gradescope's format, written once and atomically."""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List


@dataclass
class TestResult:
    name: str
    max_score: float
    score: float
    visibility: str
    output: str
    extra_data: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": "passed" if self.score == self.max_score else "failed",
            "visibility": self.visibility,
            "output": self.output,
            "output_format": "text",
            "extra_data": self.extra_data,
        }


def summary(title: str, tests: List[TestResult]) -> str:
    """The top-level message: never reveals how the hidden cases went."""
    visible = [t for t in tests if t.visibility == "visible"]
    hidden = [t for t in tests if t.visibility != "visible"]
    lines = [f"{title}: {sum(t.score for t in visible):g} / {sum(t.max_score for t in visible):g} points "
             f"on the {len(visible)} visible cases."]
    if hidden:
        lines.append(f"{len(hidden)} hidden cases grade {sum(t.max_score for t in hidden):g} more points; "
                     "their results are shown after the due date.")
    return "\n".join(lines)


def results_document(title: str, tests: List[TestResult], seconds: float, notes: List[str], extra: dict) -> dict:
    output = summary(title, tests)
    if notes:
        output += "\n" + "\n".join(notes)
    return {
        "score": sum(t.score for t in tests),
        "execution_time": round(seconds, 3),
        "output": output,
        "output_format": "text",
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
