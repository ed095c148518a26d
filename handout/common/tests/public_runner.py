"""Runs the public cases of this part against your package, the way Gradescope grades them.

You do not need to read this file: run `python -m pytest tests` in the folder of this part.

What it does, for each public case of the assignment's case table: copies your graded files
(only those, as Gradescope does) into a scratch folder, runs the case's own call on your code
in a separate Python process (so an endless loop is stopped after the case's time limit),
and compares the outputs with the reference solution's, with the grader's own comparison
and tolerances. The messages are Gradescope's. Hidden cases are not here: Gradescope runs
them after you submit.

The grader's files used here are copies under tests/_grader/ (generated; do not edit them).
This file is both the pytest side (PublicRunner) and, run as a script, the worker process.
"""
import hashlib
import importlib
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRADER = HERE / "_grader"                  # copies of the grader's modules (an `autograder` package)
REFERENCE = GRADER / "reference"           # manifest.json, inputs/, expected/ of the public cases
PART_ROOT = HERE.parent                    # the folder that holds your package

# The same limits as the grader on Gradescope (autograder/engine/grade.py and sandbox.py).
STRUCK_TIMEOUT = 0.5        # after a function timed out once, its other cases get this long
MAX_OUTPUT_FILE = 8 * 1024 ** 2
MAX_GRADED_FILE = 2 * 1024 ** 2
MAX_MESSAGE = 2000
LOG_TAIL = 1500
GRACE = 2.0                 # seconds past a case's limit before its process is stopped
START_TIMEOUT = 300.0       # importing torch the first time can be slow


class RunnerError(Exception):
    """The public tests themselves cannot run (not a problem of your code)."""


class CaseResult:
    def __init__(self, case, score, kind, output, seconds=None):
        self.case, self.score, self.kind, self.output, self.seconds = case, score, kind, output, seconds

    @property
    def passed(self):
        return self.kind == "passed"

    @property
    def name(self):
        return self.case["name"]


def _load_by_path(name, path):
    """A module from a file, under a private name (nothing else called `autograder` is touched)."""
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_manifest():
    path = REFERENCE / "manifest.json"
    if not path.is_file():
        raise RunnerError(f"{path} is missing: download the handout again")
    return json.loads(path.read_text(encoding="utf-8"))


def public_cases():
    return load_manifest()["cases"]


# -- the pytest side ----------------------------------------------------------------------
class PublicRunner:
    """Runs public cases one at a time in a worker process, as the grader does."""

    def __init__(self, root=PART_ROOT, python=sys.executable):
        self.root, self.python = Path(root), python
        self.manifest = load_manifest()
        self.compare = _load_by_path("hw4_public_compare", GRADER / "autograder" / "engine" / "compare.py")
        self.results = {}               # case id -> CaseResult, in the order run
        self.struck, self.import_hangs = set(), {}
        self.started = None
        self.tmp = Path(tempfile.mkdtemp(prefix="hw4-public-tests-"))
        self.submission, self.out = self.tmp / "submission", self.tmp / "out"
        self.out.mkdir()
        self.package = self.manifest["package"]
        self.package_found = (self.root / self.package).is_dir()
        self.copied = self._copy_submission()
        self.worker = None
        self.messages = None
        self.start_error = None

    # The student's graded files only, into a package with an empty __init__.py: on Gradescope
    # nothing else of the submission is importable either.
    def _copy_submission(self):
        package_dir = self.root / self.package
        dest = self.submission / self.package
        dest.mkdir(parents=True)
        (dest / "__init__.py").write_text("")
        problems = {}
        for rel in self.manifest["files"]:
            name = rel.split("/", 1)[1]
            source = package_dir / name
            if not os.path.lexists(source):
                problems[rel] = f"{rel} is missing from the submission"
                continue
            info = os.lstat(source)
            if info.st_mode & 0o170000 != 0o100000:
                problems[rel] = f"{rel} is not a regular file (a link or a folder?); submit the file itself"
                continue
            if info.st_size > MAX_GRADED_FILE:
                problems[rel] = f"{rel} is larger than 2 MB"
                continue
            shutil.copyfile(source, dest / name)
            problems[rel] = None
        return problems

    def close(self):
        self._stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the worker process -----------------------------------------------------------
    def _start(self):
        if self.start_error is not None:
            raise RunnerError(self.start_error)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1",
                   PYTHONIOENCODING="utf-8")
        env.pop("PYTHONPATH", None)
        self.worker_log = open(self.tmp / "worker.log", "ab")
        command = [self.python, "-B", str(Path(__file__).resolve()), "--worker", "--table", self.manifest["table"],
                   "--submission", str(self.submission), "--inputs", str(REFERENCE / "inputs"),
                   "--out", str(self.out)]
        self.worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=self.worker_log, cwd=str(self.tmp), env=env,
                                       universal_newlines=True, encoding="utf-8", bufsize=1)
        self.messages = queue.Queue()
        threading.Thread(target=_read_lines, args=(self.worker.stdout, self.messages), daemon=True).start()
        message = self._next(time.monotonic() + START_TIMEOUT)
        if not (isinstance(message, dict) and message.get("ready")):
            self._stop()
            self.start_error = ("the public tests could not start a Python process with torch "
                                f"({self.python}):\n{self._worker_log_tail()}")
            raise RunnerError(self.start_error)

    def _stop(self):
        if self.worker is not None:
            try:
                self.worker.kill()
            except OSError:
                pass
            self.worker.wait()
            for stream in (self.worker.stdin, self.worker.stdout):
                try:
                    stream.close()
                except (OSError, ValueError):
                    pass
            self.worker_log.close()
            self.worker = None

    def _worker_log_tail(self):
        try:
            return (self.tmp / "worker.log").read_bytes()[-3000:].decode(errors="replace").strip()
        except OSError:
            return ""

    def _next(self, deadline):
        """The next message of the worker; None when it ended, "timeout" when the deadline passed."""
        try:
            line = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return "timeout"
        if line is None:
            return None
        try:
            return json.loads(line)
        except ValueError:
            return {}

    # -- one case ---------------------------------------------------------------------
    def run(self, case):
        """Grade one public case (a dict of the manifest); the same verdict as Gradescope's."""
        if case["id"] in self.results:
            return self.results[case["id"]]
        if self.started is None:
            self.started = time.monotonic()
        copy_problem = self.copied.get(case["file"])
        if time.monotonic() - self.started > self.manifest["deadline"]:
            result = self._failed(case, "not run", "not run: the grading time limit was reached "
                                                   "before this case (earlier cases were too slow)")
        elif copy_problem:
            result = self._failed(case, "missing file", copy_problem)
        elif case["file"] in self.import_hangs:
            result = self._failed(case, "timeout", self.import_hangs[case["file"]])
        else:
            timeout = min(case["timeout"], STRUCK_TIMEOUT) if case["function"] in self.struck else case["timeout"]
            result, phase, message = self._run_case(case, timeout)
            if result.kind == "timeout":
                self.struck.add(case["function"])
                if phase == "import":
                    self.import_hangs[case["file"]] = message
        self.results[case["id"]] = result
        return result

    def _run_case(self, case, timeout):
        """(result, phase, message) for a case that runs."""
        for suffix in (".safetensors", ".log"):
            _remove(self.out / (case["id"] + suffix))
        for attempt in (1, 2):
            if self.worker is None:
                self._start()
            try:
                self.worker.stdin.write(json.dumps({"case": case["id"]}) + "\n")
                self.worker.stdin.flush()
                break
            except OSError:         # the worker ended after the previous case: start another
                self._stop()
                if attempt == 2:
                    raise RunnerError("the worker process of the public tests keeps ending:\n"
                                      + self._worker_log_tail())
        deadline = time.monotonic() + timeout + GRACE
        phase, status = "import", None
        while True:
            message = self._next(deadline)
            if message == "timeout" or message is None:
                break
            if message.get("case") != case["id"]:
                continue
            if "phase" in message:
                phase = message["phase"]
            if "status" in message:
                status = message["status"]
                break
        log_tail = self._log_tail(case["id"])
        if status is None:
            if message == "timeout":
                self._stop()
                return self._timed_out(case, timeout, phase, log_tail)
            code = self.worker.wait()
            self._stop()
            return self._failed(case, "crash", self._crash_message(case, phase, code), log_tail), phase, ""
        seconds = status.get("seconds", 0.0)
        if seconds > timeout:       # finished, but later than Gradescope allows
            phase = "import" if status.get("import_seconds", 0.0) > timeout else "call"
            return self._timed_out(case, timeout, phase, log_tail)
        kind, message = self._explain_status(case, status)
        if kind != "returned":
            return self._failed(case, kind, message, log_tail, seconds), phase, message
        return self._compare(case, log_tail, seconds), phase, ""

    def _timed_out(self, case, timeout, phase, log_tail):
        if phase == "import":
            message = (f"importing {case['file']} did not finish within {timeout:g} s "
                       "(an endless loop or slow work at module level?)")
        else:
            message = (f"{case['function']} did not finish within {timeout:g} s: an endless loop, "
                       "or far too slow (the reference takes milliseconds)")
        return self._failed(case, "timeout", message, log_tail), phase, message

    @staticmethod
    def _crash_message(case, phase, code):
        where = "while importing " + case["file"] if phase == "import" else f"while running {case['function']}"
        if code is not None and code < 0:
            names = {11: "it crashed (segmentation fault)", 9: "it was killed (out of memory?)",
                     6: "it aborted", 7: "it crashed (bus error)", 8: "it crashed (FPE)"}
            return f"the process running the case ended {where}: " + names.get(-code, f"it was stopped by signal {-code}")
        return (f"the process running the case exited {where} (exit code {code}) "
                "before returning: do not call sys.exit, os._exit or quit in graded code")

    @staticmethod
    def _explain_status(case, status):
        outcome = status.get("outcome")
        error = status.get("error") if isinstance(status.get("error"), dict) else {}
        kind, text = str(error.get("type", "")), str(error.get("message", ""))[:MAX_MESSAGE]
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
        return "exception", f"{case['function']} raised {kind}: {text}{where}"

    def _compare(self, case, log_tail, seconds):
        from safetensors.numpy import load

        path = self.out / f"{case['id']}.safetensors"
        if not path.is_file() or path.stat().st_size > MAX_OUTPUT_FILE:
            return self._failed(case, "crash", "no outputs were saved for this case (too large, or removed)",
                                log_tail, seconds)
        try:
            actual = load(path.read_bytes())
        except Exception:  # noqa: BLE001 - any malformed file is the same failure
            return self._failed(case, "crash", "the outputs could not be read back (unsupported dtype, "
                                               "such as bfloat16, or a damaged file)", log_tail, seconds)
        expected, mistakes = self._reference(case)
        tolerances = {name: tuple(value) for name, value in case["tolerances"].items()}
        verdict = self.compare.compare_outputs(expected, actual, tolerances, False)
        if not verdict.passed:
            message = verdict.message
            known = [text for text, outputs in mistakes
                     if self.compare.compare_outputs(outputs, actual, tolerances, True).passed]
            if known:
                message += "\nThis is what a known mistake gives: " + " Or: ".join(dict.fromkeys(known))
            return self._failed(case, verdict.kind, message, log_tail, seconds)
        output = f"Passed: {verdict.message}.\n" + self.compare.summarize(expected, actual)
        return CaseResult(case, case["points"], "passed", output, seconds)

    @staticmethod
    def _reference(case):
        """The expected outputs, and [(message, outputs)] of the known mistakes, checked against the manifest."""
        from safetensors.numpy import load

        def read(rel, digest):
            data = (REFERENCE / rel).read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                raise RunnerError(f"tests/_grader/reference/{rel} was changed: download the handout again")
            return data

        read(case["inputs"], case["inputs_sha256"])
        arrays = load(read(case["expected"], case["expected_sha256"]))
        mistakes = [(m["message"], load(read(m["file"], m["sha256"]))) for m in case.get("mistakes", [])]
        return {name: arrays[name] for name in case["outputs"]}, mistakes

    def _log_tail(self, case_id):
        try:
            with open(self.out / f"{case_id}.log", "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - LOG_TAIL))
                return handle.read(LOG_TAIL).decode(errors="replace")
        except OSError:
            return ""

    @staticmethod
    def _failed(case, kind, message, log_tail="", seconds=None):
        output = f"Failed ({kind}): {message}"
        if log_tail.strip():
            output += "\n--- the end of what your code printed ---\n" + log_tail.rstrip()
        if kind == "not implemented":
            output += f"\nTODO: implement {case['function']} in {case['file']} (replace its raise NotImplementedError)"
        return CaseResult(case, 0.0, kind, output, seconds)


def _read_lines(stream, messages):
    try:
        for line in stream:
            messages.put(line)
    except (OSError, ValueError):
        pass
    messages.put(None)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def summary_rows(results):
    """[(function, earned, possible)] in the order the functions first appear."""
    rows = {}
    for result in results:
        function = result.case["function"]
        earned, possible = rows.get(function, (0.0, 0.0))
        rows[function] = (earned + result.score, possible + result.case["points"])
    return [(function, earned, possible) for function, (earned, possible) in rows.items()]


# -- the worker: runs student code, one case at a time ------------------------------------
def _short(text):
    text = str(text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " [...]"


def _describe_exception(error, submission_root):
    """Exception type, message and the last line of the student's code in the traceback."""
    import traceback

    try:
        message = _short(error)
    except BaseException:   # a __str__ that raises
        message = "(its message could not be printed)"
    where = None
    try:
        for frame in traceback.extract_tb(error.__traceback__):
            if frame.filename.startswith(submission_root):
                where = f"{os.path.relpath(frame.filename, submission_root).replace(os.sep, '/')}, line {frame.lineno}"
    except BaseException:
        pass
    if isinstance(error, SyntaxError) and error.filename and error.filename.startswith(submission_root):
        where = f"{os.path.relpath(error.filename, submission_root).replace(os.sep, '/')}, line {error.lineno}"
    return {"type": type(error).__name__, "message": message, "where": where}


def _forbid(dotted_names, case_error, function):
    """Make the library functions a case forbids fail the case; returns how to undo it."""
    undo = []
    for dotted in dotted_names:
        owner_path, attribute = dotted.rsplit(".", 1)
        parts = owner_path.split(".")
        owner = importlib.import_module(parts[0])
        for part in parts[1:]:
            owner = getattr(owner, part)

        def refuse(*args, _name=dotted, **kwargs):
            raise case_error(f"{function} must not call {_name}: write the formula yourself (see the assignment)")
        undo.append((owner, attribute, vars(owner).get(attribute, refuse), attribute in vars(owner)))
        setattr(owner, attribute, refuse)
    return undo


def _undo(undo):
    for owner, attribute, original, had in reversed(undo):
        if had:
            setattr(owner, attribute, original)
        else:
            delattr(owner, attribute)


def _run_case(case, args, send):
    """Import the student's module afresh, run the case's call, save its outputs; the status."""
    import torch
    from safetensors.torch import load_file, save_file

    from autograder.engine.case import CaseError

    for name in [name for name in sys.modules if name == case.module.split(".")[0]
                 or name.startswith(case.module.split(".")[0] + ".")]:
        del sys.modules[name]       # every case imports the student's code anew, as on Gradescope
    importlib.invalidate_caches()
    status = {}
    started = time.monotonic()
    undo = []
    try:
        undo = _forbid(case.forbidden, CaseError, case.function)
        try:
            module = importlib.import_module(case.module)
        except BaseException as error:  # noqa: B902 - anything at import, SystemExit included
            status.update(outcome="import error", error=_describe_exception(error, args.submission))
            return status
        finally:
            status["import_seconds"] = time.monotonic() - started
        send({"case": case.id, "phase": "call"})
        if not hasattr(module, case.attribute):
            status.update(outcome="missing", error={"type": "AttributeError", "where": None,
                                                    "message": f"{case.module} defines no {case.attribute}"})
            return status
        inputs = load_file(os.path.join(args.inputs, f"{case.id}.safetensors"))
        torch.manual_seed(case.seed)
        outputs = case.call(getattr(module, case.attribute), inputs)
        tensors = {name: value.contiguous() for name, value in outputs.items()}
        save_file(tensors, os.path.join(args.out, f"{case.id}.safetensors"))
        status["outcome"] = "returned"
    except CaseError as error:
        status.update(outcome="contract", error={"type": "CaseError", "message": _short(error), "where": None})
    except BaseException as error:  # noqa: B902 - SystemExit, KeyboardInterrupt and odd classes too
        status.update(outcome="exception", error=_describe_exception(error, args.submission))
    finally:
        status["seconds"] = time.monotonic() - started
        _undo(undo)
    return status


def worker_main(argv):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--table", required=True)
    parser.add_argument("--submission", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    args.submission = os.path.realpath(args.submission) + os.sep

    # The protocol keeps the real stdin and stdout; the student's code gets neither.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    commands = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdin = open(os.devnull)

    def send(message):
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
        del sys.path[0]
    sys.path[:0] = [str(GRADER), args.submission]
    import torch
    torch.set_num_threads(1)
    import safetensors.torch  # noqa: F401 - imported once here, not for every case
    table = importlib.import_module(args.table)
    warmup = getattr(table.PART, "warmup", None)
    if warmup is not None:
        warmup()        # lazy imports of torch paid once here, not inside a case's time limit
    cases = {case.id: case for case in table.PART.cases}
    default_dtype, grad_enabled = torch.get_default_dtype(), torch.is_grad_enabled()
    send({"ready": True})

    for line in commands:
        case = cases[json.loads(line)["case"]]
        send({"case": case.id, "phase": "import"})
        log = os.open(os.path.join(args.out, f"{case.id}.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        saved = os.dup(1), os.dup(2)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        try:
            status = _run_case(case, args, send)
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()      # what the student printed, for the log
                except BaseException:  # noqa: B902
                    pass
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            # What a case changes globally must not leak into the next one (on Gradescope,
            # each case runs in a process of its own).
            torch.set_default_dtype(default_dtype)
            torch.set_grad_enabled(grad_enabled)
            torch.set_num_threads(1)
        send({"case": case.id, "status": status})


if __name__ == "__main__":
    if "--worker" not in sys.argv[1:]:
        sys.exit("This file is run by the public tests: use `python -m pytest tests` in the part's folder.")
    worker_main(sys.argv[1:])
