"""The analysis: generate the mutants, grade them, and classify each one; scores per function.

A mutant is caught when some case of its file loses points that the unmutated solution
earns. A survivor is equivalent when EQUIVALENT lists it or when it swaps statements that
provably cannot affect each other; equivalent mutants are left out of the scores.
"""
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from autograder.tools.mutation.cache import ResultCache
from autograder.tools.mutation.equivalent import equivalence_of, reason_if_survivor
from autograder.tools.mutation.grading import BaselineTally, CaseReport, Grading, Job, MutantTally
from autograder.tools.mutation.mutants import Mutant, all_mutants, solution_digest
from autograder.tools.mutation.processes import MAX_JOBS, Pool
from autograder.tools.mutation.snapshot import ready_to_fork, remove, take_snapshot
from autograder.tools.parts import tables

PARTS = tuple(tables())


@dataclass
class Outcome:
    mutant: Mutant
    grading: Grading
    equivalent: Optional[str]    # why, when the mutant survived and is equivalent

    @property
    def failed(self) -> List[CaseReport]:
        return self.grading.failures

    @property
    def error(self) -> Optional[str]:
        return self.grading.error

    @property
    def caught(self) -> bool:
        return bool(self.failed) and not self.error

    @property
    def own(self) -> bool:
        """Caught by a case of the mutated function itself, not only by another function's cases."""
        return self.caught and any(report.function == self.mutant.function for report in self.failed)

    @property
    def public(self) -> bool:
        """Caught by a public case: what students could see before handing in."""
        return self.caught and any(not report.hidden for report in self.failed)

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        if self.caught:
            return "caught"
        return "equivalent" if self.equivalent else "survived"


@dataclass
class Analysis:
    outcomes: List[Outcome]
    baseline_failures: Dict[str, List[str]]    # "part file" -> cases the unmutated solution fails
    seconds: float
    parts: Tuple[str, ...]
    sample: Optional[int]
    seed: int
    jobs: int
    cached: int = 0
    solution: str = ""         # solution_digest of the graded files

    def counted(self, outcomes=None) -> List[Outcome]:
        """The outcomes a score counts: caught or survived (not equivalent, not ungradable)."""
        return [o for o in (self.outcomes if outcomes is None else outcomes) if o.status in ("caught", "survived")]

    def rate(self, outcomes=None) -> Optional[float]:
        counted = self.counted(outcomes)
        return sum(o.caught for o in counted) / len(counted) if counted else None

    def public_rate(self, outcomes=None) -> Optional[float]:
        counted = self.counted(outcomes)
        return sum(o.public for o in counted) / len(counted) if counted else None

    @property
    def survivors(self) -> List[Outcome]:
        return [o for o in self.outcomes if o.status == "survived"]

    @property
    def stale(self) -> List[Outcome]:
        """Caught although EQUIVALENT lists them: entries to remove."""
        return [o for o in self.outcomes if o.caught and equivalence_of(o.mutant)]


@dataclass
class FunctionScore:
    part: str
    file: str
    function: str
    mutants: int
    equivalent: int
    errors: int
    caught: int
    survived: int
    own: int                   # caught by the function's own cases
    public: int                # caught by public cases
    rate: Optional[float]

    @property
    def counted(self) -> int:
        return self.caught + self.survived


def function_scores(analysis: Analysis) -> List[FunctionScore]:
    """One row per mutated function, in file and line order."""
    groups: Dict[Tuple[str, str, str], List[Outcome]] = {}
    for outcome in sorted(analysis.outcomes, key=lambda o: (o.mutant.part, o.mutant.file, o.mutant.line)):
        mutant = outcome.mutant
        groups.setdefault((mutant.part, mutant.file, mutant.function), []).append(outcome)
    scores = []
    for (part, rel, function), outcomes in groups.items():
        counted = analysis.counted(outcomes)
        scores.append(FunctionScore(part, rel, function, len(outcomes),
                                    sum(o.status == "equivalent" for o in outcomes),
                                    sum(o.status == "error" for o in outcomes),
                                    sum(o.caught for o in counted), sum(not o.caught for o in counted),
                                    sum(o.own for o in counted), sum(o.public for o in counted),
                                    analysis.rate(outcomes)))
    return scores


def analyse(parts: Sequence[str] = PARTS, sample: Optional[int] = None, seed: int = 0, jobs: int = MAX_JOBS,
            cache: Optional[Path] = None, progress: Optional[Callable[[str], None]] = None) -> Analysis:
    """Generate the mutants (or a sample of the non-equivalent ones), grade each, classify.
    `cache`: a JSON file of earlier gradings (see cache.py), or None."""
    started = time.monotonic()
    say = progress or (lambda text: None)
    snapshot = take_snapshot(parts)
    try:
        with ready_to_fork(snapshot):
            mutants = all_mutants(parts, snapshot.root)
            if sample is not None:
                candidates = [m for m in mutants if equivalence_of(m) is None]
                mutants = random.Random(seed).sample(candidates, min(sample, len(candidates)))
                mutants.sort(key=lambda m: (m.part, m.file, m.line, m.key))
            pool = Pool(snapshot, jobs)
            baseline = _baseline_failures(pool, sorted({(m.part, m.file) for m in mutants}), say)
            results = ResultCache(cache, snapshot.digests)
            gradings: Dict[str, Grading] = {}
            todo = []
            for mutant in mutants:
                hit = results.get(mutant)
                if hit is not None:
                    gradings[mutant.key] = hit
                else:
                    todo.append(MutantTally(Job(mutant.key, mutant.part, mutant.file, mutant.source, mutant.function,
                                                frozenset(baseline[(mutant.part, mutant.file)]))))
            say(f"{len(mutants)} mutants, {len(mutants) - len(todo)} from the cache, {len(todo)} to grade "
                f"in {pool.jobs} processes at a time")
            by_key = {m.key: m for m in mutants}
            done = 0

            def settled(tally: MutantTally) -> None:
                nonlocal done
                done += 1
                mutant, grading = by_key[tally.job.key], tally.grading
                gradings[mutant.key] = grading
                results.put(mutant, grading)
                verdict = "error" if grading.error else "caught" if grading.failures else "SURVIVED"
                say(f"[{done}/{len(todo)}] {verdict:8s} {mutant.file}:{mutant.line} {mutant.function}: "
                    f"{mutant.description}")
            try:
                pool.run(todo, settled)
            finally:
                results.save()
        outcomes = []
        for mutant in mutants:
            grading = gradings[mutant.key]
            survived = not grading.failures and not grading.error
            outcomes.append(Outcome(mutant, grading, reason_if_survivor(mutant) if survived else None))
        return Analysis(outcomes, {f"{part} {rel}": names for (part, rel), names in baseline.items() if names},
                        time.monotonic() - started, tuple(parts), sample, seed, pool.jobs,
                        len(mutants) - len(todo), solution_digest(parts, snapshot.root))
    finally:
        remove(snapshot)


def _baseline_failures(pool: Pool, files: List[Tuple[str, str]], say) -> Dict[Tuple[str, str], List[str]]:
    """The cases each file's unmutated solution fails: they cannot catch anything, so they are left out."""
    tallies = [BaselineTally(Job(f"{part} {rel}", part, rel)) for part, rel in files]
    pool.run(tallies)
    failing = {}
    for tally in tallies:
        job = tally.job
        if tally.failing is None:
            raise RuntimeError(f"{job.part} {job.file}: the unmutated solution could not be graded: {tally.error}")
        failing[(job.part, job.file)] = sorted(tally.failing)
        if tally.failing:
            say(f"warning: {job.part} {job.file}: the unmutated solution fails {sorted(tally.failing)}; "
                "those cases are left out")
    return failing
