"""`python -m autograder mutation`: the command line (see the package's docstring)."""
import argparse
import sys
from pathlib import Path

from autograder.tools import mutation, parts
from autograder.tools.mutation.analysis import PARTS, analyse
from autograder.tools.mutation.equivalent import equivalence_of
from autograder.tools.mutation.mutants import all_mutants
from autograder.tools.mutation.processes import MAX_JOBS
from autograder.tools.mutation.report import DEFAULT_REPORT, percent, render_report, summary_table
from autograder.tools.parts import REPO


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder mutation", description=mutation.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", type=parts.normalize, action="append",
                        help="1, 2, part1 or part2 (default: every part)")
    parser.add_argument("--sample", type=int, default=None, help="grade N mutants drawn at random (not equivalent)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--report", type=Path, default=None,
                        help=f"Markdown report (default for a full run: {DEFAULT_REPORT.as_posix()})")
    parser.add_argument("--jobs", type=int, default=MAX_JOBS, choices=range(1, MAX_JOBS + 1),
                        help=f"grading processes at once (at most {MAX_JOBS})")
    parser.add_argument("--cache", type=Path, default=None, help="JSON file of earlier gradings to reuse")
    parser.add_argument("--list", action="store_true", help="list the mutants, grade nothing")
    args = parser.parse_args(argv)
    chosen = tuple(dict.fromkeys(args.part)) if args.part else PARTS
    if args.list:
        for m in all_mutants(chosen):
            flag = "  [equivalent]" if equivalence_of(m) else ""
            print(f"{m.where} {m.function} | {m.operator}: {m.description}{flag}")
        return 0
    analysis = analyse(chosen, args.sample, args.seed, args.jobs, args.cache,
                       progress=lambda text: print(text, file=sys.stderr, flush=True))
    print(summary_table(analysis))
    counted = analysis.counted()
    print(f"\nOverall: {percent(analysis.rate())} of {len(counted)} non-equivalent mutants caught "
          f"({sum(o.public for o in counted)} by the public cases alone), in {analysis.seconds:.0f} s")
    for o in analysis.survivors:
        print(f"SURVIVED {o.mutant.where} {o.mutant.function}: {o.mutant.operator}: {o.mutant.description}")
    full = not args.part and args.sample is None
    report = args.report or (REPO / DEFAULT_REPORT if full else None)
    if report is not None:
        report.write_text(render_report(analysis))
        print(f"report: {report}")
    else:
        print("partial run: no report written (give --report PATH)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
