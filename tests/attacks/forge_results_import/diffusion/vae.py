"""Attack: forge ROOT/results/results.json while the module is imported (and again in every call).

Every write goes to the grading root's results folder only. Expected: the grader's
results folder is out of reach (root-only), vae.py scores 0, nothing else changes.
"""
import json
import os

_HW4_ROOT = "@@AUTOGRADER_ROOT@@"
_HW4_FORGED = {
    "score": 1000.0,
    "output": "HW4 attack: forged results",
    "tests": [{"name": "reparameterize: forged", "score": 1000.0, "max_score": 1.0, "status": "passed"}],
}


def _hw4_forge():
    results = os.path.join(_HW4_ROOT, "results")
    target = os.path.join(results, "results.json")
    text = json.dumps(_HW4_FORGED)
    attempts = []
    try:                                    # the folder may not exist yet, or be replaceable
        os.makedirs(results, exist_ok=True)
    except OSError as error:
        attempts.append(repr(error))
    try:                                    # plain overwrite
        with open(target, "w") as handle:
            handle.write(text)
    except OSError as error:
        attempts.append(repr(error))
    try:                                    # write beside it, then rename over it
        tmp = os.path.join(results, ".results.json.tmp")
        with open(tmp, "w") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as error:
        attempts.append(repr(error))
    try:                                    # open the folder up for later writers
        os.chmod(results, 0o777)
    except OSError as error:
        attempts.append(repr(error))
    try:                                    # the grading root itself
        os.chmod(_HW4_ROOT, 0o777)
    except OSError as error:
        attempts.append(repr(error))
    return attempts


print("forge attempts:", _hw4_forge())


def reparameterize(mu, logvar, eps=None):
    _hw4_forge()
    return mu + 1000.0


def kl_divergence(mu, logvar):
    _hw4_forge()
    return (mu.sum() + logvar.sum()) * 0 + 1000.0


def vae_loss(recon_x, x, mu, logvar, beta=1.0):
    _hw4_forge()
    return (recon_x.sum() + mu.sum() + logvar.sum()) * 0 + 1000.0
