"""Run one case on the student's code: import, forbid, call, save.

The one place where a case meets student code. The sandboxed worker (on Gradescope, in
`simulate`, `regrade`), the students' public tests and the project's in-process tests all
run cases through these functions, so that a case is run the same way everywhere. Nothing
here decides what a result is worth: that is the verdict's job, in the trusted process.

The status of a case is a small JSON-able dict:
  {"phase": "import" | "call" | "done",
   "outcome": "returned" | "import error" | "missing" | "contract" | "exception",
   "error": {"type", "message", "where"}}
"""
import importlib
import os
import traceback
from typing import Callable, Dict, List, Optional, Tuple

MAX_MESSAGE = 2000
STATUS_SUFFIX = ".status.json"
OUTPUTS_SUFFIX = ".safetensors"
LOG_SUFFIX = ".log"


def short(text) -> str:
    text = str(text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " [...]"


def _relative(filename: str, submission_root: str) -> str:
    return os.path.relpath(filename, submission_root).replace(os.sep, "/")


def describe_exception(error: BaseException, submission_root: str) -> dict:
    """Exception type, message and the last line of the student's code in its traceback."""
    try:
        message = short(error)
    except BaseException:   # noqa: B902 - a __str__ that raises
        message = "(its message could not be printed)"
    where = None
    try:
        for frame in traceback.extract_tb(error.__traceback__):
            if frame.filename.startswith(submission_root):
                where = f"{_relative(frame.filename, submission_root)}, line {frame.lineno}"
        if isinstance(error, SyntaxError) and error.filename and str(error.filename).startswith(submission_root):
            where = f"{_relative(error.filename, submission_root)}, line {error.lineno}"
    except BaseException:   # noqa: B902 - odd exception classes must not break grading
        pass
    return {"type": type(error).__name__, "message": message, "where": where}


# -- forbidden library functions ----------------------------------------------------------
def _owner_of(dotted: str):
    owner_path, attribute = dotted.rsplit(".", 1)
    parts = owner_path.split(".")
    owner = importlib.import_module(parts[0])
    for part in parts[1:]:
        owner = getattr(owner, part)
    return owner, attribute


def forbid(dotted_names, function: str, case_error, modules=()) -> List[Tuple[object, str, object, bool]]:
    """Make the library functions a case forbids fail the case with a clear message.

    The function is replaced where it lives, and so is every reference to it that the
    student's already imported `modules` hold (`from torch.nn.functional import
    binary_cross_entropy_with_logits` binds the original at import time). Returns what
    `unforbid` needs to undo it (a forked child never needs to)."""
    undo = []
    for dotted in dotted_names:
        owner, attribute = _owner_of(dotted)
        original = getattr(owner, attribute, None)

        def refuse(*args, _name=dotted, **kwargs):
            raise case_error(f"{function} must not call {_name}: write the formula yourself (see the assignment)")
        undo.append((owner, attribute, vars(owner).get(attribute, refuse), attribute in vars(owner)))
        setattr(owner, attribute, refuse)
        if original is None:
            continue
        for module in modules:
            namespace = vars(module)
            for name, value in list(namespace.items()):
                if value is original:
                    undo.append((module, name, value, True))
                    namespace[name] = refuse
    return undo


def unforbid(undo) -> None:
    for owner, attribute, original, had in reversed(undo):
        if had:
            setattr(owner, attribute, original)
        else:
            delattr(owner, attribute)


# -- the two phases -------------------------------------------------------------------------
def import_graded(module_name: str, submission_root: str):
    """(module, None) or (None, status of the import error)."""
    try:
        return importlib.import_module(module_name), None
    except BaseException as error:  # noqa: B902 - anything at import, SystemExit included
        return None, {"phase": "import", "outcome": "import error",
                      "error": describe_exception(error, submission_root)}


def call_case(case, module, inputs: Dict, case_error, submission_root: str,
              seed_everything: Callable[[int], None]) -> Tuple[dict, Optional[Dict]]:
    """Run the case's call on the student's `module`: (status, outputs or None).

    `seed_everything(seed)` seeds the global generators before the call (torch's), so that
    code drawing from them is reproducible."""
    status = {"phase": "call"}
    if not hasattr(module, case.attribute):
        status.update(outcome="missing", error={"type": "AttributeError", "where": None,
                                                "message": f"{case.module} defines no {case.attribute}"})
        return status, None
    try:
        seed_everything(case.seed)
        outputs = case.call(getattr(module, case.attribute), inputs)
        status["outcome"] = "returned"
        return status, outputs
    except case_error as error:
        status.update(outcome="contract", error={"type": "CaseError", "message": short(error), "where": None})
    except BaseException as error:  # noqa: B902 - SystemExit, KeyboardInterrupt and odd classes too
        status.update(outcome="exception", error=describe_exception(error, submission_root))
    return status, None


# -- files in the output folder ---------------------------------------------------------------
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FD = os.open in getattr(os, "supports_dir_fd", set())


class OutputFolder:
    """The folder a case writes into: fresh files only, never following a planted link."""

    def __init__(self, path: str):
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if _DIR_FD else None

    def _open(self, name: str) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | getattr(os, "O_BINARY", 0)
        if self.fd is not None:
            return os.open(name, flags, 0o600, dir_fd=self.fd)
        return os.open(os.path.join(self.path, name), flags, 0o600)

    def _replace(self, tmp: str, name: str) -> None:
        if self.fd is not None:
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        else:
            os.replace(os.path.join(self.path, tmp), os.path.join(self.path, name))

    def write_bytes(self, name: str, data: bytes) -> None:
        """Written to a temporary name, then renamed: a reader never sees half a file."""
        tmp = f".{name}.tmp"
        fd = self._open(tmp)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        self._replace(tmp, name)

    def open_log(self, name: str) -> int:
        return self._open(name)


def write_status(folder: OutputFolder, case_id: str, status: dict) -> None:
    import json
    folder.write_bytes(case_id + STATUS_SUFFIX, json.dumps(status).encode())


def save_outputs(folder: OutputFolder, case_id: str, outputs: Dict) -> None:
    from safetensors.torch import save

    folder.write_bytes(case_id + OUTPUTS_SUFFIX, save({name: value.contiguous() for name, value in outputs.items()}))
