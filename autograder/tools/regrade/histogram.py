"""The histogram of a grades CSV's totals (grades.csv -> grades.png)."""
import csv
from pathlib import Path


def write_histogram(csv_path: Path, png_path: Path, title: str, max_points: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    totals = [float(row["total"]) for row in rows if row.get("total")]
    failed = sum(1 for row in rows if row.get("failure"))
    figure, axes = plt.subplots(figsize=(7, 4))
    bins = [max_points * k / 20 for k in range(21)]
    axes.hist(totals, bins=bins, color="#4C72B0", edgecolor="white")
    axes.set_xlim(0, max_points)
    axes.set_xlabel(f"total points (of {max_points:g})")
    axes.set_ylabel("submissions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    mean = sum(totals) / len(totals) if totals else 0.0
    axes.set_title(f"{title}: {len(totals)} submissions, mean {mean:.2f}"
                   + (f", {failed} not graded (0)" if failed else ""))
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
