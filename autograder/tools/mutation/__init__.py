"""Mutation analysis of the HW4 case tables: which small bugs in the reference solution do the cases catch?

    python -m autograder mutation [--part part1|part2] [--sample N] [--seed S] [--report PATH]
                                  [--jobs 1|2] [--cache PATH] [--list]

Every mutant is one small edit inside a solution region (between `# BEGIN SOLUTION`
and `# END SOLUTION`) of solution/partN/<package>/*.py. Mutants are code the project
wrote, so they are graded in-process (tools/in_process.py: the same run-case module,
verdict, reference data and CPU-time limits as the sandboxed grader), each in a forked
process of its own with a wall-clock and a memory limit, on the cases of the mutated file
only, at most two at once. A mutant is caught when any case of its file loses points that
the unmutated solution earns; the report also says whether a case of the mutated function
itself catches it, and whether the public cases alone do. Mutants that no case can catch
because they compute the same values are listed in EQUIVALENT (equivalent.py) with the
reason, and are left out of the score.

A full run (no --part, no --sample) writes autograder/hw4/MUTATION_REPORT.md unless
--report says otherwise; a partial run writes a report only where --report points, so
that it cannot replace the committed full report by accident. --sample draws from the
mutants not marked equivalent. --cache (a JSON file outside the repository) keeps each
mutant's grading keyed by its source, the reference data, the engine, the tables and the
grading code, so that a second run after editing EQUIVALENT regrades nothing. --list prints
every mutant's description, the text to put in EQUIVALENT.

Survivors that are equivalent for a reason the code can prove (two swapped statements
that neither read nor write what the other writes, with at most one side effect and no
return between them) are classified automatically; the others need an EQUIVALENT entry.

Why not mutmut or cosmic-ray: both mutate whole modules of an installed package (in
place, or through mutmut 3's trampolines that import mutmut at run time) and run a
test command; neither can limit mutation to the marked solution regions without
editing the solution (`# pragma: no mutate` on every other line), neither knows the
tensor-code mutations this analysis is about (dim=, index offsets, sqrt/exp removal,
generator= removal, the order of random draws), and in-place mutation of solution/
would race others editing the same checkout. The mutator here is a few hundred lines
of `ast`; each mutant is written to its own temporary submission folder, and a run grades
against a private snapshot of the reference data and solution taken when it starts.

The stages, one module each:
  syntax.py       small `ast` helpers
  sites.py        where a solution file can be mutated, and with which operator
  edits.py        the edits themselves, each naming what it did
  mutants.py      the mutants of the solution regions
  equivalent.py   the EQUIVALENT table and the provably independent swaps
  snapshot.py     the private copy of the reference data and solution; the process forked from
  grading.py      grading one mutant: case order, early stop, retries of timeouts
  processes.py    one forked grading process per attempt: wall clock, memory limit, crashes
  cache.py        --cache
  analysis.py     the run: grade, classify, scores per function
  report.py       the Markdown report
  command.py      the command line
"""


def main(argv=None) -> int:
    from autograder.tools.mutation.command import main as run_command
    return run_command(argv)
