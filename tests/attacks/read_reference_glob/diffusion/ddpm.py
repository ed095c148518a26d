
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: search the file system for the expected outputs. Walks the likely places
# (the grading root, temporary folders, home folders, /autograder, then /), for about two
# seconds, opening every *.safetensors file and every zip it can read, and looks for a
# tensor equal to the right answer of q_posterior_mean for this very call. Returns it if
# found, else something wrong. Expected: nothing readable holds it; q_posterior_mean
# scores 0.
#
# Checkouts of this project (a folder holding both reference_data/ and autograder/, such as
# the repository running the test, another clone, or a CI clone) are skipped: they are
# world-readable on a developer's machine but do not exist on Gradescope.
import io as _hw4_io
import os as _hw4_os
import time as _hw4_time
import zipfile as _hw4_zipfile

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"
_HW4_REPO = "@@REPO_ROOT@@"
_HW4_SKIP = {"/proc", "/sys", "/dev", "/run", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin",
             "/etc", "/boot", "/var/lib", "/var/cache", "/var/log", "/snap", _HW4_REPO}


def _hw4_tensors_in(data):
    from safetensors.torch import load
    try:
        return list(load(data).values())
    except Exception:
        return []


def _hw4_candidates(deadline):
    starts = [_HW4_ROOT, "/tmp", "/var/tmp", "/dev/shm", "/home", "/root", "/srv", "/opt", "/mnt", "/media",
              "/autograder", "/work", "/"]
    seen = set()
    for start in starts:
        stack = [start]
        while stack:
            if _hw4_time.monotonic() > deadline:
                return
            folder = stack.pop()
            if folder in seen or folder in _HW4_SKIP:
                continue
            seen.add(folder)
            try:
                entries = list(_hw4_os.scandir(folder))
            except OSError:
                continue
            names = {entry.name for entry in entries}
            if {"reference_data", "autograder"} <= names and folder != _HW4_ROOT + "/source":
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file() and entry.stat().st_size < 64 * 1024 ** 2:
                        if entry.name.endswith(".safetensors"):
                            with open(entry.path, "rb") as handle:
                                yield from _hw4_tensors_in(handle.read())
                        elif entry.name.endswith(".zip"):
                            with _hw4_zipfile.ZipFile(entry.path) as archive:
                                for name in archive.namelist():
                                    if name.endswith(".safetensors"):
                                        yield from _hw4_tensors_in(archive.read(name))
                except Exception:
                    continue


_hw4_q_posterior_mean = q_posterior_mean


def q_posterior_mean(x_start, x_t, t, sched):
    right = _hw4_q_posterior_mean(x_start, x_t, t, sched)
    deadline = _hw4_time.monotonic() + 2.0
    for tensor in _hw4_candidates(deadline):
        if tensor.shape == right.shape and tensor.dtype == right.dtype and torch.allclose(tensor, right, atol=1e-6):
            print("found the expected output on disk")
            return tensor
    return right + 1000.0
