"""Gradient checking with a diagnosis: the one checking helper of the project.

Tests, notebooks and the grader all call the functions here, so a learner sees the same message
that an instructor's grade report shows.

Three kinds of "expected" gradient exist and `check_gradient` takes any of them:

* ``numeric`` -- centered finite differences (`numeric_gradient`). Independent of any code we
  wrote, but only accurate to about 1e-9 in float64 (and useless at kinks).
* ``reference`` -- the `backprop_lab` implementation.
* ``torch`` -- `torch.autograd` on the same float64 inputs.

Errors are *normwise*: ``max|a - e| / max(max|a|, max|e|)``. Elementwise relative error is noisy
at entries near zero (it reaches 1e-8 there even when the normwise error is 1e-15).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .arrays import to_numpy
from .localize import localize

#: Tolerances on the normwise relative error, per dtype.
#: ``exact``: against another implementation of the same float64 formula (reference, torch):
#:   both round differently only in summation order, giving errors of 1e-15..1e-13, so 1e-8 leaves
#:   a wide margin yet still catches any real bug (a wrong term is at least ~1e-3 off).
#: ``numeric``: against centered differences, whose truncation error is O(eps^2) ~ 1e-12 but whose
#:   rounding error is ~1e-16/eps ~ 1e-10 per evaluation, amplified by sums over large batches.
TOL = {
    np.dtype(np.float64): {"exact": 1e-8, "numeric": 1e-6},
    np.dtype(np.float32): {"exact": 1e-4, "numeric": 2e-2},
}

# How close a fitted scale must be to a whole multiple before we call it "a factor of k".
_SCALE_MATCH = 1e-3


def default_eps(dtype) -> float:
    """Finite-difference step for `dtype`.

    The total error of a centered difference is about ``eps**2`` (truncation) plus
    ``machine_eps / eps`` (rounding); the best step is near ``machine_eps ** (1/3)``. We use a
    slightly smaller one for float64 (1e-6) where truncation errors are the worse enemy of
    higher-order terms, and 1e-3 for float32 (1e-6 there gives errors of tens of percent).
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return 1e-6
    if dtype == np.float32:
        return 1e-3
    if dtype == np.float16:
        return 1e-1
    raise TypeError(f"numeric gradients need a floating-point array, got dtype {dtype}")


def _scalarize(value, dout) -> float:
    value = np.asarray(value, dtype=np.float64)
    if dout is None:
        return float(value.sum())
    return float(np.sum(value * dout))


def numeric_gradient(f: Callable, x: np.ndarray, dout=None, eps: float | None = None,
                     return_kinks: bool = False):
    """Centered finite-difference gradient of ``sum(f(x) * dout)`` with respect to `x`.

    Args:
        f: callable ``f(x) -> array or scalar``. It may also read `x` by closure: each entry of
            `x` is perturbed in place and restored before returning.
        x: the input array (float), shape (*S).
        dout: upstream gradient with the shape of ``f(x)``; ``None`` means all ones (the gradient
            of ``sum(f(x))``), which is what you want for a scalar loss.
        eps: the step; `default_eps(x.dtype)` when None.
        return_kinks: also return a bool mask (*S) marking entries where the one-sided slopes
            ``(f(x+eps)-f(x))/eps`` and ``(f(x)-f(x-eps))/eps`` disagree: the function has a kink
            (ReLU at 0, a max-pool tie) within eps, where no finite difference is meaningful.

    Returns:
        grad of shape (*S) in float64, or ``(grad, kinks)`` when `return_kinks`.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("numeric_gradient: x must be a float numpy array "
                        f"(got {type(x).__name__} {getattr(x, 'dtype', '')}); use x.astype(np.float64)")
    if eps is None:
        eps = default_eps(x.dtype)
    if dout is not None:
        dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros(x.shape, dtype=np.float64)
    kinks = np.zeros(x.shape, dtype=bool)
    f0 = _scalarize(f(x), dout) if return_kinks else 0.0
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        old = x[i].copy()
        x[i] = old + eps
        f_plus = _scalarize(f(x), dout)
        x[i] = old - eps
        f_minus = _scalarize(f(x), dout)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
        if return_kinks:
            right, left = (f_plus - f0) / eps, (f0 - f_minus) / eps
            # A smooth function's one-sided slopes differ by ~eps*|f''|; a kink makes them differ
            # by the jump in slope, which is O(1) relative to the slopes themselves.
            scale = max(abs(right), abs(left), 1e-3)
            kinks[i] = abs(right - left) > 1e-2 * scale + 1e3 * eps
    return (grad, kinks) if return_kinks else grad


def rel_error(actual, expected, floor: float = 1e-12) -> float:
    """Normwise relative error ``max|a - e| / max(max|a|, max|e|, floor)``.

    Both arrays must have the same shape. `floor` keeps the ratio meaningful when both are ~0.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise ValueError(f"rel_error: shapes differ: {a.shape} vs {e.shape}")
    if a.size == 0:
        return 0.0
    denom = max(float(np.max(np.abs(a))), float(np.max(np.abs(e))), floor)
    return float(np.max(np.abs(a - e)) / denom)


@dataclass
class CheckResult:
    """The outcome of one comparison.

    Attributes:
        name: what was compared ("dx", "dweight", "loss", ...).
        passed: whether the error is within tolerance.
        max_rel_error: the normwise relative error (inf when shapes differ or values are not finite).
        worst_index: index of the largest absolute difference, or None.
        against: what the candidate was compared with ("numeric", "reference", "torch", ...).
        diagnosis: the likely bug in one sentence, or None when passed or nothing specific fits.
        tol: the tolerance used.
        code: a stable name for the diagnosis ("factor-of-N", "transposed", ...; see `DIAGNOSES`),
            the same for every student with that bug, so a class report can group by it; None
            when passed, "differs" when nothing specific fits.
    """

    name: str
    passed: bool
    max_rel_error: float
    worst_index: tuple | None = None
    against: str = "reference"
    diagnosis: str | None = None
    tol: float = 0.0
    code: str | None = None

    def __post_init__(self):
        if not self.passed and self.code is None:
            self.code = "differs"

    def to_dict(self) -> dict:
        """Plain data (JSON-ready): what a grade record stores for each comparison."""
        err = self.max_rel_error
        return {"name": self.name, "passed": self.passed, "code": self.code, "diagnosis": self.diagnosis,
                "against": self.against, "max_rel_error": float(err) if np.isfinite(err) else None}

    @property
    def message(self) -> str:
        if self.passed:
            return (f"PASS {self.name}: matches {self.against} "
                    f"(rel. error {self.max_rel_error:.1e} <= {self.tol:.0e})")
        err = f", rel. error {self.max_rel_error:.1e}" if np.isfinite(self.max_rel_error) else ""
        where = f" (worst at index {self.worst_index})" if self.worst_index else ""
        what = ("is not of the form asked for" if self.against == "the form asked for"
                else f"differs from {self.against}")
        msg = f"FAIL {self.name}: {what}{err}{where}."
        if self.diagnosis:
            label = {"differs": "Where", "partly-wrong": "Where", "wrong-value": "What"}.get(self.code, "Likely cause")
            msg += f"\n  {label}: {self.diagnosis}"
        return msg

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message


def _tol(dtype, kind: str) -> float:
    dtype = np.dtype(dtype) if np.issubdtype(np.dtype(dtype), np.floating) else np.dtype(np.float64)
    return TOL.get(dtype, TOL[np.dtype(np.float32)])[kind]


def _fit_scale(c: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    """Least-squares s with c ~ s*e, and the relative residual of that fit."""
    ee = float(np.sum(e * e))
    if ee == 0.0:
        return 0.0, np.inf
    s = float(np.sum(c * e)) / ee
    resid = float(np.max(np.abs(c - s * e))) / max(float(np.max(np.abs(c))), 1e-300)
    return s, resid


def _near(value: float, target: float) -> bool:
    return target != 0 and abs(value / target - 1.0) < _SCALE_MATCH


def diagnose_with_code(candidate, expected, name: str = "grad", batch_size: int | None = None,
                       tol: float = 1e-6) -> tuple[str, str | None]:
    """Name the likely bug when `candidate` differs from `expected`.

    Checks, in order: missing value, wrong shape (a transpose, per-example gradients that were
    never summed over the batch axis N, a stray axis), NaN/inf, all zeros, a flipped sign, a
    constant factor (N = `batch_size`, 2, 1/N, ...; arrays only: one number shows no factor), a
    transpose of a square matrix, and finally where the error is (`backprop_lab.localize`: which
    entries, rows or columns, the border, the entries that should be 0, a per-row offset).

    Returns:
        (code, message): the stable code of `DIAGNOSES` and one sentence for the learner; when no
        cause fits, the code is "differs" or "partly-wrong" and the sentence says where to look.
    """
    if candidate is None:
        return "missing-return", f"{name} is None: the function returned nothing (a missing `return`?)."
    c = np.asarray(candidate)
    e = np.asarray(expected, dtype=np.float64)
    if c.dtype == object or not (np.issubdtype(c.dtype, np.number) or c.dtype == bool):
        return "not-an-array", f"{name} is not a numeric array (got {type(candidate).__name__}); return a numpy array."
    c = c.astype(np.float64)
    close = lambda a, b: a.shape == b.shape and rel_error(a, b) <= tol

    if c.shape != e.shape:
        if c.ndim == 2 and c.shape == e.shape[::-1] and close(c.T, e):
            return "transposed", (f"{name} is transposed: expected shape {e.shape}, got {c.shape}. "
                    "Check the order of the factors in the matrix product (e.g. dout.T @ x vs x.T @ dout).")
        if c.ndim == e.ndim + 1 and c.shape[1:] == e.shape:
            if close(c.sum(axis=0), e):
                return "batch-not-summed", (f"{name} has an extra batch axis: expected shape {e.shape}, got {c.shape}. "
                        "Sum the per-example gradients over the batch axis (axis=0).")
            if close(c.mean(axis=0), e):
                return "batch-not-averaged", (f"{name} has an extra batch axis: expected shape {e.shape}, "
                                              f"got {c.shape}; "
                        "reduce over axis 0 (here the mean matches).")
            return "extra-axis", (f"{name} has an extra leading axis: expected shape {e.shape}, got {c.shape}. "
                    "Did you forget to sum over the batch axis N?")
        if c.size == e.size and close(c.reshape(e.shape), e):
            return "wrong-shape-reshape", (f"{name} has the right values but the wrong shape {c.shape}; "
                                           f"reshape it to {e.shape}.")
        return "wrong-shape", (f"{name} has the wrong shape: expected {e.shape}, got {c.shape}. "
                "A gradient always has the shape of the thing it is the gradient of.")

    if not np.all(np.isfinite(c)):
        bad = int(np.sum(~np.isfinite(c)))
        return "not-finite", (f"{name} contains {bad} NaN/inf value(s): an overflow or a division by zero. "
                "For exp/log use a stable form (subtract the max: the log-sum-exp trick).")
    if c.size and not np.any(c) and np.any(e):
        return "all-zeros", (f"{name} is all zeros: the gradient was never written or accumulated "
                "(check the `+=` and that you return the right array).")
    if close(-c, e):
        return "wrong-sign", f"{name} has the wrong sign: it equals minus the expected gradient."

    s, resid = _fit_scale(c, e)
    if resid <= 10 * tol and s != 0:
        if batch_size and batch_size > 1 and _near(s, batch_size):
            return "factor-of-N", (f"{name} is too large by a factor of N = {batch_size} (the batch size): "
                    "the loss is a mean over the batch; did you forget to divide by N?")
        if batch_size and batch_size > 1 and _near(s, 1.0 / batch_size):
            return "divided-by-N-twice", (f"{name} is too small by a factor of N = {batch_size} (the batch size): "
                    "you divided by N once too often (or averaged what should be summed).")
        if batch_size and batch_size > 1 and _near(s, -batch_size):
            return "wrong-sign-factor-of-N", (f"{name} has the wrong sign and is too large by a factor of "
                                              f"N = {batch_size}.")
        if _near(s, 2.0):
            return "factor-of-2", f"{name} is twice the expected value: a factor of 2 counted twice (d(x^2)/dx = 2x)?"
        if _near(s, 0.5):
            return "missing-factor-2", f"{name} is half the expected value: a missing factor of 2 (d(x^2)/dx = 2x)?"
        if c.size > 1 and not _near(s, 1.0):  # one wrong number is always "a factor" of the right one
            k = 1.0 / s
            factor = f"1/{k:.4g}" if abs(s) < 1 and abs(k - round(k)) < 1e-6 * abs(k) else f"{s:.4g}"
            return "constant-factor", (f"{name} is off by a constant factor of {factor} in every entry: "
                                       "check the scale factors (1/N, 2, the learning rate lr, the weight "
                                       "decay λ, 1/(1-p)).")

    if c.ndim == 2 and c.shape[0] == c.shape[1] and close(c.T, e):
        return "transposed-square", (f"{name} is transposed (the shape is square, so only the values show it). "
                "Check the order of the factors in the matrix product.")
    return localize(c, e, name, tol)


def diagnose(candidate, expected, name: str = "grad", batch_size: int | None = None,
             tol: float = 1e-6) -> str | None:
    """The likely bug in one sentence (see `diagnose_with_code`), or None when nothing specific fits."""
    return diagnose_with_code(candidate, expected, name, batch_size, tol)[1]


#: Every code `diagnose_with_code` gives, with what it means. The course kit's catalogue
#: (`backprop_lab.coursekit.checking.diagnoses`) adds the exercise-specific ones.
DIAGNOSES = {
    "missing-return": "the function returned None (a missing `return`)",
    "not-an-array": "the value is not a numeric array",
    "transposed": "the gradient is transposed (shape reversed): the factors of a matrix product are swapped",
    "batch-not-summed": "per-example gradients were not summed over the batch axis",
    "batch-not-averaged": "per-example values were not averaged over the batch axis",
    "extra-axis": "an extra leading axis (a batch axis not reduced)",
    "wrong-shape-reshape": "the right values in the wrong shape",
    "wrong-shape": "the wrong shape",
    "not-finite": "NaN or inf values: an overflow or a division by zero",
    "all-zeros": "all zeros: the gradient was never written or accumulated",
    "wrong-sign": "the sign is flipped",
    "factor-of-N": "too large by the batch size N: the mean over the batch was not taken",
    "divided-by-N-twice": "too small by the batch size N: divided by N once too often",
    "wrong-sign-factor-of-N": "the sign is flipped and the value is N times too large",
    "factor-of-2": "twice the expected value",
    "missing-factor-2": "half the expected value (a missing factor of 2)",
    "constant-factor": "off by a constant factor in every entry (a scale factor: 1/N, 2, lr, λ, 1/(1-p))",
    "transposed-square": "transposed (a square matrix, so only the values show it)",
    "wrong-value": "a single number that is wrong (one number shows no factor or pattern)",
    "constant-offset": "off by the same amount in every entry (a constant added or left out)",
    "row-offset": "off by the same values in every row of the batch (a term such as a bias added or missing)",
    "wrong-where-zero": "wrong only where the expected value is exactly 0 (something leaks through a mask)",
    "border": "wrong only at the border of the last two axes (padding, a crop, loop bounds)",
    "partly-wrong": "right in most entries but wrong in a few (a missing case: mask, branch, tie, border)",
    "differs": "differs in most entries; no specific cause recognised (the message says where)",
}


def check_close(candidate, expected, name: str = "dx", against: str = "reference",
                tol: float | None = None, batch_size: int | None = None, mask=None) -> CheckResult:
    """Compare one candidate array (or scalar) with one expected array.

    Args:
        candidate: the array under test.
        expected: the array it should equal.
        name: shown in the message ("dx", "dweight", "loss").
        against: where `expected` came from ("numeric", "reference", "torch", ...).
        tol: tolerance on the normwise relative error; by default `TOL` for the expected array's
            dtype ("numeric" tolerance when `against == "numeric"`, else "exact").
        batch_size: N, used to recognize a factor-of-N bug.
        mask: optional bool array; entries where it is False are ignored (e.g. kinks).
    """
    if tol is None:
        dtype = getattr(expected, "dtype", np.float64)
        tol = _tol(dtype, "numeric" if against == "numeric" else "exact")
    def fail(code_and_text):
        code, text = code_and_text
        return CheckResult(name, False, np.inf, None, against, text, tol, code)

    if candidate is None:
        return fail(diagnose_with_code(None, expected, name))
    try:
        c = np.asarray(candidate, dtype=np.float64)
    except (TypeError, ValueError):
        return fail(("not-an-array", f"{name} is not a numeric array (got {type(candidate).__name__})."))
    e = np.asarray(expected, dtype=np.float64)
    if c.shape != e.shape or not np.all(np.isfinite(c)):
        return fail(diagnose_with_code(c, e, name, batch_size, tol))
    if mask is not None:
        keep = np.broadcast_to(np.asarray(mask, dtype=bool), e.shape)
        c, e = np.where(keep, c, 0.0), np.where(keep, e, 0.0)
    err = rel_error(c, e)
    worst = None
    if c.size:
        worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(c - e)), c.shape))
    passed = bool(err <= tol)
    code, diagnosis = (None, None) if passed else diagnose_with_code(c, e, name, batch_size, tol)
    return CheckResult(name, passed, err, worst, against, diagnosis, tol, code)


def check_gradient(candidate, name: str = "dx", numeric=None, reference=None, torch=None,
                   batch_size: int | None = None, tol: float | None = None, mask=None) -> CheckResult:
    """Check a gradient against every expected value given (numeric, reference, torch).

    Returns the first failing `CheckResult`, or a passing one whose `against` lists all sources
    and whose error is the largest seen. Tolerances follow `TOL` unless `tol` is given (then it
    is used for the exact sources and 100x it for the numeric one).
    """
    sources = [("reference", reference), ("torch", torch), ("numeric", numeric)]
    sources = [(k, v) for k, v in sources if v is not None]
    if not sources:
        raise ValueError("check_gradient: give at least one of numeric=, reference=, torch=")
    worst: CheckResult | None = None
    for against, expected in sources:
        t = None if tol is None else (tol * 100 if against == "numeric" else tol)
        expected = to_numpy(expected)
        r = check_close(candidate, expected, name, against, t, batch_size, mask)
        if not r.passed:
            return r
        if worst is None or r.max_rel_error >= worst.max_rel_error:
            worst = r
    worst.against = " and ".join(k for k, _ in sources)
    return worst

