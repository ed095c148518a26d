"""Batch regrading of a Gradescope "Export Submissions" folder: `python -m autograder regrade`.

  export.py       the export: submission_metadata.yml and one folder per submission
  grading.py      one submission through the zip (tools/through_zip.py), jobs at a time
  grades_csv.py   the CSV: one resumable row per submission
  histogram.py    the histogram of totals
  report.py       the class report (JSON and a self-contained HTML page)
  changes.py      --compare: whose points a change of the cases or references would move
  command.py      the command: resume, grade what is missing, write the CSV and the reports
"""
from autograder.tools.regrade.command import regrade, run_regrade  # noqa: F401
from autograder.tools.regrade.export import RegradeError  # noqa: F401
