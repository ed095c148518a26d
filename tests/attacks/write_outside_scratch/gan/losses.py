
# ---- attack, appended to the reference losses.py by the harness -------------------------
# Attack: write outside the sandbox's own folders. cycle_consistency_loss tries to create a
# file and a folder named zz_hw4_attack_<tag>* in the grading user's home, this checkout,
# the grading root (and its source, results and submission folders, and the folder holding
# it), /tmp, /var/tmp, /dev/shm, /run/lock, /var/lock, every site-packages folder, the
# scratch folder's parent and grandparent (from the worker's --out), /, /etc, /usr/local,
# and every world-writable folder a short walk of the file system finds. A write counts as
# a breach unless its folder is a temporary one or world-writable (any user may write there,
# and the sandbox's own are private to it; the harness checks that nothing is left there
# after grading). It answers right only on a breach. Expected:
# every write refused or private to the sandbox; cycle_consistency_loss scores 0; no
# zz_hw4_attack* file is left anywhere the harness looks.
import glob as _hw4_glob
import os as _hw4_os
import site as _hw4_site
import stat as _hw4_stat
import sys as _hw4_sys
import sysconfig as _hw4_sysconfig
import time as _hw4_time

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"
_HW4_PREFIX = "zz_hw4_attack_@@TAG@@"


def _hw4_outside():
    """Folders outside the sandbox that no ordinary user may write to: a write there is a breach."""
    places = ["@@HOME@@", "@@REPO_ROOT@@", _HW4_ROOT, _hw4_os.path.dirname(_HW4_ROOT)]
    places += [_hw4_os.path.join(_HW4_ROOT, name) for name in ("source", "results", "submission")]
    places += ["/", "/etc", "/usr/local", "/usr/local/lib"]
    try:
        places += list(_hw4_site.getsitepackages())
    except Exception:
        pass
    for key in ("purelib", "platlib"):
        places.append(_hw4_sysconfig.get_paths().get(key, ""))
    places += [path for path in _hw4_sys.path if path.rstrip("/").endswith(("site-packages", "dist-packages"))]
    places += _hw4_glob.glob("/usr/lib/python3*/*-packages") + _hw4_glob.glob("/usr/local/lib/python3*/*-packages")
    argv = list(_hw4_sys.argv)
    if "--out" in argv[:-1]:
        scratch = _hw4_os.path.dirname(argv[argv.index("--out") + 1].rstrip("/"))
        places += [scratch, _hw4_os.path.dirname(scratch)]
    return _hw4_unique(place for place in places
                       if not _hw4_world_writable_folder(place) and _hw4_os.path.realpath(place) not in _HW4_TEMPORARY)


_HW4_TEMPORARY = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock"]


def _hw4_shared():
    """The temporary folders (in the sandbox, its own) and every world-writable folder found:
    writes there are allowed, but the harness checks that nothing is left there."""
    return _hw4_unique(_HW4_TEMPORARY + _hw4_world_writable(_hw4_time.monotonic() + 0.15))


def _hw4_unique(places):
    return [place for place in dict.fromkeys(places) if place and not place.startswith("@@")]


def _hw4_world_writable(deadline, max_depth=4):
    found, queue = [], [("/", 0)]
    while queue and _hw4_time.monotonic() < deadline:
        folder, depth = queue.pop(0)
        try:
            entries = list(_hw4_os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.path in ("/proc", "/sys"):
                    continue
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if mode & _hw4_stat.S_IWOTH:
                found.append(entry.path)
            if depth + 1 < max_depth:
                queue.append((entry.path, depth + 1))
    return found


def _hw4_world_writable_folder(place):
    try:
        return bool(_hw4_os.stat(place).st_mode & _hw4_stat.S_IWOTH)
    except OSError:
        return False


def _hw4_write(place):
    written = []
    try:
        with open(_hw4_os.path.join(place, _HW4_PREFIX + "_file"), "x") as handle:
            handle.write("HW4 attack: written outside the sandbox\n")
        written.append("file")
    except OSError:
        pass
    try:
        _hw4_os.mkdir(_hw4_os.path.join(place, _HW4_PREFIX + "_dir"))
        written.append("dir")
    except OSError:
        pass
    return f"{place}: {'+'.join(written)}" if written else None


def _hw4_write_everywhere():
    outside = [place for place in _hw4_outside()]
    breaches = [done for done in map(_hw4_write, outside) if done]
    shared = [done for done in map(_hw4_write, _hw4_shared()) if done and done.split(":")[0] not in outside]
    return breaches, shared


_hw4_cycle_consistency_loss = cycle_consistency_loss


def cycle_consistency_loss(real_x, cycled_x, real_y, cycled_y, lambda_cyc=10.0):
    breaches, shared = _hw4_write_everywhere()
    print("written outside the sandbox:", breaches[:10], "in world-writable folders:", shared[:10])
    right = _hw4_cycle_consistency_loss(real_x, cycled_x, real_y, cycled_y, lambda_cyc)
    return right if breaches else right + 1000.0
