
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: return a torch.Tensor subclass that claims to equal anything. ==, !=, bool(),
# torch.equal/allclose/isclose/eq/testing.assert_close and isfinite all answer "same" or
# "fine", through both the Python operators and __torch_function__. Its values are wrong
# (the loss plus 1000). Expected: only a plain torch.Tensor is accepted, and the parent
# compares bytes it reads itself; p_losses scores 0 on every case (including the one that
# expects a ValueError for an unknown loss_type: this one raises nothing).


class _Hw4Liar(torch.Tensor):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __bool__(self):
        return True

    __hash__ = torch.Tensor.__hash__

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal"):
            return True
        if name in ("assert_close", "assert_allclose"):
            return None
        if name in ("isclose", "eq", "__eq__", "isfinite", "le", "ge", "__le__", "__ge__"):
            with torch._C.DisableTorchFunctionSubclass():
                reference = args[0] if isinstance(args[0], torch.Tensor) else args[1]
                return torch.ones(reference.shape, dtype=torch.bool)
        if name in ("ne", "__ne__", "isnan", "isinf", "lt", "gt", "__lt__", "__gt__"):
            with torch._C.DisableTorchFunctionSubclass():
                reference = args[0] if isinstance(args[0], torch.Tensor) else args[1]
                return torch.zeros(reference.shape, dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs or {})


_hw4_p_losses = p_losses


def p_losses(denoise_model, x_start, t, sched, noise=None, loss_type="l2"):
    try:
        loss = _hw4_p_losses(denoise_model, x_start, t, sched, noise=noise, loss_type=loss_type)
    except ValueError:
        loss = x_start.sum() * 0
    return (loss + 1000.0).as_subclass(_Hw4Liar)
