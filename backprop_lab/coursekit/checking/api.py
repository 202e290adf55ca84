"""`check` (a learner's self-check), `grade` (an nbgrader test cell) and `finish_first` (a demo cell
that needs the learner's exercises)."""
from __future__ import annotations

import inspect
import os
import sys

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


class finish_first:  # lower case: used like a function, `with finish_first("Exercise 4.1"):`
    """Run a demo cell's body, or say what to finish first instead of showing a traceback.

    ``with finish_first("Exercise 4.1", "Exercise 4.3"): ...`` wraps a demo cell that runs the learner's
    functions. On a fresh release those still raise NotImplementedError: the cell prints "Finish
    Exercise 4.1 and Exercise 4.3 first" and ends normally, so Run All goes on to the end of the
    notebook. A NameError raised by the cell's own code (not inside a function it calls) means a
    variable that an earlier demo cell, stopped the same way, did not define: it gets the same note.
    Every other error propagates as usual.
    """

    def __init__(self, *exercises: str):
        self.exercises = exercises or ("the exercises above",)

    def __enter__(self):
        self._frame = sys._getframe(1)  # the cell's own frame
        self._figures = set(_figure_numbers())
        return self

    def __exit__(self, kind, exc, tb):
        frame, self._frame = self._frame, None
        if kind is None:
            return False
        what = " and ".join(self.exercises)
        if issubclass(kind, NotImplementedError):
            note = (f"Finish {what} first: this cell runs your code from it (it still raises "
                    "NotImplementedError). Run the cell again once the self-check passes.")
        elif issubclass(kind, NameError) and tb is not None:
            while tb.tb_next is not None:
                tb = tb.tb_next
            if tb.tb_frame is not frame:
                return False  # a NameError inside a function: a real bug, shown as usual
            note = (f"Finish {what} first: this cell needs `{exc.name}`, which a cell above computes with "
                    "your code. Run that cell, then this one, once the self-check passes.")
        else:
            return False
        _close_figures_except(self._figures)  # no half-drawn, empty figure under the note
        print(note)
        return True


def _figure_numbers() -> list:
    plt = sys.modules.get("matplotlib.pyplot")
    return plt.get_fignums() if plt is not None else []


def _close_figures_except(keep: set) -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    for number in _figure_numbers():
        if number not in keep:
            plt.close(number)
