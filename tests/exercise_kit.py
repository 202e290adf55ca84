"""What the exercise tests share: the notebooks' exercise cells, bugs put into them, and reports.

Cells are ``(grade_id, source)`` pairs, as the grader sees them: the solution cells of an nbgrader
source notebook (solutions/) or of its release (course/), run in order with np and math only.
A bug is ``(id, exercise key, grade_id, [(old, new), ...], names of the checks it must fail, words
its report must contain)``.

tests/test_exercises.py runs the generic checks for every notebook (reference solution, release
stubs, self-checks); tests/test_exNN.py add the deliberately broken variants and their diagnoses.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbgrader.preprocessors import ClearSolutions

from backprop_lab.coursekit.checking import LocalRunner, exercises_in, get_exercise, run_exercise
from backprop_lab.coursekit.grading import selfcheck
from backprop_lab.coursekit.grading.sandbox import SandboxRunner

ROOT = Path(__file__).resolve().parents[1]


def notebook(assignment: str, release: bool = False):
    """The source notebook of `assignment` ("03_vectorized_layers"), or its committed release."""
    path = ROOT / ("course" if release else "solutions") / assignment / f"{assignment}.ipynb"
    return nbformat.read(str(path), as_version=4)


def solution_cells(assignment: str, release: bool = False) -> list[tuple[str, str]]:
    """(grade_id, source) of the notebook's exercise cells, in order."""
    return selfcheck.solution_cells(notebook(assignment, release))


def edit(cells, grade_id: str, *replacements) -> list[tuple[str, str]]:
    """The cells with exact replacements ``(old, new)`` in cell `grade_id`, in order.

    Raises if the cell does not exist or an `old` text does not occur in it exactly once, so a
    bug never silently stops applying when the solution changes.
    """
    if grade_id not in {gid for gid, _ in cells}:
        raise KeyError(f"no exercise cell {grade_id!r}")
    out = []
    for gid, source in cells:
        if gid == grade_id:
            for old, new in replacements:
                if source.count(old) != 1:
                    raise ValueError(f"{old!r} occurs {source.count(old)} times in cell {gid}, not once")
                source = source.replace(old, new)
        out.append((gid, source))
    return out


def stub(cells) -> list[tuple[str, str]]:
    """What the release makes of the cells: nbgrader's own rule (ClearSolutions, default stub).

    tests/test_exercises.py checks that this equals the committed release's cells.
    """
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
            "grade_id": gid, "solution": True, "grade": False, "locked": False, "schema_version": 3}})
        for gid, source in cells])
    nb, _ = ClearSolutions().preprocess(nb, {})
    return [(c.metadata["nbgrader"]["grade_id"], c.source) for c in nb.cells]


def namespace(cells) -> dict:
    """What the grader's sandbox gives exercise cells: np and math, then the cells in order."""
    ns = {"np": np, "numpy": np, "math": math, "__name__": "__main__"}
    for gid, source in cells:
        exec(compile(source, f"<cell {gid}>", "exec"), ns)
    return ns


def report(key: str, cells, seed: int | None = 0, hidden: bool = True):
    """Exercise `key` checked in this process (a learner's self-check) on the given cells."""
    return run_exercise(get_exercise(key), LocalRunner(namespace(cells)), hidden=hidden, seed=seed)


def failed(report) -> set[str]:
    """The names of the checks that did not pass."""
    return {o.check for o in report.outcomes if o.status != "pass"}


def assert_loses_exactly(report, affected_check_names, words):
    """Exactly the checks `affected_check_names` fail, the report loses exactly their points, and
    its text contains every one of `words`."""
    ex = report.exercise
    assert failed(report) == set(affected_check_names), report.text()
    lost = sum(c.points for c in ex.checks if c.name in affected_check_names)
    assert report.earned == pytest.approx(ex.points - lost)
    text = report.text()
    for word in words:
        assert word in text, text


def assert_bug_loses_exactly(cells, bug, seed):
    """The bug, put into `cells` and checked in this process, loses exactly its checks."""
    _, key, gid, edits, affected, words = bug
    assert_loses_exactly(report(key, edit(cells, gid, *edits), seed), affected, words)


def assert_bugs_lose_exactly_in_the_sandbox(cells, bugs, seed=3):
    """All `bugs` at once in the grading sandbox: each exercise gets the same verdict as in process."""
    for _, _, gid, edits, _, _ in bugs:
        cells = edit(cells, gid, *edits)
    with SandboxRunner(cells=cells) as runner:
        for _, key, _, _, affected, words in bugs:
            assert_loses_exactly(run_exercise(get_exercise(key), runner, hidden=True, seed=seed), affected, words)


def assert_exercises(assignment: str, keys, *, total=None, min_checks=None):
    """The registry holds exactly `keys` for this notebook, in order (worth `total` points, each with
    at least `min_checks` checks), and every hidden test cell is locked and holds hidden tests.

    Each key's points against its test cell: tests/test_course.py::test_exercise_cells_match_the_registry.
    """
    assert [ex.key for ex in exercises_in(assignment[:2] + ".")] == list(keys)
    for cell in notebook(assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            assert "BEGIN HIDDEN TESTS" in cell.source and meta.get("locked"), meta.get("grade_id")
    if total is not None:
        assert sum(get_exercise(key).points for key in keys) == total
    if min_checks is not None:
        for key in keys:
            assert len(get_exercise(key).checks) >= min_checks, key


def assert_full_points_quickly_in_the_sandbox(cells, keys, warm_up, seed=7, seconds_per_check=2.0):
    """The cells earn every point in the sandbox, each exercise within `seconds_per_check` a check
    (timed after `warm_up` = (function, args) has started the child)."""
    func, args = warm_up
    with SandboxRunner(cells=cells) as runner:
        runner.call("call", func=func, args=args)  # start the child first
        for key in keys:
            ex = get_exercise(key)
            start = time.perf_counter()
            rep = run_exercise(ex, runner, hidden=True, seed=seed)
            seconds = time.perf_counter() - start
            assert rep.status == "pass", rep.text()
            assert rep.earned == ex.points
            assert seconds < seconds_per_check * len(ex.checks), f"{key}: {seconds:.1f} s for {len(ex.checks)} checks"
        assert runner.notes == []
