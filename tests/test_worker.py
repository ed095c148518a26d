"""The worker (engine/worker.py) seen through a session with no isolation, as the public tests use it.

What the zygotes give: a graded file is imported once for all its cases in fork mode (once a
case in in-process mode, with the same verdicts); nothing a module starts at import or a case
starts survives it; the address-space limit is what the imports mapped plus an allowance,
whatever torch's build maps; the student's import and cases allocate without huge pages and
find the cyclic collector on (the worker pauses it for its own imports); the import's limits
follow the zygote into the copy it goes on in after the import (its CPU time counts, its waits
for a CPU do not), and nothing an import that failed started outlives it.
"""
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import REPO, make_submission
from autograder.engine.grade import Grader
from autograder.engine.locate import locate
from autograder.engine.reference import load_reference
from autograder.engine.session import Launcher, open_session

COUNTER = textwrap.dedent('''
    import os as _os, subprocess as _subprocess
    with open({path!r}, "a") as _handle:
        _handle.write("imported\\n")
    _subprocess.Popen(["sleep", {seconds!r}], start_new_session=True)     # a daemon started at import
''')


def plain_session(part, submission, mode):
    """(the part's reference, the located files, a session with no isolation for them: not started)."""
    reference = load_reference(REPO / "reference_data" / part)
    manifest = reference.manifest
    located = locate(submission, manifest["package"], manifest["files"])
    session = open_session(manifest, [reference.inputs_file(case) for case in manifest["cases"]], located.files,
                           REPO / "autograder", Launcher(), sys.executable, mode, isolated=False)
    return reference, located, session


def grade_plainly(part, submission, mode, only_files):
    reference, located, session = plain_session(part, submission, mode)
    try:
        return Grader(reference, session, located.problems, only_files=only_files).run()
    finally:
        session.close()


def sleepers(seconds: str):
    done = subprocess.run(["pgrep", "-f", f"^sleep {seconds}$"], capture_output=True, text=True)
    return {int(pid) for pid in done.stdout.split()}


def kill_sleepers(seconds: str) -> None:
    for pid in sleepers(seconds):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("mode, imports", [("fork", "once"), ("in-process", "per case")])
def test_a_graded_file_is_imported_once_in_fork_mode(mode, imports, tmp_path):
    counter = tmp_path / "imports.txt"
    seconds = f"300.{os.getpid()}{len(mode)}"          # names this test's daemons among other tests'
    source = (REPO / "solution" / "part1" / "gan" / "losses.py").read_text() + COUNTER.format(
        path=str(counter), seconds=seconds)
    submission = make_submission(tmp_path, "part1", {"gan/losses.py": source})
    try:
        tests = grade_plainly("part1", submission, mode, ["gan/losses.py"])
        assert tests and all(test.passed for test in tests), [test.text() for test in tests if not test.passed]
        count = counter.read_text().count("imported")
        assert count == (1 if imports == "once" else len(tests)), count
        if mode == "fork":          # what the import started was killed with the import; nothing is left
            time.sleep(0.2)
            assert not sleepers(seconds)
    finally:                        # in-process mode kills nothing: this test's own daemons go here
        kill_sleepers(seconds)


def test_the_address_space_limit_counts_what_the_imports_mapped(tmp_path):
    """A torch build that maps gigabytes just to import (the CUDA one) must still leave the
    cases their allowance: the limit is measured after the imports, not fixed."""
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent(f'''
        import mmap, sys
        sys.path.insert(0, {str(REPO)!r})
        mapped = mmap.mmap(-1, 3 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=0)  # PROT_NONE: mapped, never committed
        from autograder.engine.worker import Worker
        limit = Worker._limit_memory(512 << 20)
        block = bytearray(256 << 20)            # within the allowance
        try:
            bytearray(1 << 30)                  # beyond it
            print("no limit")
        except MemoryError:
            print("limited", limit)
    '''))
    done = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    word, limit = done.stdout.split()
    assert word == "limited" and int(limit) > 3 << 30


# appended to a graded file: the value of {probe} (an expression of the student's process), written
# at import and in every case that calls bce_loss
RECORDER = textwrap.dedent('''
    def _record(when):
        with open({path!r}, "a") as _handle:
            _handle.write(when + " " + str({probe}) + "\\n")
    _record("import")
    _bce_loss = bce_loss
    def bce_loss(*args, **kwargs):
        _record("case")
        return _bce_loss(*args, **kwargs)
''')


def seen_by_student_code(tmp_path, mode: str, probe: str) -> set:
    """{"import VALUE", "case VALUE", ...}: what `probe` gave in the student's import and cases of
    gan/losses.py (the solution's, which must pass), graded in `mode`."""
    record = tmp_path / "record.txt"
    source = (REPO / "solution" / "part1" / "gan" / "losses.py").read_text() + RECORDER.format(
        path=str(record), probe=probe)
    submission = make_submission(tmp_path, "part1", {"gan/losses.py": source})
    tests = grade_plainly("part1", submission, mode, ["gan/losses.py"])
    assert tests and all(test.passed for test in tests), [test.text() for test in tests if not test.passed]
    return set(record.read_text().split("\n")[:-1])


# the prctl flag: the THP_enabled line of /proc/self/status
THP_FLAG = 'next(_l.split()[1] for _l in open("/proc/self/status") if _l.startswith("THP_enabled:"))'


def _status_has_thp_flag() -> bool:
    try:
        return "THP_enabled:" in Path("/proc/self/status").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not _status_has_thp_flag(), reason="no THP_enabled line in /proc/self/status (Linux 5.0 and later)")
def test_student_code_allocates_without_huge_pages(tmp_path):
    """The worker's memory is in huge pages, so that forking a case is cheap; the student's import
    and the cases must not be, so that no allocation of theirs waits for the kernel to make one."""
    lines = seen_by_student_code(tmp_path, "fork", THP_FLAG)
    assert lines == {"import 0", "case 0"}, lines        # both recorded, and never a 1


@pytest.mark.parametrize("mode", ["fork", "in-process"])
def test_student_code_runs_with_the_collector_on(mode, tmp_path):
    """The worker imports torch and the allowed packages with the cyclic collector paused; the
    student's import and cases must find it on, as in any Python."""
    lines = seen_by_student_code(tmp_path, mode, '__import__("gc").isenabled()')
    assert lines == {"import True", "case True"}, lines


def test_the_collector_pause_gives_back_what_it_found():
    from autograder.engine.worker import collector_paused
    assert gc.isenabled()
    try:
        with pytest.raises(ValueError):
            with collector_paused():
                assert not gc.isenabled()
                with collector_paused():        # nested, as load_submission inside the worker's start
                    assert not gc.isenabled()
                assert not gc.isenabled()
                raise ValueError("an import failed")
        assert gc.isenabled()
        gc.disable()
        with collector_paused():
            pass
        assert not gc.isenabled()               # off before, off after
    finally:
        gc.enable()


# appended to a graded file: after the import, the zygote goes on in a copy of itself, which loads
# the cases' inputs and calls gc.freeze before it answers. This makes that call compute, as work of
# the copy within the import's limits, until it has used {cpu} CPU seconds and {seconds} seconds have
# passed, pinned to one CPU beside {loops} busy loops of its own (its own, so that they share the CPU
# with it whatever the kernel's grouping of processes).
SLOW_FREEZE = textwrap.dedent('''
    import ctypes as _ctypes, gc as _gc, os as _os, signal as _signal, time as _time
    _freeze = _gc.freeze
    def _freeze_slowly():
        _allowed = _os.sched_getaffinity(0)
        _os.sched_setaffinity(0, {{min(_allowed)}})
        _loops = []
        for _ in range({loops}):
            _pid = _os.fork()
            if _pid == 0:
                _ctypes.CDLL(None).prctl(1, _signal.SIGKILL)    # PR_SET_PDEATHSIG: dies with the copy
                while True:
                    pass
            _loops.append(_pid)
        _cpu, _real = _time.process_time(), _time.monotonic()
        while _time.process_time() - _cpu < {cpu} or _time.monotonic() - _real < {seconds}:
            pass
        for _pid in _loops:
            _os.kill(_pid, _signal.SIGKILL)
            _os.waitpid(_pid, 0)
        _os.sched_setaffinity(0, _allowed)
        _freeze()
    _gc.freeze = _freeze_slowly
''')


def first_case_of_losses(tmp_path, appended: str, import_limits) -> str:
    """How the first case of gan/losses.py ended, `appended` added to the solution's file and its
    import within `import_limits` (CPU s, wall s)."""
    source = (REPO / "solution" / "part1" / "gan" / "losses.py").read_text() + appended
    reference, _, session = plain_session("part1", make_submission(tmp_path, "part1", {"gan/losses.py": source}),
                                          "fork")
    case = next(case for case in reference.manifest["cases"] if case["file"] == "gan/losses.py")
    try:
        session.start()
        return session.run_together([case["id"]], "gan.losses", 10.0, 10.0, import_limits)[0].ended
    finally:
        session.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork mode")
def test_the_cpu_time_of_the_copy_counts_against_the_import_limit(tmp_path):
    slow = SLOW_FREEZE.format(cpu=1.0, seconds=0, loops=0)
    assert first_case_of_losses(tmp_path, slow, (0.3, 60.0)) == "import timeout"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork mode")
def test_the_waits_of_the_copy_for_a_cpu_do_not_count_against_the_import_cap(tmp_path):
    """Beside six busy loops, the copy computes for 1.3 s, more than the 1 s cap, of which it runs on
    the CPU for about a seventh: the rest is waiting for a CPU, which must not end a correct import
    on a busy machine (it once did). The stretched cap, 3 s in all, leaves the rest of the import
    1.7 s, which a loaded machine needs."""
    slow = SLOW_FREEZE.format(cpu=0, seconds=1.3, loops=6)
    assert first_case_of_losses(tmp_path, slow, (30.0, 1.0)) == "exit"


# appended to a graded file: at import, claim on every pipe the process may write to that the
# zygote has gone on in a copy (naming the importing process itself, a child of the worker), then hang
FORGED_CONTINUATION = textwrap.dedent('''
    import fcntl as _fcntl, json as _json, os as _os, stat as _stat, time as _time
    for _fd in range(3, 256):
        try:
            if _stat.S_ISFIFO(_os.fstat(_fd).st_mode) and _fcntl.fcntl(_fd, _fcntl.F_GETFL) & _os.O_WRONLY:
                _os.write(_fd, (_json.dumps({"continued": _os.getpid()}) + "\\n").encode())
        except OSError:
            pass
    _time.sleep(600)
''')


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork mode")
def test_an_import_that_claims_to_have_gone_on_in_a_copy_fails_at_once(tmp_path):
    """The worker must not wait on an importer that says it has ended and has not: it once did, until
    the trusted side gave up on the worker."""
    assert first_case_of_losses(tmp_path, FORGED_CONTINUATION, (5.0, 5.0)) == "import crash"


# appended to a graded file: start a daemon, then compute for ever, at import or in the copy the
# zygote goes on in after it (its gc.freeze)
HANGS_AFTER_A_DAEMON = {
    "import": textwrap.dedent('''
        import subprocess as _subprocess
        _subprocess.Popen(["sleep", {seconds!r}], start_new_session=True)
        while True:
            pass
    '''),
    "copy": textwrap.dedent('''
        import gc as _gc, subprocess as _subprocess
        def _freeze():
            _subprocess.Popen(["sleep", {seconds!r}], start_new_session=True)
            while True:
                pass
        _gc.freeze = _freeze
    '''),
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork mode")
@pytest.mark.parametrize("where", sorted(HANGS_AFTER_A_DAEMON))
def test_what_an_import_that_times_out_started_does_not_survive_it(where, tmp_path):
    seconds = f"301.{os.getpid()}{len(where)}"          # names this test's daemon among other tests'
    try:
        ended = first_case_of_losses(tmp_path, HANGS_AFTER_A_DAEMON[where].format(seconds=seconds), (0.5, 1.0))
        assert ended == "import timeout"
        assert not sleepers(seconds)
    finally:
        kill_sleepers(seconds)
