"""Every exercise of every notebook, driven by the registry: the reference solution earns full
points in-process and in the sandbox, the release stub is "not attempted", self-checks pass.

Per-notebook files (tests/test_exNN.py) add the deliberately broken variants and their diagnoses.
"""
from pathlib import Path

import math
import nbformat
import numpy as np
import pytest

from backprop_lab.checking import LocalRunner, check, get_exercise, run_exercise
from backprop_lab.grading.sandbox import SandboxRunner
from backprop_lab.grading.selfcheck import exercise_keys, solution_cells

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("*/*.ipynb"))


def _cells(path):
    return solution_cells(nbformat.read(str(path), as_version=4))


def namespace(cells):
    """What the grader's sandbox gives exercise cells: np and math, then the cells in order."""
    ns = {"np": np, "numpy": np, "math": math, "__name__": "__main__"}
    for gid, source in cells:
        exec(compile(source, f"<cell {gid}>", "exec"), ns)
    return ns


def _keys(path):
    return exercise_keys(nbformat.read(str(path), as_version=4))


CASES = [(p, k) for p in NOTEBOOKS for k in _keys(p)]


@pytest.mark.parametrize("path, key", CASES, ids=[k for _, k in CASES])
def test_reference_solution_earns_full_points_in_process(path, key):
    ex = get_exercise(key)
    for seed in (0, 1):
        report = run_exercise(ex, LocalRunner(namespace(_cells(path))), hidden=True, seed=seed)
        assert report.status == "pass" and report.earned == ex.points, report.text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_reference_solution_earns_full_points_in_the_sandbox(path):
    with SandboxRunner(_cells(path)) as runner:
        for key in _keys(path):
            report = run_exercise(get_exercise(key), runner, hidden=True, seed=3)
            assert report.status == "pass", report.text()
        assert runner.notes == [], runner.notes


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_release_stubs_are_not_attempted(path):
    release = ROOT / "course" / path.parent.name / path.name
    if not release.exists():
        pytest.skip(f"{release} not generated yet")
    cells = _cells(release)
    ns = namespace(cells)
    for key in _keys(path):
        report = run_exercise(get_exercise(key), LocalRunner(ns), hidden=True, seed=0)
        assert report.status == "not_attempted" and report.earned == 0, report.text()
        assert "not attempted yet" in report.text() and "Write `" in report.text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_visible_self_checks_print_a_short_pass(path, capsys):
    ns = namespace(_cells(path))
    keys = _keys(path)
    for key in keys:
        check(key, namespace=ns)
    out = capsys.readouterr().out
    assert out.count("✓") == len(keys) and "not yet right" not in out, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_exercise_cells_are_self_contained(path):
    """The grader runs only exercise cells, with np and math: no backprop_lab, torch or matplotlib."""
    for gid, source in _cells(path):
        for banned in ("backprop_lab", "torch", "matplotlib"):
            assert f"import {banned}" not in source and f"from {banned}" not in source, (gid, banned)
