"""The verdict (engine/verdict.py): how a case's run, status and outputs become a test result.

Synthetic runs, no worker: every way a case can end, and what the student is told, visible
and hidden."""
import signal

import numpy as np
import pytest
from safetensors.numpy import save

from autograder.engine.reference import KnownMistake, Reference
from autograder.engine.session import CaseRun
from autograder.engine.verdict import TimeLimit, judge

LIMIT = TimeLimit(cpu=1.0, wall=3.0)


def case(hidden=False):
    return {"id": "q-sample-linear", "name": "q_sample: linear", "function": "q_sample", "file": "diffusion/ddpm.py",
            "target": "diffusion.ddpm.q_sample", "points": 0.25, "hidden": hidden,
            "visibility": "after_due_date" if hidden else "visible", "timeout": 1.0,
            "tolerances": {"default": [1e-6, 1e-5]}}


EXPECTED = {"x_t": np.array([0.5, -1.0, 2.0], dtype=np.float32)}
MISTAKE = KnownMistake("q_sample-missing-sqrt", "the square roots are missing.",
                       {"x_t": np.array([0.25, -2.0, 4.0], dtype=np.float32)})
REFERENCE = Reference({"cases": []}, {"q-sample-linear": EXPECTED}, {"q-sample-linear": [MISTAKE]}, None)


def done(outcome="returned", error=None, outputs=None, log=""):
    status = {"phase": "done", "outcome": outcome}
    if error:
        status["error"] = error
    return CaseRun("exit", exit=0, status=status, outputs=outputs, log=log)


def verdict(run, hidden=False):
    return judge(case(hidden), run, REFERENCE, LIMIT)


def test_matching_outputs_pass_with_their_errors():
    result = verdict(done(outputs=save(EXPECTED)))
    assert result.passed and result.score == 0.25 and result.hints[0].startswith("x_t: shape (3,), float32")
    assert verdict(done(outputs=save(EXPECTED)), hidden=True).hints == ()


def test_a_known_mistake_is_named_and_recorded():
    result = verdict(done(outputs=save(MISTAKE.outputs), log="debug"))
    assert result.kind == "values" and result.score == 0
    assert result.mistakes == ("the square roots are missing.",)
    assert result.extra_data["mistakes"] == ["q_sample-missing-sqrt"]
    assert result.printed == "debug" and result.rows
    hidden = verdict(done(outputs=save(MISTAKE.outputs), log="debug"), hidden=True)
    assert hidden.mistakes and not hidden.printed and not hidden.rows
    assert "0.25" not in hidden.message and "values differ from the reference in 3 of 3 elements" in hidden.message


@pytest.mark.parametrize("run, phase_words", [
    (CaseRun("timeout", "cpu", status={"phase": "call"}), "q_sample did not finish within 1 s of CPU time"),
    (CaseRun("timeout", "wall", status={"phase": "call"}), "q_sample did not finish within 3 s (it was waiting"),
    (CaseRun("import timeout", "cpu"), "importing diffusion/ddpm.py did not finish within 1 s of CPU time"),
    (CaseRun("timeout", None, status={"phase": "import"}), "importing diffusion/ddpm.py did not finish within 3 s"),
    (CaseRun("exit", signal=getattr(signal, "SIGXCPU", 24)), "q_sample did not finish within 1 s of CPU time"),
])
def test_timeouts_say_which_limit_stopped_what(run, phase_words):
    result = verdict(run)
    assert result.kind == "timeout" and result.message.startswith(phase_words), result.message


def test_the_short_window_after_a_first_timeout_says_so():
    result = judge(case(), CaseRun("timeout", "wall", status={"phase": "call"}), REFERENCE,
                   TimeLimit(0.25, 0.25, shared=True))
    assert "within 0.25 s (the short limit of its other cases once one case has timed out)" in result.message


@pytest.mark.parametrize("run, words", [
    (CaseRun("signal", signal=signal.SIGSEGV, status={"phase": "call"}), "ended while running q_sample: it crashed"),
    (CaseRun("signal", signal=signal.SIGKILL, status={"phase": "call"}), "it was killed (out of memory?)"),
    (CaseRun("exit", exit=3, status={"phase": "call"}), "exited while running q_sample (exit code 3)"),
    (CaseRun("import crash", signal=signal.SIGSEGV), "ended while importing diffusion/ddpm.py"),
    (CaseRun("lost"), "the grading worker stopped while running q_sample"),
    (done(outputs=None), "no outputs were saved for this case"),
    (done(outputs=b"not safetensors"), "the outputs could not be read back"),
])
def test_crashes_are_explained(run, words):
    result = verdict(run)
    assert result.kind == "crash" and words in result.message, result.message


def test_what_the_status_reports():
    error = {"type": "RuntimeError", "message": "boom", "where": "diffusion/ddpm.py, line 7"}
    assert verdict(done("exception", error)).message == "q_sample raised RuntimeError: boom (diffusion/ddpm.py, line 7)"
    assert verdict(done("exception", error), hidden=True).message == "q_sample raised RuntimeError (diffusion/ddpm.py, line 7)"
    todo = verdict(done("exception", {"type": "NotImplementedError", "message": "", "where": None}))
    assert todo.kind == "not implemented" and todo.hints[0].startswith("TODO: implement q_sample in diffusion/ddpm.py")
    assert verdict(done("missing")).message == "diffusion/ddpm.py defines no q_sample"
    assert verdict(done("contract", {"type": "CaseError", "message": "a tensor was expected"})).message == \
        "a tensor was expected"
    syntax = CaseRun("import error", status={"phase": "import", "outcome": "import error", "error": {
        "type": "SyntaxError", "message": "invalid syntax", "where": "diffusion/ddpm.py, line 1"}})
    assert verdict(syntax).message == \
        "diffusion/ddpm.py could not be imported: SyntaxError: invalid syntax (diffusion/ddpm.py, line 1)"
    refused = CaseRun("import error", status={"phase": "import", "outcome": "import error", "error": {
        "type": "ImportNotAllowed", "message": "diffusion/ddpm.py imports scipy, which the grader does not provide",
        "where": "diffusion/ddpm.py, line 2"}})
    result = verdict(refused)
    assert result.kind == "not allowed"
    assert result.message.startswith("diffusion/ddpm.py imports scipy, which the grader does not provide")
