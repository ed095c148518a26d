"""Command line of the autograder: `python -m autograder COMMAND` (the TA's side).

  strip        student_template/partN from solution/partN (+ handout/)
  generate     reference_data/partN from the case tables and the solution
  package      dist/<slug>_autograder.zip and dist/<slug>_handout.zip
  selfcheck    grade the solution and the template through the built zips, in the simulated Gradescope
  build        all of the above, in order
  grade        Gradescope mode: grade ROOT/submission into ROOT/results/results.json (run_autograder)
  simulate     grade one submission as Gradescope would: setup.sh's packages, 768 MB, half a CPU
  regrade      grade a Gradescope "Export Submissions" folder into a CSV, a class report and a histogram
  mutation     mutation analysis of the case tables
"""
import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("strip", "generate", "package", "build", "selfcheck"):
        sub = commands.add_parser(name)
        sub.add_argument("--part", action="append", help="1, 2, part1 or part2 (default: every part)")
    for name, text in (("grade", "grade a submission, Gradescope style (run_autograder's options)"),
                       ("mutation", "mutation analysis (its own options: mutation --help)")):
        commands.add_parser(name, help=text, add_help=False)

    simulate = commands.add_parser("simulate", help="grade a submission in the simulated Gradescope")
    simulate.add_argument("submission", type=Path, nargs="?", help="a folder, as Gradescope unpacks an upload")
    simulate.add_argument("--part", required=True, help="1, 2, part1 or part2")
    simulate.add_argument("--zip", type=Path, default=None, help="default: the part's zip in dist/")
    simulate.add_argument("--memory", type=int, default=768, help="MiB (default 768, Gradescope's)")
    simulate.add_argument("--cpus", type=float, default=0.5, help="share of one CPU (default 0.5, Gradescope's)")
    simulate.add_argument("--no-limits", action="store_true", help="no cgroup limits")
    simulate.add_argument("--no-isolation", action="store_true",
                          help="grade even where student code cannot be isolated (only code you trust)")
    simulate.add_argument("--environment-only", action="store_true",
                          help="only build (or reuse) the simulated Gradescope's environment")

    regrade = commands.add_parser("regrade", help="grade every submission of a Gradescope export into a CSV")
    regrade.add_argument("export", type=Path, help="the unzipped 'Export Submissions' folder")
    regrade.add_argument("--part", required=True, help="1, 2, part1 or part2")
    regrade.add_argument("--jobs", type=int, default=1, help="gradings at a time (default 1, at most 8)")
    regrade.add_argument("--out", type=Path, default=Path("grades.csv"),
                         help="the CSV (default grades.csv); an existing one is resumed; the reports go beside it")
    regrade.add_argument("--zip", type=Path, default=None, help="default: the part's zip in dist/")
    regrade.add_argument("--timeout", type=float, default=None,
                         help="seconds per submission (default: the part's grading deadline + 120)")
    regrade.add_argument("--compare", type=Path, default=None,
                         help="an earlier grades CSV (or Gradescope's grade export): list whose points change")
    regrade.add_argument("--no-progress", action="store_true", help="a line per submission, no progress bar")
    regrade.add_argument("--cold", action="store_true",
                         help="one run_autograder per submission, exactly as Gradescope runs it (slower); by "
                              "default each job's workers stay up from one submission to the next")
    regrade.add_argument("--no-isolation", action="store_true",
                         help="grade even where student code cannot be isolated (only code you trust)")

    args, rest = parser.parse_known_args(argv)
    if args.command == "grade":
        from autograder.gradescope import main as grade_main
        return grade_main(rest)
    if args.command == "mutation":
        from autograder.tools.mutation import main as mutation_main
        return mutation_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "simulate":
        from autograder.tools.simulate import main as simulate_main
        return simulate_main(args)
    if args.command == "regrade":
        from autograder.tools.regrade import run_regrade
        return run_regrade(args)
    from autograder.tools.build import run
    return run(args.command, args.part)


if __name__ == "__main__":
    sys.exit(main())
