#!/usr/bin/env bash
# Makes hw4_part1_submission.zip, the file to upload to Gradescope ("HW4: Part 1 GANs"):
# the graded files gan/models.py, gan/losses.py, gan/train.py and the notebook hw4-part1.ipynb.
# Run it from anywhere: bash collect_submission_part1.sh
set -eu
cd "$(dirname "$0")"

ZIP=hw4_part1_submission.zip
NOTEBOOK=hw4-part1.ipynb
set -- gan/models.py gan/losses.py gan/train.py

PYTHON=""
for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import sys, zipfile, json; sys.exit(sys.version_info < (3, 8))" >/dev/null 2>&1; then
        PYTHON=$candidate
        break
    fi
done
if [ -z "$PYTHON" ]; then
    echo "error: no python3 found to make the zip (activate the environment you use for HW4 and run this again)" >&2
    exit 1
fi

exec "$PYTHON" - "$ZIP" "$NOTEBOOK" "$@" <<'PYTHON_END'
"""Check the files, then zip them with their paths (gan/models.py, ..., the notebook at the top)."""
import json
import os
import sys
import zipfile

zip_name, notebook, graded = sys.argv[1], sys.argv[2], sys.argv[3:]

missing = [path for path in graded + [notebook] if not os.path.isfile(path)]
if missing:
    for path in missing:
        print(f"error: {path} is missing (expected in {os.getcwd()})", file=sys.stderr)
    if os.path.exists(zip_name):
        os.remove(zip_name)
        print(f"error: the old {zip_name} was removed so that it cannot be uploaded by mistake", file=sys.stderr)
    print(f"error: no {zip_name} was made", file=sys.stderr)
    sys.exit(1)

for path in graded:
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = [number for number, line in enumerate(handle, 1) if "raise NotImplementedError" in line]
    if lines:
        where = ", ".join(str(number) for number in lines)
        print(f"warning: {path} still contains `raise NotImplementedError` "
              f"({'line' if len(lines) == 1 else 'lines'} {where}): "
              "those functions will get no points", file=sys.stderr)

try:
    with open(notebook, encoding="utf-8") as handle:
        cells = json.load(handle).get("cells", [])
    has_outputs = any(cell.get("cell_type") == "code" and cell.get("outputs") for cell in cells)
except (ValueError, AttributeError) as error:
    print(f"warning: {notebook} could not be read as a notebook ({error})", file=sys.stderr)
else:
    if not has_outputs:
        print(f"warning: {notebook} has no outputs: run all its cells and save it before collecting",
              file=sys.stderr)

partial = zip_name + ".part"
with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False) as archive:
    for path in graded + [notebook]:
        archive.write(path, arcname=path)
os.replace(partial, zip_name)
print(f"{os.path.join(os.getcwd(), zip_name)} written with {', '.join(graded + [notebook])}")
print("Upload it to Gradescope.")
PYTHON_END
