
# ---- attack, appended to the reference vae.py by the harness --------------------------
# Attack: vae_loss overwrites the status file the grader reads back for this case
# (out/<case>.status.json, found from the worker's --out argument and the case's own log
# descriptor) with JSON nested 30,000 levels deep (60 kB, under the status size cap), then
# leaves with os._exit(0) so that nothing rewrites it. json.loads raises RecursionError on
# it, which is not a ValueError. Expected: the grader treats an unreadable status as a
# failed case: vae_loss scores 0, reparameterize and kl_divergence keep their points, and
# the grader itself does not fail.
import os as _hw4_os
import sys as _hw4_sys


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


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    out = _hw4_out_dir()
    case = _hw4_case_id(out) if out else None
    if case:
        bomb = "[" * 30000 + "]" * 30000
        tmp = _hw4_os.path.join(out, ".hw4atk.tmp")
        with open(tmp, "w") as handle:
            handle.write(bomb)
        _hw4_os.replace(tmp, _hw4_os.path.join(out, f"{case}.status.json"))
        _hw4_os._exit(0)
    return recon_x.sum() * 0 + 1000.0
