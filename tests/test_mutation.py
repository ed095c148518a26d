"""The case tables keep catching small bugs: mutation analysis on a fixed sample.

The full analysis (`make mutation`, autograder/tools/mutation/) grades every mutant of the
solution regions and writes autograder/hw4/MUTATION_REPORT.md. Here a fixed random sample
of non-equivalent mutants over both parts is graded the same way (in-process, each grading
in a forked process; seconds), so that a change of a case, a tolerance or the engine cannot
silently lower the score:
- the sample's catch rate must reach 95%, or the committed report's overall rate minus
  MARGIN where that is lower;
- while the solution is the one the report was made from, every sampled mutant that
  survives must be one of the report's listed survivors (all others were caught then).
"""
import time

from conftest import REPO

from autograder.tools.mutation import equivalent, mutants, processes, report
from autograder.tools.mutation.analysis import PARTS, analyse
from autograder.tools.mutation.grading import Job, MutantTally
from autograder.tools.mutation.snapshot import ready_to_fork, remove, take_snapshot

SAMPLE = 20
SEED = 4
MARGIN = 0.05
GOAL = 0.95


def test_equivalent_table_names_existing_mutants():
    """An EQUIVALENT entry whose mutant no longer exists (solution edited) is stale: update the table."""
    stale = equivalent.entries_matching_no_mutant(mutants.all_mutants(PARTS))
    assert not stale, f"EQUIVALENT entries that match no mutant: {[(e.function, e.mutation) for e in stale]}"


def test_mutants_stay_inside_solution_regions():
    text = (
        "import torch\n\n\n"
        "def f(x, t):\n"
        "    y = x * 2 + torch.sqrt(x)\n"
        "    # BEGIN SOLUTION: hint\n"
        "    z = torch.exp(y[t]) - 1\n"
        "    return z.sum(dim=0)\n"
        "    # END SOLUTION\n\n\n"
        "def g(x):\n"
        "    return x - 1\n"
    )
    found = mutants.mutants_of_file("part2", "diffusion/x.py", text)
    assert len(found) > 8
    for m in found:
        assert m.function == "f" and 7 <= m.line <= 8, m
        assert "y = x * 2 + torch.sqrt(x)" in m.source and "return x - 1" in m.source, m.description
    operators = {m.operator for m in found}
    assert {"arithmetic", "remove call", "index offset", "dim", "mean/sum", "constant"} <= operators


def test_sampled_mutants_are_caught():
    started = time.monotonic()
    analysis = analyse(PARTS, sample=SAMPLE, seed=SEED, jobs=processes.MAX_JOBS)
    seconds = time.monotonic() - started
    counted = analysis.counted()
    survivors = [f"{o.mutant.where} {o.mutant.function}: {o.mutant.description}" for o in analysis.survivors]
    errors = [f"{o.mutant.function}: {o.mutant.description}: {o.error}" for o in analysis.outcomes if o.error]
    assert len(counted) >= SAMPLE * 3 // 4, f"too few mutants could be graded ({len(counted)}): {errors}"

    committed = report.committed_summary()
    floor = GOAL
    if committed and committed.get("overall") is not None:
        floor = min(GOAL, committed["overall"] - MARGIN)
    rate = analysis.rate()
    assert rate >= floor, (f"{rate:.0%} of {len(counted)} sampled mutants caught, below {floor:.0%} "
                           f"(in {seconds:.0f} s); survivors: {survivors}")

    if committed and committed.get("solution") == analysis.solution:
        known = report.committed_survivors()
        new = [line for line, o in zip(survivors, analysis.survivors)
               if (o.mutant.function, o.mutant.description) not in known]
        assert not new, ("mutants that the committed MUTATION_REPORT.md counts as caught survive now "
                         f"(a case or tolerance got weaker?): {new}")
    assert "| caught by public cases |" in report.render_report(analysis)
    print(f"mutation sample: {rate:.0%} of {len(counted)} caught ({sum(o.public for o in counted)} by public "
          f"cases alone) in {seconds:.0f} s (report: {(REPO / report.DEFAULT_REPORT).relative_to(REPO)})")


BROKEN = {   # a first line for reparameterize, and how its grading must end
    "hangs in C": ("    import ctypes; ctypes.CDLL(None).sleep(1000)\n", "timeout"),
    "loops in Python": ("    while True: pass\n", "timeout"),
    "crashes": ("    import os, signal; os.kill(os.getpid(), signal.SIGSEGV)\n", "crash"),
    "allocates too much": ("    torch.ones(2 ** 40, dtype=torch.uint8)\n", "exception"),
}


def test_hangs_crashes_and_memory_blowups_are_caught(monkeypatch):
    """A mutant stuck outside Python is killed on the clock and counts as a timeout (graded again
    first), one that loops in Python is stopped by its CPU-time limit, a crash is a crash, and an
    allocation beyond the memory limit is the exception it raises."""
    monkeypatch.setattr(processes, "WALL_MARGIN", 1.0)
    monkeypatch.setattr(processes, "WALL_FACTOR", 1.0)
    snapshot = take_snapshot(("part2",))
    try:
        source = (snapshot.root / "solution" / "part2" / "diffusion" / "vae.py").read_text()
        assert source.count("    if eps is None:\n") == 1
        tallies = [MutantTally(Job(name, "part2", "diffusion/vae.py",
                                   source.replace("    if eps is None:\n", line + "    if eps is None:\n"),
                                   "reparameterize")) for name, (line, _) in BROKEN.items()]
        with ready_to_fork(snapshot):
            processes.Pool(snapshot, processes.MAX_JOBS).run(tallies)
    finally:
        remove(snapshot)
    for tally in tallies:
        grading, kind = tally.grading, BROKEN[tally.job.key][1]
        assert grading.error is None and grading.failures, (tally.job.key, grading)
        assert {failure.kind for failure in grading.failures} == {kind}, (tally.job.key, grading.failures)
        assert grading.retried == (kind == "timeout"), (tally.job.key, grading)


def test_command_lists_mutants(capsys):
    from autograder.__main__ import main

    assert main(["mutation", "--list", "--part", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("part1/gan/") for line in lines)
