
# ---- attack, appended to the reference models.py by the harness ------------------------
# Attack: DCGenerator returns a torch.Tensor subclass that pretends to be a plain tensor:
# its __class__ says torch.Tensor (so x.__class__ checks pass), == and != always say
# "equal", and its __torch_function__ answers allclose/equal/isclose/eq/isfinite with
# "equal" and "fine". Its values are wrong (0.25 everywhere). Expected: the exact type
# (type(x) is torch.Tensor) is checked; DCGenerator scores 0; the other models keep
# their points.


class _Hw4Impostor(torch.Tensor):
    @property
    def __class__(self):
        return torch.Tensor

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = torch.Tensor.__hash__

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal"):
            return True
        if name in ("isclose", "eq", "__eq__", "isfinite"):
            with torch._C.DisableTorchFunctionSubclass():
                return torch.ones(args[0].shape, dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs or {})


_Hw4DCGenerator = DCGenerator


class DCGenerator(_Hw4DCGenerator):
    def forward(self, z):
        out = super().forward(z)
        return (out * 0 + 0.25).as_subclass(_Hw4Impostor)
