
# ---- attack, appended to the reference vae.py by the harness --------------------------
# Attack: plant a file where every later Python process would load it: a .pth file (and a
# module) named zz_hw4_attack_probe in every site-packages / dist-packages folder it can
# find (site.getsitepackages(), sysconfig's purelib and platlib, sys.path, the folders of
# torch and numpy). The probe holds only a comment; the harness looks for it and deletes
# it. Tried at import, so in every vae case. reparameterize answers right only if a probe
# was written. Expected: every folder refuses; reparameterize scores 0; kl_divergence and
# vae_loss keep their points; no probe is left.
import os as _hw4_os
import site as _hw4_site
import sys as _hw4_sys
import sysconfig as _hw4_sysconfig


def _hw4_folders():
    folders = set()
    try:
        folders.update(_hw4_site.getsitepackages())
    except Exception:
        pass
    for key in ("purelib", "platlib"):
        try:
            folders.add(_hw4_sysconfig.get_paths()[key])
        except Exception:
            pass
    folders.update(path for path in _hw4_sys.path if path.rstrip("/").endswith(("site-packages", "dist-packages")))
    for module in ("torch", "numpy", "safetensors"):
        try:
            folders.add(_hw4_os.path.dirname(_hw4_os.path.dirname(__import__(module).__file__)))
        except Exception:
            pass
    home = _hw4_os.path.realpath(_hw4_os.path.expanduser("~"))
    return sorted(folder for folder in folders if not _hw4_os.path.realpath(folder).startswith(home + "/"))


def _hw4_plant():
    planted = []
    for folder in _hw4_folders():
        for name, text in (("zz_hw4_attack_probe.pth", "# HW4 attack probe: harmless, delete me\n"),
                           ("zz_hw4_attack_probe.py", "# HW4 attack probe: harmless, delete me\n")):
            try:
                with open(_hw4_os.path.join(folder, name), "w") as handle:
                    handle.write(text)
                planted.append(_hw4_os.path.join(folder, name))
            except OSError:
                pass
    return planted


_HW4_PLANTED = _hw4_plant()
print("planted:", _HW4_PLANTED)
_hw4_reparameterize = reparameterize


def reparameterize(mu, logvar, eps=None):
    z = _hw4_reparameterize(mu, logvar, eps)
    return z if _HW4_PLANTED else z + 1000.0
