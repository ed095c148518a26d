"""regrade's warm mode: `run_autograder --batch` grades one submission after another with the
same workers (torch imported once per worker, not once per submission).

What one submission leaves must not reach the next, and every submission must get the results
a grading of its own gives it. One batch, two workers side by side (they share the sandbox
user, as on a two-CPU machine), grades in turn: a submission whose imports and calls start
daemons and whose calls stop the worker, the solution, a submission that kills the worker, the
students'-habits fixture (it imports numpy, matplotlib and tqdm, which the worker imports for
it then), and the template. The solution and the template are also graded the usual way, one
run_autograder each, and their tests must be the same.
"""
import os
import stat
import textwrap

import psutil
import pytest

from conftest import REPO, make_submission, temporary_folder_of_its_own
from fixtures.make_export import make_export

from autograder.tools.through_zip import WarmGrader

PART = "part1"
MARKER = "987654"       # `sleep 987654`: a daemon the hostile submissions start

DAEMONS = textwrap.dedent(f'''

    import os as _os, signal as _signal, subprocess as _subprocess, time as _time

    def _daemon():
        """A double-forked `sleep` in a session of its own, as a daemon would start."""
        if _os.fork() == 0:
            _os.setsid()
            if _os.fork() == 0:
                _os.execv("/bin/sleep", ["sleep", "{MARKER}"])
            _os._exit(0)
        _time.sleep(0.05)

    _daemon()
''')

STOPS_THE_WORKER = textwrap.dedent('''

    _real_bce_loss = bce_loss

    def bce_loss(*args, **kwargs):
        _daemon()
        _os.kill(_os.getppid(), _signal.SIGSTOP)    # its zygote: the trusted side continues it
        return _real_bce_loss(*args, **kwargs)
''')

KILLS_THE_WORKER = textwrap.dedent('''

    import os as _os, signal as _signal
    for _pid in range(2, 64):       # every process it can signal in the sandbox: the worker, bubblewrap's
        if _pid != _os.getpid():
            try:
                _os.kill(_pid, _signal.SIGKILL)
            except OSError:
                pass
''')


def daemons_left():
    return [process.pid for process in psutil.process_iter(["cmdline"])
            if (process.info["cmdline"] or [])[-1:] == [MARKER]]


def comparable(results):
    """What a student sees of each test, and nothing that depends on timing."""
    return [(test["name"], test["score"], test["max_score"], test.get("status"), test["extra_data"]["kind"],
             test.get("output")) for test in results["tests"]]


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox users need root")
def test_submissions_graded_by_one_warm_batch_do_not_reach_each_other(tmp_path, autograder_zips, grade):
    solution = REPO / "solution" / PART
    habits = REPO / "tests" / "fixtures" / "habits" / PART
    leaves_daemons = make_submission(tmp_path / "daemons", PART, {
        "gan/models.py": (solution / "gan" / "models.py").read_text() + DAEMONS,
        "gan/losses.py": (solution / "gan" / "losses.py").read_text() + DAEMONS + STOPS_THE_WORKER})
    kills_the_worker = make_submission(tmp_path / "killer", PART, {
        "gan/losses.py": (solution / "gan" / "losses.py").read_text() + KILLS_THE_WORKER})
    template = REPO / "student_template" / PART

    grader = WarmGrader(autograder_zips[PART], tmp_path / "warm", ["--lanes", "2"])
    batch, batch_processes = [], set()
    try:
        for folder in (leaves_daemons, solution, kills_the_worker, habits, template):
            batch.append(grader.grade(folder, timeout=300))
            batch_processes.add(grader.process.pid if grader.process else None)
        assert stat.S_IMODE(grader.log_path.stat().st_mode) == 0o600     # students' output: the owner's only
    finally:
        grader.remove()
    for grading in batch:
        assert grading.results is not None and not grading.timed_out, grading.output[-3000:]
    assert len(batch_processes) == 1 and None not in batch_processes     # one run_autograder graded them all
    hostile, warm_solution, killer, warm_habits, warm_template = (grading.results for grading in batch)

    assert hostile["extra_data"]["lanes"] == 2 and hostile["extra_data"]["isolation"]["mode"] == "namespaces+user"
    assert len(hostile["tests"]) == len(killer["tests"]) == len(warm_solution["tests"])
    assert any(test["score"] < test["max_score"] for test in killer["tests"])
    assert not daemons_left()

    assert warm_solution["score"] == warm_habits["score"] == 5.0
    assert "matplotlib.pyplot" in warm_habits["extra_data"]["worker"]["preimported"]
    for warm, folder in ((warm_solution, solution), (warm_template, template)):
        assert comparable(warm) == comparable(grade(PART, folder)), folder


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox users need root")
def test_a_warm_batch_that_runs_past_its_timeout_is_replaced(tmp_path, autograder_zips, monkeypatch):
    """The caller's timeout ends the batch and all it started, its workers' scratch folders (which
    hold the submission) included; the next submission gets a new one."""
    make_export(tmp_path / "export", PART, kinds=["sleep_everywhere"])     # far longer than the timeout
    sleeps = tmp_path / "export" / "submission_240001"
    with temporary_folder_of_its_own("hw4-warm-timeout-") as temporary:      # the batch's TMPDIR
        monkeypatch.setenv("TMPDIR", str(temporary))
        grader = WarmGrader(autograder_zips[PART], tmp_path / "warm", ["--lanes", "2"])   # lanes: threads to end
        try:
            first = grader.grade(sleeps, timeout=5)
            assert first.timed_out and grader.process is None
            left_by_the_first = sorted(path.name for path in temporary.iterdir()
                                       if not path.name.startswith(grader.root.name))     # the root stays
            second = grader.grade(REPO / "solution" / PART, timeout=300)
        finally:
            grader.remove()
    assert left_by_the_first == [], left_by_the_first
    assert second.results is not None and second.results["score"] == 5.0, second.output[-3000:]
