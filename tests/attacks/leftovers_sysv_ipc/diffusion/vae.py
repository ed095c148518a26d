
# ---- attack, appended to the reference vae.py by the harness ----------------------------
# The later half of the System V IPC leftovers attack (see schedules.py): look for the
# objects linear_beta_schedule made, by their keys. reparameterize answers right only if it
# finds any (a breach shows as points); kl_divergence answers right only if it finds none
# (a leftover shows as lost points on a control).
import ctypes as _hw4_ctypes

_HW4_SEEN_TAG = "@@TAG@@"
_HW4_SEEN_KEY = (int(_HW4_SEEN_TAG[1:8], 16) << 2) if len(_HW4_SEEN_TAG) == 11 else 0x48770000


def _hw4_seen():
    libc = _hw4_ctypes.CDLL(None, use_errno=True)
    found = {"shm": libc.shmget(_HW4_SEEN_KEY, 0, 0), "msg": libc.msgget(_HW4_SEEN_KEY + 1, 0),
             "sem": libc.semget(_HW4_SEEN_KEY + 2, 0, 0)}
    return [f"System V {kind}" for kind, ident in found.items() if ident >= 0]


_hw4_reparameterize = reparameterize
_hw4_kl_divergence = kl_divergence


def reparameterize(mu, logvar, eps=None):
    seen = _hw4_seen()
    print("leftovers seen:", seen)
    right = _hw4_reparameterize(mu, logvar, eps)
    return right if seen else right + 1000.0


def kl_divergence(mu, logvar):
    seen = _hw4_seen()
    print("leftovers seen:", seen)
    right = _hw4_kl_divergence(mu, logvar)
    return right + 1000.0 if seen else right
