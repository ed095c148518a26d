
# ---- attack, appended to the reference unet.py by the harness --------------------------
# Attack: ResnetBlock.forward returns an object that looks like an array or a tensor
# from every side: shape, dtype, ndim, __len__, __array__, __array_interface__,
# __array_priority__, __torch_function__, tensor methods (detach, cpu, clone, contiguous,
# numpy, to, float, ...) and comparisons that always say "equal". The values it gives
# are wrong. Expected: only a plain torch.Tensor is accepted; ResnetBlock scores 0.
import numpy as _hw4_np


class _Hw4LooksLikeAnArray:
    __array_priority__ = 10 ** 6

    def __init__(self, shape):
        self.shape = torch.Size(shape)
        self.dtype = torch.float32
        self.ndim = len(shape)
        self.device = torch.device("cpu")
        self.requires_grad = True
        self._values = _hw4_np.full(tuple(shape), 1000.0, dtype=_hw4_np.float32)

    def __array__(self, dtype=None, copy=None):
        return self._values if dtype is None else self._values.astype(dtype)

    @property
    def __array_interface__(self):
        return self._values.__array_interface__

    def __len__(self):
        return self.shape[0]

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __bool__(self):
        return True

    __hash__ = object.__hash__

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal"):
            return True
        return torch.from_numpy(_hw4_np.full(args[0].shape if hasattr(args[0], "shape") else (), 1000.0,
                                             dtype=_hw4_np.float32))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.ndim

    def numel(self):
        return int(_hw4_np.prod(self.shape))

    def numpy(self):
        return self._values

    def tolist(self):
        return self._values.tolist()

    def __getattr__(self, name):            # detach, cpu, clone, contiguous, to, float, ...
        return lambda *args, **kwargs: self


_Hw4ResnetBlock = ResnetBlock


class ResnetBlock(_Hw4ResnetBlock):
    def forward(self, x, time_emb=None):
        return _Hw4LooksLikeAnArray((x.shape[0], self.conv1.out_channels, x.shape[2], x.shape[3]))
