"""Grade one submission: the trusted side of Gradescope's run_autograder.

Reads the manifest and the expected outputs (checking their sha256) before any
student code runs, runs every case in the sandbox, compares, and returns the
list of test results. It never imports the submission, the case table or torch.
"""
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from safetensors.numpy import load as load_safetensors

from autograder.engine.compare import compare_outputs, summarize
from autograder.engine.references import MANIFEST, sha256_of
from autograder.engine.results import TestResult
from autograder.engine.sandbox import Limits, Sandbox

MAX_OUTPUT_FILE = 8 * 1024 ** 2
MAX_STATUS_FILE = 64 * 1024
STRUCK_TIMEOUT = 0.5          # after a function timed out once, its other cases get this long
ENGINE_FILES = ("__init__.py", "engine/__init__.py", "engine/case.py", "engine/worker.py")


class ReferenceDataError(Exception):
    """The reference data is missing or altered: a problem of the autograder, not the student."""


@dataclass
class Reference:
    manifest: dict
    expected: Dict[str, Dict[str, np.ndarray]]
    folder: Path
    mistakes: Dict[str, List[Tuple[str, Dict[str, np.ndarray]]]]   # case id -> [(message, outputs)]

    @property
    def cases(self) -> List[dict]:
        return self.manifest["cases"]


def load_reference(folder: Path) -> Reference:
    """The manifest and every expected output, verified against the manifest's sha256."""
    manifest = json.loads((folder / MANIFEST).read_text())
    expected, mistakes = {}, {}
    for case in manifest["cases"]:
        files = [(case["inputs"], case["inputs_sha256"]), (case["expected"], case["expected_sha256"])]
        files += [(m["file"], m["sha256"]) for m in case.get("mistakes", [])]
        for rel, digest in files:
            if sha256_of(folder / rel) != digest:
                raise ReferenceDataError(f"{rel} does not match the manifest's sha256")
        arrays = load_safetensors((folder / case["expected"]).read_bytes())
        expected[case["id"]] = {name: arrays[name] for name in case["outputs"]}   # the call's own order
        mistakes[case["id"]] = [(m["message"], load_safetensors((folder / m["file"]).read_bytes()))
                                for m in case.get("mistakes", [])]
    return Reference(manifest, expected, folder, mistakes)


def locate_package(submission: Path, package: str) -> Optional[Path]:
    """The student's package folder: at the top of the submission, or one folder down
    (a zip made of the enclosing folder). Links are not followed."""
    top = submission / package
    if top.is_dir() and not top.is_symlink():
        return top
    candidates = [path / package for path in sorted(submission.iterdir())
                  if path.is_dir() and not path.is_symlink() and not path.name.startswith(("__MACOSX", "."))
                  and (path / package).is_dir() and not (path / package).is_symlink()] if submission.is_dir() else []
    return candidates[0] if len(candidates) == 1 else None


SIGNALS = {signal.SIGSEGV: "it crashed (segmentation fault)", signal.SIGXCPU: "it used up its CPU time",
           signal.SIGXFSZ: "it wrote more output than allowed", signal.SIGKILL: "it was killed (out of memory?)",
           signal.SIGABRT: "it aborted", signal.SIGBUS: "it crashed (bus error)", signal.SIGFPE: "it crashed (FPE)"}


class Grader:
    """Runs every case of one part against one submission."""

    def __init__(self, reference: Reference, submission: Path, engine_root: Path, limits: Limits = Limits(),
                 deadline: Optional[float] = None, log=print, only_files: Optional[List[str]] = None):
        """`only_files` restricts grading to the cases of those files (for the project's own
        tests and tools; Gradescope always grades every case)."""
        self.reference, self.log = reference, log
        self.cases = [case for case in reference.cases if only_files is None or case["file"] in only_files]
        manifest = reference.manifest
        self.deadline = deadline if deadline is not None else manifest["deadline"]
        self.package_dir = locate_package(submission, manifest["package"])
        table_package = manifest["table"].rsplit(".", 1)[0].split(".", 1)[1]   # "hw4"
        package = engine_root.name
        runner_files = [(engine_root / rel, f"{package}/{rel}") for rel in ENGINE_FILES]
        table_dir = engine_root / table_package.replace(".", "/")
        runner_files.append((table_dir / "__init__.py", f"{package}/{table_package}/__init__.py"))
        for module in manifest["runner_modules"]:
            rel = module.split(".", 1)[1].replace(".", "/") + ".py"
            runner_files.append((engine_root / rel, f"{package}/{rel}"))
        inputs = [reference.folder / case["inputs"] for case in self.cases]
        self.sandbox = Sandbox(manifest["table"], runner_files, inputs, self.package_dir, manifest["package"],
                               manifest["files"], limits)
        self.notes: List[str] = []
        if self.package_dir is None:
            self.notes.append(f"No {manifest['package']}/ folder was found at the top of the submission.")
        if self.sandbox.uid is None:
            self.notes.append("Student code ran as the grader's own user (not root): "
                              "limits and timeouts apply, isolation does not.")

    def run(self) -> List[TestResult]:
        started = time.monotonic()
        import_hangs: Dict[str, str] = {}
        struck = set()
        results = []
        try:
            for case in self.cases:
                copy_problem = self.sandbox.copied.get(case["file"])
                if time.monotonic() - started > self.deadline:
                    results.append(self._failed(case, "not run", "not run: the grading time limit was reached "
                                                                 "before this case (earlier cases were too slow)"))
                elif copy_problem:
                    results.append(self._failed(case, "missing file", copy_problem))
                elif case["file"] in import_hangs:
                    results.append(self._failed(case, "timeout", import_hangs[case["file"]]))
                else:
                    timeout = min(case["timeout"], STRUCK_TIMEOUT) if case["function"] in struck else case["timeout"]
                    result = self._run_case(case, timeout)
                    if result.extra_data["kind"] == "timeout":
                        struck.add(case["function"])
                        if result.extra_data.get("phase") == "import":
                            import_hangs[case["file"]] = result.extra_data["message"]
                    results.append(result)
                self.log(f"{results[-1].score:g}/{results[-1].max_score:g}  {case['name']}")
        finally:
            self.sandbox.close()
        return results

    # -- one case -------------------------------------------------------------
    def _run_case(self, case: dict, timeout: float) -> TestResult:
        outcome = self.sandbox.run(case["id"], timeout)
        status = self._status(case["id"])
        log_tail = self.sandbox.log_tail(f"{case['id']}.log")
        try:
            if outcome.timed_out or outcome.signal == signal.SIGXCPU:
                phase = status.get("phase") if status else None
                if phase == "import":
                    message = (f"importing {case['file']} did not finish within {timeout:g} s "
                               "(an endless loop or slow work at module level?)")
                else:
                    message = (f"{case['function']} did not finish within {timeout:g} s: an endless loop, "
                               "or far too slow (the reference takes milliseconds)")
                return self._failed(case, "timeout", message, log_tail, phase=phase, seconds=outcome.seconds)
            if status is None or status.get("phase") != "done":
                return self._failed(case, "crash", self._crash_message(case, outcome, status), log_tail,
                                    seconds=outcome.seconds)
            verdict_kind, message = self._explain_status(case, status)
            if verdict_kind != "returned":
                return self._failed(case, verdict_kind, message, log_tail, seconds=outcome.seconds)
            return self._compare(case, log_tail, outcome.seconds)
        finally:
            self.sandbox.clear_scratch()

    def _status(self, case_id: str) -> Optional[dict]:
        raw = self.sandbox.read_output(f"{case_id}.status.json", MAX_STATUS_FILE)
        try:
            status = json.loads(raw) if raw else None
        except (ValueError, RecursionError):     # garbage, or nesting deep enough to overflow
            return None
        return status if isinstance(status, dict) else None

    def _crash_message(self, case: dict, outcome, status: Optional[dict]) -> str:
        where = "while importing " + case["file"] if status and status.get("phase") == "import" else \
            f"while running {case['function']}"
        if outcome.signal:
            why = SIGNALS.get(outcome.signal, f"it was stopped by signal {outcome.signal}")
            return f"the process running the case ended {where}: {why}"
        if outcome.exit_code is None:
            return f"the grading worker stopped {where}; the case could not be graded"
        return (f"the process running the case exited {where} (exit code {outcome.exit_code}) "
                "before returning: do not call sys.exit, os._exit or quit in graded code")

    def _explain_status(self, case: dict, status: dict):
        outcome = status.get("outcome")
        error = status.get("error") if isinstance(status.get("error"), dict) else {}
        kind, text = str(error.get("type", "")), str(error.get("message", ""))[:2000]
        where = f" ({error['where']})" if error.get("where") else ""
        if outcome == "returned":
            return "returned", ""
        if outcome == "import error":
            return "import error", f"{case['file']} could not be imported: {kind}: {text}{where}"
        if outcome == "missing":
            return "missing", f"{case['file']} defines no {case['target'].rsplit('.', 1)[1]}"
        if outcome == "contract":
            return "contract", text
        if kind == "NotImplementedError":
            return "not implemented", f"{case['function']} is not implemented yet (it raises NotImplementedError)"
        if case["hidden"]:
            return "exception", f"{case['function']} raised {kind}{where}"
        return "exception", f"{case['function']} raised {kind}: {text}{where}"

    def _compare(self, case: dict, log_tail: str, seconds: float) -> TestResult:
        raw = self.sandbox.read_output(f"{case['id']}.safetensors", MAX_OUTPUT_FILE)
        if raw is None:
            return self._failed(case, "crash", "no outputs were saved for this case (too large, or removed)",
                                log_tail, seconds=seconds)
        try:
            actual = load_safetensors(raw)
        except Exception:  # noqa: BLE001 - any malformed file is the same failure
            return self._failed(case, "crash", "the outputs could not be read back (unsupported dtype, "
                                               "such as bfloat16, or a damaged file)", log_tail, seconds=seconds)
        expected = self.reference.expected[case["id"]]
        tolerances = {name: tuple(value) for name, value in case["tolerances"].items()}
        verdict = compare_outputs(expected, actual, tolerances, case["hidden"])
        if not verdict.passed:
            message = verdict.message
            known = [text for text, outputs in self.reference.mistakes[case["id"]]
                     if compare_outputs(outputs, actual, tolerances, True).passed]
            if known:
                message += "\nThis is what a known mistake gives: " + " Or: ".join(dict.fromkeys(known))
            return self._failed(case, verdict.kind, message, log_tail, seconds=seconds)
        details = "" if case["hidden"] else "\n" + summarize(expected, actual)
        return TestResult(case["name"], case["points"], case["points"], case["visibility"],
                          f"Passed: {verdict.message}.{details}", self._extra(case, "passed", seconds=seconds))

    def _failed(self, case: dict, kind: str, message: str, log_tail: str = "", phase=None, seconds=None) -> TestResult:
        output = f"Failed ({kind}): {message}"
        if log_tail.strip() and not case["hidden"]:
            output += "\n--- the end of what your code printed ---\n" + log_tail.rstrip()
        extra = self._extra(case, kind, phase=phase, seconds=seconds)
        extra["message"] = message
        return TestResult(case["name"], case["points"], 0.0, case["visibility"], output, extra)

    @staticmethod
    def _extra(case: dict, kind: str, phase=None, seconds=None) -> dict:
        extra = {"case": case["id"], "function": case["function"], "kind": kind}
        if phase:
            extra["phase"] = phase
        if seconds is not None:
            extra["seconds"] = round(seconds, 3)
        return extra
