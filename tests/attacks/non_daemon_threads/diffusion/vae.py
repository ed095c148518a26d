
# ---- attack, appended to the reference vae.py by the harness --------------------------
# Attack: threads that never end (non-daemon, so a normal interpreter exit would wait for
# them; each gives up by itself after 150 s): one started at import, so in every vae case,
# and three more in reparameterize, which returns a wrong value. Expected: the grader does
# not wait for them; reparameterize scores 0; kl_divergence and vae_loss keep their points.
import threading as _hw4_threading
import time as _hw4_time


def _hw4_forever():
    end = _hw4_time.monotonic() + 150.0
    while _hw4_time.monotonic() < end:
        _hw4_time.sleep(0.1)


_hw4_threading.Thread(target=_hw4_forever, name="hw4atk-import", daemon=False).start()


def reparameterize(mu, logvar, eps=None):
    for index in range(3):
        _hw4_threading.Thread(target=_hw4_forever, name=f"hw4atk-{index}", daemon=False).start()
    return mu + 1000.0
