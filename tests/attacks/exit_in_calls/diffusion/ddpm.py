
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: leave in the middle of a graded call, five ways: sys.exit(0), os._exit(0),
# exit(3) (site's exit), SIGKILL to itself, and os.abort(). Expected: each of these five
# functions scores 0; the worker survives (or is restarted) and the other ddpm functions
# keep all their points.
import os as _hw4_os
import signal as _hw4_signal
import sys as _hw4_sys


def predict_start_from_noise(x_t, t, noise, sched):
    _hw4_sys.exit(0)


def q_posterior_mean(x_start, x_t, t, sched):
    _hw4_os._exit(0)


def classifier_free_guidance(model, x, t, cond, guidance_scale):
    exit(3)


def p_sample_loop(model, shape, sched, generator=None, return_all=False):
    _hw4_os.kill(_hw4_os.getpid(), _hw4_signal.SIGKILL)


def ddim_sample_loop(model, shape, sched, num_steps, eta=0.0, generator=None):
    _hw4_os.abort()
