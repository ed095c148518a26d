"""Grade trusted code in this process: the project's own variants of the solution.

The catalogue of known mistakes and the mutants of mutation analysis are code the project
wrote, so they need no sandbox: their cases run here, through the same run-case module as
the sandboxed worker (import, forbid, call, save) and are judged by the same verdict, with
the same references. A case is stopped after its CPU-time limit (times SLACK) with SIGPROF,
which counts CPU time as the worker does. What only a sandbox shows (a crash of the process,
a wall-clock timeout, memory limits) is left to the tests that grade through the zip.
"""
import importlib
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, List, Optional

from autograder.engine import run_case
from autograder.engine.case import CaseError
from autograder.engine.reference import Reference
from autograder.engine.results import TestResult
from autograder.engine.session import CaseRun
from autograder.engine.verdict import TimeLimit, judge

SLACK = 3.0     # in-process runs share the process with the tests: a generous limit, still finite
_WARMED_UP = set()      # tables whose warm-up this process has run


class CaseTimeout(BaseException):
    """Raised in the middle of a case that used up its CPU time (a BaseException: student-style
    `except Exception` blocks must not swallow it)."""


class _Timer:
    """run_case catches every exception of an import or a call, CaseTimeout too: this says it was one."""

    expired = False


def _on_timer(signum, frame):
    _Timer.expired = True
    raise CaseTimeout()


def _purge(package: str) -> None:
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]


@contextmanager
def one_torch_thread():
    """torch on one thread while it lasts, as in the sandboxed worker (the same reduction order; no
    idle OpenMP thread spinning into a case's CPU-time limit, which counts every thread of the
    process), then the caller's setting back."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def warm_up(table_module: str) -> None:
    """Run the table's warm-up once in this process, as the worker does before any case (part 1's
    first optimizer imports torch._dynamo); processes forked from this one inherit it."""
    if table_module not in _WARMED_UP:
        table = importlib.import_module(table_module).PART
        if table.warmup is not None:
            table.warmup()
        _WARMED_UP.add(table_module)


@one_torch_thread()
def grade_in_process(reference: Reference, package_root: Path, only_files: Optional[List[str]] = None,
                     stop: Optional[Callable[[dict, TestResult], bool]] = None,
                     order: Optional[Callable[[dict], object]] = None, slack: float = SLACK) -> List[TestResult]:
    """Judge the cases of `reference` (those of `only_files`) on the package under `package_root`.

    `order` sorts the cases (a key); `stop(case, result)` ends grading early when it returns True.
    `slack` multiplies each case's CPU-time limit (1: the table's limits, as on Gradescope)."""
    import torch

    manifest = reference.manifest
    warm_up(manifest["table"])
    table = importlib.import_module(manifest["table"]).PART
    cases_by_id = {case.id: case for case in table.cases}
    chosen = [case for case in manifest["cases"] if only_files is None or case["file"] in only_files]
    if order is not None:
        chosen.sort(key=order)
    package = manifest["package"]
    submission = str(Path(package_root).resolve()) + "/"
    _purge(package)
    sys.path.insert(0, str(package_root))
    previous = signal.signal(signal.SIGPROF, _on_timer)
    default_dtype, grad_enabled = torch.get_default_dtype(), torch.is_grad_enabled()
    results: List[TestResult] = []
    try:
        modules = {}
        for entry in chosen:
            case = cases_by_id[entry["id"]]
            limit = TimeLimit(entry["timeout"] * slack, entry["timeout"] * slack)
            run = _run(case, reference.inputs_file(entry), modules, submission, limit, torch)
            result = judge(entry, run, reference, limit)
            torch.set_default_dtype(default_dtype)
            torch.set_grad_enabled(grad_enabled)
            results.append(result)
            if stop is not None and stop(entry, result):
                break
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        sys.path.remove(str(package_root))
        _purge(package)
    return results


def _run(case, inputs: Path, modules: dict, submission: str, limit: TimeLimit, torch) -> CaseRun:
    """One case, as the worker runs it, into a CaseRun the verdict can judge."""
    from safetensors.torch import load_file, save

    _Timer.expired = False
    signal.setitimer(signal.ITIMER_PROF, limit.cpu)
    undo, phase = [], "import"
    try:
        if case.module not in modules:
            imported = run_case.import_graded(case.module, submission)
            if _Timer.expired:
                raise CaseTimeout()
            modules[case.module] = imported
        phase = "call"
        module, failure = modules[case.module]
        if failure is not None:
            return CaseRun("import error", status=failure)
        undo = run_case.forbid(case.forbidden, case.function, CaseError, [module])
        status, outputs = run_case.call_case(case, module, load_file(inputs), CaseError, submission, torch.manual_seed)
        if _Timer.expired:
            raise CaseTimeout()
        data = None
        if outputs is not None:
            try:
                data = save({name: value.contiguous() for name, value in outputs.items()})
            except Exception as error:  # noqa: BLE001 - what the worker reports too
                status.update(outcome="exception", error=run_case.describe_exception(error, submission))
        status["phase"] = "done"
        return CaseRun("exit", exit=0, status=status, outputs=data)
    except CaseTimeout:
        return CaseRun("timeout", limit="cpu", status={"phase": phase})
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        run_case.unforbid(undo)
