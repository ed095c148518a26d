# The two commands of the README: `make build` and `make test`.
# Everything is installed into .venv at the repository root, and the Debian packages the
# tests need (bubblewrap, Chromium, poppler-utils) where we are root and they are missing.

BASE_PYTHON ?= $(firstword $(wildcard /usr/bin/python3) python3)
VENV := .venv
PY := $(VENV)/bin/python
PART ?= 1

.PHONY: all build test venv system-packages gradescope-env strip references zips selfcheck simulate attacks bench mutation clean

all: build

# The sandbox user must be able to run the interpreter, so the venv is made from a system Python
# when there is one (not from a Python under a private home folder). The graded code's packages
# come from the parts' declared environment, at Gradescope's pins (torch's CPU build included).
$(VENV)/.installed: requirements-dev.txt autograder/hw4/environment.py
	$(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m autograder.tools.requirements > $(VENV)/requirements-declared.txt
	$(PY) -m pip install --quiet -r $(VENV)/requirements-declared.txt -r requirements-dev.txt
	touch $@

venv: system-packages $(VENV)/.installed

# Debian packages: bubblewrap (the grader's namespaces, tests/test_isolation.py and the attack suite),
# Chromium and poppler-utils (the handout's make_pdf and the class report's screenshot, read back with
# pdftoppm). Installed when missing and we are root with apt-get; otherwise a note, and the tests that
# need them say so or are skipped.
SYSTEM_PACKAGES := bubblewrap chromium poppler-utils
system-packages:
	@missing=""; \
	for tool in bwrap chromium pdftoppm; do command -v $$tool >/dev/null 2>&1 || missing=1; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(SYSTEM_PACKAGES) (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	else \
		echo "note: the tests need $(SYSTEM_PACKAGES); install them (Debian: sudo apt-get install $(SYSTEM_PACKAGES))"; \
	fi

# The simulated Gradescope's environment: what the zip's setup.sh installs, in .cache/ (built once,
# again whenever setup.sh or the declared packages change).
gradescope-env: venv
	$(PY) -m autograder simulate --part 1 --environment-only

# Template, reference data, both zips, then grade the solution and the template through the zips
# in the simulated Gradescope.
build: gradescope-env
	$(PY) -m autograder build

strip: venv
	$(PY) -m autograder strip

references: venv
	$(PY) -m autograder generate

zips: venv
	$(PY) -m autograder package

selfcheck: gradescope-env
	$(PY) -m autograder selfcheck

# `make simulate PART=2 SUBMISSION=path/to/folder`: one submission as Gradescope would grade it.
simulate: gradescope-env
	$(PY) -m autograder simulate --part $(PART) $(SUBMISSION)

# The tests make and delete tens of thousands of small files in pytest's folders (a root for each
# grading, the notebooks, the handouts): those go to memory, TEST_TMP, where /dev/shm is a tmpfs
# with 2 GiB free. On an ext4 disk without a journal each new file is searched for past the recently
# deleted ones: the attack suite spent 4-8% more CPU. Private to the user, as pytest's own
# folder is; one per user and checkout, so that two checkouts' suites can run at once. TMPDIR stays
# where it is: a world-writable folder of ours would be one more place for a sandboxed submission to
# leave files in, which the grader does not sweep. IN_TEST_TMP, at the start of a recipe's shell
# line, leaves pytest's --basetemp in "$$@".
TEST_TMP := /dev/shm/hw4-tests-$(shell id -u)-$(shell printf %s "$(CURDIR)" | cksum | cut -d' ' -f1)
IN_TEST_TMP = if [ "$$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] \
	    && [ "$$(df -P -k /dev/shm | awk 'NR==2 {print $$4}')" -ge 2097152 ] \
	    && { [ -d $(TEST_TMP) ] || mkdir -m 700 $(TEST_TMP) 2>/dev/null; } \
	    && [ -O $(TEST_TMP) ] && [ ! -L $(TEST_TMP) ] && chmod 700 $(TEST_TMP); then \
		set -- --basetemp=$(TEST_TMP)/pytest; \
	else \
		echo "note: /dev/shm is not a tmpfs with 2 GiB free: the tests' files go to the disk"; set --; \
	fi

# The project's test suite, four tests at a time on the 2 cores (many wait on time limits or on
# half a CPU). On a fresh clone the simulated Gradescope's environment is built beside the first
# tests (it mostly writes files); the tests that need it wait for it (simulate.py holds a lock).
test: venv
	@mkdir -p .cache
	@$(IN_TEST_TMP); \
	$(PY) -m autograder simulate --part 1 --environment-only > .cache/gradescope-env.log 2>&1 & \
	$(PY) -m pytest -n 4 "$$@"; status=$$?; wait; exit $$status

# The whole attack suite in all three isolation modes (root, an unprivileged TA, the sandbox user
# alone); `make test` runs every attack as root and the core ones as an unprivileged TA too
# (tests/attacks/README.md).
attacks: gradescope-env
	@$(IN_TEST_TMP); \
	HW4_ATTACK_MODES=all $(PY) -m pytest -n 2 tests/test_attacks.py "$$@"

# Grading time and memory (solution, template, hanging, habits, slow; natively and under Gradescope's
# limits), regrade throughput, build steps, zip sizes; not part of `make test`. Prints the README's
# table and appends a line to benchmarks/history.jsonl.
bench: gradescope-env
	$(PY) benchmarks/run.py

# Mutation analysis of the case tables: every mutant of the solution regions (tens of minutes).
# Writes autograder/hw4/MUTATION_REPORT.md.
mutation: venv
	$(PY) -m autograder mutation

clean:
	rm -rf dist .pytest_cache .cache $(TEST_TMP)
