"""The trusted comparison: nothing broadcasts, NaN never passes, tolerances are element-wise."""
import numpy as np

from autograder.engine.compare import compare_outputs

TOL = {"default": (1e-6, 1e-5)}


def verdict(expected, actual, hidden=False, tol=TOL):
    return compare_outputs({"out": expected}, {"out": actual}, tol, hidden)


def test_equal_arrays_pass():
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    assert verdict(x, x.copy()).passed


def test_broadcastable_shapes_fail():
    x = np.ones((3, 4), dtype=np.float32)
    for actual in (np.ones((1,), np.float32), np.ones((), np.float32), np.ones((1, 4), np.float32)):
        v = verdict(x, actual)
        assert not v.passed and v.kind == "shape"


def test_dtype_must_match():
    x = np.ones((2,), dtype=np.float32)
    v = verdict(x, x.astype(np.float64))
    assert not v.passed and v.kind == "dtype"


def test_nan_and_inf_fail_where_reference_is_finite():
    x = np.ones((5,), dtype=np.float32)
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[2] = bad
        v = verdict(x, y)
        assert not v.passed and v.kind == "non-finite"


def test_matching_non_finite_values_pass():
    x = np.array([1.0, np.inf, np.nan], dtype=np.float32)
    assert verdict(x, x.copy()).passed
    assert not verdict(x, np.array([1.0, -np.inf, np.nan], np.float32)).passed


def test_tolerance_is_elementwise_atol_plus_rtol():
    x = np.array([1e-4, 100.0], dtype=np.float64)
    ok = x + np.array([0.9e-6, 100.0 * 0.9e-5])
    assert verdict(x, ok).passed
    small_wrong = x + np.array([2e-6, 0.0])     # 2% of a small entry: a real mistake
    v = verdict(x, small_wrong)
    assert not v.passed and "index (0,)" in v.message


def test_hidden_messages_reveal_no_values():
    x = np.array([0.123456, 0.5], dtype=np.float32)
    v = verdict(x, x + 1, hidden=True)
    assert not v.passed
    assert v.message == "out: values differ from the reference in 2 of 2 elements (100%)"    # the share, nothing else
    for revealing in ("0.123", "1.123", "index", "expected", "got"):
        assert revealing not in v.message
    v = verdict(x, np.ones((3,), np.float32), hidden=True)
    assert "(2,)" not in v.message


def test_missing_and_extra_outputs_fail():
    x = np.ones(2, np.float32)
    assert not compare_outputs({"a": x}, {}, TOL, False).passed
    assert not compare_outputs({"a": x}, {"a": x, "b": x}, TOL, False).passed


def test_integer_outputs_compare_exactly():
    x = np.array([1, 2], dtype=np.int64)
    assert verdict(x, x.copy()).passed
    assert not verdict(x, np.array([1, 3], np.int64)).passed
