"""Which isolation graded a submission: chosen at start, recorded in results.json, never silently absent.

As root (CI, Gradescope) the grader combines namespaces with the sandbox user where bubblewrap
works, and falls back to the sandbox user alone; as an unprivileged user (a TA on a shared
machine; the tests create one) it uses namespaces, and refuses to run student code without
them unless --no-isolation is given. The attack suite (test_attacks.py) checks what each mode
protects; these tests check the choice and the refusal, who may enter the scratch folder, and
that the worker's allocator finds the kernel's huge-page setting inside the namespaces.
"""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, plain, temporary_folder_of_its_own
from autograder.engine import isolation
from autograder.engine.isolation import Namespaces, namespaces_work
from autograder.engine.session import Scratch
from autograder.engine.users import acquire_user
from autograder.tools.through_zip import grade_through_zip

TA = "hw4-ta"
NO_BWRAP = {"AUTOGRADER_BWRAP": "/nonexistent/bwrap"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching to the sandbox user and to a TA user needs root")


@pytest.fixture(scope="module")
def ta_user():
    """An ordinary user with a home folder, as a TA on a shared machine."""
    if subprocess.run(["id", "-u", TA], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", TA], check=True)
    return TA


def grade(zips, tmp_path, user=None, args=(), env_extra=None, part="part1", submission=None, keep_root=False):
    env = dict(os.environ, **(env_extra or {}))
    return grade_through_zip(zips[part], submission or REPO / "solution" / part, tmp_path, user=user, args=args,
                             env=env, keep_root=keep_root)


def mode_of(grading):
    return grading.results["extra_data"]["isolation"]["mode"]


def test_root_uses_namespaces_and_the_sandbox_user(autograder_zips, tmp_path):
    grading = grade(autograder_zips, tmp_path)
    expected = "namespaces+user" if namespaces_work(None) is None else "user"
    assert mode_of(grading) == expected
    assert grading.results["extra_data"]["isolation"]["user"].startswith("gs-student")
    assert grading.results["score"] == 5.0
    # tmp_path is private, so the root went to the temporary folder, readable by all: it must be gone
    assert grading.root.parent == Path(tempfile.gettempdir()) and not grading.root.exists(), grading.root


def test_root_falls_back_to_the_sandbox_user_where_namespaces_are_refused(autograder_zips, tmp_path):
    grading = grade(autograder_zips, tmp_path, env_extra=NO_BWRAP)
    assert mode_of(grading) == "user"
    assert grading.results["score"] == 5.0


def test_an_unprivileged_grader_isolates_with_namespaces(autograder_zips, tmp_path, ta_user):
    if namespaces_work(None) is not None:
        pytest.skip(f"no namespaces for unprivileged users here: {namespaces_work(None)}")
    grading = grade(autograder_zips, tmp_path, user=ta_user, keep_root=True)
    try:
        assert mode_of(grading) == "namespaces"
        assert grading.results["score"] == 5.0
        for folder in (grading.root, grading.root / "source", grading.root / "submission"):
            assert folder.stat().st_mode & 0o077 == 0, f"other users may enter {folder}"
        assert (grading.root / "results" / "results.json").stat().st_uid == int(
            subprocess.run(["id", "-u", ta_user], capture_output=True, text=True).stdout)
    finally:
        shutil.rmtree(grading.root, ignore_errors=True)


def test_without_root_or_namespaces_student_code_does_not_run(autograder_zips, tmp_path, ta_user, manifests):
    grading = grade(autograder_zips, tmp_path, user=ta_user, env_extra=NO_BWRAP)
    assert grading.returncode == 3
    results = grading.results
    assert results["score"] == 0
    assert [test["name"] for test in results["tests"]] == [case["name"] for case in manifests["part1"]["cases"]]
    assert all(test["extra_data"]["kind"] == "not graded" for test in results["tests"])
    output = plain(results["output"])
    assert "No isolation is available" in output and "--no-isolation" in output
    assert "your home folder" in output and "reference data" in output      # it says what it would expose


def test_no_isolation_when_asked_for_explicitly(autograder_zips, tmp_path, ta_user):
    grading = grade(autograder_zips, tmp_path, user=ta_user, env_extra=NO_BWRAP, args=["--no-isolation"])
    assert grading.returncode == 0
    assert mode_of(grading) == "none"
    assert grading.results["score"] == 5.0


def test_simulate_and_regrade_refuse_up_front(ta_user):
    """Tools that grade many submissions say it once, before grading anything."""
    tmp_path = Path(tempfile.mkdtemp(prefix="hw4-ta-"))      # pytest's own folders are root's only
    shutil.chown(tmp_path, ta_user)
    env = dict(os.environ, **NO_BWRAP, HOME=str(tmp_path))
    export = tmp_path / "export"
    export.mkdir()
    (export / "submission_metadata.yml").write_text("{}\n")
    for command in (["simulate", "--part", "1", "--no-limits", str(REPO / "solution" / "part1")],
                    ["regrade", str(export), "--part", "1", "--out", str(tmp_path / "grades.csv"), "--no-progress"]):
        done = subprocess.run(["runuser", "-u", ta_user, "--", sys.executable, "-m", "autograder", *command],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "No isolation is available" in done.stderr and "--no-isolation" in done.stderr
        assert not Path(tmp_path / "grades.csv").exists()
    shutil.rmtree(tmp_path)


def test_root_refuses_an_interpreter_the_sandbox_user_cannot_reach():
    """A checkout in root's private home folder: its .venv is out of the sandbox user's reach.
    Grading, the tools and the tests say so at once, instead of every worker failing to start."""
    with temporary_folder_of_its_own("hw4-closed-") as folder:
        python = folder / "private" / "checkout" / ".venv" / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.symlink_to(sys.executable)
        (folder / "shared").mkdir()
        (folder / "private" / "linked").symlink_to(folder / "shared")      # the way there is closed
        (folder / "link").symlink_to(folder / "private" / "checkout")       # where it leads is closed
        os.chmod(folder / "private", 0o700)
        assert isolation.closed_to_others(python.parent) == str(folder / "private")
        assert isolation.closed_to_others(folder / "private" / "linked") == str(folder / "private")
        assert isolation.closed_to_others(folder / "link") == str(folder / "private")
        assert isolation.closed_to_others(folder / "shared") is None
        message = isolation.interpreter_unreachable(str(python))
        assert f"may not enter {folder / 'private'}" in message and str(python) in message
        assert isolation.refusal("auto", str(python)) == message
        assert isolation.refusal("user", str(python)) == message
        assert isolation.refusal("namespaces", str(python)) == message
        assert isolation.refusal("none", str(python)) is None        # run as root itself: nothing to reach
        with pytest.raises(isolation.IsolationUnavailable, match="may not enter"):
            isolation.choose("auto", python=str(python))
        os.chmod(folder / "private", 0o755)
        assert isolation.closed_to_others(python.parent) is None
        assert isolation.closed_to_others(folder / "link") is None
        assert isolation.interpreter_unreachable(str(python)) is None


# As a TA: what gradescope_environment makes of the cache folder named, for the zip named.
ENVIRONMENT_OF = """
import sys
from pathlib import Path
from autograder.tools.simulate import SimulateError, gradescope_environment
try:
    print(gradescope_environment(Path(sys.argv[1]), Path(sys.argv[2]), log=lambda *args: None))
except SimulateError as error:
    print("refused:", error)
"""


def test_simulate_in_another_users_checkout_uses_its_environment_or_says_why_not(ta_user, autograder_zips):
    """A TA running simulate in a checkout that another user built: the simulated Gradescope's
    environment is used as built, and where none is built (or the cache cannot be read), the TA
    reads what to do, not a traceback."""
    from autograder.tools.simulate import environment_key

    with temporary_folder_of_its_own("hw4-other-cache-") as folder:
        os.chmod(folder, 0o755)
        zip_file = Path(shutil.copy(autograder_zips["part1"], folder / "part1.zip"))
        cache = folder / "cache"
        built = cache / environment_key(zip_file)
        (built / "bin").mkdir(parents=True)
        (built / ".complete").write_text("setup.sh replayed\n")
        (cache / ".lock").write_text("")

        def environment_as_ta():
            done = subprocess.run(["runuser", "-u", ta_user, "--", sys.executable, "-c", ENVIRONMENT_OF,
                                   str(zip_file), str(cache)], cwd=REPO, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        assert environment_as_ta() == str(built / "bin")
        (built / ".complete").unlink()
        said = environment_as_ta()
        assert said.startswith("refused:") and f"not built in {cache}" in said and "make build" in said
        (cache / ".lock").unlink()
        said = environment_as_ta()
        assert said.startswith("refused:") and f"environment in {cache} cannot be used" in said


def test_simulate_takes_a_path_with_folders_the_ta_may_not_look_into(ta_user):
    """PATH as `su` leaves it (root's own folders first): simulate drops virtual environments from
    it, and must not stop on a folder it may not look into."""
    with temporary_folder_of_its_own("hw4-closed-path-") as folder:
        closed = folder / "private" / "bin"
        closed.mkdir(parents=True)
        os.chmod(folder / "private", 0o700)
        venv_bin = folder / "venv" / "bin"
        venv_bin.mkdir(parents=True)
        (venv_bin / "activate").write_text("")
        path = os.pathsep.join([str(closed), str(venv_bin), "/usr/bin", "/bin"])
        done = subprocess.run([shutil.which("runuser"), "-u", ta_user, "--", sys.executable, "-c",
                               "from autograder.tools.simulate import _clean_environment as c; print(c()['PATH'])"],
                              cwd=REPO, env=dict(os.environ, PATH=path), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [os.pathsep.join([str(closed), "/usr/bin", "/bin"])]


def _reads(path: Path, uid: int, gid: int) -> bool:
    """Whether the user (uid, gid), with no other groups, can read the file at `path`."""
    done = subprocess.run(["cat", str(path)], user=uid, group=gid, extra_groups=[], capture_output=True)
    return done.returncode == 0


def test_only_the_worker_may_enter_its_scratch_folder(ta_user):
    """The scratch folder holds a copy of the submission, in the temporary folder every local user
    shares: another user of a shared machine must not read it while a grading runs."""
    other = pwd.getpwnam(ta_user)
    # Held as a grader holds it: a grading running beside this test ends whatever runs as its own
    # sandbox user, a read by this test included.
    sandbox = acquire_user()
    try:
        for worker in ((sandbox.uid, sandbox.gid), None):   # a sandbox user (root), or the grader's own
            scratch = Scratch()
            try:
                scratch.add_submission("gan", {"gan/models.py": b"# a student's work"})
                scratch.seal(worker)
                graded_file = scratch.submission / "gan" / "models.py"
                assert not _reads(graded_file, other.pw_uid, other.pw_gid), worker
                if worker is not None:
                    assert _reads(graded_file, *worker)
            finally:
                scratch.remove()
    finally:
        sandbox.release()


def kernel_offers_huge_pages() -> bool:
    try:
        return "[never]" not in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


# 64 MiB that malloc maps, each page touched, then the huge pages the process holds (in kB)
COUNT_HUGE_PAGES = """
data = bytearray(64 << 20)
for offset in range(0, len(data), 4096):
    data[offset] = 1
for line in open("/proc/self/smaps_rollup"):
    if line.startswith("AnonHugePages:"):
        print(int(line.split()[1]))
"""


@pytest.mark.skipif(not kernel_offers_huge_pages(), reason="this kernel offers no transparent huge pages")
def test_the_worker_gets_huge_pages_inside_the_namespaces():
    """The worker forks a case from a process holding torch; huge pages make that fork cheap
    (session.WORKER_MALLOC). glibc uses them only if it can read the kernel's setting, which
    must therefore be in the namespaces' file system."""
    if namespaces_work(None) is not None:
        pytest.skip(f"no namespaces here: {namespaces_work(None)}")
    isolation = Namespaces(sys.executable)
    scratch = Scratch()
    try:
        scratch.seal(None)
        launch = isolation.launch([isolation.worker_python(sys.executable), "-I", "-c", COUNT_HUGE_PAGES], scratch)
        done = subprocess.run(launch.command, env=launch.env, cwd=launch.cwd, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) > 0, "no huge pages inside the namespaces"
    finally:
        isolation.close()
        scratch.remove()
