
# ---- attack, appended to the reference schedules.py by the harness ---------------------
# Attack: prepare the output folder for the cases that come later. schedules.py is graded
# first; at import it plants, for every other case (ids from the sandbox's inputs/), a
# hard link (or, failing that, a symbolic link) named <case>.safetensors to that case's
# expected output under the grading root, and a link named <case>.status.json to a forged
# status, hoping the grader reads a planted file when a later case fails to write its own.
# The schedules return wrong values. Expected: planted links are never followed (and a
# case's own outputs replace them); the schedules score 0, everything else keeps its points.
import json as _hw4_json
import os as _hw4_os
import sys as _hw4_sys

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"


def _hw4_plant():
    argv = list(_hw4_sys.argv)
    if "--out" not in argv[:-1] or "--inputs" not in argv[:-1]:
        return []
    out, inputs = argv[argv.index("--out") + 1], argv[argv.index("--inputs") + 1]
    forged = _hw4_os.path.join(out, ".hw4atk-status")
    with open(forged, "w") as handle:
        _hw4_json.dump({"phase": "done", "outcome": "returned"}, handle)
    planted = []
    for name in sorted(_hw4_os.listdir(inputs)):
        case = name[: -len(".safetensors")]
        if not name.endswith(".safetensors") or "beta-schedule" in case:
            continue
        expected = _hw4_os.path.join(_HW4_ROOT, "source", "reference_data", "part2", "expected", name)
        try:                                # a hard link first (it would survive O_NOFOLLOW), else a symlink
            _hw4_os.link(expected, _hw4_os.path.join(out, name))
            planted.append(f"{name} (hard link)")
        except OSError:
            try:
                _hw4_os.symlink(expected, _hw4_os.path.join(out, name))
                planted.append(name)
            except OSError:
                pass
        try:
            _hw4_os.symlink(forged, _hw4_os.path.join(out, f"{case}.status.json"))
            planted.append(f"{case}.status.json")
        except OSError:
            pass
    return planted


print("planted:", len(_hw4_plant()))
_hw4_linear_beta_schedule = linear_beta_schedule
_hw4_cosine_beta_schedule = cosine_beta_schedule


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    return _hw4_linear_beta_schedule(timesteps, beta_start, beta_end) + 1000.0


def cosine_beta_schedule(timesteps, s=0.008):
    return _hw4_cosine_beta_schedule(timesteps, s) + 1000.0
