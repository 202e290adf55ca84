"""Every exercise of every notebook, driven by the registry: the reference solution earns full
points in-process and in the sandbox, the release stub is "not attempted" (in-process, in the
sandbox and in a self-check), self-checks pass, exercise cells import nothing.

Per-notebook files (tests/test_exNN.py) add the deliberately broken variants and their diagnoses;
the helpers they share with this file are in tests/exercise_kit.py.
"""
import pytest
from exercise_kit import ROOT, namespace, notebook, solution_cells, stub

from backprop_lab.coursekit.checking import LocalRunner, check, get_exercise, run_exercise
from backprop_lab.coursekit.grading.sandbox import SandboxRunner
from backprop_lab.coursekit.grading.selfcheck import exercise_keys

NOTEBOOKS = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb"))
CASES = [(name, key) for name in NOTEBOOKS for key in exercise_keys(notebook(name))]


def _keys(name):
    return exercise_keys(notebook(name))


@pytest.mark.parametrize("name, key", CASES, ids=[k for _, k in CASES])
def test_reference_solution_earns_full_points_in_process(name, key):
    ex = get_exercise(key)
    for seed in (0, 1, 2):
        report = run_exercise(ex, LocalRunner(namespace(solution_cells(name))), hidden=True, seed=seed)
        assert report.status == "pass" and report.earned == ex.points, report.text()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_reference_solution_earns_full_points_in_the_sandbox(name):
    with SandboxRunner(solution_cells(name)) as runner:
        for key in _keys(name):
            report = run_exercise(get_exercise(key), runner, hidden=True, seed=3)
            assert report.status == "pass", report.text()
        assert runner.notes == [], runner.notes


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_release_stubs_are_not_attempted(name, capsys):
    if not (ROOT / "course" / name / f"{name}.ipynb").exists():
        pytest.skip(f"course/{name} not generated yet")
    cells = solution_cells(name, release=True)
    assert cells == stub(solution_cells(name))  # the kit's stub() is the release's rule
    ns = namespace(cells)
    keys = _keys(name)
    for key in keys:
        report = run_exercise(get_exercise(key), LocalRunner(ns), hidden=True, seed=0)
        assert report.status == "not_attempted" and report.earned == 0, report.text()
        assert "not attempted yet" in report.text() and "Write `" in report.text()
        check(key, namespace=ns)
        assert "not attempted yet" in capsys.readouterr().out, key
    with SandboxRunner(cells) as runner:
        for key in keys:
            report = run_exercise(get_exercise(key), runner, hidden=True, seed=1)
            assert report.status == "not_attempted" and report.earned == 0, report.text()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_visible_self_checks_print_a_short_pass(name, capsys):
    ns = namespace(solution_cells(name))
    keys = _keys(name)
    for key in keys:
        check(key, namespace=ns)
    out = capsys.readouterr().out
    assert out.count("✓") == len(keys) and "not yet right" not in out, out


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exercise_cells_are_self_contained(name):
    """The grader runs only exercise cells, with np and math: no backprop_lab, torch or matplotlib,
    no import at all; and each holds a solution region for the release to replace."""
    for gid, source in solution_cells(name):
        assert "import" not in source, gid
        assert "### BEGIN SOLUTION" in source, gid
