"""`check` (a learner's self-check) and `grade` (an nbgrader test cell), plus registry look-ups."""
from __future__ import annotations

import importlib
import inspect
import os
import pkgutil

from .core import Exercise, LocalRunner, run_exercise

_REGISTRY: dict[str, Exercise] = {}


def register(*exercises: Exercise) -> None:
    for ex in exercises:
        if ex.key in _REGISTRY and _REGISTRY[ex.key] is not ex:
            raise ValueError(f"exercise {ex.key!r} is registered twice")
        _REGISTRY[ex.key] = ex


def _load_all() -> None:
    from .. import exercises as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def get_exercise(key: str) -> Exercise:
    """The registered exercise `key` (e.g. "03.linear"); a clear KeyError listing the keys if absent."""
    if key not in _REGISTRY:
        _load_all()
    try:
        return _REGISTRY[key]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"no exercise {key!r}; known exercises: {known}") from None


def exercises_in(prefix: str) -> list[Exercise]:
    """All exercises whose key starts with `prefix` ("03." for notebook 03), in registry order."""
    _load_all()
    return [ex for k, ex in _REGISTRY.items() if k.startswith(prefix)]


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
    report = run_exercise(ex, LocalRunner(ns), hidden=False)
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
    report = run_exercise(ex, LocalRunner(ns), hidden=True, seed=seed)
    print(report.text())
    if report.earned == 0:
        raise AssertionError(f"{ex.title}: 0 / {report.points:g} points")
    return report.earned
