
# ---- attack, appended to the reference unet.py by the harness --------------------------
# Attack: reach the trusted grader through /proc. For every ancestor of the case's
# process and every process whose command line names the grading root or the sandbox,
# try what would leak the grader's data: environ, maps, mem, the open descriptors
# (/proc/PID/fd/N), the working folder (/proc/PID/cwd), and the grading root through
# /proc/PID/root. Reading a process of our own user does not count (it holds no expected
# output), unless its command line names the grading root: that is the grader itself, which
# holds the expected outputs whatever user it runs as (a TA grading without a separate
# sandbox user). SinusoidalPositionEmbeddings answers right only if anything of another
# user's process, or of the grader, could be read. Expected: nothing;
# SinusoidalPositionEmbeddings scores 0.
import os as _hw4_os
import sys as _hw4_sys

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"


def _hw4_ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _hw4_uid(pid):
    try:
        return _hw4_os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _hw4_targets():
    pids, pid = [], _hw4_os.getpid()
    while pid > 1:
        pid = _hw4_ppid(pid)
        if pid > 1:
            pids.append(pid)
    markers = [_HW4_ROOT]
    argv = list(_hw4_sys.argv)
    if "--out" in argv[:-1]:
        markers.append(_hw4_os.path.dirname(argv[argv.index("--out") + 1].rstrip("/")))
    for entry in _hw4_os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in pids:
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    cmdline = handle.read().decode(errors="replace")
            except OSError:
                continue
            if any(marker and marker in cmdline for marker in markers):
                pids.append(int(entry))
    return [pid for pid in pids if pid != _hw4_os.getpid()
            and (_hw4_uid(pid) != _hw4_os.getuid() or _HW4_ROOT in _hw4_cmdline(pid))]


def _hw4_cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _hw4_read(path, size=256):
    try:
        if _hw4_os.path.isdir(path):
            return len(_hw4_os.listdir(path)) > 0
        with open(path, "rb") as handle:
            return len(handle.read(size)) > 0
    except (OSError, ValueError):
        return False


def _hw4_leaks():
    leaks = []
    for pid in _hw4_targets():
        base = f"/proc/{pid}"
        for name in ("environ", "maps", "smaps", "stack", "syscall", "auxv", "mem", "io", "pagemap"):
            if _hw4_read(f"{base}/{name}"):
                leaks.append(f"{base}/{name}")
        try:
            with open(f"{base}/mem", "rb") as handle:      # mem needs an address: take one from the stack pointer
                handle.seek(0x400000)
                if handle.read(16):
                    leaks.append(f"{base}/mem@0x400000")
        except (OSError, ValueError, OverflowError):
            pass
        for index in range(64):
            if _hw4_read(f"{base}/fd/{index}"):
                leaks.append(f"{base}/fd/{index}")
        for path in (f"{base}/fd", f"{base}/map_files", f"{base}/cwd", f"{base}/cwd/reference_data",
                     f"{base}/root{_HW4_ROOT}/source", f"{base}/root{_HW4_ROOT}/source/reference_data"):
            if _hw4_read(path):
                leaks.append(path)
    return leaks


_Hw4SinusoidalPositionEmbeddings = SinusoidalPositionEmbeddings


class SinusoidalPositionEmbeddings(_Hw4SinusoidalPositionEmbeddings):
    def forward(self, time):
        right = super().forward(time)
        leaks = _hw4_leaks()
        print("leaks:", leaks[:5])
        return right if leaks else right + 1000.0
