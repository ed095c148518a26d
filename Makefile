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
