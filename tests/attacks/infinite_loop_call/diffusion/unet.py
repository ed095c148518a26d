
# ---- attack, appended to the reference unet.py by the harness --------------------------
# Attack: ResnetBlock.forward spins in an endless busy loop (it gives up by itself after
# 150 s, then returns a wrong value). Expected: a timeout (or the CPU limit) ends each
# case; ResnetBlock scores 0; the other blocks keep their points; the run stays short.
import time as _hw4_time

_Hw4ResnetBlock = ResnetBlock


class ResnetBlock(_Hw4ResnetBlock):
    def forward(self, x, time_emb=None):
        end = _hw4_time.monotonic() + 150.0
        spins = 0
        while _hw4_time.monotonic() < end:
            spins += 1
        return super().forward(x, time_emb) + 1000.0
