#!/usr/bin/env bash
# Gradescope runs this once, as root and with internet, when it builds the autograder image
# (Ubuntu 22.04, Python 3.10). It installs what the grader, its sandbox and graded code need,
# system-wide so that the sandbox user can use it too: the packages of requirements.txt, which
# the build derives from the part's declared environment (torch, the CPU build, from TORCH_INDEX).
#
# `python -m autograder simulate` replays the installs into a virtual environment: SETUP_PYTHON
# names its python, and the system steps (apt, the sandbox user) are skipped.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${SETUP_PYTHON:-python3}"
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"

if [ -z "${SETUP_PYTHON:-}" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # bubblewrap: namespaces, where the container allows them; libseccomp2: the network filter.
    apt-get install -y -q --no-install-recommends python3 python3-pip libseccomp2 bubblewrap passwd
fi

# torch first, from its CPU index: the CUDA build is gigabytes and the grader runs on CPU.
"$PYTHON" -m pip install --no-cache-dir --index-url "$TORCH_INDEX" "$(grep -E '^torch[<>=!~ ]' requirements.txt)"
"$PYTHON" -m pip install --no-cache-dir -r requirements.txt

if [ -z "${SETUP_PYTHON:-}" ]; then
    # The unprivileged user that student code runs as (the grader creates it too if missing).
    id -u gs-student >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --user-group gs-student
fi
