# The two commands of the README: `make build` and `make test`.
# Everything is installed into .venv at the repository root.

BASE_PYTHON ?= $(firstword $(wildcard /usr/bin/python3) python3)
VENV := .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0

.PHONY: all build test venv strip references zips selfcheck test-full clean

all: build

# The sandbox user must be able to run the interpreter, so the venv is made from a
# system Python when there is one (not from a Python under a private home folder).
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# Template, reference data, both zips, then grade the solution and the template through the zips.
build: venv
	$(PY) -m autograder build

strip: venv
	$(PY) -m autograder strip

references: venv
	$(PY) -m autograder generate

zips: venv
	$(PY) -m autograder package

selfcheck: venv
	$(PY) -m autograder selfcheck

# The project's test suite (well under 20 minutes on 2 cores).
test: venv
	$(PY) -m pytest

# Grading time and memory of each part, build steps, zip sizes (not part of `make test`);
# prints a table and appends a line to benchmarks/history.jsonl.
.PHONY: bench
bench: venv
	$(PY) benchmarks/run.py

clean:
	rm -rf dist .pytest_cache

# Mutation analysis of the case tables: every mutant of the solution regions, graded with the
# real grader, 2 graders at once (tens of minutes). Writes autograder/hw4/MUTATION_REPORT.md.
.PHONY: mutation
mutation: venv
	$(PY) -m autograder.mutation

# -- PDF tools for tests/test_pdf.py ---------------------------------------------------------------
# The handout's make_pdf prints notebooks with Chromium through playwright. Students download
# playwright's own Chromium; the tests point the same code at Debian's (HW4_CHROMIUM) and read the
# PDFs back with poppler-utils (pdftoppm). Installed here when missing and we are root with apt-get;
# otherwise a note, and those tests are skipped.
PDF_TOOLS := chromium poppler-utils
.PHONY: pdf-tools
venv: pdf-tools
pdf-tools:
	@if command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(PDF_TOOLS) (Debian packages) for tests/test_pdf.py"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_TOOLS) >/dev/null; \
	else \
		echo "note: tests/test_pdf.py needs Chromium and poppler-utils; install them (Debian: sudo apt-get install $(PDF_TOOLS)), or its PDF tests are skipped"; \
	fi
