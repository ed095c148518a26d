"""Grading as it really runs on Gradescope, simulated: only what setup.sh installs, 768 MB, half a CPU.

Every correct submission the project knows earns full marks there: the solution, the three
independent implementations per part, the slow-but-correct fixture and the students'-habits
fixture (numpy, matplotlib and tqdm imports, a global seed, a module-level device, a __main__
block). The environment is tools/simulate.py's cached virtual environment replaying setup.sh;
the limits are cgroups, where this machine allows them (the test says which it could not
enforce). Also: a case that fills the RAM-backed /dev/shm costs only that case.
"""
import os
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, make_submission, plain
from autograder.tools.simulate import GRADESCOPE_CPUS, _clean_environment, simulate, summary

FIXTURES = REPO / "tests" / "fixtures"
TOTALS = {"part1": 5.0, "part2": 14.0}
CORRECT = [("part1", REPO / "solution" / "part1"), ("part2", REPO / "solution" / "part2")]
CORRECT += [(path.name.split("_", 1)[0], path) for path in sorted((FIXTURES / "equivalent").iterdir()) if path.is_dir()]
CORRECT += [("part1", FIXTURES / "habits" / "part1"), ("part2", FIXTURES / "habits" / "part2"),
            ("part2", FIXTURES / "slow" / "part2_loops")]
# Half a CPU only slows a grading down (time limits are CPU seconds): it is kept for the fixtures
# where time is the point (the habits, the slow one) and the part-2 solution; the others get
# setup.sh's packages and 768 MB, on whole CPUs.
HALF_A_CPU = {FIXTURES / "habits" / "part1", FIXTURES / "habits" / "part2", FIXTURES / "slow" / "part2_loops",
              REPO / "solution" / "part2"}


def label(item):
    part, path = item
    return f"{part}-{path.relative_to(REPO).as_posix().replace('/', '-')}"


def failures(results):
    return [(t["name"], plain(t["output"])[:500]) for t in results["tests"] if t["status"] != "passed"]


@pytest.mark.parametrize("part, submission", CORRECT, ids=[label(item) for item in CORRECT])
def test_correct_submissions_earn_full_marks_in_the_simulated_gradescope(part, submission, autograder_zips, manifests,
                                                                         tmp_path):
    cpus = GRADESCOPE_CPUS if submission in HALF_A_CPU else None
    grading = simulate(autograder_zips[part], submission, cpus=cpus, workdir=tmp_path, log=lambda *args: None)
    assert grading.results is not None, "\n".join(summary(grading)) + grading.output[-3000:]
    assert not failures(grading.results), "\n".join(summary(grading))
    assert grading.results["score"] == TOTALS[part]
    assert [test["name"] for test in grading.results["tests"]] == [case["name"] for case in manifests[part]["cases"]]
    if os.geteuid() == 0:       # root makes cgroups here: Gradescope's limits held
        assert any("memory" in line and line.startswith("enforced") for line in grading.limits), grading.limits
        assert (cpus is None) or any("cpu" in line and line.startswith("enforced") for line in grading.limits)
        assert grading.peak_memory and grading.peak_memory < 768 * 1024 ** 2
        assert grading.peak_memory_held and grading.peak_memory_held <= grading.peak_memory    # a part of it


def test_the_habits_fixture_uses_the_allowed_packages_everywhere():
    """The fixture must keep what it is for: the habits, in every graded file."""
    for part, files in (("part1", ["gan/models.py", "gan/losses.py", "gan/train.py"]),
                        ("part2", ["diffusion/schedules.py", "diffusion/ddpm.py", "diffusion/unet.py",
                                   "diffusion/vae.py"])):
        for rel in files:
            text = (FIXTURES / "habits" / part / rel).read_text()
            for habit in ("import numpy as np", "import matplotlib.pyplot as plt", "from tqdm.auto import tqdm",
                          "torch.manual_seed(0)", "device = torch.device(", 'if __name__ == "__main__":'):
                assert habit in text, (rel, habit)


def test_the_simulated_gradescope_has_neither_the_venv_nor_a_tmpdir(monkeypatch, tmp_path):
    """Gradescope sets no TMPDIR and has no virtual environment of ours. A TMPDIR in memory, handed
    on, would count the grader's scratch folders against the simulated 768 MB."""
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "activate").write_text("")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("VIRTUAL_ENV", str(venv_bin.parent))
    monkeypatch.setenv("PATH", f"{venv_bin}{os.pathsep}/usr/bin")
    env = _clean_environment()
    assert "TMPDIR" not in env and "VIRTUAL_ENV" not in env
    assert env["PATH"] == "/usr/bin"


SHM_FILLER = textwrap.dedent('''

    _reparameterize = reparameterize


    def reparameterize(mu, logvar, eps=None):
        """Right, but leaves 300 MB in the RAM-backed /dev/shm (20 files of 15 MB: under the file
        size limit), new files each case. fallocate takes the memory without copying bytes, so
        that the case stays far inside its 0.5 s of CPU time on a busy machine."""
        import os
        for index in range(20):
            with open("/dev/shm/zz_hw4_fill_%d_%d" % (os.getpid(), index), "wb") as handle:
                os.posix_fallocate(handle.fileno(), 0, 15 << 20)
        return _reparameterize(mu, logvar, eps)
''')


@pytest.mark.skipif(os.geteuid() != 0, reason="the separate-user mode and the memory cgroup need root")
def test_what_a_case_leaves_in_dev_shm_costs_only_that_case(autograder_zips, tmp_path):
    """Without namespaces (as on Gradescope), /dev/shm is the machine's: each case's file must be
    removed after that case, or two of them fill the 768 MB and every later case dies."""
    source = (REPO / "solution" / "part2" / "diffusion" / "vae.py").read_text() + SHM_FILLER
    source = source.replace("def vae_loss(", "def vae_loss_unused(", 0)
    submission = make_submission(tmp_path, "part2", {"diffusion/vae.py": source})
    grading = simulate(autograder_zips["part2"], submission, isolation_mode="user", workdir=tmp_path / "run",
                       log=lambda *args: None)
    assert grading.results is not None, grading.output[-3000:]
    assert (grading.results["extra_data"]["isolation"]["mode"]) == "user"
    assert not failures(grading.results), "\n".join(summary(grading))
    assert not [name for name in os.listdir("/dev/shm") if name.startswith("zz_hw4_fill")]
