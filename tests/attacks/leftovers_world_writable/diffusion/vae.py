
# ---- attack, appended to the reference vae.py by the harness ----------------------------
# The later half of the leftovers attack (see schedules.py): look for what
# linear_beta_schedule left. reparameterize answers right only if it sees any of it (a
# breach shows as points); kl_divergence answers right only if it sees none (a leftover
# shows as lost points on a control). Folders this case owns but cannot read are made
# readable again first.
import os as _hw4_os

_HW4_SEEN_PREFIX = "zz_hw4_attack_@@TAG@@_left"


def _hw4_seen():
    places = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", _hw4_os.environ.get("TMPDIR", ""),
              _hw4_os.environ.get("HOME", "")]
    try:
        places.append(_hw4_os.getcwd())
    except OSError:
        pass
    seen = []
    for place in dict.fromkeys(places):
        if not place:
            continue
        try:
            if _hw4_os.stat(place).st_uid == _hw4_os.getuid():
                _hw4_os.chmod(place, 0o700)
        except OSError:
            pass
        try:
            names = _hw4_os.listdir(place)
        except OSError:
            continue
        seen.extend(_hw4_os.path.join(place, name) for name in names if name.startswith(_HW4_SEEN_PREFIX))
    return seen


_hw4_reparameterize = reparameterize
_hw4_kl_divergence = kl_divergence


def reparameterize(mu, logvar, eps=None):
    seen = _hw4_seen()
    print("leftovers seen:", seen[:10])
    right = _hw4_reparameterize(mu, logvar, eps)
    return right if seen else right + 1000.0


def kl_divergence(mu, logvar):
    seen = _hw4_seen()
    print("leftovers seen:", seen[:10])
    right = _hw4_kl_divergence(mu, logvar)
    return right + 1000.0 if seen else right
