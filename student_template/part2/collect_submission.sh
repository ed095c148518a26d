#!/usr/bin/env bash
# Makes hw4_part2_submission.zip, the file to upload to Gradescope ("HW4: Part 2 Diffusion Models"):
# the graded files diffusion/schedules.py, diffusion/ddpm.py, diffusion/unet.py, diffusion/vae.py and the notebook hw4-part2.ipynb.
# Run it from anywhere: bash collect_submission.sh
set -eu
cd "$(dirname "$0")"

ZIP=hw4_part2_submission.zip
NOTEBOOK=hw4-part2.ipynb
set -- diffusion/schedules.py diffusion/ddpm.py diffusion/unet.py diffusion/vae.py

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

# collect_helper.py, the same in both parts, checks the files (warning about TODOs left, a notebook
# without outputs, a missing or stale PDF of it) and writes the zip.
exec "$PYTHON" collect_helper.py "$ZIP" "$NOTEBOOK" "$@"
