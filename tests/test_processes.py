"""The wall-clock cap's clock (engine/processes.py WallClock, used by the worker's wait_for_all):
time a case spends waiting for a CPU that other work holds is not counted against its cap,
time it spends sleeping is, a case starved of a CPU still ends at the stretched cap, and cases
side by side (a struck function's short window) count every second.

A process made to wait: it is pinned to one CPU beside three busy loops pinned there too, so that
it gets about a quarter of that CPU whatever the machine's speed."""
import os
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from autograder.engine import processes
from autograder.engine.processes import WallClock, cpu_wait_seconds
from autograder.engine.worker import wait_for_all

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or cpu_wait_seconds(os.getpid()) is None,
                                reason="needs Linux's /proc/<pid>/schedstat")

CPU = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
BURN = 0.4          # CPU seconds the waiting process computes


def _pinned(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{CPU}}})\n{code}"])


@contextmanager
def busy_cpu(loops: int = 3):
    """`loops` busy loops on CPU, until the block ends."""
    hogs = [_pinned("while True: pass") for _ in range(loops)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def burner() -> subprocess.Popen:
    """A process on CPU that computes for BURN seconds of CPU time and exits."""
    return _pinned(f"import time\nstart = time.process_time()\nwhile time.process_time() - start < {BURN}: pass")


def clock_until_exit(process: subprocess.Popen):
    """(real, counted) seconds of its WallClock, the last reading while it was still running."""
    clock, last = WallClock(process.pid), (0.0, 0.0)
    while process.poll() is None:
        last = (clock.real(), clock.counted())
        time.sleep(0.01)
    return last


def test_waiting_for_a_cpu_is_not_counted():
    with busy_cpu():
        real, counted = clock_until_exit(burner())
    assert real > 2 * BURN, f"the busy loops did not make it wait ({real:.2f} s in all)"
    assert counted < BURN + 0.3, f"{counted:.2f} s counted of {real:.2f} s, for {BURN} s of CPU time"


def test_sleeping_is_counted():
    real, counted = clock_until_exit(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"]))
    assert counted > 0.5 and counted > real - 0.1, (real, counted)


def test_a_correct_case_kept_waiting_is_not_stopped(monkeypatch):
    """A cap of twice its CPU time: before WallClock, the busy loops pushed it past the cap."""
    monkeypatch.setattr(processes, "CPU_WAIT_STRETCH", 1000.0)   # this test is not about the stretched cap
    with busy_cpu():
        process = burner()
        ended, over = wait_for_all([process.pid], cpu=60.0, wall=2 * BURN + 0.3)
    assert over == {} and os.WIFEXITED(ended[process.pid][0]), (ended, over)
    seconds, cpu_used = ended[process.pid][1:]
    assert seconds > 2 * BURN + 0.3, f"it was not kept waiting ({seconds:.2f} s, {cpu_used:.2f} s of CPU)"


def test_cases_side_by_side_count_every_second():
    """Cases run side by side wait for each other's CPU: their one short window is real time."""
    with busy_cpu():
        process = burner()
        ended, over = wait_for_all([process.pid], cpu=60.0, wall=2 * BURN + 0.3, count_cpu_waits=False)
    assert over == {process.pid: "wall"}, (ended, over)


def test_a_sleeping_case_is_stopped_at_its_cap():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.monotonic()
    ended, over = wait_for_all([process.pid], cpu=60.0, wall=0.5)
    assert over == {process.pid: "wall"} and time.monotonic() - started < 10


def test_a_starved_case_ends_at_the_stretched_cap(monkeypatch):
    """However long it waits for a CPU, a case is over its cap at CPU_WAIT_STRETCH times it."""
    monkeypatch.setattr(processes, "CPU_WAIT_STRETCH", 2.0)
    with busy_cpu(loops=6):
        process = _pinned("while True: pass")
        try:
            clock = WallClock(process.pid)
            while clock.real() < 1.9:
                assert not clock.over(1.0), (clock.real(), clock.counted())
                time.sleep(0.02)
            time.sleep(0.15)
            counted = clock.counted()
            assert counted < 1.0, f"it was not starved: {counted:.2f} s counted of {clock.real():.2f} s"
            assert clock.over(1.0)
        finally:
            process.kill()
            process.wait()
