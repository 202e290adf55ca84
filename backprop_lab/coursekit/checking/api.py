"""`check` (a learner's self-check) and `grade` (an nbgrader test cell)."""
from __future__ import annotations

import inspect
import os

from .core import LocalRunner, run_exercise
from .registry import get_exercise


def _caller_globals(depth: int = 2) -> dict:
    frame = inspect.stack()[depth].frame
    try:
        return frame.f_globals
    finally:
        del frame


def check(key: str, namespace: dict | None = None) -> None:
    """Run the visible checks of exercise `key` on the functions defined in the notebook; print
    a short pass, the diagnosis of what is wrong, or "not attempted yet" with where to write."""
    ex = get_exercise(key)
    ns = namespace if namespace is not None else _caller_globals()
    report = run_exercise(ex, LocalRunner(ns, forbid=ex.forbid), hidden=False)
    if report.status == "pass":
        n = len(report.outcomes)
        errs = [r.max_rel_error for o in report.outcomes for r in o.results]
        worst = f" (largest rel. error {max(errs):.1e})" if errs else ""
        what = "the visible check passes" if n == 1 else f"all {n} visible checks pass"
        print(f"✓ {ex.title}: {what}{worst}.")
    else:
        print(report.text(score=False))


def grade(key: str, namespace: dict | None = None) -> float:
    """Run every check of `key` (visible and hidden, fresh random inputs) in this kernel.

    Used by the hidden test cells, so that plain nbgrader (`validate`, Formgrader) works. The
    autograder does NOT trust this: `backprop-lab autograde` replaces these cells' results with
    verdicts computed outside the student's process. Returns the points earned (nbgrader reads a
    number as partial credit) and raises AssertionError when nothing was earned.
    """
    ex = get_exercise(key)
    ns = namespace if namespace is not None else _caller_globals()
    seed = int.from_bytes(os.urandom(4), "little")
    report = run_exercise(ex, LocalRunner(ns, forbid=ex.forbid), hidden=True, seed=seed)
    print(report.text())
    if report.earned == 0:
        raise AssertionError(f"{ex.title}: 0 / {report.points:g} points")
    return report.earned
