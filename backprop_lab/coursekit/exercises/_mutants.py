"""Naming a learner's bug by reproducing it.

A *mutant* is the value a known bug would produce on the same inputs: ``(code, value, sentence)``.
When a comparison fails and the learner's result equals a mutant's value, the bug is that mutant's,
so its code and sentence become the diagnosis. This names a bug from the numbers alone, which the
generic patterns of `backprop_lab.gradcheck` (a factor, a transpose, a sign) cannot do for bugs such as
"tanh' written with the input instead of the output".
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from backprop_lab.gradcheck import CheckResult

from ._common import close

Mutant = tuple  # (code, value or a callable returning it, sentence)


def matching(candidate, mutants: Iterable[Mutant], tol: float = 1e-8) -> tuple[str, str] | None:
    """(code, sentence) of the first mutant whose value `candidate` equals (same shape, normwise
    relative error <= tol); None when none does. A value may be a callable (computed only when
    reached); a callable that raises or returns None is skipped."""
    try:
        c = np.asarray(candidate, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    for code, value, sentence in mutants:
        if isinstance(value, Callable):
            try:
                value = value()
            except (ArithmeticError, ValueError, IndexError, KeyError, TypeError):
                continue
        if value is not None and close(c, np.asarray(value, dtype=np.float64), tol):
            return code, sentence
    return None


def name_bug(results, candidate, mutants: Iterable[Mutant], tol: float = 1e-8):
    """Give every failed result in `results` (one CheckResult or a list) the code and sentence of
    the mutant `candidate` matches; returns `results`."""
    found = matching(candidate, mutants, tol)
    if found is not None:
        for r in [results] if isinstance(results, CheckResult) else results:
            if not r.passed:
                r.code, r.diagnosis = found
    return results


def set_cause(results, code: str, sentence: str):
    """Give every failed result in `results` (one CheckResult or a list) this code and sentence."""
    for r in [results] if isinstance(results, CheckResult) else results:
        if not r.passed:
            r.code, r.diagnosis = code, sentence
    return results


def _flat(d, keys):
    """The arrays d[k] for k in `keys`, raveled into one vector."""
    return np.concatenate([np.ravel(np.asarray(d[k], dtype=float)) for k in keys]) if keys else np.zeros(0)


def match_dict(got, keys, mutants: Iterable[Mutant], tol: float = 1e-8) -> tuple[str, str] | None:
    """`matching` for dict results ({"W1": ..., "b1": ...}): compares the entries `keys` of `got` with
    each mutant's dict (a value or a callable returning one)."""
    if not (isinstance(got, dict) and all(k in got for k in keys)):
        return None
    try:
        candidate = _flat(got, keys)
    except (TypeError, ValueError):
        return None
    call = lambda v: v() if callable(v) else v
    return matching(candidate, [(c, (lambda v=v: _flat(call(v), keys)), t) for c, v, t in mutants], tol)
