"""Judge a case: how its run ended, its status and outputs, and the reference, into a test result.

Trusted side, plain numpy. The same judgement, word for word, on Gradescope and in the
students' public tests: this module is shipped with the handout. Hidden cases say the kind
of failure, never their inputs, expected values or what the code printed.
"""
import signal
from dataclasses import dataclass
from typing import Dict, Optional

from safetensors.numpy import load as load_safetensors

from autograder.engine.compare import compare_outputs, summarize
from autograder.engine.results import TestResult
from autograder.engine.session import CaseRun


def _signal_names() -> Dict[int, str]:
    names = {"SIGSEGV": "it crashed (segmentation fault)", "SIGXCPU": "it used up its CPU time",
             "SIGXFSZ": "it wrote more output than allowed", "SIGKILL": "it was killed (out of memory?)",
             "SIGABRT": "it aborted", "SIGBUS": "it crashed (bus error)", "SIGFPE": "it crashed (FPE)"}
    return {getattr(signal, name): text for name, text in names.items() if hasattr(signal, name)}


SIGNALS = _signal_names()


@dataclass(frozen=True)
class TimeLimit:
    """A case's time limit: CPU seconds, and a wall-clock cap for code that waits instead of computing."""

    cpu: float
    wall: float
    shared: bool = False        # the short window of the other cases of a function that timed out


def result(case: dict, kind: str, message: str, score: Optional[float] = None, **fields) -> TestResult:
    """A test result for `case`; failed (0 points) unless a score is given."""
    seconds, cpu = fields.pop("seconds", None), fields.pop("cpu", None)
    extra = {"case": case["id"], "function": case["function"], "file": case["file"], "kind": kind}
    if kind != "passed":
        extra["message"] = message
    if seconds is not None:
        extra["seconds"] = round(seconds, 3)
    if cpu is not None:
        extra["cpu"] = round(cpu, 3)        # CPU seconds, against the case's limit (extra_data["limit"])
        extra["limit"] = case["timeout"]
    if fields.get("mistake_names"):
        extra["mistakes"] = list(fields.pop("mistake_names"))
    fields.pop("mistake_names", None)
    if case["hidden"]:
        fields.pop("printed", None)
        fields.pop("rows", None)
    return TestResult(case["name"], case["points"], 0.0 if score is None else score, case["visibility"], kind,
                      message, extra_data=extra, **fields)


def timed_out(case: dict, limit: TimeLimit, phase: str, clock: Optional[str], printed: str = "",
              seconds=None) -> TestResult:
    """`clock`: which limit stopped it, "cpu" or "wall" (None: not known, in-process runs)."""
    if phase == "import":
        what = f"importing {case['file']}"
        why = "an endless loop or slow work at module level?"
    elif limit.shared:
        what, why = case["function"], "the short limit of its other cases once one case has timed out"
    else:
        what, why = case["function"], "an endless loop, or far too slow: the reference takes milliseconds"
    if clock == "cpu":
        message = f"{what} did not finish within {limit.cpu:g} s of CPU time ({why})"
    elif clock == "wall" and not limit.shared:
        message = (f"{what} did not finish within {limit.wall:g} s (it was waiting rather than computing: "
                   "sleeping, or waiting for input or another process?)")
    else:
        message = f"{what} did not finish within {limit.wall:g} s ({why})"
    return result(case, "timeout", message, printed=printed, seconds=seconds)


def _crash(case: dict, run: CaseRun, phase: str) -> TestResult:
    where = "while importing " + case["file"] if phase == "import" else f"while running {case['function']}"
    if run.signal:
        why = SIGNALS.get(run.signal, f"it was stopped by signal {run.signal}")
        message = f"the process running the case ended {where}: {why}"
    elif run.ended == "lost" or run.exit is None:
        message = f"the grading worker stopped {where}; the case could not be graded"
    else:
        message = (f"the process running the case exited {where} (exit code {run.exit}) "
                   "before returning: do not call sys.exit, os._exit or quit in graded code")
    return result(case, "crash", message, printed=run.log, seconds=run.seconds)


def _explained(case: dict, status: dict, run: CaseRun) -> Optional[TestResult]:
    """The failure a status reports, or None when the call returned."""
    outcome = status.get("outcome")
    error = status.get("error") if isinstance(status.get("error"), dict) else {}
    kind, text = str(error.get("type", "")), str(error.get("message", ""))[:2000]
    where = f" ({error['where']})" if error.get("where") else ""
    printed, seconds = run.log, run.seconds
    if outcome == "returned":
        return None
    if outcome == "import error":
        if kind == "ImportNotAllowed":      # the message names the file, the module and the allowed set
            return result(case, "not allowed", f"{text}{where}", printed=printed, seconds=seconds)
        return result(case, "import error", f"{case['file']} could not be imported: {kind}: {text}{where}",
                      printed=printed, seconds=seconds)
    if outcome == "missing":
        return result(case, "missing", f"{case['file']} defines no {case['target'].rsplit('.', 1)[1]}",
                      printed=printed, seconds=seconds)
    if outcome == "contract":
        return result(case, "contract", text, printed=printed, seconds=seconds)
    if kind == "NotImplementedError":
        return result(case, "not implemented", f"{case['function']} is not implemented yet (it raises NotImplementedError)",
                      hints=(f"TODO: implement {case['function']} in {case['file']} "
                             "(replace its raise NotImplementedError)",), printed=printed, seconds=seconds)
    if case["hidden"]:
        return result(case, "exception", f"{case['function']} raised {kind}{where}", seconds=seconds)
    return result(case, "exception", f"{case['function']} raised {kind}: {text}{where}", printed=printed,
                  seconds=seconds)


def judge(case: dict, run: CaseRun, reference, limit: TimeLimit) -> TestResult:
    """The test result of one case's run. `reference` is an engine.reference.Reference."""
    status = run.status if isinstance(run.status, dict) else None
    phase = status.get("phase") if status else None
    if run.ended == "import timeout":
        return timed_out(case, limit, "import", run.limit, run.log, run.seconds)
    if run.ended == "import crash":
        return _crash(case, run, "import")
    if run.signal == getattr(signal, "SIGXCPU", None):
        return timed_out(case, limit, "call", "cpu", run.log, run.seconds)
    if run.ended == "timeout":
        return timed_out(case, limit, "import" if phase == "import" else "call", run.limit, run.log, run.seconds)
    if run.ended == "import error" and status is not None:
        return _explained(case, status, run)
    if status is None or phase != "done":
        return _crash(case, run, "import" if phase == "import" else "call")
    failure = _explained(case, status, run)
    if failure is not None:
        return failure
    return compare(case, run, reference)


def compare(case: dict, run: CaseRun, reference) -> TestResult:
    if run.outputs is None:
        return result(case, "crash", "no outputs were saved for this case (too large, or removed)",
                      printed=run.log, seconds=run.seconds)
    try:
        actual = load_safetensors(run.outputs)
    except Exception:  # noqa: BLE001 - any malformed file is the same failure
        return result(case, "crash", "the outputs could not be read back (unsupported dtype, such as bfloat16, "
                                     "or a damaged file)", printed=run.log, seconds=run.seconds)
    return compare_arrays(case, actual, reference, printed=run.log, seconds=run.seconds, cpu=run.cpu)


def compare_arrays(case: dict, actual: dict, reference, printed: str = "", seconds=None, cpu=None) -> TestResult:
    """The verdict on outputs already read back as numpy arrays (also used in-process by tools)."""
    expected = reference.expected[case["id"]]
    tolerances = {name: tuple(value) for name, value in case["tolerances"].items()}
    verdict = compare_outputs(expected, actual, tolerances, case["hidden"])
    if verdict.passed:
        hints = () if case["hidden"] else tuple(summarize(expected, actual).splitlines())
        return result(case, "passed", verdict.message, score=case["points"], hints=hints, seconds=seconds, cpu=cpu)
    known = [mistake for mistake in reference.mistakes.get(case["id"], ())
             if compare_outputs(mistake.outputs, actual, tolerances, True).passed]
    sentences = tuple(dict.fromkeys(mistake.misconception for mistake in known))
    return result(case, verdict.kind, verdict.message, rows=verdict.rows, mistakes=sentences,
                  mistake_names=[mistake.name for mistake in known], printed=printed, seconds=seconds, cpu=cpu)
