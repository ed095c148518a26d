"""The sandboxed worker: runs student code, one forked child per case.

Started by the trusted parent as the unprivileged user with `python -I`, from a
scratch copy that holds this engine module, the case table and the cases' inputs
(never an expected output). It imports torch and the case table once, then waits
for commands on stdin; for each case it forks a child that imports the student's
module, runs the case's call and writes the outputs as safetensors plus a small
JSON status. The parent decides what the outputs are worth; nothing the worker
says is trusted beyond the bytes of those files.

Protocol (one JSON object per line): parent -> worker {"case": id, "cpu": seconds};
worker -> parent {"ready": true} once, then {"case": id, "exit": code, "signal": n}
after each child has ended.
"""
import argparse
import importlib
import json
import os
import resource
import signal
import sys
import traceback

MAX_MESSAGE = 2000


def _block_network():
    """Forbid AF_INET/AF_INET6/AF_PACKET sockets with seccomp, where libseccomp is present.

    Returns a line for the parent's log saying what was done.
    """
    import ctypes
    import ctypes.util

    path = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(path, use_errno=True)
    except OSError:
        return "network: libseccomp not found, sockets are not blocked"

    class ArgCmp(ctypes.Structure):
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                    ("datum_b", ctypes.c_uint64)]

    scmp_act_allow, scmp_cmp_eq = 0x7FFF0000, 4
    errno_eacces = 0x00050000 | 13      # SCMP_ACT_ERRNO(EACCES)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    ctx = lib.seccomp_init(scmp_act_allow)
    if not ctx:
        return "network: seccomp_init failed, sockets are not blocked"
    import socket
    families = [socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_PACKET", 17)]
    for name in (b"socket", b"socketpair"):
        number = lib.seccomp_syscall_resolve_name(name)
        for family in families:
            rule = ArgCmp(0, scmp_cmp_eq, family, 0)
            if lib.seccomp_rule_add_array(ctx, errno_eacces, number, 1, ctypes.byref(rule)) != 0:
                return "network: a seccomp rule was refused, sockets are not blocked"
    if lib.seccomp_load(ctx) != 0:
        return "network: seccomp_load failed, sockets are not blocked"
    return "network: AF_INET, AF_INET6 and AF_PACKET sockets are blocked (seccomp)"


def _make_undumpable():
    """Stop same-user processes (the student's children) from reading this process's memory or fds."""
    import ctypes
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def _open_private(directory_fd, name):
    """A fresh file in the output folder; refuses to follow a link planted there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    return os.open(name, flags, 0o600, dir_fd=directory_fd)


def _write_json(directory_fd, name, payload):
    tmp = f".{name}.tmp"
    fd = _open_private(directory_fd, tmp)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle)
    os.replace(tmp, name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)


def _short(text):
    text = str(text)
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " [...]"


def _describe_exception(error, submission_root):
    """Exception type, message and the last line of the student's code in the traceback."""
    try:
        message = _short(error)
    except BaseException:   # a __str__ that raises
        message = "(its message could not be printed)"
    where = None
    try:
        for frame in traceback.extract_tb(error.__traceback__):
            if frame.filename.startswith(submission_root):
                where = f"{os.path.relpath(frame.filename, submission_root)}, line {frame.lineno}"
    except BaseException:
        pass
    if isinstance(error, SyntaxError) and error.filename and error.filename.startswith(submission_root):
        where = f"{os.path.relpath(error.filename, submission_root)}, line {error.lineno}"
    return {"type": type(error).__name__, "message": message, "where": where}


def _forbid(dotted_names, case_error, function):
    """Replace library functions a case forbids with ones that fail the case with a clear message."""
    for dotted in dotted_names:
        owner_path, attribute = dotted.rsplit(".", 1)
        parts = owner_path.split(".")
        owner = importlib.import_module(parts[0])
        for part in parts[1:]:
            owner = getattr(owner, part)

        def refuse(*args, _name=dotted, **kwargs):
            raise case_error(f"{function} must not call {_name}: write the formula yourself (see the assignment)")
        setattr(owner, attribute, refuse)


def run_case(case, args, out_fd):
    """In the forked child: import the student's module, run the case, save outputs and status."""
    import torch
    from safetensors.torch import load_file, save_file

    from autograder.engine.case import CaseError

    status = {"phase": "import"}
    _write_json(out_fd, f"{case.id}.status.json", status)
    try:
        _forbid(case.forbidden, CaseError, case.function)
        try:
            module = importlib.import_module(case.module)
        except BaseException as error:  # noqa: B902 - anything at import, SystemExit included
            status.update(phase="import", outcome="import error", error=_describe_exception(error, args.submission))
            return status
        status["phase"] = "call"
        _write_json(out_fd, f"{case.id}.status.json", status)
        if not hasattr(module, case.attribute):
            status.update(outcome="missing", error={"type": "AttributeError", "where": None,
                                                    "message": f"{case.module} defines no {case.attribute}"})
            return status
        inputs = load_file(os.path.join(args.inputs, f"{case.id}.safetensors"))
        torch.manual_seed(case.seed)
        outputs = case.call(getattr(module, case.attribute), inputs)
        tensors = {name: value.contiguous() for name, value in outputs.items()}
        tmp = f".{case.id}.safetensors.tmp"
        os.close(_open_private(out_fd, tmp))
        save_file(tensors, os.path.join(args.out, tmp))
        os.replace(tmp, f"{case.id}.safetensors", src_dir_fd=out_fd, dst_dir_fd=out_fd)
        status["outcome"] = "returned"
    except CaseError as error:
        status.update(outcome="contract", error={"type": "CaseError", "message": _short(error), "where": None})
    except BaseException as error:  # noqa: B902 - SystemExit, KeyboardInterrupt and odd classes too
        status.update(outcome="exception", error=_describe_exception(error, args.submission))
    return status


def child(case, args, cpu_seconds, out_fd):
    """Body of the forked child; never returns."""
    code = 0
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        log = _open_private(out_fd, f"{case.id}.log")
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        sys.stdin = open(os.devnull)
        status = run_case(case, args, out_fd)
        status["phase"] = "done"
        _write_json(out_fd, f"{case.id}.status.json", status)
    except BaseException:  # noqa: B902 - the status file says what little we know
        code = 70
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()      # what the student printed, for the log
        except BaseException:  # noqa: B902
            pass
    os._exit(code)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--table", required=True, help="module of the case table, e.g. autograder.hw4.part2")
    parser.add_argument("--runner", required=True, help="folder holding the autograder package copy")
    parser.add_argument("--submission", required=True, help="folder holding the student's package")
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    args.submission = os.path.realpath(args.submission) + os.sep

    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)       # stray prints (torch's, the student's) go to the log, not the protocol
    print(_block_network(), file=sys.stderr)
    _make_undumpable()
    sys.path[:0] = [args.runner, args.submission]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch
    torch.set_num_threads(1)
    import safetensors.torch  # noqa: F401 - imported once here, not in every child
    table = importlib.import_module(args.table)
    if table.PART.warmup is not None:
        table.PART.warmup()     # once here, not in every forked child (and not inside a case's timeout)
    cases = {case.id: case for case in table.PART.cases}
    out_fd = os.open(args.out, os.O_RDONLY | os.O_DIRECTORY)
    protocol.write(json.dumps({"ready": True}) + "\n")

    for line in sys.stdin:
        command = json.loads(line)
        case = cases[command["case"]]
        pid = os.fork()
        if pid == 0:
            protocol.close()
            child(case, args, int(command["cpu"]), out_fd)
        _, wait_status = os.waitpid(pid, 0)
        reply = {"case": case.id, "exit": os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else None,
                 "signal": os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None}
        protocol.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
