"""The case tables keep catching small bugs: mutation analysis on a fixed sample.

The full analysis (`make mutation`, autograder/mutation.py) grades every mutant of the
solution regions and writes autograder/hw4/MUTATION_REPORT.md. Here a fixed random
sample of non-equivalent mutants over both parts is graded with the real sandboxed
grader (about a minute and a half on two cores), so that a change of a case, a tolerance
or the engine cannot silently lower the score:
- the sample's catch rate must reach 95%, or the committed report's overall rate minus
  MARGIN where that is lower;
- while the solution is the one the report was made from, every sampled mutant that
  survives must be one of the report's listed survivors (all others were caught then).
"""
import time

from conftest import REPO

from autograder import mutation

SAMPLE = 20
SEED = 4
MARGIN = 0.05
GOAL = 0.95


def test_equivalent_table_names_existing_mutants():
    """An EQUIVALENT entry whose mutant no longer exists (solution edited) is stale: update the table."""
    mutants = {(m.function, m.description) for m in mutation.all_mutants(mutation.PARTS)}
    stale = [(entry.function, entry.mutation) for entry in mutation.EQUIVALENT
             if (entry.function, entry.mutation) not in mutants]
    assert not stale, f"EQUIVALENT entries that match no mutant: {stale}"


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
    mutants = mutation.mutants_of_file("part2", "diffusion/x.py", text)
    assert len(mutants) > 8
    for m in mutants:
        assert m.function == "f" and 7 <= m.line <= 8, m
        assert "y = x * 2 + torch.sqrt(x)" in m.source and "return x - 1" in m.source, m.description
    operators = {m.operator for m in mutants}
    assert {"arithmetic", "remove call", "index offset", "dim", "mean/sum", "constant"} <= operators


def test_sampled_mutants_are_caught():
    started = time.monotonic()
    analysis = mutation.analyse(mutation.PARTS, sample=SAMPLE, seed=SEED, jobs=mutation.MAX_JOBS)
    seconds = time.monotonic() - started
    counted = analysis.counted()
    survivors = [f"{o.mutant.part}/{o.mutant.file}:{o.mutant.line} {o.mutant.function}: {o.mutant.description}"
                 for o in analysis.survivors]
    errors = [f"{o.mutant.function}: {o.mutant.description}: {o.error}" for o in analysis.outcomes if o.error]
    assert len(counted) >= SAMPLE * 3 // 4, f"too few mutants could be graded ({len(counted)}): {errors}"

    committed = mutation.committed_summary()
    floor = GOAL
    if committed and committed.get("overall") is not None:
        floor = min(GOAL, committed["overall"] - MARGIN)
    rate = analysis.rate()
    assert rate >= floor, (f"{rate:.0%} of {len(counted)} sampled mutants caught, below {floor:.0%} "
                           f"(in {seconds:.0f} s); survivors: {survivors}")

    if committed and committed.get("solution") == analysis.solution:
        known = mutation.committed_survivors()
        new = [line for line, o in zip(survivors, analysis.survivors)
               if (o.mutant.function, o.mutant.description) not in known]
        assert not new, ("mutants that the committed MUTATION_REPORT.md counts as caught survive now "
                         f"(a case or tolerance got weaker?): {new}")
    print(f"mutation sample: {rate:.0%} of {len(counted)} caught in {seconds:.0f} s "
          f"(report: {(REPO / mutation.DEFAULT_REPORT).relative_to(REPO)})")
