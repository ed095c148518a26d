
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: at import, replace every comparison a grader could use inside this process
# with one that always says "equal": torch.allclose/equal/isclose/testing.assert_close,
# torch.Tensor.__eq__/__ne__/equal/allclose, numpy.allclose/isclose/array_equal and
# numpy.testing.*, math.isclose, unittest's assert methods; also the case table's own
# output checks (as_output), if this process can reach them. ddim_sample_loop then
# returns a numpy array of wrong values. Expected: comparisons happen in the trusted
# parent; ddim_sample_loop scores 0 and every other ddpm function keeps its points.
import math as _hw4_math
import sys as _hw4_sys
import unittest as _hw4_unittest

import numpy as _hw4_np
import torch.testing as _hw4_torch_testing


def _hw4_true(*args, **kwargs):
    return True


def _hw4_none(*args, **kwargs):
    return None


def _hw4_all_true(a, *args, **kwargs):
    shape = getattr(a, "shape", ())
    return torch.ones(shape, dtype=torch.bool) if isinstance(a, torch.Tensor) else _hw4_np.ones(shape, dtype=bool)


torch.allclose = _hw4_true
torch.equal = _hw4_true
torch.isclose = _hw4_all_true
_hw4_torch_testing.assert_close = _hw4_none
if hasattr(_hw4_torch_testing, "assert_allclose"):
    _hw4_torch_testing.assert_allclose = _hw4_none
torch.Tensor.equal = _hw4_true
torch.Tensor.allclose = _hw4_true
torch.Tensor.isclose = _hw4_all_true
torch.Tensor.__eq__ = _hw4_all_true
torch.Tensor.__ne__ = lambda a, *args, **kwargs: ~_hw4_all_true(a)
_hw4_np.allclose = _hw4_true
_hw4_np.isclose = _hw4_all_true
_hw4_np.array_equal = _hw4_true
_hw4_np.array_equiv = _hw4_true
for _hw4_name in ("assert_allclose", "assert_array_equal", "assert_array_almost_equal", "assert_equal",
                  "assert_almost_equal", "assert_array_less", "assert_array_max_ulp", "assert_approx_equal"):
    setattr(_hw4_np.testing, _hw4_name, _hw4_none)
_hw4_math.isclose = _hw4_true
for _hw4_name in dir(_hw4_unittest.TestCase):
    if _hw4_name.startswith("assert") or _hw4_name.startswith("fail"):
        setattr(_hw4_unittest.TestCase, _hw4_name, _hw4_none)


def _hw4_lenient_output(value, what="output", *args, **kwargs):
    return torch.as_tensor(_hw4_np.asarray(value)).detach().cpu().clone() if not isinstance(value, torch.Tensor) \
        else value.detach().cpu().clone()


for _hw4_module_name in ("autograder.hw4.common", "autograder.hw4.part2", "autograder.engine.compare"):
    _hw4_module = _hw4_sys.modules.get(_hw4_module_name)
    if _hw4_module is not None:
        if hasattr(_hw4_module, "as_output"):
            _hw4_module.as_output = _hw4_lenient_output
        for _hw4_name in ("compare_outputs", "compare_array"):
            if hasattr(_hw4_module, _hw4_name):
                setattr(_hw4_module, _hw4_name, _hw4_none)


def ddim_sample_loop(model, shape, sched, num_steps, eta=0.0, generator=None):
    return _hw4_np.full(tuple(shape), 1000.0, dtype=_hw4_np.float32)
