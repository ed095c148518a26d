"""The histogram of a grades CSV's totals (grades.csv -> grades.png), and its bins for the class report.

The picture and the report's table count with the same bins: 20 equal bins from 0 to the part's
points, each holding its low end, the last one its high end too (full marks).
"""
import csv
import io
import math
from pathlib import Path
from typing import List, Sequence

from autograder.tools.regrade import grades_csv

BINS = 20


def bins(totals: Sequence[float], max_points: float, count: int = BINS) -> List[list]:
    """[[low, high, how many totals]] for `count` equal bins over [0, max_points]. A total outside the
    range (never expected) is counted in the nearest bin."""
    width = max_points / count if max_points > 0 else 1.0
    counts = [0] * count
    for total in totals:
        index = math.floor(total / width + 1e-9) if math.isfinite(total) else 0
        counts[min(max(index, 0), count - 1)] += 1
    return [[round(width * k, 6), round(width * (k + 1), 6), counts[k]] for k in range(count)]


def read_totals(csv_path: Path) -> List[dict]:
    with open(csv_path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def histogram_png(totals: Sequence[float], title: str, max_points: float, failed: int = 0) -> bytes:
    """The histogram as PNG bytes (matplotlib, Agg). `title` is the part's title, never student text."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    table = bins(totals, max_points)
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.bar([low for low, _, _ in table], [n for _, _, n in table], width=table[0][1] - table[0][0],
             align="edge", color="#4C72B0", edgecolor="white")
    axes.set_xlim(0, max_points if max_points > 0 else 1)
    axes.set_xlabel(f"total points (of {max_points:g})")
    axes.set_ylabel("submissions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    mean = sum(totals) / len(totals) if totals else 0.0
    axes.set_title(f"{title}: {len(totals)} submissions, mean {mean:.2f}"
                   + (f", {failed} with a failed grading" if failed else ""))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def write_histogram(csv_path: Path, png_path: Path, title: str, max_points: float) -> None:
    rows = read_totals(csv_path)
    totals = [grades_csv.points(row.get("total")) for row in rows]
    failed = sum(1 for row in rows if row.get("failure"))
    Path(png_path).write_bytes(histogram_png(totals, title, max_points, failed))
