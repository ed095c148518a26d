"""Compare a submission's outputs with the expected ones, and say how they differ.

Runs in the trusted parent on plain numpy arrays (no torch): shapes and dtypes
must match exactly (nothing broadcasts), non-finite values must sit exactly where
the reference has them, and every element must satisfy
|actual - expected| <= atol + rtol * |expected|.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class Verdict:
    passed: bool
    kind: str          # "passed", "missing output", "shape", "dtype", "non-finite", "values"
    message: str       # for the student; never reveals a hidden case's data
    rows: Tuple[Tuple[str, str, str], ...] = ()   # (what, expected, yours) for a table; none for hidden cases


def _fmt(value) -> str:
    return np.format_float_positional(float(value), precision=6, unique=True, trim="-") \
        if abs(float(value)) >= 1e-4 or value == 0 else f"{float(value):.4e}"


def _index(flat_index: int, shape: Tuple[int, ...]) -> Tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat_index, shape)) if shape else ()


def compare_array(name: str, expected: np.ndarray, actual: np.ndarray, atol: float, rtol: float,
                  hidden: bool) -> Optional[Verdict]:
    """None when `actual` matches, else the first kind of difference found."""
    rows = () if hidden else ((f"{name}: shape", str(tuple(expected.shape)), str(tuple(actual.shape))),
                              (f"{name}: dtype", str(expected.dtype), str(actual.dtype)))
    if actual.shape != expected.shape:
        want = "" if hidden else f"; {tuple(expected.shape)} was expected"
        return Verdict(False, "shape", f"{name} has shape {tuple(actual.shape)}{want}", rows)
    if actual.dtype != expected.dtype:
        return Verdict(False, "dtype", f"{name} has dtype {actual.dtype}; {expected.dtype} was expected "
                                       "(a function returns the dtype of its inputs)", rows)
    if expected.dtype == np.bool_ or np.issubdtype(expected.dtype, np.integer):
        wrong = actual != expected
        if not wrong.any():
            return None
        message, value_rows = _value_message(name, expected, actual, wrong, None, hidden)
        return Verdict(False, "values", message, rows + value_rows)
    exp = expected.astype(np.float64)
    act = actual.astype(np.float64)
    exp_finite, act_finite = np.isfinite(exp), np.isfinite(act)
    misplaced = (exp_finite != act_finite) | (~exp_finite & (exp != act) & ~(np.isnan(exp) & np.isnan(act)))
    if misplaced.any():
        count = int(misplaced.sum())
        bad = "NaN or inf" if (~act_finite & exp_finite).any() else "finite values where the reference is not"
        first = int(np.argmax(misplaced))
        where = "" if hidden else f" (first at index {_index(first, exp.shape)})"
        if not hidden:
            rows += ((f"{name}: at index {_index(first, exp.shape)}", _fmt_any(exp.flat[first]),
                      _fmt_any(act.flat[first])),
                     (f"{name}: non-finite where the reference is not", "", f"{count} of {exp.size} elements"))
        return Verdict(False, "non-finite", f"{name} has {bad} in {count} of {exp.size} elements{where}", rows)
    with np.errstate(invalid="ignore"):
        error = np.where(exp_finite, np.abs(act - exp), 0.0)
        wrong = error > atol + rtol * np.abs(np.where(exp_finite, exp, 0.0))
    if not wrong.any():
        return None
    message, value_rows = _value_message(name, exp, act, wrong, error, hidden, atol, rtol)
    return Verdict(False, "values", message, rows + value_rows)


def _fmt_any(value) -> str:
    return _fmt(value) if np.isfinite(value) else str(value)


def _value_message(name, exp, act, wrong, error, hidden, atol=0.0, rtol=0.0):
    """(message, table rows) for values that differ."""
    count, size = int(wrong.sum()), wrong.size
    share = f"{count} of {size} elements ({100.0 * count / size:.3g}%)"
    if hidden:
        return f"{name}: values differ from the reference in {share}", ()
    if error is None:
        i = int(np.argmax(wrong))
        at = _index(i, exp.shape)
        rows = ((f"{name}: first difference, at index {at}", str(exp.flat[i]), str(act.flat[i])),
                (f"{name}: elements that differ", "", share))
        return f"{name}: {share} differ; first at index {at}: expected {exp.flat[i]}, got {act.flat[i]}", rows
    i = int(np.argmax(np.where(wrong, error, -1.0)))
    at = _index(i, exp.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(np.abs(exp) > 0, error / np.abs(exp), np.where(error > 0, np.inf, 0.0))
    largest_relative = _fmt(float(np.max(relative[wrong])))
    rows = ((f"{name}: largest error, at index {at}", _fmt(exp.flat[i]), _fmt(act.flat[i])),
            (f"{name}: its size", "", _fmt(error.flat[i])),
            (f"{name}: largest relative error", "", largest_relative),
            (f"{name}: elements off by more than {atol:g} + {rtol:g} * |expected|", "", share))
    message = (f"{name}: {share} differ by more than atol {atol:g} + rtol {rtol:g} * |expected|. "
               f"Largest error {_fmt(error.flat[i])} at index {at}: expected {_fmt(exp.flat[i])}, "
               f"got {_fmt(act.flat[i])}; largest relative error {largest_relative}")
    return message, rows


def compare_outputs(expected: Dict[str, np.ndarray], actual: Dict[str, np.ndarray],
                    tolerances: Dict[str, Tuple[float, float]], hidden: bool) -> Verdict:
    """Compare every expected output; extra outputs are an error too (they cannot come from the call)."""
    missing = [name for name in expected if name not in actual]
    extra = [name for name in actual if name not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        return Verdict(False, "missing output", "the outputs do not match the case's: " + "; ".join(parts))
    for name in expected:
        atol, rtol = tolerances.get(name, tolerances["default"])
        verdict = compare_array(name, expected[name], actual[name], atol, rtol, hidden)
        if verdict is not None:
            return verdict
    return Verdict(True, "passed", "matches the reference")


def summarize(expected: Dict[str, np.ndarray], actual: Dict[str, np.ndarray]) -> str:
    """One line per output: shape, dtype and largest errors, for a passing visible case."""
    lines = []
    for name, exp in expected.items():
        act = actual[name]
        if exp.dtype.kind in "fc":
            e, a = exp.astype(np.float64), act.astype(np.float64)
            finite = np.isfinite(e)
            err = np.abs(a - e)[finite] if finite.any() else np.zeros(1)
            rel = err / np.maximum(np.abs(e[finite]), np.finfo(np.float64).tiny) if finite.any() else np.zeros(1)
            stats = f"max abs error {_fmt(err.max() if err.size else 0)}, max rel error {_fmt(rel.max() if rel.size else 0)}"
        else:
            stats = "exact"
        lines.append(f"{name}: shape {tuple(exp.shape)}, {exp.dtype}, {stats}")
    return "\n".join(lines)
