
# ---- attack, appended to the reference losses.py by the harness ------------------------
# Attack: replace this case's log file (out/<case>.log, where the grader reads the tail of
# what the student printed) by a named pipe (FIFO). Opening a FIFO without a writer
# succeeds with O_NONBLOCK, but seeking in it fails (ESPIPE). cycle_consistency_loss does
# this, prints a little into the old (now unlinked) file, and returns a wrong loss.
# Expected: the grader reads only regular files and copes with the rest: cycle_consistency_loss
# scores 0, every other function keeps its points, and the grader itself does not fail.
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


def cycle_consistency_loss(real_x, cycled_x, real_y, cycled_y, lambda_cyc=10.0):
    out, name = _hw4_out_and_case()
    if out and name.endswith(".log"):
        path = _hw4_os.path.join(out, name)
        try:
            _hw4_os.unlink(path)
            _hw4_os.mkfifo(path)
        except OSError as error:
            print("could not plant the FIFO:", error)
    print("HW4 attack: the log is a FIFO now")
    return (real_x.sum() + cycled_x.sum() + real_y.sum() + cycled_y.sum()) * 0 + 1000.0
