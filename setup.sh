#!/usr/bin/env bash
# Gradescope runs this once, as root and with internet, when it builds the autograder
# image (Ubuntu 22.04, Python 3.10). It installs what the grader and the sandboxed
# worker need, system-wide so that the unprivileged sandbox user can use it too.
set -euo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends python3 python3-pip libseccomp2 passwd

# The CPU build of torch: the CUDA build is gigabytes and the grader runs on CPU.
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
python3 -m pip install --no-cache-dir --index-url "$TORCH_INDEX" torch==2.13.0
python3 -m pip install --no-cache-dir -r requirements.txt

# The unprivileged user that student code runs as (run_autograder creates it too if missing).
id -u gs-student >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin --user-group gs-student
