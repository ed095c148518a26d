"""The worker: the process that runs student code, one case at a time.

Started by the trusted side (the grader, or the students' public tests) from a copy that
holds this engine, the case table and the cases' inputs (never an expected output). It
imports torch, the case table and the allowed packages the graded files use once, installs
the import guard, then answers commands on stdin.

Fork mode (Linux; always on Gradescope): for each graded file a "zygote" process is forked
that imports the student's module once; each case is a child forked from its file's zygote,
so a case costs only its call, and whatever it changes dies with it. The zygote enforces
the time limit and, being a child subreaper, kills everything the case left running
(daemons included) before it answers. An import that hangs, crashes or fails is reported
for the file once.

Time limits are in CPU seconds, with a wall-clock cap for code that waits instead of
computing: slow but correct code is not failed because the machine is busy or has half a
CPU, and a busy loop is stopped as soon as it has used its share.

In-process mode (macOS, Windows: no safe fork after importing torch): cases run one after
another in the worker itself, each importing the student's module afresh; a time limit is
enforced by the trusted side, which stops the worker and starts another.

Protocol, one JSON object per line:
  trusted -> worker  {"cases": [id, ...], "cpu": s, "wall": s, "import": [cpu s, wall s]}
                     cases of one file, side by side, and the limits of the file's import
  worker -> trusted  {"ready": true, ...} once, then a line per case, once all have ended:
                     {"case": id, "ended": how, "seconds": s, "exit": code, "signal": n, "import": {...}}
  where `how` is "exit", "signal", "timeout", "import timeout", "import crash" or "import error".
Between two submissions (regrade's warm mode; fork mode only):
  trusted -> worker  {"reset": true}     end every process the last submission left (zygotes, cases,
                                         daemons) and empty the IPC namespace
  worker -> trusted  {"reset": true}     once nothing but the worker is left
  trusted -> worker  {"load": true}      the new files are in place: import what they import
  worker -> trusted  {"loaded": true, "preimported": [...], "memory_limit": n}
Several cases at once share the limits: the trusted side asks for that only for the other
cases of a function that already timed out, so that code stuck everywhere costs one wait
per function, not one per case. Nothing the worker says is trusted beyond what it costs the
student's own grade: the verdict comes from the outputs the trusted side reads and compares.
"""
import argparse
import contextlib
import gc
import importlib
import json
import os
import select
import signal
import sys
import time

try:
    import resource
except ImportError:         # Windows: in-process mode only, without rlimits
    resource = None

if __name__ == "__main__":  # run as a script: the folder holding the autograder package goes on the path
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != os.path.dirname(os.path.realpath(__file__))]
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))))

from autograder.engine.processes import (CPU_WAIT_STRETCH, WallClock, become_subreaper,  # noqa: E402
                                         children_of, cpu_seconds, kill_descendants, remove_sysv_ipc)

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_THP_DISABLE = 41
REPLY_GRACE = 1.0           # seconds a zygote gets beyond its wall-clock limit to answer
POLL = 0.02                 # seconds between CPU-time readings of running cases


def _prctl(option: int, value: int) -> bool:
    """Where prctl exists (Linux); False elsewhere."""
    import ctypes
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def describe_end(status) -> dict:
    if os.WIFSIGNALED(status):
        return {"ended": "signal", "exit": None, "signal": os.WTERMSIG(status)}
    return {"ended": "exit", "exit": os.WEXITSTATUS(status), "signal": None}


def wait_for_all(pids, cpu: float, wall: float, count_cpu_waits: bool = True):
    """({pid: (wait status, seconds, CPU seconds)} of the children that ended in time, {pid: "cpu" or
    "wall"} of those killed once they had used `cpu` seconds of CPU time or were past the wall-clock
    cap `wall`: not counting time spent waiting for a CPU (WallClock), unless `count_cpu_waits` is
    False (children side by side, who wait for each other's CPU)."""
    clocks = {pid: WallClock(pid) for pid in pids}
    pidfds = {}
    for pid in pids:
        try:
            pidfds[pid] = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pass
    ended, over = {}, {}
    try:
        while True:
            for pid in pids:
                if pid not in ended:
                    done, status, usage = os.wait4(pid, os.WNOHANG)
                    if done:
                        ended[pid] = (status, clocks[pid].real(), usage.ru_utime + usage.ru_stime)
            running = [pid for pid in pids if pid not in ended]
            if not running:
                break
            for pid in running:
                if pid in over:
                    continue
                past_wall = clocks[pid].over(wall) if count_cpu_waits else clocks[pid].real() >= wall
                if past_wall or cpu_seconds(pid) >= cpu:
                    over[pid] = "wall" if past_wall else "cpu"
                    os.kill(pid, signal.SIGKILL)
            if all(pid in over for pid in running):
                for pid in running:
                    os.waitpid(pid, 0)
                break
            waiting = [pidfds[pid] for pid in running if pid in pidfds]
            if len(waiting) == len(running):
                select.select(waiting, [], [], POLL)
            else:               # no pidfd (an old kernel): poll
                time.sleep(min(POLL, 0.005))
    finally:
        for fd in pidfds.values():
            os.close(fd)
    return {pid: value for pid, value in ended.items() if pid not in over}, over


# -- the network ---------------------------------------------------------------------------
def block_network() -> str:
    """With seccomp: sockets of every address family but AF_UNIX fail, and io_uring (which
    could open sockets without the socket call) is refused. A line for the worker's log."""
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

    allow, compare_not_equal = 0x7FFF0000, 1
    refuse_eacces, refuse_eperm = 0x00050000 | 13, 0x00050000 | 1
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    context = lib.seccomp_init(allow)
    if not context:
        return "network: seccomp_init failed, sockets are not blocked"
    import socket
    for name in (b"socket", b"socketpair"):
        rule = ArgCmp(0, compare_not_equal, socket.AF_UNIX, 0)
        number = lib.seccomp_syscall_resolve_name(name)
        if lib.seccomp_rule_add_array(context, refuse_eacces, number, 1, ctypes.byref(rule)) != 0:
            return "network: a seccomp rule was refused, sockets are not blocked"
    for name in (b"io_uring_setup", b"io_uring_enter", b"io_uring_register"):
        number = lib.seccomp_syscall_resolve_name(name)
        if number >= 0:
            lib.seccomp_rule_add_array(context, refuse_eperm, number, 0, None)
    if lib.seccomp_load(context) != 0:
        return "network: seccomp_load failed, sockets are not blocked"
    return "network: sockets of every family but AF_UNIX are refused, and io_uring (seccomp)"


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic collector off while trusted packages import (torch, the table, the allowed
    packages), and back as it was after, before any student code runs. Their imports create
    hundreds of thousands of objects and little garbage, and the collections they set off would
    cost a tenth of `import torch` and a fifth of `import torch._dynamo` (benchmarks/README.md).
    The little garbage left is frozen with the rest."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# -- the worker ------------------------------------------------------------------------------
class Worker:
    @collector_paused()
    def __init__(self, args, protocol, commands):
        self.args, self.protocol = args, protocol
        self.private_fds = (protocol.fileno(), commands.fileno())   # closed in every forked process
        import torch
        from autograder.engine import run_case
        from autograder.engine.case import CaseError
        from autograder.engine.imports import ImportGuard

        self.torch, self.run_case, self.CaseError = torch, run_case, CaseError
        torch.set_num_threads(1)
        import safetensors.torch      # once here, not in every case
        self.table = importlib.import_module(args.table)
        self.part = self.table.PART
        if self.part.warmup is not None:
            self.part.warmup()      # lazy set-up of torch paid once, outside every case's time limit
        safetensors.torch.save({"warm": torch.zeros(2)})    # the output path's first-call set-up, once
        self.cases = {case.id: case for case in self.part.cases}
        self.load_submission()
        graded_modules = [rel[:-len(".py")].replace("/", ".") for rel in self.part.files]
        self.guard = ImportGuard(args.allowed, self.part.package, args.submission, graded_modules).install()
        self.out = run_case.OutputFolder(args.out)
        self.zygotes = {}           # module name -> Zygote
        gc.freeze()     # what is imported so far stays out of the collector: forked children do not copy it

    @collector_paused()
    def load_submission(self) -> None:
        """Import the allowed packages the graded files import, then measure the address space the
        cases get: in fork mode each zygote applies it to itself, so that the worker can load
        another submission's imports later (regrade's warm mode) and its cases get the same limit."""
        from autograder.engine.imports import preimport
        sources = []
        for rel in self.part.files:
            try:
                with open(os.path.join(self.args.submission, rel), encoding="utf-8", errors="replace") as handle:
                    sources.append(handle.read())
            except OSError:
                pass
        self.preimported = preimport(sources, self.args.allowed)
        if self.args.mode == "fork":
            self.memory_limit = self._address_space_limit(self.args.memory_allowance)
        else:
            self.memory_limit = self._limit_memory(self.args.memory_allowance)
        gc.freeze()

    def reset(self) -> None:
        """Before another submission: nothing of the last one may outlive it."""
        for zygote in self.zygotes.values():
            zygote.stop()
        self.zygotes = {}
        kill_descendants()
        if self.args.private_ipc:
            remove_sysv_ipc()

    @staticmethod
    def _address_space_limit(allowance: int):
        """Address space: what this process maps now (torch and the allowed packages, whatever
        their build maps) plus `allowance` for the cases."""
        if not allowance or resource is None:
            return None
        mapped = 0
        try:
            with open("/proc/self/status") as handle:
                for line in handle:
                    if line.startswith("VmSize:"):
                        mapped = int(line.split()[1]) * 1024
        except OSError:
            return None
        return mapped + allowance

    @staticmethod
    def _limit_memory(allowance: int):
        """The limit of _address_space_limit, on this process (and every child it forks)."""
        limit = Worker._address_space_limit(allowance)
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        return limit

    def send(self, message: dict) -> None:
        self.protocol.write(json.dumps(message) + "\n")
        self.protocol.flush()

    def ready(self) -> None:
        self.send({"ready": True, "mode": self.args.mode, "preimported": self.preimported,
                   "memory_limit": self.memory_limit})

    def serve(self, commands) -> None:
        for line in commands:
            command = json.loads(line)
            if command.get("reset"):
                self.reset()
                self.send({"reset": True})
                continue
            if command.get("load"):
                self.load_submission()
                self.send({"loaded": True, "preimported": self.preimported, "memory_limit": self.memory_limit})
                continue
            cases = [self.cases[case_id] for case_id in command["cases"]]
            started = time.monotonic()
            if self.args.mode == "fork":
                import_cpu, import_wall = command.get("import") or (command["cpu"], command["wall"])
                replies = self.run_forked(cases, float(command["cpu"]), float(command["wall"]),
                                          float(import_cpu), float(import_wall))
            else:
                replies = [self.run_in_process(case) for case in cases]
            for case, reply in zip(cases, replies):
                reply.setdefault("seconds", round(time.monotonic() - started, 4))
                self.send({"case": case.id, **reply})

    def load_inputs(self, case) -> dict:
        from safetensors.torch import load_file
        return load_file(os.path.join(self.args.inputs, f"{case.id}.safetensors"))

    def call(self, case, module, inputs: dict) -> dict:
        """Forbid, call, save: the status to write (the module is imported)."""
        run_case, submission = self.run_case, self.args.submission
        undo = run_case.forbid(case.forbidden, case.function, self.CaseError, [module])
        try:
            status, outputs = run_case.call_case(case, module, inputs, self.CaseError, submission,
                                                 self.torch.manual_seed)
            if outputs is not None:
                try:
                    run_case.save_outputs(self.out, case.id, outputs)
                except BaseException as error:  # noqa: B902 - e.g. a tensor safetensors cannot store
                    status.update(outcome="exception", error=run_case.describe_exception(error, submission))
        finally:
            run_case.unforbid(undo)
        status["phase"] = "done"
        return status

    # -- fork mode ------------------------------------------------------------------------------
    def run_forked(self, cases, cpu: float, wall: float, import_cpu: float, import_wall: float) -> list:
        module = cases[0].module
        zygote = self.zygotes.get(module)
        if zygote is None:
            # Until the import is over the cases' status says so, as in in-process mode: an import that
            # kills this worker is then judged once for its file, not once per function.
            self._write_phase(cases, "import")
            zygote = Zygote(self, module)
            self.zygotes[module] = zygote
            zygote.start(import_cpu, import_wall)
            if zygote.import_failure is not None:
                self._kill_orphans()        # what the failed import started, now re-parented here
            else:
                self._write_phase(cases, "call")
        if zygote.import_failure is not None:
            return [dict(zygote.import_failure) for _ in cases]
        replies = zygote.run(cases, cpu, wall)
        if replies is None:     # the zygote did not answer: stopped or killed by a case
            zygote.stop()
            del self.zygotes[module]
            self._kill_orphans()
            return [{"ended": "timeout", "exit": None, "signal": None} for _ in cases]
        return replies

    def _write_phase(self, cases, phase: str) -> None:
        for case in cases:
            self.run_case.write_status(self.out, case.id, {"phase": phase})

    def _kill_orphans(self) -> None:
        """Every process below the worker but the live zygotes (and their cases)."""
        kill_descendants(keep={z.pid for z in self.zygotes.values() if z.pid is not None})

    # -- in-process mode ------------------------------------------------------------------------
    def run_in_process(self, case) -> dict:
        """The case in this process; the trusted side enforces its time limit by stopping us."""
        run_case, torch = self.run_case, self.torch
        package = self.part.package
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]       # every case imports the student's code anew
        importlib.invalidate_caches()
        saved = os.dup(1), os.dup(2)
        log = self.out.open_log(case.id + run_case.LOG_SUFFIX)
        _flush_streams()
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        default_dtype, grad_enabled = torch.get_default_dtype(), torch.is_grad_enabled()
        try:
            run_case.write_status(self.out, case.id, {"phase": "import"})
            module, status = run_case.import_graded(case.module, self.args.submission)
            if module is not None:
                run_case.write_status(self.out, case.id, {"phase": "call"})
                status = self.call(case, module, self.load_inputs(case))
            status["phase"] = "done"
        finally:
            _flush_streams()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            torch.set_default_dtype(default_dtype)      # what a case changes must not leak into the next
            torch.set_grad_enabled(grad_enabled)
            torch.set_num_threads(1)
        run_case.write_status(self.out, case.id, status)
        return {"ended": "exit", "exit": 0, "signal": None}


class Zygote:
    """A process that imported one graded module; each case of that file is forked from it."""

    def __init__(self, worker: Worker, module: str):
        self.worker, self.module = worker, module
        self.pid = self.commands = self.replies = None
        self.import_failure = None      # the reply for every case of the file when its import failed
        self._buffer = b""
        self._status = None             # the wait status, once it has ended
        self._closed = False
        self.spare = None               # inside the zygote: the next case's child, forked ahead

    # -- seen from the worker ---------------------------------------------------------------------
    def start(self, cpu: float, wall: float) -> None:
        """Fork the zygote and wait for its import, within the same limits as a case."""
        command_read, command_write = os.pipe()
        reply_read, reply_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                others = [fd for zygote in self.worker.zygotes.values() if zygote is not self
                          for fd in (zygote.commands, zygote.replies) if fd is not None]
                for fd in self.worker.private_fds + (command_write, reply_read) + tuple(others):
                    os.close(fd)
                code = self._main(command_read, reply_write)
            finally:
                os._exit(code)
        os.close(command_read)
        os.close(reply_write)
        self.pid, self.commands, self.replies = pid, command_write, reply_read
        # The import's limits hold for the original and then for the copy it goes on in (see
        # _leave_import_threads_behind), which loads the cases' inputs before it answers: one clock
        # follows both, and the copy's CPU time counts on top of the original's.
        clock = WallClock(pid)
        reply = self._read_within(cpu, wall, wall * CPU_WAIT_STRETCH, clock)
        if reply is not None and "continued" in reply:
            cpu_used = self._take_over(reply["continued"])
            if cpu_used is None:
                return
            clock.follow(self.pid)
            reply = self._read_within(cpu - cpu_used, wall, wall * CPU_WAIT_STRETCH, clock)
        if reply is None:
            self.import_failure = {"ended": "import crash" if self._closed else "import timeout"}
            self._reap_if_closed()
            self.stop()
            self.import_failure.update(self._end_details())
        elif reply.get("imported") is False:
            status = reply.get("status") if isinstance(reply.get("status"), dict) else {}
            self.import_failure = {"ended": "import error", "exit": None, "signal": None, "import": status}
            self.stop()
        elif reply.get("imported") is not True or "continued" in reply:
            self._lost_track()

    def _take_over(self, pid):
        """The zygote went on in a copy of itself: reap the original, and from now on wait for and kill
        the copy, which must be one of this worker's children. The CPU seconds the original used; None
        if the copy is not ours (the file's cases cannot run)."""
        # The copy speaks only once the original has ended: it is reaped within microseconds, the time
        # the kernel takes to finish its exit. Still running, it wrote that line itself.
        ended = _wait_for_exit(self.pid, patience=1.0)
        if ended is None:
            self._lost_track()
            return None
        if isinstance(pid, int) and not isinstance(pid, bool) and pid in children_of(os.getpid()):
            self.pid = pid
            usage = ended[1]
            return usage.ru_utime + usage.ru_stime
        self.pid = None         # whatever wrote that line, it is not the zygote's copy
        self._lost_track()
        return None

    def _lost_track(self) -> None:
        """The replies do not follow the protocol: something else wrote on the pipe, or the student's
        import broke the zygote. The file's cases cannot run."""
        self.import_failure = {"ended": "import crash", "exit": None, "signal": None}
        self.stop()

    def _alive(self) -> bool:
        try:
            done, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        if done:
            self._status = status
            return False
        return True

    def _reap_if_closed(self, patience: float = 1.0) -> None:
        """It closed its end of the pipe: it is exiting; wait for its own exit status."""
        if self._closed and self._status is None:
            ended = _wait_for_exit(self.pid, patience)
            if ended is not None:
                self._status = ended[0]

    def _end_details(self) -> dict:
        """How it ended: its exit code or signal (not `ended`, which the caller decides)."""
        if self._status is None:
            return {"exit": None, "signal": None}
        return {key: value for key, value in describe_end(self._status).items() if key != "ended"}

    def _read_within(self, cpu: float, wall: float, real: float, clock: WallClock = None):
        """The zygote's next reply before it has used `cpu` seconds of CPU time, or `clock` (by default,
        from now) has counted `wall` seconds other than waiting for a CPU, or `real` seconds in all; None
        otherwise, with `_closed` telling whether it closed its end (it died) or ran out of time."""
        clock = clock or WallClock(self.pid)
        self._closed = False
        while b"\n" not in self._buffer:
            left = real - clock.real()
            if left <= 0 or clock.counted() >= wall or cpu_seconds(self.pid) >= cpu:
                return None
            ready, _, _ = select.select([self.replies], [], [], min(left, POLL))
            if not ready:
                continue
            chunk = os.read(self.replies, 65536)
            if not chunk or len(self._buffer) > 1 << 20:
                self._closed = True
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply = json.loads(line)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def run(self, cases, cpu: float, wall: float):
        """The zygote's account of each case, or None when it did not answer in time."""
        died = [{"ended": "exit", "exit": None, "signal": None} for _ in cases]
        try:
            os.write(self.commands, (json.dumps({"cases": [case.id for case in cases], "cpu": cpu, "wall": wall})
                                     + "\n").encode())
        except OSError:
            self._alive()
            return [{**reply, **self._end_details()} for reply in died]
        # The zygote itself uses no CPU to speak of: what bounds it is its cases' longest real time.
        reply = self._read_within(float("inf"), float("inf"), wall * CPU_WAIT_STRETCH + REPLY_GRACE)
        if reply is None:
            self._reap_if_closed()
            return [{**reply, **self._end_details()} for reply in died] if not self._alive() else None
        answers = reply.get("replies") if isinstance(reply.get("replies"), list) else []
        if len(answers) != len(cases):
            return None
        return [{key: answer.get(key) for key in ("ended", "limit", "exit", "signal", "seconds", "cpu")}
                if isinstance(answer, dict) else dict(died[0]) for answer in answers]

    def stop(self) -> None:
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                _, status = os.waitpid(self.pid, 0)
                if self._status is None:
                    self._status = status
            except ChildProcessError:
                pass
        for fd in (self.commands, self.replies):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.pid = self.commands = self.replies = None

    # -- inside the zygote -----------------------------------------------------------------
    def _main(self, command_read: int, reply_write: int) -> int:
        worker, run_case = self.worker, self.worker.run_case
        if worker.memory_limit is not None:         # the student's import and every case within it
            resource.setrlimit(resource.RLIMIT_AS, (worker.memory_limit, worker.memory_limit))
        become_subreaper()                          # what a case leaves running stays below us
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)    # and dies with the worker
        # The worker's own memory (torch) is in huge pages (session.WORKER_MALLOC): that makes each
        # fork cheap. What the student's import and the cases allocate is not, so that none of their
        # allocations waits, within their time limits, for the kernel to compact memory into one.
        _prctl(PR_SET_THP_DISABLE, 1)
        self.pipes = (command_read, reply_write)
        replies = os.fdopen(reply_write, "w", buffering=1)
        _redirect_output(worker.out.open_log(self.module + ".import" + run_case.LOG_SUFFIX))
        module, failure = run_case.import_graded(self.module, worker.args.submission)
        _flush_streams()
        kill_descendants()      # nothing started at import time outlives the import
        if failure is not None:
            replies.write(json.dumps({"imported": False, "status": failure}) + "\n")
            return 0
        self._leave_import_threads_behind()
        replies.write(json.dumps({"continued": os.getpid()}) + "\n")    # the worker now times this copy
        self.inputs = {case.id: worker.load_inputs(case) for case in worker.cases.values()
                       if case.module == self.module}      # read once here, not in every case's child
        gc.freeze()             # the student's module too: a collection in a case copies no page of it
        replies.write(json.dumps({"imported": True}) + "\n")
        for line in os.fdopen(command_read, "r"):
            command = json.loads(line)
            cases = [worker.cases[case_id] for case_id in command["cases"]]
            answers = self._cases(cases, module, float(command["cpu"]), float(command["wall"]))
            replies.write(json.dumps({"replies": answers}) + "\n")
        return 0

    def _leave_import_threads_behind(self) -> None:
        """Go on in a forked copy: a fork keeps only the calling thread, so threads the module started
        at import stay in this process, which ends here. The copy, re-parented to the worker (a
        subreaper), serves the cases."""
        importer = os.getpid()
        if os.fork() != 0:
            os._exit(0)
        while os.getppid() == importer:         # until the worker is the parent: the death signal is its
            time.sleep(0.0005)
        become_subreaper()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def _cases(self, cases, module, cpu: float, wall: float) -> list:
        """Run the cases; then nothing they started is left, and the sandbox's IPC namespace is empty."""
        if len(cases) == 1:
            replies = [self._one_case(cases[0], module, cpu, wall)]
        else:
            replies = self._side_by_side(cases, module, cpu, wall)
        kill_descendants(keep={self.spare.pid} if self.spare else ())
        if self.worker.args.private_ipc:
            remove_sysv_ipc()       # every object in the sandbox's own IPC namespace is a case's
        return replies

    def _one_case(self, case, module, cpu: float, wall: float) -> dict:
        """One case in the child forked ahead for it; the next one's child is forked while it runs (on
        another CPU where there is one: the case itself sees no difference)."""
        child = self.spare if self.spare is not None and self.spare.alive() else Spare.fork(self, module)
        child.assign(case, cpu)
        self.spare = Spare.fork(self, module, running=child)
        ended, over = wait_for_all([child.pid], cpu, wall)
        child.close()
        return _reply(child.pid, ended, over)

    def _side_by_side(self, cases, module, cpu: float, wall: float) -> list:
        """A child per case, all forked at once, sharing the limits."""
        pids = []
        for case in cases:
            pid = os.fork()
            if pid == 0:
                self._close_inherited()
                self._child(case, module, cpu)
            pids.append(pid)
        ended, over = wait_for_all(pids, cpu, wall, count_cpu_waits=False)    # one window for them all
        return [_reply(pid, ended, over) for pid in pids]

    def _close_inherited(self, *others) -> None:
        """In a child: the zygote's pipes, and the spare's, are none of its business."""
        spare = (self.spare.command,) if self.spare is not None else ()
        for fd in self.pipes + spare + others:
            try:
                os.close(fd)
            except OSError:
                pass

    def _child(self, case, module, cpu: float) -> None:
        """The forked case: never returns."""
        worker, run_case = self.worker, self.worker.run_case
        code = 0
        try:
            limit = int(cpu) + 2        # a backstop: the zygote stops it at `cpu` seconds
            resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))
            _redirect_output(worker.out.open_log(case.id + run_case.LOG_SUFFIX))
            run_case.write_status(worker.out, case.id, worker.call(case, module, self.inputs[case.id]))
        except BaseException:  # noqa: B902 - the status file says what little we know
            code = 70
        _flush_streams()
        os._exit(code)


def _wait_for_exit(pid: int, patience: float):
    """(wait status, resource usage) of the child `pid` once it has ended, within `patience` seconds;
    None if it is still running then, or is not a child to reap."""
    deadline = time.monotonic() + patience
    while True:
        try:
            done, status, usage = os.wait4(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return status, usage
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.001)


def _reply(pid: int, ended: dict, over: dict) -> dict:
    """The reply line's fields for a case's child, from what wait_for_all saw of it."""
    if pid in ended:
        status, seconds, cpu_used = ended[pid]
        return {**describe_end(status), "seconds": round(seconds, 4), "cpu": round(cpu_used, 4)}
    return {"ended": "timeout", "limit": over.get(pid, "wall"), "exit": None, "signal": None}


class Spare:
    """A child of the zygote forked ahead of its case, blocked until told which case to run."""

    def __init__(self, pid: int, command: int):
        self.pid, self.command = pid, command

    @classmethod
    def fork(cls, zygote: "Zygote", module, running: "Spare" = None) -> "Spare":
        command_read, command_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                zygote.spare = None if running is not None else zygote.spare
                zygote._close_inherited(command_write, *((running.command,) if running else ()))
                line = b""
                while not line.endswith(b"\n"):
                    chunk = os.read(command_read, 4096)
                    if not chunk:
                        os._exit(0)             # the zygote ended: no case for this one
                    line += chunk
                os.close(command_read)
                command = json.loads(line)
                case = zygote.worker.cases[command["case"]]
            except BaseException:  # noqa: B902
                os._exit(70)
            zygote._child(case, module, float(command["cpu"]))
        os.close(command_read)
        return cls(pid, command_write)

    def alive(self) -> bool:
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    def assign(self, case, cpu: float) -> None:
        try:
            os.write(self.command, (json.dumps({"case": case.id, "cpu": cpu}) + "\n").encode())
        except OSError:
            pass        # it died: waiting for it says how

    def close(self) -> None:
        try:
            os.close(self.command)
        except OSError:
            pass


def _redirect_output(log_fd: int) -> None:
    """stdout and stderr into `log_fd`; stdin from /dev/null."""
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()      # what the student printed, for the log
        except BaseException:  # noqa: B902
            pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--table", required=True, help="module of the case table, e.g. autograder.hw4.part2")
    parser.add_argument("--runner", required=True, help="folder holding the autograder package copy")
    parser.add_argument("--submission", required=True, help="folder holding the student's package")
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--allowed", default="", help="comma-separated modules graded code may import")
    parser.add_argument("--mode", choices=("fork", "in-process"), default="fork")
    parser.add_argument("--memory-allowance", type=int, default=0, help="bytes of address space for the cases")
    parser.add_argument("--seccomp", action="store_true", help="refuse network sockets with seccomp")
    parser.add_argument("--private-ipc", action="store_true",
                        help="the worker has an IPC namespace of its own: clear it after each case")
    args = parser.parse_args(argv)
    args.submission = os.path.realpath(args.submission) + os.sep
    args.allowed = [name for name in args.allowed.split(",") if name]

    # The protocol keeps the real stdin and stdout; stray prints (torch's, the student's) go to the log.
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    commands = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdin = open(os.devnull)
    if args.seccomp:
        print(block_network(), file=sys.stderr)
    if args.mode == "fork":
        _prctl(PR_SET_DUMPABLE, 0)          # same-user processes cannot read this one's memory
        become_subreaper()                  # orphans of a dead zygote come back here
    sys.path[:0] = [args.runner, args.submission]
    worker = Worker(args, protocol, commands)
    worker.ready()
    worker.serve(commands)


if __name__ == "__main__":
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
