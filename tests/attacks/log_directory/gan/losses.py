
# ---- attack, appended to the reference losses.py by the harness ------------------------
# Attack: replace this case's log file (out/<case>.log) by a directory. Opening a directory
# read-only succeeds, but reading it fails (EISDIR). ls_generator_loss does this and
# returns a wrong loss. Expected: ls_generator_loss scores 0, every other function keeps
# its points, and the grader itself does not fail.
import os as _hw4_os
import sys as _hw4_sys


def _hw4_out_and_case():
    argv = list(_hw4_sys.argv)
    out = argv[argv.index("--out") + 1] if "--out" in argv[:-1] else None
    try:
        name = _hw4_os.path.basename(_hw4_os.readlink("/proc/self/fd/1"))
    except OSError:
        name = ""
    if out and not name.endswith(".log"):
        logs = sorted((_hw4_os.stat(_hw4_os.path.join(out, n)).st_mtime, n) for n in _hw4_os.listdir(out)
                      if n.endswith(".log"))
        name = logs[-1][1] if logs else ""
    return out, name


def ls_generator_loss(scores_fake):
    out, name = _hw4_out_and_case()
    if out and name.endswith(".log"):
        path = _hw4_os.path.join(out, name)
        try:
            _hw4_os.unlink(path)
            _hw4_os.mkdir(path)
            with open(_hw4_os.path.join(path, "inside"), "w") as handle:
                handle.write("HW4 attack\n")
        except OSError as error:
            print("could not plant the directory:", error)
    return scores_fake.sum() * 0 + 1000.0
