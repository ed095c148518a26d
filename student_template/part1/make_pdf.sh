#!/usr/bin/env bash
# Makes the PDF of this folder's notebook (hw4-part1.pdf or hw4-part2.pdf) for the written part of
# HW4; given PDF files (your theory answers), also merges them with it into hw4_written.pdf.
# Run it from anywhere: bash make_pdf.sh [theory.pdf ...]   (bash make_pdf.sh --help says more)
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"

# The first Python that has what make_pdf needs; else any Python 3, which says what to install.
# (find_spec looks for the packages without importing them: make_pdf.py imports them once.)
NEEDS="import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('nbconvert', 'playwright', 'pypdf')))"
PYTHON=""
for check in "$NEEDS" "import sys; sys.exit(sys.version_info < (3, 8))"; do
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$check" >/dev/null 2>&1; then
            PYTHON=$candidate
            break 2
        fi
    done
done
if [ -z "$PYTHON" ]; then
    echo "error: no python3 found (activate the environment you use for HW4 and run this again)" >&2
    exit 1
fi

exec "$PYTHON" "$HERE/make_pdf.py" "$@"
