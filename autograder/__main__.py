"""Command line of the autograder: `python -m autograder COMMAND`.

  strip        student_template/partN from solution/partN (+ handout/partN)
  generate     reference_data/partN from the case tables and the solution
  package      dist/hw4_partN_autograder.zip
  build        all of the above, then grade the solution and the template through the zips
  grade        Gradescope mode: grade ROOT/submission into ROOT/results/results.json
  selfcheck    grade the solution and the template through the built zips
  regrade      grade a Gradescope "Export Submissions" folder into a CSV (and a histogram)
"""
import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = {"part1": "autograder.hw4.part1", "part2": "autograder.hw4.part2"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("strip", "generate", "package", "build", "selfcheck"):
        sub = commands.add_parser(name)
        sub.add_argument("--part", choices=sorted(PARTS), action="append", help="default: every part")
    commands.add_parser("grade", help="grade a submission, Gradescope style (run_autograder's options)",
                        add_help=False)
    regrade = commands.add_parser("regrade", help="grade every submission of a Gradescope export into a CSV")
    regrade.add_argument("export", type=Path, help="the unzipped 'Export Submissions' folder")
    regrade.add_argument("--part", required=True, help="1, 2, part1 or part2")
    regrade.add_argument("--jobs", type=int, default=1, help="gradings at a time (default 1, at most 8)")
    regrade.add_argument("--out", type=Path, default=Path("grades.csv"),
                         help="the CSV (default grades.csv); an existing one is resumed; the histogram goes beside it")
    regrade.add_argument("--zip", type=Path, default=None, help="default: dist/hw4_partN_autograder.zip")
    regrade.add_argument("--timeout", type=float, default=None,
                         help="seconds per submission (default: the part's grading deadline + 120)")
    regrade.add_argument("--no-progress", action="store_true", help="a line per submission, no progress bar")
    args, rest = parser.parse_known_args(argv)
    if args.command == "grade":
        from autograder.gradescope import main as grade_main
        return grade_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")

    if args.command == "regrade":
        from autograder.regrade import run_regrade
        return run_regrade(args)

    from autograder import build
    parts = args.part or sorted(PARTS)
    steps = {
        "strip": [build.strip],
        "generate": [build.generate],
        "package": [build.package],
        "selfcheck": [build.selfcheck],
        "build": [build.strip, build.generate, build.package, build.selfcheck],
    }[args.command]
    ok = True
    for step in steps:
        for part in parts:
            ok = step(REPO, part, PARTS[part]) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
