"""A learner's error reads the same in a self-check (in the kernel) and in the grader's sandbox: one
formatter (`checking.probes.student_frames`) serves both sides, keeping only the learner's frames."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.coursekit.checking import core
from backprop_lab.coursekit.checking.core import LocalRunner
from backprop_lab.coursekit.grading.sandbox import SandboxRunner

CELL_ID = "cell-linear"
SOURCE = """\
def helper(x):
    return x.reshape(-1, 5)

def flatten_all(x):
    return helper(x)
"""
EXPECTED = f"""\
Traceback (your code only):
  <cell {CELL_ID}>, line 5, in flatten_all
  <cell {CELL_ID}>, line 2, in helper
ValueError: cannot reshape array of size 6 into shape (5)"""


def _error(runner) -> core.StudentCodeError:
    with pytest.raises(core.StudentCodeError) as info:
        runner.call("call", func="flatten_all", args=[np.ones(6)])
    return info.value


def test_local_self_check_shows_only_the_learners_frames():
    ns: dict = {"np": np}
    exec(compile(SOURCE, f"<cell {CELL_ID}>", "exec"), ns)
    err = _error(LocalRunner(ns))
    assert err.message == "your code raised ValueError: cannot reshape array of size 6 into shape (5)"
    assert err.student_traceback == EXPECTED


def test_sandbox_gives_the_same_traceback():
    with SandboxRunner([(CELL_ID, SOURCE)], timeout=10.0) as runner:
        err = _error(runner)
    assert err.message == "your code raised ValueError: cannot reshape array of size 6 into shape (5)"
    assert err.student_traceback == EXPECTED


def test_an_error_outside_student_cells_has_no_traceback_head():
    try:
        np.ones(6).reshape(-1, 5)
    except ValueError as exc:
        text = core.student_traceback(exc)
    assert text == "\nValueError: cannot reshape array of size 6 into shape (5)"
