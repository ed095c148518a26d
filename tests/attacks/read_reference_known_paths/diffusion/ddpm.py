
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: read the expected outputs where the grader keeps them. The attacker knows the
# exact layout of the grading root (the list of files is filled in by the harness), and
# tries plain opens, directory listings, odd spellings of the same paths, and relative
# paths from the worker's folder. predict_start_from_noise returns the right answer only
# if any of that succeeded (as a real attacker would, after reading the expected tensor),
# else something wrong. Expected: every read fails; predict_start_from_noise scores 0.
import json as _hw4_json
import os as _hw4_os

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"
try:
    _HW4_SOURCE_FILES = _hw4_json.loads(r'''@@SOURCE_FILES_JSON@@''')
except ValueError:
    _HW4_SOURCE_FILES = []


def _hw4_try_read(path):
    try:
        if _hw4_os.path.isdir(path):
            _hw4_os.listdir(path)
            return True
        with open(path, "rb") as handle:
            return len(handle.read(64)) > 0
    except OSError:
        return False


def _hw4_breached():
    candidates = [_hw4_os.path.join(_HW4_ROOT, "source"),
                  _hw4_os.path.join(_HW4_ROOT, "source", "reference_data"),
                  _hw4_os.path.join(_HW4_ROOT, "results")]
    for path in _HW4_SOURCE_FILES:
        candidates.append(path)
        candidates.append(path.replace("/source/", "/source/./", 1))
        candidates.append(path.replace("/source/", "//source//", 1))
        candidates.append(_hw4_os.path.relpath(path, _hw4_os.getcwd()))
    return [path for path in candidates if _hw4_try_read(path)]


_hw4_predict_start_from_noise = predict_start_from_noise


def predict_start_from_noise(x_t, t, noise, sched):
    read = _hw4_breached()
    print("readable:", read[:5])
    if read:
        return _hw4_predict_start_from_noise(x_t, t, noise, sched)
    return x_t + 1000.0
