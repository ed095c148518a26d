
# ---- attack, appended to the reference unet.py by the harness --------------------------
# Attack: Attention.forward dereferences a null pointer (ctypes.string_at(0)): SIGSEGV.
# Expected: a crash for each Attention case (0 points), no core file, the worker carries
# on, and the other blocks keep their points.
import ctypes as _hw4_ctypes

_Hw4Attention = Attention


class Attention(_Hw4Attention):
    def forward(self, x):
        _hw4_ctypes.string_at(0)
        return super().forward(x)
